//! Import speed (issue 5, acceptance 6): a generated N-row CSV export
//! (HubSpot-style columns: names, email, phone, company, title, city, tags)
//! imported into an empty store through `import::csv::import_file` (read,
//! map, validate, dedupe, companies, tags, change log, search index, import
//! journal: everything a user's import does), against `sqlite3 .import --csv`
//! of the same file into a bare table, in the same run.
//! Goal: our import at least 1/3 of sqlite3's speed.
//!
//! N defaults to 100,000; `HUB_BENCH_ROWS` overrides it. Also printed: a
//! re-import of the same file (nothing to write) and the revert.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hub_core::import::{self, csv, CancelToken};
use hub_core::Store;

fn main() {
    let n: usize = std::env::var("HUB_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Maria",
    "Kenji",
    "Zoë",
    "François",
    "Nadia",
    "Luc",
    "Åsa",
    "Pieter",
    "Giulia",
    "Tomás",
    "Brian",
    "Chen",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Sato",
    "Müller",
    "Lefèvre",
    "Okafor",
    "Moreau",
    "Lindström",
    "de Vries",
    "Rossi",
    "O'Brien",
    "Halligan",
    "Wei",
];
const CITIES: &[&str] = &[
    "London",
    "Paris",
    "Berlin",
    "New York",
    "Tokyo",
    "São Paulo",
];

fn generate(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        "First Name,Last Name,Email,Phone Number,Company Name,Company Domain Name,Job Title,City,Tags"
    )
    .unwrap();
    for i in 0..n {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len()) % LAST.len()];
        let company = i / 8;
        let tags = match i % 10 {
            0 => "\"VIP, Newsletter\"",
            1..=3 => "Newsletter",
            _ => "",
        };
        writeln!(
            f,
            "{first},{last},{}.{}{i}@company{company}.example.com,+1 (212) {}-{:04},Company {company} Ltd,company{company}.example.com,Account Manager,{},{tags}",
            first.to_lowercase().replace(['ë', 'ç', 'å', 'á'], "e"),
            last.to_lowercase().replace([' ', '\''], ""),
            300 + i / 10_000,
            i % 10_000,
            CITIES[i % CITIES.len()],
        )
        .unwrap();
    }
    f.flush().unwrap();
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    generate(&file, n);
    let size = std::fs::metadata(&file).unwrap().len();

    // sqlite3's own CSV import into a bare table (created from the header).
    let raw_db = dir.path().join("raw.db");
    let start = Instant::now();
    let out = Command::new("/usr/bin/sqlite3")
        .arg(&raw_db)
        .arg(format!(".import --csv {} people", file.display()))
        .output()
        .expect("/usr/bin/sqlite3");
    let sqlite = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw_rows = Command::new("/usr/bin/sqlite3")
        .arg(&raw_db)
        .arg("SELECT count(*) FROM people")
        .output()
        .unwrap();
    let raw_rows = String::from_utf8_lossy(&raw_rows.stdout).trim().to_owned();

    // The share of one check every row makes: E.164 parsing (libphonenumber's
    // metadata and regexes, hub_core::phone).
    let sample = n.min(10_000);
    let start = Instant::now();
    for i in 0..sample {
        let text = format!("+1 (212) {}-{:04}", 300 + i / 10_000, i % 10_000);
        hub_core::phone::Phone::parse(&text, hub_core::phone::Region::default()).unwrap();
    }
    let phone_each = start.elapsed() / sample as u32;

    let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
    let start = Instant::now();
    let report = csv::import_file(&store, &file, &[], false, |_| {}, &CancelToken::new())
        .await
        .unwrap();
    let ours = start.elapsed();
    assert_eq!(report.created as usize, n, "{:?}", report.errors.first());

    println!(
        "phone parsing: {:.1} µs per number ({:.1} s of the import's {:.1} s)",
        phone_each.as_secs_f64() * 1e6,
        phone_each.as_secs_f64() * n as f64,
        ours.as_secs_f64()
    );
    if std::env::var("HUB_BENCH_IMPORT_ONLY").is_ok() {
        println!(
            "sqlite3 {:.1} ms, ours {:.1} ms, ratio {:.2}",
            sqlite.as_secs_f64() * 1e3,
            ours.as_secs_f64() * 1e3,
            sqlite.as_secs_f64() / ours.as_secs_f64()
        );
        return;
    }
    let start = Instant::now();
    let again = csv::import_file(&store, &file, &[], false, |_| {}, &CancelToken::new())
        .await
        .unwrap();
    let reimport = start.elapsed();
    assert_eq!(again.created, 0);

    let start = Instant::now();
    import::revert(&store, report.import_id.unwrap())
        .await
        .unwrap();
    let revert = start.elapsed();

    let ratio = sqlite.as_secs_f64() / ours.as_secs_f64();
    println!("import of a {n}-row CSV ({:.1} MB):", size as f64 / 1e6);
    println!(
        "  sqlite3 .import --csv, bare table ({raw_rows} rows): {:>8.1} ms",
        sqlite.as_secs_f64() * 1e3
    );
    println!(
        "  hub import (contacts, emails, phones, {} companies, tags, change log, search, journal): {:>8.1} ms ({:.0} rows/s)",
        report.companies_created,
        ours.as_secs_f64() * 1e3,
        n as f64 / ours.as_secs_f64()
    );
    println!(
        "  ratio (sqlite3 time / ours): {ratio:.2}  goal >= 0.33: {}",
        if ratio >= 1.0 / 3.0 { "met" } else { "NOT met" }
    );
    println!(
        "  re-import of the same file (0 created, {} unchanged): {:.1} ms",
        again.skipped,
        reimport.as_secs_f64() * 1e3
    );
    println!(
        "  revert of the first import: {:.1} ms",
        revert.as_secs_f64() * 1e3
    );
}
