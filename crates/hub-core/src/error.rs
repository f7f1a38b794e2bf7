//! The one error type of hub-core. Each variant has a stable `code()` that the
//! desktop UI and the CLI's JSON output switch on; messages are for people.

use serde::Serialize;
use ts_rs::TS;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem with one input field, shown next to that field in forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct FieldError {
    /// `display_name`, `emails[0]`, `phones[1]`, `domain`, ...
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", join_field_errors(.0))]
    Validation(Vec<FieldError>),

    #[error("no {entity} with id {id}")]
    NotFound { entity: &'static str, id: String },

    #[error("{path} is not a Customer Hub database (not an SQLite file, or encrypted)")]
    NotADatabase { path: String },

    #[error("the database {path} is locked by another program; close it or try again")]
    Locked { path: String },

    #[error("cannot open the database {path}: {message}")]
    Open { path: String, message: String },

    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),

    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn join_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Machine-readable kind, stable across releases.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation",
            Error::NotFound { .. } => "not_found",
            Error::NotADatabase { .. } => "not_a_database",
            Error::Locked { .. } => "locked",
            Error::Open { .. } | Error::Io(_) => "io",
            Error::Database(_) | Error::Migrate(_) => "database",
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Validation(fields) => fields,
            _ => &[],
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Attach the database path to errors whose message should name the file.
    pub(crate) fn at_path(self, path: &str) -> Self {
        match self {
            Error::Locked { .. } => Error::Locked { path: path.into() },
            Error::NotADatabase { .. } => Error::NotADatabase { path: path.into() },
            Error::Migrate(sqlx::migrate::MigrateError::Execute(e)) => Error::from(e).at_path(path),
            other => other,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // SQLite primary result codes: 5 BUSY, 6 LOCKED, 26 NOTADB.
            let code = db.code();
            let primary = code
                .as_deref()
                .and_then(|c| c.parse::<i32>().ok())
                .map(|c| c & 0xff);
            match primary {
                Some(5) | Some(6) => {
                    return Error::Locked {
                        path: String::new(),
                    }
                }
                Some(26) => {
                    return Error::NotADatabase {
                        path: String::new(),
                    }
                }
                _ => {}
            }
        }
        Error::Database(e)
    }
}
