//! `cargo bench -p hub-core --bench campaigns`: the campaign report over M
//! events (default 1,000,000; `HUB_BENCH_EVENTS`) of N contacts (default
//! 100,000; `HUB_BENCH_CONTACTS`) with D deals (default 20,000;
//! `HUB_BENCH_DEALS`) in three currencies, over the last year.
//!
//! A fifth of the events are campaign touches (half with `context.campaign`,
//! half with UTM parameters in `properties.url`; one in a thousand
//! percent-encoded), 25 campaigns × 5 sources; 30% of the events are
//! anonymous (200,000 anonymous ids). Half the deals are won, at a random
//! time after creation. Events and deals are generated in SQL (a recursive
//! CTE, as benches/segments.rs), so the triggers of migration 0025 derive the
//! touches as they would on import.
//!
//! Figures (goal from issue 7: the report over 1M events < 1 s):
//! - the report over all time and over the last 30 days (median of 5);
//! - a contact's touches and a deal's attribution (median of 200).

use std::time::Instant;

use chrono::{DateTime, Days, Utc};
use hub_core::campaigns::{self, ReportQuery};
use hub_core::{money, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

mod util;
use util::{block_on, env, median};

fn main() {
    block_on(run(
        env("HUB_BENCH_CONTACTS", 100_000),
        env("HUB_BENCH_EVENTS", 1_000_000),
        env("HUB_BENCH_DEALS", 20_000),
    ));
}

async fn run(n: usize, m: usize, d: usize) {
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
                'Contact ' || n, 'lead', '2025-11-01T00:00:00.000Z'
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
             INSERT INTO events (message_id, type, anonymous_id, name, path, at_ms, received_ms, body, contact_rk)
             SELECT 'bench-' || n,
                    CASE WHEN n % 10 < 4 THEN 'page' ELSE 'track' END,
                    CASE WHEN n % 10 >= 7 THEN 'anon-' || (n % 200000) END,
                    CASE WHEN n % 10 >= 4 THEN 'Product Viewed' END,
                    '/p/' || (n % 50),
                    ? - (n * 7919 % 365000) * 86400,
                    ?,
                    CASE n % 10
                      WHEN 0 THEN json_object(
                          'properties', json_object('path', '/p/' || (n % 50), 'title', 'Product'),
                          'context', json_object('campaign', json_object(
                              'name', 'campaign-' || (n % 25),
                              'source', CASE n % 5 WHEN 0 THEN 'google' WHEN 1 THEN 'facebook'
                                          WHEN 2 THEN 'newsletter' WHEN 3 THEN 'linkedin' ELSE 'bing' END,
                              'medium', CASE n % 5 WHEN 2 THEN 'email' WHEN 1 THEN 'social' ELSE 'cpc' END),
                              'page', json_object('path', '/p/' || (n % 50))))
                      WHEN 1 THEN json_object(
                          'properties', json_object('path', '/p/' || (n % 50), 'title', 'Product',
                              'url', 'https://shop.example/p/' || (n % 50) || '?ref=x&utm_source='
                                  || CASE n % 5 WHEN 0 THEN 'google' WHEN 1 THEN 'facebook'
                                          WHEN 2 THEN 'newsletter' WHEN 3 THEN 'linkedin' ELSE 'bing' END
                                  || '&utm_medium=' || CASE n % 5 WHEN 2 THEN 'email' WHEN 1 THEN 'social' ELSE 'cpc' END
                                  || '&utm_campaign=' || CASE WHEN n % 1000 = 1 THEN 'caf%C3%A9+' || (n % 3)
                                                              ELSE 'campaign-' || (n % 25) END
                                  || '#reviews'))
                      ELSE json_object(
                          'properties', json_object('path', '/p/' || (n % 50), 'title', 'Product',
                              'url', 'https://shop.example/p/' || (n % 50)),
                          'context', json_object('page', json_object('path', '/p/' || (n % 50))))
                    END,
                    CASE WHEN n % 10 < 7 THEN 1 + (n * 104729) % ? END
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
    let touches: i64 = sqlx::query_scalar("SELECT count(*) FROM campaign_touches")
        .fetch_one(store.pool())
        .await
        .unwrap();
    println!(
        "{m} events generated in {:.2?} ({touches} campaign touches kept by the triggers)",
        t.elapsed()
    );

    // Deals: one pipeline's first open stage; half won some days later.
    let t = Instant::now();
    money::set_base_currency(&store, "EUR").await.unwrap();
    money::set_rate(&store, "USD", "0.92").await.unwrap();
    money::set_rate(&store, "GBP", "1.17").await.unwrap();
    let (pipeline, stage): (String, String) = sqlx::query_as(
        "SELECT pipeline_id, id FROM pipeline_stages WHERE deleted_at IS NULL AND kind = 'open'
          ORDER BY position LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap_or_else(|_| (Uuid::now_v7().to_string(), Uuid::now_v7().to_string()));
    sqlx::query(
        "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
         INSERT INTO deals (id, title, contact_id, pipeline_id, stage_id, amount, currency, status,
                            created_at, closed_at, stage_entered_at)
         SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
                || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), 'Deal ' || n,
                (SELECT id FROM contacts WHERE rk = 1 + (n * 7919) % ?),
                ?, ?, (n % 5000) || '.' || substr('0' || (n % 100), -2),
                CASE n % 3 WHEN 0 THEN 'EUR' WHEN 1 THEN 'USD' ELSE 'GBP' END,
                CASE WHEN n % 2 = 0 THEN 'won' ELSE 'open' END,
                strftime('%Y-%m-%dT%H:%M:%fZ', (? - (n * 104729 % 360) * 86400000) / 1000.0, 'unixepoch'),
                CASE WHEN n % 2 = 0
                     THEN strftime('%Y-%m-%dT%H:%M:%fZ',
                                   (? - (n * 104729 % 360) * 86400000 + (n % 30) * 86400000) / 1000.0,
                                   'unixepoch') END,
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           FROM i",
    )
    .bind(d as i64)
    .bind(n as i64)
    .bind(&pipeline)
    .bind(&stage)
    .bind(now_ms)
    .bind(now_ms)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    println!("{d} deals generated in {:.2?}", t.elapsed());

    let t = Instant::now();
    let decoded = campaigns::settle(&store).await.unwrap();
    println!(
        "decoding {decoded} percent-encoded touches (once, before the first report): {:.1?}",
        t.elapsed()
    );

    for (what, range) in [
        ("all time", ReportQuery::default()),
        (
            "last 30 days",
            ReportQuery {
                from: now.date_naive().checked_sub_days(Days::new(29)),
                to: Some(now.date_naive()),
                segment_id: None,
            },
        ),
    ] {
        let mut runs = Vec::new();
        let mut report = None;
        for _ in 0..5 {
            let t = Instant::now();
            report = Some(campaigns::report(&store, range).await.unwrap());
            runs.push(t.elapsed());
        }
        let report = report.unwrap();
        let touches: u64 = report.rows.iter().map(|r| r.touches).sum();
        let deals: u64 = report.rows.iter().map(|r| r.deals).sum();
        let won: u64 = report.rows.iter().map(|r| r.won).sum();
        println!(
            "campaign report, {what}, over {m} events: median {:.1?} (runs in order: {}); {} rows, {touches} touches, {deals} deals, {won} won [goal < 1 s]",
            median(runs.clone()),
            runs.iter()
                .map(|r| format!("{:.0} ms", r.as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
                .join(", "),
            report.rows.len(),
        );
    }

    let mut rng = StdRng::seed_from_u64(7);
    let mut runs = Vec::new();
    for _ in 0..200 {
        let rk = rng.random_range(1..=n as i64);
        let id: String = sqlx::query_scalar("SELECT id FROM contacts WHERE rk = ?")
            .bind(rk)
            .fetch_one(store.pool())
            .await
            .unwrap();
        let t = Instant::now();
        campaigns::contact_touches(&store, Uuid::parse_str(&id).unwrap_or_default())
            .await
            .unwrap();
        runs.push(t.elapsed());
    }
    println!("a contact's touches: median {:.2?}", median(runs));

    let mut runs = Vec::new();
    for _ in 0..200 {
        let id: String = sqlx::query_scalar("SELECT id FROM deals WHERE rk = ?")
            .bind(rng.random_range(1..=d as i64))
            .fetch_one(store.pool())
            .await
            .unwrap();
        let t = Instant::now();
        campaigns::deal_touches(&store, Uuid::parse_str(&id).unwrap_or_default())
            .await
            .unwrap();
        runs.push(t.elapsed());
    }
    println!("a deal's attribution: median {:.2?}", median(runs));
}
