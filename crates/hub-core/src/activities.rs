//! Logged activities: calls, emails, meetings and notes on a contact, a
//! company and/or a deal. They make up most of a record's timeline
//! ([`crate::timeline`]) and a logged call, email or meeting moves the
//! contact's stay-in-touch date ([`crate::stay_in_touch`]).
//!
//! Links: at least one of contact, company, deal, each a live record. When a
//! new activity names a deal but no contact, it is also linked to the deal's
//! contact; when it names no company, to the contact's company (else the
//! deal's). So a call logged on a deal shows on the person's and the
//! company's timeline too, and counts as touching base with the person.
//! These defaults apply when logging only; an edit keeps the links it is given.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, Fields};
use crate::companies::text;
use crate::entities::ACTIVITY;
use crate::error::{Error, FieldError, Result};
use crate::store::Store;
use crate::users;

pub const MAX_SUBJECT: usize = 500;
pub const MAX_BODY: usize = 100_000;
pub const MAX_LOCATION: usize = 500;
/// A call or meeting longer than a day is a typing mistake.
pub const MAX_DURATION_S: u32 = 24 * 3600;

/// What was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ActivityKind {
    Call,
    Email,
    Meeting,
    Note,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 4] = [
        ActivityKind::Call,
        ActivityKind::Email,
        ActivityKind::Meeting,
        ActivityKind::Note,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Email => "email",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Note => "note",
        }
    }

    /// Calls, emails and meetings are interactions with the person (they
    /// reset stay-in-touch); a note is not.
    pub fn is_interaction(self) -> bool {
        !matches!(self, ActivityKind::Note)
    }

    pub fn parse(text: &str) -> Result<Self> {
        parse_word(text, &Self::ALL, Self::as_str, "kind", "an activity kind")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::Inbound, Direction::Outbound];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        // "in"/"out" are what people type.
        match text.trim().to_lowercase().as_str() {
            "in" => Ok(Direction::Inbound),
            "out" => Ok(Direction::Outbound),
            _ => parse_word(text, &Self::ALL, Self::as_str, "direction", "a direction"),
        }
    }
}

/// How a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CallOutcome {
    Connected,
    NoAnswer,
    LeftVoicemail,
    Busy,
    WrongNumber,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 5] = [
        CallOutcome::Connected,
        CallOutcome::NoAnswer,
        CallOutcome::LeftVoicemail,
        CallOutcome::Busy,
        CallOutcome::WrongNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Connected => "connected",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::LeftVoicemail => "left_voicemail",
            CallOutcome::Busy => "busy",
            CallOutcome::WrongNumber => "wrong_number",
        }
    }

    /// Accepts `no-answer`, `No answer` and `no_answer` alike.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_lowercase().replace(['-', ' '], "_");
        parse_word(&t, &Self::ALL, Self::as_str, "outcome", "a call outcome")
            .map_err(|_| word_error(text, &Self::ALL, Self::as_str, "outcome", "a call outcome"))
    }
}

/// Parse one of a fixed set of lower-case words, or a field error listing them.
pub(crate) fn parse_word<T: Copy>(
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    field: &str,
    what: &str,
) -> Result<T> {
    let t = text.trim().to_lowercase();
    all.iter()
        .copied()
        .find(|v| name(*v) == t)
        .ok_or_else(|| word_error(text, all, name, field, what))
}

fn word_error<T: Copy>(
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    field: &str,
    what: &str,
) -> Error {
    let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
    Error::invalid(
        field,
        format!("\"{}\" is not {what} ({})", text.trim(), names.join(", ")),
    )
}

/// A linked record with the name to show for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RecordRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Activity {
    pub id: Uuid,
    pub kind: ActivityKind,
    pub contact: Option<RecordRef>,
    pub company: Option<RecordRef>,
    /// `name` is the deal's title.
    pub deal: Option<RecordRef>,
    pub occurred_at: DateTime<Utc>,
    pub direction: Option<Direction>,
    pub duration_s: Option<u32>,
    pub outcome: Option<CallOutcome>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub location: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a form or the CLI submits to log (or fully replace) an activity.
///
/// Per kind: a call takes direction (default outbound), duration, outcome,
/// subject and body (the call notes); an email takes subject and/or body and
/// direction (default outbound); a meeting needs a subject and takes
/// duration, location and body; a note needs a body. Fields a kind does not
/// take are refused, not silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ActivityInput {
    pub kind: ActivityKind,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub deal_id: Option<Uuid>,
    /// When it happened (a meeting: when it starts); default now.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub duration_s: Option<u32>,
    #[serde(default)]
    pub outcome: Option<CallOutcome>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

impl ActivityInput {
    pub fn new(kind: ActivityKind) -> Self {
        ActivityInput {
            kind,
            contact_id: None,
            company_id: None,
            deal_id: None,
            occurred_at: None,
            direction: None,
            duration_s: None,
            outcome: None,
            subject: None,
            body: None,
            location: None,
        }
    }
}

impl From<&Activity> for ActivityInput {
    fn from(a: &Activity) -> Self {
        ActivityInput {
            kind: a.kind,
            contact_id: a.contact.as_ref().map(|r| r.id),
            company_id: a.company.as_ref().map(|r| r.id),
            deal_id: a.deal.as_ref().map(|r| r.id),
            occurred_at: Some(a.occurred_at),
            direction: a.direction,
            duration_s: a.duration_s,
            outcome: a.outcome,
            subject: a.subject.clone(),
            body: a.body.clone(),
            location: a.location.clone(),
        }
    }
}

/// The store's text form of a time: RFC 3339 UTC with milliseconds, so text
/// order is time order.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_time_opt(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Trimmed text of at most `max` characters; blank is None.
pub(crate) fn bounded(
    value: &Option<String>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = text(value);
    if v.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.push(FieldError::new(field, format!("At most {max} characters")));
    }
    v
}

/// Multi-line text (bodies, descriptions): trailing blanks trimmed, leading
/// indentation kept; blank is None.
pub(crate) fn long_text(
    value: &Option<String>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = value
        .as_deref()
        .map(str::trim_end)
        .map(|s| s.trim_start_matches(['\n', '\r']))
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned);
    if v.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.push(FieldError::new(field, format!("At most {max} characters")));
    }
    v
}

/// The input checked and made into the row's fields (links not yet checked
/// against the database).
fn validate(input: &ActivityInput) -> Result<Fields> {
    let mut errors = Vec::new();
    let kind = input.kind;
    if input.contact_id.is_none() && input.company_id.is_none() && input.deal_id.is_none() {
        errors.push(FieldError::new(
            "contact_id",
            "Log it on a contact, a company or a deal",
        ));
    }
    let subject = bounded(&input.subject, "subject", MAX_SUBJECT, &mut errors);
    let body = long_text(&input.body, "body", MAX_BODY, &mut errors);
    let location = bounded(&input.location, "location", MAX_LOCATION, &mut errors);
    let refuse = |field: &str, errors: &mut Vec<FieldError>| {
        errors.push(FieldError::new(
            field,
            format!("A {} has no {}", kind.as_str(), field.replace('_', " ")),
        ))
    };
    let takes_direction = matches!(kind, ActivityKind::Call | ActivityKind::Email);
    let takes_duration = matches!(kind, ActivityKind::Call | ActivityKind::Meeting);
    if input.direction.is_some() && !takes_direction {
        refuse("direction", &mut errors);
    }
    if input.duration_s.is_some() && !takes_duration {
        refuse("duration", &mut errors);
    }
    if input.outcome.is_some() && kind != ActivityKind::Call {
        refuse("outcome", &mut errors);
    }
    if location.is_some() && kind != ActivityKind::Meeting {
        refuse("location", &mut errors);
    }
    if let Some(d) = input.duration_s {
        if d > MAX_DURATION_S {
            errors.push(FieldError::new(
                "duration_s",
                "A duration is at most 24 hours",
            ));
        }
    }
    match kind {
        ActivityKind::Email if subject.is_none() && body.is_none() => errors.push(FieldError::new(
            "subject",
            "An email needs a subject or a body",
        )),
        ActivityKind::Meeting if subject.is_none() => {
            errors.push(FieldError::new("subject", "A meeting needs a subject"))
        }
        ActivityKind::Note if body.is_none() => {
            errors.push(FieldError::new("body", "A note needs some text"))
        }
        ActivityKind::Note if subject.is_some() => refuse("subject", &mut errors),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let direction = if takes_direction {
        Some(input.direction.unwrap_or(Direction::Outbound).as_str())
    } else {
        None
    };
    let occurred_at = input.occurred_at.map(time_text).unwrap_or_else(now_rfc3339);
    Ok(vec![
        ("kind", json!(kind.as_str())),
        ("contact_id", json!(input.contact_id.map(|i| i.to_string()))),
        ("company_id", json!(input.company_id.map(|i| i.to_string()))),
        ("deal_id", json!(input.deal_id.map(|i| i.to_string()))),
        ("occurred_at", json!(occurred_at)),
        ("direction", json!(direction)),
        ("duration_s", json!(input.duration_s)),
        ("outcome", json!(input.outcome.map(CallOutcome::as_str))),
        ("subject", json!(subject)),
        ("body", json!(body)),
        ("location", json!(location)),
    ])
}

/// A live row of `table`, or a field error on `field` (a link given in input).
pub(crate) async fn check_link(
    conn: &mut SqliteConnection,
    table: &str,
    what: &str,
    field: &str,
    id: Uuid,
) -> Result<()> {
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {table} WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    match live {
        Some(_) => Ok(()),
        None => Err(Error::invalid(field, format!("no {what} with id {id}"))),
    }
}

/// Check every link of `input` (all problems at once).
pub(crate) async fn check_links(
    conn: &mut SqliteConnection,
    contact: Option<Uuid>,
    company: Option<Uuid>,
    deal: Option<Uuid>,
) -> Result<()> {
    let mut errors = Vec::new();
    for (table, what, field, id) in [
        ("contacts", "contact", "contact_id", contact),
        ("companies", "company", "company_id", company),
        ("deals", "deal", "deal_id", deal),
    ] {
        if let Some(id) = id {
            if let Err(e) = check_link(&mut *conn, table, what, field, id).await {
                match e {
                    Error::Validation(mut f) => errors.append(&mut f),
                    other => return Err(other),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

fn set(fields: &mut Fields, name: &str, value: serde_json::Value) {
    if let Some(f) = fields.iter_mut().find(|(k, _)| *k == name) {
        f.1 = value;
    }
}

fn get_id(fields: &Fields, name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.as_str().map(str::to_owned))
}

/// Log an activity. Nothing is written when the input or a link is invalid.
pub async fn log(store: &Store, input: ActivityInput) -> Result<Activity> {
    let mut fields = validate(&input)?;
    let me = users::current(store).await?;
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    check_links(tx.conn(), input.contact_id, input.company_id, input.deal_id).await?;
    // The default links (module docs).
    if let (Some(deal), None) = (input.deal_id, input.contact_id) {
        let contact: Option<Option<String>> = sqlx::query_scalar(
            "SELECT d.contact_id FROM deals d JOIN contacts c ON c.id = d.contact_id AND c.deleted_at IS NULL
              WHERE d.id = ?",
        )
        .bind(deal.to_string())
        .fetch_optional(tx.conn())
        .await?;
        if let Some(Some(contact)) = contact {
            set(&mut fields, "contact_id", json!(contact));
        }
    }
    if input.company_id.is_none() {
        let contact = get_id(&fields, "contact_id");
        let company: Option<String> = sqlx::query_scalar(
            "SELECT coalesce(
                (SELECT co.id FROM contacts c JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
                  WHERE c.id = ?1),
                (SELECT co.id FROM deals d JOIN companies co ON co.id = d.company_id AND co.deleted_at IS NULL
                  WHERE d.id = ?2))",
        )
        .bind(contact)
        .bind(input.deal_id.map(|d| d.to_string()))
        .fetch_one(tx.conn())
        .await?;
        if let Some(company) = company {
            set(&mut fields, "company_id", json!(company));
        }
    }
    fields.push(("created_by", json!(me)));
    fields.push(("created_at", json!(now_rfc3339())));
    tx.insert(&ACTIVITY, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Replace an activity with `input` (its kind may change too). Only fields
/// that change are written, so another device's edit of another field stays.
pub async fn update(store: &Store, id: Uuid, input: ActivityInput) -> Result<Activity> {
    let fields = validate(&input)?;
    let mut tx = store.write().await?;
    ensure_live(tx.conn(), id).await?;
    check_links(tx.conn(), input.contact_id, input.company_id, input.deal_id).await?;
    tx.update(&ACTIVITY, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    ensure_live(tx.conn(), id).await?;
    tx.delete(&ACTIVITY, id).await?;
    tx.commit().await
}

async fn ensure_live(conn: &mut SqliteConnection, id: Uuid) -> Result<()> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM activities WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    live.map(|_| ())
        .ok_or_else(|| Error::not_found("activity", id))
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kind: Option<String>,
    contact_id: Option<String>,
    contact_name: Option<String>,
    company_id: Option<String>,
    company_name: Option<String>,
    deal_id: Option<String>,
    deal_title: Option<String>,
    occurred_at: Option<String>,
    direction: Option<String>,
    duration_s: Option<i64>,
    outcome: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    location: Option<String>,
    created_by: Option<String>,
    created_at: Option<String>,
    updated_ms: i64,
}

/// Names of linked records that are gone (deleted, or not synced here yet)
/// are shown as "(deleted)" rather than hiding the link.
const SELECT: &str = "SELECT a.id, a.kind,
        a.contact_id, (SELECT coalesce(c.display_name, '') FROM contacts c WHERE c.id = a.contact_id AND c.deleted_at IS NULL) AS contact_name,
        a.company_id, (SELECT coalesce(co.name, '') FROM companies co WHERE co.id = a.company_id AND co.deleted_at IS NULL) AS company_name,
        a.deal_id, (SELECT coalesce(d.title, '') FROM deals d WHERE d.id = a.deal_id AND d.deleted_at IS NULL) AS deal_title,
        a.occurred_at, a.direction, a.duration_s, a.outcome, a.subject, a.body, a.location,
        a.created_by, a.created_at, a.updated_ms
   FROM activities a";

fn record_ref(id: Option<String>, name: Option<String>) -> Option<RecordRef> {
    let id = Uuid::parse_str(&id?).ok()?;
    Some(RecordRef {
        id,
        name: name.unwrap_or_else(|| "(deleted)".to_owned()),
    })
}

impl Row {
    fn into_activity(self) -> Activity {
        let created_at = parse_time_opt(self.created_at.as_deref()).unwrap_or_default();
        Activity {
            id: Uuid::parse_str(&self.id).unwrap_or_default(),
            kind: self
                .kind
                .as_deref()
                .and_then(|k| ActivityKind::parse(k).ok())
                .unwrap_or(ActivityKind::Note),
            contact: record_ref(self.contact_id, self.contact_name),
            company: record_ref(self.company_id, self.company_name),
            deal: record_ref(self.deal_id, self.deal_title),
            occurred_at: parse_time_opt(self.occurred_at.as_deref()).unwrap_or(created_at),
            direction: self
                .direction
                .as_deref()
                .and_then(|d| Direction::parse(d).ok()),
            duration_s: self.duration_s.and_then(|d| u32::try_from(d).ok()),
            outcome: self
                .outcome
                .as_deref()
                .and_then(|o| CallOutcome::parse(o).ok()),
            subject: self.subject,
            body: self.body,
            location: self.location,
            created_by: self.created_by,
            created_at,
            updated_at: DateTime::from_timestamp_millis(self.updated_ms).unwrap_or(created_at),
        }
    }
}

pub async fn get(store: &Store, id: Uuid) -> Result<Activity> {
    sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE a.id = ? AND a.deleted_at IS NULL"))
        .bind(id.to_string())
        .fetch_optional(store.pool())
        .await?
        .map(Row::into_activity)
        .ok_or_else(|| Error::not_found("activity", id))
}

/// Live activities by id, in no particular order (the timeline's hydration).
pub async fn get_many(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<Activity>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE a.id IN (SELECT value FROM json_each(?)) AND a.deleted_at IS NULL"
    ))
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Row::into_activity).collect())
}

/// Duration as people write it: `90` (seconds), `45s`, `5m`, `1h30m`, `1:30:00`, `5:30`.
pub fn parse_duration(text: &str) -> Result<u32> {
    let t = text.trim().to_lowercase();
    let bad = || {
        Error::invalid(
            "duration_s",
            format!(
                "\"{}\" is not a duration such as 90, 5m, 1h30m or 1:30:00",
                text.trim()
            ),
        )
    };
    if t.is_empty() {
        return Err(bad());
    }
    let seconds: u64 = if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let nums = parts
            .iter()
            .map(|p| p.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<Vec<_>>>()?;
        if nums[1..].iter().any(|n| *n >= 60) {
            return Err(bad());
        }
        nums.iter().fold(0, |acc, n| acc * 60 + n)
    } else if t.chars().all(|c| c.is_ascii_digit()) {
        t.parse().map_err(|_| bad())?
    } else {
        let mut total: u64 = 0;
        let mut number = String::new();
        let mut seen_unit = false;
        for c in t.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                ' ' if number.is_empty() => continue,
                _ => return Err(bad()),
            };
            let n: u64 = number.parse().map_err(|_| bad())?;
            total = total.saturating_add(n.saturating_mul(unit));
            number.clear();
            seen_unit = true;
        }
        if !number.is_empty() || !seen_unit {
            return Err(bad());
        }
        total
    };
    if seconds > u64::from(MAX_DURATION_S) {
        return Err(Error::invalid(
            "duration_s",
            "A duration is at most 24 hours",
        ));
    }
    Ok(seconds as u32)
}

/// `1h 30m`, `5m`, `45s`: a duration for people.
pub fn format_duration(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};
    use crate::{companies, companies::CompanyInput};

    async fn contact(store: &Store, name: &str, company: Option<&str>) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                display_name: Some(name.into()),
                company_name: company.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    async fn outbox_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_call_is_logged_with_its_details_and_the_contacts_company() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada Lovelace", Some("Engines Ltd")).await;
        let at: DateTime<Utc> = "2026-11-20T10:00:00Z".parse().unwrap();
        let call = log(
            &store,
            ActivityInput {
                contact_id: Some(ada),
                occurred_at: Some(at),
                direction: Some(Direction::Inbound),
                duration_s: Some(330),
                outcome: Some(CallOutcome::Connected),
                body: Some("Wants a quote for 20 seats\n\n".into()),
                ..ActivityInput::new(ActivityKind::Call)
            },
        )
        .await
        .unwrap();
        assert_eq!(call.kind, ActivityKind::Call);
        assert_eq!(call.contact.as_ref().unwrap().name, "Ada Lovelace");
        assert_eq!(call.company.as_ref().unwrap().name, "Engines Ltd");
        assert_eq!(call.occurred_at, at);
        assert_eq!(call.direction, Some(Direction::Inbound));
        assert_eq!(call.duration_s, Some(330));
        assert_eq!(call.outcome, Some(CallOutcome::Connected));
        assert_eq!(call.body.as_deref(), Some("Wants a quote for 20 seats"));
        assert_eq!(call.created_by.as_deref(), Some(users::LOCAL_USER));
        assert_eq!(get(&store, call.id).await.unwrap(), call);

        // An email defaults to outbound; the stored time text sorts as time.
        let email = log(
            &store,
            ActivityInput {
                contact_id: Some(ada),
                subject: Some("Quote".into()),
                ..ActivityInput::new(ActivityKind::Email)
            },
        )
        .await
        .unwrap();
        assert_eq!(email.direction, Some(Direction::Outbound));
        let text: String = sqlx::query_scalar("SELECT occurred_at FROM activities WHERE id = ?")
            .bind(email.id.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(text.ends_with('Z') && text.len() == 24, "{text}");
    }

    #[tokio::test]
    async fn bad_input_is_refused_per_field_and_nothing_is_written() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        let before = outbox_len(&store).await;
        let cases: Vec<(ActivityInput, &[&str])> = vec![
            (
                ActivityInput {
                    body: Some("x".into()),
                    ..ActivityInput::new(ActivityKind::Note)
                },
                &["contact_id"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    ..ActivityInput::new(ActivityKind::Note)
                },
                &["body"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    body: Some("x".into()),
                    direction: Some(Direction::Inbound),
                    duration_s: Some(5),
                    ..ActivityInput::new(ActivityKind::Note)
                },
                &["direction", "duration"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    ..ActivityInput::new(ActivityKind::Meeting)
                },
                &["subject"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    ..ActivityInput::new(ActivityKind::Email)
                },
                &["subject"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    outcome: Some(CallOutcome::Busy),
                    subject: Some("s".into()),
                    ..ActivityInput::new(ActivityKind::Email)
                },
                &["outcome"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    duration_s: Some(MAX_DURATION_S + 1),
                    ..ActivityInput::new(ActivityKind::Call)
                },
                &["duration_s"],
            ),
            (
                ActivityInput {
                    contact_id: Some(ada),
                    subject: Some("x".repeat(MAX_SUBJECT + 1)),
                    ..ActivityInput::new(ActivityKind::Call)
                },
                &["subject"],
            ),
            (
                ActivityInput {
                    contact_id: Some(Uuid::now_v7()),
                    company_id: Some(Uuid::now_v7()),
                    deal_id: Some(Uuid::now_v7()),
                    ..ActivityInput::new(ActivityKind::Call)
                },
                &["contact_id", "company_id", "deal_id"],
            ),
        ];
        for (input, fields) in cases {
            let err = log(&store, input.clone()).await.unwrap_err();
            let got: Vec<&str> = err
                .field_errors()
                .iter()
                .map(|f| f.field.as_str())
                .collect();
            assert_eq!(got, fields, "{input:?}: {err}");
            assert_eq!(err.code(), "validation");
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM activities")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(count, 0);
        assert_eq!(outbox_len(&store).await, before);
    }

    #[tokio::test]
    async fn a_deleted_contact_cannot_be_logged_on() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        contacts::delete(&store, ada).await.unwrap();
        let err = log(
            &store,
            ActivityInput {
                contact_id: Some(ada),
                ..ActivityInput::new(ActivityKind::Call)
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.field_errors()[0].field, "contact_id");
    }

    #[tokio::test]
    async fn edit_writes_only_what_changed_and_delete_is_a_tombstone() {
        let store = Store::open_in_memory().await.unwrap();
        let co = companies::create(
            &store,
            CompanyInput {
                name: "Acme".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let note = log(
            &store,
            ActivityInput {
                company_id: Some(co.id),
                body: Some("Renewal in March".into()),
                ..ActivityInput::new(ActivityKind::Note)
            },
        )
        .await
        .unwrap();
        assert!(note.contact.is_none());
        let before = outbox_len(&store).await;
        let mut input = ActivityInput::from(&note);
        input.body = Some("Renewal in April".into());
        let edited = update(&store, note.id, input.clone()).await.unwrap();
        assert_eq!(edited.body.as_deref(), Some("Renewal in April"));
        assert_eq!(edited.created_at, note.created_at);
        assert_eq!(outbox_len(&store).await, before + 1);
        let fields: String =
            sqlx::query_scalar("SELECT fields FROM change_log ORDER BY seq DESC LIMIT 1")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(fields, r#"{"body":"Renewal in April"}"#);

        // An edit that breaks a rule writes nothing.
        input.body = None;
        assert!(update(&store, note.id, input).await.is_err());
        assert_eq!(
            get(&store, note.id).await.unwrap().body.as_deref(),
            Some("Renewal in April")
        );

        delete(&store, note.id).await.unwrap();
        assert_eq!(get(&store, note.id).await.unwrap_err().code(), "not_found");
        assert_eq!(
            delete(&store, note.id).await.unwrap_err().code(),
            "not_found"
        );
    }

    #[test]
    fn durations_as_people_type_them() {
        for (text, s) in [
            ("90", 90),
            ("45s", 45),
            ("5m", 300),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("1:30:00", 5400),
            ("5:30", 330),
            ("0", 0),
        ] {
            assert_eq!(parse_duration(text).unwrap(), s, "{text}");
        }
        for bad in ["", "abc", "5x", "1:75", "h", "25h", "-5", "1::2"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(5400), "1h 30m");
        assert_eq!(format_duration(330), "5m 30s");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn words_parse_loosely_and_errors_list_the_choices() {
        assert_eq!(
            CallOutcome::parse("No answer").unwrap(),
            CallOutcome::NoAnswer
        );
        assert_eq!(
            CallOutcome::parse("left-voicemail").unwrap(),
            CallOutcome::LeftVoicemail
        );
        assert_eq!(Direction::parse("IN").unwrap(), Direction::Inbound);
        let err = CallOutcome::parse("maybe").unwrap_err();
        assert!(err
            .to_string()
            .contains("\"maybe\" is not a call outcome (connected, no_answer"));
        assert!(ActivityKind::parse("fax").is_err());
    }
}
