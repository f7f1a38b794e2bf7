//! `make bench`, collection part (issue 6, acceptance 6): Segment batch ingestion into
//! hub-server on both backends, measured with a load generator over real HTTP.
//!
//! For each backend (SQLite in a temp file, then PostgreSQL in a throwaway cluster like the
//! tests start) a hub-server is served in this process on a port-0 listener, with no event
//! rate limit. Concurrent clients, each with its own
//! keep-alive connection, POST `/v1/batch` requests of `HUB_BENCH_BATCH` (default 100)
//! realistic events (a browser/server SDK mix of page, track, identify, screen, group and
//! alias calls with context, properties and traits; ~0.7 KB each, bodies built before the
//! clock starts) until `HUB_BENCH_EVENTS` (default 100,000) events are sent, into a new
//! workspace per run. `HUB_BENCH_CLIENTS` is a comma-separated list of client counts, one
//! run each (default `2,8`): with one writer per workspace, a request's latency is its
//! queueing behind the others in flight plus its own service time. Printed: events/s
//! over the wall time and p50 / p99 / max latency per batch request. Every answer must be
//! 200 and the stored counts must add up to the events sent.
//!
//! Goals: >= 5,000 events/s and p99 < 100 ms per batch request, on both backends. The load
//! generator shares the machine's two cores with the server (and the database), so the
//! figures are a lower bound for a server on its own machine. The test cluster runs with
//! fsync off (as the tests do); SQLite is a WAL file with sqlx's default synchronous=FULL.

#[allow(dead_code)]
#[path = "../tests/common/pg.rs"]
mod pg;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords};
use serde_json::{json, Value};
use tokio::net::TcpListener;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let events = env("HUB_BENCH_EVENTS", 100_000);
        let batch = env("HUB_BENCH_BATCH", 100);
        let clients: Vec<usize> = std::env::var("HUB_BENCH_CLIENTS")
            .unwrap_or_else(|_| "2,8".into())
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .expect("HUB_BENCH_CLIENTS: numbers, comma-separated")
            })
            .collect();
        println!(
            "ingest: {events} events in batches of {batch} per run, with {clients:?} concurrent \
             clients, over HTTP"
        );
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        for (run_no, &c) in clients.iter().enumerate() {
            run("sqlite", &sqlite, events, batch, c, run_no).await;
        }
        match pg::TestPostgres::start() {
            Ok(pg) => {
                let url = pg.fresh_database("hub_ingest_bench").await;
                for (run_no, &c) in clients.iter().enumerate() {
                    run("postgres", &url, events, batch, c, run_no).await;
                }
            }
            Err(why) => println!("postgres: SKIPPED (cannot start a test cluster: {why})"),
        }
    });
}

const NAMES: [&str; 4] = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
];

/// One realistic event of the mix; `i` makes ids and values vary.
fn event(i: usize) -> Value {
    let anon = format!("anon-{:08x}", i / 7);
    let user = format!("user-{}", i / 13);
    let at = chrono::Utc::now() - chrono::Duration::seconds((i % 86_400) as i64);
    let context = json!({
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "ip": format!("203.0.{}.{}", i % 256, (i / 256) % 256),
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "locale": "de-DE",
        "page": {"path": format!("/products/{}", i % 500), "referrer": "https://www.google.com/",
                 "title": "Acme Widgets", "url": format!("https://acme.test/products/{}", i % 500)},
        "campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}
    });
    let mut e = match i % 20 {
        0..=7 => json!({"type": "page", "anonymousId": anon, "name": "Product",
            "properties": {"path": format!("/products/{}", i % 500), "title": "Acme Widgets",
                           "url": format!("https://acme.test/products/{}", i % 500)}}),
        8..=15 => json!({"type": "track", "anonymousId": anon, "userId": user,
            "event": NAMES[i % 4],
            "properties": {"product_id": format!("sku-{}", i % 1000), "price": 19.99,
                           "quantity": 1 + i % 3, "currency": "EUR", "category": "Widgets"}}),
        16 | 17 => json!({"type": "identify", "anonymousId": anon, "userId": user,
            "traits": {"email": format!("{user}@example.com"), "firstName": "Ada",
                       "lastName": "Lovelace", "plan": "pro", "createdAt": "2024-01-02T03:04:05Z"}}),
        18 => json!({"type": "screen", "userId": user, "name": "Home",
            "properties": {"variant": "b"}}),
        _ => json!({"type": "group", "userId": user, "groupId": format!("company-{}", i % 50),
            "traits": {"name": "Acme GmbH", "employees": 42, "industry": "Manufacturing"}}),
    };
    e["messageId"] = json!(uuid::Uuid::new_v4().to_string());
    e["context"] = context;
    e["timestamp"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    e["integrations"] = json!({});
    e
}

async fn run(backend: &str, url: &str, events: usize, batch: usize, clients: usize, run_no: usize) {
    let db = Database::open(&DatabaseUrl::parse(url).unwrap())
        .await
        .unwrap();
    let passwords = Passwords::cheap_for_tests();
    let created = accounts::create_workspace(
        &db,
        &passwords,
        &format!("Bench {run_no}"),
        &format!("owner{run_no}@example.com"),
        Some(Password::parse("a long password".to_owned()).unwrap()),
    )
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/batch", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::with_passwords(db.clone(), passwords).with_event_rate(0);
    let server = tokio::spawn(hub_server::serve_until(listener, state, async {
        let _ = stopped.await;
    }));

    // Bodies first: the clock measures sending and storing, not building JSON.
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..events.div_ceil(batch))
            .map(|b| {
                let items: Vec<Value> = (b * batch..((b + 1) * batch).min(events))
                    .map(event)
                    .collect();
                json!({"batch": items, "sentAt": chrono::Utc::now().to_rfc3339(),
                       "context": {"library": {"name": "analytics-node", "version": "2.1.0"}}})
                .to_string()
            })
            .collect(),
    );
    let bytes: usize = bodies.iter().map(String::len).sum();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bodies, next, endpoint) = (bodies.clone(), next.clone(), endpoint.clone());
        let key = created.write_key.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            let mut stored = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let response = http
                    .post(&endpoint)
                    .basic_auth(&key, Some(""))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "batch {i}");
                let answer: Value = response.json().await.unwrap();
                latencies.push(sent.elapsed());
                stored += answer["stored"].as_u64().unwrap();
            }
            (latencies, stored)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    let mut stored = 0;
    for task in tasks {
        let (l, s) = task.await.unwrap();
        latencies.extend(l);
        stored += s;
    }
    let elapsed = started.elapsed();
    assert_eq!(stored as usize, events, "stored counts do not add up");
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rate = events as f64 / elapsed.as_secs_f64();
    println!(
        "{backend:>8}, {clients} clients: {events} events ({:.1} MB) in {:.2} s = {rate:.0} events/s (goal >= 5000: {}); \
         per batch request p50 {:.1} ms, p99 {:.1} ms (goal < 100: {}), max {:.1} ms",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        if rate >= 5_000.0 { "met" } else { "NOT met" },
        ms(pct(0.50)),
        ms(pct(0.99)),
        if ms(pct(0.99)) < 100.0 { "met" } else { "NOT met" },
        ms(*latencies.last().unwrap()),
    );
    let _ = stop.send(());
    let _ = server.await;
    db.close().await;
}
