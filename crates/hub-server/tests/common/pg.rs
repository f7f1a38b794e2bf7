//! A throwaway PostgreSQL cluster for one test run: `initdb` into a temp dir, `pg_ctl start`
//! on a unix socket inside it (no TCP port, so parallel runs never collide), `pg_ctl stop`
//! and removal on drop.
//!
//! PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
//! (`runuser -u postgres --`); as any other user it runs as that user. The binaries come from
//! `HUB_TEST_PG_BIN` or the newest `/usr/lib/postgresql/*/bin` (Debian's `postgresql`
//! package, installed by `scripts/setup.sh`). When they are missing the test fails, unless
//! `HUB_TEST_SKIP_POSTGRES=1` says to skip the PostgreSQL half.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub struct TestPostgres {
    /// `postgres://…?host=<socket dir>`: pass to `--database-url` or `DatabaseUrl::parse`.
    pub url: String,
    pg_ctl: PathBuf,
    data: PathBuf,
    as_postgres_user: bool,
    // Dropped last: removes the cluster's files after it stopped.
    _dir: TempDir,
}

/// What to do about PostgreSQL in this run.
pub enum Availability {
    Started(TestPostgres),
    /// `HUB_TEST_SKIP_POSTGRES=1` was set and no cluster could be started.
    Skipped(String),
}

impl TestPostgres {
    /// Starts a cluster, or fails loudly (panics) unless `HUB_TEST_SKIP_POSTGRES=1`.
    pub fn start_or_skip() -> Availability {
        match Self::start() {
            Ok(pg) => Availability::Started(pg),
            Err(why) if std::env::var("HUB_TEST_SKIP_POSTGRES").as_deref() == Ok("1") => {
                Availability::Skipped(why)
            }
            Err(why) => panic!(
                "cannot start a test PostgreSQL: {why}\n\
                 install Debian's `postgresql` package (scripts/setup.sh does), or set \
                 HUB_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL half of the suite"
            ),
        }
    }

    pub fn start() -> Result<Self, String> {
        let bin = pg_bin_dir()?;
        let initdb = bin.join("initdb");
        let pg_ctl = bin.join("pg_ctl");
        let as_postgres_user = is_root()?;

        let dir = tempfile::Builder::new()
            .prefix("hub-server-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("socket");
        std::fs::create_dir(&socket_dir).map_err(|e| format!("socket dir: {e}"))?;
        if as_postgres_user {
            // The postgres user must reach and own the cluster's directory.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod temp dir: {e}"))?;
            run(
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:")
                    .arg(dir.path()),
                "chown the temp dir to postgres",
            )?;
        }

        let mut init = command(&initdb, as_postgres_user);
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("--no-locale");
        run(&mut init, "initdb")?;

        let log = dir.path().join("postgres.log");
        let options = format!(
            "-c listen_addresses='' -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off",
            socket_dir.display()
        );
        let mut start = command(&pg_ctl, as_postgres_user);
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        if let Err(err) = run(&mut start, "pg_ctl start") {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{err}\npostgres log:\n{log}"));
        }

        Ok(Self {
            url: format!(
                "postgres://postgres@localhost/postgres?host={}",
                socket_dir.display()
            ),
            pg_ctl,
            data,
            as_postgres_user,
            _dir: dir,
        })
    }

    /// Creates a fresh, empty database in the cluster and returns its URL.
    pub async fn fresh_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect to the test cluster");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        conn.close().await.ok();
        self.url.replacen("/postgres?", &format!("/{name}?"), 1)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let mut stop = command(&self.pg_ctl, self.as_postgres_user);
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        if let Err(err) = run(&mut stop, "pg_ctl stop") {
            eprintln!("warning: {err}");
        }
    }
}

fn command(program: &Path, as_postgres_user: bool) -> Command {
    if as_postgres_user {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let output = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn is_root() -> Result<bool, String> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id -u: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// `HUB_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` with `initdb`.
fn pg_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("HUB_TEST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no /usr/lib/postgresql ({e}); is PostgreSQL installed?"))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}
