//! Realistic demo data: plausible people at plausible companies, with valid
//! phone numbers and matching email domains. Used on first start by
//! `make run`, by `hub demo`, and by the benchmarks. Everything it makes is
//! marked with source "demo" so it can be cleared in one go.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::companies::{self, CompanyInput, SIZES};
use crate::contacts::{self, ContactInput, EmailEntry, LifecycleStage, PhoneEntry};
use crate::entities::{COMPANY, CONTACT};
use crate::error::{Error, Result};
use crate::store::Store;

pub const SOURCE: &str = "demo";
/// Contacts written per transaction, so a large run shows progress and a
/// reader is never blocked for long.
const BATCH: usize = 5000;

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Andrea",
    "Arjun",
    "Astrid",
    "Ben",
    "Bianca",
    "Carlos",
    "Chen",
    "Chloe",
    "Daniel",
    "Dana",
    "Diego",
    "Elena",
    "Emma",
    "Ethan",
    "Fatima",
    "Felix",
    "Freya",
    "Gabriel",
    "Grace",
    "Hannah",
    "Hiro",
    "Ines",
    "Isaac",
    "Jamal",
    "Jana",
    "Javier",
    "Julia",
    "Kai",
    "Karin",
    "Laura",
    "Leo",
    "Lina",
    "Lucas",
    "Maya",
    "Mateo",
    "Mia",
    "Nadia",
    "Noah",
    "Nora",
    "Oliver",
    "Olga",
    "Omar",
    "Priya",
    "Rafael",
    "Rosa",
    "Samir",
    "Sara",
    "Sofia",
    "Tariq",
    "Tess",
    "Theo",
    "Valentina",
    "Victor",
    "Wei",
    "Yara",
    "Zoe",
    "Ruth",
    "Hugo",
    "Ivan",
    "Lea",
    "Marek",
];
const LAST: &[&str] = &[
    "Abbott",
    "Ahmed",
    "Andersen",
    "Baker",
    "Bauer",
    "Becker",
    "Brooks",
    "Castro",
    "Chen",
    "Costa",
    "Dubois",
    "Dunn",
    "Evans",
    "Fischer",
    "Flores",
    "Garcia",
    "Gomez",
    "Graham",
    "Hansen",
    "Hughes",
    "Ito",
    "Jensen",
    "Kaur",
    "Keller",
    "Khan",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Meyer",
    "Moreau",
    "Murphy",
    "Nakamura",
    "Nguyen",
    "Novak",
    "O'Brien",
    "Okafor",
    "Patel",
    "Perez",
    "Petrov",
    "Quinn",
    "Reyes",
    "Rossi",
    "Schmidt",
    "Silva",
    "Singh",
    "Sorensen",
    "Tanaka",
    "Torres",
    "Varga",
    "Wagner",
    "Walsh",
    "Weber",
    "Wong",
    "Young",
    "Zimmermann",
    "Lindqvist",
];
const COMPANY_A: &[&str] = &[
    "Blue",
    "North",
    "Bright",
    "Cedar",
    "Harbor",
    "Summit",
    "Pioneer",
    "Silver",
    "Oak",
    "Granite",
    "Maple",
    "River",
    "Atlas",
    "Beacon",
    "Copper",
    "Evergreen",
    "Falcon",
    "Juniper",
    "Meridian",
    "Orchid",
    "Quarry",
    "Sparrow",
];
const COMPANY_B: &[&str] = &[
    "Logistics",
    "Bakery",
    "Dental",
    "Analytics",
    "Builders",
    "Coffee",
    "Design",
    "Energy",
    "Foods",
    "Health",
    "Labs",
    "Legal",
    "Media",
    "Motors",
    "Outfitters",
    "Print",
    "Robotics",
    "Studio",
    "Supply",
    "Travel",
    "Ventures",
];
const SUFFIX: &[&str] = &["", "", " Inc", " LLC", " Ltd", " GmbH", " & Co"];
const INDUSTRIES: &[&str] = &[
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Software",
    "Hospitality",
    "Construction",
    "Logistics",
    "Finance",
    "Education",
    "Professional services",
    "Food & beverage",
    "Media",
];
const TITLES: &[&str] = &[
    "Owner",
    "CEO",
    "Office Manager",
    "Head of Sales",
    "Purchasing Manager",
    "Operations Lead",
    "CFO",
    "Marketing Manager",
    "Account Executive",
    "Store Manager",
    "Founder",
    "IT Administrator",
    "Practice Manager",
    "Buyer",
];
/// (city, region, country, area codes that libphonenumber accepts)
const PLACES: &[(&str, &str, &str, &[&str])] = &[
    ("San Francisco", "CA", "US", &["415", "628"]),
    ("Austin", "TX", "US", &["512", "737"]),
    ("Chicago", "IL", "US", &["312", "773"]),
    ("New York", "NY", "US", &["212", "646"]),
    ("Seattle", "WA", "US", &["206"]),
    ("Denver", "CO", "US", &["303", "720"]),
    ("Boston", "MA", "US", &["617"]),
];
const TAGS: &[&str] = &[
    "vip",
    "newsletter",
    "trade-show",
    "referral",
    "partner",
    "follow-up",
];
const OWNERS: &[&str] = &["sam@example.com", "alex@example.com", "jo@example.com"];

#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    pub contacts: usize,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            contacts: 2000,
            seed: 42,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct DemoReport {
    pub contacts: u32,
    pub companies: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct DemoStatus {
    pub loaded: bool,
    pub contacts: u32,
    pub companies: u32,
}

fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn company_input(rng: &mut StdRng) -> CompanyInput {
    let a = COMPANY_A.choose(rng).copied().unwrap_or("Blue");
    let b = COMPANY_B.choose(rng).copied().unwrap_or("Labs");
    let suffix = SUFFIX.choose(rng).copied().unwrap_or("");
    let (city, region, country, _) = PLACES.choose(rng).copied().unwrap_or(PLACES[0]);
    let n: u32 = rng.random_range(1..999);
    CompanyInput {
        name: format!("{a} {b}{suffix}"),
        domain: Some(format!(
            "{}{}{}.com",
            slug(a),
            slug(b),
            if n.is_multiple_of(3) {
                n.to_string()
            } else {
                String::new()
            }
        )),
        industry: INDUSTRIES.choose(rng).map(|s| s.to_string()),
        size: SIZES.choose(rng).map(|s| s.to_string()),
        street: Some(format!(
            "{} {} St",
            rng.random_range(1..2000),
            LAST.choose(rng).copied().unwrap_or("Main")
        )),
        city: Some(city.into()),
        region: Some(region.into()),
        postal_code: Some(format!("{:05}", rng.random_range(10000..99999))),
        country: Some(country.into()),
    }
}

/// Generate `contacts` people (and about one company per eight people).
pub async fn generate(store: &Store, options: DemoOptions) -> Result<DemoReport> {
    generate_with_progress(store, options, |_| {}).await
}

/// As [`generate`], calling `progress(contacts_written)` after each batch.
pub async fn generate_with_progress(
    store: &Store,
    options: DemoOptions,
    mut progress: impl FnMut(usize),
) -> Result<DemoReport> {
    if crate::sync::is_bound(store).await? {
        return Err(Error::invalid(
            "demo",
            "this database syncs with a team workspace, where demo data would reach every \
             device; use a separate database for demo data (hub --db demo.db demo)",
        ));
    }
    let inputs = companies_for(options.contacts, options.seed);
    let company_count = inputs.len();
    let domains: Vec<String> = inputs
        .iter()
        .map(|c| c.domain.clone().unwrap_or_default())
        .collect();
    let company_ids = companies::create_many(store, inputs).await?;
    remember_companies(store, &company_ids).await?;
    let mut rng = StdRng::seed_from_u64(options.seed.wrapping_add(1));

    let mut written = 0;
    while written < options.contacts {
        let n = BATCH.min(options.contacts - written);
        let batch: Vec<ContactInput> = (0..n)
            .map(|i| contact_input(&mut rng, written + i, &company_ids, &domains))
            .collect();
        contacts::create_many(store, batch).await?;
        written += n;
        progress(written);
    }
    Ok(DemoReport {
        contacts: written as u32,
        companies: company_count as u32,
    })
}

/// The companies a demo of `contacts` people works at (one per eight).
pub fn companies_for(contacts: usize, seed: u64) -> Vec<CompanyInput> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..(contacts / 8).max(1))
        .map(|_| company_input(&mut rng))
        .collect()
}

/// `n` demo people at the given (already stored) companies.
pub fn contacts_for(
    n: usize,
    seed: u64,
    company_ids: &[Uuid],
    domains: &[String],
) -> Vec<ContactInput> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| contact_input(&mut rng, i, company_ids, domains))
        .collect()
}

fn contact_input(
    rng: &mut StdRng,
    n: usize,
    company_ids: &[Uuid],
    domains: &[String],
) -> ContactInput {
    let first = FIRST.choose(rng).copied().unwrap_or("Ada");
    let last = LAST.choose(rng).copied().unwrap_or("Lovelace");
    let at = rng.random_range(0..company_ids.len());
    let (_, _, _, areas) = PLACES.choose(rng).copied().unwrap_or(PLACES[0]);
    let area = areas.choose(rng).copied().unwrap_or("415");
    // n keeps addresses unique however many people share a name.
    let mut emails = vec![EmailEntry {
        kind: "work".into(),
        address: format!(
            "{}.{}{}@{}",
            slug(first),
            slug(last),
            if n > 0 { n.to_string() } else { String::new() },
            domains[at]
        ),
    }];
    if rng.random_bool(0.2) {
        emails.push(EmailEntry {
            kind: "home".into(),
            address: format!("{}{}{}@example.net", slug(first), slug(last), n),
        });
    }
    let mut phones = vec![PhoneEntry {
        kind: "work".into(),
        number: format!(
            "+1 {area} {}{:02} {:04}",
            rng.random_range(2..10),
            rng.random_range(0..100),
            rng.random_range(0..10000)
        ),
    }];
    if rng.random_bool(0.4) {
        phones.push(PhoneEntry {
            kind: "mobile".into(),
            number: format!(
                "+1 {area} {}{:02} {:04}",
                rng.random_range(2..10),
                rng.random_range(0..100),
                rng.random_range(0..10000)
            ),
        });
    }
    let stage = *LifecycleStage::ALL
        .choose(rng)
        .unwrap_or(&LifecycleStage::Lead);
    let tags = if rng.random_bool(0.3) {
        vec![TAGS.choose(rng).copied().unwrap_or("vip").to_string()]
    } else {
        vec![]
    };
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        title: TITLES.choose(rng).map(|s| s.to_string()),
        company_id: Some(company_ids[at]),
        lifecycle_stage: stage,
        owner: OWNERS.choose(rng).map(|s| s.to_string()),
        source: Some(SOURCE.into()),
        emails,
        phones,
        tags,
        ..Default::default()
    }
}

async fn remember_companies(store: &Store, ids: &[Uuid]) -> Result<()> {
    let mut all = demo_companies(store).await?;
    all.extend(ids.iter().map(|id| id.to_string()));
    let all = serde_json::to_string(&all).unwrap_or_else(|_| "[]".into());
    crate::store::meta_set(store.pool(), "demo_companies", &all).await
}

async fn demo_companies(store: &Store) -> Result<Vec<String>> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'demo_companies'")
            .fetch_optional(store.pool())
            .await?;
    Ok(stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// Whether demo data is present, and how much.
pub async fn status(store: &Store) -> Result<DemoStatus> {
    let contacts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE source = ? AND deleted_at IS NULL")
            .bind(SOURCE)
            .fetch_one(store.pool())
            .await?;
    let companies: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM companies WHERE deleted_at IS NULL AND id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(&demo_companies(store).await?).unwrap_or_else(|_| "[]".into()))
    .fetch_one(store.pool())
    .await?;
    Ok(DemoStatus {
        loaded: contacts > 0 || companies > 0,
        contacts: contacts as u32,
        companies: companies as u32,
    })
}

/// Delete every demo contact, and every demo company that no real contact
/// works for. Returns how many contacts were removed.
///
/// On a database that has never synced, the demo rows and their change-log
/// entries are removed outright: they were never real, and signing in later
/// must not push them (or their tombstones) to the team. Once a database
/// syncs, demo data cannot be added, so this branch only tombstones leftovers.
pub async fn clear(store: &Store) -> Result<u64> {
    if !crate::sync::is_bound(store).await? {
        return purge(store).await;
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM contacts WHERE source = ? AND deleted_at IS NULL")
            .bind(SOURCE)
            .fetch_all(store.pool())
            .await?;
    let companies = demo_companies(store).await?;
    let mut tx = store.write().await?;
    for id in &ids {
        if let Ok(id) = Uuid::parse_str(id) {
            tx.delete(&CONTACT, id).await?;
        }
    }
    let in_use: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT company_id FROM contacts WHERE deleted_at IS NULL AND company_id IS NOT NULL",
    )
    .fetch_all(tx.conn())
    .await?;
    for id in companies.iter().filter(|c| !in_use.contains(c)) {
        if let Ok(id) = Uuid::parse_str(id) {
            tx.delete(&COMPANY, id).await?;
        }
    }
    sqlx::query("DELETE FROM meta WHERE key = 'demo_companies'")
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Remove demo rows and every trace of them (change log, search index).
async fn purge(store: &Store) -> Result<u64> {
    let mut tx = store.write().await?;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM contacts WHERE source = ? AND deleted_at IS NULL")
            .bind(SOURCE)
            .fetch_all(tx.conn())
            .await?;
    let companies = demo_companies(store).await?;
    let contacts = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let companies = serde_json::to_string(&companies).unwrap_or_else(|_| "[]".into());
    // Row ids whose log entries go: the contacts, their emails, phones and tag
    // links, the demo companies no real contact works for, tags left unused.
    let statements = [
        "CREATE TEMP TABLE purged (id TEXT PRIMARY KEY)",
        "INSERT OR IGNORE INTO purged SELECT value FROM json_each(?1)",
        "INSERT OR IGNORE INTO purged SELECT id FROM contact_emails WHERE contact_id IN (SELECT value FROM json_each(?1))",
        "INSERT OR IGNORE INTO purged SELECT id FROM contact_phones WHERE contact_id IN (SELECT value FROM json_each(?1))",
        "INSERT OR IGNORE INTO purged SELECT id FROM contact_tags WHERE contact_id IN (SELECT value FROM json_each(?1))",
        "INSERT OR IGNORE INTO purged SELECT value FROM json_each(?2) WHERE value NOT IN \
         (SELECT company_id FROM contacts WHERE company_id IS NOT NULL AND id NOT IN (SELECT value FROM json_each(?1)))",
        "DELETE FROM contact_search WHERE rowid IN (SELECT rk FROM contacts WHERE id IN (SELECT id FROM purged))",
        "DELETE FROM contact_emails WHERE id IN (SELECT id FROM purged)",
        "DELETE FROM contact_phones WHERE id IN (SELECT id FROM purged)",
        "DELETE FROM contact_tags WHERE id IN (SELECT id FROM purged)",
        "DELETE FROM contacts WHERE id IN (SELECT id FROM purged)",
        "DELETE FROM companies WHERE id IN (SELECT id FROM purged)",
        "INSERT OR IGNORE INTO purged SELECT id FROM tags WHERE id NOT IN (SELECT tag_id FROM contact_tags)",
        "DELETE FROM tags WHERE id IN (SELECT id FROM purged)",
        "DELETE FROM change_log WHERE row_id IN (SELECT id FROM purged)",
        "DROP TABLE purged",
        "DELETE FROM meta WHERE key = 'demo_companies'",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(&contacts)
            .bind(&companies)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}
