//! Acceptance 3 of the sync issue: "Kill the client between push commit and response, and
//! the server between write and ack: after restart, no duplicate and no loss."
//!
//! Real processes: `hub-server serve` (SQLite file; PostgreSQL too), the `hub` CLI, and a
//! fault proxy in the test between device and server. The proxy forwards every request; for
//! one push it can, *after the server answered* (so the server has committed):
//! - `Drop`: run a hook (kill -9 the server) and cut the connection mid-response;
//! - `Hang`: never answer (the test then kill -9s the `hub` process waiting for it);
//! - `Twice` / `TwiceAtOnce`: send the same request upstream twice, one after the other or
//!   concurrently, and answer with the second answer.
//!
//! Every upstream push answer the proxy saw is recorded, so a retry's answer can be compared
//! with the answer that was lost.

#[path = "../../../crates/hub-server/tests/common/pg.rs"]
mod pg;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use hub_core::contacts::{self, ContactInput, EmailEntry, PhoneEntry};
use hub_core::sync::{self, HttpTransport};
use hub_core::Store;
use hub_e2e::{
    binary, create_workspace_process, device_rows, kill_9, server_op_counts, ServerProcess,
};
use pg::{Availability, TestPostgres};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::watch;

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a long password";

// ---------------------------------------------------------------------------
// The fault proxy.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    Drop,
    Hang,
    Twice,
    TwiceAtOnce,
}

type Hook = Box<dyn FnOnce() + Send>;

struct ProxyState {
    upstream: Mutex<String>,
    /// Applies to the next push only, then resets to `None`.
    fault: Mutex<Fault>,
    hook: Mutex<Option<Hook>>,
    /// Every push answer the server gave (status, body), in order.
    answers: Mutex<Vec<(u16, Value)>>,
    /// Counts faults applied (after the upstream answered and the hook ran).
    faulted: watch::Sender<u32>,
    http: reqwest::Client,
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    _task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: Mutex::new(upstream.to_owned()),
            fault: Mutex::new(Fault::None),
            hook: Mutex::new(None),
            answers: Mutex::new(Vec::new()),
            faulted: watch::channel(0).0,
            http: reqwest::Client::new(),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy {
            addr,
            state,
            _task: task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_upstream(&self, url: &str) {
        *self.state.upstream.lock().unwrap() = url.to_owned();
    }

    /// The next push gets `fault`; `hook` runs once the server has answered it.
    fn arm(&self, fault: Fault, hook: Option<Hook>) {
        *self.state.hook.lock().unwrap() = hook;
        *self.state.fault.lock().unwrap() = fault;
    }

    fn answers(&self) -> Vec<(u16, Value)> {
        self.state.answers.lock().unwrap().clone()
    }

    /// Waits (15 s at most) until `n` faults have been applied.
    async fn faulted(&self, n: u32) {
        let mut rx = self.state.faulted.subscribe();
        tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|c| *c >= n))
            .await
            .expect("the proxy never saw the push")
            .unwrap();
    }
}

async fn send_upstream(
    state: &ProxyState,
    method: &axum::http::Method,
    path: &str,
    headers: &axum::http::HeaderMap,
    body: &Bytes,
) -> Result<(u16, Option<HeaderValue>, Bytes), String> {
    let upstream = state.upstream.lock().unwrap().clone();
    let mut request = state
        .http
        .request(method.clone(), format!("{upstream}{path}"))
        .body(body.clone());
    for name in ["authorization", "content-type", "user-agent"] {
        if let Some(v) = headers.get(name) {
            request = request.header(name, v.clone());
        }
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").cloned();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, content_type, bytes))
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let body = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    let is_push = parts.method == axum::http::Method::POST && parts.uri.path() == "/v1/sync/push";
    let fault = if is_push {
        std::mem::replace(&mut *state.fault.lock().unwrap(), Fault::None)
    } else {
        Fault::None
    };
    let send = || send_upstream(&state, &parts.method, &path, &parts.headers, &body);
    let answer = match fault {
        Fault::Twice => match send().await {
            Ok(first) => {
                record(&state, &first);
                send().await
            }
            Err(e) => Err(e),
        },
        Fault::TwiceAtOnce => {
            let (one, two) = tokio::join!(send(), send());
            if let Ok(one) = &one {
                record(&state, one);
            }
            two
        }
        _ => send().await,
    };
    let (status, content_type, bytes) = match answer {
        Ok(a) => a,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("proxy: upstream failed: {e}")))
                .unwrap()
        }
    };
    if is_push {
        record(&state, &(status, content_type.clone(), bytes.clone()));
    }
    if matches!(fault, Fault::Drop | Fault::Hang) {
        // The server has answered, so it has committed: now the fault.
        let hook = state.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        state.faulted.send_modify(|n| *n += 1);
        if fault == Fault::Hang {
            std::future::pending::<()>().await;
        }
        // Drop: the status line goes out, then the connection breaks mid-body.
        let broken = futures_util::stream::once(async {
            Err::<Bytes, _>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "fault proxy: connection cut",
            ))
        });
        return Response::builder()
            .status(status)
            .body(Body::from_stream(broken))
            .unwrap();
    }
    if matches!(fault, Fault::Twice | Fault::TwiceAtOnce) {
        state.faulted.send_modify(|n| *n += 1);
    }
    let mut response = Response::builder().status(status);
    if let Some(ct) = content_type {
        response = response.header("content-type", ct);
    }
    response.body(Body::from(bytes)).unwrap()
}

fn record(state: &ProxyState, (status, _, bytes): &(u16, Option<HeaderValue>, Bytes)) {
    let body = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    state.answers.lock().unwrap().push((*status, body));
}

// ---------------------------------------------------------------------------
// Devices and checks.

/// A device store on a real file, with changes nobody has seen yet: three contacts with
/// emails and phones, an edit (title, a second phone) and a delete. Returns the number of
/// outbox entries.
async fn offline_changes(store: &Store) -> i64 {
    let mut ids = Vec::new();
    for (i, name) in ["Ada", "Grace", "Edsger"].iter().enumerate() {
        let c = contacts::create(
            store,
            ContactInput {
                first_name: Some((*name).into()),
                last_name: Some("Tester".into()),
                title: Some("Engineer".into()),
                emails: vec![EmailEntry {
                    kind: "work".into(),
                    address: format!("{}@example.com", name.to_lowercase()),
                }],
                phones: vec![PhoneEntry {
                    kind: "mobile".into(),
                    number: format!("+44 20 7946 010{i}"),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ids.push(c.id);
    }
    let ada = contacts::get(store, ids[0]).await.unwrap();
    let mut edit = ContactInput {
        first_name: ada.first_name.clone(),
        last_name: ada.last_name.clone(),
        display_name: Some(ada.display_name.clone()),
        title: Some("Chief Engineer".into()),
        emails: ada.emails.clone(),
        phones: ada.phones.clone(),
        tags: ada.tags.clone(),
        ..Default::default()
    };
    edit.phones.push(PhoneEntry {
        kind: "work".into(),
        number: "+44 20 7946 0999".into(),
    });
    contacts::update(store, ids[0], edit).await.unwrap();
    contacts::delete(store, ids[2]).await.unwrap();
    sync::status(store).await.unwrap().pending
}

async fn outbox_op_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = sqlx::query_scalar("SELECT op_id FROM change_log")
        .fetch_all(store.pool())
        .await
        .unwrap();
    ids.sort();
    ids
}

/// Every op of the device is on the server exactly once, and nothing else is.
async fn assert_stored_once(database_url: &str, op_ids: &[String]) {
    let counts = server_op_counts(database_url).await;
    let twice: Vec<_> = counts.iter().filter(|(_, n)| *n != 1).collect();
    assert!(twice.is_empty(), "op_ids stored more than once: {twice:?}");
    let stored: Vec<String> = counts.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        stored, op_ids,
        "the server's changes are not the device's ops"
    );
}

/// A second device signs in directly to `server`, syncs, and must hold exactly `rows`.
async fn second_device_converges(server: &str, rows: &[(String, String, String, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("b.db")).await.unwrap();
    let signed = sync::sign_in(&store, server, EMAIL, PASSWORD, "B", None)
        .await
        .unwrap();
    let transport = HttpTransport::new(server, &signed.token).unwrap();
    sync::sync_once(&store, &transport, |_| {}).await.unwrap();
    assert_eq!(device_rows(&store).await, rows);
    store.close().await;
}

/// The statuses of a push answer's results, by op_id.
fn results(answer: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a push answer: {answer}"))
        .iter()
        .map(|r| {
            let mut status = r.clone();
            let op = status["op_id"].as_str().unwrap().to_owned();
            status.as_object_mut().unwrap().remove("op_id");
            (op, status)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("server.db").display())
}

// ---------------------------------------------------------------------------
// The server killed between write and ack.

async fn server_killed_between_write_and_ack(database_url: &str) {
    create_workspace_process(database_url, "Acme", EMAIL, PASSWORD);
    let mut server = ServerProcess::start(database_url);
    let proxy = Proxy::start(&server.base_url()).await;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).await.unwrap();
    let signed = sync::sign_in(&store, &proxy.url(), EMAIL, PASSWORD, "A", None)
        .await
        .unwrap();
    let n = offline_changes(&store).await;
    assert!(n >= 10, "only {n} outbox entries");
    let op_ids = outbox_op_ids(&store).await;

    // The push reaches the server, which commits and answers; the proxy then kills it
    // (SIGKILL) and cuts the device's connection before the answer arrives.
    let pid = server.pid();
    proxy.arm(Fault::Drop, Some(Box::new(move || kill_9(pid))));
    let via_proxy = HttpTransport::new(&proxy.url(), &signed.token).unwrap();
    let err = sync::sync_once(&store, &via_proxy, |_| {})
        .await
        .expect_err("the round must fail when the answer is lost");
    assert!(err.is_transient(), "not a transient error: {err:?}");
    assert!(matches!(err.code(), "offline" | "unavailable"), "{err:?}");
    let status = server.wait();
    assert!(!status.success(), "the server was not killed: {status:?}");
    let lost = proxy.answers();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].0, 200, "{:?}", lost[0]);
    // The server committed; the device still holds every change.
    assert_stored_once(database_url, &op_ids).await;
    assert_eq!(sync::status(&store).await.unwrap().pending, n);
    assert_eq!(outbox_op_ids(&store).await, op_ids);

    // Restart on the same database (a new port); the device retries through the proxy.
    let restarted = ServerProcess::start(database_url);
    proxy.set_upstream(&restarted.base_url());
    let report = sync::sync_once(&store, &via_proxy, |_| {}).await.unwrap();
    assert_eq!(report.pushed, n as u64);
    assert_eq!(report.rejected, 0);
    assert_eq!(sync::status(&store).await.unwrap().pending, 0);
    // The retry is answered with the stored results, verbatim; nothing is stored twice.
    let answers = proxy.answers();
    assert_eq!(answers.len(), 2);
    assert_eq!(results(&answers[1].1), results(&lost[0].1));
    assert_stored_once(database_url, &op_ids).await;

    // Pointing the device straight at the restarted server changes nothing either.
    let direct = HttpTransport::new(&restarted.base_url(), &signed.token).unwrap();
    sync::sync_once(&store, &direct, |_| {}).await.unwrap();
    assert_stored_once(database_url, &op_ids).await;

    let rows = device_rows(&store).await;
    second_device_converges(&restarted.base_url(), &rows).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_between_write_and_ack_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    server_killed_between_write_and_ack(&sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_between_write_and_ack_on_postgres() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_e2e_crash").await;
    server_killed_between_write_and_ack(&url).await;
}

// ---------------------------------------------------------------------------
// The client killed between push commit and response.

/// Runs `hub --db <db> <args>` with its own config dir; returns its output.
fn hub(config: &Path, db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = hub_command(config, db, args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hub");
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

fn hub_command(config: &Path, db: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary("hub-cli", "hub"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env("HUB_CONFIG_DIR", config)
        .env_remove("HUB_TOKEN")
        .env_remove("HUB_DB");
    cmd
}

fn ok(output: &Output) -> &str {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::str::from_utf8(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_killed_between_push_commit_and_response() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    create_workspace_process(&url, "Acme", EMAIL, PASSWORD);
    let server = ServerProcess::start(&url);
    let proxy = Proxy::start(&server.base_url()).await;
    let config = TempDir::new().unwrap();
    let db = dir.path().join("a.db");

    ok(&hub(
        config.path(),
        &db,
        &[
            "login",
            "--server",
            &proxy.url(),
            "--email",
            EMAIL,
            "--password-stdin",
            "--insecure-storage",
            "--device-name",
            "A",
        ],
        Some(&format!("{PASSWORD}\n")),
    ));
    let (n, op_ids) = {
        let store = Store::open(&db).await.unwrap();
        let n = offline_changes(&store).await;
        let ids = outbox_op_ids(&store).await;
        store.close().await;
        (n, ids)
    };

    // `hub sync` pushes through the proxy; the server commits; the answer never comes.
    proxy.arm(Fault::Hang, None);
    let mut child = hub_command(config.path(), &db, &["sync"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    proxy.faulted(1).await;
    assert_stored_once(&url, &op_ids).await;
    kill_9(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let status: Value = serde_json::from_str(ok(&hub(
        config.path(),
        &db,
        &["sync", "status", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(status["pending"], n, "{status}");

    // Run again (the account's server is the proxy, now passing everything through).
    let report: Value =
        serde_json::from_str(ok(&hub(config.path(), &db, &["sync", "--json"], None))).unwrap();
    assert_eq!(report["pushed"], n, "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    let status: Value = serde_json::from_str(ok(&hub(
        config.path(),
        &db,
        &["sync", "status", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(status["pending"], 0, "{status}");
    assert!(status["last_error"].is_null(), "{status}");
    let answers = proxy.answers();
    assert_eq!(answers.len(), 2);
    assert_eq!(results(&answers[1].1), results(&answers[0].1));
    assert_stored_once(&url, &op_ids).await;

    let store = Store::open(&db).await.unwrap();
    let rows = device_rows(&store).await;
    store.close().await;
    second_device_converges(&server.base_url(), &rows).await;
}

// ---------------------------------------------------------------------------
// One push delivered twice.

async fn duplicated_push(fault: Fault) {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    create_workspace_process(&url, "Acme", EMAIL, PASSWORD);
    let server = ServerProcess::start(&url);
    let proxy = Proxy::start(&server.base_url()).await;
    let store = Store::open(&dir.path().join("a.db")).await.unwrap();
    let signed = sync::sign_in(&store, &proxy.url(), EMAIL, PASSWORD, "A", None)
        .await
        .unwrap();
    let n = offline_changes(&store).await;
    let op_ids = outbox_op_ids(&store).await;

    proxy.arm(fault, None);
    let transport = HttpTransport::new(&proxy.url(), &signed.token).unwrap();
    let report = sync::sync_once(&store, &transport, |_| {}).await.unwrap();
    proxy.faulted(1).await;
    assert_eq!(report.pushed, n as u64);
    assert_eq!(sync::status(&store).await.unwrap().pending, 0);
    let answers = proxy.answers();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    // Whichever copy committed first, the other got its results verbatim.
    let (one, two) = (results(&answers[0].1), results(&answers[1].1));
    assert_eq!(one, two);
    assert_eq!(one.len(), op_ids.len());
    assert!(one.iter().all(|(_, s)| s["status"] == "applied"), "{one:?}");
    assert_stored_once(&url, &op_ids).await;

    let rows = device_rows(&store).await;
    second_device_converges(&server.base_url(), &rows).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_delivered_twice_is_stored_once() {
    duplicated_push(Fault::Twice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_delivered_twice_at_once_is_stored_once() {
    duplicated_push(Fault::TwiceAtOnce).await;
}
