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

use hub_core::deals;
use hub_core::tickets::{self, Priority, TicketInput, TicketStatus};
use hub_core::{stay_in_touch, today};

#[path = "common/mod.rs"]
mod common;

fn main() {
    common::main_with(run);
}

async fn run(n_contacts: usize, n_deals: usize, n_reminders: usize) {
    let common::Data {
        store,
        sales,
        contact_ids,
        dir: _dir,
    } = common::load(n_contacts, n_deals, n_reminders).await;
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

    let runs = common::env("HUB_BENCH_RUNS", 200);
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    // The view as it is at the next 9:00 in Berlin, so that "due today" has
    // a working day ahead whatever the hour the bench runs at.
    let at = {
        use chrono::TimeZone;
        let local = chrono::Utc::now().with_timezone(&tz) + chrono::Duration::hours(15);
        let nine = local.date_naive().and_hms_opt(9, 0, 0).unwrap();
        tz.from_local_datetime(&nine)
            .earliest()
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let first = today::today(&store, at, tz, 20).await.unwrap();
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
        let day = today::today(&store, at, tz, 20).await.unwrap();
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
