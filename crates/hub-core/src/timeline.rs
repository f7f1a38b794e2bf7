//! The timeline of a contact, a company or a deal: everything that happened
//! with it, newest first, filterable by kind, paged by a stable cursor.
//!
//! # Entries
//! An entry is one [`EntryKind`] at one time, with an [`EntryDetail`] that
//! carries the record it comes from:
//!
//! | kind | from | time | on the timeline of |
//! |---|---|---|---|
//! | `call`, `email`, `meeting`, `note` | `activities` | `occurred_at` | its contact, company, deal |
//! | `ticket_opened` | `tickets` | `created_at` | its contact, company |
//! | `ticket_closed` | `tickets` (resolved or closed) | `closed_at` | its contact, company |
//! | `ticket_comment` | `ticket_comments` | `created_at` | the ticket's contact, company |
//! | `stage_change` | `deal_stage_changes` (a deal's creation too, from no stage) | `changed_at` | the deal, its contact, its company |
//! | `page_view`, `screen_view`, `event` (track), `identified`, `group`, `alias` | `events` (behavioural, hub_core::events) | `at_ms` | the contact it resolved to (`contact_rk`) |
//! | `segment_entered`, `segment_exited` | `segment_history` (hub_core::segments) | `at` | the contact |
//!
//! # Paging
//! Entries are ordered by `(at, key)` descending, where `key` is unique per
//! entry (the source row's UUID; `<ticket id>:opened` / `:closed` for the two
//! entries of one ticket). A page's `next_cursor` is the last entry's
//! `at|key`; the next page is everything strictly before it. Entries added
//! while someone pages (newer ones, or older ones synced in) never shift a
//! page or repeat an entry, as OFFSET would. Each source is read with its own
//! index range scan (`activities_contact_time` etc.) limited to the page size,
//! and the sources are merged: a page costs the same on the 10,000th entry as
//! on the first.
//!
//! # Adding a kind (the CDP's behavioural events and segment entries)
//! 1. a variant in [`EntryKind`] and one in [`EntryDetail`];
//! 2. one arm in [`arms`]: a `SELECT src, kind, at, key, row_id` over the
//!    source table, on an index that starts with the record's id and the time;
//! 3. its hydration in [`hydrate`].
//!
//! Nothing else (cursor, merge, filters, CLI `--kind`, UI list) changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::activities::{self, parse_time_opt, time_text, Activity, ActivityKind, RecordRef};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tickets::{self, Ticket, TicketComment};

/// The most a page may hold.
pub const MAX_PAGE: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum EntryKind {
    Call,
    Email,
    Meeting,
    Note,
    TicketOpened,
    TicketClosed,
    TicketComment,
    StageChange,
    /// Behavioural events (Segment calls resolved to the contact).
    PageView,
    ScreenView,
    Event,
    Identified,
    Group,
    Alias,
    /// The contact entered or left a segment (hub_core::segments).
    SegmentEntered,
    SegmentExited,
}

impl EntryKind {
    pub const ALL: [EntryKind; 16] = [
        EntryKind::Call,
        EntryKind::Email,
        EntryKind::Meeting,
        EntryKind::Note,
        EntryKind::TicketOpened,
        EntryKind::TicketClosed,
        EntryKind::TicketComment,
        EntryKind::StageChange,
        EntryKind::PageView,
        EntryKind::ScreenView,
        EntryKind::Event,
        EntryKind::Identified,
        EntryKind::Group,
        EntryKind::Alias,
        EntryKind::SegmentEntered,
        EntryKind::SegmentExited,
    ];

    /// The behavioural kinds, each with the Segment call type it shows.
    pub const BEHAVIOUR: [(EntryKind, &'static str); 6] = [
        (EntryKind::PageView, "page"),
        (EntryKind::ScreenView, "screen"),
        (EntryKind::Event, "track"),
        (EntryKind::Identified, "identify"),
        (EntryKind::Group, "group"),
        (EntryKind::Alias, "alias"),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Call => "call",
            EntryKind::Email => "email",
            EntryKind::Meeting => "meeting",
            EntryKind::Note => "note",
            EntryKind::TicketOpened => "ticket_opened",
            EntryKind::TicketClosed => "ticket_closed",
            EntryKind::TicketComment => "ticket_comment",
            EntryKind::StageChange => "stage_change",
            EntryKind::PageView => "page_view",
            EntryKind::ScreenView => "screen_view",
            EntryKind::Event => "event",
            EntryKind::Identified => "identified",
            EntryKind::Group => "group",
            EntryKind::Alias => "alias",
            EntryKind::SegmentEntered => "segment_entered",
            EntryKind::SegmentExited => "segment_exited",
        }
    }

    fn activity(self) -> Option<ActivityKind> {
        match self {
            EntryKind::Call => Some(ActivityKind::Call),
            EntryKind::Email => Some(ActivityKind::Email),
            EntryKind::Meeting => Some(ActivityKind::Meeting),
            EntryKind::Note => Some(ActivityKind::Note),
            _ => None,
        }
    }

    /// A kind name, or a group: `activity` (calls, emails, meetings, notes),
    /// `ticket` (opened, closed and comments). `-` and `_` alike.
    pub fn parse_filter(text: &str) -> Result<Vec<EntryKind>> {
        let t = text.trim().to_lowercase().replace('-', "_");
        match t.as_str() {
            "activity" | "activities" => Ok(vec![
                EntryKind::Call,
                EntryKind::Email,
                EntryKind::Meeting,
                EntryKind::Note,
            ]),
            "ticket" | "tickets" => Ok(vec![
                EntryKind::TicketOpened,
                EntryKind::TicketClosed,
                EntryKind::TicketComment,
            ]),
            "comment" => Ok(vec![EntryKind::TicketComment]),
            "behaviour" | "behavior" | "events" | "tracking" => {
                Ok(Self::BEHAVIOUR.iter().map(|(k, _)| *k).collect())
            }
            "page" | "pages" => Ok(vec![EntryKind::PageView]),
            "screen" => Ok(vec![EntryKind::ScreenView]),
            "track" => Ok(vec![EntryKind::Event]),
            "identify" => Ok(vec![EntryKind::Identified]),
            "segment" | "segments" => {
                Ok(vec![EntryKind::SegmentEntered, EntryKind::SegmentExited])
            }
            _ => Self::ALL
                .into_iter()
                .find(|k| k.as_str() == t)
                .map(|k| vec![k])
                .ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                    Error::invalid(
                        "kind",
                        format!(
                            "\"{}\" is not a timeline kind ({}, or activity, ticket, behaviour, segment)",
                            text.trim(),
                            names.join(", ")
                        ),
                    )
                }),
        }
    }
}

/// A deal's move from one stage to another (or its creation, from none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StageMove {
    pub id: Uuid,
    /// `name` is the deal's title.
    pub deal: RecordRef,
    pub from_stage: Option<RecordRef>,
    pub to_stage: Option<RecordRef>,
    pub changed_by: Option<String>,
}

/// The record an entry comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum EntryDetail {
    Activity {
        activity: Activity,
    },
    /// For `ticket_opened` and `ticket_closed`: the ticket as it is now.
    Ticket {
        ticket: Ticket,
    },
    Comment {
        comment: TicketComment,
        ticket_subject: String,
    },
    StageChange {
        change: StageMove,
    },
    /// A behavioural event (page view, screen view, track, identify, group, alias).
    Event {
        event: BehaviourEvent,
    },
    /// `segment_entered` / `segment_exited`.
    Segment {
        segment: SegmentMove,
    },
}

/// A contact's entry into or exit from a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SegmentMove {
    pub segment_id: Uuid,
    /// The segment's name now (a deleted segment's last name).
    pub name: String,
    pub deleted: bool,
}

/// A behavioural event as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BehaviourEvent {
    pub message_id: String,
    /// The Segment call: identify, track, page, screen, group, alias.
    pub call: String,
    /// track: the event name; page/screen: the name when given.
    pub name: Option<String>,
    /// The page path (page calls, and calls made on a page).
    pub path: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// The event as received (properties, traits, context…), verbatim.
    #[ts(type = "Record<string, unknown>")]
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TimelineEntry {
    /// Unique per entry; with `at`, the order and the cursor.
    pub key: String,
    pub kind: EntryKind,
    pub at: DateTime<Utc>,
    pub detail: EntryDetail,
}

/// Whose timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[ts(export)]
pub enum TimelineOf {
    Contact(Uuid),
    Company(Uuid),
    Deal(Uuid),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TimelineQuery {
    /// Only these kinds; empty: all.
    #[serde(default)]
    pub kinds: Vec<EntryKind>,
    /// `next_cursor` of the previous page; none for the newest.
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

impl Default for TimelineQuery {
    fn default() -> Self {
        TimelineQuery {
            kinds: Vec::new(),
            cursor: None,
            limit: default_limit(),
        }
    }
}

fn default_limit() -> u32 {
    50
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TimelinePage {
    pub entries: Vec<TimelineEntry>,
    /// Present when older entries remain.
    pub next_cursor: Option<String>,
}

/// `at|key` -> (at as stored, key).
fn parse_cursor(cursor: &str) -> Result<(String, String)> {
    let bad = || Error::invalid("cursor", "not a timeline cursor (use next_cursor as given)");
    let (at, key) = cursor.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    if key.is_empty() {
        return Err(bad());
    }
    Ok((time_text(at.with_timezone(&Utc)), key.to_owned()))
}

/// One `SELECT src, kind, at, key, row_id` per source for `of`, each ordered
/// and limited on its index. `?1` record id, `?2`/`?3` cursor, `?4` limit.
fn arms(of: TimelineOf, kinds: &[EntryKind], cursor: bool) -> Vec<String> {
    let wanted = |k: EntryKind| kinds.is_empty() || kinds.contains(&k);
    let before = |at: &str, key: &str| {
        if cursor {
            format!("AND ({at}, {key}) < (?2, ?3)")
        } else {
            String::new()
        }
    };
    let arm = |select: String, from_where: String, at: &str, key: &str| {
        format!(
            "SELECT * FROM (SELECT {select} {from_where} {} ORDER BY {at} DESC, {key} DESC LIMIT ?4)",
            before(at, key)
        )
    };
    let mut out = Vec::new();

    let activity_kinds: Vec<String> = ActivityKind::ALL
        .iter()
        .filter(|k| {
            EntryKind::ALL
                .iter()
                .any(|e| e.activity() == Some(**k) && wanted(*e))
        })
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    if !activity_kinds.is_empty() {
        let link = match of {
            TimelineOf::Contact(_) => "a.contact_id",
            TimelineOf::Company(_) => "a.company_id",
            TimelineOf::Deal(_) => "a.deal_id",
        };
        let kind_filter = if activity_kinds.len() == ActivityKind::ALL.len() {
            String::new()
        } else {
            format!("AND a.kind IN ({})", activity_kinds.join(", "))
        };
        out.push(arm(
            "'activity' AS src, a.kind AS kind, a.occurred_at AS at, a.id AS key, a.id AS row_id"
                .into(),
            format!("FROM activities a WHERE {link} = ?1 AND a.deleted_at IS NULL {kind_filter}"),
            "a.occurred_at",
            "a.id",
        ));
    }

    let ticket_link = match of {
        TimelineOf::Contact(_) => Some("t.contact_id"),
        TimelineOf::Company(_) => Some("t.company_id"),
        TimelineOf::Deal(_) => None,
    };
    if let Some(link) = ticket_link {
        if wanted(EntryKind::TicketOpened) {
            out.push(arm(
                "'ticket' AS src, 'ticket_opened' AS kind, t.created_at AS at, t.id || ':opened' AS key, t.id AS row_id".into(),
                format!("FROM tickets t WHERE {link} = ?1 AND t.deleted_at IS NULL"),
                "t.created_at",
                "(t.id || ':opened')",
            ));
        }
        if wanted(EntryKind::TicketClosed) {
            out.push(arm(
                "'ticket' AS src, 'ticket_closed' AS kind, t.closed_at AS at, t.id || ':closed' AS key, t.id AS row_id".into(),
                format!(
                    "FROM tickets t WHERE {link} = ?1 AND t.deleted_at IS NULL AND t.closed_at IS NOT NULL"
                ),
                "t.closed_at",
                "(t.id || ':closed')",
            ));
        }
        if wanted(EntryKind::TicketComment) {
            out.push(arm(
                "'comment' AS src, 'ticket_comment' AS kind, c.created_at AS at, c.id AS key, c.id AS row_id".into(),
                format!(
                    "FROM tickets t JOIN ticket_comments c ON c.ticket_id = t.id AND c.deleted_at IS NULL
                      WHERE {link} = ?1 AND t.deleted_at IS NULL"
                ),
                "c.created_at",
                "c.id",
            ));
        }
    }

    let calls: Vec<String> = EntryKind::BEHAVIOUR
        .iter()
        .filter(|(k, _)| wanted(*k))
        .map(|(_, call)| format!("'{call}'"))
        .collect();
    if let (TimelineOf::Contact(_), false) = (of, calls.is_empty()) {
        // Times are unix ms here: the cursor's text time (always time_text's
        // `YYYY-MM-DDTHH:MM:SS.mmmZ`) is turned into ms, and the entry's ms into that
        // text, so the page merge compares like with like. Keys `e<rk>` (zero-padded)
        // follow the index's order (contact_rk, at_ms, rk).
        let type_filter = if calls.len() == EntryKind::BEHAVIOUR.len() {
            String::new()
        } else {
            format!("AND e.type IN ({})", calls.join(", "))
        };
        let cursor_ms =
            "(CAST(strftime('%s', ?2) AS INTEGER) * 1000 + CAST(substr(?2, 21, 3) AS INTEGER))";
        let before = if cursor {
            format!(
                "AND e.at_ms <= {cursor_ms} AND (e.at_ms < {cursor_ms} OR printf('e%019d', e.rk) < ?3)"
            )
        } else {
            String::new()
        };
        out.push(format!(
            "SELECT * FROM (SELECT 'event' AS src,
                    CASE e.type WHEN 'page' THEN 'page_view' WHEN 'screen' THEN 'screen_view'
                                WHEN 'track' THEN 'event' WHEN 'identify' THEN 'identified'
                                ELSE e.type END AS kind,
                    strftime('%Y-%m-%dT%H:%M:%S', e.at_ms / 1000, 'unixepoch')
                        || printf('.%03dZ', e.at_ms % 1000) AS at,
                    printf('e%019d', e.rk) AS key, CAST(e.rk AS TEXT) AS row_id
               FROM events e
              WHERE e.contact_rk = (SELECT rk FROM contacts WHERE id = ?1) {type_filter} {before}
              ORDER BY e.at_ms DESC, e.rk DESC LIMIT ?4)"
        ));
    }

    let segment_kinds: Vec<&str> = [
        (EntryKind::SegmentEntered, "'entered'"),
        (EntryKind::SegmentExited, "'exited'"),
    ]
    .into_iter()
    .filter(|(k, _)| wanted(*k))
    .map(|(_, kind)| kind)
    .collect();
    if let (TimelineOf::Contact(_), false) = (of, segment_kinds.is_empty()) {
        // On segment_history_contact (contact_id, at, rk); keys `s<rk>` zero-padded.
        out.push(arm(
            "'segment' AS src, 'segment_' || h.kind AS kind, h.at AS at, printf('s%019d', h.rk) AS key, CAST(h.rk AS TEXT) AS row_id".into(),
            format!(
                "FROM segment_history h WHERE h.contact_id = ?1 AND h.kind IN ({})",
                segment_kinds.join(", ")
            ),
            "h.at",
            "printf('s%019d', h.rk)",
        ));
    }

    if wanted(EntryKind::StageChange) {
        let from_where = match of {
            TimelineOf::Deal(_) => {
                "FROM deal_stage_changes s WHERE s.deal_id = ?1 AND s.deleted_at IS NULL".to_owned()
            }
            TimelineOf::Contact(_) | TimelineOf::Company(_) => {
                let link = if matches!(of, TimelineOf::Contact(_)) {
                    "d.contact_id"
                } else {
                    "d.company_id"
                };
                format!(
                    "FROM deals d JOIN deal_stage_changes s ON s.deal_id = d.id AND s.deleted_at IS NULL
                      WHERE {link} = ?1 AND d.deleted_at IS NULL"
                )
            }
        };
        out.push(arm(
            "'stage_change' AS src, 'stage_change' AS kind, s.changed_at AS at, s.id AS key, s.id AS row_id".into(),
            from_where,
            "s.changed_at",
            "s.id",
        ));
    }
    out
}

/// The SQL of one page (shown by tests with EXPLAIN QUERY PLAN).
fn page_sql(of: TimelineOf, kinds: &[EntryKind], cursor: bool) -> Option<String> {
    let arms = arms(of, kinds, cursor);
    if arms.is_empty() {
        return None;
    }
    Some(format!(
        "{} ORDER BY at DESC, key DESC LIMIT ?4",
        arms.join(" UNION ALL ")
    ))
}

async fn ensure_live(conn: &mut SqliteConnection, of: TimelineOf) -> Result<()> {
    let (table, entity, id) = match of {
        TimelineOf::Contact(id) => ("contacts", "contact", id),
        TimelineOf::Company(id) => ("companies", "company", id),
        TimelineOf::Deal(id) => ("deals", "deal", id),
    };
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {table} WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    live.map(|_| ()).ok_or_else(|| Error::NotFound {
        entity,
        id: id.to_string(),
    })
}

/// One page of a timeline, newest first.
pub async fn page(store: &Store, of: TimelineOf, query: &TimelineQuery) -> Result<TimelinePage> {
    if query.limit == 0 || query.limit > MAX_PAGE {
        return Err(Error::invalid(
            "limit",
            format!("A page holds 1 to {MAX_PAGE} entries"),
        ));
    }
    let cursor = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut conn = store.pool().acquire().await?;
    ensure_live(&mut conn, of).await?;
    let id = match of {
        TimelineOf::Contact(id) | TimelineOf::Company(id) | TimelineOf::Deal(id) => id,
    };
    let Some(sql) = page_sql(of, &query.kinds, cursor.is_some()) else {
        return Ok(TimelinePage {
            entries: Vec::new(),
            next_cursor: None,
        });
    };
    let (cursor_at, cursor_key) = cursor.unzip();
    let mut rows: Vec<(String, String, String, String, String)> = sqlx::query_as(&sql)
        .bind(id.to_string())
        .bind(cursor_at)
        .bind(cursor_key)
        .bind(i64::from(query.limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    let more = rows.len() > query.limit as usize;
    rows.truncate(query.limit as usize);
    let next_cursor = match (more, rows.last()) {
        (true, Some((_, _, at, key, _))) => Some(format!("{at}|{key}")),
        _ => None,
    };
    let entries = hydrate(&mut conn, rows).await?;
    Ok(TimelinePage {
        entries,
        next_cursor,
    })
}

/// Turn `(src, kind, at, key, row_id)` rows into entries, in their order.
async fn hydrate(
    conn: &mut SqliteConnection,
    rows: Vec<(String, String, String, String, String)>,
) -> Result<Vec<TimelineEntry>> {
    let ids_of = |src: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.0 == src)
            .map(|r| r.4.clone())
            .collect()
    };
    let activities: HashMap<String, Activity> =
        activities::get_many(&mut *conn, &ids_of("activity"))
            .await?
            .into_iter()
            .map(|a| (a.id.to_string(), a))
            .collect();
    let mut ticket_ids = ids_of("ticket");
    let comments: HashMap<String, TicketComment> =
        tickets::comments_by_id(&mut *conn, &ids_of("comment"))
            .await?
            .into_iter()
            .map(|c| (c.id.to_string(), c))
            .collect();
    ticket_ids.extend(comments.values().map(|c| c.ticket_id.to_string()));
    ticket_ids.sort();
    ticket_ids.dedup();
    let tickets: HashMap<String, Ticket> = tickets::get_many(&mut *conn, &ticket_ids)
        .await?
        .into_iter()
        .map(|t| (t.id.to_string(), t))
        .collect();
    let changes = stage_changes(&mut *conn, &ids_of("stage_change")).await?;
    let events = behaviour_events(&mut *conn, &ids_of("event")).await?;
    let segment_moves = segment_moves(&mut *conn, &ids_of("segment")).await?;

    let mut entries = Vec::with_capacity(rows.len());
    for (src, kind, at, key, row_id) in rows {
        let detail = match src.as_str() {
            "activity" => activities
                .get(&row_id)
                .cloned()
                .map(|activity| EntryDetail::Activity { activity }),
            "ticket" => tickets
                .get(&row_id)
                .cloned()
                .map(|ticket| EntryDetail::Ticket { ticket }),
            "comment" => comments.get(&row_id).cloned().map(|comment| {
                let ticket_subject = tickets
                    .get(&comment.ticket_id.to_string())
                    .map(|t| t.subject.clone())
                    .unwrap_or_default();
                EntryDetail::Comment {
                    comment,
                    ticket_subject,
                }
            }),
            "stage_change" => changes
                .get(&row_id)
                .cloned()
                .map(|change| EntryDetail::StageChange { change }),
            "event" => events
                .get(&row_id)
                .cloned()
                .map(|event| EntryDetail::Event { event }),
            "segment" => segment_moves
                .get(&row_id)
                .cloned()
                .map(|segment| EntryDetail::Segment { segment }),
            _ => None,
        };
        let kind = EntryKind::ALL.into_iter().find(|k| k.as_str() == kind);
        if let (Some(detail), Some(kind)) = (detail, kind) {
            entries.push(TimelineEntry {
                key,
                kind,
                at: parse_time_opt(Some(&at)).unwrap_or_default(),
                detail,
            });
        }
    }
    Ok(entries)
}

/// The segment entries and exits of a page, by `segment_history.rk` as text.
async fn segment_moves(
    conn: &mut SqliteConnection,
    rks: &[String],
) -> Result<HashMap<String, SegmentMove>> {
    if rks.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT h.rk, h.segment_id, s.name, s.deleted_at FROM segment_history h
           LEFT JOIN segments s ON s.id = h.segment_id
          WHERE h.rk IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
    )
    .bind(serde_json::to_string(rks).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(rk, segment_id, name, deleted)| {
            let segment = SegmentMove {
                segment_id: Uuid::parse_str(&segment_id).unwrap_or_default(),
                name: name.unwrap_or_default(),
                deleted: deleted.is_some(),
            };
            (rk.to_string(), segment)
        })
        .collect())
}

type EventRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// The events of a page, by `rk` (as text, the rows' `row_id`).
async fn behaviour_events(
    conn: &mut SqliteConnection,
    rks: &[String],
) -> Result<HashMap<String, BehaviourEvent>> {
    if rks.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT rk, message_id, type, name, path, user_id, anonymous_id, body FROM events
          WHERE rk IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
    )
    .bind(serde_json::to_string(rks).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(rk, message_id, call, name, path, user_id, anonymous_id, body)| {
                let event = BehaviourEvent {
                    message_id,
                    call,
                    name,
                    path,
                    user_id,
                    anonymous_id,
                    body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                };
                (rk.to_string(), event)
            },
        )
        .collect())
}

type StageRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn stage_changes(
    conn: &mut SqliteConnection,
    ids: &[String],
) -> Result<HashMap<String, StageMove>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<StageRow> = sqlx::query_as(
        "SELECT s.id, s.deal_id, d.title, s.from_stage_id, fs.name, s.to_stage_id, ts.name, s.changed_by
           FROM deal_stage_changes s
           LEFT JOIN deals d ON d.id = s.deal_id
           LEFT JOIN pipeline_stages fs ON fs.id = s.from_stage_id
           LEFT JOIN pipeline_stages ts ON ts.id = s.to_stage_id
          WHERE s.id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    let stage = |id: Option<String>, name: Option<String>| {
        Uuid::parse_str(&id?).ok().map(|id| RecordRef {
            id,
            name: name.unwrap_or_else(|| "(deleted stage)".to_owned()),
        })
    };
    Ok(rows
        .into_iter()
        .filter_map(|(id, deal, title, from, from_name, to, to_name, by)| {
            let change = StageMove {
                id: Uuid::parse_str(&id).ok()?,
                deal: RecordRef {
                    id: Uuid::parse_str(deal.as_deref()?).ok()?,
                    name: title.unwrap_or_default(),
                },
                from_stage: stage(from, from_name),
                to_stage: stage(to, to_name),
                changed_by: by,
            };
            Some((id, change))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activities::{ActivityInput, Direction};
    use crate::changes::now_rfc3339;
    use crate::contacts::{self, ContactInput};
    use crate::entities::{ACTIVITY, DEAL_STAGE_CHANGE};
    use crate::tickets::{TicketInput, TicketStatus};
    use serde_json::json;

    async fn contact(store: &Store, name: &str, company: Option<&str>) -> contacts::Contact {
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
    }

    async fn log(store: &Store, kind: ActivityKind, contact: Uuid, at: &str) -> Activity {
        activities::log(
            store,
            ActivityInput {
                contact_id: Some(contact),
                occurred_at: Some(at.parse().unwrap()),
                subject: (kind != ActivityKind::Note).then(|| format!("{kind:?} at {at}")),
                body: Some("b".into()),
                direction: matches!(kind, ActivityKind::Call | ActivityKind::Email)
                    .then_some(Direction::Outbound),
                ..ActivityInput::new(kind)
            },
        )
        .await
        .unwrap()
    }

    /// Every entry of a timeline, page by page.
    async fn all(
        store: &Store,
        of: TimelineOf,
        kinds: Vec<EntryKind>,
        limit: u32,
    ) -> Vec<TimelineEntry> {
        let mut out = Vec::new();
        let mut query = TimelineQuery {
            kinds,
            cursor: None,
            limit,
        };
        loop {
            let page = page(store, of, &query).await.unwrap();
            assert!(page.entries.len() <= limit as usize);
            out.extend(page.entries);
            match page.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => return out,
            }
        }
    }

    #[tokio::test]
    async fn activities_and_tickets_newest_first_filtered_and_paged() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", Some("Engines Ltd")).await;
        let company = ada.company.clone().unwrap().id;
        let call = log(&store, ActivityKind::Call, ada.id, "2026-01-01T10:00:00Z").await;
        let note = log(&store, ActivityKind::Note, ada.id, "2026-01-03T10:00:00Z").await;
        let email = log(&store, ActivityKind::Email, ada.id, "2026-01-02T10:00:00Z").await;
        let ticket = tickets::create(
            &store,
            TicketInput {
                subject: "Broken".into(),
                contact_id: Some(ada.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let comment = tickets::comment(&store, ticket.id, "Looking")
            .await
            .unwrap();
        tickets::set_status(&store, ticket.id, TicketStatus::Closed)
            .await
            .unwrap();

        let entries = all(&store, TimelineOf::Contact(ada.id), vec![], 2).await;
        let kinds: Vec<EntryKind> = entries.iter().map(|e| e.kind).collect();
        // The ticket was made now, after the back-dated activities.
        assert_eq!(
            kinds,
            [
                EntryKind::TicketClosed,
                EntryKind::TicketComment,
                EntryKind::TicketOpened,
                EntryKind::Note,
                EntryKind::Email,
                EntryKind::Call
            ]
        );
        assert!(matches!(&entries[1].detail,
            EntryDetail::Comment { comment: c, ticket_subject } if c.id == comment.id && ticket_subject == "Broken"));
        assert!(
            matches!(&entries[5].detail, EntryDetail::Activity { activity } if activity.id == call.id)
        );
        assert_eq!(entries[3].at, note.occurred_at);

        // The company's timeline has them too (the contact's company was linked).
        assert_eq!(
            all(&store, TimelineOf::Company(company), vec![], 50)
                .await
                .len(),
            6
        );

        let only: Vec<Uuid> = all(
            &store,
            TimelineOf::Contact(ada.id),
            vec![EntryKind::Email, EntryKind::Call],
            1,
        )
        .await
        .iter()
        .map(|e| match &e.detail {
            EntryDetail::Activity { activity } => activity.id,
            other => panic!("{other:?}"),
        })
        .collect();
        assert_eq!(only, [email.id, call.id]);
        let tickets_only = all(
            &store,
            TimelineOf::Contact(ada.id),
            EntryKind::parse_filter("ticket").unwrap(),
            10,
        )
        .await;
        assert_eq!(tickets_only.len(), 3);

        // A deleted activity leaves the timeline.
        activities::delete(&store, note.id).await.unwrap();
        assert_eq!(
            all(&store, TimelineOf::Contact(ada.id), vec![], 50)
                .await
                .len(),
            5
        );
    }

    #[tokio::test]
    async fn bad_queries_are_refused() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        let of = TimelineOf::Contact(ada.id);
        for (query, field) in [
            (
                TimelineQuery {
                    limit: 0,
                    ..Default::default()
                },
                "limit",
            ),
            (
                TimelineQuery {
                    cursor: Some("yesterday|x".into()),
                    ..Default::default()
                },
                "cursor",
            ),
            (
                TimelineQuery {
                    cursor: Some("2026-01-01T00:00:00Z".into()),
                    ..Default::default()
                },
                "cursor",
            ),
        ] {
            let err = page(&store, of, &query).await.unwrap_err();
            assert_eq!(err.field_errors()[0].field, field);
        }
        let err = page(
            &store,
            TimelineOf::Contact(Uuid::now_v7()),
            &TimelineQuery::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "not_found");
        assert!(EntryKind::parse_filter("fax").is_err());
        assert_eq!(
            EntryKind::parse_filter("Ticket-Opened").unwrap(),
            [EntryKind::TicketOpened]
        );
    }

    #[tokio::test]
    async fn deal_stage_changes_show_on_the_deal_and_its_contact() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        // A deal and two stage rows written directly: the deals module owns
        // how they are made; the timeline only reads them.
        let (pipeline, s1, s2, deal) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let mut tx = store.write().await.unwrap();
        for (id, name) in [(s1, "Qualified"), (s2, "Proposal")] {
            sqlx::query(
                "INSERT INTO pipeline_stages (id, pipeline_id, name, position) VALUES (?, ?, ?, 0)",
            )
            .bind(id.to_string())
            .bind(pipeline.to_string())
            .bind(name)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO deals (id, title, contact_id, stage_id) VALUES (?, 'Big one', ?, ?)",
        )
        .bind(deal.to_string())
        .bind(ada.id.to_string())
        .bind(s2.to_string())
        .execute(tx.conn())
        .await
        .unwrap();
        let change = |from: Option<Uuid>, to: Uuid, at: &str| {
            (
                Uuid::now_v7(),
                vec![
                    ("deal_id", json!(deal.to_string())),
                    ("from_stage_id", json!(from.map(|f| f.to_string()))),
                    ("to_stage_id", json!(to.to_string())),
                    ("changed_at", json!(at)),
                    ("changed_by", json!("me")),
                ],
            )
        };
        tx.insert_many(
            &DEAL_STAGE_CHANGE,
            vec![
                change(None, s1, "2026-02-01T09:00:00.000Z"),
                change(Some(s1), s2, "2026-02-05T09:00:00.000Z"),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let call = activities::log(
            &store,
            ActivityInput {
                deal_id: Some(deal),
                occurred_at: Some("2026-02-03T09:00:00Z".parse().unwrap()),
                ..ActivityInput::new(ActivityKind::Call)
            },
        )
        .await
        .unwrap();
        // A call on the deal is also the deal's contact's call.
        assert_eq!(call.contact.as_ref().unwrap().id, ada.id);

        for of in [TimelineOf::Deal(deal), TimelineOf::Contact(ada.id)] {
            let entries = all(&store, of, vec![], 50).await;
            let kinds: Vec<EntryKind> = entries.iter().map(|e| e.kind).collect();
            assert_eq!(
                kinds,
                [
                    EntryKind::StageChange,
                    EntryKind::Call,
                    EntryKind::StageChange
                ],
                "{of:?}"
            );
            let EntryDetail::StageChange { change } = &entries[0].detail else {
                panic!()
            };
            assert_eq!(change.deal.name, "Big one");
            assert_eq!(change.from_stage.as_ref().unwrap().name, "Qualified");
            assert_eq!(change.to_stage.as_ref().unwrap().name, "Proposal");
            let EntryDetail::StageChange { change } = &entries[2].detail else {
                panic!()
            };
            assert_eq!(change.from_stage, None);
        }
        let only_moves = all(
            &store,
            TimelineOf::Deal(deal),
            vec![EntryKind::StageChange],
            1,
        )
        .await;
        assert_eq!(only_moves.len(), 2);
    }

    /// Activities, tickets, comments and stay-in-touch sync as plain
    /// entities: device B applies device A's outbox (what a sync carries)
    /// and shows the same timeline, ticket and follow-up date.
    #[tokio::test]
    async fn another_device_applying_the_outbox_sees_the_same_timeline() {
        let a = Store::open_in_memory().await.unwrap();
        let b = Store::open_in_memory().await.unwrap();
        let ada = contact(&a, "Ada", Some("Engines Ltd")).await;
        log(&a, ActivityKind::Call, ada.id, "2026-03-01T10:00:00Z").await;
        let note = log(&a, ActivityKind::Note, ada.id, "2026-03-02T10:00:00Z").await;
        let ticket = tickets::create(
            &a,
            TicketInput {
                subject: "Broken".into(),
                contact_id: Some(ada.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        tickets::comment(&a, ticket.id, "On it").await.unwrap();
        tickets::set_status(&a, ticket.id, TicketStatus::Resolved)
            .await
            .unwrap();
        crate::stay_in_touch::set(&a, ada.id, Some(10))
            .await
            .unwrap();
        activities::delete(&a, note.id).await.unwrap();

        let mut tx = b.write().await.unwrap();
        for change in crate::changes::outbox(&a, u32::MAX).await.unwrap() {
            let applied = tx.apply_remote(&change).await.unwrap();
            assert!(applied.unknown.is_empty(), "{:?}", applied.unknown);
        }
        tx.commit().await.unwrap();

        let on = |store: &Store| {
            let store = store.clone();
            async move {
                all(&store, TimelineOf::Contact(ada.id), vec![], 50)
                    .await
                    .into_iter()
                    .map(|e| (e.key, e.kind, e.at))
                    .collect::<Vec<_>>()
            }
        };
        let seen_a = on(&a).await;
        assert_eq!(seen_a.len(), 4); // call, ticket opened, comment, resolved
        assert_eq!(on(&b).await, seen_a);
        assert_eq!(
            tickets::show(&b, ticket.id).await.unwrap(),
            tickets::show(&a, ticket.id).await.unwrap()
        );
        assert_eq!(
            crate::stay_in_touch::get(&b, ada.id).await.unwrap(),
            crate::stay_in_touch::get(&a, ada.id).await.unwrap()
        );
    }

    /// 10,000 entries on one contact (with ties on the time): paging visits
    /// each once, in order, every page from an index range scan.
    #[tokio::test]
    async fn ten_thousand_entries_page_in_order_on_the_index() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        let other = contact(&store, "Bob", None).await;
        let base: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
        let rows = |who: Uuid, n: usize| -> Vec<(Uuid, crate::changes::Fields)> {
            (0..n)
                .map(|i| {
                    let kind = ActivityKind::ALL[i % 4];
                    // Three entries share each second: ties are ordered by id.
                    let at = base + chrono::Duration::seconds((i / 3) as i64 * 60);
                    (
                        Uuid::now_v7(),
                        vec![
                            ("kind", json!(kind.as_str())),
                            ("contact_id", json!(who.to_string())),
                            ("occurred_at", json!(time_text(at))),
                            ("body", json!(format!("entry {i}"))),
                            ("subject", json!("s")),
                            ("created_at", json!(now_rfc3339())),
                        ],
                    )
                })
                .collect()
        };
        let mut tx = store.write().await.unwrap();
        tx.insert_many(&ACTIVITY, rows(ada.id, 10_000))
            .await
            .unwrap();
        tx.insert_many(&ACTIVITY, rows(other.id, 2_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let started = std::time::Instant::now();
        let entries = all(&store, TimelineOf::Contact(ada.id), vec![], 100).await;
        let elapsed = started.elapsed();
        eprintln!("10k entries in 100 pages: {elapsed:?}");
        assert_eq!(entries.len(), 10_000);
        let mut keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert!(entries
            .windows(2)
            .all(|w| (w[0].at, &w[0].key) > (w[1].at, &w[1].key)));
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 10_000);

        let calls = all(
            &store,
            TimelineOf::Contact(ada.id),
            vec![EntryKind::Call],
            500,
        )
        .await;
        assert_eq!(calls.len(), 2_500);
        assert!(calls.iter().all(|e| e.kind == EntryKind::Call));

        // The activity arm of a later page is a range scan on the timeline
        // index, with no sort of the contact's whole history.
        let sql = page_sql(TimelineOf::Contact(ada.id), &[], true).unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(ada.id.to_string())
                .bind("2020-01-02T00:00:00.000Z")
                .bind("x")
                .bind(101)
                .fetch_all(store.pool())
                .await
                .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|r| r.3).collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX activities_contact_time")
                    && d.contains("contact_id=?")
                    && d.contains("occurred_at")),
            "{plan:#?}"
        );
    }

    /// Behavioural events of `who` (linked by an identity), `n` of them from `base`,
    /// three per millisecond.
    async fn events_for(store: &Store, who: Uuid, anon: &str, n: usize, base: DateTime<Utc>) {
        let mut tx = store.write().await.unwrap();
        tx.insert(
            &crate::entities::IDENTITY,
            crate::identity::identity_id("anonymous_id", anon),
            vec![
                ("contact_id", json!(who.to_string())),
                ("kind", json!("anonymous_id")),
                ("value", json!(anon)),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let calls = ["page", "track", "screen", "identify"];
        let events: Vec<hub_protocol::event::Event> = (0..n)
            .map(|i| {
                let at = base + chrono::Duration::milliseconds((i / 3) as i64 * 7);
                let call = calls[i % 4];
                let mut body = json!({"type": call, "anonymousId": anon,
                    "messageId": format!("{anon}-{i}"), "timestamp": time_text(at),
                    "properties": {"path": format!("/p/{i}")}});
                if call == "track" {
                    body["event"] = json!("Clicked");
                }
                hub_protocol::segment::normalise(
                    body,
                    &hub_protocol::segment::Options::single(Utc::now()),
                )
                .unwrap()
            })
            .collect();
        crate::events::store(store, &events).await.unwrap();
    }

    #[tokio::test]
    async fn behavioural_events_join_the_contacts_timeline_filtered_and_paged() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        let bob = contact(&store, "Bob", None).await;
        let base: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        events_for(&store, ada.id, "anon-ada", 8, base).await;
        events_for(&store, bob.id, "anon-bob", 5, base).await;
        // A call between the events' times (the events span 14 ms).
        let call = log(
            &store,
            ActivityKind::Call,
            ada.id,
            "2026-01-01T10:00:00.010Z",
        )
        .await;

        let entries = all(&store, TimelineOf::Contact(ada.id), vec![], 3).await;
        assert_eq!(entries.len(), 9);
        assert!(entries
            .windows(2)
            .all(|w| (w[0].at, &w[0].key) > (w[1].at, &w[1].key)));
        let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
        // Newest first; within one millisecond, the later stored first.
        assert_eq!(
            kinds,
            [
                "identified",
                "screen_view",
                "call",
                "event",
                "page_view",
                "identified",
                "screen_view",
                "event",
                "page_view"
            ]
        );
        assert_eq!(entries[2].key, call.id.to_string());
        let EntryDetail::Event { event } = &entries[0].detail else {
            panic!("{:?}", entries[0]);
        };
        assert_eq!(event.anonymous_id.as_deref(), Some("anon-ada"));
        assert_eq!(event.body["properties"]["path"], json!("/p/7"));
        assert_eq!(event.call, "identify");

        let pages = all(
            &store,
            TimelineOf::Contact(ada.id),
            EntryKind::parse_filter("page").unwrap(),
            1,
        )
        .await;
        assert_eq!(pages.len(), 2);
        assert!(pages.iter().all(|e| e.kind == EntryKind::PageView));
        let behaviour = all(
            &store,
            TimelineOf::Contact(ada.id),
            EntryKind::parse_filter("behaviour").unwrap(),
            50,
        )
        .await;
        assert_eq!(behaviour.len(), 8);
        // Events never show on a company's or deal's timeline (nor on Bob's from Ada).
        assert_eq!(
            all(&store, TimelineOf::Contact(bob.id), vec![], 50)
                .await
                .len(),
            5
        );
    }

    /// 10,000 events on one contact: every page from a range scan of
    /// events_contact_time, each event once, in order.
    #[tokio::test]
    async fn ten_thousand_events_page_in_order_on_the_index() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        let base: DateTime<Utc> = "2025-06-01T00:00:00Z".parse().unwrap();
        events_for(&store, ada.id, "anon-ada", 10_000, base).await;
        let started = std::time::Instant::now();
        let entries = all(&store, TimelineOf::Contact(ada.id), vec![], 100).await;
        eprintln!("10k events in 100 pages: {:?}", started.elapsed());
        assert_eq!(entries.len(), 10_000);
        assert!(entries
            .windows(2)
            .all(|w| (w[0].at, &w[0].key) > (w[1].at, &w[1].key)));
        let sql = page_sql(TimelineOf::Contact(ada.id), &[], true).unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(ada.id.to_string())
                .bind("2025-06-01T00:00:01.000Z")
                .bind("x")
                .bind(101)
                .fetch_all(store.pool())
                .await
                .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|r| r.3).collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX events_contact_time")
                    && d.contains("contact_rk=?")
                    && d.contains("at_ms<?")),
            "{plan:#?}"
        );
    }
}
