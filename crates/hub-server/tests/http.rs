//! The router served on a real port-0 listener and called over HTTP.

use chrono::Utc;
use hub_server::{AppState, Database, DatabaseUrl, ErrorBody, Health, Passwords};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves the router on 127.0.0.1:0; dropping the returned sender stops it.
async fn start() -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let db = Database::open(&DatabaseUrl::SqliteMemory).await.unwrap();
    let state = AppState::with_passwords(db, Passwords::cheap_for_tests());
    let task = tokio::spawn(async move {
        hub_server::serve_until(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (base, stop, task)
}

#[tokio::test]
async fn healthz_answers_ok_with_version_and_time() {
    let (base, stop, task) = start().await;
    let before = Utc::now();

    let response = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let raw: serde_json::Value = response.json().await.unwrap();
    assert_eq!(raw["status"], "ok");
    assert_eq!(raw["version"], env!("CARGO_PKG_VERSION"));
    let health: Health = serde_json::from_value(raw).unwrap();
    assert!(health.server_time >= before - chrono::Duration::seconds(1));
    assert!(health.server_time <= Utc::now() + chrono::Duration::seconds(1));

    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let (base, _stop, _task) = start().await;

    let response = reqwest::get(format!("{base}/v1/nope")).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.code, "not_found");
    assert_eq!(body.message, "no route for GET /v1/nope");
}

#[tokio::test]
async fn wrong_method_on_healthz_is_405() {
    let (base, _stop, _task) = start().await;

    let response = reqwest::Client::new()
        .post(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers().contains_key("x-server-time"));
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.code, "method_not_allowed");
}
