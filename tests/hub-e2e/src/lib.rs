//! Helpers shared by the end-to-end tests in `tests/`.
//!
//! [`spawn_server`] starts the real `hub-server` router on a port-0 listener inside the
//! test's runtime and stops it when the returned [`TestServer`] is dropped. The sync
//! issue extends this with a storage choice (SQLite file or the PostgreSQL named by an
//! env var) and client stores that sync through it.

use std::net::SocketAddr;

use hub_server::{AppState, Database, DatabaseUrl, Passwords};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropping it stops the server.
pub struct TestServer {
    addr: SocketAddr,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts `hub_server::router` on 127.0.0.1 with a free port, over a fresh in-memory SQLite
/// store (cheap password hashing). Call inside a tokio runtime.
pub async fn spawn_server() -> TestServer {
    let db = Database::open(&DatabaseUrl::SqliteMemory)
        .await
        .expect("open in-memory storage");
    spawn_server_with(AppState::with_passwords(db, Passwords::cheap_for_tests())).await
}

/// Like [`spawn_server`], with prepared state.
pub async fn spawn_server_with(state: AppState) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(hub_server::serve_until(listener, state, async {
        // Either an explicit stop or the sender being dropped ends the server.
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        client: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Absolute URL for a path that starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// An HTTP client for this server (connection pool shared across calls).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Stops the server gracefully and waits until it has finished; panics if serving failed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task panicked")
                .expect("server failed");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every synced row of a device's store, for convergence checks: per entity, per row
/// (by id), each field's value and clock. The clock of a field written by a create is
/// kept under `*` on the creating device and per field elsewhere, so it is expanded here.
pub async fn device_rows(store: &hub_core::Store) -> Vec<(String, String, String, String)> {
    use serde_json::{Map, Value};
    let mut out = Vec::new();
    for entity in hub_core::entities::ALL {
        let pairs: Vec<String> = entity
            .fields
            .iter()
            .map(|f| format!("'{f}', {f}"))
            .collect();
        let rows: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT id, json_object({}), clocks FROM {} ORDER BY id",
            pairs.join(", "),
            entity.table
        ))
        .fetch_all(store.pool())
        .await
        .expect("read rows");
        for (id, values, clocks) in rows {
            let values: Map<String, Value> = serde_json::from_str(&values).unwrap();
            let clocks: Map<String, Value> = serde_json::from_str(&clocks).unwrap();
            for field in entity.fields {
                let clock = clocks
                    .get(*field)
                    .or_else(|| clocks.get("*"))
                    .cloned()
                    .unwrap_or(Value::Null);
                out.push((
                    format!("{}/{id}", entity.name),
                    (*field).to_owned(),
                    values
                        .get(*field)
                        .cloned()
                        .unwrap_or(Value::Null)
                        .to_string(),
                    clock.to_string(),
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Real processes: the `hub-server` and `hub` binaries, for crash tests.

/// `target/<profile>/<bin>` next to the running test binary (which lives in
/// `target/<profile>/deps/`). When it is missing, it is built first with
/// `cargo build -p <package> --bin <bin>`.
pub fn binary(package: &str, bin: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = dir.join(bin);
    if !path.exists() {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", package, "--bin", bin])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p {package} --bin {bin}");
        assert!(
            path.exists(),
            "{} still missing after the build",
            path.display()
        );
    }
    path
}

/// Runs `hub-server workspace create NAME --database-url URL --owner-email E
/// --password-stdin --json` and returns the new workspace's id.
pub fn create_workspace_process(
    database_url: &str,
    name: &str,
    email: &str,
    password: &str,
) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(binary("hub-server", "hub-server"))
        .args(["workspace", "create", name, "--database-url", database_url])
        .args(["--owner-email", email, "--password-stdin", "--json"])
        .env_remove("HUB_SERVER_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hub-server workspace create");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "workspace create: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    created["workspace_id"].as_str().unwrap().to_owned()
}

/// A `hub-server serve` process on 127.0.0.1:0. Dropping it SIGKILLs it.
pub struct ServerProcess {
    child: std::process::Child,
    addr: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `hub-server serve --bind 127.0.0.1:0 --database-url URL` and waits (20 s at
    /// most) for its "listening on http://ADDR" line.
    pub fn start(database_url: &str) -> Self {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        use std::sync::{mpsc, Arc, Mutex};
        use std::time::Duration;
        let mut child = Command::new(binary("hub-server", "hub-server"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .env("RUST_LOG", "info")
            .env_remove("HUB_SERVER_BIND")
            .env_remove("HUB_SERVER_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hub-server serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel::<String>();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some((_, addr)) = line.split_once("listening on http://") {
                    let _ = addr_tx.send(addr.trim().to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("no 'listening on' line; log: {:#?}", log.lock().unwrap());
            }
        };
        ServerProcess { child, addr, log }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits for the process to end (after a `kill -9 <pid>` elsewhere) and returns how.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for hub-server")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGKILL a process by id (`kill -9 <pid>`): no handler runs, nothing is flushed.
pub fn kill_9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// How many times each op_id is stored in the server's `changes` table, read straight from
/// its database (a `sqlite://` file or a `postgres://` URL), ordered by op_id.
pub async fn server_op_counts(database_url: &str) -> Vec<(String, i64)> {
    use sqlx::Connection;
    const SQL: &str = "SELECT op_id, count(*) FROM changes GROUP BY op_id ORDER BY op_id";
    if database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(database_url)
            .await
            .expect("connect to the server's PostgreSQL");
        let rows = sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap();
        conn.close().await.ok();
        rows
    } else {
        let mut conn = sqlx::SqliteConnection::connect(database_url)
            .await
            .expect("open the server's SQLite file");
        let rows = sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap();
        conn.close().await.ok();
        rows
    }
}
