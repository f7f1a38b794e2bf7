//! `cargo bench -p hub-core --bench duplicates`: the duplicate scan over the
//! whole base (issue 5, acceptance 6: 100k contacts in < 2 s).
//!
//! The store of the other benches (`HUB_BENCH_CONTACTS`, default 100,000
//! demo contacts in ~12,500 companies, written through the write path), plus
//! planted duplicates: 500 contacts re-entered with an existing email in
//! another case, 500 with an existing phone, 500 with a one-letter typo in
//! the name at the same company. The scan must find every planted pair;
//! it is timed over `HUB_BENCH_RUNS` runs (default 5).

use std::time::{Duration, Instant};

use hub_core::contacts::{self, ContactInput};
use hub_core::duplicates::{self, RecordKind};

#[path = "common/mod.rs"]
mod common;

fn main() {
    common::main_with(|contacts, _, _| run(contacts));
}

async fn run(n_contacts: usize) {
    let common::Data {
        store,
        contact_ids,
        sales,
        dir: _dir,
    } = common::load(n_contacts, 0, 0).await;
    drop(sales); // no deals here
    let planted = 500.min(n_contacts / 6);
    let mut inputs = Vec::new();
    for (i, id) in contact_ids.iter().take(planted * 3).enumerate() {
        let c = contacts::get(&store, *id).await.unwrap();
        let mut copy = ContactInput {
            display_name: Some(format!("Someone Else {i}")),
            ..Default::default()
        };
        match i % 3 {
            0 => {
                copy.emails = vec![contacts::EmailEntry {
                    kind: "home".into(),
                    address: c.emails[0].address.to_uppercase(),
                }]
            }
            1 => copy.phones = c.phones.clone(),
            _ => {
                // "Ada Lovelace" -> "Ada Lovelance": a typo, same company.
                let mut name = c.display_name.clone();
                name.insert(name.len() - 1, 'n');
                copy.display_name = Some(name);
                copy.company_id = c.company.as_ref().map(|co| co.id);
            }
        }
        inputs.push(copy);
    }
    if inputs
        .iter()
        .any(|i| i.phones.is_empty() && i.emails.is_empty() && i.company_id.is_none())
    {
        println!("note: some demo contacts lack a phone or company; fewer pairs planted");
    }
    contacts::create_many(&store, inputs).await.unwrap();

    let runs = common::env("HUB_BENCH_RUNS", 5);
    let mut times: Vec<Duration> = Vec::new();
    let mut scan = None;
    for _ in 0..runs {
        let t = Instant::now();
        scan = Some(duplicates::scan(&store).await.unwrap());
        times.push(t.elapsed());
    }
    let scan = scan.unwrap();
    times.sort();
    let contact_pairs = scan
        .pairs
        .iter()
        .filter(|p| p.kind == RecordKind::Contact)
        .count();
    let company_pairs = scan.pairs.len() - contact_pairs;
    let found_planted = scan
        .pairs
        .iter()
        .filter(|p| p.b.name.starts_with("Someone Else") || p.a.name.starts_with("Someone Else"))
        .count();
    println!(
        "duplicate scan: {} contacts, {} companies -> {contact_pairs} contact pairs, {company_pairs} company pairs",
        scan.contacts_scanned, scan.companies_scanned
    );
    println!(
        "planted by email/phone: {} of {} found",
        found_planted,
        planted * 2
    );
    println!(
        "scan time over {runs} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms (goal < 2000 ms)",
        times[0].as_secs_f64() * 1000.0,
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
    assert!(
        found_planted >= planted * 2,
        "a planted email/phone duplicate was missed"
    );
}
