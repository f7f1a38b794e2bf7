//! Server configuration: the address to listen on and the database to use.
//!
//! The database is named by a URL whose scheme picks the storage backend, as in atuin:
//! `sqlite://PATH` (the embedded default, a file in the platform data dir) or
//! `postgres://…` for a team that runs several servers on one PostgreSQL database.
//! Parsing happens here, at the edge, so the rest of the server only sees a valid
//! [`DatabaseUrl`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Where `hub-server serve` listens when `--bind` is not given.
pub const DEFAULT_BIND: &str = "127.0.0.1:8787";

/// File name of the embedded SQLite database inside the data dir.
pub const DEFAULT_SQLITE_FILE: &str = "hub-server.db";

/// Everything `serve` needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub database: DatabaseUrl,
}

/// A parsed database URL; the variant selects the storage backend.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// Embedded SQLite in a file (`sqlite://PATH`, `sqlite:PATH`).
    Sqlite { path: PathBuf },
    /// Embedded SQLite in memory (`sqlite::memory:`), for tests and trials.
    SqliteMemory,
    /// PostgreSQL (`postgres://…` or `postgresql://…`), kept verbatim for the driver.
    Postgres { url: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("database URL {0:?} has no scheme: expected sqlite://PATH or postgres://USER@HOST/DB")]
    MissingScheme(String),
    #[error(
        "unsupported database URL scheme {0:?}: expected sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnknownScheme(String),
    #[error("sqlite database URL has no path: expected sqlite://PATH or sqlite::memory:")]
    EmptySqlitePath,
    #[error("sqlite database URL {0:?} has query parameters, which are not supported")]
    SqliteQuery(String),
    #[error("postgres database URL has no host or database after the scheme")]
    EmptyPostgres,
    #[error("no data directory found for this user (is $HOME set?); pass --database-url")]
    NoDataDir,
}

impl DatabaseUrl {
    /// Parses a database URL; an unknown scheme is an error, never a guess.
    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        let input = input.trim();
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(ConfigError::MissingScheme(input.to_owned()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Self::parse_sqlite(rest),
            "postgres" | "postgresql" => {
                let after = rest.strip_prefix("//").unwrap_or("");
                if after.is_empty() {
                    return Err(ConfigError::EmptyPostgres);
                }
                Ok(Self::Postgres {
                    url: input.to_owned(),
                })
            }
            "" => Err(ConfigError::MissingScheme(input.to_owned())),
            other => Err(ConfigError::UnknownScheme(other.to_owned())),
        }
    }

    /// `rest` is what follows `sqlite:`: `//PATH`, `PATH`, `:memory:` or `//:memory:`.
    fn parse_sqlite(rest: &str) -> Result<Self, ConfigError> {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path == ":memory:" {
            return Ok(Self::SqliteMemory);
        }
        if path.contains('?') {
            return Err(ConfigError::SqliteQuery(format!("sqlite:{rest}")));
        }
        if path.is_empty() {
            return Err(ConfigError::EmptySqlitePath);
        }
        Ok(Self::Sqlite {
            path: PathBuf::from(path),
        })
    }

    /// The embedded default: `<data dir>/customer-hub/hub-server.db`
    /// (`~/.local/share/customer-hub/hub-server.db` on Linux), beside the desktop's `hub.db`.
    pub fn default_sqlite() -> Result<Self, ConfigError> {
        let base = directories::BaseDirs::new().ok_or(ConfigError::NoDataDir)?;
        Ok(Self::Sqlite {
            path: base
                .data_dir()
                .join("customer-hub")
                .join(DEFAULT_SQLITE_FILE),
        })
    }

    /// Short backend name for logs and health output: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } | Self::SqliteMemory => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Display never shows a password, so a URL can be logged.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            Self::SqliteMemory => f.write_str("sqlite::memory:"),
            Self::Postgres { url } => f.write_str(&redact_password(url)),
        }
    }
}

/// Debug goes through Display so `{:?}` in a log line cannot leak a password either.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/hub/server.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "/var/lib/hub/server.db".into()
            }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/server.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "data/server.db".into()
            }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:server.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "server.db".into()
            }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:").unwrap(),
            DatabaseUrl::SqliteMemory
        );
        assert_eq!(
            DatabaseUrl::parse("SQLITE://:memory:").unwrap(),
            DatabaseUrl::SqliteMemory
        );
    }

    #[test]
    fn postgres_forms() {
        for url in [
            "postgres://hub@localhost/hub",
            "postgresql://localhost:5432/hub",
        ] {
            let parsed = DatabaseUrl::parse(url).unwrap();
            assert_eq!(parsed.backend(), "postgres");
            assert_eq!(parsed, DatabaseUrl::Postgres { url: url.into() });
        }
    }

    #[test]
    fn bad_urls_are_clear_errors() {
        assert_eq!(
            DatabaseUrl::parse("mysql://localhost/hub"),
            Err(ConfigError::UnknownScheme("mysql".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("hub.db"),
            Err(ConfigError::MissingScheme("hub.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(ConfigError::EmptySqlitePath)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://"),
            Err(ConfigError::EmptyPostgres)
        );
        assert!(matches!(
            DatabaseUrl::parse("sqlite://x.db?mode=ro"),
            Err(ConfigError::SqliteQuery(_))
        ));
        let message = DatabaseUrl::parse("mysql://x").unwrap_err().to_string();
        assert!(message.contains("\"mysql\""), "{message}");
        assert!(message.contains("postgres://"), "{message}");
    }

    #[test]
    fn display_and_debug_hide_the_password() {
        let url = DatabaseUrl::parse("postgres://hub:s3cret@db.internal:5432/hub?sslmode=require")
            .unwrap();
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://hub:***@db.internal:5432/hub?sslmode=require"));
        // No password: nothing to hide, shown as given.
        let url = DatabaseUrl::parse("postgres://hub@localhost/hub").unwrap();
        assert_eq!(url.to_string(), "postgres://hub@localhost/hub");
    }

    #[test]
    fn default_is_a_file_in_the_data_dir() {
        let DatabaseUrl::Sqlite { path } = DatabaseUrl::default_sqlite().unwrap() else {
            panic!("default must be sqlite");
        };
        assert!(path.ends_with("customer-hub/hub-server.db"), "{path:?}");
    }
}
