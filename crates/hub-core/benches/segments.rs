//! `cargo bench -p hub-core --bench segments`: a behavioural segment over N
//! contacts (default 100,000; `HUB_BENCH_CONTACTS`) and M events (default
//! 1,000,000; `HUB_BENCH_EVENTS`) spread over the last year (about ten a
//! contact, a tenth naming a campaign).
//!
//! Figures (goals from issue 6: full ≤ 500 ms, incremental ≤ 1 ms per event):
//! - the full computation of the rule over the whole base (median of 5);
//! - creating the segment: the full computation plus writing its members,
//!   history and segment tags through the write path (once);
//! - incremental per event: one event stored for a random contact, then
//!   `segments::refresh` (the trigger queues the contact, refresh evaluates
//!   it against the segment and writes what changed): median and p99 of 300;
//! - a batch of 1,000 events then one refresh, per event.
//!
//! Contacts and events are generated in SQL (a recursive CTE), not through
//! the write path: the figures are about evaluating segments.

use std::time::Instant;

use chrono::{DateTime, Utc};
use hub_core::segments::{self, SegmentInput};
use hub_core::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

mod util;
use util::{block_on, env, median, p99};

const DAY_MS: i64 = 86_400_000;
const NAMES: [&str; 5] = [
    "Order Completed",
    "Product Viewed",
    "Product Added",
    "Signed Up",
    "Checkout Started",
];

fn main() {
    block_on(run(
        env("HUB_BENCH_CONTACTS", 100_000),
        env("HUB_BENCH_EVENTS", 1_000_000),
    ));
}

async fn run(n: usize, m: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("HUB_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("hub.db"));
    let store = Store::open(&path).await.unwrap();
    let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
    let now_ms = now.timestamp_millis();

    let t = Instant::now();
    sqlx::query(
        "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
         INSERT INTO contacts (id, display_name, lifecycle_stage, created_at)
         SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
                || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
                'Contact ' || n, CASE n % 4 WHEN 0 THEN 'customer' ELSE 'lead' END,
                '2026-01-01T00:00:00.000Z'
           FROM i",
    )
    .bind(n as i64)
    .execute(store.pool())
    .await
    .unwrap();
    println!("{n} contacts generated in {:.2?}", t.elapsed());

    let t = Instant::now();
    let step = 200_000;
    let mut done = 0;
    while done < m {
        let count = step.min(m - done);
        sqlx::query(
            "WITH RECURSIVE i(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM i WHERE n < ?)
             INSERT INTO events (message_id, type, name, path, at_ms, received_ms, body, contact_rk)
             SELECT 'bench-' || n,
                    CASE WHEN n % 5 = 4 THEN 'page' ELSE 'track' END,
                    CASE n % 5 WHEN 0 THEN 'Order Completed' WHEN 1 THEN 'Product Viewed'
                               WHEN 2 THEN 'Product Added' WHEN 3 THEN 'Signed Up' END,
                    CASE WHEN n % 5 = 4 THEN '/pricing/' || (n % 7) END,
                    ? - (n * 7919 % 365000) * 86400,
                    ?,
                    CASE WHEN n % 10 = 3
                         THEN json_object('properties', json_object('total', n % 300),
                                          'context', json_object('campaign', json_object('name', 'c' || (n % 20))))
                         ELSE json_object('properties', json_object('total', n % 300)) END,
                    1 + (n * 104729) % ?
               FROM i",
        )
        .bind(done as i64 + 1)
        .bind((done + count) as i64)
        .bind(now_ms)
        .bind(now_ms)
        .bind(n as i64)
        .execute(store.pool())
        .await
        .unwrap();
        done += count;
    }
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    println!("{m} events generated in {:.2?}", t.elapsed());

    // HUB_BENCH_RULE: another rule (JSON), e.g. {"lifecycle_stage": "lead"} for a
    // segment of three quarters of the base.
    let rule = match std::env::var("HUB_BENCH_RULE") {
        Ok(text) => serde_json::from_str(&text).expect("HUB_BENCH_RULE is JSON"),
        Err(_) => json!({"all": [
            {"event": "Order Completed", "at_least": 2, "in_last_days": 30,
             "where": [{"property": "total", "op": "gt", "value": 100}]},
            {"not": {"last_seen_more_than_days": 7}}
        ]}),
    };
    let t = Instant::now();
    let seg = segments::create(
        &store,
        &SegmentInput {
            name: "Repeat buyers".into(),
            rule,
            triggers: None,
        },
        now,
    )
    .await
    .unwrap();
    println!(
        "create (full computation + {} members, history and tags written): {:.2?}",
        seg.size,
        t.elapsed()
    );

    let mut runs = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        size = segments::compute_full(&store, "Repeat buyers", now)
            .await
            .unwrap()
            .len();
        runs.push(t.elapsed());
    }
    println!(
        "full computation over {n} contacts x {m} events: median {:.1?} (slowest {:.1?}), {size} members [goal <= 500 ms]",
        median(runs.clone()),
        runs.iter().max().unwrap()
    );
    assert_eq!(size as u32, seg.size);

    let mut runs = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        segments::refresh(&store, now).await.unwrap();
        runs.push(t.elapsed());
    }
    println!(
        "refresh with nothing queued: median {:.2?}, p99 {:.2?}",
        median(runs.clone()),
        p99(runs)
    );

    let mut rng = StdRng::seed_from_u64(6);
    let mut runs = Vec::new();
    let mut stored = Vec::new();
    let mut changed = 0;
    for k in 0..300 {
        let contact = rng.random_range(1..=n as i64);
        let t = Instant::now();
        sqlx::query(
            "INSERT INTO events (message_id, type, name, at_ms, received_ms, body, contact_rk)
             VALUES (?, 'track', ?, ?, ?, ?, ?)",
        )
        .bind(format!("live-{k}"))
        .bind(NAMES[k % NAMES.len()])
        .bind(now_ms - rng.random_range(0..3 * DAY_MS))
        .bind(now_ms)
        .bind(json!({"properties": {"total": rng.random_range(0..300)}}).to_string())
        .bind(contact)
        .execute(store.pool())
        .await
        .unwrap();
        stored.push(t.elapsed());
        let t = Instant::now();
        let report = segments::refresh(&store, now).await.unwrap();
        runs.push(t.elapsed());
        changed += report.entered + report.exited;
    }
    println!(
        "incremental, one event stored (median {:.2?}) then refresh: refresh median {:.2?}, p99 {:.2?} ({changed} membership changes in 300) [goal <= 1 ms]",
        median(stored),
        median(runs.clone()),
        p99(runs)
    );

    let batch = 1000;
    let t = Instant::now();
    for k in 0..batch {
        sqlx::query(
            "INSERT INTO events (message_id, type, name, at_ms, received_ms, body, contact_rk)
             VALUES (?, 'track', 'Order Completed', ?, ?, ?, ?)",
        )
        .bind(format!("batch-{k}"))
        .bind(now_ms - rng.random_range(0..3 * DAY_MS))
        .bind(now_ms)
        .bind(json!({"properties": {"total": rng.random_range(0..300)}}).to_string())
        .bind(rng.random_range(1..=n as i64))
        .execute(store.pool())
        .await
        .unwrap();
    }
    let inserted = t.elapsed();
    let t = Instant::now();
    let report = segments::refresh(&store, now).await.unwrap();
    let refreshed = t.elapsed();
    println!(
        "batch of {batch} events (stored in {inserted:.1?}) then one refresh: {refreshed:.1?} = {:.3} ms per event ({} entered)",
        refreshed.as_secs_f64() * 1000.0 / batch as f64,
        report.entered
    );

    // A day later with no new events: the window-edge re-check.
    let t = Instant::now();
    let report = segments::refresh(&store, now + chrono::Duration::days(1))
        .await
        .unwrap();
    println!(
        "refresh a day later, no new events: {:.1?} ({} contacts re-checked, {} exited, {} entered)",
        t.elapsed(),
        report.checked,
        report.exited,
        report.entered
    );
}
