//! Segments: rule-based lists of contacts that update live and tag their
//! members (docs/segments.md).
//!
//! A segment is a synced entity: a name, a rule (the JSON tree of [`rule`]),
//! the id of its segment tag ("segment: NAME") and optional entry triggers.
//! Membership is derived on every device from the same data:
//!
//! - SQLite triggers (migration 0019) queue each contact whose rule inputs a
//!   row change may touch — contacts, companies, emails, phones, tags, deals,
//!   stages, rates, custom values, events — however the row arrives (a local
//!   write, a sync pull, a snapshot, an event import);
//! - [`refresh`] drains the queue: it evaluates the queued contacts against
//!   every live segment (the rule compiled to one SQL predicate, [`sql`]),
//!   re-checks the contacts whose events crossed a time window's edge since
//!   the last refresh (membership expires with no new events), computes a new
//!   or changed rule over the whole base, and writes the differences: the
//!   `segment_members` rows, the enter/exit history, the segment tag (a synced
//!   `contact_tag` with the derived link id of hub_core::tags, so devices
//!   converge) and the entry triggers (a reminder with a derived id, a
//!   lifecycle stage), all in one write transaction.
//!
//! Time is a parameter (`now`) so tests and benchmarks control it.

pub mod rule;
pub mod sql;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{Sqlite, SqliteConnection};
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::WriteTx;
use crate::contacts::LifecycleStage;
use crate::entities::{CONTACT, CONTACT_TAG, REMINDER, SEGMENT, TAG};
use crate::error::{Error, Result};
use crate::reminders;
use crate::store::Store;
use crate::tags;
use crate::users;

use rule::{Node, Op, Resolved};
use sql::{Bind, Context, Mode};

/// The namespace of hub_core::tags: contact-tag link ids are derived from it
/// (`tags::link_id`); the test `segment_tag_links_share_the_manual_link_id`
/// checks they are the same.
const TAGS_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8a4d_4f0b_9e57_2d1c_0a93_e6f4);
/// Ids this module derives (entry reminders).
const NAMESPACE: Uuid = Uuid::from_u128(0x3d0c_9a51_7e2b_4c86_a1f4_58be_02d7_93c1);

/// The prefix of a segment's tag.
pub const TAG_PREFIX: &str = "segment: ";
/// Tag names are at most 50 characters.
pub const MAX_NAME: usize = 50 - TAG_PREFIX.len();
/// Contacts evaluated per statement.
const CHUNK: usize = 1000;
/// Rounds of re-evaluation within one refresh when a segment's writes (its
/// tag, a lifecycle stage) feed another segment's rule.
const MAX_PASSES: usize = 4;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Segment {
    pub id: Uuid,
    pub name: String,
    #[ts(type = "unknown")]
    pub rule: Value,
    /// The segment tag's name ("segment: NAME").
    pub tag: String,
    #[ts(type = "unknown")]
    pub triggers: Option<Value>,
    pub created_at: String,
    /// Members now (as of the last refresh on this device).
    pub size: u32,
    /// Why this device cannot evaluate the rule (e.g. a custom field it names
    /// was deleted); members then stay as they were.
    pub error: Option<String>,
}

/// A new segment, or what an update replaces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SegmentInput {
    pub name: String,
    #[ts(type = "unknown")]
    pub rule: Value,
    #[serde(default)]
    #[ts(type = "unknown")]
    pub triggers: Option<Value>,
}

/// An edit: only the given parts change (`triggers: Some(None)` removes them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentPatch {
    pub name: Option<String>,
    pub rule: Option<Value>,
    pub triggers: Option<Option<Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SegmentMember {
    pub contact_id: Uuid,
    pub name: Option<String>,
    pub entered_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SegmentHistoryEntry {
    pub segment_id: Uuid,
    pub contact_id: Uuid,
    pub contact_name: Option<String>,
    /// `entered` or `exited`.
    pub kind: String,
    pub at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, rename = "SegmentRefreshReport")]
pub struct RefreshReport {
    /// Live segments evaluated.
    pub segments: u32,
    /// Segments computed over the whole base (new or changed rules).
    pub full: Vec<String>,
    /// (segment, contact) evaluations of queued or time-window contacts.
    pub checked: u32,
    pub entered: u32,
    pub exited: u32,
    /// Segment tags put on or taken off.
    pub tags_written: u32,
    pub reminders: u32,
    /// Segments this device could not evaluate, with the reason.
    pub errors: Vec<(String, String)>,
    pub passes: u32,
}

// ---- entry triggers ---------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct ReminderTrigger {
    title: String,
    notes: Option<String>,
    due_in_days: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Triggers {
    reminder: Option<ReminderTrigger>,
    lifecycle_stage: Option<LifecycleStage>,
}

/// `{"reminder": {"title": "Call {name}", "due_in_days": 2, "notes": ".."},
///   "set_lifecycle_stage": "prospect"}` (each optional).
fn parse_triggers(value: &Value) -> Result<Triggers> {
    let bad = |at: &str, m: &str| Error::invalid(format!("triggers{at}"), m);
    let Value::Object(obj) = value else {
        return Err(bad(
            "",
            "is an object with \"reminder\" and/or \"set_lifecycle_stage\"",
        ));
    };
    let mut out = Triggers::default();
    for (key, v) in obj {
        match key.as_str() {
            "reminder" => {
                let Value::Object(r) = v else {
                    return Err(bad(
                        ".reminder",
                        "is an object: {\"title\": \"Call {name}\", \"due_in_days\": 1}",
                    ));
                };
                if let Some(k) = r
                    .keys()
                    .find(|k| !["title", "notes", "due_in_days"].contains(&k.as_str()))
                {
                    return Err(bad(
                        &format!(".reminder.{k}"),
                        "unknown key (allowed: title, notes, due_in_days)",
                    ));
                }
                let title =
                    match r.get("title") {
                        Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_owned(),
                        _ => return Err(bad(
                            ".reminder.title",
                            "is a non-empty text (\"{name}\" is replaced by the contact's name)",
                        )),
                    };
                if title.chars().count() > 200 {
                    return Err(bad(".reminder.title", "is at most 200 characters"));
                }
                let notes = match r.get("notes") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(n)) => Some(n.clone()),
                    Some(_) => return Err(bad(".reminder.notes", "is a text")),
                };
                let due_in_days = match r.get("due_in_days") {
                    None => 0,
                    Some(v) => match v.as_i64() {
                        Some(n) if (0..=365).contains(&n) => n as u32,
                        _ => {
                            return Err(bad(
                                ".reminder.due_in_days",
                                "is a whole number of days from 0 to 365",
                            ))
                        }
                    },
                };
                out.reminder = Some(ReminderTrigger {
                    title,
                    notes,
                    due_in_days,
                });
            }
            "set_lifecycle_stage" => {
                let Value::String(s) = v else {
                    return Err(bad(
                        ".set_lifecycle_stage",
                        "is a stage (lead, prospect, customer, churned)",
                    ));
                };
                out.lifecycle_stage = Some(LifecycleStage::parse(s).map_err(|_| {
                    bad(
                        ".set_lifecycle_stage",
                        &format!(
                            "\"{s}\" is not a lifecycle stage (lead, prospect, customer, churned)"
                        ),
                    )
                })?);
            }
            other => {
                return Err(bad(
                    &format!(".{other}"),
                    "unknown trigger (reminder, set_lifecycle_stage)",
                ))
            }
        }
    }
    Ok(out)
}

// ---- ids and names ----------------------------------------------------------

/// The segment tag's name.
pub fn tag_name(segment: &str) -> String {
    format!("{TAG_PREFIX}{segment}")
}

/// The id hub_core::tags gives the link of `tag` on `contact`.
fn link_id(contact: Uuid, tag: Uuid) -> Uuid {
    Uuid::new_v5(&TAGS_NAMESPACE, format!("{contact}/{tag}").as_bytes())
}

/// One reminder per (segment, contact): two devices create the same row.
pub fn reminder_id(segment: Uuid, contact: Uuid) -> Uuid {
    Uuid::new_v5(
        &NAMESPACE,
        format!("reminder/{segment}/{contact}").as_bytes(),
    )
}

fn clean_name(name: &str) -> Result<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(Error::invalid("name", "A segment needs a name"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "name",
            format!("A segment name is at most {MAX_NAME} characters (it names the tag \"{TAG_PREFIX}…\")"),
        ));
    }
    Ok(name)
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ms_text(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(time_text)
        .unwrap_or_default()
}

fn json_list<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

// ---- reading ----------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    rk: i64,
    id: String,
    name: Option<String>,
    rule: Option<String>,
    tag_id: Option<String>,
    triggers: Option<String>,
    created_at: Option<String>,
    deleted_at: Option<String>,
}

const ROW: &str =
    "SELECT rk, id, name, rule, tag_id, triggers, created_at, deleted_at FROM segments";

/// A live segment by name (any case) or id.
async fn find_row(conn: &mut SqliteConnection, which: &str) -> Result<Row> {
    let which = which.trim();
    let row: Option<Row> = match Uuid::parse_str(which) {
        Ok(id) => {
            sqlx::query_as(&format!("{ROW} WHERE id = ? AND deleted_at IS NULL"))
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await?
        }
        Err(_) => {
            sqlx::query_as(&format!(
                "{ROW} WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL ORDER BY rk LIMIT 1"
            ))
            .bind(which.split_whitespace().collect::<Vec<_>>().join(" "))
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    row.ok_or_else(|| Error::NotFound {
        entity: "segment",
        id: which.to_owned(),
    })
}

async fn to_segment(conn: &mut SqliteConnection, row: Row) -> Result<Segment> {
    let size: i64 = sqlx::query_scalar("SELECT count(*) FROM segment_members WHERE segment_rk = ?")
        .bind(row.rk)
        .fetch_one(&mut *conn)
        .await?;
    let rule_text = row.rule.clone().unwrap_or_default();
    let error = match rule::parse_text(&rule_text) {
        Ok(node) => rule::resolve(conn, &node)
            .await
            .err()
            .map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    let name = row.name.unwrap_or_default();
    Ok(Segment {
        id: Uuid::parse_str(&row.id).unwrap_or_default(),
        tag: tag_name(&name),
        name,
        rule: serde_json::from_str(&rule_text).unwrap_or(Value::Null),
        triggers: row
            .triggers
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok()),
        created_at: row.created_at.unwrap_or_default(),
        size: size as u32,
        error,
    })
}

/// One live segment by name or id.
pub async fn get(store: &Store, which: &str) -> Result<Segment> {
    let mut conn = store.pool().acquire().await?;
    let row = find_row(&mut conn, which).await?;
    to_segment(&mut conn, row).await
}

/// Every live segment, by name, with its size.
pub async fn list(store: &Store) -> Result<Vec<Segment>> {
    let mut conn = store.pool().acquire().await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{ROW} WHERE deleted_at IS NULL ORDER BY name COLLATE NOCASE, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(to_segment(&mut conn, row).await?);
    }
    Ok(out)
}

/// A segment's members by name, at most `limit` from `offset`.
pub async fn members(
    store: &Store,
    which: &str,
    limit: u32,
    offset: u32,
) -> Result<Vec<SegmentMember>> {
    let mut conn = store.pool().acquire().await?;
    let row = find_row(&mut conn, which).await?;
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT c.id, c.display_name, m.entered_ms FROM segment_members m
           JOIN contacts c ON c.rk = m.contact_rk
          WHERE m.segment_rk = ?
          ORDER BY c.display_name COLLATE NOCASE, c.id LIMIT ? OFFSET ?",
    )
    .bind(row.rk)
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, ms)| SegmentMember {
            contact_id: Uuid::parse_str(&id).unwrap_or_default(),
            name,
            entered_at: ms_text(ms),
        })
        .collect())
}

/// The latest entries and exits of a segment, newest first.
pub async fn history(store: &Store, which: &str, limit: u32) -> Result<Vec<SegmentHistoryEntry>> {
    let mut conn = store.pool().acquire().await?;
    let row = find_row(&mut conn, which).await?;
    history_where(&mut conn, "h.segment_id = ?", &row.id, limit).await
}

/// A contact's segment entries and exits, newest first.
pub async fn contact_history(
    store: &Store,
    contact: Uuid,
    limit: u32,
) -> Result<Vec<SegmentHistoryEntry>> {
    let mut conn = store.pool().acquire().await?;
    history_where(&mut conn, "h.contact_id = ?", &contact.to_string(), limit).await
}

async fn history_where(
    conn: &mut SqliteConnection,
    cond: &str,
    value: &str,
    limit: u32,
) -> Result<Vec<SegmentHistoryEntry>> {
    let rows: Vec<(String, String, Option<String>, String, String)> = sqlx::query_as(&format!(
        "SELECT h.segment_id, h.contact_id, c.display_name, h.kind, h.at FROM segment_history h
           LEFT JOIN contacts c ON c.id = h.contact_id
          WHERE {cond} ORDER BY h.at_ms DESC, h.rk DESC LIMIT ?"
    ))
    .bind(value)
    .bind(limit as i64)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, c, name, kind, at)| SegmentHistoryEntry {
            segment_id: Uuid::parse_str(&s).unwrap_or_default(),
            contact_id: Uuid::parse_str(&c).unwrap_or_default(),
            contact_name: name,
            kind,
            at,
        })
        .collect())
}

/// The segments a contact is in now, by name.
pub async fn of_contact(store: &Store, contact: Uuid) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT s.name FROM segment_members m JOIN segments s ON s.rk = m.segment_rk
           JOIN contacts c ON c.rk = m.contact_rk
          WHERE c.id = ? AND s.deleted_at IS NULL ORDER BY s.name COLLATE NOCASE",
    )
    .bind(contact.to_string())
    .fetch_all(store.pool())
    .await?)
}

// ---- writing ----------------------------------------------------------------

/// Check a rule as a user saves it (syntax, fields, stages, currencies) and
/// that it does not test the segment's own tag. Returns the stored text.
async fn check_rule(conn: &mut SqliteConnection, rule: &Value, name: &str) -> Result<String> {
    let node = rule::parse(rule)?;
    rule::check(conn, &node).await?;
    let own = tags::tag_id(&tag_name(name));
    let mut nodes = Vec::new();
    node.walk(&mut nodes);
    if nodes
        .iter()
        .any(|n| matches!(n, Node::Tag(t) if tags::tag_id(t) == own))
    {
        return Err(Error::invalid(
            "rule",
            format!("a segment cannot test its own tag \"{}\"", tag_name(name)),
        ));
    }
    Ok(rule.to_string())
}

async fn name_taken(conn: &mut SqliteConnection, name: &str, except: Option<i64>) -> Result<()> {
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT rk FROM segments WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL AND rk IS NOT ?",
    )
    .bind(name)
    .bind(except)
    .fetch_optional(conn)
    .await?;
    match taken {
        Some(_) => Err(Error::invalid(
            "name",
            format!("A segment named \"{name}\" exists"),
        )),
        None => Ok(()),
    }
}

/// Create a segment and compute its members (a [`refresh`] at `now`).
pub async fn create(store: &Store, input: &SegmentInput, now: DateTime<Utc>) -> Result<Segment> {
    let name = clean_name(&input.name)?;
    let triggers = match &input.triggers {
        None | Some(Value::Null) => None,
        Some(t) => {
            parse_triggers(t)?;
            Some(t.to_string())
        }
    };
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    name_taken(tx.conn(), &name, None).await?;
    let rule = check_rule(tx.conn(), &input.rule, &name).await?;
    let tag = tags::ensure(&mut tx, &tag_name(&name)).await?;
    tx.insert(
        &SEGMENT,
        id,
        vec![
            ("name", json!(name)),
            ("rule", json!(rule)),
            ("tag_id", json!(tag.to_string())),
            ("triggers", json!(triggers)),
            ("created_at", json!(time_text(now))),
        ],
    )
    .await?;
    tx.commit().await?;
    refresh(store, now).await?;
    get(store, &id.to_string()).await
}

/// Change a segment's name, rule or triggers; a new name moves its members to
/// the new tag. Members are recomputed (a [`refresh`] at `now`).
pub async fn update(
    store: &Store,
    which: &str,
    patch: &SegmentPatch,
    now: DateTime<Utc>,
) -> Result<Segment> {
    let mut tx = store.write().await?;
    let row = find_row(tx.conn(), which).await?;
    let id = Uuid::parse_str(&row.id).map_err(|_| Error::not_found("segment", &row.id))?;
    let old_name = row.name.clone().unwrap_or_default();
    let name = match &patch.name {
        Some(n) => clean_name(n)?,
        None => old_name.clone(),
    };
    let mut fields = Vec::new();
    if let Some(t) = &patch.triggers {
        let text = match t {
            None | Some(Value::Null) => None,
            Some(t) => {
                parse_triggers(t)?;
                Some(t.to_string())
            }
        };
        fields.push(("triggers", json!(text)));
    }
    let rule_value: Value = match &patch.rule {
        Some(r) => r.clone(),
        None => serde_json::from_str(row.rule.as_deref().unwrap_or("null")).unwrap_or(Value::Null),
    };
    if patch.rule.is_some() || name != old_name {
        let rule = check_rule(tx.conn(), &rule_value, &name).await?;
        if patch.rule.is_some() {
            fields.push(("rule", json!(rule)));
        }
    }
    if name != old_name {
        name_taken(tx.conn(), &name, Some(row.rk)).await?;
        fields.push(("name", json!(name)));
        let old_tag = tags::tag_id(&tag_name(&old_name));
        let new_tag = tags::ensure(&mut tx, &tag_name(&name)).await?;
        if new_tag != old_tag {
            // Move the members' tag: the rename of hub_core::tags, for one tag.
            let links: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, contact_id FROM contact_tags WHERE tag_id = ? AND deleted_at IS NULL",
            )
            .bind(old_tag.to_string())
            .fetch_all(tx.conn())
            .await?;
            let contacts: Vec<Uuid> = links
                .iter()
                .filter_map(|(_, c)| Uuid::parse_str(c).ok())
                .collect();
            for (link, _) in &links {
                if let Ok(link) = Uuid::parse_str(link) {
                    tx.delete(&CONTACT_TAG, link).await?;
                }
            }
            set_links(&mut tx, new_tag, &contacts, &[]).await?;
            match tx.delete(&TAG, old_tag).await {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        fields.push(("tag_id", json!(new_tag.to_string())));
    }
    if !fields.is_empty() {
        tx.update(&SEGMENT, id, fields).await?;
    }
    tx.commit().await?;
    refresh(store, now).await?;
    get(store, &id.to_string()).await
}

/// Delete a segment: its tag comes off its members and is deleted; the
/// history stays.
pub async fn delete(store: &Store, which: &str, now: DateTime<Utc>) -> Result<()> {
    let mut tx = store.write().await?;
    let row = find_row(tx.conn(), which).await?;
    let id = Uuid::parse_str(&row.id).map_err(|_| Error::not_found("segment", &row.id))?;
    tx.delete(&SEGMENT, id).await?;
    if let Some(tag) = row.tag_id.as_deref().and_then(|t| Uuid::parse_str(t).ok()) {
        let links: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM contact_tags WHERE tag_id = ? AND deleted_at IS NULL",
        )
        .bind(tag.to_string())
        .fetch_all(tx.conn())
        .await?;
        for link in links {
            if let Ok(link) = Uuid::parse_str(&link) {
                tx.delete(&CONTACT_TAG, link).await?;
            }
        }
        match tx.delete(&TAG, tag).await {
            Ok(_) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    refresh(store, now).await?;
    Ok(())
}

/// Make the tag live on `on` and not on `off` (contact ids), writing only
/// what differs. Returns the number of links written.
async fn set_links(tx: &mut WriteTx, tag: Uuid, on: &[Uuid], off: &[Uuid]) -> Result<u32> {
    let mut written = 0;
    let wanted: Vec<(Uuid, bool)> = on
        .iter()
        .map(|c| (*c, true))
        .chain(off.iter().map(|c| (*c, false)))
        .collect();
    for chunk in wanted.chunks(CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|(c, _)| c.to_string()).collect();
        let existing: Vec<(String, String, Option<String>)> = sqlx::query_as(
            // INDEXED BY: without statistics SQLite takes the tag_id index and
            // walks every link of the tag per contact (quadratic in its size).
            "SELECT l.id, l.contact_id, l.deleted_at FROM json_each(?) j
               CROSS JOIN contact_tags l INDEXED BY contact_tags_contact
                  ON l.contact_id = j.value AND l.tag_id = ?",
        )
        .bind(json_list(&ids))
        .bind(tag.to_string())
        .fetch_all(tx.conn())
        .await?;
        // A contact may have an old link with another id (made before ids were derived).
        let mut links: HashMap<String, Vec<(Uuid, bool)>> = HashMap::new();
        for (id, contact, deleted) in existing {
            if let Ok(id) = Uuid::parse_str(&id) {
                links
                    .entry(contact)
                    .or_default()
                    .push((id, deleted.is_none()));
            }
        }
        let mut inserts = Vec::new();
        for (contact, want) in chunk {
            let have = links.get(&contact.to_string());
            let live: Vec<Uuid> = have
                .map(|l| {
                    l.iter()
                        .filter(|(_, live)| *live)
                        .map(|(id, _)| *id)
                        .collect()
                })
                .unwrap_or_default();
            if *want && live.is_empty() {
                match have.and_then(|l| l.first()) {
                    Some((id, _)) => {
                        tx.update(&CONTACT_TAG, *id, vec![("deleted_at", Value::Null)])
                            .await?;
                    }
                    None => inserts.push((
                        link_id(*contact, tag),
                        vec![
                            ("contact_id", json!(contact.to_string())),
                            ("tag_id", json!(tag.to_string())),
                        ],
                    )),
                }
                written += 1;
            } else if !*want && !live.is_empty() {
                for id in live {
                    tx.delete(&CONTACT_TAG, id).await?;
                }
                written += 1;
            }
        }
        tx.insert_many(&CONTACT_TAG, inserts).await?;
    }
    Ok(written)
}

// ---- evaluation -------------------------------------------------------------

/// A live segment ready to evaluate.
struct Prepared {
    rk: i64,
    id: Uuid,
    name: String,
    rule_text: String,
    node: Node,
    resolved: Resolved,
    triggers: Triggers,
}

/// Exchange rates into the base currency, read in the transaction.
async fn usable_rates(conn: &mut SqliteConnection) -> Result<Vec<(String, Decimal)>> {
    let base: Option<String> = sqlx::query_scalar(
        "SELECT value FROM workspace_settings WHERE key = 'base_currency' AND deleted_at IS NULL",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(base) = base.and_then(|b| serde_json::from_str::<String>(&b).ok()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT currency, base, rate FROM exchange_rates WHERE deleted_at IS NULL")
            .fetch_all(&mut *conn)
            .await?;
    let mut out = vec![(base.clone(), Decimal::ONE)];
    for (currency, rate_base, rate) in rows {
        if let (Some(c), Some(b), Some(r)) =
            (currency, rate_base, crate::money::stored(rate.as_deref()))
        {
            if b == base && c != base {
                out.push((c, r));
            }
        }
    }
    Ok(out)
}

/// For each won-amount condition of the rule: (list is of failing contacts, rks).
async fn won_sets(
    conn: &mut SqliteConnection,
    node: &Node,
    scope: Option<&[i64]>,
) -> Result<Vec<(bool, String)>> {
    let mut nodes = Vec::new();
    node.walk(&mut nodes);
    let conditions: Vec<(Op, Decimal, Option<String>)> = nodes
        .into_iter()
        .filter_map(|n| match n {
            Node::WonAmount {
                op,
                amount,
                currency,
            } => Some((*op, *amount, currency.clone())),
            _ => None,
        })
        .collect();
    if conditions.is_empty() {
        return Ok(Vec::new());
    }
    let base =
        "SELECT c.rk, d.amount, d.currency FROM deals d JOIN contacts c ON c.id = d.contact_id
                 WHERE d.status = 'won' AND d.deleted_at IS NULL";
    let deals: Vec<(i64, Option<String>, Option<String>)> = match scope {
        None => sqlx::query_as(base).fetch_all(&mut *conn).await?,
        Some(rks) => {
            // From the contacts in scope, not from every won deal.
            sqlx::query_as(
                "SELECT c.rk, d.amount, d.currency FROM json_each(?) j
                   CROSS JOIN contacts c ON c.rk = j.value
                   JOIN deals d ON d.contact_id = c.id
                  WHERE d.status = 'won' AND d.deleted_at IS NULL",
            )
            .bind(json_list(rks))
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let rates = usable_rates(conn).await?;
    Ok(conditions
        .into_iter()
        .map(|(op, amount, currency)| {
            let totals = sql::won_totals(&deals, currency.as_deref(), &rates);
            let negated = sql::won_holds(op, Decimal::ZERO, amount);
            let mut rks: Vec<i64> = totals
                .into_iter()
                .filter(|(_, total)| sql::won_holds(op, *total, amount) != negated)
                .map(|(rk, _)| rk)
                .collect();
            rks.sort_unstable();
            (negated, json_list(&rks))
        })
        .collect())
}

fn bind_all<'q>(
    mut q: sqlx::query::QueryScalar<'q, Sqlite, i64, sqlx::sqlite::SqliteArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::QueryScalar<'q, Sqlite, i64, sqlx::sqlite::SqliteArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::Real(r) => q.bind(*r),
        };
    }
    q
}

/// The live contacts (rks, ascending) that satisfy the rule at `now_ms`:
/// all of them (`scope` None, the full form) or those among `scope`.
async fn evaluate_node(
    conn: &mut SqliteConnection,
    node: &Node,
    resolved: &Resolved,
    now_ms: i64,
    scope: Option<&[i64]>,
) -> Result<Vec<i64>> {
    match scope {
        None => {
            let won = won_sets(conn, node, None).await?;
            let cx = Context {
                mode: Mode::Full,
                now_ms,
                resolved,
                won: &won,
            };
            let pred = sql::compile(node, &cx)?;
            let text = format!(
                "SELECT c.rk FROM contacts c WHERE c.deleted_at IS NULL AND {} ORDER BY c.rk",
                pred.text
            );
            Ok(bind_all(sqlx::query_scalar(&text), &pred.binds)
                .fetch_all(conn)
                .await?)
        }
        Some(rks) => {
            let mut out = Vec::new();
            for chunk in rks.chunks(CHUNK) {
                let won = won_sets(conn, node, Some(chunk)).await?;
                let cx = Context {
                    mode: Mode::Contact,
                    now_ms,
                    resolved,
                    won: &won,
                };
                let pred = sql::compile(node, &cx)?;
                let text = format!(
                    "SELECT c.rk FROM contacts c WHERE c.rk IN (SELECT value FROM json_each(?))
                        AND c.deleted_at IS NULL AND {} ORDER BY c.rk",
                    pred.text
                );
                let list = json_list(chunk);
                let mut q = sqlx::query_scalar::<_, i64>(&text).bind(list.as_str());
                for b in &pred.binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.as_str()),
                        Bind::Int(i) => q.bind(*i),
                        Bind::Real(r) => q.bind(*r),
                    };
                }
                out.extend(q.fetch_all(&mut *conn).await?);
            }
            out.sort_unstable();
            Ok(out)
        }
    }
}

/// What a refresh knows of its candidates after one statement per chunk: who
/// is a member now by the rule's per-contact form, who was before, and who
/// carries the segment tag.
#[derive(Default)]
struct Checked {
    now: Vec<i64>,
    before: Vec<i64>,
    tagged: Vec<i64>,
}

async fn check_candidates(
    conn: &mut SqliteConnection,
    seg: &Prepared,
    candidates: &[i64],
    now_ms: i64,
) -> Result<Checked> {
    let tag = tags::tag_id(&tag_name(&seg.name)).to_string();
    let mut out = Checked::default();
    for chunk in candidates.chunks(CHUNK) {
        let won = won_sets(conn, &seg.node, Some(chunk)).await?;
        let cx = Context {
            mode: Mode::Contact,
            now_ms,
            resolved: &seg.resolved,
            won: &won,
        };
        let pred = sql::compile(&seg.node, &cx)?;
        // From the candidates (a contact gone since still has its membership
        // looked up): index look-ups, never a walk of a segment's members or a
        // tag's links.
        let text = format!(
            "SELECT j.value,
                    c.rk IS NOT NULL AND c.deleted_at IS NULL AND ({}),
                    EXISTS (SELECT 1 FROM segment_members m
                             WHERE m.segment_rk = ? AND m.contact_rk = j.value),
                    c.rk IS NOT NULL AND EXISTS (
                        SELECT 1 FROM contact_tags l INDEXED BY contact_tags_contact
                         WHERE l.contact_id = c.id AND l.tag_id = ? AND l.deleted_at IS NULL)
               FROM json_each(?) j LEFT JOIN contacts c ON c.rk = j.value",
            pred.text
        );
        let list = json_list(chunk);
        let mut q = sqlx::query_as::<_, (i64, bool, bool, bool)>(&text);
        for b in &pred.binds {
            q = match b {
                Bind::Text(t) => q.bind(t.as_str()),
                Bind::Int(i) => q.bind(*i),
                Bind::Real(r) => q.bind(*r),
            };
        }
        let rows = q
            .bind(seg.rk)
            .bind(tag.as_str())
            .bind(list.as_str())
            .fetch_all(&mut *conn)
            .await?;
        for (rk, now, before, tagged) in rows {
            for (list, yes) in [
                (&mut out.now, now),
                (&mut out.before, before),
                (&mut out.tagged, tagged),
            ] {
                if yes {
                    list.push(rk);
                }
            }
        }
    }
    Ok(out)
}

/// What an unsaved rule would select: the segment builder's live count and
/// preview. Checked like a saved rule (a bad rule is a typed error naming the
/// part); nothing is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, rename = "SegmentPreview")]
pub struct Preview {
    pub count: u32,
    /// The first `limit` members by name (`entered_at` is empty: not a member yet).
    pub sample: Vec<SegmentMember>,
}

pub async fn preview(
    store: &Store,
    rule: &Value,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Preview> {
    let mut conn = store.pool().acquire().await?;
    let node = rule::parse(rule)?;
    let resolved = rule::check(&mut conn, &node).await?;
    let rks = evaluate_node(&mut conn, &node, &resolved, now.timestamp_millis(), None).await?;
    let mut sample = Vec::new();
    for chunk in rks.chunks(10_000) {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, display_name FROM contacts WHERE rk IN (SELECT value FROM json_each(?))
              ORDER BY display_name COLLATE NOCASE, id LIMIT ?",
        )
        .bind(json_list(chunk))
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await?;
        sample.extend(rows);
    }
    sample.sort_by(|a, b| {
        let key = |r: &(String, Option<String>)| r.1.clone().unwrap_or_default().to_lowercase();
        key(a).cmp(&key(b)).then_with(|| a.0.cmp(&b.0))
    });
    sample.truncate(limit as usize);
    Ok(Preview {
        count: rks.len() as u32,
        sample: sample
            .into_iter()
            .map(|(id, name)| SegmentMember {
                contact_id: Uuid::parse_str(&id).unwrap_or_default(),
                name,
                entered_at: String::new(),
            })
            .collect(),
    })
}

/// Who is in a segment at `now` by a full computation over the whole base,
/// without writing anything: the reference [`refresh`] is tested against.
pub async fn compute_full(store: &Store, which: &str, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
    let mut conn = store.pool().acquire().await?;
    let row = find_row(&mut conn, which).await?;
    let node = rule::parse_text(row.rule.as_deref().unwrap_or(""))?;
    let resolved = rule::resolve(&mut conn, &node).await?;
    let rks = evaluate_node(&mut conn, &node, &resolved, now.timestamp_millis(), None).await?;
    rks_to_ids(&mut conn, &rks).await
}

/// Evaluate one segment for the given contacts only (the incremental form),
/// without writing: for benchmarks and tests.
pub async fn compute_for(
    store: &Store,
    which: &str,
    contacts: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    let mut conn = store.pool().acquire().await?;
    let row = find_row(&mut conn, which).await?;
    let node = rule::parse_text(row.rule.as_deref().unwrap_or(""))?;
    let resolved = rule::resolve(&mut conn, &node).await?;
    let ids: Vec<String> = contacts.iter().map(Uuid::to_string).collect();
    let rks: Vec<i64> =
        sqlx::query_scalar("SELECT rk FROM contacts WHERE id IN (SELECT value FROM json_each(?))")
            .bind(json_list(&ids))
            .fetch_all(&mut *conn)
            .await?;
    let found = evaluate_node(
        &mut conn,
        &node,
        &resolved,
        now.timestamp_millis(),
        Some(&rks),
    )
    .await?;
    rks_to_ids(&mut conn, &found).await
}

async fn rks_to_ids(conn: &mut SqliteConnection, rks: &[i64]) -> Result<Vec<Uuid>> {
    let mut out = Vec::with_capacity(rks.len());
    for chunk in rks.chunks(10_000) {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE rk IN (SELECT value FROM json_each(?))",
        )
        .bind(json_list(chunk))
        .fetch_all(&mut *conn)
        .await?;
        out.extend(ids.iter().filter_map(|i| Uuid::parse_str(i).ok()));
    }
    out.sort();
    Ok(out)
}

/// The contacts whose events crossed the edge of one of the rule's time
/// windows between the last refresh (`then`) and `now`: the only ones whose
/// time-based conditions can have changed without a new row.
async fn crossed(
    conn: &mut SqliteConnection,
    windows: &[u32],
    then: i64,
    now: i64,
) -> Result<Vec<i64>> {
    let (lo, hi) = (then.min(now), then.max(now));
    let mut out = BTreeSet::new();
    if lo == hi {
        return Ok(Vec::new());
    }
    for days in windows {
        let d = *days as i64 * DAY_MS;
        let rks: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT contact_rk FROM events
              WHERE contact_rk IS NOT NULL AND at_ms >= ? AND at_ms < ?",
        )
        .bind(lo - d)
        .bind(hi - d)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rks);
    }
    Ok(out.into_iter().collect())
}

struct ContactInfo {
    id: Uuid,
    name: Option<String>,
    owner: Option<String>,
}

async fn contact_info(
    conn: &mut SqliteConnection,
    rks: &[i64],
) -> Result<HashMap<i64, ContactInfo>> {
    let mut out = HashMap::with_capacity(rks.len());
    for chunk in rks.chunks(10_000) {
        let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT rk, id, display_name, owner FROM contacts WHERE rk IN (SELECT value FROM json_each(?))",
        )
        .bind(json_list(chunk))
        .fetch_all(&mut *conn)
        .await?;
        for (rk, id, name, owner) in rows {
            if let Ok(id) = Uuid::parse_str(&id) {
                out.insert(rk, ContactInfo { id, name, owner });
            }
        }
    }
    Ok(out)
}

/// What a full computation knows: the members now, and every member and every
/// tagged contact before.
async fn read_all(tx: &mut WriteTx, seg: &Prepared, now_members: Vec<i64>) -> Result<Checked> {
    let before: Vec<i64> = sqlx::query_scalar(
        "SELECT contact_rk FROM segment_members WHERE segment_rk = ? ORDER BY contact_rk",
    )
    .bind(seg.rk)
    .fetch_all(tx.conn())
    .await?;
    let tag = tags::tag_id(&tag_name(&seg.name));
    let tagged: Vec<i64> = sqlx::query_scalar(
        "SELECT c.rk FROM contact_tags l JOIN contacts c ON c.id = l.contact_id
          WHERE l.tag_id = ? AND l.deleted_at IS NULL",
    )
    .bind(tag.to_string())
    .fetch_all(tx.conn())
    .await?;
    Ok(Checked {
        now: now_members,
        before,
        tagged,
    })
}

/// Write one segment's new membership among the contacts checked: members,
/// history, the tag on exactly the members, entry triggers.
async fn apply(
    tx: &mut WriteTx,
    seg: &Prepared,
    checked: Checked,
    now: DateTime<Utc>,
    me: &str,
    report: &mut RefreshReport,
) -> Result<()> {
    let now_ms = now.timestamp_millis();
    let Checked {
        now: now_members,
        before,
        tagged,
    } = checked;
    let before: HashSet<i64> = before.into_iter().collect();
    let after: HashSet<i64> = now_members.iter().copied().collect();
    let mut entered: Vec<i64> = after.difference(&before).copied().collect();
    let mut exited: Vec<i64> = before.difference(&after).copied().collect();
    entered.sort_unstable();
    exited.sort_unstable();

    let at = time_text(now);
    let seg_id = seg.id.to_string();
    for (list, kind) in [(&entered, "entered"), (&exited, "exited")] {
        for chunk in list.chunks(10_000) {
            let rks = json_list(chunk);
            if kind == "entered" {
                sqlx::query(
                    "INSERT OR IGNORE INTO segment_members (segment_rk, contact_rk, entered_ms)
                     SELECT ?, value, ? FROM json_each(?)",
                )
                .bind(seg.rk)
                .bind(now_ms)
                .bind(&rks)
                .execute(tx.conn())
                .await?;
            } else {
                sqlx::query(
                    "DELETE FROM segment_members WHERE segment_rk = ? AND contact_rk IN (SELECT value FROM json_each(?))",
                )
                .bind(seg.rk)
                .bind(&rks)
                .execute(tx.conn())
                .await?;
            }
            sqlx::query(
                "INSERT INTO segment_history (segment_id, contact_id, kind, at, at_ms)
                 SELECT ?, c.id, ?, ?, ? FROM contacts c WHERE c.rk IN (SELECT value FROM json_each(?))",
            )
            .bind(&seg_id)
            .bind(kind)
            .bind(&at)
            .bind(now_ms)
            .bind(&rks)
            .execute(tx.conn())
            .await?;
        }
    }
    report.entered += entered.len() as u32;
    report.exited += exited.len() as u32;

    // The tag on exactly the members among the candidates (a tag removed by
    // hand from a member comes back; one put on a non-member comes off).
    let tag = tags::tag_id(&tag_name(&seg.name));
    let tagged: HashSet<i64> = tagged.into_iter().collect();
    let mut add: Vec<i64> = after.difference(&tagged).copied().collect();
    let mut remove: Vec<i64> = tagged.difference(&after).copied().collect();
    add.sort_unstable();
    remove.sort_unstable();
    let mut need: Vec<i64> = add.iter().chain(&remove).chain(&entered).copied().collect();
    need.sort_unstable();
    need.dedup();
    let info = contact_info(tx.conn(), &need).await?;
    if !add.is_empty() || !remove.is_empty() {
        let tag_live: Option<Option<String>> =
            sqlx::query_scalar("SELECT deleted_at FROM tags WHERE id = ?")
                .bind(tag.to_string())
                .fetch_optional(tx.conn())
                .await?;
        if !add.is_empty() && !matches!(tag_live, Some(None)) {
            tags::ensure(tx, &tag_name(&seg.name)).await?;
        }
        let on: Vec<Uuid> = add
            .iter()
            .filter_map(|rk| info.get(rk).map(|c| c.id))
            .collect();
        let off: Vec<Uuid> = remove
            .iter()
            .filter_map(|rk| info.get(rk).map(|c| c.id))
            .collect();
        report.tags_written += set_links(tx, tag, &on, &off).await?;
    }

    // Entry triggers.
    if let Some(stage) = seg.triggers.lifecycle_stage {
        for rk in &entered {
            if let Some(c) = info.get(rk) {
                tx.update(
                    &CONTACT,
                    c.id,
                    vec![("lifecycle_stage", json!(stage.as_str()))],
                )
                .await?;
            }
        }
    }
    if let Some(r) = &seg.triggers.reminder {
        let due = time_text(now + Duration::days(r.due_in_days as i64));
        let tz = reminders::local_zone();
        for rk in &entered {
            let Some(c) = info.get(rk) else { continue };
            let id = reminder_id(seg.id, c.id);
            let title = r
                .title
                .replace("{name}", c.name.as_deref().unwrap_or("contact"));
            let assignee = c
                .owner
                .clone()
                .filter(|o| !o.trim().is_empty())
                .unwrap_or_else(|| me.to_owned());
            let state: Option<(Option<String>, Option<String>)> =
                sqlx::query_as("SELECT done_at, deleted_at FROM reminders WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_optional(tx.conn())
                    .await?;
            match state {
                None => {
                    tx.insert(
                        &REMINDER,
                        id,
                        vec![
                            ("title", json!(title)),
                            ("notes", json!(r.notes)),
                            ("due_at", json!(due)),
                            ("starts_at", json!(due)),
                            ("tz", json!(tz)),
                            ("contact_id", json!(c.id.to_string())),
                            ("assignee", json!(assignee)),
                            ("created_at", json!(at)),
                        ],
                    )
                    .await?;
                    report.reminders += 1;
                }
                // Entered again after the last follow-up was done or deleted: open it again.
                Some((done, deleted)) if done.is_some() || deleted.is_some() => {
                    tx.update(
                        &REMINDER,
                        id,
                        vec![
                            ("title", json!(title)),
                            ("due_at", json!(due)),
                            ("starts_at", json!(due)),
                            ("snoozed_until", Value::Null),
                            ("done_at", Value::Null),
                            ("deleted_at", Value::Null),
                            ("assignee", json!(assignee)),
                        ],
                    )
                    .await?;
                    report.reminders += 1;
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Whether a refresh at `now_ms` has anything to do, and whether an entry
/// trigger makes reminders (which need the current user), read in one
/// statement without the write lock, so an idle app loop or CLI read takes no
/// lock: contacts queued, a segment new, changed or deleted since it was
/// computed, or a segment with a time window last checked at another time.
async fn has_work(store: &Store, now_ms: i64) -> Result<(bool, bool)> {
    let (queued, dead, reminders, live): (i64, i64, i64, String) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM segment_queue),
                EXISTS (SELECT 1 FROM segment_state st LEFT JOIN segments s ON s.rk = st.segment_rk
                         WHERE s.rk IS NULL OR s.deleted_at IS NOT NULL),
                EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL AND instr(triggers, '\"reminder\"') > 0),
                (SELECT json_group_array(json_array(s.rule, st.rule, st.checked_ms)) FROM segments s
                   LEFT JOIN segment_state st ON st.segment_rk = s.rk WHERE s.deleted_at IS NULL)",
    )
    .fetch_one(store.pool())
    .await?;
    let reminders = reminders != 0;
    if queued != 0 || dead != 0 {
        return Ok((true, reminders));
    }
    let live: Vec<(Option<String>, Option<String>, Option<i64>)> =
        serde_json::from_str(&live).unwrap_or_default();
    for (rule, computed, checked) in live {
        if rule != computed {
            return Ok((true, reminders));
        }
        let timed = rule
            .as_deref()
            .and_then(|r| rule::parse_text(r).ok())
            .map(|n| !n.windows().is_empty())
            .unwrap_or(false);
        if timed && checked != Some(now_ms) {
            return Ok((true, reminders));
        }
    }
    Ok((false, reminders))
}

/// Bring every segment up to date at `now`: drain the queue of contacts to
/// re-evaluate, re-check the contacts whose events crossed a time window's
/// edge since the last refresh, compute new or changed rules in full, and
/// write the differences (members, history, tags, triggers) in one write.
pub async fn refresh(store: &Store, now: DateTime<Utc>) -> Result<RefreshReport> {
    let now_ms = now.timestamp_millis();
    let mut report = RefreshReport::default();
    let (work, reminders) = has_work(store, now_ms).await?;
    if !work {
        return Ok(report);
    }
    // Read before the write: an in-memory store has one connection.
    let me = if reminders {
        users::current(store).await?
    } else {
        users::LOCAL_USER.to_owned()
    };
    let mut tx = store.write().await?;

    let rows: Vec<Row> = sqlx::query_as(ROW).fetch_all(tx.conn()).await?;
    let state: BTreeMap<i64, (String, i64)> = sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT segment_rk, rule, checked_ms FROM segment_state",
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|(rk, rule, ms)| (rk, (rule, ms)))
    .collect();

    // Segments gone (deleted here or elsewhere): forget their members.
    let live_rks: HashSet<i64> = rows
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.rk)
        .collect();
    // Members are only written with their segment's state (one write).
    let dead: Vec<i64> = state
        .keys()
        .copied()
        .filter(|rk| !live_rks.contains(rk))
        .collect();
    for rk in dead {
        sqlx::query("DELETE FROM segment_members WHERE segment_rk = ?")
            .bind(rk)
            .execute(tx.conn())
            .await?;
        sqlx::query("DELETE FROM segment_state WHERE segment_rk = ?")
            .bind(rk)
            .execute(tx.conn())
            .await?;
    }

    let mut segments = Vec::new();
    for row in rows.into_iter().filter(|r| r.deleted_at.is_none()) {
        let name = row.name.clone().unwrap_or_default();
        let rule_text = row.rule.clone().unwrap_or_default();
        let prepared = async {
            let node = rule::parse_text(&rule_text)?;
            let resolved = rule::resolve(tx.conn(), &node).await?;
            let triggers = match row.triggers.as_deref() {
                None => Triggers::default(),
                Some(t) => parse_triggers(&serde_json::from_str(t).unwrap_or(Value::Null))?,
            };
            Ok::<_, Error>((node, resolved, triggers))
        }
        .await;
        match prepared {
            Ok((node, resolved, triggers)) => segments.push(Prepared {
                rk: row.rk,
                id: Uuid::parse_str(&row.id).unwrap_or_default(),
                name,
                rule_text,
                node,
                resolved,
                triggers,
            }),
            Err(e) => report.errors.push((name, e.to_string())),
        }
    }
    report.segments = segments.len() as u32;

    // Whether a segment's writes feed a rule: a rule that tests a segment tag,
    // or a trigger that sets the lifecycle stage. If not, the contacts this
    // refresh tags are not re-evaluated.
    let segment_tags: HashSet<Uuid> = segments
        .iter()
        .map(|s| tags::tag_id(&tag_name(&s.name)))
        .collect();
    let feeds = segments
        .iter()
        .any(|s| s.triggers.lifecycle_stage.is_some())
        || segments.iter().any(|s| {
            let mut nodes = Vec::new();
            s.node.walk(&mut nodes);
            nodes
                .iter()
                .any(|n| matches!(n, Node::Tag(t) if segment_tags.contains(&tags::tag_id(t))))
        });

    let full: HashSet<i64> = segments
        .iter()
        .filter(|s| {
            state
                .get(&s.rk)
                .map(|(rule, _)| rule != &s.rule_text)
                .unwrap_or(true)
        })
        .map(|s| s.rk)
        .collect();

    let mut pass = 0;
    loop {
        let mut queued: Vec<i64> =
            sqlx::query_scalar("DELETE FROM segment_queue RETURNING contact_rk")
                .fetch_all(tx.conn())
                .await?;
        queued.sort_unstable();
        if pass > 0 && queued.is_empty() {
            break;
        }
        for seg in &segments {
            if pass == 0 && full.contains(&seg.rk) {
                let now_members =
                    evaluate_node(tx.conn(), &seg.node, &seg.resolved, now_ms, None).await?;
                let checked = read_all(&mut tx, seg, now_members).await?;
                apply(&mut tx, seg, checked, now, &me, &mut report).await?;
                report.full.push(seg.name.clone());
                continue;
            }
            let mut candidates = queued.clone();
            if pass == 0 {
                if let Some((_, then)) = state.get(&seg.rk) {
                    let windows = seg.node.windows();
                    if !windows.is_empty() {
                        candidates.extend(crossed(tx.conn(), &windows, *then, now_ms).await?);
                        candidates.sort_unstable();
                        candidates.dedup();
                    }
                }
            }
            if candidates.is_empty() {
                continue;
            }
            report.checked += candidates.len() as u32;
            let checked = check_candidates(tx.conn(), seg, &candidates, now_ms).await?;
            apply(&mut tx, seg, checked, now, &me, &mut report).await?;
        }
        pass += 1;
        if !feeds {
            // Only this refresh's own writes queued contacts since the drain
            // (and only synced rows queue any).
            if tx.has_changes() {
                sqlx::query("DELETE FROM segment_queue")
                    .execute(tx.conn())
                    .await?;
            }
            break;
        }
        if pass >= MAX_PASSES {
            break;
        }
    }
    report.passes = pass as u32;

    for seg in &segments {
        if state.get(&seg.rk) == Some(&(seg.rule_text.clone(), now_ms)) {
            continue;
        }
        sqlx::query(
            "INSERT INTO segment_state (segment_rk, rule, checked_ms) VALUES (?, ?, ?)
             ON CONFLICT (segment_rk) DO UPDATE SET rule = excluded.rule, checked_ms = excluded.checked_ms",
        )
        .bind(seg.rk)
        .bind(&seg.rule_text)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests;
