//! hub-server as the desktop app and CLI will meet it: over real HTTP.

use hub_e2e::spawn_server;
use hub_server::Health;

#[tokio::test]
async fn healthz_through_a_real_client() {
    let server = spawn_server().await;

    let response = server
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.expect("health JSON");
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, hub_server::VERSION);
    let skew = (chrono::Utc::now() - health.server_time)
        .num_seconds()
        .abs();
    assert!(
        skew <= 5,
        "server clock differs by {skew}s in the same process"
    );

    server.shutdown().await;
}

#[tokio::test]
async fn servers_are_independent_and_stop_when_shut_down() {
    let first = spawn_server().await;
    let second = spawn_server().await;
    assert_ne!(first.addr(), second.addr());

    let addr = first.addr();
    first.shutdown().await;
    // The stopped server refuses connections; the other still answers.
    assert!(reqwest::get(format!("http://{addr}/healthz"))
        .await
        .is_err());
    let response = reqwest::get(second.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
}
