//! The format-neutral import: records in, deduped and journaled writes out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{
    CancelToken, ImportOptions, ImportProgress, ImportReport, Record, RecordSource, RowError,
    Target, COMPANY_FIELDS,
};
use crate::changes::{now_rfc3339, Fields, WriteTx};
use crate::companies::{normalise_domain, SIZES};
use crate::contact_details;
use crate::contacts::LifecycleStage;
use crate::custom_fields::{self, CustomField, FieldEntity};
use crate::email::Email;
use crate::entities::{
    EntityDef, COMPANY, CONTACT, CONTACT_ADDRESS, CONTACT_EMAIL, CONTACT_PHONE, CONTACT_TAG,
    CUSTOM_VALUE, DEAL, DEAL_STAGE_CHANGE, IMPORT, IMPORT_BATCH, TAG,
};
use crate::error::Result;
use crate::money;
use crate::phone::{Phone, Region};
use crate::pipelines::{self, Pipeline, StageKind};
use crate::search;
use crate::store::Store;
use crate::tags;
use crate::users;

/// Records per chunk: progress is reported and cancellation checked between chunks.
const CHUNK: usize = 2000;
/// Journal entries per `import_batches` row.
const BATCH_CREATED: usize = 4000;
const BATCH_UPDATED: usize = 1000;
const MAX_NAME: usize = 200;
/// Errors listed in the report (all are counted): a file of millions of bad
/// lines must not fill the memory with messages.
pub const MAX_LISTED_ERRORS: usize = 10_000;

/// `custom_fields`' namespace for value ids (`v5(field/row)`), so a value
/// an import writes is the same row the app writes for that field and record.
const CUSTOM_VALUE_NAMESPACE: Uuid = Uuid::from_u128(0x3d0c_51a7_92e4_4c4b_8f0e_7b65_21d9_a8c3);
/// `tags`' namespace for contact tag links (`v5(contact/tag)`).
const TAG_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8a4d_4f0b_9e57_2d1c_0a93_e6f4);

fn custom_value_id(field: Uuid, row: Uuid) -> Uuid {
    Uuid::new_v5(&CUSTOM_VALUE_NAMESPACE, format!("{field}/{row}").as_bytes())
}

fn contact_tag_id(contact: Uuid, tag: Uuid) -> Uuid {
    Uuid::new_v5(&TAG_NAMESPACE, format!("{contact}/{tag}").as_bytes())
}

/// Import `source`'s records into the store (or, with `dry_run`, count what
/// would happen and write nothing). Bad records are reported in
/// [`ImportReport::errors`] and never stop the others; a database error
/// aborts the whole import, which then leaves nothing behind. `progress` is
/// called after each chunk of records; `cancel` is checked between chunks.
/// A real import (not a dry run, not cancelled) is recorded, even when it
/// changed nothing, so the team sees it in the history.
pub async fn import_records<S, F>(
    store: &Store,
    mut source: S,
    options: &ImportOptions,
    mut progress: F,
    cancel: &CancelToken,
) -> Result<ImportReport>
where
    S: RecordSource,
    F: FnMut(&ImportProgress) + Send,
{
    let wants_deals = options
        .mapping
        .values()
        .flatten()
        .any(|t| t.trim().to_lowercase().starts_with("deal."));
    let pipelines = if wants_deals {
        pipelines::list(store).await?
    } else {
        Vec::new()
    };
    let mut custom = HashMap::new();
    for f in custom_fields::list(store, None, false).await? {
        custom.insert((f.entity, f.key.clone()), f);
    }
    let who = users::current(store).await?;
    let base_currency = money::base_currency(store).await?;
    let mut tx = store.write().await?;
    // The search index is brought up to date once, at the end (below).
    tx.defer_search();
    let existing: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE deleted_at IS NULL")
            .fetch_one(tx.conn())
            .await?;
    let mut run = Run {
        import_id: Uuid::now_v7(),
        batch_seq: 0,
        existing_contacts: existing as usize,
        new_contacts: BTreeSet::new(),
        touched_contacts: BTreeSet::new(),
        touched_companies: BTreeSet::new(),
        tx,
        region: store.default_region(),
        who,
        base_currency,
        now: now_rfc3339(),
        pipelines,
        custom,
        emails: HashMap::new(),
        phones: HashMap::new(),
        domains: HashMap::new(),
        company_names: HashMap::new(),
        company_state: HashMap::new(),
        tags: HashMap::new(),
        pending: Pending::default(),
        journal: Journal::default(),
        report: ImportReport {
            dry_run: options.dry_run,
            ..Default::default()
        },
    };
    run.load().await?;

    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        chunk.extend(source.by_ref().take(CHUNK));
        if chunk.is_empty() {
            break;
        }
        for item in chunk.drain(..) {
            run.report.records += 1;
            let outcome = match item {
                Ok(record) => run.record(record).await?,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(Outcome::Created) => run.report.created += 1,
                Ok(Outcome::Updated) => run.report.updated += 1,
                Ok(Outcome::Skipped) => run.report.skipped += 1,
                Err(e) => {
                    run.report.error_count += 1;
                    if run.report.errors.len() < MAX_LISTED_ERRORS {
                        run.report.errors.push(e);
                    }
                }
            }
        }
        run.flush().await?;
        if !options.dry_run {
            // The journal goes to the transaction as it fills, so its
            // memory stays bounded however long the file.
            run.write_journal(false).await?;
        } else {
            run.journal = Journal::default();
        }
        let (bytes_read, bytes_total) = source.position();
        progress(&ImportProgress {
            records: run.report.records,
            created: run.report.created,
            updated: run.report.updated,
            skipped: run.report.skipped,
            errors: run.report.error_count,
            bytes_read,
            bytes_total,
        });
        if cancel.is_cancelled() {
            run.report.cancelled = true;
            break;
        }
    }
    if run.report.cancelled || options.dry_run {
        // Dropping the transaction rolls every write back.
        return Ok(run.report);
    }
    run.index().await?;
    let id = run.record_import(options).await?;
    run.report.import_id = Some(id);
    run.tx.commit().await?;
    Ok(run.report)
}

enum Outcome {
    Created,
    Updated,
    Skipped,
}

#[derive(Default)]
struct Pending {
    /// Rows queued for the bulk insert, per entity, in write order.
    rows: Vec<(&'static EntityDef, Vec<(Uuid, Fields)>)>,
    /// Contacts and companies among them (an update of one flushes first).
    ids: HashSet<Uuid>,
}

impl Pending {
    fn push(&mut self, entity: &'static EntityDef, id: Uuid, fields: Fields) {
        match self.rows.iter_mut().find(|(e, _)| std::ptr::eq(*e, entity)) {
            Some((_, rows)) => rows.push((id, fields)),
            None => self.rows.push((entity, vec![(id, fields)])),
        }
        if std::ptr::eq(entity, &CONTACT) || std::ptr::eq(entity, &COMPANY) {
            self.ids.insert(id);
        }
    }
}

/// What the import did, for the record and for a revert.
#[derive(Default)]
struct Journal {
    created: Vec<(&'static str, String)>,
    updated: Vec<Value>,
}

struct Run {
    tx: WriteTx,
    /// The id the import is recorded under, and its journal batches' count.
    import_id: Uuid,
    batch_seq: usize,
    /// Live contacts before the import, and what it did to the search
    /// index's rows (kept here: the transaction defers indexing).
    existing_contacts: usize,
    new_contacts: BTreeSet<String>,
    touched_contacts: BTreeSet<String>,
    touched_companies: BTreeSet<String>,
    region: Region,
    who: String,
    base_currency: Option<String>,
    now: String,
    pipelines: Vec<Pipeline>,
    custom: HashMap<(FieldEntity, String), CustomField>,
    /// Lower-cased address → contact.
    emails: HashMap<String, Uuid>,
    /// E.164 → contact.
    phones: HashMap<String, Uuid>,
    domains: HashMap<String, Uuid>,
    /// Lower-cased name → company.
    company_names: HashMap<String, Uuid>,
    /// Known values of companies' fields (loaded once, kept current), so a
    /// row naming a known company costs no query.
    company_state: HashMap<Uuid, HashMap<&'static str, String>>,
    /// Lower-cased name → live tag.
    tags: HashMap<String, Uuid>,
    pending: Pending,
    journal: Journal,
    report: ImportReport,
}

/// A record's deal, checked.
struct DealPlan {
    title: String,
    fields: Fields,
    pipeline_id: Uuid,
    stage_id: Uuid,
    stage_kind: StageKind,
    stage_given: bool,
}

/// A record checked and normalised, ready to match and write.
#[derive(Default)]
struct Prepared {
    line: u64,
    contact: BTreeMap<&'static str, String>,
    emails: Vec<(&'static str, String)>,
    phones: Vec<(&'static str, String)>,
    company: BTreeMap<&'static str, String>,
    deal: BTreeMap<&'static str, String>,
    /// kind → part → value.
    addresses: BTreeMap<&'static str, BTreeMap<&'static str, String>>,
    tags: Vec<String>,
    custom: Vec<(FieldEntity, Uuid, Option<String>)>,
}

impl Prepared {
    fn has_contact(&self) -> bool {
        !self.contact.is_empty() || !self.emails.is_empty() || !self.phones.is_empty()
    }
}

/// HubSpot's, Salesforce's, Zoho's and Pipedrive's lifecycle and lead
/// statuses, read as ours.
fn lifecycle(text: &str) -> Option<&'static str> {
    let key: String = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    Some(match key.as_str() {
        "lead"
        | "subscriber"
        | "marketingqualifiedlead"
        | "mql"
        | "salesqualifiedlead"
        | "sql"
        | "new"
        | "open"
        | "opennotcontacted"
        | "workingcontacted"
        | "attemptedtocontact"
        | "notcontacted"
        | "contacted"
        | "prelead" => "lead",
        "prospect" | "opportunity" | "qualified" | "closedconverted" | "contactinfuture" => {
            "prospect"
        }
        "customer" | "evangelist" | "client" | "won" => "customer",
        "churned" | "former" | "formercustomer" | "lost" | "closednotconverted" | "junklead" => {
            "churned"
        }
        _ => return None,
    })
}

/// Head counts as numbers ("250") or ranges ("51-200", "1,001-5,000") → our buckets.
fn size_bucket(text: &str) -> Option<&'static str> {
    let t = text.trim();
    if let Some(s) = SIZES.iter().find(|s| **s == t) {
        return Some(s);
    }
    let digits: String = t
        .split(['-', '–', 't'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let n: u64 = digits.parse().ok()?;
    Some(match n {
        0..=10 => "1-10",
        11..=50 => "11-50",
        51..=200 => "51-200",
        201..=500 => "201-500",
        501..=1000 => "501-1000",
        1001..=5000 => "1001-5000",
        _ => "5001+",
    })
}

/// Dates as exports write them: ISO, ISO with a time, US `MM/DD/YYYY`,
/// European `DD.MM.YYYY`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let date_part = t.split(['T', ' ']).next().unwrap_or(t);
    ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(date_part, f).ok())
}

fn key_of(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Tags as exports list them: `a, b`, `a;b` (Outlook), `* myContacts ::: VIP`
/// (Google, whose system groups `myContacts` and `starred` are left out).
fn split_tags(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(":::")
        .flat_map(|part| part.split([',', ';', '|']))
        .map(|s| s.trim().trim_start_matches('*').trim())
        .filter(|s| !s.is_empty())
        .filter(|s| !s.eq_ignore_ascii_case("mycontacts") && !s.eq_ignore_ascii_case("starred"))
        .map(str::to_owned)
}

impl Run {
    /// What matching needs from the database: live emails, phones,
    /// companies and tags.
    async fn load(&mut self) -> Result<()> {
        let rows: Vec<(Option<String>, String)> = sqlx::query_as(
            "SELECT e.address, e.contact_id FROM contact_emails e
               JOIN contacts c ON c.id = e.contact_id AND c.deleted_at IS NULL
              WHERE e.deleted_at IS NULL ORDER BY c.rk, e.position",
        )
        .fetch_all(self.tx.conn())
        .await?;
        for (address, contact) in rows {
            if let (Some(a), Ok(c)) = (address, Uuid::parse_str(&contact)) {
                self.emails.entry(a.trim().to_lowercase()).or_insert(c);
            }
        }
        let rows: Vec<(Option<String>, String)> = sqlx::query_as(
            "SELECT p.number, p.contact_id FROM contact_phones p
               JOIN contacts c ON c.id = p.contact_id AND c.deleted_at IS NULL
              WHERE p.deleted_at IS NULL ORDER BY c.rk, p.position",
        )
        .fetch_all(self.tx.conn())
        .await?;
        for (number, contact) in rows {
            if let (Some(n), Ok(c)) = (number, Uuid::parse_str(&contact)) {
                self.phones.entry(n).or_insert(c);
            }
        }
        let pairs: Vec<String> = COMPANY_FIELDS
            .iter()
            .map(|f| format!("'{f}', {f}"))
            .collect();
        let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(&format!(
            "SELECT id, name, domain, json_object({}) FROM companies
              WHERE deleted_at IS NULL ORDER BY rk",
            pairs.join(", ")
        ))
        .fetch_all(self.tx.conn())
        .await?;
        for (id, name, domain, values) in rows {
            let Ok(id) = Uuid::parse_str(&id) else {
                continue;
            };
            let values: Map<String, Value> = serde_json::from_str(&values).unwrap_or_default();
            self.company_state.insert(
                id,
                COMPANY_FIELDS
                    .iter()
                    .filter_map(|f| {
                        values
                            .get(*f)
                            .and_then(Value::as_str)
                            .map(|v| (*f, v.to_owned()))
                    })
                    .collect(),
            );
            if let Some(d) = domain {
                self.domains.entry(d.to_lowercase()).or_insert(id);
            }
            if let Some(n) = name {
                self.company_names
                    .entry(n.trim().to_lowercase())
                    .or_insert(id);
            }
        }
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, name FROM tags WHERE deleted_at IS NULL")
                .fetch_all(self.tx.conn())
                .await?;
        for (id, name) in rows {
            if let (Some(n), Ok(id)) = (name, Uuid::parse_str(&id)) {
                self.tags.insert(n.to_lowercase(), id);
            }
        }
        Ok(())
    }

    /// Check and normalise one record: every problem of the record in one message.
    fn prepare(&self, record: Record) -> std::result::Result<Prepared, RowError> {
        let mut p = Prepared {
            line: record.line,
            ..Default::default()
        };
        let mut problems: Vec<String> = Vec::new();
        for (target, value) in record.values {
            let v = value.trim();
            if v.is_empty() {
                continue;
            }
            match target {
                Target::Contact("lifecycle_stage") => match lifecycle(v) {
                    Some(stage) => {
                        p.contact.insert("lifecycle_stage", stage.to_owned());
                    }
                    None => problems.push(format!(
                        "lifecycle stage \"{v}\" is not one of {}",
                        LifecycleStage::ALL.map(LifecycleStage::as_str).join(", ")
                    )),
                },
                Target::Contact(field @ "notes") => {
                    // Several note columns are kept, one paragraph each.
                    let notes = p.contact.entry(field).or_default();
                    if !notes.is_empty() {
                        notes.push_str("\n\n");
                    }
                    notes.push_str(value.trim_end());
                }
                // Outlook writes "0/0/00" for no birthday.
                Target::Contact("birthday") if v.trim_matches(['0', '/', '.', '-']).is_empty() => {}
                Target::Contact(field @ ("birthday" | "website" | "photo")) => {
                    let checked = match field {
                        // US (Outlook) and European dates too.
                        "birthday" => contact_details::normalize_birthday(
                            &parse_date(v).map_or_else(|| v.to_owned(), |d| d.to_string()),
                        )
                        .map_err(|e| format!("birthday: {e}")),
                        "website" => contact_details::normalize_website(v),
                        _ => contact_details::check_photo(v),
                    };
                    match checked {
                        Ok(value) => {
                            p.contact.entry(field).or_insert(value);
                        }
                        Err(message) => problems.push(message),
                    }
                }
                Target::Address(kind, part) => {
                    if v.chars().count() > 500 {
                        problems.push(format!("the address {part} is longer than 500 characters"));
                    } else {
                        p.addresses
                            .entry(kind)
                            .or_default()
                            .entry(part)
                            .or_insert_with(|| v.to_owned());
                    }
                }
                Target::Contact(field) => {
                    if v.chars().count() > MAX_NAME {
                        problems.push(format!("{field} is longer than {MAX_NAME} characters"));
                    } else {
                        p.contact.entry(field).or_insert_with(|| v.to_owned());
                    }
                }
                Target::Email(kind) => {
                    // Google writes several addresses in one cell: "a@x ::: b@y".
                    for one in v.split(":::").map(str::trim).filter(|s| !s.is_empty()) {
                        match Email::parse(one) {
                            Ok(e) => {
                                let lower = e.as_str().to_lowercase();
                                if !p.emails.iter().any(|(_, a)| a.to_lowercase() == lower) {
                                    p.emails.push((kind, e.to_string()));
                                }
                            }
                            Err(message) => problems.push(message),
                        }
                    }
                }
                Target::Phone(kind) => {
                    for one in v.split(":::").map(str::trim).filter(|s| !s.is_empty()) {
                        match Phone::parse(one, self.region) {
                            Ok(phone) => {
                                if !p.phones.iter().any(|(_, n)| n == phone.e164()) {
                                    p.phones.push((kind, phone.e164().to_owned()));
                                }
                            }
                            Err(message) => problems.push(message),
                        }
                    }
                }
                Target::Company("domain") => match normalise_domain(v) {
                    Ok(d) => {
                        p.company.insert("domain", d);
                    }
                    Err(message) => problems.push(message),
                },
                Target::Company("size") => match size_bucket(v) {
                    Some(s) => {
                        p.company.insert("size", s.to_owned());
                    }
                    None => problems.push(format!(
                        "company size \"{v}\" is not a head count or one of {}",
                        SIZES.join(", ")
                    )),
                },
                Target::Company("country") => {
                    let c = if v.len() == 2 {
                        v.to_uppercase()
                    } else {
                        v.to_owned()
                    };
                    p.company.insert("country", c);
                }
                Target::Company(field) => {
                    if field == "name" && v.chars().count() > MAX_NAME {
                        problems.push(format!("company name is longer than {MAX_NAME} characters"));
                    } else {
                        p.company.entry(field).or_insert_with(|| v.to_owned());
                    }
                }
                Target::Deal(field) => {
                    p.deal.entry(field).or_insert_with(|| v.to_owned());
                }
                Target::Tags => {
                    for t in split_tags(v) {
                        if !p.tags.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
                            p.tags.push(t);
                        }
                    }
                }
                Target::Custom(entity, key) => match self.custom.get(&(entity, key.clone())) {
                    Some(field) => match custom_fields::parse_value(field, v) {
                        Ok(value) => p.custom.push((entity, field.id, value)),
                        Err(e) => problems.push(format!("{}: {e}", field.label)),
                    },
                    None => problems.push(format!(
                        "{}s have no custom field \"{key}\" (define it first: hub field add)",
                        entity.as_str()
                    )),
                },
            }
        }
        if let Err(e) = tags::clean_names(&p.tags, "tags") {
            problems.push(e.message);
        }
        if !p.deal.is_empty() && !p.deal.contains_key("title") {
            problems.push("a deal needs a title (map a column to deal.title)".into());
        }
        if !p.has_contact() && p.company.is_empty() && p.deal.is_empty() && p.custom.is_empty() {
            if problems.is_empty() && p.tags.is_empty() {
                return Ok(p); // an empty row: skipped
            }
            problems.push("no name, email, phone or company".into());
        }
        if p.has_contact() && display_name(&p).is_none() {
            problems.push("no name, email or phone for the contact".into());
        }
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(RowError::new(record.line, problems.join("; ")))
        }
    }

    /// Import one record.
    async fn record(&mut self, record: Record) -> Result<std::result::Result<Outcome, RowError>> {
        let p = match self.prepare(record) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let deal_plan = match self.plan_deal(&p) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        let company = self.company(&p).await?;
        let (company_id, company_outcome) = match company {
            Some((id, outcome)) => (Some(id), Some(outcome)),
            None => (None, None),
        };
        if !p.has_contact() {
            let (deal, deal_id) = self.deal(deal_plan, None, company_id).await?;
            let custom = self.custom_values(&p, None, company_id, deal_id).await?;
            return Ok(Ok(merge(
                company_outcome.unwrap_or(Outcome::Skipped),
                merge(deal, custom),
            )));
        }
        let matched = p
            .emails
            .iter()
            .find_map(|(_, a)| self.emails.get(&a.to_lowercase()))
            .or_else(|| p.phones.iter().find_map(|(_, n)| self.phones.get(n)))
            .copied();
        let (contact, outcome) = match matched {
            None => (self.create_contact(&p, company_id).await?, Outcome::Created),
            Some(id) => {
                if self.pending.ids.contains(&id) {
                    self.flush().await?;
                }
                let outcome = self.update_contact(&p, id, company_id).await?;
                (id, outcome)
            }
        };
        let (deal, deal_id) = self.deal(deal_plan, Some(contact), company_id).await?;
        let custom = self
            .custom_values(&p, Some(contact), company_id, deal_id)
            .await?;
        let side = merge(
            merge(deal, custom),
            company_outcome.unwrap_or(Outcome::Skipped),
        );
        // The record's outcome is its contact's: created, else updated when
        // anything of the record changed (its company or deal included).
        Ok(Ok(match (outcome, side) {
            (Outcome::Created, _) => Outcome::Created,
            (Outcome::Skipped, Outcome::Skipped) => Outcome::Skipped,
            _ => Outcome::Updated,
        }))
    }

    /// The record's company, found by domain then name, created when missing,
    /// and updated with the record's other company fields.
    async fn company(&mut self, p: &Prepared) -> Result<Option<(Uuid, Outcome)>> {
        if p.company.is_empty() {
            return Ok(None);
        }
        let domain = p.company.get("domain");
        let name = p.company.get("name");
        let found = domain
            .and_then(|d| self.domains.get(d))
            .or_else(|| name.and_then(|n| self.company_names.get(&n.to_lowercase())))
            .copied();
        let fields: Fields = p
            .company
            .iter()
            .map(|(k, v)| (*k, json!(v)))
            .collect::<Vec<_>>();
        match found {
            Some(id) => {
                // The company's own name is kept when it was found by domain;
                // only fields whose value differs are written.
                let state = self.company_state.entry(id).or_default();
                let fields: Fields = fields
                    .into_iter()
                    .filter(|(k, v)| *k != "name" && state.get(k).map(String::as_str) != v.as_str())
                    .collect();
                if fields.is_empty() {
                    return Ok(Some((id, Outcome::Skipped)));
                }
                for (k, v) in &fields {
                    state.insert(k, v.as_str().unwrap_or_default().to_owned());
                }
                if self.pending.ids.contains(&id) {
                    // Created by this import, not written yet: complete the row.
                    if let Some((_, rows)) = self
                        .pending
                        .rows
                        .iter_mut()
                        .find(|(e, _)| std::ptr::eq(*e, &COMPANY))
                    {
                        if let Some((_, row)) = rows.iter_mut().find(|(r, _)| *r == id) {
                            row.retain(|(k, _)| !fields.iter().any(|(f, _)| f == k));
                            row.extend(fields);
                        }
                    }
                    return Ok(Some((id, Outcome::Updated)));
                }
                if self.update_recorded(&COMPANY, id, fields).await? {
                    self.report.companies_updated += 1;
                    Ok(Some((id, Outcome::Updated)))
                } else {
                    Ok(Some((id, Outcome::Skipped)))
                }
            }
            None => {
                let Some(name) = name.cloned().or_else(|| domain.cloned()) else {
                    return Ok(None);
                };
                let id = Uuid::now_v7();
                let mut fields = fields;
                if !p.company.contains_key("name") {
                    fields.push(("name", json!(name)));
                }
                fields.push(("created_at", json!(self.now)));
                self.company_state.insert(
                    id,
                    fields
                        .iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (*k, v.to_owned())))
                        .collect(),
                );
                self.pending.push(&COMPANY, id, fields);
                if let Some(d) = domain {
                    self.domains.insert(d.clone(), id);
                }
                self.company_names.insert(name.to_lowercase(), id);
                self.report.companies_created += 1;
                Ok(Some((id, Outcome::Created)))
            }
        }
    }

    async fn create_contact(&mut self, p: &Prepared, company: Option<Uuid>) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let mut fields: Fields = p.contact.iter().map(|(k, v)| (*k, json!(v))).collect();
        if !p.contact.contains_key("display_name") {
            fields.push(("display_name", json!(display_name(p))));
        }
        if !p.contact.contains_key("lifecycle_stage") {
            fields.push(("lifecycle_stage", json!(LifecycleStage::default().as_str())));
        }
        if !p.contact.contains_key("source") {
            fields.push(("source", json!("import")));
        }
        fields.push(("company_id", json!(company.map(|c| c.to_string()))));
        fields.push(("created_at", json!(self.now)));
        self.pending.push(&CONTACT, id, fields);
        for (i, (kind, address)) in p.emails.iter().enumerate() {
            self.emails.entry(address.to_lowercase()).or_insert(id);
            self.pending.push(
                &CONTACT_EMAIL,
                Uuid::now_v7(),
                email_fields(id, kind, address, i),
            );
        }
        for (i, (kind, number)) in p.phones.iter().enumerate() {
            self.phones.entry(number.clone()).or_insert(id);
            self.pending.push(
                &CONTACT_PHONE,
                Uuid::now_v7(),
                phone_fields(id, kind, number, i),
            );
        }
        for (i, (kind, parts)) in p.addresses.iter().enumerate() {
            self.pending.push(
                &CONTACT_ADDRESS,
                Uuid::now_v7(),
                address_fields(id, kind, parts, i),
            );
        }
        for name in &p.tags {
            let tag = self.tag(name).await?;
            self.pending.push(
                &CONTACT_TAG,
                contact_tag_id(id, tag),
                vec![
                    ("contact_id", json!(id.to_string())),
                    ("tag_id", json!(tag.to_string())),
                ],
            );
        }
        Ok(id)
    }

    /// Bring an existing contact up to the record: fields the record fills
    /// and that differ, emails, phones and tags it lacks.
    async fn update_contact(
        &mut self,
        p: &Prepared,
        id: Uuid,
        company: Option<Uuid>,
    ) -> Result<Outcome> {
        let mut fields: Fields = p.contact.iter().map(|(k, v)| (*k, json!(v))).collect();
        if !p.contact.contains_key("display_name")
            && (p.contact.contains_key("first_name") || p.contact.contains_key("last_name"))
        {
            fields.push(("display_name", json!(display_name(p))));
        }
        if let Some(c) = company {
            fields.push(("company_id", json!(c.to_string())));
        }
        let mut changed = self.update_recorded(&CONTACT, id, fields).await?;
        let id_text = id.to_string();

        let have: Vec<(Option<String>,)> = sqlx::query_as(
            "SELECT address FROM contact_emails WHERE contact_id = ? AND deleted_at IS NULL",
        )
        .bind(&id_text)
        .fetch_all(self.tx.conn())
        .await?;
        let have: HashSet<String> = have
            .into_iter()
            .filter_map(|(a,)| a.map(|a| a.to_lowercase()))
            .collect();
        let mut position = have.len();
        for (kind, address) in &p.emails {
            if !have.contains(&address.to_lowercase()) {
                self.emails.entry(address.to_lowercase()).or_insert(id);
                self.pending.push(
                    &CONTACT_EMAIL,
                    Uuid::now_v7(),
                    email_fields(id, kind, address, position),
                );
                position += 1;
                changed = true;
            }
        }
        let have: Vec<(Option<String>,)> = sqlx::query_as(
            "SELECT number FROM contact_phones WHERE contact_id = ? AND deleted_at IS NULL",
        )
        .bind(&id_text)
        .fetch_all(self.tx.conn())
        .await?;
        let have: HashSet<String> = have.into_iter().filter_map(|(n,)| n).collect();
        let mut position = have.len();
        for (kind, number) in &p.phones {
            if !have.contains(number) {
                self.phones.entry(number.clone()).or_insert(id);
                self.pending.push(
                    &CONTACT_PHONE,
                    Uuid::now_v7(),
                    phone_fields(id, kind, number, position),
                );
                position += 1;
                changed = true;
            }
        }
        if !p.addresses.is_empty() {
            let have: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT id, kind FROM contact_addresses
                  WHERE contact_id = ? AND deleted_at IS NULL ORDER BY position, rk",
            )
            .bind(&id_text)
            .fetch_all(self.tx.conn())
            .await?;
            let mut position = have.len();
            for (kind, parts) in &p.addresses {
                let existing = have
                    .iter()
                    .find(|(_, k)| k.as_deref() == Some(*kind))
                    .and_then(|(row, _)| Uuid::parse_str(row).ok());
                match existing {
                    Some(row) => {
                        let fields: Fields = parts.iter().map(|(k, v)| (*k, json!(v))).collect();
                        changed |= self.update_recorded(&CONTACT_ADDRESS, row, fields).await?;
                    }
                    None => {
                        self.pending.push(
                            &CONTACT_ADDRESS,
                            Uuid::now_v7(),
                            address_fields(id, kind, parts, position),
                        );
                        position += 1;
                        changed = true;
                    }
                }
            }
        }
        for name in &p.tags {
            let tag = self.tag(name).await?;
            let link = contact_tag_id(id, tag);
            let state: Option<Option<String>> =
                sqlx::query_scalar("SELECT deleted_at FROM contact_tags WHERE id = ?")
                    .bind(link.to_string())
                    .fetch_optional(self.tx.conn())
                    .await?;
            match state {
                Some(None) => {}
                Some(Some(_)) => {
                    self.update_recorded(&CONTACT_TAG, link, vec![("deleted_at", Value::Null)])
                        .await?;
                    changed = true;
                }
                None if self.pending.rows.iter().any(|(e, rows)| {
                    std::ptr::eq(*e, &CONTACT_TAG) && rows.iter().any(|(r, _)| *r == link)
                }) => {}
                None => {
                    self.pending.push(
                        &CONTACT_TAG,
                        link,
                        vec![
                            ("contact_id", json!(id_text)),
                            ("tag_id", json!(tag.to_string())),
                        ],
                    );
                    changed = true;
                }
            }
        }
        Ok(if changed {
            Outcome::Updated
        } else {
            Outcome::Skipped
        })
    }

    /// A live tag by name, created (or brought back) when missing.
    async fn tag(&mut self, name: &str) -> Result<Uuid> {
        let key = name.to_lowercase();
        if let Some(id) = self.tags.get(&key) {
            return Ok(*id);
        }
        let id = tags::tag_id(name);
        let state: Option<Option<String>> =
            sqlx::query_scalar("SELECT deleted_at FROM tags WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(self.tx.conn())
                .await?;
        match state {
            None => {
                let palette = [
                    "#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2",
                ];
                let color = palette[id.as_bytes()[0] as usize % palette.len()];
                self.tx
                    .insert(
                        &TAG,
                        id,
                        vec![("name", json!(name)), ("color", json!(color))],
                    )
                    .await?;
                self.journal.created.push((TAG.name, id.to_string()));
                self.report.tags_created += 1;
            }
            Some(Some(_)) => {
                self.update_recorded(
                    &TAG,
                    id,
                    vec![("deleted_at", Value::Null), ("name", json!(name))],
                )
                .await?;
                self.report.tags_created += 1;
            }
            Some(None) => {}
        }
        self.tags.insert(key, id);
        Ok(id)
    }

    /// Check the record's deal before anything of the record is written.
    fn plan_deal(&self, p: &Prepared) -> std::result::Result<Option<DealPlan>, RowError> {
        let Some(title) = p.deal.get("title") else {
            return Ok(None);
        };
        let err = |m: String| Err(RowError::new(p.line, m));
        let pipeline = match p.deal.get("pipeline") {
            Some(name) => match self
                .pipelines
                .iter()
                .find(|pl| key_of(&pl.name) == key_of(name))
            {
                Some(pl) => pl,
                None => {
                    return err(format!(
                        "deal pipeline \"{name}\" does not exist ({})",
                        self.pipelines
                            .iter()
                            .map(|pl| pl.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            },
            None => match self.pipelines.first() {
                Some(pl) => pl,
                None => return err("no pipeline to put the deal in".into()),
            },
        };
        let stage = match p.deal.get("stage") {
            Some(name) => {
                let k = key_of(name);
                // HubSpot's internal names: closedwon / closedlost.
                let by_kind = match k.as_str() {
                    "closedwon" | "won" => Some(StageKind::Won),
                    "closedlost" | "lost" => Some(StageKind::Lost),
                    _ => None,
                };
                match pipeline
                    .stages
                    .iter()
                    .find(|s| key_of(&s.name) == k)
                    // Pipedrive's "Proposal Made", "Negotiations Started".
                    .or_else(|| {
                        pipeline.stages.iter().find(|s| {
                            let name = key_of(&s.name);
                            name.len() >= 4 && k.starts_with(&name)
                        })
                    })
                    .or_else(|| {
                        by_kind.and_then(|kind| pipeline.stages.iter().find(|s| s.kind == kind))
                    }) {
                    Some(s) => s,
                    None => {
                        return err(format!(
                            "deal stage \"{name}\" is not a stage of {} ({})",
                            pipeline.name,
                            pipeline
                                .stages
                                .iter()
                                .map(|s| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                }
            }
            None => match pipeline.stages.iter().find(|s| s.kind == StageKind::Open) {
                Some(s) => s,
                None => return err(format!("{} has no open stage", pipeline.name)),
            },
        };
        let currency = match p.deal.get("currency") {
            Some(c) => match money::parse_currency("currency", c) {
                Ok(c) => Some(c),
                Err(e) => return err(format!("deal {e}")),
            },
            None => self.base_currency.clone(),
        };
        let amount = match p.deal.get("amount") {
            None => None,
            Some(a) => {
                let Some(cur) = &currency else {
                    return err(
                        "the deal amount needs a currency: map a currency column or set a base currency (hub rate base EUR)"
                            .into(),
                    );
                };
                // Exports write "$1,200.00" or "1200 EUR": keep the number.
                let number: String = a
                    .chars()
                    .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
                    .collect();
                match money::parse_decimal("amount", &number)
                    .and_then(|d| money::check_amount("amount", d, cur))
                {
                    Ok(d) => Some(money::amount_text(d, cur)),
                    Err(e) => return err(format!("deal {e}")),
                }
            }
        };
        let expected_close = match p.deal.get("expected_close") {
            None => None,
            Some(d) => match parse_date(d) {
                Some(d) => Some(d.to_string()),
                None => return err(format!("deal close date \"{d}\" is not a date")),
            },
        };
        let mut fields: Fields = vec![("title", json!(title))];
        if let Some(a) = &amount {
            fields.push(("amount", json!(a)));
            fields.push(("currency", json!(currency)));
        }
        if let Some(d) = &expected_close {
            fields.push(("expected_close", json!(d)));
        }
        if let Some(o) = p.deal.get("owner") {
            fields.push(("owner", json!(o)));
        }
        if let Some(n) = p.deal.get("notes") {
            fields.push(("notes", json!(n)));
        }
        Ok(Some(DealPlan {
            title: title.clone(),
            fields,
            pipeline_id: pipeline.id,
            stage_id: stage.id,
            stage_kind: stage.kind,
            stage_given: p.deal.contains_key("stage"),
        }))
    }

    /// Write the record's deal: the contact's live deal of the same title
    /// is updated, else one is created.
    async fn deal(
        &mut self,
        plan: Option<DealPlan>,
        contact: Option<Uuid>,
        company: Option<Uuid>,
    ) -> Result<(Outcome, Option<Uuid>)> {
        let Some(plan) = plan else {
            return Ok((Outcome::Skipped, None));
        };
        let DealPlan {
            title,
            mut fields,
            pipeline_id,
            stage_id,
            stage_kind,
            stage_given,
        } = plan;
        let title = &title;
        let status = match stage_kind {
            StageKind::Open => "open",
            StageKind::Won => "won",
            StageKind::Lost => "lost",
        };
        let existing: Option<(String, Option<String>)> = match contact {
            Some(c) if !self.pending.ids.contains(&c) => {
                sqlx::query_as(
                    "SELECT id, stage_id FROM deals WHERE contact_id = ? AND deleted_at IS NULL
                        AND lower(title) = lower(?) ORDER BY rk LIMIT 1",
                )
                .bind(c.to_string())
                .bind(title)
                .fetch_optional(self.tx.conn())
                .await?
            }
            _ => None,
        };
        match existing.and_then(|(id, s)| Uuid::parse_str(&id).ok().map(|id| (id, s))) {
            Some((id, current_stage)) => {
                let moved =
                    stage_given && current_stage.as_deref() != Some(stage_id.to_string().as_str());
                if moved {
                    fields.extend([
                        ("pipeline_id", json!(pipeline_id.to_string())),
                        ("stage_id", json!(stage_id.to_string())),
                        ("status", json!(status)),
                        (
                            "closed_at",
                            json!((stage_kind != StageKind::Open).then(|| self.now.clone())),
                        ),
                        ("stage_entered_at", json!(self.now)),
                    ]);
                }
                let changed = self.update_recorded(&DEAL, id, fields).await?;
                if moved {
                    let from = current_stage.map(Value::String).unwrap_or(Value::Null);
                    self.stage_change(id, from, stage_id);
                }
                if changed {
                    self.report.deals_updated += 1;
                    Ok((Outcome::Updated, Some(id)))
                } else {
                    Ok((Outcome::Skipped, Some(id)))
                }
            }
            None => {
                let id = Uuid::now_v7();
                if !fields.iter().any(|(k, _)| *k == "owner") {
                    fields.push(("owner", json!(self.who)));
                }
                fields.extend([
                    ("contact_id", json!(contact.map(|c| c.to_string()))),
                    ("company_id", json!(company.map(|c| c.to_string()))),
                    ("pipeline_id", json!(pipeline_id.to_string())),
                    ("stage_id", json!(stage_id.to_string())),
                    ("status", json!(status)),
                    (
                        "closed_at",
                        json!((stage_kind != StageKind::Open).then(|| self.now.clone())),
                    ),
                    ("stage_entered_at", json!(self.now)),
                    ("created_at", json!(self.now)),
                ]);
                self.pending.push(&DEAL, id, fields);
                self.stage_change(id, Value::Null, stage_id);
                self.report.deals_created += 1;
                Ok((Outcome::Created, Some(id)))
            }
        }
    }

    fn stage_change(&mut self, deal: Uuid, from: Value, to: Uuid) {
        self.pending.push(
            &DEAL_STAGE_CHANGE,
            Uuid::now_v7(),
            vec![
                ("deal_id", json!(deal.to_string())),
                ("from_stage_id", from),
                ("to_stage_id", json!(to.to_string())),
                ("changed_at", json!(self.now)),
                ("changed_by", json!(self.who)),
            ],
        );
    }

    /// The record's custom values on its contact, company (and deal).
    async fn custom_values(
        &mut self,
        p: &Prepared,
        contact: Option<Uuid>,
        company: Option<Uuid>,
        deal: Option<Uuid>,
    ) -> Result<Outcome> {
        let mut outcome = Outcome::Skipped;
        for (entity, field, value) in &p.custom {
            let row = match entity {
                FieldEntity::Contact => contact,
                FieldEntity::Company => company,
                FieldEntity::Deal => deal,
                FieldEntity::Ticket => None,
            };
            let (Some(row), Some(value)) = (row, value) else {
                continue;
            };
            let id = custom_value_id(*field, row);
            let state: Option<(Option<String>, Option<String>)> = if self.pending.ids.contains(&row)
            {
                None
            } else {
                sqlx::query_as("SELECT value, deleted_at FROM custom_values WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_optional(self.tx.conn())
                    .await?
            };
            match state {
                Some((current, None)) if current.as_deref() == Some(value.as_str()) => {}
                Some(_) => {
                    self.update_recorded(
                        &CUSTOM_VALUE,
                        id,
                        vec![("value", json!(value)), ("deleted_at", Value::Null)],
                    )
                    .await?;
                    outcome = Outcome::Updated;
                }
                None => {
                    self.pending.push(
                        &CUSTOM_VALUE,
                        id,
                        vec![
                            ("entity", json!(entity.as_str())),
                            ("row_id", json!(row.to_string())),
                            ("field_id", json!(field.to_string())),
                            ("value", json!(value)),
                        ],
                    );
                    outcome = Outcome::Updated;
                }
            }
        }
        Ok(outcome)
    }

    /// Write the given fields of a row where they differ, journaling the
    /// values they had. Returns whether anything changed.
    async fn update_recorded(
        &mut self,
        entity: &'static EntityDef,
        id: Uuid,
        fields: Fields,
    ) -> Result<bool> {
        if self.pending.ids.contains(&id) {
            self.flush().await?;
        }
        if fields.is_empty() {
            return Ok(false);
        }
        let pairs: Vec<String> = fields.iter().map(|(f, _)| format!("'{f}', {f}")).collect();
        let current: Option<String> = sqlx::query_scalar(&format!(
            "SELECT json_object({}) FROM {} WHERE id = ?",
            pairs.join(", "),
            entity.table
        ))
        .bind(id.to_string())
        .fetch_optional(self.tx.conn())
        .await?;
        let current: Map<String, Value> = current
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default();
        let changed: Fields = fields
            .into_iter()
            .filter(|(f, v)| current.get(*f).unwrap_or(&Value::Null) != v)
            .collect();
        if changed.is_empty() {
            return Ok(false);
        }
        let before: Map<String, Value> = changed
            .iter()
            .map(|(f, _)| {
                (
                    (*f).to_owned(),
                    current.get(*f).cloned().unwrap_or(Value::Null),
                )
            })
            .collect();
        let after: Map<String, Value> = changed
            .iter()
            .map(|(f, v)| ((*f).to_owned(), v.clone()))
            .collect();
        if std::ptr::eq(entity, &CONTACT) {
            self.touched_contacts.insert(id.to_string());
        } else if std::ptr::eq(entity, &COMPANY) {
            self.touched_companies.insert(id.to_string());
        }
        self.tx.update(entity, id, changed).await?;
        self.journal.updated.push(json!({
            "entity": entity.name,
            "id": id.to_string(),
            "before": before,
            "after": after,
        }));
        Ok(true)
    }

    /// Index what the import created and changed: when it created more
    /// contacts than there were, one rebuild of the whole index (with a
    /// large FTS5 term table) is faster than indexing each.
    async fn index(&mut self) -> Result<()> {
        self.flush().await?;
        if self.new_contacts.len() > self.existing_contacts {
            search::rebuild(self.tx.conn()).await
        } else {
            search::reindex(
                self.tx.conn(),
                &self.new_contacts,
                &self.touched_contacts,
                &self.touched_companies,
            )
            .await
        }
    }

    /// Write the queued rows with the bulk path.
    async fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        for (entity, rows) in &pending.rows {
            if std::ptr::eq(*entity, &CONTACT) {
                self.new_contacts
                    .extend(rows.iter().map(|(id, _)| id.to_string()));
            } else if std::ptr::eq(*entity, &CONTACT_EMAIL) || std::ptr::eq(*entity, &CONTACT_PHONE)
            {
                for (_, fields) in rows {
                    if let Some((_, Value::String(c))) =
                        fields.iter().find(|(k, _)| *k == "contact_id")
                    {
                        if !self.new_contacts.contains(c) {
                            self.touched_contacts.insert(c.clone());
                        }
                    }
                }
            }
        }
        for (entity, rows) in pending.rows {
            self.journal
                .created
                .extend(rows.iter().map(|(id, _)| (entity.name, id.to_string())));
            self.tx.insert_many(entity, rows).await?;
        }
        Ok(())
    }

    /// Write the journal's full batches (all of it with `all`) as
    /// `import_batches` rows of this import.
    async fn write_journal(&mut self, all: bool) -> Result<()> {
        let mut rows = Vec::new();
        let mut batch = |created: String, updated: String, seq: &mut usize| {
            rows.push((
                Uuid::now_v7(),
                vec![
                    ("import_id", json!(self.import_id.to_string())),
                    ("seq", json!(*seq)),
                    ("created", json!(created)),
                    ("updated", json!(updated)),
                ],
            ));
            *seq += 1;
        };
        while self.journal.created.len() >= BATCH_CREATED
            || (all && !self.journal.created.is_empty())
        {
            let take = self.journal.created.len().min(BATCH_CREATED);
            let part: Vec<Value> = self
                .journal
                .created
                .drain(..take)
                .map(|(e, id)| json!([e, id]))
                .collect();
            batch(json!(part).to_string(), "[]".into(), &mut self.batch_seq);
        }
        while self.journal.updated.len() >= BATCH_UPDATED
            || (all && !self.journal.updated.is_empty())
        {
            let take = self.journal.updated.len().min(BATCH_UPDATED);
            let part: Vec<Value> = self.journal.updated.drain(..take).collect();
            batch("[]".into(), json!(part).to_string(), &mut self.batch_seq);
        }
        if !rows.is_empty() {
            self.tx.insert_many(&IMPORT_BATCH, rows).await?;
        }
        Ok(())
    }

    /// The synced record of this import and its journal.
    async fn record_import(&mut self, options: &ImportOptions) -> Result<Uuid> {
        self.flush().await?;
        let id = self.import_id;
        let r = &self.report;
        let counts = json!({
            "records": r.records,
            "created": r.created,
            "updated": r.updated,
            "skipped": r.skipped,
            "errors": r.error_count,
            "companies_created": r.companies_created,
            "companies_updated": r.companies_updated,
            "deals_created": r.deals_created,
            "deals_updated": r.deals_updated,
            "tags_created": r.tags_created,
        });
        self.tx
            .insert(
                &IMPORT,
                id,
                vec![
                    ("file_name", json!(options.file_name)),
                    ("format", json!(options.format.as_str())),
                    ("created_by", json!(self.who)),
                    ("created_at", json!(self.now)),
                    ("mapping", json!(json!(options.mapping).to_string())),
                    ("counts", json!(counts.to_string())),
                    ("status", json!("done")),
                ],
            )
            .await?;
        self.write_journal(true).await?;
        Ok(id)
    }
}

/// The stronger of two outcomes (updated beats skipped).
fn merge(a: Outcome, b: Outcome) -> Outcome {
    match (a, b) {
        (Outcome::Created, _) | (_, Outcome::Created) => Outcome::Created,
        (Outcome::Updated, _) | (_, Outcome::Updated) => Outcome::Updated,
        _ => Outcome::Skipped,
    }
}

/// The contact's name: as given, else first and last, else the email, else the phone.
fn display_name(p: &Prepared) -> Option<String> {
    if let Some(d) = p.contact.get("display_name") {
        return Some(d.clone());
    }
    let joined = [p.contact.get("first_name"), p.contact.get("last_name")]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if !joined.is_empty() {
        return Some(joined);
    }
    p.emails
        .first()
        .map(|(_, a)| a.clone())
        .or_else(|| p.phones.first().map(|(_, n)| n.clone()))
}

fn email_fields(contact: Uuid, kind: &str, address: &str, position: usize) -> Fields {
    vec![
        ("contact_id", json!(contact.to_string())),
        ("kind", json!(kind)),
        ("address", json!(address)),
        ("position", json!(position)),
    ]
}

fn address_fields(
    contact: Uuid,
    kind: &str,
    parts: &BTreeMap<&'static str, String>,
    position: usize,
) -> Fields {
    let mut fields = vec![
        ("contact_id", json!(contact.to_string())),
        ("kind", json!(kind)),
        ("position", json!(position)),
    ];
    fields.extend(parts.iter().map(|(k, v)| (*k, json!(v))));
    fields
}

fn phone_fields(contact: Uuid, kind: &str, number: &str, position: usize) -> Fields {
    vec![
        ("contact_id", json!(contact.to_string())),
        ("kind", json!(kind)),
        ("number", json!(number)),
        ("position", json!(position)),
    ]
}
