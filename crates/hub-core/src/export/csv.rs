//! CSV of a list or a saved view: contacts, companies, deals, tickets (any
//! filter and sort of `crate::filters`, or a saved view of them) and
//! reminders.
//!
//! - **Columns.** Every field of the record, each custom field of the entity
//!   (in the order the app shows them), the tags as one column (`;`
//!   separated), and linked records by name (a contact's company and its
//!   domain, a deal's contact, pipeline and stage). Headers are the import's
//!   field names (`display_name`, `email:work`, `company.domain`,
//!   `custom:budget`, `deal.amount`, see `crate::import::Target`), so a
//!   file we export maps itself column by column when imported again; the
//!   few columns the import does not take (`id`, `created_at`, a deal's
//!   `deal.status`) are skipped there.
//! - **Several values.** A contact's emails and phones get one column per
//!   kind (`email:work`, `email:home`, `phone:mobile`, …), and
//!   `email:work (2)` etc. when some contact of the export has more than one
//!   of a kind; addresses likewise per kind and part (`address:home.city`).
//!   Which columns appear depends on the exported records, the order never.
//! - **Values.** Dates and times ISO 8601 as stored (`2026-03-01`,
//!   `2026-03-01T09:30:00.000Z`); money as the exact decimal text with its
//!   currency in the next column (never a float, never a thousands
//!   separator); checkboxes `true`/`false`; a multi select's options joined by
//!   `,`; numbers canonical (`1234.5`).
//! - **Format.** RFC 4180: comma separated, CRLF line ends, a field quoted
//!   when it holds a comma, a quote, CR or LF (quotes doubled), or starts or
//!   ends with a space; UTF-8. [`CsvOptions::excel`] adds a byte order mark,
//!   which Excel needs to read UTF-8 (without it, it reads the system code
//!   page and mangles every accented name). Values are written exactly: no
//!   `'` is put before a `=` or `+` (an E.164 phone starts with `+`), so the
//!   file re-imports with the same values.
//!
//! Records are read in pages of [`CHUNK`] ids, one query each, so memory
//! holds the list of ids and one page, not the whole export.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::custom_fields::{self, CustomField, FieldEntity};
use crate::entities;
use crate::error::{Error, Result};
use crate::filters::{self, Filter, Sort};
use crate::store::Store;
use crate::views;

/// Records read per query.
const CHUNK: usize = 500;
/// Ids asked of the filter per page (its maximum).
const ID_PAGE: u32 = 1000;

const EMAIL_KINDS: &[&str] = &crate::contacts::EMAIL_KINDS;
const PHONE_KINDS: &[&str] = &crate::contacts::PHONE_KINDS;
const ADDRESS_KINDS: &[&str] = &["home", "work", "other"];
const ADDRESS_PARTS: &[&str] = &["street", "city", "region", "postal_code", "country"];

/// What a CSV export lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ListEntity {
    Contacts,
    Companies,
    Deals,
    Tickets,
    Reminders,
}

impl ListEntity {
    pub const ALL: [ListEntity; 5] = [
        ListEntity::Contacts,
        ListEntity::Companies,
        ListEntity::Deals,
        ListEntity::Tickets,
        ListEntity::Reminders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ListEntity::Contacts => "contacts",
            ListEntity::Companies => "companies",
            ListEntity::Deals => "deals",
            ListEntity::Tickets => "tickets",
            ListEntity::Reminders => "reminders",
        }
    }

    /// `contacts`, `contact`, `Companies`, …
    pub fn parse(text: &str) -> Result<ListEntity> {
        let t = text.trim().to_lowercase();
        ListEntity::ALL
            .into_iter()
            .find(|e| {
                let plural = e.as_str();
                t == plural
                    || t == plural.strip_suffix('s').unwrap_or(plural)
                    || (plural == "companies" && t == "company")
            })
            .ok_or_else(|| {
                Error::invalid(
                    "entity",
                    format!(
                        "\"{}\" is not one of contacts, companies, deals, tickets, reminders",
                        text.trim()
                    ),
                )
            })
    }

    /// The kind of record that filters and custom fields know, if any.
    pub fn field_entity(self) -> Option<FieldEntity> {
        match self {
            ListEntity::Contacts => Some(FieldEntity::Contact),
            ListEntity::Companies => Some(FieldEntity::Company),
            ListEntity::Deals => Some(FieldEntity::Deal),
            ListEntity::Tickets => Some(FieldEntity::Ticket),
            ListEntity::Reminders => None,
        }
    }
}

impl From<FieldEntity> for ListEntity {
    fn from(e: FieldEntity) -> Self {
        match e {
            FieldEntity::Contact => ListEntity::Contacts,
            FieldEntity::Company => ListEntity::Companies,
            FieldEntity::Deal => ListEntity::Deals,
            FieldEntity::Ticket => ListEntity::Tickets,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CsvOptions {
    /// Start with a UTF-8 byte order mark, for Microsoft Excel.
    #[serde(default)]
    pub excel: bool,
}

/// What a CSV export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CsvSummary {
    pub entity: String,
    /// The saved view exported, if one was.
    pub view: Option<String>,
    /// Records written (lines after the header).
    #[ts(type = "number")]
    pub rows: u64,
    /// The header, in order.
    pub columns: Vec<String>,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Export the records of `entity` that pass `filter`, in `sort` order (then
/// the list's usual order), as CSV to `out`. Reminders take no filter or
/// sort: every live reminder, by due time.
pub async fn csv<W: Write + ?Sized>(
    store: &Store,
    entity: ListEntity,
    filter: &Filter,
    sort: Option<&Sort>,
    options: CsvOptions,
    out: &mut W,
) -> Result<CsvSummary> {
    let ids = match entity.field_entity() {
        Some(fe) => filtered_ids(store, fe, filter, sort).await?,
        None => {
            if !filter.conditions.is_empty() || sort.is_some() {
                return Err(Error::invalid(
                    "filter",
                    "reminders are exported whole: filters and sorts apply to contacts, \
                     companies, deals and tickets",
                ));
            }
            reminder_ids(store).await?
        }
    };
    let mut conn = store.pool().acquire().await?;
    let plan = plan(&mut conn, entity, &ids).await?;
    let mut w = CsvWriter::new(out);
    if options.excel {
        w.raw(b"\xEF\xBB\xBF")?;
    }
    w.record(plan.iter().map(|c| c.header.as_str()))?;
    let mut rows = 0u64;
    for chunk in ids.chunks(CHUNK) {
        for record in fetch(&mut conn, entity, chunk).await? {
            let cells: Vec<String> = plan.iter().map(|c| c.cell(&record)).collect();
            w.record(cells.iter().map(String::as_str))?;
            rows += 1;
        }
    }
    Ok(CsvSummary {
        entity: entity.as_str().to_owned(),
        view: None,
        rows,
        columns: plan.into_iter().map(|c| c.header).collect(),
        bytes: w.bytes,
    })
}

/// Export a saved view (by name, any case) as CSV: its entity, filter and
/// sort. A view whose field was deleted since is an error, as when it is run.
pub async fn csv_view<W: Write + ?Sized>(
    store: &Store,
    name: &str,
    options: CsvOptions,
    out: &mut W,
) -> Result<CsvSummary> {
    let view = views::get(store, name).await?;
    let mut summary = csv(
        store,
        view.entity.into(),
        &view.filter,
        view.sort.as_ref(),
        options,
        out,
    )
    .await?;
    summary.view = Some(view.name);
    Ok(summary)
}

/// A whole list's order, as `crate::filters` orders a list with no sort
/// (checked against it by a test): one index walk instead of pages of the
/// filter, which read each page's records too.
fn default_order(entity: FieldEntity) -> &'static str {
    match entity {
        FieldEntity::Contact => "display_name COLLATE NOCASE, id",
        FieldEntity::Company => "name COLLATE NOCASE, id",
        FieldEntity::Deal => "title COLLATE NOCASE, id",
        FieldEntity::Ticket => "created_at DESC, id",
    }
}

/// The ids of the filtered list, in its order.
async fn filtered_ids(
    store: &Store,
    entity: FieldEntity,
    filter: &Filter,
    sort: Option<&Sort>,
) -> Result<Vec<Uuid>> {
    if filter.conditions.is_empty() && sort.is_none() {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM {} WHERE deleted_at IS NULL ORDER BY {}",
            entity.table(),
            default_order(entity)
        ))
        .fetch_all(store.pool())
        .await?;
        return Ok(rows
            .iter()
            .filter_map(|s| Uuid::parse_str(s).ok())
            .collect());
    }
    let mut ids = Vec::new();
    loop {
        let page = filters::query(store, entity, filter, sort, ids.len() as u32, ID_PAGE).await?;
        let got = page.items.len();
        ids.extend(page.items.into_iter().map(|i| i.id));
        if got < ID_PAGE as usize || ids.len() >= page.total as usize {
            break;
        }
    }
    Ok(ids)
}

async fn reminder_ids(store: &Store) -> Result<Vec<Uuid>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT id FROM reminders WHERE deleted_at IS NULL ORDER BY due_at, id")
            .fetch_all(store.pool())
            .await?;
    Ok(rows
        .iter()
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect())
}

/// Where a column's cell comes from in a fetched record.
#[derive(Debug, Clone)]
enum Source {
    /// A member of the record's JSON object.
    Key(&'static str),
    /// The record's id.
    Id,
    /// `updated_ms` as an RFC 3339 time.
    UpdatedAt,
    /// The n-th (0-based) email / phone of a kind.
    Email(String, usize),
    Phone(String, usize),
    /// One part of the n-th address of a kind.
    Address(String, usize, usize),
    /// Tag names joined by `; `.
    Tags,
    Custom(CustomField),
}

#[derive(Debug, Clone)]
struct Column {
    header: String,
    source: Source,
}

fn col(header: impl Into<String>, source: Source) -> Column {
    Column {
        header: header.into(),
        source,
    }
}

/// `(header, key)` pairs: a built-in column read from the record's object.
fn keyed(pairs: &[(&str, &'static str)]) -> Vec<Column> {
    pairs.iter().map(|(h, k)| col(*h, Source::Key(k))).collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

impl Column {
    fn cell(&self, record: &Map<String, Value>) -> String {
        let list = |key: &str| record.get(key).and_then(Value::as_array);
        // The n-th entry of `key` whose first element is `kind`.
        let nth = |key: &str, kind: &str, n: usize| -> Option<Vec<Value>> {
            list(key)?
                .iter()
                .filter_map(Value::as_array)
                .filter(|e| e.first().and_then(Value::as_str) == Some(kind))
                .nth(n)
                .cloned()
        };
        match &self.source {
            Source::Key(k) => record.get(*k).map(text).unwrap_or_default(),
            Source::Id => record.get("id").map(text).unwrap_or_default(),
            Source::UpdatedAt => record
                .get("updated_ms")
                .and_then(Value::as_i64)
                .filter(|ms| *ms > 0)
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default(),
            Source::Email(kind, n) => nth("emails", kind, *n)
                .and_then(|e| e.get(1).map(text))
                .unwrap_or_default(),
            Source::Phone(kind, n) => nth("phones", kind, *n)
                .and_then(|e| e.get(1).map(text))
                .unwrap_or_default(),
            Source::Address(kind, n, part) => nth("addresses", kind, *n)
                .and_then(|e| e.get(part + 1).map(text))
                .unwrap_or_default(),
            Source::Tags => {
                let mut names: Vec<String> = list("tags")
                    .map(|t| t.iter().map(text).collect())
                    .unwrap_or_default();
                names.sort_by_key(|t| t.to_lowercase());
                names.join("; ")
            }
            Source::Custom(f) => record
                .get("custom")
                .and_then(|c| c.get(&f.key))
                .and_then(Value::as_str)
                .map(|stored| {
                    custom_fields::value_text(&custom_fields::typed_value(f.field_type, stored))
                })
                .unwrap_or_default(),
        }
    }
}

/// Kinds in their usual order, then any other kind (synced from elsewhere)
/// by name, each with the most entries one exported record has.
fn kinds_in_order(known: &[&str], counts: BTreeMap<String, i64>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = known
        .iter()
        .filter_map(|k| counts.get(*k).map(|n| (k.to_string(), *n as usize)))
        .collect();
    out.extend(
        counts
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, n)| (k.clone(), *n as usize)),
    );
    out
}

/// The most entries of each kind one record of `ids` has in `table`.
async fn kind_counts(
    conn: &mut SqliteConnection,
    table: &str,
    ids: &[Uuid],
) -> Result<BTreeMap<String, i64>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(&format!(
        "SELECT kind, max(n) FROM (
            SELECT x.contact_id, x.kind, count(*) AS n
              FROM json_each(?) j CROSS JOIN {table} x ON x.contact_id = j.value
             WHERE x.deleted_at IS NULL
             GROUP BY x.contact_id, x.kind)
         GROUP BY kind"
    ))
    .bind(ids_json(ids))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k.unwrap_or_else(|| "other".into()), n))
        .collect())
}

fn ids_json(ids: &[Uuid]) -> String {
    serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

fn numbered(base: &str, n: usize) -> String {
    if n == 0 {
        base.to_owned()
    } else {
        format!("{base} ({})", n + 1)
    }
}

/// Whether this store has the contact details (birthday, website,
/// addresses) of the vCard work.
fn has_contact_field(field: &str) -> bool {
    entities::CONTACT.has_field(field)
}

fn has_addresses() -> bool {
    entities::by_name("contact_address").is_some()
}

/// The columns of an export of `entity` over `ids`.
async fn plan(
    conn: &mut SqliteConnection,
    entity: ListEntity,
    ids: &[Uuid],
) -> Result<Vec<Column>> {
    let mut cols = vec![col("id", Source::Id)];
    match entity {
        ListEntity::Contacts => {
            cols.extend(keyed(&[
                ("display_name", "display_name"),
                ("first_name", "first_name"),
                ("last_name", "last_name"),
                ("title", "title"),
                ("company", "company"),
                ("company.domain", "company_domain"),
                ("lifecycle_stage", "lifecycle_stage"),
                ("owner", "owner"),
                ("source", "source"),
            ]));
            // At least one work email and one mobile column, so every
            // contacts export has them where a person looks for them.
            let mut emails = kind_counts(conn, "contact_emails", ids).await?;
            emails.entry("work".into()).or_insert(1);
            for (kind, n) in kinds_in_order(EMAIL_KINDS, emails) {
                for i in 0..n {
                    cols.push(col(
                        numbered(&format!("email:{kind}"), i),
                        Source::Email(kind.clone(), i),
                    ));
                }
            }
            let mut phones = kind_counts(conn, "contact_phones", ids).await?;
            phones.entry("mobile".into()).or_insert(1);
            for (kind, n) in kinds_in_order(PHONE_KINDS, phones) {
                for i in 0..n {
                    cols.push(col(
                        numbered(&format!("phone:{kind}"), i),
                        Source::Phone(kind.clone(), i),
                    ));
                }
            }
            if has_addresses() {
                let addresses = kind_counts(conn, "contact_addresses", ids).await?;
                for (kind, n) in kinds_in_order(ADDRESS_KINDS, addresses) {
                    for i in 0..n {
                        for (p, part) in ADDRESS_PARTS.iter().enumerate() {
                            cols.push(col(
                                numbered(&format!("address:{kind}.{part}"), i),
                                Source::Address(kind.clone(), i, p),
                            ));
                        }
                    }
                }
            }
            for (field, key) in [("birthday", "birthday"), ("website", "website")] {
                if has_contact_field(field) {
                    cols.push(col(field, Source::Key(key)));
                }
            }
            cols.push(col("tags", Source::Tags));
            cols.extend(keyed(&[
                ("notes", "notes"),
                ("stay_in_touch_days", "stay_in_touch_days"),
                ("created_at", "created_at"),
            ]));
            cols.push(col("updated_at", Source::UpdatedAt));
            custom_columns(conn, FieldEntity::Contact, "custom:", &mut cols).await?;
        }
        ListEntity::Companies => {
            cols.extend(keyed(&[
                ("company", "name"),
                ("company.domain", "domain"),
                ("company.industry", "industry"),
                ("company.size", "size"),
                ("company.street", "street"),
                ("company.city", "city"),
                ("company.region", "region"),
                ("company.postal_code", "postal_code"),
                ("company.country", "country"),
            ]));
            // `tags` would be a contact's tags on import.
            cols.push(col("company.tags", Source::Tags));
            cols.extend(keyed(&[("created_at", "created_at")]));
            cols.push(col("updated_at", Source::UpdatedAt));
            custom_columns(conn, FieldEntity::Company, "company.custom:", &mut cols).await?;
        }
        ListEntity::Deals => {
            cols.extend(keyed(&[
                ("deal.title", "title"),
                ("deal.amount", "amount"),
                ("deal.currency", "currency"),
                ("deal.pipeline", "pipeline"),
                ("deal.stage", "stage"),
                ("deal.status", "status"),
                ("deal.expected_close", "expected_close"),
                ("deal.owner", "owner"),
                ("deal.close_reason", "close_reason"),
                ("deal.closed_at", "closed_at"),
                ("deal.notes", "notes"),
                // The deal's contact: on import the deal links to the
                // contact of its row, found again by email.
                ("display_name", "contact"),
                ("email", "contact_email"),
                ("company", "company"),
                ("company.domain", "company_domain"),
            ]));
            cols.push(col("deal.tags", Source::Tags));
            cols.extend(keyed(&[("created_at", "created_at")]));
            cols.push(col("updated_at", Source::UpdatedAt));
            custom_columns(conn, FieldEntity::Deal, "deal.custom:", &mut cols).await?;
        }
        ListEntity::Tickets => {
            cols.extend(keyed(&[
                ("subject", "subject"),
                ("description", "description"),
                ("status", "status"),
                ("priority", "priority"),
                ("contact", "contact"),
                ("contact_email", "contact_email"),
                ("company", "company"),
                ("assignee", "assignee"),
                ("due_at", "due_at"),
                ("created_by", "created_by"),
                ("created_at", "created_at"),
                ("closed_at", "closed_at"),
            ]));
            cols.push(col("updated_at", Source::UpdatedAt));
            custom_columns(conn, FieldEntity::Ticket, "custom:", &mut cols).await?;
        }
        ListEntity::Reminders => {
            cols.extend(keyed(&[
                ("title", "title"),
                ("notes", "notes"),
                ("status", "status"),
                ("due_at", "due_at"),
                ("tz", "tz"),
                ("rrule", "rrule"),
                ("starts_at", "starts_at"),
                ("snoozed_until", "snoozed_until"),
                ("done_at", "done_at"),
                ("contact", "contact"),
                ("deal", "deal"),
                ("ticket", "ticket"),
                ("assignee", "assignee"),
                ("created_at", "created_at"),
            ]));
            cols.push(col("updated_at", Source::UpdatedAt));
        }
    }
    Ok(cols)
}

async fn custom_columns(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    prefix: &str,
    cols: &mut Vec<Column>,
) -> Result<()> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT key FROM custom_fields WHERE entity = ? AND deleted_at IS NULL
          ORDER BY position, key",
    )
    .bind(entity.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for (key,) in rows {
        let field = custom_fields::find_in(conn, entity, &key).await?;
        cols.push(col(format!("{prefix}{}", field.key), Source::Custom(field)));
    }
    Ok(())
}

/// `'custom', {key: stored value}` of the record `r` of `entity`.
fn custom_sql(entity: FieldEntity) -> String {
    format!(
        "'custom', json((SELECT json_group_object(f.key, v.value)
            FROM custom_values v JOIN custom_fields f ON f.id = v.field_id
           WHERE v.row_id = r.id AND v.value IS NOT NULL AND v.deleted_at IS NULL
             AND f.deleted_at IS NULL AND f.entity = '{}'))",
        entity.as_str()
    )
}

fn tags_sql(link: &str, column: &str) -> String {
    format!(
        "'tags', json((SELECT json_group_array(t.name) FROM {link} l JOIN tags t ON t.id = l.tag_id
            WHERE l.{column} = r.id AND l.deleted_at IS NULL AND t.deleted_at IS NULL))"
    )
}

/// The records of `ids`, in that order, as JSON objects.
async fn fetch(
    conn: &mut SqliteConnection,
    entity: ListEntity,
    ids: &[Uuid],
) -> Result<Vec<Map<String, Value>>> {
    let (object, table, joins) = match entity {
        ListEntity::Contacts => {
            let mut extra = String::new();
            for f in ["birthday", "website"] {
                if has_contact_field(f) {
                    extra.push_str(&format!(", '{f}', r.{f}"));
                }
            }
            if has_addresses() {
                extra.push_str(
                    ", 'addresses', json((SELECT json_group_array(json_array(a.kind, a.street, a.city, a.region, a.postal_code, a.country))
                        FROM (SELECT * FROM contact_addresses a WHERE a.contact_id = r.id AND a.deleted_at IS NULL
                              ORDER BY a.position, a.rk) a))",
                );
            }
            (
                format!(
                    "'id', r.id, 'display_name', r.display_name, 'first_name', r.first_name,
                     'last_name', r.last_name, 'title', r.title, 'company', co.name,
                     'company_domain', co.domain, 'lifecycle_stage', r.lifecycle_stage,
                     'owner', r.owner, 'source', r.source, 'notes', r.notes,
                     'stay_in_touch_days', r.stay_in_touch_days, 'created_at', r.created_at,
                     'updated_ms', r.updated_ms{extra},
                     'emails', json((SELECT json_group_array(json_array(coalesce(e.kind, 'other'), e.address))
                        FROM (SELECT * FROM contact_emails e WHERE e.contact_id = r.id AND e.deleted_at IS NULL
                              ORDER BY e.position, e.rk) e)),
                     'phones', json((SELECT json_group_array(json_array(coalesce(p.kind, 'other'), p.number))
                        FROM (SELECT * FROM contact_phones p WHERE p.contact_id = r.id AND p.deleted_at IS NULL
                              ORDER BY p.position, p.rk) p)),
                     {tags}, {custom}",
                    tags = tags_sql("contact_tags", "contact_id"),
                    custom = custom_sql(FieldEntity::Contact),
                ),
                "contacts",
                "LEFT JOIN companies co ON co.id = r.company_id AND co.deleted_at IS NULL",
            )
        }
        ListEntity::Companies => (
            format!(
                "'id', r.id, 'name', r.name, 'domain', r.domain, 'industry', r.industry,
                 'size', r.size, 'street', r.street, 'city', r.city, 'region', r.region,
                 'postal_code', r.postal_code, 'country', r.country, 'created_at', r.created_at,
                 'updated_ms', r.updated_ms, {tags}, {custom}",
                tags = tags_sql("company_tags", "company_id"),
                custom = custom_sql(FieldEntity::Company),
            ),
            "companies",
            "",
        ),
        ListEntity::Deals => (
            format!(
                "'id', r.id, 'title', r.title, 'amount', r.amount, 'currency', r.currency,
                 'pipeline', pl.name, 'stage', s.name, 'status', r.status,
                 'expected_close', r.expected_close, 'owner', r.owner,
                 'close_reason', r.close_reason, 'closed_at', r.closed_at, 'notes', r.notes,
                 'contact', c.display_name,
                 'contact_email', (SELECT e.address FROM contact_emails e
                    WHERE e.contact_id = c.id AND e.deleted_at IS NULL ORDER BY e.position, e.rk LIMIT 1),
                 'company', co.name, 'company_domain', co.domain,
                 'created_at', r.created_at, 'updated_ms', r.updated_ms, {tags}, {custom}",
                tags = tags_sql("deal_tags", "deal_id"),
                custom = custom_sql(FieldEntity::Deal),
            ),
            "deals",
            "LEFT JOIN pipelines pl ON pl.id = r.pipeline_id
             LEFT JOIN pipeline_stages s ON s.id = r.stage_id
             LEFT JOIN contacts c ON c.id = r.contact_id AND c.deleted_at IS NULL
             LEFT JOIN companies co ON co.id = r.company_id AND co.deleted_at IS NULL",
        ),
        ListEntity::Tickets => (
            format!(
                "'id', r.id, 'subject', r.subject, 'description', r.description,
                 'status', r.status, 'priority', r.priority, 'contact', c.display_name,
                 'contact_email', (SELECT e.address FROM contact_emails e
                    WHERE e.contact_id = c.id AND e.deleted_at IS NULL ORDER BY e.position, e.rk LIMIT 1),
                 'company', co.name, 'assignee', r.assignee, 'due_at', r.due_at,
                 'created_by', r.created_by, 'created_at', r.created_at,
                 'closed_at', r.closed_at, 'updated_ms', r.updated_ms, {custom}",
                custom = custom_sql(FieldEntity::Ticket),
            ),
            "tickets",
            "LEFT JOIN contacts c ON c.id = r.contact_id AND c.deleted_at IS NULL
             LEFT JOIN companies co ON co.id = r.company_id AND co.deleted_at IS NULL",
        ),
        ListEntity::Reminders => (
            "'id', r.id, 'title', r.title, 'notes', r.notes,
             'status', CASE WHEN r.done_at IS NULL THEN 'open' ELSE 'done' END,
             'due_at', r.due_at, 'tz', r.tz, 'rrule', r.rrule, 'starts_at', r.starts_at,
             'snoozed_until', r.snoozed_until, 'done_at', r.done_at,
             'contact', c.display_name, 'deal', d.title, 'ticket', t.subject,
             'assignee', r.assignee, 'created_at', r.created_at, 'updated_ms', r.updated_ms"
                .to_owned(),
            "reminders",
            "LEFT JOIN contacts c ON c.id = r.contact_id AND c.deleted_at IS NULL
             LEFT JOIN deals d ON d.id = r.deal_id AND d.deleted_at IS NULL
             LEFT JOIN tickets t ON t.id = r.ticket_id AND t.deleted_at IS NULL",
        ),
    };
    let sql = format!(
        "SELECT json_object({object}) FROM json_each(?) j CROSS JOIN {table} r ON r.id = j.value {joins}
          WHERE r.deleted_at IS NULL ORDER BY j.key"
    );
    let rows: Vec<String> = sqlx::query_scalar(&sql)
        .bind(ids_json(ids))
        .fetch_all(conn)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| serde_json::from_str::<Map<String, Value>>(r).ok())
        .collect())
}

/// RFC 4180 records to a writer, counting bytes.
struct CsvWriter<'w, W: Write + ?Sized> {
    out: &'w mut W,
    bytes: u64,
    line: String,
}

impl<'w, W: Write + ?Sized> CsvWriter<'w, W> {
    fn new(out: &'w mut W) -> Self {
        CsvWriter {
            out,
            bytes: 0,
            line: String::new(),
        }
    }

    fn raw(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn record<'a>(&mut self, cells: impl Iterator<Item = &'a str>) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_field(&mut line, cell);
        }
        line.push_str("\r\n");
        let result = self.raw(line.as_bytes());
        self.line = line;
        result
    }
}

/// One field, quoted when RFC 4180 needs it (or a reader would trim it).
pub(crate) fn push_field(line: &mut String, cell: &str) {
    let quote = cell.contains([',', '"', '\r', '\n'])
        || cell.starts_with([' ', '\t'])
        || cell.ends_with([' ', '\t']);
    if quote {
        line.push('"');
        line.push_str(&cell.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::companies::{self, CompanyInput};
    use crate::contacts::{self, ContactInput, EmailEntry, PhoneEntry};
    use crate::custom_fields::{FieldInput, FieldType};
    use crate::filters::parse_filter;
    use crate::views::ViewInput;

    /// A small RFC 4180 reader for the tests (the CLI tests use the `csv` crate).
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        rows
    }

    fn as_maps(rows: &[Vec<String>]) -> Vec<BTreeMap<String, String>> {
        rows[1..]
            .iter()
            .map(|r| {
                assert_eq!(r.len(), rows[0].len(), "ragged row {r:?}");
                rows[0].iter().cloned().zip(r.iter().cloned()).collect()
            })
            .collect()
    }

    async fn export(
        store: &Store,
        entity: ListEntity,
        filter: &[&str],
        options: CsvOptions,
    ) -> (String, CsvSummary) {
        let filter =
            parse_filter(&filter.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let mut buf = Vec::new();
        let summary = csv(store, entity, &filter, None, options, &mut buf)
            .await
            .unwrap();
        assert_eq!(summary.bytes, buf.len() as u64);
        (String::from_utf8(buf).unwrap(), summary)
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut line = String::new();
        for cell in [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            " padded",
            "",
            "+4420",
        ] {
            push_field(&mut line, cell);
            line.push('|');
        }
        assert_eq!(
            line,
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\" padded\"||+4420|"
        );
    }

    #[test]
    fn list_entities_parse_in_both_numbers() {
        assert_eq!(ListEntity::parse("Contact").unwrap(), ListEntity::Contacts);
        assert_eq!(ListEntity::parse("company").unwrap(), ListEntity::Companies);
        assert_eq!(
            ListEntity::parse("reminders").unwrap(),
            ListEntity::Reminders
        );
        assert_eq!(ListEntity::parse("shoes").unwrap_err().code(), "validation");
    }

    #[tokio::test]
    async fn contacts_with_every_field_custom_fields_tags_and_typed_emails() {
        let store = Store::open_in_memory().await.unwrap();
        let acme = companies::create(
            &store,
            CompanyInput {
                name: "Acme, Inc.".into(),
                domain: Some("acme.example".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for (label, t, options) in [
            ("Budget", FieldType::Number, vec![]),
            ("Renewal", FieldType::Date, vec![]),
            ("Newsletter", FieldType::Checkbox, vec![]),
            (
                "Interests",
                FieldType::MultiSelect,
                vec!["Rockets".to_string(), "Anvils".to_string()],
            ),
        ] {
            custom_fields::add(
                &store,
                FieldInput {
                    entity: FieldEntity::Contact,
                    label: label.into(),
                    field_type: t,
                    options,
                },
            )
            .await
            .unwrap();
        }
        let ada = contacts::create(
            &store,
            ContactInput {
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                title: Some("Chief \"Engine\" Officer".into()),
                company_id: Some(acme.id),
                notes: Some("Line one\nline two, with a comma".into()),
                emails: vec![
                    EmailEntry {
                        kind: "work".into(),
                        address: "ada@acme.example".into(),
                    },
                    EmailEntry {
                        kind: "work".into(),
                        address: "ada.l@acme.example".into(),
                    },
                    EmailEntry {
                        kind: "home".into(),
                        address: "ada@home.example".into(),
                    },
                ],
                phones: vec![PhoneEntry {
                    kind: "mobile".into(),
                    number: "+44 20 7946 0958".into(),
                }],
                tags: vec!["VIP".into(), "board".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        custom_fields::set_values(
            &store,
            FieldEntity::Contact,
            ada.id,
            &[
                ("budget".into(), "1234.50".into()),
                ("renewal".into(), "2027-01-31".into()),
                ("newsletter".into(), "yes".into()),
                ("interests".into(), "anvils,rockets".into()),
            ],
        )
        .await
        .unwrap();
        contacts::create(
            &store,
            ContactInput {
                display_name: Some("Zoë Ångström".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();

        let (text, summary) =
            export(&store, ListEntity::Contacts, &[], CsvOptions::default()).await;
        assert!(text.ends_with("\r\n"));
        assert!(!text.starts_with('\u{feff}'));
        let rows = parse(&text);
        assert_eq!(rows[0], summary.columns);
        assert_eq!(summary.rows, 2);
        for h in [
            "id",
            "display_name",
            "company",
            "company.domain",
            "email:work",
            "email:work (2)",
            "email:home",
            "phone:mobile",
            "tags",
            "created_at",
            "custom:budget",
            "custom:renewal",
            "custom:newsletter",
            "custom:interests",
        ] {
            assert!(
                rows[0].iter().any(|c| c == h),
                "no column {h}: {:?}",
                rows[0]
            );
        }
        assert!(!rows[0].iter().any(|c| c == "email:other"));
        let maps = as_maps(&rows);
        // The list's order: by name.
        assert_eq!(maps[0]["display_name"], "Ada Lovelace");
        assert_eq!(maps[1]["display_name"], "Zoë Ångström");
        let a = &maps[0];
        assert_eq!(a["id"], ada.id.to_string());
        assert_eq!(a["title"], "Chief \"Engine\" Officer");
        assert_eq!(a["company"], "Acme, Inc.");
        assert_eq!(a["company.domain"], "acme.example");
        assert_eq!(a["email:work"], "ada@acme.example");
        assert_eq!(a["email:work (2)"], "ada.l@acme.example");
        assert_eq!(a["email:home"], "ada@home.example");
        assert_eq!(a["phone:mobile"], "+442079460958");
        assert_eq!(a["tags"], "board; VIP");
        assert_eq!(a["notes"], "Line one\nline two, with a comma");
        assert_eq!(a["lifecycle_stage"], "lead");
        assert_eq!(a["custom:budget"], "1234.5");
        assert_eq!(a["custom:renewal"], "2027-01-31");
        assert_eq!(a["custom:newsletter"], "true");
        assert_eq!(a["custom:interests"], "Rockets,Anvils");
        assert!(
            chrono::DateTime::parse_from_rfc3339(&a["created_at"]).is_ok(),
            "{}",
            a["created_at"]
        );
        assert!(chrono::DateTime::parse_from_rfc3339(&a["updated_at"]).is_ok());
        assert_eq!(maps[1]["email:work"], "");
        assert_eq!(maps[1]["custom:budget"], "");

        // A filtered list, with the Excel byte order mark.
        let (text, summary) = export(
            &store,
            ListEntity::Contacts,
            &["budget>1000"],
            CsvOptions { excel: true },
        )
        .await;
        assert!(text.starts_with('\u{feff}'));
        assert_eq!(summary.rows, 1);
        assert_eq!(as_maps(&parse(&text[3..]))[0]["first_name"], "Ada");
    }

    #[tokio::test]
    async fn a_saved_view_exports_its_filter_and_sort_and_deals_carry_money_exactly() {
        let store = Store::open_in_memory().await.unwrap();
        let mut deal_ids = Vec::new();
        for (title, amount, currency) in [
            ("Small", "99.99", "EUR"),
            ("Big", "1000000.01", "USD"),
            ("Yen", "5000", "JPY"),
        ] {
            let d = crate::deals::create(
                &store,
                crate::deals::DealInput {
                    title: title.into(),
                    amount: Some(amount.into()),
                    currency: Some(currency.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            deal_ids.push(d.summary.id);
        }
        views::save(
            &store,
            ViewInput {
                name: "Large deals".into(),
                entity: FieldEntity::Deal,
                filter: parse_filter(&["amount>=100".into()]).unwrap(),
                sort: Some(Sort::parse("-amount").unwrap()),
            },
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        let summary = csv_view(&store, "large DEALS", CsvOptions::default(), &mut buf)
            .await
            .unwrap();
        assert_eq!(summary.view.as_deref(), Some("Large deals"));
        assert_eq!(summary.entity, "deals");
        let maps = as_maps(&parse(&String::from_utf8(buf).unwrap()));
        let got: Vec<(&str, &str, &str)> = maps
            .iter()
            .map(|m| {
                (
                    m["deal.title"].as_str(),
                    m["deal.amount"].as_str(),
                    m["deal.currency"].as_str(),
                )
            })
            .collect();
        assert_eq!(got, [("Big", "1000000.01", "USD"), ("Yen", "5000", "JPY")]);
        assert_eq!(maps[0]["deal.status"], "open");
        assert!(!maps[0]["deal.stage"].is_empty());

        assert_eq!(
            csv_view(&store, "nope", CsvOptions::default(), &mut Vec::new())
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        // Reminders take no filter.
        let err = csv(
            &store,
            ListEntity::Reminders,
            &parse_filter(&["title=x".into()]).unwrap(),
            None,
            CsvOptions::default(),
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "validation");
    }

    #[tokio::test]
    async fn a_whole_list_is_in_the_same_order_as_the_filtered_list() {
        let store = Store::open_in_memory().await.unwrap();
        for name in ["bob", "Ada", "ada", "Zoë", "Émile", "carl"] {
            contacts::create(
                &store,
                ContactInput {
                    display_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            companies::create(
                &store,
                CompanyInput {
                    name: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            crate::deals::create(
                &store,
                crate::deals::DealInput {
                    title: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            crate::tickets::create(
                &store,
                crate::tickets::TicketInput {
                    subject: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        for entity in FieldEntity::ALL {
            let fast = filtered_ids(&store, entity, &Filter::default(), None)
                .await
                .unwrap();
            // A condition every record passes takes the filter's own path.
            let all = Filter {
                conditions: vec![filters::Condition {
                    field: "created_at".into(),
                    op: filters::Op::Gte,
                    value: Some("2000-01-01".into()),
                }],
            };
            let slow = filtered_ids(&store, entity, &all, None).await.unwrap();
            assert_eq!(fast.len(), 6, "{entity:?}");
            assert_eq!(fast, slow, "{entity:?}");
        }
    }

    #[tokio::test]
    async fn more_records_than_one_page_keep_their_order() {
        let store = Store::open_in_memory().await.unwrap();
        let n = ID_PAGE as usize + CHUNK + 3;
        contacts::create_many(
            &store,
            (0..n)
                .map(|i| ContactInput {
                    display_name: Some(format!("P{i:05}")),
                    ..Default::default()
                })
                .collect(),
        )
        .await
        .unwrap();
        let (text, summary) =
            export(&store, ListEntity::Contacts, &[], CsvOptions::default()).await;
        assert_eq!(summary.rows, n as u64);
        let names: Vec<String> = as_maps(&parse(&text))
            .into_iter()
            .map(|m| m["display_name"].clone())
            .collect();
        let expected: Vec<String> = (0..n).map(|i| format!("P{i:05}")).collect();
        assert_eq!(names, expected);
    }

    #[tokio::test]
    async fn companies_tickets_and_reminders_export_with_readable_links() {
        let store = Store::open_in_memory().await.unwrap();
        let acme = companies::create(
            &store,
            CompanyInput {
                name: "Acme".into(),
                domain: Some("acme.example".into()),
                city: Some("Zürich".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ada = contacts::create(
            &store,
            ContactInput {
                display_name: Some("Ada".into()),
                company_id: Some(acme.id),
                emails: vec![EmailEntry {
                    kind: "home".into(),
                    address: "ada@home.example".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        crate::tickets::create(
            &store,
            crate::tickets::TicketInput {
                subject: "Printer on fire".into(),
                contact_id: Some(ada.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        crate::reminders::add(
            &store,
            &crate::reminders::ReminderInput {
                title: "Call Ada".into(),
                due: "2026-12-01T09:00".into(),
                tz: Some("Europe/Zurich".into()),
                contact_id: Some(ada.id),
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();

        let (text, _) = export(&store, ListEntity::Companies, &[], CsvOptions::default()).await;
        let c = &as_maps(&parse(&text))[0];
        assert_eq!(
            (
                c["company"].as_str(),
                c["company.domain"].as_str(),
                c["company.city"].as_str()
            ),
            ("Acme", "acme.example", "Zürich")
        );
        let (text, _) = export(&store, ListEntity::Tickets, &[], CsvOptions::default()).await;
        let t = &as_maps(&parse(&text))[0];
        assert_eq!(t["subject"], "Printer on fire");
        assert_eq!(t["contact"], "Ada");
        assert_eq!(t["contact_email"], "ada@home.example");
        assert_eq!(t["company"], "Acme");
        let (text, _) = export(&store, ListEntity::Reminders, &[], CsvOptions::default()).await;
        let r = &as_maps(&parse(&text))[0];
        assert_eq!(r["title"], "Call Ada");
        assert_eq!(r["status"], "open");
        assert_eq!(r["tz"], "Europe/Zurich");
        assert_eq!(r["due_at"], "2026-12-01T08:00:00.000Z");
        assert_eq!(r["contact"], "Ada");
    }

    /// Export `entity` to a CSV file in `dir`, import that file into
    /// `into` through the import pipeline, and return both stores' exports.
    async fn round_trip(
        from: &Store,
        into: &Store,
        entity: ListEntity,
        dir: &std::path::Path,
    ) -> (Vec<BTreeMap<String, String>>, Vec<BTreeMap<String, String>>) {
        let path = dir.join(format!("{}.csv", entity.as_str()));
        let (text, _) = export(from, entity, &[], CsvOptions { excel: true }).await;
        std::fs::write(&path, &text).unwrap();
        let report = crate::import::csv::import_file(
            into,
            &path,
            &[],
            false,
            |_| {},
            &crate::import::CancelToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(report.error_count, 0, "{:?}", report.errors);
        let (again, _) = export(into, entity, &[], CsvOptions::default()).await;
        // Made anew in the other store: ids and times differ.
        let strip = |text: &str| {
            let mut maps = as_maps(&parse(text.trim_start_matches('\u{feff}')));
            for m in &mut maps {
                for k in ["id", "created_at", "updated_at"] {
                    m.remove(k);
                }
            }
            maps
        };
        (strip(&text), strip(&again))
    }

    async fn define(
        store: &Store,
        entity: FieldEntity,
        label: &str,
        t: FieldType,
        options: &[&str],
    ) {
        custom_fields::add(
            store,
            FieldInput {
                entity,
                label: label.into(),
                field_type: t,
                options: options.iter().map(|o| o.to_string()).collect(),
            },
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_contacts_csv_we_export_imports_into_an_empty_store_with_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let from = Store::open_in_memory().await.unwrap();
        let into = Store::open_in_memory().await.unwrap();
        for store in [&from, &into] {
            define(
                store,
                FieldEntity::Contact,
                "Budget",
                FieldType::Number,
                &[],
            )
            .await;
            define(store, FieldEntity::Contact, "Renewal", FieldType::Date, &[]).await;
            define(
                store,
                FieldEntity::Contact,
                "Newsletter",
                FieldType::Checkbox,
                &[],
            )
            .await;
            define(
                store,
                FieldEntity::Contact,
                "Interests",
                FieldType::MultiSelect,
                &["Rockets", "Anvils", "Tea"],
            )
            .await;
            define(
                store,
                FieldEntity::Contact,
                "Region",
                FieldType::Select,
                &["North", "South"],
            )
            .await;
        }
        let acme = companies::create(
            &from,
            CompanyInput {
                name: "Acme, \"Rockets\" Inc.".into(),
                domain: Some("acme.example".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ada = contacts::create(
            &from,
            ContactInput {
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                display_name: Some("Ada Lovelace".into()),
                title: Some("Head of \"Engines\", R&D".into()),
                company_id: Some(acme.id),
                lifecycle_stage: contacts::LifecycleStage::Customer,
                owner: Some("me".into()),
                source: Some("Referral".into()),
                notes: Some("Two lines,\nwith a comma; and a semicolon".into()),
                emails: vec![
                    EmailEntry {
                        kind: "work".into(),
                        address: "ada@acme.example".into(),
                    },
                    EmailEntry {
                        kind: "home".into(),
                        address: "ada@home.example".into(),
                    },
                ],
                phones: vec![
                    PhoneEntry {
                        kind: "mobile".into(),
                        number: "+44 20 7946 0958".into(),
                    },
                    PhoneEntry {
                        kind: "work".into(),
                        number: "+1 650 253 0000".into(),
                    },
                ],
                tags: vec!["VIP".into(), "Board member".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        custom_fields::set_values(
            &from,
            FieldEntity::Contact,
            ada.id,
            &[
                ("budget".into(), "-1234.5678".into()),
                ("renewal".into(), "2027-02-28".into()),
                ("newsletter".into(), "yes".into()),
                ("interests".into(), "tea,rockets".into()),
                ("region".into(), "south".into()),
            ],
        )
        .await
        .unwrap();
        crate::contact_details::set(
            &from,
            ada.id,
            &crate::contact_details::ContactDetails {
                birthday: Some("1815-12-10".into()),
                website: Some("https://ada.example/engines".into()),
                photo: None,
                addresses: vec![crate::contact_details::AddressEntry {
                    kind: "home".into(),
                    street: Some("12 St James's Square, Flat 3".into()),
                    city: Some("London".into()),
                    region: None,
                    postal_code: Some("SW1Y 4JH".into()),
                    country: Some("GB".into()),
                }],
            },
        )
        .await
        .unwrap();
        contacts::create(
            &from,
            ContactInput {
                display_name: Some("Zoë Ångström-Ølsen".into()),
                first_name: Some("Zoë".into()),
                last_name: Some("Ångström-Ølsen".into()),
                emails: vec![EmailEntry {
                    kind: "other".into(),
                    address: "zoe@example.se".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        contacts::create(
            &from,
            ContactInput {
                display_name: Some("Bob Phone-Only".into()),
                phones: vec![PhoneEntry {
                    kind: "home".into(),
                    number: "+33 6 12 34 56 78".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();

        let (mut before, after) = round_trip(&from, &into, ListEntity::Contacts, dir.path()).await;
        assert_eq!(before.len(), 3);
        // The one value the import adds: a new contact without a source
        // is marked as imported.
        for row in &mut before {
            if row["source"].is_empty() {
                row.insert("source".into(), "import".into());
            }
        }
        assert_eq!(before, after);
        assert_eq!(after[0]["custom:interests"], "Rockets,Tea");
        assert_eq!(after[0]["birthday"], "1815-12-10");
        assert_eq!(
            after[0]["address:home.street"],
            "12 St James's Square, Flat 3"
        );
        assert_eq!(after[0]["address:home.postal_code"], "SW1Y 4JH");
        assert_eq!(after[0]["company"], "Acme, \"Rockets\" Inc.");

        // Importing the same file again changes nothing; reverting the
        // first import leaves the data as it was before (the full JSON
        // export, less the import's own history, is the same bytes).
        let path = dir.path().join("contacts.csv");
        let report = crate::import::csv::import_file(
            &into,
            &path,
            &[],
            false,
            |_| {},
            &crate::import::CancelToken::new(),
        )
        .await
        .unwrap();
        assert_eq!((report.created, report.updated), (0, 0), "{report:?}");
        let history = crate::export::JsonOptions {
            exclude: vec!["import".into(), "import_batch".into()],
        };
        let snapshot = |store: &Store| {
            let store = store.clone();
            let history = history.clone();
            async move {
                let mut buf = Vec::new();
                crate::export::json_with(&store, &history, &mut buf)
                    .await
                    .unwrap();
                buf
            }
        };
        let fresh = Store::open_in_memory().await.unwrap();
        for (entity, label, t, options) in [
            (FieldEntity::Contact, "Budget", FieldType::Number, &[][..]),
            (FieldEntity::Contact, "Renewal", FieldType::Date, &[]),
            (FieldEntity::Contact, "Newsletter", FieldType::Checkbox, &[]),
            (
                FieldEntity::Contact,
                "Interests",
                FieldType::MultiSelect,
                &["Rockets", "Anvils", "Tea"],
            ),
            (
                FieldEntity::Contact,
                "Region",
                FieldType::Select,
                &["North", "South"],
            ),
        ] {
            define(&fresh, entity, label, t, options).await;
        }
        let before_import = snapshot(&fresh).await;
        let report = crate::import::csv::import_file(
            &fresh,
            &path,
            &[],
            false,
            |_| {},
            &crate::import::CancelToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(report.created, 3);
        assert_ne!(snapshot(&fresh).await, before_import);
        crate::import::revert(&fresh, report.import_id.unwrap())
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(snapshot(&fresh).await).unwrap(),
            String::from_utf8(before_import).unwrap()
        );
    }

    #[tokio::test]
    async fn a_companies_csv_and_a_deals_csv_import_back_with_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let from = Store::open_in_memory().await.unwrap();
        let into = Store::open_in_memory().await.unwrap();
        for store in [&from, &into] {
            define(
                store,
                FieldEntity::Company,
                "Employees",
                FieldType::Number,
                &[],
            )
            .await;
            define(store, FieldEntity::Deal, "Source", FieldType::Text, &[]).await;
        }
        let acme = companies::create(
            &from,
            CompanyInput {
                name: "Acme".into(),
                domain: Some("acme.example".into()),
                industry: Some("Rockets".into()),
                city: Some("Zürich".into()),
                country: Some("CH".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        custom_fields::set_values(
            &from,
            FieldEntity::Company,
            acme.id,
            &[("employees".into(), "250".into())],
        )
        .await
        .unwrap();
        let (before, after) = round_trip(&from, &into, ListEntity::Companies, dir.path()).await;
        assert_eq!(before.len(), 1);
        // Company tags are not an import field: compare everything else.
        assert_eq!(before, after);

        let ada = contacts::create(
            &from,
            ContactInput {
                display_name: Some("Ada".into()),
                company_id: Some(acme.id),
                emails: vec![EmailEntry {
                    kind: "work".into(),
                    address: "ada@acme.example".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let deal = crate::deals::create(
            &from,
            crate::deals::DealInput {
                title: "Rocket fuel, 12 barrels".into(),
                contact_id: Some(ada.id),
                amount: Some("12500.50".into()),
                currency: Some("EUR".into()),
                expected_close: Some("2027-03-31".into()),
                notes: Some("Call before \"Q1\"".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        custom_fields::set_values(
            &from,
            FieldEntity::Deal,
            deal.summary.id,
            &[("source".into(), "Trade fair".into())],
        )
        .await
        .unwrap();
        let (before, after) = round_trip(&from, &into, ListEntity::Deals, dir.path()).await;
        assert_eq!(before.len(), 1);
        assert_eq!(before, after);
        assert_eq!(after[0]["deal.amount"], "12500.50");
        assert_eq!(after[0]["email"], "ada@acme.example");
    }
}
