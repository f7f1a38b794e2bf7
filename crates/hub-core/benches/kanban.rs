//! `make bench`: the Kanban board's load time (issue 4, acceptance 6).
//!
//! A store with N contacts (default 100,000), D deals (default 50,000) in
//! one pipeline over six currencies with stale and fresh deals, and R
//! reminders (default 100,000; a third of them linked to deals, some done),
//! all written through the write path. Then `deals::board` — per stage the
//! count, rotting count, exact totals and weighted totals per currency,
//! converted into the base currency, and the first 50 cards with their
//! stale flags — is timed over repeated loads. Target: < 20 ms.
//! For context it also times the forecast by stage over all deals.
//!
//! `HUB_BENCH_CONTACTS`, `HUB_BENCH_DEALS`, `HUB_BENCH_REMINDERS` override.

use std::time::{Duration, Instant};

use hub_core::deals;
use hub_core::forecast::{self, ForecastQuery};

const LOADS: usize = 50;

#[path = "common/mod.rs"]
mod common;

fn main() {
    common::main_with(run);
}

async fn run(n_contacts: usize, n_deals: usize, n_reminders: usize) {
    let common::Data {
        store,
        sales,
        contact_ids: _,
        dir: _dir,
    } = common::load(n_contacts, n_deals, n_reminders).await;
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();

    // Warm-up, then timed loads.
    let board = deals::board(&store, Some(sales.id), 50).await.unwrap();
    let mut times = Vec::with_capacity(LOADS);
    for _ in 0..LOADS {
        let t = Instant::now();
        let b = deals::board(&store, Some(sales.id), 50).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(b.columns.len(), board.columns.len());
    }
    let total: u32 = board.columns.iter().map(|c| c.count).sum();
    assert_eq!(total as usize, n_deals);
    println!(
        "\n== Kanban board: {n_contacts} contacts, {n_deals} deals, {n_reminders} reminders =="
    );
    for col in &board.columns {
        println!(
            "  {:<12} {:>6} deals, {:>5} rotting, {} currencies, {} cards, {} without next activity, converted: {}",
            col.stage.name,
            col.count,
            col.rotting_count,
            col.totals.len(),
            col.deals.len(),
            col.deals.iter().filter(|d| d.no_next_activity).count(),
            match &col.converted {
                Some(c) => format!("{} {}", c.total, c.currency),
                None => format!("missing {}", col.missing_rates.join(",")),
            }
        );
    }
    report("board load (6 columns, 50 cards each)", &mut times, 20.0);

    let mut times = Vec::with_capacity(LOADS);
    for _ in 0..LOADS {
        let t = Instant::now();
        deals::board(&store, Some(sales.id), 0).await.unwrap();
        times.push(t.elapsed());
    }
    report("board totals only (no cards)", &mut times, 20.0);

    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        forecast::forecast(&store, &ForecastQuery::default())
            .await
            .unwrap();
        times.push(t.elapsed());
    }
    report(
        "forecast by stage over all deals (context, no target)",
        &mut times,
        f64::INFINITY,
    );
}

fn report(what: &str, times: &mut [Duration], target_ms: f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    let p95 = ms(times[(times.len() * 95 / 100).min(times.len() - 1)]);
    let max = ms(times[times.len() - 1]);
    let verdict = if target_ms.is_finite() {
        if p95 < target_ms {
            format!("(target < {target_ms:.0} ms) OK")
        } else {
            format!("(target < {target_ms:.0} ms) MISSED")
        }
    } else {
        String::new()
    };
    println!(
        "{what}: median {median:.2} ms, p95 {p95:.2} ms, max {max:.2} ms over {} runs {verdict}",
        times.len()
    );
}
