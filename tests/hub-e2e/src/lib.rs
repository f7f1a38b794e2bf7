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
