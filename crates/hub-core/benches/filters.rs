//! `cargo bench -p hub-core --bench filters`: filtered, sorted contact lists
//! over N contacts (default 100,000; `HUB_BENCH_CONTACTS` overrides) that
//! each have three custom field values (a number, a select, a date) and
//! demo tags. Each query is `filters::query` for a first page of 50 plus the
//! total, as a saved view or a filtered list runs it; the figures are the
//! median and the slowest of 20 runs.

use std::time::{Duration, Instant};

use hub_core::custom_fields::{self, FieldEntity, FieldInput, FieldType};
use hub_core::entities::CUSTOM_VALUE;
use hub_core::filters::{self, parse_filter, Sort};
use hub_core::{companies, contacts, demo, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const RUNS: usize = 20;

fn main() {
    let n: usize = std::env::var("HUB_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    // HUB_BENCH_DB keeps the database for a look at query plans afterwards.
    let path = std::env::var("HUB_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("hub.db"));
    let store = Store::open(&path).await.unwrap();
    let company_inputs = demo::companies_for(n, 1);
    let domains: Vec<String> = company_inputs
        .iter()
        .map(|c| c.domain.clone().unwrap())
        .collect();
    let company_ids = companies::create_many(&store, company_inputs)
        .await
        .unwrap();
    let inputs = demo::contacts_for(n, 2, &company_ids, &domains);
    let mut ids = Vec::with_capacity(n);
    for chunk in inputs.chunks(5000) {
        ids.extend(contacts::create_many(&store, chunk.to_vec()).await.unwrap());
    }

    let c = FieldEntity::Contact;
    let mut fields = Vec::new();
    for (label, t, options) in [
        ("Budget", FieldType::Number, vec![]),
        ("Tier", FieldType::Select, vec!["Gold", "Silver", "Bronze"]),
        ("Renewal", FieldType::Date, vec![]),
    ] {
        fields.push(
            custom_fields::add(
                &store,
                FieldInput {
                    entity: c,
                    label: label.into(),
                    field_type: t,
                    options: options.into_iter().map(String::from).collect(),
                },
            )
            .await
            .unwrap(),
        );
    }
    // Values through the write path in bulk (ids need not be the derived
    // ones here: nothing else writes these rows).
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(3);
    for chunk in ids.chunks(5000) {
        let mut rows = Vec::with_capacity(chunk.len() * 3);
        for id in chunk {
            let budget = format!(
                "{}.{:02}",
                rng.random_range(0..100_000),
                rng.random_range(0..100)
            );
            let tier = ["Gold", "Silver", "Bronze"][rng.random_range(0..3)];
            let renewal = format!(
                "{}-{:02}-{:02}",
                rng.random_range(2026..2029),
                rng.random_range(1..13),
                rng.random_range(1..29)
            );
            for (field, value) in fields.iter().zip([budget, tier.to_owned(), renewal]) {
                rows.push((
                    uuid::Uuid::now_v7(),
                    vec![
                        ("entity", json!("contact")),
                        ("row_id", json!(id.to_string())),
                        ("field_id", json!(field.id.to_string())),
                        ("value", json!(value)),
                    ],
                ));
            }
        }
        let mut tx = store.write().await.unwrap();
        tx.insert_many(&CUSTOM_VALUE, rows).await.unwrap();
        tx.commit().await.unwrap();
    }
    println!(
        "== {n} contacts, {} custom values (written in {:.1} s) ==",
        n * 3,
        start.elapsed().as_secs_f64()
    );
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();

    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("no filter, name order", &[], None),
        ("budget > 99000 (1%)", &["budget>99000"], None),
        ("budget > 50000 (50%)", &["budget>50000"], None),
        ("tier = Gold (33%)", &["tier=gold"], None),
        ("renewal < 2026-02-01 (1%)", &["renewal<2026-02-01"], None),
        ("stage = customer", &["stage=customer"], None),
        ("tag = VIP", &["tag=vip"], None),
        (
            "tier = Gold and budget < 10000",
            &["tier=gold", "budget<10000"],
            None,
        ),
        ("all, sorted by budget desc", &[], Some("-budget")),
        (
            "tier = Gold, sorted by renewal",
            &["tier=gold"],
            Some("renewal"),
        ),
        ("budget:unset", &["budget:unset"], None),
        ("name ~ ann", &["name~ann"], None),
    ];
    println!(
        "{:<40} {:>8} {:>10} {:>10}",
        "query (page of 50 + total)", "total", "median", "max"
    );
    for (label, filter, sort) in cases {
        let filter =
            parse_filter(&filter.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let sort = sort.map(|s| Sort::parse(s).unwrap());
        let mut times = Vec::with_capacity(RUNS);
        let mut total = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = filters::query(&store, c, &filter, sort.as_ref(), 0, 50)
                .await
                .unwrap();
            times.push(t.elapsed());
            total = page.total;
        }
        times.sort();
        println!(
            "{label:<40} {total:>8} {:>8.1}ms {:>8.1}ms",
            ms(times[RUNS / 2]),
            ms(times[RUNS - 1])
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
