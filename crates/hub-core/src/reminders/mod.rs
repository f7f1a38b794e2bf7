//! Reminders: follow-ups and tasks with a due time in their own IANA zone,
//! optionally linked to a contact, deal or ticket, optionally recurring
//! (see [`crate::recurrence`]), assigned to a user, snoozed, done, reopened.
//!
//! A recurring reminder is **one row**: completing it moves `due_at` to the
//! series' next occurrence (after the completed one, and after now, so an
//! overdue daily reminder does not leave a trail of stale days); `done_at` is
//! only set when no occurrence is left. The next occurrence is a pure
//! function of the series (`starts_at`, `rrule`, `tz`), so two devices that
//! complete the same occurrence offline write the same `due_at` and converge
//! with no duplicate rows — a new row per occurrence would need both devices
//! to agree on its id and would leave the old row to be reconciled.
//!
//! Notifications and the "missed while closed" summary live in
//! [`schedule`]. Times are stored as RFC 3339 UTC text with milliseconds and
//! `Z` ([`store_time`]), so SQL compares them as text.

pub mod schedule;

use chrono::{DateTime, Duration, NaiveDateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::companies::text;
use crate::entities::REMINDER;
use crate::error::{Error, FieldError, Result};
use crate::recurrence::{resolve_local, Rule};
use crate::store::Store;
use crate::users;

const MAX_TITLE: usize = 500;
const MAX_NOTES: usize = 100_000;
const MAX_ASSIGNEE: usize = 320;
/// How long "Snooze" lasts when no time is given (notification button, CLI).
pub const DEFAULT_SNOOZE: Duration = Duration::minutes(15);

/// A time as the reminder tables store it: `2026-11-30T08:00:00.000Z`.
pub fn store_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `t` on the wall clock of the zone named `tz`: `2026-11-30 09:00 CET`.
pub fn format_local(t: DateTime<Utc>, tz: &str) -> String {
    let zone = tz.parse::<Tz>().unwrap_or(Tz::UTC);
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn read_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Parse an IANA zone name ("Europe/Berlin"); `UTC` is one too.
pub fn parse_zone(name: &str) -> Result<Tz, FieldError> {
    name.trim().parse::<Tz>().map_err(|_| {
        FieldError::new(
            "tz",
            format!("\"{name}\" is not a known IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"),
        )
    })
}

/// This computer's IANA zone: `$TZ` when it names one, else the system's
/// setting, else UTC. The default zone of a new reminder.
pub fn local_zone() -> String {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|z| z.trim_start_matches(':').to_owned())
        .filter(|z| z.parse::<Tz>().is_ok());
    from_env
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .filter(|z| z.parse::<Tz>().is_ok())
        })
        .unwrap_or_else(|| "UTC".to_owned())
}

/// A due time as typed: RFC 3339 (`2026-11-30T09:00:00+01:00`, any offset),
/// or a local date and time with no offset (`2026-11-30T09:00`,
/// `2026-11-30 09:00`), read in `tz` by the recurrence rules for gaps and
/// repeated hours.
pub fn parse_due(text: &str, tz: Tz, field: &str) -> Result<DateTime<Utc>, FieldError> {
    let t = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(t) {
        return Ok(instant.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(resolve_local(tz, local));
        }
    }
    Err(FieldError::new(
        field,
        format!("\"{text}\" is not a time: use RFC 3339, e.g. 2026-11-30T09:00:00+01:00 or 2026-11-30T08:00:00Z"),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ReminderStatus {
    Open,
    Done,
}

/// A stored reminder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Reminder {
    pub id: Uuid,
    pub title: String,
    pub notes: Option<String>,
    /// The open (or last) occurrence, UTC.
    pub due_at: DateTime<Utc>,
    /// IANA zone the reminder lives in.
    pub tz: String,
    /// `due_at` on the wall clock of `tz`: `2026-11-30 09:00 CET`.
    pub due_local: String,
    /// When it rings next: `snoozed_until` when snoozed, else `due_at`.
    pub next_at: DateTime<Utc>,
    pub status: ReminderStatus,
    pub contact_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub deal_id: Option<Uuid>,
    pub deal_title: Option<String>,
    pub ticket_id: Option<Uuid>,
    pub ticket_subject: Option<String>,
    pub assignee: Option<String>,
    /// Canonical RRULE text; `None` for a one-off.
    pub rrule: Option<String>,
    /// The rule in words: "every 2 weeks on Mon, Wed".
    pub repeat: Option<String>,
    /// The series' first occurrence.
    pub starts_at: DateTime<Utc>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a form or the CLI submits to create a reminder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReminderInput {
    pub title: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// RFC 3339, or a local `YYYY-MM-DDTHH:MM` read in `tz`.
    pub due: String,
    /// IANA zone; default: this computer's ([`local_zone`]).
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub deal_id: Option<Uuid>,
    #[serde(default)]
    pub ticket_id: Option<Uuid>,
    /// Default: the current user ([`users::current`]).
    #[serde(default)]
    pub assignee: Option<String>,
    /// RRULE subset, e.g. `FREQ=WEEKLY;BYDAY=MO`; none for a one-off.
    #[serde(default)]
    pub rrule: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum StatusFilter {
    #[default]
    Open,
    Done,
    All,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReminderQuery {
    /// Open reminders (default), done ones, or all.
    #[serde(default)]
    pub status: StatusFilter,
    /// Only those that ring (`next_at`) before this time.
    #[serde(default)]
    pub due_before: Option<DateTime<Utc>>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub deal_id: Option<Uuid>,
    #[serde(default)]
    pub ticket_id: Option<Uuid>,
    #[serde(default)]
    pub offset: u32,
    /// Default 100, at most 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Check an input; every problem is reported at once.
struct Valid {
    title: String,
    notes: Option<String>,
    due: DateTime<Utc>,
    tz: Tz,
    rule: Option<Rule>,
    assignee: Option<String>,
}

fn validate(input: &ReminderInput) -> Result<Valid> {
    let mut errors = Vec::new();
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        errors.push(FieldError::new("title", "A reminder needs a title"));
    } else if title.chars().count() > MAX_TITLE {
        errors.push(FieldError::new(
            "title",
            format!("Titles are at most {MAX_TITLE} characters"),
        ));
    }
    let notes = input
        .notes
        .as_deref()
        .map(str::trim_end)
        .filter(|n| !n.trim().is_empty())
        .map(str::to_owned);
    if notes.as_ref().is_some_and(|n| n.len() > MAX_NOTES) {
        errors.push(FieldError::new(
            "notes",
            "Notes are at most 100,000 characters",
        ));
    }
    let zone_name = text(&input.tz).unwrap_or_else(local_zone);
    let tz = parse_zone(&zone_name).map_err(|e| errors.push(e)).ok();
    let due = if input.due.trim().is_empty() {
        errors.push(FieldError::new("due_at", "A reminder needs a due time"));
        None
    } else {
        parse_due(&input.due, tz.unwrap_or(Tz::UTC), "due_at")
            .map_err(|e| errors.push(e))
            .ok()
    };
    let rule = match text(&input.rrule) {
        None => None,
        Some(r) => match r.parse::<Rule>() {
            Ok(rule) => {
                if let (Some(due), Some(tz)) = (due, tz) {
                    if let Err(e) = rule.check_start(due, tz) {
                        errors.push(e);
                    }
                }
                Some(rule)
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let assignee = text(&input.assignee);
    if assignee
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_ASSIGNEE)
    {
        errors.push(FieldError::new(
            "assignee",
            format!("At most {MAX_ASSIGNEE} characters"),
        ));
    }
    match (due, tz, errors.is_empty()) {
        (Some(due), Some(tz), true) => Ok(Valid {
            title,
            notes,
            due,
            tz,
            rule,
            assignee,
        }),
        _ => Err(Error::Validation(errors)),
    }
}

/// The linked record must exist and be live.
async fn check_link(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    field: &str,
    noun: &str,
    id: Option<Uuid>,
) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {table} WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    match live {
        Some(_) => Ok(()),
        None => Err(Error::invalid(field, format!("no {noun} with id {id}"))),
    }
}

/// Create a reminder; `now` is its creation time.
pub async fn add(store: &Store, input: &ReminderInput, now: DateTime<Utc>) -> Result<Reminder> {
    let valid = validate(input)?;
    let assignee = match valid.assignee {
        Some(a) => a,
        None => users::current(store).await?,
    };
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    check_link(
        tx.conn(),
        "contacts",
        "contact_id",
        "contact",
        input.contact_id,
    )
    .await?;
    check_link(tx.conn(), "deals", "deal_id", "deal", input.deal_id).await?;
    check_link(tx.conn(), "tickets", "ticket_id", "ticket", input.ticket_id).await?;
    let due = store_time(valid.due);
    tx.insert(
        &REMINDER,
        id,
        vec![
            ("title", json!(valid.title)),
            ("notes", json!(valid.notes)),
            ("due_at", json!(due)),
            ("starts_at", json!(due)),
            ("tz", json!(valid.tz.name())),
            ("contact_id", json!(input.contact_id.map(|i| i.to_string()))),
            ("deal_id", json!(input.deal_id.map(|i| i.to_string()))),
            ("ticket_id", json!(input.ticket_id.map(|i| i.to_string()))),
            ("assignee", json!(assignee)),
            ("rrule", json!(valid.rule.map(|r| r.to_string()))),
            ("created_at", json!(store_time(now))),
        ],
    )
    .await?;
    tx.commit().await?;
    get(store, id).await
}

const SELECT: &str = "SELECT r.id, r.title, r.notes, r.due_at, r.tz,
        r.contact_id, c.display_name AS contact_name, r.deal_id, d.title AS deal_title,
        r.ticket_id, t.subject AS ticket_subject, r.assignee, r.rrule, r.starts_at,
        r.snoozed_until, r.done_at, r.created_at
   FROM reminders r
   LEFT JOIN contacts c ON c.id = r.contact_id AND c.deleted_at IS NULL
   LEFT JOIN deals d ON d.id = r.deal_id AND d.deleted_at IS NULL
   LEFT JOIN tickets t ON t.id = r.ticket_id AND t.deleted_at IS NULL";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    title: Option<String>,
    notes: Option<String>,
    due_at: Option<String>,
    tz: Option<String>,
    contact_id: Option<String>,
    contact_name: Option<String>,
    deal_id: Option<String>,
    deal_title: Option<String>,
    ticket_id: Option<String>,
    ticket_subject: Option<String>,
    assignee: Option<String>,
    rrule: Option<String>,
    starts_at: Option<String>,
    snoozed_until: Option<String>,
    done_at: Option<String>,
    created_at: Option<String>,
}

fn uuid(text: Option<&str>) -> Option<Uuid> {
    text.and_then(|t| Uuid::parse_str(t).ok())
}

impl Row {
    fn into_reminder(self) -> Option<Reminder> {
        let id = Uuid::parse_str(&self.id).ok()?;
        // A row synced from a newer version with a zone this one lacks is
        // still shown, on UTC.
        let tz = self
            .tz
            .as_deref()
            .and_then(|z| z.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC);
        let due_at = read_time(self.due_at.as_deref()).unwrap_or_default();
        let snoozed_until = read_time(self.snoozed_until.as_deref());
        let done_at = read_time(self.done_at.as_deref());
        let rule = self.rrule.as_deref().and_then(|r| r.parse::<Rule>().ok());
        Some(Reminder {
            id,
            title: self.title.unwrap_or_default(),
            notes: self.notes,
            due_local: format_local(due_at, tz.name()),
            next_at: snoozed_until.unwrap_or(due_at),
            due_at,
            tz: self.tz.unwrap_or_else(|| "UTC".into()),
            status: if done_at.is_some() {
                ReminderStatus::Done
            } else {
                ReminderStatus::Open
            },
            contact_id: uuid(self.contact_id.as_deref()),
            contact_name: self.contact_name,
            deal_id: uuid(self.deal_id.as_deref()),
            deal_title: self.deal_title,
            ticket_id: uuid(self.ticket_id.as_deref()),
            ticket_subject: self.ticket_subject,
            assignee: self.assignee,
            repeat: rule.as_ref().map(Rule::describe),
            rrule: self.rrule,
            starts_at: read_time(self.starts_at.as_deref()).unwrap_or(due_at),
            snoozed_until,
            done_at,
            created_at: read_time(self.created_at.as_deref()).unwrap_or_default(),
        })
    }
}

pub async fn get(store: &Store, id: Uuid) -> Result<Reminder> {
    sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE r.id = ? AND r.deleted_at IS NULL"))
        .bind(id.to_string())
        .fetch_optional(store.pool())
        .await?
        .and_then(Row::into_reminder)
        .ok_or_else(|| Error::not_found("reminder", id))
}

/// Reminders by the filters of `query`: open ones by when they ring next,
/// done ones most recently completed first.
pub async fn list(store: &Store, query: &ReminderQuery) -> Result<Vec<Reminder>> {
    let mut sql = format!("{SELECT} WHERE r.deleted_at IS NULL");
    let mut binds: Vec<String> = Vec::new();
    match query.status {
        StatusFilter::Open => sql.push_str(" AND r.done_at IS NULL"),
        StatusFilter::Done => sql.push_str(" AND r.done_at IS NOT NULL"),
        StatusFilter::All => {}
    }
    if let Some(before) = query.due_before {
        sql.push_str(" AND coalesce(r.snoozed_until, r.due_at) < ?");
        binds.push(store_time(before));
    }
    if let Some(a) = text(&query.assignee) {
        sql.push_str(" AND r.assignee = ?");
        binds.push(a);
    }
    for (column, id) in [
        ("contact_id", query.contact_id),
        ("deal_id", query.deal_id),
        ("ticket_id", query.ticket_id),
    ] {
        if let Some(id) = id {
            sql.push_str(&format!(" AND r.{column} = ?"));
            binds.push(id.to_string());
        }
    }
    sql.push_str(match query.status {
        StatusFilter::Done => " ORDER BY r.done_at DESC, r.id",
        _ => " ORDER BY coalesce(r.snoozed_until, r.due_at), r.id",
    });
    sql.push_str(" LIMIT ? OFFSET ?");
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for b in &binds {
        q = q.bind(b);
    }
    let rows = q
        .bind(i64::from(query.limit.unwrap_or(100).clamp(1, 1000)))
        .bind(i64::from(query.offset))
        .fetch_all(store.pool())
        .await?;
    Ok(rows.into_iter().filter_map(Row::into_reminder).collect())
}

/// The next occurrence of a recurring reminder after completing `r` at `now`.
fn next_occurrence(r: &Reminder, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rule = r.rrule.as_deref()?.parse::<Rule>().ok()?;
    let tz = r.tz.parse::<Tz>().unwrap_or(Tz::UTC);
    rule.next_after(r.starts_at, tz, r.due_at.max(now))
}

/// Complete the open occurrence. A recurring reminder moves to its next
/// occurrence (and stays open); a one-off, or a series with none left, is
/// done. Completing a done reminder changes nothing.
pub async fn done(store: &Store, id: Uuid, now: DateTime<Utc>) -> Result<Reminder> {
    let r = get(store, id).await?;
    if r.status == ReminderStatus::Done {
        return Ok(r);
    }
    let fields = match next_occurrence(&r, now) {
        Some(next) => vec![
            ("due_at", json!(store_time(next))),
            ("snoozed_until", Value::Null),
        ],
        None => vec![
            ("done_at", json!(store_time(now))),
            ("snoozed_until", Value::Null),
        ],
    };
    let mut tx = store.write().await?;
    tx.update(&REMINDER, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Ring again at `until` (which must be later than `now`).
pub async fn snooze(
    store: &Store,
    id: Uuid,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Reminder> {
    let r = get(store, id).await?;
    if r.status == ReminderStatus::Done {
        return Err(Error::invalid(
            "snoozed_until",
            "this reminder is done; reopen it before snoozing",
        ));
    }
    if until <= now {
        return Err(Error::invalid(
            "snoozed_until",
            format!("snooze until a later time than now ({})", store_time(now)),
        ));
    }
    let mut tx = store.write().await?;
    tx.update(
        &REMINDER,
        id,
        vec![("snoozed_until", json!(store_time(until)))],
    )
    .await?;
    tx.commit().await?;
    get(store, id).await
}

/// Make a done reminder open again, at the occurrence it was done at.
pub async fn reopen(store: &Store, id: Uuid) -> Result<Reminder> {
    let r = get(store, id).await?;
    if r.status == ReminderStatus::Open {
        return Ok(r);
    }
    let mut tx = store.write().await?;
    tx.update(&REMINDER, id, vec![("done_at", Value::Null)])
        .await?;
    tx.commit().await?;
    get(store, id).await
}

/// Delete a reminder (a synced tombstone).
pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    if !tx.delete(&REMINDER, id).await? {
        return Err(Error::not_found("reminder", id));
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn input(title: &str, due: &str) -> ReminderInput {
        ReminderInput {
            title: title.into(),
            due: due.into(),
            tz: Some("Europe/Berlin".into()),
            ..Default::default()
        }
    }

    async fn change_log_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn add_stores_a_reminder_in_its_zone_for_the_current_user() {
        let store = Store::open_in_memory().await.unwrap();
        let now = at("2026-11-29T10:00:00Z");
        let r = add(&store, &input("Call Ada", "2026-11-30T09:00"), now)
            .await
            .unwrap();
        assert_eq!(r.due_at, at("2026-11-30T08:00:00Z"));
        assert_eq!(r.due_local, "2026-11-30 09:00 CET");
        assert_eq!(r.tz, "Europe/Berlin");
        assert_eq!(r.assignee.as_deref(), Some(users::LOCAL_USER));
        assert_eq!(r.status, ReminderStatus::Open);
        assert_eq!(r.next_at, r.due_at);
        assert_eq!(r.created_at, now);
        // Stored in the one text shape SQL compares.
        let stored: String = sqlx::query_scalar("SELECT due_at FROM reminders")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, "2026-11-30T08:00:00.000Z");
        // Through the write path: one change-log entry.
        assert_eq!(change_log_len(&store).await, 1);
    }

    #[tokio::test]
    async fn bad_input_is_refused_field_by_field_and_writes_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        let now = at("2026-11-29T10:00:00Z");
        let bad = ReminderInput {
            title: "  ".into(),
            due: "next tuesday".into(),
            tz: Some("Mars/Olympus".into()),
            rrule: Some("FREQ=DAILY;UNTIL=20261231;COUNT=3".into()),
            ..Default::default()
        };
        let err = add(&store, &bad, now).await.unwrap_err();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["title", "tz", "due_at", "rrule"], "{err}");
        assert!(err.to_string().contains("UNTIL and COUNT"), "{err}");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");

        let mut early = input("x", "2026-12-01T09:00:00Z");
        early.rrule = Some("FREQ=DAILY;UNTIL=20261130".into());
        let err = add(&store, &early, now).await.unwrap_err();
        assert!(err.to_string().contains("UNTIL is before"), "{err}");

        let mut missing = input("x", "2026-12-01T09:00:00Z");
        missing.contact_id = Some(Uuid::now_v7());
        let err = add(&store, &missing, now).await.unwrap_err();
        assert_eq!(err.field_errors()[0].field, "contact_id");
        missing.contact_id = None;
        missing.deal_id = Some(Uuid::now_v7());
        let err = add(&store, &missing, now).await.unwrap_err();
        assert_eq!(err.field_errors()[0].field, "deal_id");

        assert_eq!(change_log_len(&store).await, 0);
        assert!(list(&store, &ReminderQuery::default())
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn list_filters_by_due_time_status_assignee_and_linked_record() {
        let store = Store::open_in_memory().await.unwrap();
        let now = at("2026-11-29T10:00:00Z");
        let ada = contacts::create(
            &store,
            ContactInput {
                display_name: Some("Ada Lovelace".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut call = input("Call Ada", "2026-11-30T08:00:00Z");
        call.contact_id = Some(ada.id);
        let call = add(&store, &call, now).await.unwrap();
        assert_eq!(call.contact_name.as_deref(), Some("Ada Lovelace"));
        let mut later = input("Send quote", "2026-12-05T08:00:00Z");
        later.assignee = Some("bo@example.com".into());
        let later = add(&store, &later, now).await.unwrap();
        let old = add(&store, &input("Old", "2026-11-01T08:00:00Z"), now)
            .await
            .unwrap();
        done(&store, old.id, now).await.unwrap();

        let titles = |rs: Vec<Reminder>| rs.into_iter().map(|r| r.title).collect::<Vec<_>>();
        let all_open = list(&store, &ReminderQuery::default()).await.unwrap();
        assert_eq!(titles(all_open), ["Call Ada", "Send quote"]);
        let soon = ReminderQuery {
            due_before: Some(at("2026-12-01T00:00:00Z")),
            ..Default::default()
        };
        assert_eq!(titles(list(&store, &soon).await.unwrap()), ["Call Ada"]);
        let bo = ReminderQuery {
            assignee: Some("bo@example.com".into()),
            ..Default::default()
        };
        assert_eq!(titles(list(&store, &bo).await.unwrap()), ["Send quote"]);
        let of_ada = ReminderQuery {
            contact_id: Some(ada.id),
            status: StatusFilter::All,
            ..Default::default()
        };
        assert_eq!(titles(list(&store, &of_ada).await.unwrap()), ["Call Ada"]);
        let finished = ReminderQuery {
            status: StatusFilter::Done,
            ..Default::default()
        };
        assert_eq!(titles(list(&store, &finished).await.unwrap()), ["Old"]);

        // A snoozed reminder is listed by when it rings next.
        snooze(&store, call.id, at("2026-12-06T08:00:00Z"), now)
            .await
            .unwrap();
        assert_eq!(
            titles(list(&store, &ReminderQuery::default()).await.unwrap()),
            ["Send quote", "Call Ada"]
        );
        delete(&store, later.id).await.unwrap();
        assert_eq!(
            titles(list(&store, &ReminderQuery::default()).await.unwrap()),
            ["Call Ada"]
        );
        assert_eq!(get(&store, later.id).await.unwrap_err().code(), "not_found");
        assert_eq!(
            delete(&store, later.id).await.unwrap_err().code(),
            "not_found"
        );
    }

    #[tokio::test]
    async fn done_snooze_and_reopen_a_one_off() {
        let store = Store::open_in_memory().await.unwrap();
        let now = at("2026-11-29T10:00:00Z");
        let r = add(&store, &input("Call", "2026-11-29T09:00:00Z"), now)
            .await
            .unwrap();
        // Snoozing into the past is refused.
        let err = snooze(&store, r.id, at("2026-11-29T09:59:00Z"), now)
            .await
            .unwrap_err();
        assert_eq!(err.field_errors()[0].field, "snoozed_until");
        let s = snooze(&store, r.id, now + DEFAULT_SNOOZE, now)
            .await
            .unwrap();
        assert_eq!(s.next_at, at("2026-11-29T10:15:00Z"));
        assert_eq!(s.due_at, r.due_at);

        let d = done(&store, r.id, now).await.unwrap();
        assert_eq!(d.status, ReminderStatus::Done);
        assert_eq!(d.done_at, Some(now));
        assert_eq!(d.snoozed_until, None);
        let log = change_log_len(&store).await;
        // Done twice changes nothing; snoozing a done one is refused.
        assert_eq!(done(&store, r.id, now).await.unwrap(), d);
        assert!(snooze(&store, r.id, now + DEFAULT_SNOOZE, now)
            .await
            .is_err());
        assert_eq!(change_log_len(&store).await, log);

        let o = reopen(&store, r.id).await.unwrap();
        assert_eq!(o.status, ReminderStatus::Open);
        assert_eq!(o.due_at, r.due_at);
    }

    #[tokio::test]
    async fn done_moves_a_recurring_reminder_to_its_next_occurrence_until_it_ends() {
        let store = Store::open_in_memory().await.unwrap();
        let created = at("2026-01-01T10:00:00Z");
        let mut monthly = input("Month-end report", "2026-01-31T09:00");
        monthly.rrule = Some("FREQ=MONTHLY;COUNT=3".into());
        let r = add(&store, &monthly, created).await.unwrap();
        assert_eq!(r.rrule.as_deref(), Some("FREQ=MONTHLY;COUNT=3"));
        assert_eq!(r.repeat.as_deref(), Some("every month, 3 times"));

        let r = done(&store, r.id, at("2026-01-31T09:00:00Z"))
            .await
            .unwrap();
        assert_eq!(r.status, ReminderStatus::Open);
        assert_eq!(r.due_local, "2026-02-28 09:00 CET");
        let r = done(&store, r.id, at("2026-02-28T09:00:00Z"))
            .await
            .unwrap();
        assert_eq!(r.due_local, "2026-03-31 09:00 CEST");
        assert_eq!(r.due_at, at("2026-03-31T07:00:00Z"));
        // The third and last occurrence done: the series is done.
        let r = done(&store, r.id, at("2026-03-31T09:00:00Z"))
            .await
            .unwrap();
        assert_eq!(r.status, ReminderStatus::Done);
        assert_eq!(r.due_at, at("2026-03-31T07:00:00Z"));

        // An overdue daily reminder completed days late moves past now.
        let mut daily = input("Check inbox", "2026-03-01T09:00");
        daily.rrule = Some("FREQ=DAILY".into());
        let d = add(&store, &daily, created).await.unwrap();
        let d = done(&store, d.id, at("2026-03-05T12:00:00Z"))
            .await
            .unwrap();
        assert_eq!(d.due_local, "2026-03-06 09:00 CET");
    }

    #[tokio::test]
    async fn reminders_made_before_sign_in_can_be_claimed_by_the_account() {
        let store = Store::open_in_memory().await.unwrap();
        let now = at("2026-11-29T10:00:00Z");
        let mine = add(&store, &input("Mine", "2026-11-30T09:00"), now)
            .await
            .unwrap();
        let mut theirs = input("Theirs", "2026-11-30T09:00");
        theirs.assignee = Some("bo@example.com".into());
        let theirs = add(&store, &theirs, now).await.unwrap();
        assert_eq!(
            crate::users::claim_local_records(&store, "me")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            crate::users::claim_local_records(&store, "ada@example.com")
                .await
                .unwrap(),
            1
        );
        let get_assignee = |id| {
            let store = store.clone();
            async move { get(&store, id).await.unwrap().assignee.unwrap() }
        };
        assert_eq!(get_assignee(mine.id).await, "ada@example.com");
        assert_eq!(get_assignee(theirs.id).await, "bo@example.com");
        assert_eq!(
            crate::users::claim_local_records(&store, "ada@example.com")
                .await
                .unwrap(),
            0
        );
    }

    #[test]
    fn due_times_parse_in_the_reminders_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            parse_due("2026-11-30T09:00:00-05:00", tz, "due").unwrap(),
            at("2026-11-30T14:00:00Z")
        );
        assert_eq!(
            parse_due("2026-11-30 09:00", tz, "due").unwrap(),
            at("2026-11-30T14:00:00Z")
        );
        assert!(parse_due("30/11/2026", tz, "due").is_err());
        assert_eq!(parse_zone("Mars/Olympus").unwrap_err().field, "tz");
        assert!(parse_zone(&local_zone()).is_ok());
    }
}
