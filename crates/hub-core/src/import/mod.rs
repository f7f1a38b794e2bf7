//! Imports: contacts, companies and deals from other tools' exports.
//!
//! The pipeline is format-neutral. A reader (CSV here, vCard in
//! `crate::vcard`) turns a file into [`Record`]s — a line number and
//! `target field → value` pairs — and [`import_records`] does the rest for
//! every format alike:
//! - dedupe: a record is the contact whose email (trimmed, any case) it
//!   carries, else whose phone (E.164); otherwise a new contact;
//! - companies link by domain, then by name, and are created when missing;
//!   a record's deal links to the record's contact (and company);
//! - only what really changes is written (re-importing a file creates
//!   nothing and changes nothing), every write through [`WriteTx`] so it syncs;
//! - the whole import is one transaction: a bad row is reported with its line
//!   and reason and never stops the others, while a cancelled import (or a
//!   dry run) rolls back and leaves nothing behind;
//! - every import is recorded as synced rows (`imports`, `import_batches`):
//!   who, when, which file, the counts, the mapping, and the journal of rows
//!   created and fields updated (with their previous values), so
//!   [`revert`] works on any device of the team, also after a sync.

pub mod csv;
pub mod encoding;
mod engine;
pub mod mapping;
mod revert;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::custom_fields::FieldEntity;
use crate::error::{Error, Result};

pub use engine::import_records;
pub use revert::{get, list, revert, ImportSummary, RevertReport};

/// Contact fields a record may set.
pub const CONTACT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "display_name",
    "title",
    "lifecycle_stage",
    "owner",
    "source",
    "notes",
    "birthday",
    "website",
    "photo",
];

/// Parts of a postal address (`address:KIND.PART`).
pub use crate::contact_details::{ADDRESS_KINDS, ADDRESS_PARTS};

/// Company fields a record may set (`company.<field>`; `company` alone is the name).
pub const COMPANY_FIELDS: &[&str] = &[
    "name",
    "domain",
    "industry",
    "size",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
];

/// Deal fields a record may set (`deal.<field>`).
pub const DEAL_FIELDS: &[&str] = &[
    "title",
    "amount",
    "currency",
    "stage",
    "pipeline",
    "expected_close",
    "owner",
    "notes",
];

/// Email kinds and phone kinds, as contacts store them.
pub use crate::contacts::{EMAIL_KINDS, PHONE_KINDS};

/// Where one value of a record goes.
///
/// Text form (what `--map "Column=field"` takes and mappings store):
/// `first_name`, `last_name`, `display_name` (also `name`), `title`,
/// `lifecycle_stage`, `owner`, `source`, `notes`; `email` / `email:home`;
/// `phone` / `phone:mobile`; `company` (its name) / `company.domain`, ...;
/// `deal.title`, `deal.amount`, ...; `birthday`, `website`, `photo`;
/// `address:home.city` (kinds home/work/other; parts street, city, region,
/// postal_code, country); `tags` (several, separated by `,` or `;`); `custom:KEY` (a contact custom field), `company.custom:KEY`,
/// `deal.custom:KEY`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Contact(&'static str),
    /// An email address of this kind (`work`, `home`, `other`).
    Email(&'static str),
    /// A phone number of this kind (`mobile`, `work`, `home`, `other`).
    Phone(&'static str),
    Company(&'static str),
    Deal(&'static str),
    /// A part of the contact's postal address of this kind (`home`, `work`, `other`).
    Address(&'static str, &'static str),
    Tags,
    Custom(FieldEntity, String),
}

impl Target {
    pub fn parse(text: &str) -> Result<Target> {
        let t = text.trim().to_lowercase();
        let bad = || {
            Error::invalid(
                "mapping",
                format!(
                    "\"{}\" is not a field to import into (first_name, last_name, email, email:home, \
                     phone:mobile, company, company.domain, deal.title, deal.amount, tags, custom:KEY, ...; \
                     or skip)",
                    text.trim()
                ),
            )
        };
        let find = |list: &[&'static str], name: &str| list.iter().copied().find(|f| *f == name);
        let kind = |list: &[&'static str], kind: Option<&str>, default: &'static str| match kind {
            None => Some(default),
            Some(k) => find(list, k),
        };
        let (head, kind_part) = match t.split_once(':') {
            Some((h, k)) => (h.to_owned(), Some(k.trim().to_owned())),
            None => (t.clone(), None),
        };
        let custom = |entity: FieldEntity| match &kind_part {
            Some(k) if !k.is_empty() => Ok(Target::Custom(entity, k.clone())),
            _ => Err(bad()),
        };
        match head.as_str() {
            "email" => kind(&EMAIL_KINDS, kind_part.as_deref(), "work")
                .map(Target::Email)
                .ok_or_else(bad),
            "phone" => kind(&PHONE_KINDS, kind_part.as_deref(), "work")
                .map(Target::Phone)
                .ok_or_else(bad),
            "address" => {
                // address:KIND.PART, or address:PART for a work address.
                let spec = kind_part.as_deref().unwrap_or("");
                let (k, part) = spec.split_once('.').unwrap_or(("work", spec));
                match (find(&ADDRESS_KINDS, k), find(&ADDRESS_PARTS, part)) {
                    (Some(k), Some(part)) => Ok(Target::Address(k, part)),
                    _ => Err(bad()),
                }
            }
            "custom" | "contact.custom" => custom(FieldEntity::Contact),
            "company.custom" => custom(FieldEntity::Company),
            "deal.custom" => custom(FieldEntity::Deal),
            _ if kind_part.is_some() => Err(bad()),
            "tags" | "tag" => Ok(Target::Tags),
            "name" => Ok(Target::Contact("display_name")),
            "company" => Ok(Target::Company("name")),
            other => {
                if let Some(f) = other.strip_prefix("company.") {
                    return find(COMPANY_FIELDS, f).map(Target::Company).ok_or_else(bad);
                }
                if let Some(f) = other.strip_prefix("deal.") {
                    return find(DEAL_FIELDS, f).map(Target::Deal).ok_or_else(bad);
                }
                let f = other.strip_prefix("contact.").unwrap_or(other);
                find(CONTACT_FIELDS, f).map(Target::Contact).ok_or_else(bad)
            }
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Contact(field) => f.write_str(field),
            Target::Email(kind) => write!(f, "email:{kind}"),
            Target::Phone(kind) => write!(f, "phone:{kind}"),
            Target::Company("name") => f.write_str("company"),
            Target::Company(field) => write!(f, "company.{field}"),
            Target::Deal(field) => write!(f, "deal.{field}"),
            Target::Address(kind, part) => write!(f, "address:{kind}.{part}"),
            Target::Tags => f.write_str("tags"),
            Target::Custom(FieldEntity::Contact, key) => write!(f, "custom:{key}"),
            Target::Custom(entity, key) => write!(f, "{}.custom:{key}", entity.as_str()),
        }
    }
}

impl FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Target> {
        Target::parse(s)
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Target::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One record of an import file, whatever its format: where it starts in
/// the file and its values by target field. A target may repeat (several
/// emails, phones or tags); empty values are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the file where the record starts.
    pub line: u64,
    pub values: Vec<(Target, String)>,
}

impl Record {
    pub fn new(line: u64) -> Record {
        Record {
            line,
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, target: Target, value: impl Into<String>) {
        self.values.push((target, value.into()));
    }
}

/// A record (or line) that could not be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, rename = "ImportRowError")]
pub struct RowError {
    /// 1-based line in the file.
    pub line: u64,
    pub message: String,
}

impl RowError {
    pub fn new(line: u64, message: impl Into<String>) -> RowError {
        RowError {
            line,
            message: message.into(),
        }
    }
}

/// What a reader yields: records in file order, with the lines it could not
/// read as errors (they are counted and reported; the others go on).
pub trait RecordSource: Iterator<Item = std::result::Result<Record, RowError>> + Send {
    /// Progress through the input: bytes read so far and the total, when known.
    fn position(&self) -> (u64, Option<u64>) {
        (0, None)
    }
}

/// The file format of an import (recorded with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export, rename = "ImportFormat")]
pub enum Format {
    Csv,
    Vcard,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Vcard => "vcard",
        }
    }
}

/// How to run an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The file's name as the user knows it (recorded with the import).
    pub file_name: String,
    pub format: Format,
    /// Column (or property) → target field, recorded with the import for
    /// the history; `None` = skipped.
    pub mapping: BTreeMap<String, Option<String>>,
    /// Check everything and count what would happen; write nothing.
    pub dry_run: bool,
}

/// A snapshot of a running import, for a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportProgress {
    /// Records (rows, cards) processed so far, errors included.
    pub records: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub errors: u64,
    /// Bytes of the file read so far, and its size when known.
    pub bytes_read: u64,
    pub bytes_total: Option<u64>,
}

/// The outcome of an import or dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportReport {
    /// The recorded import (for `hub import revert`); None for a dry run, a
    /// cancelled import, or one that changed nothing.
    pub import_id: Option<Uuid>,
    pub dry_run: bool,
    /// Cancelled by the user: nothing was written.
    pub cancelled: bool,
    /// Records read (rows, cards), errors included.
    pub records: u64,
    /// Contacts created / updated / left alone (already up to date or empty rows).
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    /// Records not imported; each is in `errors`.
    pub error_count: u64,
    pub companies_created: u64,
    pub companies_updated: u64,
    pub deals_created: u64,
    pub deals_updated: u64,
    pub tags_created: u64,
    /// Every record that could not be imported, with its line and reason.
    pub errors: Vec<RowError>,
}

/// Cancels a running import from another task or thread (checked between
/// chunks of records; a cancelled import rolls back entirely).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_and_print_the_same() {
        for text in [
            "first_name",
            "display_name",
            "email:work",
            "email:home",
            "phone:mobile",
            "company",
            "company.domain",
            "deal.amount",
            "tags",
            "custom:budget",
            "company.custom:tier",
            "deal.custom:source_channel",
            "address:home.city",
            "birthday",
        ] {
            assert_eq!(Target::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Target::parse("email").unwrap(), Target::Email("work"));
        assert_eq!(
            Target::parse(" Phone:Mobile ").unwrap(),
            Target::Phone("mobile")
        );
        assert_eq!(
            Target::parse("name").unwrap(),
            Target::Contact("display_name")
        );
        for bad in [
            "",
            "nope",
            "email:fax",
            "company.nope",
            "deal.",
            "custom:",
            "title:x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

#[cfg(test)]
mod pipeline_tests {
    use super::csv::{CsvReader, CsvRecords};
    use super::*;
    use crate::entities;
    use crate::store::Store;

    /// Every live row of every synced table but the import history, by id.
    pub(crate) async fn dump(store: &Store) -> Vec<String> {
        let mut out = Vec::new();
        for e in entities::ALL {
            if e.name.starts_with("import") {
                continue;
            }
            let pairs: Vec<String> = e.fields.iter().map(|f| format!("'{f}', {f}")).collect();
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT '{}:' || id || json_object({}) FROM {} WHERE deleted_at IS NULL ORDER BY id",
                e.name,
                pairs.join(", "),
                e.table
            ))
            .fetch_all(store.pool())
            .await
            .unwrap();
            out.extend(rows);
        }
        out
    }

    async fn run(store: &Store, text: &str, dry_run: bool) -> ImportReport {
        let reader = CsvReader::new(text.as_bytes().to_vec(), std::io::empty(), None).unwrap();
        let headers = reader.headers().to_vec();
        let mapping = csv::mapping_for(store, &headers, &[]).await.unwrap();
        let options = ImportOptions {
            file_name: "test.csv".into(),
            format: Format::Csv,
            mapping: mapping::to_map(&headers, &mapping),
            dry_run,
        };
        import_records(
            store,
            CsvRecords::new(reader, mapping),
            &options,
            |_| {},
            &CancelToken::new(),
        )
        .await
        .unwrap()
    }

    const FILE: &str = "First Name,Last Name,Email,Phone,Company,Website,Tags,Lifecycle Stage\n\
        Ada,Lovelace,ada@example.com,+44 20 7946 0018,Analytical Engines,https://www.engines.example.com,\"VIP, London\",customer\n\
        Grace,Hopper,GRACE@navy.example.mil,,Navy,,,\n\
        Alan,Turing,not-an-email,,,,,\n\
        Ada,Lovelace,Ada@Example.com,,Analytical Engines,,,\n\
        Charles,Babbage,charles@engines.example.com,+44 20 7946 0019,Analytical Engines,engines.example.com,London,lead\n";

    #[tokio::test]
    async fn imports_dedupes_and_reimports_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        let r = run(&store, FILE, false).await;
        assert_eq!(
            (r.created, r.updated, r.skipped, r.error_count),
            (3, 0, 1, 1),
            "{r:?}"
        );
        assert_eq!(r.errors[0].line, 4);
        assert!(
            r.errors[0].message.contains("not-an-email"),
            "{:?}",
            r.errors
        );
        assert_eq!(r.companies_created, 2);
        assert_eq!(crate::contacts::count(&store).await.unwrap(), 3);
        let page = crate::contacts::list(
            &store,
            &crate::contacts::ContactQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ada = page
            .items
            .iter()
            .find(|c| c.display_name == "Ada Lovelace")
            .unwrap();
        let ada = crate::contacts::get(&store, ada.id).await.unwrap();
        assert_eq!(ada.emails[0].address, "ada@example.com");
        assert_eq!(ada.phones[0].number, "+442079460018");
        assert_eq!(ada.company.as_ref().unwrap().name, "Analytical Engines");
        assert_eq!(ada.tags, vec!["London", "VIP"]);
        assert_eq!(
            ada.lifecycle_stage,
            crate::contacts::LifecycleStage::Customer
        );
        // Charles's company was found by the domain Ada's row gave it.
        let companies = crate::companies::list(
            &store,
            &crate::companies::CompanyQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(companies.total, 2);

        // The search index knows the imported contacts and their companies.
        let found = crate::contacts::list(
            &store,
            &crate::contacts::ContactQuery {
                search: Some("analytical".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(found.total, 2);

        let before = dump(&store).await;
        let again = run(&store, FILE, false).await;
        assert_eq!(
            (again.created, again.updated, again.skipped),
            (0, 0, 4),
            "{again:?}"
        );
        assert_eq!(dump(&store).await, before);
        assert_eq!(list(&store).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn updates_only_what_changed_and_revert_restores_everything() {
        let store = Store::open_in_memory().await.unwrap();
        run(&store, FILE, false).await;
        let before = dump(&store).await;
        let changed = "Email,Job Title,Phone,Tags,Company\n\
            ada@EXAMPLE.com,Countess,,Poet,\n\
            ,,+44 20 7946 0019,,Difference Engines\n\
            new@example.org,,,,\n";
        let r = run(&store, changed, false).await;
        assert_eq!(
            (r.created, r.updated, r.skipped, r.error_count),
            (1, 2, 0, 0),
            "{r:?}"
        );
        assert_eq!(crate::contacts::count(&store).await.unwrap(), 4);
        assert_ne!(dump(&store).await, before);

        let by_new_company = crate::contacts::ContactQuery {
            search: Some("difference".into()),
            limit: 10,
            ..Default::default()
        };
        let found = crate::contacts::list(&store, &by_new_company)
            .await
            .unwrap();
        assert_eq!(found.total, 1, "an updated contact is reindexed");

        let undo = revert(&store, r.import_id.unwrap()).await.unwrap();
        let found = crate::contacts::list(&store, &by_new_company)
            .await
            .unwrap();
        assert_eq!(found.total, 0);
        assert!(undo.removed >= 3, "{undo:?}");
        assert_eq!(dump(&store).await, before);
        assert!(revert(&store, r.import_id.unwrap()).await.is_err());
        let history = list(&store).await.unwrap();
        assert_eq!(history[0].status, "reverted");
        assert_eq!(history[0].counts["created"], 1);

        // The first import reverted too: an empty store again.
        let first = history[1].id;
        revert(&store, first).await.unwrap();
        assert!(
            dump(&store).await.iter().all(|r| r.starts_with("pipeline")),
            "{:?}",
            dump(&store).await
        );
    }

    #[tokio::test]
    async fn a_journal_of_several_batches_reverts_whole() {
        let store = Store::open_in_memory().await.unwrap();
        let before = dump(&store).await;
        let mut text = String::from("Name,Email,Tags\n");
        for i in 0..2500 {
            text.push_str(&format!("Person {i},p{i}@example.com,batch\n"));
        }
        let r = run(&store, &text, false).await;
        assert_eq!(r.created, 2500);
        let batches: i64 = sqlx::query_scalar("SELECT count(*) FROM import_batches")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(batches >= 2, "{batches} batches");
        let undo = revert(&store, r.import_id.unwrap()).await.unwrap();
        assert_eq!(
            undo.removed,
            2500 * 3 + 1,
            "contacts, emails, tag links, the tag"
        );
        assert_eq!(dump(&store).await, before);
    }

    #[tokio::test]
    async fn dry_run_and_cancel_write_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        let before = dump(&store).await;
        let r = run(&store, FILE, true).await;
        assert_eq!((r.created, r.error_count, r.import_id), (3, 1, None));
        assert_eq!(dump(&store).await, before);
        assert!(list(&store).await.unwrap().is_empty());

        let cancel = CancelToken::new();
        cancel.cancel();
        let reader = CsvReader::new(FILE.as_bytes().to_vec(), std::io::empty(), None).unwrap();
        let mapping = mapping::auto_map(reader.headers(), &[]);
        let options = ImportOptions {
            file_name: "x.csv".into(),
            format: Format::Csv,
            mapping: Default::default(),
            dry_run: false,
        };
        let r = import_records(
            &store,
            CsvRecords::new(reader, mapping),
            &options,
            |_| {},
            &cancel,
        )
        .await
        .unwrap();
        assert!(r.cancelled);
        assert_eq!(dump(&store).await, before);
        assert!(list(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn deals_link_to_the_rows_contact() {
        let store = Store::open_in_memory().await.unwrap();
        let text = "Email,Deal Name,Amount,Currency,Deal Stage,Close Date\n\
            ada@example.com,Engine order,\"$12,500.00\",USD,Qualified,2026-03-31\n\
            bob@example.com,Big one,100,USD,Nope,\n";
        let r = run(&store, text, false).await;
        assert_eq!(
            (r.created, r.deals_created, r.error_count),
            (1, 1, 1),
            "{r:?}"
        );
        assert!(r.errors[0].message.contains("Nope"));
        let deals = crate::deals::list(
            &store,
            &crate::deals::DealQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let deal = &deals.items[0];
        assert_eq!(deal.title, "Engine order");
        let again = run(&store, text, false).await;
        assert_eq!(
            (again.created, again.deals_created, again.skipped),
            (0, 0, 1),
            "{again:?}"
        );
    }
}
