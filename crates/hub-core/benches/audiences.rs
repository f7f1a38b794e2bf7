//! `cargo bench -p hub-core --bench audiences`: a segment of N members (default
//! 100,000; `HUB_BENCH_CONTACTS`) exported to Meta (payload JSON, 10,000 rows a
//! file) and Google Ads (Customer Match CSV). Goal from issue 7: under 2 s.
//!
//! Every contact has a name, an email, a phone in E.164, a birthday and (every
//! other one) a US address; 90% granted advertising consent, 2% are do-not-sell.
//! Contacts, their details, consent and the segment's membership are generated
//! in SQL, not through the write path: the figures are about the export. Each export is timed end to
//! end: segment refresh (nothing queued), reading the members with their
//! consent, normalising and hashing, writing the files, and recording the
//! export with its member list. Three runs each; every run is printed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hub_core::audiences::{self, Destination, ExportInput};
use hub_core::segments::{self, SegmentInput};
use hub_core::Store;
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(env("HUB_BENCH_CONTACTS", 100_000)));
}

async fn exec(store: &Store, sql: &str, n: usize) {
    sqlx::query(sql)
        .bind(n as i64)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
    let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();

    let t = Instant::now();
    exec(
        &store,
        "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
         INSERT INTO contacts (id, first_name, last_name, display_name, lifecycle_stage, birthday, created_at)
         SELECT printf('00000000-0000-4000-8000-%012d', n),
                CASE n % 5 WHEN 0 THEN 'José' WHEN 1 THEN 'Ann' WHEN 2 THEN 'O''Brien' WHEN 3 THEN 'Mary Ann' ELSE 'Li' END,
                'Person ' || n, 'Person ' || n, 'customer',
                printf('%04d-%02d-%02d', 1950 + n % 50, 1 + n % 12, 1 + n % 28),
                '2026-01-01T00:00:00.000Z'
           FROM i",
        n,
    )
    .await;
    exec(
        &store,
        "INSERT INTO contact_emails (id, contact_id, kind, address, position)
         SELECT 'e' || rk, id, 'work', 'Person.' || rk || '@Example.com', 0 FROM contacts WHERE rk <= ?",
        n,
    )
    .await;
    exec(
        &store,
        "INSERT INTO contact_phones (id, contact_id, kind, number, position)
         SELECT 'p' || rk, id, 'mobile', printf('+1415555%04d', rk % 10000), 0 FROM contacts WHERE rk <= ?",
        n,
    )
    .await;
    exec(
        &store,
        "INSERT INTO contact_addresses (id, contact_id, kind, city, region, postal_code, country, position)
         SELECT 'a' || rk, id, 'home', 'San Francisco', 'California', printf('%05d-1234', 94000 + rk % 1000), 'US', 0
           FROM contacts WHERE rk <= ? AND rk % 2 = 0",
        n,
    )
    .await;
    exec(
        &store,
        "INSERT INTO consent_records (id, contact_id, purpose, status, source, decided_at, created_at)
         SELECT 'c' || rk, id, 'advertising', 'granted', 'form', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
           FROM contacts WHERE rk <= ? AND rk % 10 <> 0",
        n,
    )
    .await;
    exec(
        &store,
        "INSERT INTO consent_records (id, contact_id, purpose, status, source, decided_at, created_at)
         SELECT 's' || rk, id, 'sale', 'denied', 'form', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
           FROM contacts WHERE rk <= ? AND rk % 50 = 1",
        n,
    )
    .await;
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    println!(
        "generated {n} contacts with details and consent in {:?}",
        t.elapsed()
    );

    // Membership written in SQL too: a segment whose rule matches nobody, then
    // every contact put in it. (Computing it for real writes 100,000 segment tags
    // through the write path, which is the segments bench's business and takes
    // minutes at this size.) Nothing is queued, so the export's refresh is a read.
    let t = Instant::now();
    let segment = segments::create(
        &store,
        &SegmentInput {
            name: "Customers".into(),
            rule: json!({"lifecycle_stage": "churned"}),
            triggers: None,
        },
        now,
    )
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO segment_members (segment_rk, contact_rk, entered_ms)
         SELECT s.rk, c.rk, ? FROM segments s, contacts c WHERE s.id = ?",
    )
    .bind(now.timestamp_millis())
    .bind(segment.id.to_string())
    .execute(store.pool())
    .await
    .unwrap();
    let size = segments::get(&store, "Customers").await.unwrap().size;
    assert_eq!(size as usize, n);
    println!(
        "segment {} with {size} members in {:?}",
        segment.name,
        t.elapsed()
    );

    for dest in [Destination::Meta, Destination::Google] {
        let mut times: Vec<Duration> = Vec::new();
        for run in 1..=3 {
            let ext = if dest == Destination::Meta {
                "json"
            } else {
                "csv"
            };
            let out = dir.path().join(format!("{}-{run}.{ext}", dest.as_str()));
            let input = ExportInput {
                segment: "Customers".into(),
                destination: dest,
                seed: false,
                out,
            };
            let t = Instant::now();
            let report = audiences::export(&store, &input, now).await.unwrap();
            let took = t.elapsed();
            times.push(took);
            println!(
                "export to {:<6} run {run}: {:>8.1} ms  ({} exported, {} left out: {} no consent, {} do-not-sell, {} no identifier; {} file(s))",
                dest.as_str(),
                took.as_secs_f64() * 1000.0,
                report.exported,
                report.left_out.total(),
                report.left_out.no_consent,
                report.left_out.do_not_sell,
                report.left_out.no_identifier,
                report.files.len()
            );
        }
        times.sort();
        println!(
            "export to {:<6} median {:>8.1} ms over {size} members (goal < 2000 ms)",
            dest.as_str(),
            times[1].as_secs_f64() * 1000.0
        );
    }
}
