//! `hub login`, `hub sync`, `hub conflicts` and `hub devices` as a user runs
//! them: the real `hub` binary on real database files, against a real
//! `hub-server` (SQLite file) started in this test process.
//!
//! Tokens go to a temp `HUB_CONFIG_DIR` (`--insecure-storage`); the children
//! get an unusable D-Bus address so the keyring probe fails fast everywhere.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{Server, EMAIL, PASSWORD};
use serde_json::Value;

/// One database (one device) with its own config dir.
struct Device {
    db: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Device {
    fn new() -> Device {
        let dir = tempfile::tempdir().unwrap();
        Device {
            db: dir.path().join("hub.db"),
            config: dir.path().join("config"),
            _dir: dir,
        }
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub"));
        cmd.arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("HUB_DB")
            .env_remove("HUB_DEFAULT_REGION")
            .env_remove("HUB_TOKEN")
            .env("HUB_CONFIG_DIR", &self.config)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args, env);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[], None)
    }

    fn ok(&self, args: &[&str]) -> String {
        check(args, self.run(args))
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn login_args<'a>(server: &'a Server, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "login",
            "--server",
            server.base.as_str(),
            "--email",
            EMAIL,
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        args
    }

    fn login(&self, server: &Server, name: &str) -> String {
        let args = Self::login_args(server, &["--insecure-storage", "--device-name", name]);
        check(
            &args,
            self.run_with(&args, &[], Some(&format!("{PASSWORD}\n"))),
        )
    }

    fn sync(&self) -> Value {
        self.json(&["sync", "--json"])
    }

    fn title(&self, id: &str) -> Value {
        self.json(&["contact", "show", id, "--json"])["title"].clone()
    }

    fn pending(&self) -> i64 {
        self.json(&["sync", "status", "--json"])["pending"]
            .as_i64()
            .unwrap()
    }

    fn tokens_file(&self) -> PathBuf {
        self.config.join("tokens.json")
    }
}

fn check(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "hub {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The command fails with exit status 1 and says `says` on stderr.
fn fails(out: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains(says), "stderr {stderr:?} lacks {says:?}");
    assert!(out.stdout.is_empty());
}

fn device_count(device: &Device) -> usize {
    device.json(&["devices", "list", "--json"])["devices"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn login_sync_conflict_and_restore_between_two_databases() {
    let server = Server::start();
    let a = Device::new();
    let b = Device::new();

    let said = a.login(&server, "laptop A");
    assert!(
        said.contains(&format!("Signed in to {}", server.base)),
        "{said}"
    );
    assert!(said.contains("file (insecure)"), "{said}");
    b.login(&server, "laptop B");
    let status = a.json(&["sync", "status", "--json"]);
    assert_eq!(status["account"]["email"], EMAIL);
    assert_eq!(status["account"]["server"], server.base.as_str());

    // Both devices are listed, each marks itself.
    let devices = a.json(&["devices", "list", "--json"]);
    let devices = devices["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let current: Vec<_> = devices.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["name"], "laptop A");
    assert_eq!(current[0]["id"], status["device_id"]);

    // A contact made on A reaches B.
    let id = a
        .ok(&[
            "contact",
            "add",
            "--name",
            "Ada Lovelace",
            "--title",
            "Analyst",
        ])
        .trim()
        .to_owned();
    assert!(a.pending() > 0);
    let report = a.sync();
    assert!(report["pushed"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(a.pending(), 0);
    b.sync();
    let list = b.json(&["contact", "list", "--json"]);
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(b.title(&id), "Analyst");

    // Both edit the title offline.
    a.ok(&["contact", "edit", &id, "--set", "title=CTO"]);
    b.ok(&["contact", "edit", &id, "--set", "title=VP of Engines"]);
    assert!(b.pending() > 0, "an offline edit waits in the outbox");
    a.sync();
    b.sync();
    a.sync();
    let title = a.title(&id);
    assert_eq!(b.title(&id), title, "both devices converge");

    // Both list the title conflict, with both values.
    let mut conflict_id = String::new();
    for device in [&a, &b] {
        let list = device.json(&["conflicts", "list", "--json"]);
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{list}");
        let c = &items[0];
        assert_eq!(c["field"], "title");
        assert_eq!(c["row_id"], id.as_str());
        assert_eq!(c["row_label"], "Ada Lovelace");
        assert_eq!(c["status"], "open");
        let mut values = [
            c["lost_value"].as_str().unwrap().to_owned(),
            c["winner_value"].as_str().unwrap().to_owned(),
        ];
        values.sort();
        assert_eq!(values, ["CTO", "VP of Engines"]);
        assert_eq!(c["winner_value"], title);
        conflict_id = c["id"].as_str().unwrap().to_owned();
    }
    let table = b.ok(&["conflicts", "list"]);
    assert!(
        table.contains("Ada Lovelace") && table.contains("title"),
        "{table}"
    );
    assert!(
        table.contains("\"CTO\"") && table.contains("\"VP of Engines\""),
        "{table}"
    );
    let shown = b.json(&["conflicts", "show", &conflict_id, "--json"]);
    assert_eq!(shown["id"], conflict_id.as_str());
    let lost = shown["lost_value"].clone();

    // Restore the lost value on B (by an id prefix): it syncs to A.
    let said = b.ok(&["conflicts", "restore", &conflict_id[..8]]);
    assert!(said.contains("Restored title"), "{said}");
    assert!(said.contains("hub sync"), "{said}");
    assert_eq!(b.title(&id), lost);
    assert!(b.pending() > 0);
    b.sync();
    a.sync();
    assert_eq!(a.title(&id), lost, "A shows the restored title");
    assert!(a.json(&["conflicts", "list", "--json"])["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let all = a.json(&["conflicts", "list", "--all", "--json"]);
    assert_eq!(all["items"][0]["status"], "restored", "{all}");

    // A revokes B; B cannot sync until it signs in again.
    let b_id = b.json(&["sync", "status", "--json"])["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.ok(&["devices", "revoke", &b_id]);
    let out = b.run(&["sync"]);
    fails(&out, "sign in again");
    b.login(&server, "laptop B");
    b.sync();

    // Logout: the data stays, sync needs a new sign-in.
    let said = a.ok(&["logout"]);
    assert!(said.contains("revoked"), "{said}");
    assert_eq!(a.title(&id), lost);
    fails(&a.run(&["sync"]), "not signed in");
    assert!(a.json(&["sync", "status", "--json"])["account"].is_null());
}

#[test]
fn hub_token_env_replaces_a_stored_token() {
    let server = Server::start();
    let a = Device::new();
    a.login(&server, "ci");
    let tokens: Value =
        serde_json::from_str(&std::fs::read_to_string(a.tokens_file()).unwrap()).unwrap();
    let token = tokens
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::remove_file(a.tokens_file()).unwrap();

    a.ok(&["contact", "add", "--name", "Grace Hopper"]);
    fails(
        &a.run(&["sync"]),
        "not signed in on this device; run hub login",
    );
    assert!(a.pending() > 0);
    let out = a.run_with(&["sync", "--json"], &[("HUB_TOKEN", &token)], None);
    let report: Value = serde_json::from_str(&check(&["sync"], out)).unwrap();
    assert!(report["pushed"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(a.pending(), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn login_without_a_keyring_needs_insecure_storage_and_registers_nothing() {
    let server = Server::start();
    let a = Device::new();
    let args = Device::login_args(&server, &[]);
    let out = a.run_with(&args, &[], Some(&format!("{PASSWORD}\n")));
    fails(&out, "--insecure-storage");
    assert!(!a.tokens_file().exists());
    assert!(a.json(&["sync", "status", "--json"])["account"].is_null());

    // The server knows only the device that signs in properly afterwards.
    a.login(&server, "A");
    assert_eq!(device_count(&a), 1);
}

#[test]
fn wrong_password_is_refused_clearly() {
    let server = Server::start();
    let a = Device::new();
    let args = Device::login_args(&server, &["--insecure-storage"]);
    let out = a.run_with(&args, &[], Some("not the password\n"));
    fails(&out, "wrong email or password");
    assert!(a.json(&["sync", "status", "--json"])["account"].is_null());

    // Without --password-stdin, a non-terminal stdin is refused before any request.
    let args = [
        "login",
        "--server",
        server.base.as_str(),
        "--email",
        EMAIL,
        "--insecure-storage",
    ];
    fails(&a.run(&args), "--password-stdin");
}

#[test]
fn demo_data_blocks_login() {
    let server = Server::start();
    let a = Device::new();
    a.ok(&["demo", "--contacts", "5"]);
    let args = Device::login_args(&server, &["--insecure-storage"]);
    let out = a.run_with(&args, &[], Some(&format!("{PASSWORD}\n")));
    fails(&out, "demo data");
    assert!(!a.tokens_file().exists());
}

#[test]
fn unreachable_server_is_exit_status_3_and_status_works_offline() {
    let server = Server::start();
    let a = Device::new();
    a.login(&server, "A");
    a.sync();
    let base = server.base.clone();
    drop(server);
    a.ok(&["contact", "add", "--name", "Offline Person"]);
    let out = a.run(&["sync"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be reached"));
    let status = a.json(&["sync", "status", "--json"]);
    assert_eq!(status["account"]["server"], base.as_str());
    assert!(status["pending"].as_i64().unwrap() > 0);
    assert!(status["last_error"].as_str().unwrap().contains("reached"));
    let text = a.ok(&["sync", "status"]);
    assert!(text.contains("Pending:") && text.contains(&base), "{text}");
    // Logout works offline too, and says the token was not revoked there.
    let out = a.run(&["logout"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not"));
    fails(&a.run(&["sync"]), "not signed in");
}

#[test]
fn login_with_a_bad_server_address_is_refused() {
    let a = Device::new();
    let out = a.run_with(
        &[
            "login",
            "--server",
            "ftp://example.com",
            "--email",
            EMAIL,
            "--password-stdin",
            "--insecure-storage",
        ],
        &[],
        Some("x\n"),
    );
    fails(&out, "not a server address");
}
