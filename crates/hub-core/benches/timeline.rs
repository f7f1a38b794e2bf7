//! `make bench`: one page of a contact's unified timeline when that contact has
//! 10,000 behavioural events (issue 6, acceptance 6: goal ≤ 10 ms).
//!
//! A store file with C contacts (default 2,000), each with an anonymous-id identity;
//! the measured contact has E events (default 10,000: page views, tracks, screens,
//! identifies, spread over 90 days) plus 200 logged activities, and every other contact
//! has 50 events, so the events table holds E + 50·(C−1) rows (about 110,000). All
//! events go through `events::store` (multi-row insert + resolution), as an import or a
//! sync pull does. Then `timeline::page` is timed for: the newest page (50 entries, all
//! kinds), a page deep in the history (after 5,000 entries, by cursor), and a page
//! filtered to page views. Figures are in-process wall times, median and p95 of R runs.
//!
//! `HUB_BENCH_EVENTS`, `HUB_BENCH_CONTACTS`, `HUB_BENCH_RUNS` override.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hub_core::activities::{self, ActivityInput, ActivityKind};
use hub_core::contacts::{self, ContactInput};
use hub_core::entities::IDENTITY;
use hub_core::timeline::{self, EntryKind, TimelineOf, TimelineQuery};
use hub_core::{events, identity, Store};
use hub_protocol::event::Event;
use hub_protocol::segment;
use serde_json::json;

mod util;
use util::{block_on, env};

fn main() {
    block_on(run());
}

fn event(anon: &str, i: usize, at: DateTime<Utc>) -> Event {
    let calls = ["page", "track", "page", "screen", "track", "identify"];
    let call = calls[i % calls.len()];
    let mut body = json!({
        "type": call, "anonymousId": anon, "messageId": format!("{anon}-{i}"),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"},
                    "page": {"path": format!("/docs/{}", i % 40)},
                    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"},
        "properties": {"path": format!("/docs/{}", i % 40), "title": "Docs", "plan": "pro"}
    });
    match call {
        "track" => body["event"] = json!(["Signed Up", "Clicked CTA", "Order Completed"][i % 3]),
        "screen" => body["name"] = json!("Home"),
        "identify" => body["traits"] = json!({"plan": "pro"}),
        _ => {}
    }
    segment::normalise(body, &segment::Options::single(Utc::now())).unwrap()
}

async fn run() {
    let n_events = env("HUB_BENCH_EVENTS", 10_000);
    let n_contacts = env("HUB_BENCH_CONTACTS", 2_000).max(1);
    let runs = env("HUB_BENCH_RUNS", 50).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).await.unwrap();

    let t = Instant::now();
    let ids = contacts::create_many(
        &store,
        (0..n_contacts)
            .map(|i| ContactInput {
                display_name: Some(format!("Visitor {i}")),
                ..Default::default()
            })
            .collect(),
    )
    .await
    .unwrap();
    let mut tx = store.write().await.unwrap();
    tx.insert_many(
        &IDENTITY,
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                let anon = format!("anon-{i}");
                (
                    identity::identity_id("anonymous_id", &anon),
                    vec![
                        ("contact_id", json!(id.to_string())),
                        ("kind", json!("anonymous_id")),
                        ("value", json!(anon)),
                    ],
                )
            })
            .collect(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let me = ids[0];
    let now = Utc::now();
    let span_ms = 90 * 24 * 3600 * 1000i64;
    let mut all: Vec<Event> = Vec::new();
    for i in 0..n_events {
        let at = now - chrono::Duration::milliseconds(span_ms * i as i64 / n_events as i64);
        all.push(event("anon-0", i, at));
    }
    for c in 1..n_contacts {
        for i in 0..50 {
            let at = now - chrono::Duration::milliseconds(span_ms * i as i64 / 50 + c as i64);
            all.push(event(&format!("anon-{c}"), i, at));
        }
    }
    for chunk in all.chunks(5_000) {
        events::store(&store, chunk).await.unwrap();
    }
    for i in 0..200 {
        let at = now - chrono::Duration::hours(i * 10);
        activities::log(
            &store,
            ActivityInput {
                contact_id: Some(me),
                occurred_at: Some(at),
                subject: Some(format!("Call {i}")),
                ..ActivityInput::new(ActivityKind::Call)
            },
        )
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    let (total, _) = events::counts(&store).await.unwrap();
    println!(
        "setup: {n_contacts} contacts, {total} events ({n_events} on the measured contact) and 200 calls in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let of = TimelineOf::Contact(me);
    // The cursor 5,000 entries deep.
    let mut deep = TimelineQuery {
        limit: 500,
        ..Default::default()
    };
    for _ in 0..10 {
        let page = timeline::page(&store, of, &deep).await.unwrap();
        deep.cursor = page.next_cursor;
    }
    deep.limit = 50;
    let cases: Vec<(&str, TimelineQuery)> = vec![
        ("newest page (50, all kinds)", TimelineQuery::default()),
        ("page after 5,000 entries (50)", deep),
        (
            "page views only (50)",
            TimelineQuery {
                kinds: vec![EntryKind::PageView],
                ..Default::default()
            },
        ),
    ];
    for (name, query) in cases {
        let mut times: Vec<Duration> = Vec::with_capacity(runs);
        let mut n = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let page = timeline::page(&store, of, &query).await.unwrap();
            times.push(t.elapsed());
            n = page.entries.len();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "timeline {name}: {n} entries, median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({runs} runs; goal <= 10 ms)",
            ms(times[runs / 2]),
            ms(times[(runs * 95 / 100).min(runs - 1)]),
            ms(times[runs - 1]),
        );
    }
}
