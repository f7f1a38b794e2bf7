//! The data both store benches load: a store with N contacts, D deals in
//! one pipeline over six currencies (a quarter of them idle past the 30-day
//! rotting limit) and R reminders (a third linked to deals, a fifth done,
//! due from three weeks ago to three months ahead), all written through the
//! write path.
//!
//! `HUB_BENCH_CONTACTS`, `HUB_BENCH_DEALS`, `HUB_BENCH_REMINDERS` override
//! the sizes (defaults 100,000, 50,000, 100,000).

use std::future::Future;
use std::time::Instant;

use hub_core::changes::now_rfc3339;
use hub_core::deals::{self, DealInput};
use hub_core::entities::REMINDER;
use hub_core::pipelines::Pipeline;
use hub_core::{companies, contacts, demo, money, pipelines, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

const BATCH: usize = 5000;

pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `run(contacts, deals, reminders)` (the sizes from the environment)
/// on a current-thread runtime.
pub fn main_with<F, Fut>(run: F)
where
    F: FnOnce(usize, usize, usize) -> Fut,
    Fut: Future<Output = ()>,
{
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

/// The loaded store, in a temp dir that lives as long as it does.
pub struct Data {
    pub store: Store,
    /// The default pipeline, which holds every deal.
    pub sales: Pipeline,
    // Only today.rs reads the contacts back (kanban.rs needs just the deals).
    #[allow(dead_code)]
    pub contact_ids: Vec<Uuid>,
    /// Holds the database file: keep it as long as the store.
    pub dir: tempfile::TempDir,
}

/// Loads `n_contacts` contacts, `n_deals` deals and `n_reminders` reminders
/// into a new store, printing how long each took.
pub async fn load(n_contacts: usize, n_deals: usize, n_reminders: usize) -> Data {
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
    Data {
        store,
        sales,
        contact_ids,
        dir,
    }
}
