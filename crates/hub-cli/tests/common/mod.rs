//! The harness every `hub` integration test shares: the real binary on a real
//! database file (`Hub`, `run_on`), and a real `hub-server` started in the
//! test process for the sync tests (`Server`).
//!
//! Each test file is its own binary and uses only part of this, hence the
//! `#[allow(dead_code)]` on the items.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords};
use serde_json::Value;

/// The account `Server::start` creates.
// Not every test binary starts a server.
#[allow(dead_code)]
pub const EMAIL: &str = "owner@example.com";
// Not every test binary starts a server.
#[allow(dead_code)]
pub const PASSWORD: &str = "a long password";

/// One database file in its own temp dir, run by the real `hub` binary.
// tests/sync.rs drives its devices itself and uses no `Hub`.
#[allow(dead_code)]
pub struct Hub {
    _dir: tempfile::TempDir,
    pub db: PathBuf,
    /// Set (`Some`) or removed (`None`) in each run's environment, after
    /// `HUB_DB` is removed.
    env: Vec<(&'static str, Option<&'static str>)>,
    /// `fails` wants exactly this exit status (else any failure).
    fail_code: Option<i32>,
    /// `fails` also checks that the change log did not grow.
    fails_write_nothing: bool,
}

// Each test binary uses a different part of the builder and the helpers.
#[allow(dead_code)]
impl Hub {
    /// Runs with `HUB_DB` removed; `fails` accepts any failing exit status.
    pub fn new() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hub.db");
        Hub {
            _dir: dir,
            db,
            env: Vec::new(),
            fail_code: None,
            fails_write_nothing: false,
        }
    }

    /// Every run sets `key` to `value`.
    pub fn env(mut self, key: &'static str, value: &'static str) -> Hub {
        self.env.push((key, Some(value)));
        self
    }

    /// Every run removes `key` from its environment.
    pub fn env_remove(mut self, key: &'static str) -> Hub {
        self.env.push((key, None));
        self
    }

    /// `fails` wants exactly exit status `code`.
    pub fn fails_with_code(mut self, code: i32) -> Hub {
        self.fail_code = Some(code);
        self
    }

    /// `fails` also wants the change log not to grow.
    pub fn fails_write_nothing(mut self) -> Hub {
        self.fails_write_nothing = true;
        self
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub"));
        cmd.arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("HUB_DB");
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hub {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("hub {args:?}: {e}: {out}"))
    }

    /// The command fails (with the exit status `fails_with_code` set, if
    /// any), says why on stderr, prints nothing on stdout and, with
    /// `fails_write_nothing`, writes nothing (the change log does not grow).
    pub fn fails(&self, args: &[&str], says: &str) {
        let before = self.fails_write_nothing.then(|| self.log_len());
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match self.fail_code {
            Some(code) => assert_eq!(out.status.code(), Some(code), "hub {args:?}: {stderr}"),
            None => assert!(!out.status.success(), "hub {args:?} should fail"),
        }
        assert!(
            stderr.contains(says),
            "hub {args:?}: stderr {stderr:?} lacks {says:?}"
        );
        assert!(out.stdout.is_empty());
        if let Some(before) = before {
            assert_eq!(self.log_len(), before, "hub {args:?} wrote something");
        }
    }

    /// Changes in the outbox: what every write adds to.
    pub fn log_len(&self) -> usize {
        if !self.db.exists() {
            return 0;
        }
        let out = Command::new("sqlite3")
            .arg(&self.db)
            .arg("SELECT count(*) FROM change_log")
            .output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(0),
            // No sqlite3 shell: count what `hub sync status` reports instead.
            _ => self.json(&["sync", "status", "--json"])["pending"]
                .as_u64()
                .unwrap_or(0) as usize,
        }
    }
}

/// `hub` on `db` with `HUB_DB` and `HUB_DEFAULT_REGION` removed and `env` set.
// Only tests/cli.rs runs `hub` on a path of its own.
#[allow(dead_code)]
pub fn run_on(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("HUB_DB")
        .env_remove("HUB_DEFAULT_REGION");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A hub-server on 127.0.0.1:<free port> with one workspace (`EMAIL`,
/// `PASSWORD`), on its own runtime (the tests' threads block on child
/// processes). Dropping it stops the server.
// Not every test binary starts a server.
#[allow(dead_code)]
pub struct Server {
    pub base: String,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

// Not every test binary starts a server.
#[allow(dead_code)]
impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = format!("sqlite://{}", dir.path().join("server.db").display());
        let base = runtime.block_on(async {
            let db = Database::open(&DatabaseUrl::parse(&url).unwrap())
                .await
                .expect("open server storage");
            let passwords = Passwords::cheap_for_tests();
            let pw = Password::parse(PASSWORD.to_owned()).unwrap();
            accounts::create_workspace(&db, &passwords, "Team", EMAIL, Some(pw))
                .await
                .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let state = AppState::with_passwords(db, passwords);
            tokio::spawn(hub_server::serve_until(
                listener,
                state,
                std::future::pending::<()>(),
            ));
            base
        });
        Server {
            base,
            _runtime: runtime,
            _dir: dir,
        }
    }
}

/// One database (one device) with its own config dir, for the sync tests;
/// its runs must succeed.
// Not every test binary syncs (tests/sync.rs has its own, non-asserting one).
#[allow(dead_code)]
pub struct Device {
    pub db: PathBuf,
    pub config: PathBuf,
    /// Set in each run's environment, after the common ones.
    env: Vec<(&'static str, &'static str)>,
    _dir: tempfile::TempDir,
}

// Not every test binary syncs.
#[allow(dead_code)]
impl Device {
    pub fn new() -> Device {
        let dir = tempfile::tempdir().unwrap();
        Device {
            db: dir.path().join("hub.db"),
            config: dir.path().join("config"),
            env: Vec::new(),
            _dir: dir,
        }
    }

    /// Every run sets `key` to `value`.
    pub fn env(mut self, key: &'static str, value: &'static str) -> Device {
        self.env.push((key, value));
        self
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub"));
        cmd.arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("HUB_DB")
            .env_remove("HUB_TOKEN")
            .env("HUB_CONFIG_DIR", &self.config)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        let mut child = cmd
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "hub {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.run(args, None).stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn login(&self, server: &Server, name: &str) {
        self.run(
            &[
                "login",
                "--server",
                &server.base,
                "--email",
                EMAIL,
                "--password-stdin",
                "--insecure-storage",
                "--device-name",
                name,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
    }
}
