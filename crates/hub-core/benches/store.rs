//! `make bench`: the foundation's performance targets, printed as figures.
//!
//! 1. Bulk insert of N generated contacts through the write path (validation,
//!    rows, per-field change log with clocks, search index) against a raw
//!    prepared INSERT of the same rows into a bare table, in the same run.
//!    Target: ratio >= 1/4.
//! 2. Search-as-you-type latency over N contacts: every prefix of names,
//!    email local parts, phone digits and company names that a user types,
//!    one `contacts::list` call (count + first page) each. Target p99 < 10 ms.
//!
//! N defaults to 100,000; `HUB_BENCH_CONTACTS` overrides it.

use std::time::{Duration, Instant};

use hub_core::contacts::{self, ContactInput, ContactQuery};
use hub_core::{companies, demo, Store};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

const BATCH: usize = 5000;

fn main() {
    let n: usize = std::env::var("HUB_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
    let company_inputs = demo::companies_for(n, 1);
    let domains: Vec<String> = company_inputs
        .iter()
        .map(|c| c.domain.clone().unwrap())
        .collect();
    let company_ids = companies::create_many(&store, company_inputs)
        .await
        .unwrap();
    let inputs = demo::contacts_for(n, 2, &company_ids, &domains);

    // Raw baseline first, on its own file with the same journal settings.
    let (raw, raw_rows) = raw_insert(&dir.path().join("raw.db"), &inputs).await;

    let start = Instant::now();
    for chunk in inputs.chunks(BATCH) {
        contacts::create_many(&store, chunk.to_vec()).await.unwrap();
    }
    let write_path = start.elapsed();
    let log_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM change_log")
        .fetch_one(store.pool())
        .await
        .unwrap();

    println!("== bulk insert of {n} contacts ==");
    println!(
        "raw INSERTs of the same {raw_rows} rows into bare tables: {:>8.0} ms  ({:>7.0} contacts/s)",
        ms(raw),
        n as f64 / raw.as_secs_f64()
    );
    println!(
        "write path (validate, rows, log, index): {:>8.0} ms  ({:>7.0} contacts/s, {} change-log entries)",
        ms(write_path),
        n as f64 / write_path.as_secs_f64(),
        log_rows
    );
    let ratio = raw.as_secs_f64() / write_path.as_secs_f64();
    println!(
        "ratio write path / raw speed : {ratio:.3}  (target >= 0.250) {}",
        verdict(ratio >= 0.25)
    );

    if std::env::var("HUB_BENCH_OPTIMIZE").is_ok() {
        let t = Instant::now();
        sqlx::query("INSERT INTO contact_search(contact_search) VALUES ('optimize')")
            .execute(store.pool())
            .await
            .unwrap();
        println!("fts optimize {:.0} ms", ms(t.elapsed()));
    }
    search_latency(&store, &inputs).await;
}

/// The same rows the write path stores (each contact, its emails, phones
/// and tag links), one prepared INSERT per row into bare tables without
/// indexes, clocks, log or search index: what an app without sync would do.
async fn raw_insert(path: &std::path::Path, inputs: &[ContactInput]) -> (Duration, usize) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    for ddl in [
        "CREATE TABLE contacts (id TEXT, first_name TEXT, last_name TEXT, display_name TEXT, title TEXT,
         company_id TEXT, lifecycle_stage TEXT, owner TEXT, source TEXT, created_at TEXT)",
        "CREATE TABLE emails (id TEXT, contact_id TEXT, kind TEXT, address TEXT, position INTEGER)",
        "CREATE TABLE phones (id TEXT, contact_id TEXT, kind TEXT, number TEXT, position INTEGER)",
        "CREATE TABLE contact_tags (id TEXT, contact_id TEXT, tag TEXT)",
    ] {
        sqlx::query(ddl).execute(&mut conn).await.unwrap();
    }
    let mut rows = 0;
    let start = Instant::now();
    for chunk in inputs.chunks(BATCH) {
        let mut tx = conn.begin().await.unwrap();
        for c in chunk {
            let id = uuid::Uuid::now_v7().to_string();
            sqlx::query("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&id)
                .bind(&c.first_name)
                .bind(&c.last_name)
                .bind(format!(
                    "{} {}",
                    c.first_name.as_deref().unwrap_or(""),
                    c.last_name.as_deref().unwrap_or("")
                ))
                .bind(&c.title)
                .bind(c.company_id.map(|id| id.to_string()))
                .bind(c.lifecycle_stage.as_str())
                .bind(&c.owner)
                .bind(&c.source)
                .bind("2026-11-29T00:00:00.000Z")
                .execute(&mut *tx)
                .await
                .unwrap();
            rows += 1;
            for (i, e) in c.emails.iter().enumerate() {
                sqlx::query("INSERT INTO emails VALUES (?, ?, ?, ?, ?)")
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(&id)
                    .bind(&e.kind)
                    .bind(&e.address)
                    .bind(i as i64)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                rows += 1;
            }
            for (i, p) in c.phones.iter().enumerate() {
                sqlx::query("INSERT INTO phones VALUES (?, ?, ?, ?, ?)")
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(&id)
                    .bind(&p.kind)
                    .bind(&p.number)
                    .bind(i as i64)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                rows += 1;
            }
            for t in &c.tags {
                sqlx::query("INSERT INTO contact_tags VALUES (?, ?, ?)")
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(&id)
                    .bind(t)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                rows += 1;
            }
        }
        tx.commit().await.unwrap();
    }
    (start.elapsed(), rows)
}

/// What a user types, keystroke by keystroke, looking for one contact.
fn typing_sessions(inputs: &[ContactInput], sessions: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(3);
    let mut queries = Vec::new();
    for i in 0..sessions {
        let c = inputs.choose(&mut rng).unwrap();
        let target = match i % 4 {
            0 => format!(
                "{} {}",
                c.first_name.clone().unwrap(),
                c.last_name.clone().unwrap()
            ),
            1 => c.emails[0].address.split('@').next().unwrap().to_owned(),
            2 => c.phones[0]
                .number
                .chars()
                .filter(|d| d.is_ascii_digit())
                .skip(1)
                .take(7)
                .collect(),
            _ => c.last_name.clone().unwrap(),
        };
        let chars: Vec<char> = target.chars().collect();
        for len in 1..=chars.len() {
            queries.push(chars[..len].iter().collect());
        }
    }
    queries
}

async fn search_latency(store: &Store, inputs: &[ContactInput]) {
    let queries = typing_sessions(inputs, 200);
    for q in queries.iter().take(50) {
        contacts::list(store, &query(q)).await.unwrap(); // warm the page cache
    }
    let mut timed = Vec::with_capacity(queries.len());
    for q in &queries {
        let start = Instant::now();
        let page = contacts::list(store, &query(q)).await.unwrap();
        timed.push((start.elapsed(), q.as_str()));
        std::hint::black_box(page);
    }
    timed.sort();
    let slowest: Vec<String> = timed
        .iter()
        .rev()
        .take(5)
        .map(|(t, q)| format!("{q:?} {:.1} ms", ms(*t)))
        .collect();
    let times: Vec<Duration> = timed.iter().map(|(t, _)| *t).collect();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "== search as you type over {} contacts: {} keystrokes ==",
        inputs.len(),
        times.len()
    );
    println!(
        "p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms  (target p99 < 10 ms) {}",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(*times.last().unwrap()),
        verdict(pct(0.99) < Duration::from_millis(10))
    );
    println!("slowest: {}", slowest.join(", "));
}

fn query(q: &str) -> ContactQuery {
    ContactQuery {
        search: Some(q.to_owned()),
        limit: 50,
        ..Default::default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "OK"
    } else {
        "MISSED"
    }
}
