//! The real `hub-server` binary collecting events: `--event-rate` is applied (429 with
//! Retry-After), and a debug-level log of collection carries no personal data, no ids a
//! client sent and no write key.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hub-server");

#[tokio::test]
async fn event_rate_flag_and_a_log_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let mut create = Command::new(BIN)
        .args([
            "workspace",
            "create",
            "Acme",
            "--owner-email",
            "owner@example.com",
            "--password-stdin",
            "--json",
            "--database-url",
            &url,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"owner password\n")
        .unwrap();
    let output = create.wait_with_output().unwrap();
    assert!(output.status.success());
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let key = created["write_key"].as_str().unwrap().to_owned();

    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            &url,
            "--event-rate",
            "10",
        ])
        .env("RUST_LOG", "debug")
        .env_remove("HUB_SERVER_BIND")
        .env_remove("HUB_SERVER_EVENT_RATE")
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
    let batch = |tag: &str, n: usize| {
        serde_json::json!({"batch": (0..n).map(|i| serde_json::json!({
            "type": "identify", "userId": format!("secret-user-{tag}-{i}"),
            "messageId": format!("secret-msg-{tag}-{i}"),
            "traits": {"email": "private.person@example.com", "phone": "+4915112345678"}
        })).collect::<Vec<_>>(), "writeKey": key})
    };
    // An invalid event (its reason may name fields, never their values).
    let response = http
        .post(format!("http://{addr}/v1/track"))
        .basic_auth(&key, Some(""))
        .json(&serde_json::json!({"userId": "secret-user-c", "timestamp": "secret-time"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // 100 events at 10 per second: through (the bucket goes into debt), then 429.
    let response = http
        .post(format!("http://{addr}/v1/batch"))
        .json(&batch("a", 100))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http
        .post(format!("http://{addr}/v1/batch"))
        .json(&batch("b", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    log.extend(lines.try_iter());
    let log = log.join("\n");
    assert!(log.contains("event_rate=10"), "{log}");
    assert!(log.contains("events collected"), "{log}");
    for secret in [
        "secret-user",
        "secret-msg",
        "secret-time",
        "private.person",
        "+4915112345678",
        key.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}
