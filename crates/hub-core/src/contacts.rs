//! Contacts: the people a business works with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, Fields, WriteTx};
use crate::companies::{self, parse_time, text};
use crate::email::Email;
use crate::entities::{CONTACT, CONTACT_EMAIL, CONTACT_PHONE};
use crate::error::{Error, FieldError, Result};
use crate::phone::{Phone, Region};
use crate::search;
use crate::store::Store;
use crate::tags;

pub const EMAIL_KINDS: [&str; 3] = ["work", "home", "other"];
pub const PHONE_KINDS: [&str; 4] = ["mobile", "work", "home", "other"];
const MAX_NAME: usize = 200;
const MAX_NOTES: usize = 100_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum LifecycleStage {
    #[default]
    Lead,
    Prospect,
    Customer,
    Churned,
}

impl LifecycleStage {
    pub const ALL: [LifecycleStage; 4] = [
        LifecycleStage::Lead,
        LifecycleStage::Prospect,
        LifecycleStage::Customer,
        LifecycleStage::Churned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Lead => "lead",
            LifecycleStage::Prospect => "prospect",
            LifecycleStage::Customer => "customer",
            LifecycleStage::Churned => "churned",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_lowercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == t)
            .ok_or_else(|| {
                Error::invalid(
                    "lifecycle_stage",
                    format!(
                        "\"{text}\" is not a lifecycle stage (lead, prospect, customer, churned)"
                    ),
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EmailEntry {
    pub kind: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PhoneEntry {
    pub kind: String,
    /// E.164 when stored; as typed in input.
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CompanyRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Contact {
    pub id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub title: Option<String>,
    pub company: Option<CompanyRef>,
    pub lifecycle_stage: LifecycleStage,
    pub owner: Option<String>,
    pub source: Option<String>,
    pub notes: Option<String>,
    pub emails: Vec<EmailEntry>,
    pub phones: Vec<PhoneEntry>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a form or the CLI submits to create or (fully) replace a contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// Defaults to "first last".
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// An existing company; wins over `company_name`.
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// Link to the company with this name, creating it when there is none.
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: LifecycleStage,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub emails: Vec<EmailEntry>,
    #[serde(default)]
    pub phones: Vec<PhoneEntry>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl From<&Contact> for ContactInput {
    fn from(c: &Contact) -> Self {
        ContactInput {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            display_name: Some(c.display_name.clone()),
            title: c.title.clone(),
            company_id: c.company.as_ref().map(|co| co.id),
            company_name: None,
            lifecycle_stage: c.lifecycle_stage,
            owner: c.owner.clone(),
            source: c.source.clone(),
            notes: c.notes.clone(),
            emails: c.emails.clone(),
            phones: c.phones.clone(),
            tags: c.tags.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactQuery {
    /// Search as you type: every word must prefix-match a name, email,
    /// phone, title, company name or domain.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub offset: u32,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

/// One row of the contact list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactSummary {
    pub id: Uuid,
    pub display_name: String,
    pub title: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactPage {
    /// Matches, at most [`SEARCH_CAP`] when searching.
    pub total: u32,
    /// True when a search has more than [`SEARCH_CAP`] matches.
    pub capped: bool,
    pub items: Vec<ContactSummary>,
}

/// A checked, normalised input, ready for the write path.
struct Valid {
    fields: Fields,
    company: CompanyChoice,
    emails: Vec<EmailEntry>,
    phones: Vec<PhoneEntry>,
    tags: Vec<String>,
}

enum CompanyChoice {
    None,
    Id(Uuid),
    Name(String),
}

fn validate(input: &ContactInput, region: Region) -> Result<Valid> {
    let mut errors = Vec::new();
    let first = text(&input.first_name);
    let last = text(&input.last_name);
    let joined = [first.as_deref(), last.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let display = text(&input.display_name).or_else(|| (!joined.is_empty()).then_some(joined));
    match &display {
        None => errors.push(FieldError::new("display_name", "A contact needs a name")),
        Some(n) if n.chars().count() > MAX_NAME => errors.push(FieldError::new(
            "display_name",
            format!("Names are at most {MAX_NAME} characters"),
        )),
        _ => {}
    }
    for (field, value) in [
        ("first_name", &first),
        ("last_name", &last),
        ("title", &text(&input.title)),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_NAME) {
            errors.push(FieldError::new(
                field,
                format!("At most {MAX_NAME} characters"),
            ));
        }
    }
    let notes = input
        .notes
        .as_deref()
        .map(str::trim_end)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned);
    if notes.as_ref().is_some_and(|n| n.len() > MAX_NOTES) {
        errors.push(FieldError::new(
            "notes",
            "Notes are at most 100,000 characters",
        ));
    }

    let mut emails: Vec<EmailEntry> = Vec::new();
    for (i, e) in input.emails.iter().enumerate() {
        if e.address.trim().is_empty() {
            continue; // an empty row left in a form
        }
        let field = format!("emails[{i}]");
        let kind = e.kind.trim().to_lowercase();
        if !EMAIL_KINDS.contains(&kind.as_str()) {
            errors.push(FieldError::new(
                &field,
                format!("Email type must be one of {}", EMAIL_KINDS.join(", ")),
            ));
            continue;
        }
        match Email::parse(&e.address) {
            Ok(email)
                if emails
                    .iter()
                    .any(|x| x.address.eq_ignore_ascii_case(email.as_str())) =>
            {
                errors.push(FieldError::new(&field, format!("{email} is listed twice")))
            }
            Ok(email) => emails.push(EmailEntry {
                kind,
                address: email.to_string(),
            }),
            Err(message) => errors.push(FieldError::new(&field, message)),
        }
    }
    let mut phones: Vec<PhoneEntry> = Vec::new();
    for (i, p) in input.phones.iter().enumerate() {
        if p.number.trim().is_empty() {
            continue;
        }
        let field = format!("phones[{i}]");
        let kind = p.kind.trim().to_lowercase();
        if !PHONE_KINDS.contains(&kind.as_str()) {
            errors.push(FieldError::new(
                &field,
                format!("Phone type must be one of {}", PHONE_KINDS.join(", ")),
            ));
            continue;
        }
        match Phone::parse(&p.number, region) {
            Ok(phone) if phones.iter().any(|x| x.number == phone.e164()) => errors.push(
                FieldError::new(&field, format!("{} is listed twice", phone.e164())),
            ),
            Ok(phone) => phones.push(PhoneEntry {
                kind,
                number: phone.e164().to_owned(),
            }),
            Err(message) => errors.push(FieldError::new(&field, message)),
        }
    }
    let tags = tags::clean_names(&input.tags, "tags").unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    });
    let company = match (input.company_id, text(&input.company_name)) {
        (Some(id), _) => CompanyChoice::Id(id),
        (None, Some(name)) if name.chars().count() > MAX_NAME => {
            errors.push(FieldError::new(
                "company_name",
                format!("At most {MAX_NAME} characters"),
            ));
            CompanyChoice::None
        }
        (None, Some(name)) => CompanyChoice::Name(name),
        (None, None) => CompanyChoice::None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(Valid {
        fields: vec![
            ("first_name", json!(first)),
            ("last_name", json!(last)),
            ("display_name", json!(display)),
            ("title", json!(text(&input.title))),
            ("lifecycle_stage", json!(input.lifecycle_stage.as_str())),
            ("owner", json!(text(&input.owner))),
            ("source", json!(text(&input.source))),
            ("notes", json!(notes)),
        ],
        company,
        emails,
        phones,
        tags,
    })
}

/// One query for a whole batch: every company picked by id must be live.
async fn check_companies_live(tx: &mut WriteTx, valid: &[Valid]) -> Result<()> {
    let mut ids: Vec<String> = valid
        .iter()
        .filter_map(|v| match v.company {
            CompanyChoice::Id(id) => Some(id.to_string()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let missing: Option<String> = sqlx::query_scalar(
        "SELECT j.value FROM json_each(?) j
          WHERE NOT EXISTS (SELECT 1 FROM companies co WHERE co.id = j.value AND co.deleted_at IS NULL) LIMIT 1",
    )
    .bind(serde_json::to_string(&ids).unwrap_or_default())
    .fetch_optional(tx.conn())
    .await?;
    match missing {
        Some(id) => Err(Error::invalid(
            "company_id",
            format!("no company with id {id}"),
        )),
        None => Ok(()),
    }
}

async fn resolve_company(tx: &mut WriteTx, choice: &CompanyChoice) -> Result<Value> {
    Ok(match choice {
        CompanyChoice::None => Value::Null,
        CompanyChoice::Id(id) => {
            let live: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM companies WHERE id = ? AND deleted_at IS NULL")
                    .bind(id.to_string())
                    .fetch_optional(tx.conn())
                    .await?;
            if live.is_none() {
                return Err(Error::invalid(
                    "company_id",
                    format!("no company with id {id}"),
                ));
            }
            json!(id.to_string())
        }
        CompanyChoice::Name(name) => json!(companies::find_or_create_by_name(tx, name)
            .await?
            .to_string()),
    })
}

fn email_rows(contact: Uuid, emails: &[EmailEntry]) -> Vec<(Uuid, Fields)> {
    emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                Uuid::now_v7(),
                vec![
                    ("contact_id", json!(contact.to_string())),
                    ("kind", json!(e.kind)),
                    ("address", json!(e.address)),
                    ("position", json!(i)),
                ],
            )
        })
        .collect()
}

fn phone_rows(contact: Uuid, phones: &[PhoneEntry]) -> Vec<(Uuid, Fields)> {
    phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                Uuid::now_v7(),
                vec![
                    ("contact_id", json!(contact.to_string())),
                    ("kind", json!(p.kind)),
                    ("number", json!(p.number)),
                    ("position", json!(i)),
                ],
            )
        })
        .collect()
}

pub async fn create(store: &Store, input: ContactInput) -> Result<Contact> {
    let ids = create_many(store, vec![input]).await?;
    get(store, ids[0]).await
}

/// Create many contacts in one transaction through the bulk write path
/// (imports, demo data). All inputs are checked before anything is written.
pub async fn create_many(store: &Store, inputs: Vec<ContactInput>) -> Result<Vec<Uuid>> {
    let region = store.default_region();
    let valid = inputs
        .iter()
        .map(|i| validate(i, region))
        .collect::<Result<Vec<_>>>()?;
    let mut tx = store.write().await?;
    check_companies_live(&mut tx, &valid).await?;
    let now = now_rfc3339();
    let (mut contacts, mut emails, mut phones, mut tagged) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ids = Vec::with_capacity(valid.len());
    for v in valid {
        let id = Uuid::now_v7();
        let company = match &v.company {
            CompanyChoice::None => Value::Null,
            CompanyChoice::Id(company) => json!(company.to_string()),
            CompanyChoice::Name(name) => json!(companies::find_or_create_by_name(&mut tx, name)
                .await?
                .to_string()),
        };
        let mut fields = v.fields;
        fields.push(("company_id", company));
        fields.push(("created_at", json!(now)));
        contacts.push((id, fields));
        emails.extend(email_rows(id, &v.emails));
        phones.extend(phone_rows(id, &v.phones));
        if !v.tags.is_empty() {
            tagged.push((id, v.tags));
        }
        ids.push(id);
    }
    tx.insert_many(&CONTACT, contacts).await?;
    tx.insert_many(&CONTACT_EMAIL, emails).await?;
    tx.insert_many(&CONTACT_PHONE, phones).await?;
    tags::add_to_new_contacts(&mut tx, tagged).await?;
    tx.commit().await?;
    Ok(ids)
}

/// Replace a contact with `input`. Only fields that really change are
/// written, so concurrent edits of other fields on other devices survive.
pub async fn update(store: &Store, id: Uuid, input: ContactInput) -> Result<Contact> {
    let v = validate(&input, store.default_region())?;
    let mut tx = store.write().await?;
    ensure_live(tx.conn(), id).await?;
    let mut fields = v.fields;
    fields.push(("company_id", resolve_company(&mut tx, &v.company).await?));
    tx.update(&CONTACT, id, fields).await?;

    let current: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT id, kind, address, position FROM contact_emails WHERE contact_id = ? AND deleted_at IS NULL",
    )
    .bind(id.to_string())
    .fetch_all(tx.conn())
    .await?;
    let wanted: Vec<(String, String)> = v
        .emails
        .iter()
        .map(|e| (e.kind.clone(), e.address.clone()))
        .collect();
    reconcile(
        &mut tx,
        &CONTACT_EMAIL,
        "address",
        id,
        current,
        wanted,
        |a, b| a.eq_ignore_ascii_case(b),
    )
    .await?;

    let current: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT id, kind, number, position FROM contact_phones WHERE contact_id = ? AND deleted_at IS NULL",
    )
    .bind(id.to_string())
    .fetch_all(tx.conn())
    .await?;
    let wanted: Vec<(String, String)> = v
        .phones
        .iter()
        .map(|p| (p.kind.clone(), p.number.clone()))
        .collect();
    reconcile(
        &mut tx,
        &CONTACT_PHONE,
        "number",
        id,
        current,
        wanted,
        |a, b| a == b,
    )
    .await?;

    tags::set_for_contact(&mut tx, id, &v.tags).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Make a contact's live email or phone rows match `wanted` (kind, value):
/// rows whose value is kept are updated in place (so their history and
/// clocks carry on), the rest are deleted or inserted.
async fn reconcile(
    tx: &mut WriteTx,
    entity: &'static crate::entities::EntityDef,
    value_field: &'static str,
    contact: Uuid,
    current: Vec<(String, String, String, i64)>,
    wanted: Vec<(String, String)>,
    same: impl Fn(&str, &str) -> bool,
) -> Result<()> {
    let mut unmatched: Vec<(Uuid, String)> = Vec::new();
    let mut kept: Vec<Option<Uuid>> = vec![None; wanted.len()];
    for (row_id, _, value, _) in &current {
        let row = Uuid::parse_str(row_id).map_err(|_| Error::not_found(entity.name, row_id))?;
        match wanted
            .iter()
            .enumerate()
            .position(|(i, (_, w))| kept[i].is_none() && same(w, value))
        {
            Some(i) => kept[i] = Some(row),
            None => unmatched.push((row, value.clone())),
        }
    }
    for (row, _) in unmatched {
        tx.delete(entity, row).await?;
    }
    let mut new_rows = Vec::new();
    for (i, (kind, value)) in wanted.into_iter().enumerate() {
        let fields: Fields = vec![
            ("kind", json!(kind)),
            (value_field, json!(value)),
            ("position", json!(i)),
        ];
        match kept[i] {
            Some(row) => {
                tx.update(entity, row, fields).await?;
            }
            None => {
                let mut fields = fields;
                fields.push(("contact_id", json!(contact.to_string())));
                new_rows.push((Uuid::now_v7(), fields));
            }
        }
    }
    tx.insert_many(entity, new_rows).await
}

pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    ensure_live(tx.conn(), id).await?;
    tx.delete(&CONTACT, id).await?;
    tx.commit().await
}

async fn ensure_live(conn: &mut SqliteConnection, id: Uuid) -> Result<()> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM contacts WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    live.map(|_| ())
        .ok_or_else(|| Error::not_found("contact", id))
}

#[derive(sqlx::FromRow)]
struct Row {
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    title: Option<String>,
    company_id: Option<String>,
    company_name: Option<String>,
    lifecycle_stage: Option<String>,
    owner: Option<String>,
    source: Option<String>,
    notes: Option<String>,
    created_at: Option<String>,
    updated_ms: i64,
}

pub async fn get(store: &Store, id: Uuid) -> Result<Contact> {
    let mut conn = store.pool().acquire().await?;
    let row = sqlx::query_as::<_, Row>(
        "SELECT c.id, c.first_name, c.last_name, c.display_name, c.title, co.id AS company_id,
                co.name AS company_name, c.lifecycle_stage, c.owner, c.source, c.notes, c.created_at,
                max(c.updated_ms,
                    coalesce((SELECT max(updated_ms) FROM contact_emails WHERE contact_id = c.id), 0),
                    coalesce((SELECT max(updated_ms) FROM contact_phones WHERE contact_id = c.id), 0),
                    coalesce((SELECT max(updated_ms) FROM contact_tags WHERE contact_id = c.id), 0)) AS updated_ms
           FROM contacts c
           LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
          WHERE c.id = ? AND c.deleted_at IS NULL",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("contact", id))?;

    let emails: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, address FROM contact_emails WHERE contact_id = ? AND deleted_at IS NULL ORDER BY position, rk",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let phones: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, number FROM contact_phones WHERE contact_id = ? AND deleted_at IS NULL ORDER BY position, rk",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let tags = tags::names_of(&mut conn, id).await?;
    let created_at = parse_time(row.created_at.as_deref());
    Ok(Contact {
        id,
        first_name: row.first_name,
        last_name: row.last_name,
        display_name: row.display_name.unwrap_or_default(),
        title: row.title,
        company: match (row.company_id, row.company_name) {
            (Some(cid), Some(name)) => Uuid::parse_str(&cid).ok().map(|id| CompanyRef { id, name }),
            _ => None,
        },
        lifecycle_stage: row
            .lifecycle_stage
            .as_deref()
            .and_then(|s| LifecycleStage::parse(s).ok())
            .unwrap_or_default(),
        owner: row.owner,
        source: row.source,
        notes: row.notes,
        emails: emails
            .into_iter()
            .map(|(kind, address)| EmailEntry { kind, address })
            .collect(),
        phones: phones
            .into_iter()
            .map(|(kind, number)| PhoneEntry { kind, number })
            .collect(),
        tags,
        created_at,
        updated_at: DateTime::from_timestamp_millis(row.updated_ms).unwrap_or(created_at),
    })
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    display_name: Option<String>,
    title: Option<String>,
    company_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    lifecycle_stage: Option<String>,
    tags: String,
    rk: i64,
}

const SUMMARY_COLUMNS: &str = "c.id, c.display_name, c.title, co.name AS company_name,
    (SELECT address FROM contact_emails e WHERE e.contact_id = c.id AND e.deleted_at IS NULL ORDER BY position, rk LIMIT 1) AS email,
    (SELECT number FROM contact_phones p WHERE p.contact_id = c.id AND p.deleted_at IS NULL ORDER BY position, rk LIMIT 1) AS phone,
    c.lifecycle_stage,
    (SELECT json_group_array(t.name) FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
      WHERE ct.contact_id = c.id AND ct.deleted_at IS NULL AND t.deleted_at IS NULL) AS tags";

/// Searches stop counting here: past it the list says "500+" and the user
/// types on. Counting and sorting every hit of a one-letter prefix across
/// 100k contacts is what would make search-as-you-type lag.
pub const SEARCH_CAP: u32 = 500;

/// A page of live contacts in name order, optionally searched and filtered.
pub async fn list(store: &Store, query: &ContactQuery) -> Result<ContactPage> {
    let matcher = query.search.as_deref().and_then(search::match_expression);
    let tag = text(&query.tag).map(|t| tags::tag_id(&t).to_string());
    let company = query.company_id.map(|c| c.to_string());
    // Only the filters in use are written into the SQL: an `?2 IS NULL OR ...`
    // form makes SQLite plan for the worst case and scan every contact.
    let mut filters = String::from("c.deleted_at IS NULL");
    if tag.is_some() {
        filters.push_str(
            // INDEXED BY: a contact has a few tags, a tag may have thousands of
            // contacts; without statistics SQLite would walk the tag's links.
            " AND EXISTS (SELECT 1 FROM contact_tags ct INDEXED BY contact_tags_contact
                           WHERE ct.contact_id = c.id
                           AND ct.tag_id = ?2 AND ct.deleted_at IS NULL)",
        );
    } else {
        filters.push_str(" AND ?2 IS NULL");
    }
    if company.is_some() {
        filters.push_str(" AND c.company_id = ?3");
    } else {
        filters.push_str(" AND ?3 IS NULL");
    }
    let mut conn = store.pool().acquire().await?;
    let (total, capped, rows): (u32, bool, Vec<SummaryRow>) = if matcher.is_some() {
        // One pass over the index: up to CAP+1 hits with their names, sorted
        // and paged here; then the page's rows are read by rowid.
        let hits_sql = format!(
            "SELECT c.rk, c.display_name FROM contact_search s JOIN contacts c ON c.rk = s.rowid
              WHERE contact_search MATCH ?1 AND {filters} LIMIT {}",
            SEARCH_CAP + 1
        );
        let mut hits: Vec<(i64, Option<String>)> = sqlx::query_as(&hits_sql)
            .bind(&matcher)
            .bind(&tag)
            .bind(&company)
            .fetch_all(&mut *conn)
            .await
            .or_else(|e| match &e {
                // Text the FTS5 query language cannot take (a rare script
                // whose marks split a word differently) finds nothing, not an error.
                sqlx::Error::Database(db) if db.message().starts_with("fts5") => Ok(Vec::new()),
                _ => Err(e),
            })?;
        let capped = hits.len() > SEARCH_CAP as usize;
        hits.truncate(SEARCH_CAP as usize);
        let mut keyed: Vec<(String, i64)> = hits
            .into_iter()
            .map(|(rk, name)| (name.unwrap_or_default().to_lowercase(), rk))
            .collect();
        keyed.sort();
        let page: Vec<i64> = keyed
            .iter()
            .skip(query.offset as usize)
            .take(query.limit.min(1000) as usize)
            .map(|(_, rk)| *rk)
            .collect();
        let mut rows: Vec<(i64, SummaryRow)> = Vec::with_capacity(page.len());
        if !page.is_empty() {
            let found: Vec<SummaryRow> = sqlx::query_as(&format!(
                "SELECT {SUMMARY_COLUMNS}, c.rk FROM json_each(?) j CROSS JOIN contacts c ON c.rk = j.value
                   LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL"
            ))
            .bind(serde_json::to_string(&page).unwrap_or_default())
            .fetch_all(&mut *conn)
            .await?;
            rows = found.into_iter().map(|r| (r.rk, r)).collect();
            rows.sort_by_key(|(rk, _)| page.iter().position(|p| p == rk));
        }
        (
            keyed.len() as u32,
            capped,
            rows.into_iter().map(|(_, r)| r).collect(),
        )
    } else {
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM contacts c WHERE ?1 IS NULL AND {filters}"
        ))
        .bind(&matcher)
        .bind(&tag)
        .bind(&company)
        .fetch_one(&mut *conn)
        .await?;
        // The page is picked by rk first so the per-row subqueries run for
        // the page's rows only.
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "WITH page AS (
                SELECT c.rk FROM contacts c WHERE ?1 IS NULL AND {filters}
                 ORDER BY c.display_name COLLATE NOCASE, c.id LIMIT ?4 OFFSET ?5)
             SELECT {SUMMARY_COLUMNS}, c.rk FROM page JOIN contacts c ON c.rk = page.rk
               LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
              ORDER BY c.display_name COLLATE NOCASE, c.id"
        ))
        .bind(&matcher)
        .bind(&tag)
        .bind(&company)
        .bind(query.limit.min(1000) as i64)
        .bind(query.offset as i64)
        .fetch_all(&mut *conn)
        .await?;
        (total as u32, false, rows)
    };
    let items = rows
        .into_iter()
        .map(|r| ContactSummary {
            id: Uuid::parse_str(&r.id).unwrap_or_default(),
            display_name: r.display_name.unwrap_or_default(),
            title: r.title,
            company_name: r.company_name,
            email: r.email,
            phone: r.phone,
            lifecycle_stage: r
                .lifecycle_stage
                .as_deref()
                .and_then(|s| LifecycleStage::parse(s).ok())
                .unwrap_or_default(),
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
        })
        .collect();
    Ok(ContactPage {
        total,
        capped,
        items,
    })
}

/// Live contact count.
pub async fn count(store: &Store) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE deleted_at IS NULL")
        .fetch_one(store.pool())
        .await?;
    Ok(n as u64)
}
