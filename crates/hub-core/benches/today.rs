//! `make bench`: the Today view's query and the Kanban board's load
//! (issue 4, acceptance 6).
//!
//! A store with N contacts (default 100,000; a tenth with stay-in-touch),
//! D deals (default 50,000) in one pipeline, a quarter of them idle past the
//! rotting limit, R reminders (default 100,000: a third linked to deals, a
//! fifth done, due from three weeks ago to three months ahead, so thousands
//! are overdue and hundreds due today) and 5,000 tickets, all written
//! through the write path. Then `today::today` (every section's count and
//! its first 20 items) and `deals::board` (6 columns, 50 cards each) are
//! timed over repeated runs. Target: < 20 ms each, in-process.
//!
//! `HUB_BENCH_CONTACTS`, `HUB_BENCH_DEALS`, `HUB_BENCH_REMINDERS`,
//! `HUB_BENCH_RUNS` override; `HUB_BENCH_KEEP=path` keeps a copy of the database.

use std::time::{Duration, Instant};

use hub_core::changes::now_rfc3339;
use hub_core::deals::{self, DealInput};
use hub_core::entities::REMINDER;
use hub_core::tickets::{self, Priority, TicketInput, TicketStatus};
use hub_core::{companies, contacts, demo, money, pipelines, stay_in_touch, today, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

const BATCH: usize = 5000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(
        env("HUB_BENCH_CONTACTS", 100_000),
        env("HUB_BENCH_DEALS", 50_000),
        env("HUB_BENCH_REMINDERS", 100_000),
    ));
}

async fn run(n_contacts: usize, n_deals: usize, n_reminders: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db")).await.unwrap();

    let t = Instant::now();
    let company_inputs = demo::companies_for(n_contacts, 1);
    let domains: Vec<String> = company_inputs
        .iter()
        .map(|c| c.domain.clone().unwrap())
        .collect();
    let company_ids = companies::create_many(&store, company_inputs)
        .await
        .unwrap();
    let inputs = demo::contacts_for(n_contacts, 2, &company_ids, &domains);
    let mut contact_ids = Vec::with_capacity(n_contacts);
    for chunk in inputs.chunks(BATCH) {
        contact_ids.extend(contacts::create_many(&store, chunk.to_vec()).await.unwrap());
    }
    println!(
        "setup: {n_contacts} contacts in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    money::set_base_currency(&store, "EUR").await.unwrap();
    for (currency, rate) in [
        ("USD", "0.92"),
        ("GBP", "1.17"),
        ("JPY", "0.0061"),
        ("CHF", "1.04"),
    ] {
        money::set_rate(&store, currency, rate).await.unwrap();
    }
    // SEK has no rate: the board reports it as missing, never guesses.
    let sales = pipelines::list(&store).await.unwrap().remove(0);
    let currencies = ["EUR", "EUR", "EUR", "USD", "GBP", "JPY", "CHF", "SEK"];
    let mut rng = StdRng::seed_from_u64(7);
    let t = Instant::now();
    let mut deal_ids = Vec::with_capacity(n_deals);
    let all: Vec<DealInput> = (0..n_deals)
        .map(|i| {
            let currency = currencies[rng.random_range(0..currencies.len())];
            let amount = if currency == "JPY" {
                format!("{}", rng.random_range(10_000..10_000_000))
            } else {
                format!(
                    "{}.{:02}",
                    rng.random_range(100..200_000),
                    rng.random_range(0..100)
                )
            };
            // Most deals in the open stages, some won and lost.
            let stage = match rng.random_range(0..20) {
                0..=6 => 0,
                7..=11 => 1,
                12..=14 => 2,
                15..=16 => 3,
                17..=18 => 4,
                _ => 5,
            };
            DealInput {
                title: format!("Deal {i}"),
                contact_id: Some(contact_ids[rng.random_range(0..contact_ids.len())]),
                stage_id: Some(sales.stages[stage].id),
                amount: (i % 10 != 0).then_some(amount),
                currency: Some(currency.into()),
                expected_close: (i % 7 != 0).then(|| {
                    format!(
                        "2027-{:02}-{:02}",
                        rng.random_range(1..=12),
                        rng.random_range(1..=28)
                    )
                }),
                ..Default::default()
            }
        })
        .collect();
    for chunk in all.chunks(BATCH) {
        deal_ids.extend(deals::create_many(&store, chunk.to_vec()).await.unwrap());
    }
    // A quarter of the deals entered their stage 60 days ago (past the
    // default 30-day rotting limit).
    let old = (chrono::Utc::now() - chrono::Duration::days(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query("UPDATE deals SET stage_entered_at = ? WHERE rk % 4 = 0")
        .bind(&old)
        .execute(store.pool())
        .await
        .unwrap();
    println!(
        "setup: {n_deals} deals in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let now = now_rfc3339();
    let rows: Vec<(Uuid, Vec<(&'static str, serde_json::Value)>)> = (0..n_reminders)
        .map(|i| {
            let deal = (i % 3 == 0).then(|| deal_ids[rng.random_range(0..deal_ids.len())]);
            let contact = contact_ids[rng.random_range(0..contact_ids.len())];
            let due = chrono::Utc::now() + chrono::Duration::hours(rng.random_range(-500..2000));
            (
                Uuid::now_v7(),
                vec![
                    ("title", json!(format!("Follow up {i}"))),
                    (
                        "due_at",
                        json!(due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                    ),
                    ("tz", json!("Europe/Berlin")),
                    ("contact_id", json!(contact.to_string())),
                    ("deal_id", json!(deal.map(|d| d.to_string()))),
                    ("assignee", json!("me")),
                    ("done_at", json!((i % 5 == 0).then(|| now.clone()))),
                    ("created_at", json!(now)),
                ],
            )
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(BATCH).collect();
        let mut tx = store.write().await.unwrap();
        tx.insert_many(&REMINDER, chunk).await.unwrap();
        tx.commit().await.unwrap();
    }
    println!(
        "setup: {n_reminders} reminders in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Stay in touch every 30 days for a tenth of the contacts: those made
    // long ago are due.
    let t = Instant::now();
    for id in contact_ids.iter().step_by(10) {
        stay_in_touch::set(&store, *id, Some(30)).await.unwrap();
    }
    let old = (chrono::Utc::now() - chrono::Duration::days(40))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query("UPDATE contacts SET created_at = ? WHERE rk % 3 = 0")
        .bind(&old)
        .execute(store.pool())
        .await
        .unwrap();
    // Tickets: some mine, some others', some closed.
    let statuses = [
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];
    for i in 0..5000usize {
        tickets::create(
            &store,
            TicketInput {
                subject: format!("Ticket {i}"),
                status: statuses[i % 4],
                priority: if i % 7 == 0 {
                    Priority::High
                } else {
                    Priority::Normal
                },
                contact_id: Some(contact_ids[i * 13 % contact_ids.len()]),
                assignee: Some(if i % 3 == 0 { "ann@example.com" } else { "me" }.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    println!(
        "setup: stay-in-touch on {} contacts, 5000 tickets in {:.1} s",
        contact_ids.len().div_ceil(10),
        t.elapsed().as_secs_f64()
    );
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    // HUB_BENCH_KEEP=path: keep a copy of the database (to read query plans).
    if let Ok(keep) = std::env::var("HUB_BENCH_KEEP") {
        let _ = std::fs::remove_file(&keep);
        sqlx::query("VACUUM INTO ?")
            .bind(&keep)
            .execute(store.pool())
            .await
            .unwrap();
        println!("kept the database at {keep}");
    }

    let runs = env("HUB_BENCH_RUNS", 200);
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let first = today::today(&store, chrono::Utc::now(), tz, 20)
        .await
        .unwrap();
    println!(
        "\n== Today: {n_contacts} contacts, {n_deals} deals, {n_reminders} reminders, 5000 tickets =="
    );
    println!(
        "  overdue {} ({} shown), due today {} ({}), stale deals {} ({}), stay in touch {} ({}), tickets {} ({})",
        first.overdue_count,
        first.overdue.len(),
        first.due_today_count,
        first.due_today.len(),
        first.stale_deal_count,
        first.stale_deals.len(),
        first.stay_in_touch_count,
        first.stay_in_touch.len(),
        first.ticket_count,
        first.tickets.len()
    );
    assert!(first.overdue_count > 0 && first.due_today_count > 0);
    assert!(first.stale_deal_count > 0 && first.ticket_count > 0);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let day = today::today(&store, chrono::Utc::now(), tz, 20)
            .await
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(day.stale_deal_count, first.stale_deal_count);
    }
    report(
        "Today view (5 sections, counts + first 20 each)",
        &mut times,
        20.0,
    );

    let board = deals::board(&store, Some(sales.id), 50).await.unwrap();
    let total: u32 = board.columns.iter().map(|c| c.count).sum();
    assert_eq!(total as usize, n_deals);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let b = deals::board(&store, Some(sales.id), 50).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(b.columns.len(), board.columns.len());
    }
    report(
        "Kanban board load (6 columns, 50 cards each)",
        &mut times,
        20.0,
    );
}

fn report(what: &str, times: &mut [Duration], target_ms: f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p50 = ms(times[times.len() / 2]);
    let p99 = ms(times[(times.len() * 99 / 100).min(times.len() - 1)]);
    let max = ms(times[times.len() - 1]);
    let verdict = if !target_ms.is_finite() {
        "(context)".to_owned()
    } else if p99 < target_ms {
        format!("(target < {target_ms:.0} ms) OK")
    } else {
        format!("(target < {target_ms:.0} ms) MISSED")
    };
    println!(
        "{what}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms over {} runs {verdict}",
        times.len()
    );
}
