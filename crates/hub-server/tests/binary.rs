//! The real `hub-server` binary: flags, the listening log line, SIGTERM shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hub-server");

#[tokio::test]
async fn serves_healthz_and_stops_cleanly_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
        ])
        .env("RUST_LOG", "info")
        .env_remove("HUB_SERVER_BIND")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hub-server");

    // Read stderr on a thread: every line goes to the channel, so the log is kept for asserts.
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut log = Vec::new();
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no 'listening on' line; log so far: {log:#?}"));
        let found = line
            .split_once("listening on http://")
            .map(|(_, addr)| addr.trim().to_owned());
        log.push(line);
        if let Some(addr) = found {
            break addr;
        }
    };

    let response = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    log.extend(lines.try_iter());
    assert!(status.success(), "exit {status:?}; log: {log:#?}");
    assert!(
        log.iter().any(|l| l.contains("SIGTERM received")),
        "log: {log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("stopped")), "log: {log:#?}");
    // The database line is logged, with the backend named.
    assert!(log
        .iter()
        .any(|l| l.contains("backend=\"sqlite\"") || l.contains("backend=sqlite")));
}

#[test]
fn unknown_database_scheme_is_a_clear_error() {
    let output = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "mysql://localhost/hub",
        ])
        .env_remove("HUB_SERVER_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unsupported database URL scheme \"mysql\""),
        "{stderr}"
    );
}

#[test]
fn password_never_reaches_the_log() {
    // Port 1 is privileged/unbindable for a normal user, but root can bind it; use an
    // address that cannot be bound anywhere instead, so the process exits after logging.
    let output = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "192.0.2.1:9",
            "--database-url",
            "postgres://hub:s3cret@localhost/hub",
        ])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "bind should fail: {stderr}");
    assert!(stderr.contains("cannot listen on 192.0.2.1:9"), "{stderr}");
    assert!(
        stderr.contains("postgres://hub:***@localhost/hub"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// Runs the binary with `input` on stdin; returns (success, stdout, stderr).
fn run_with_stdin(args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("HUB_SERVER_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_creates_accounts_and_the_served_login_logs_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());

    let (ok, out, err) = run_with_stdin(
        &[
            "workspace",
            "create",
            "Acme Ltd",
            "--owner-email",
            "Owner@Example.com",
            "--password-stdin",
            "--json",
            "--database-url",
            &url,
        ],
        "owner password\n",
    );
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let workspace = created["workspace_id"].as_str().unwrap().to_owned();
    assert_eq!(created["write_key"].as_str().unwrap().len(), 43);
    assert!(created["password_setup"].is_null());

    // Without --password-stdin: a one-time setup secret instead.
    let (ok, out, err) = run_with_stdin(
        &[
            "user",
            "add",
            &workspace,
            "sam@example.com",
            "--database-url",
            &url,
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(out.contains("password setup secret"), "{out}");
    // The same email again, in another case: refused, with a clear message.
    let (ok, _, err) = run_with_stdin(
        &[
            "user",
            "add",
            &workspace,
            "SAM@example.com",
            "--database-url",
            &url,
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    // A short password is refused before anything is written.
    let (ok, _, err) = run_with_stdin(
        &[
            "user",
            "add",
            &workspace,
            "tim@example.com",
            "--password-stdin",
            "--database-url",
            &url,
        ],
        "short\n",
    );
    assert!(!ok);
    assert!(err.contains("at least 8"), "{err}");

    // Serve that database, sign in over HTTP, then check the log.
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &url])
        .env("RUST_LOG", "debug")
        .env_remove("HUB_SERVER_BIND")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no 'listening on' line; log so far: {log:#?}"));
        let found = line
            .split_once("listening on http://")
            .map(|(_, addr)| addr.trim().to_owned());
        log.push(line);
        if let Some(addr) = found {
            break addr;
        }
    };
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://{addr}/v1/auth/login"))
        .json(&serde_json::json!({
            "email": "owner@example.com",
            "password": "owner password",
            "device_name": "CI runner",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let response = http
        .get(format!("http://{addr}/v1/devices"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    log.extend(lines.try_iter());
    let log = log.join("\n");
    assert!(log.contains("device signed in"), "{log}");
    for secret in [
        "owner@example.com",
        "Owner@Example.com",
        "owner password",
        &token,
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}
