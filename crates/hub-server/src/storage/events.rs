//! The event tables (migration `0005_events`), for both backends from one body of SQL, as
//! `sync.rs` does for the sync tables: [`events_storage!`] expands the same methods for
//! each backend, the only difference being how a list of texts is bound (`$texts`).
//!
//! Ordering: a store of events first creates or locks its workspace's row of `event_seqs`
//! and reserves as many numbers as it has new events in the same statement
//! (`INSERT … ON CONFLICT DO UPDATE SET seq = seq + n … RETURNING seq`), then inserts them
//! and commits. A second store of the same
//! workspace waits on that row lock (PostgreSQL) or on the database write lock (SQLite), so
//! sequence order is commit order and a puller reading `seq > cursor` never sees a gap that
//! fills later. The counter is not `workspaces.sync_seq`: collection and sync pushes do not
//! wait on each other.
//!
//! Speed: a fixed number of statements per request whatever the batch size: one read of the
//! already stored messageIds (before the lock), then in one transaction the counter's
//! lock-and-reserve, multi-row inserts of at most [`INSERT_CHUNK`] rows and the dead
//! letters. Only those last round trips hold the workspace's lock.

use chrono::{DateTime, TimeZone, Utc};
use hub_protocol::event::{Event, EventType, StreamedEvent};
use serde_json::{Map, Value};

use super::{StorageError, StorageResult};

/// Rows per multi-row INSERT: 11 parameters each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters.
pub(crate) const INSERT_CHUNK: usize = 1_000;

/// Event rows per INSERT on SQLite: its driver looks each `$N` up by name, a cost that
/// grows with the square of the parameters (1,100 of them took 7% of a benchmark's CPU);
/// statements are in-process there, so more of them cost little.
pub(crate) const SQLITE_EVENT_CHUNK: usize = 32;

/// Longest `raw` text kept in a dead letter.
pub const DEAD_LETTER_RAW_CHARS: usize = 16 * 1024;

/// An event that could not be accepted, to keep with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDeadLetter {
    /// `hub_protocol::segment::SegmentError::code`.
    pub code: String,
    pub reason: String,
    /// The event as sent, cut to [`DEAD_LETTER_RAW_CHARS`] (see [`NewDeadLetter::new`]).
    pub raw: String,
    /// Length of the full raw text in bytes.
    pub raw_bytes: i64,
    /// The identifier hashes of the full raw text ([`raw_identity_hashes`]), for erasure.
    pub identity_hashes: Vec<String>,
}

impl NewDeadLetter {
    /// Keeps at most [`DEAD_LETTER_RAW_CHARS`] characters of `raw` (at a character
    /// boundary) and its full length.
    pub fn new(code: &str, reason: String, raw: &str) -> Self {
        let cut = raw
            .char_indices()
            .nth(DEAD_LETTER_RAW_CHARS)
            .map_or(raw.len(), |(i, _)| i);
        Self {
            code: code.to_owned(),
            reason,
            raw: raw[..cut].to_owned(),
            raw_bytes: raw.len() as i64,
            identity_hashes: raw_identity_hashes(raw),
        }
    }
}

/// A stored dead letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub received_at: DateTime<Utc>,
    pub code: String,
    pub reason: String,
    pub raw: String,
    pub raw_bytes: i64,
    pub source: String,
}

/// What storing a request's events did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredEvents {
    /// New events, now in the stream.
    pub stored: u64,
    /// Events whose messageId was already stored (or came earlier in the same request).
    pub duplicate: u64,
    pub dead_lettered: u64,
    /// Events of erased people (an identifier hashes to the workspace's suppression
    /// list, docs/privacy.md): dropped, not stored.
    pub suppressed: u64,
    /// Seq of the last stored event (the stream's high-water mark after this store), or
    /// `None` when nothing new was stored.
    pub last_seq: Option<i64>,
}

/// A stored event row: (seq, message_id, type, user_id, anonymous_id, name, at_ms,
/// received_ms, body).
pub(crate) type EventRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    String,
);

pub(crate) const EVENT_COLUMNS: &str =
    "seq, message_id, type, user_id, anonymous_id, name, at_ms, received_ms, body";

/// A dead-letter row: (id, received_ms, code, reason, raw, raw_bytes, source).
pub(crate) type DeadLetterRow = (String, i64, String, String, String, i64, String);

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

fn from_ms(ms: i64) -> StorageResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| corrupt(format!("stored time {ms} ms is out of range")))
}

/// A body time field as written by [`hub_protocol::segment::format_time`] (exact, to the
/// nanosecond), else the indexed milliseconds.
fn body_time(body: &Map<String, Value>, field: &str, ms: i64) -> StorageResult<DateTime<Utc>> {
    match body
        .get(field)
        .and_then(Value::as_str)
        .and_then(hub_protocol::segment::parse_timestamp)
    {
        Some(at) => Ok(at),
        None => from_ms(ms),
    }
}

pub(crate) fn event_from_row(row: EventRow) -> StorageResult<StreamedEvent> {
    let (seq, message_id, kind, user_id, anonymous_id, name, at_ms, received_ms, body) = row;
    let kind = EventType::parse(&kind).ok_or_else(|| corrupt(format!("event type {kind:?}")))?;
    let body: Map<String, Value> = serde_json::from_str(&body).map_err(corrupt)?;
    Ok(StreamedEvent {
        seq,
        event: Event {
            message_id,
            kind,
            user_id,
            anonymous_id,
            name,
            timestamp: body_time(&body, "timestamp", at_ms)?,
            received_at: body_time(&body, "receivedAt", received_ms)?,
            body,
        },
    })
}

/// The identifier hashes of a dead letter's raw text: its userId, anonymousId and
/// traits' email. The text is an event that failed the rules — perhaps not JSON, perhaps
/// cut at 16 KiB — so the values are found by key in the text (`"userId": "…"`, the
/// first of each), not by parsing it.
pub(crate) fn raw_identity_hashes(raw: &str) -> Vec<String> {
    [
        ("userId", "user_id"),
        ("anonymousId", "anonymous_id"),
        ("email", "email"),
    ]
    .into_iter()
    .filter_map(|(key, kind)| {
        let value = raw_text_value(raw, key)?;
        Some(hub_protocol::event::identity_hash(kind, &value))
    })
    .collect()
}

/// The first string (or number) value of `"key"` in JSON-ish text.
fn raw_text_value(raw: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let mut from = 0;
    while let Some(at) = raw[from..].find(&quoted) {
        let rest = raw[from + at + quoted.len()..].trim_start();
        from += at + quoted.len();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with('"') {
            // A JSON string up to its closing quote: let serde undo the escapes.
            let mut escaped = false;
            for (i, c) in rest.char_indices().skip(1) {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return serde_json::from_str(&rest[..=i]).ok(),
                    _ => escaped = false,
                }
            }
            return None;
        }
        let number: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-' || *c == '.')
            .collect();
        return (!number.is_empty()).then_some(number);
    }
    None
}

pub(crate) fn dead_letter_from_row(row: DeadLetterRow) -> StorageResult<DeadLetter> {
    let (id, received_ms, code, reason, raw, raw_bytes, source) = row;
    Ok(DeadLetter {
        id,
        received_at: from_ms(received_ms)?,
        code,
        reason,
        raw,
        raw_bytes,
        source,
    })
}

/// A new `events` row.
pub(crate) struct EventInsert<'a> {
    pub message_id: &'a str,
    pub kind: &'static str,
    pub user_id: Option<&'a str>,
    pub anonymous_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub at_ms: i64,
    pub received_ms: i64,
    pub body: String,
}

impl<'a> EventInsert<'a> {
    pub(crate) fn new(event: &'a Event) -> StorageResult<Self> {
        Ok(Self {
            message_id: &event.message_id,
            kind: event.kind.as_str(),
            user_id: event.user_id.as_deref(),
            anonymous_id: event.anonymous_id.as_deref(),
            name: event.name.as_deref(),
            at_ms: event.timestamp.timestamp_millis(),
            received_ms: event.received_at.timestamp_millis(),
            // IPs are kept truncated (docs/privacy.md).
            body: event.stored_body(),
        })
    }
}

/// Expands `store_events`, `pull_events` and `dead_letters` for one backend.
/// `$in_texts(param)` is the condition "is one of the texts of the JSON array bound as
/// `param`", written so that the backend looks each one up in the index (on PostgreSQL
/// `= ANY(ARRAY(…))`: an `IN (SELECT …)` got a plan that scanned the workspace's every event).
/// `$chunk` is the number of event rows per INSERT.
macro_rules! events_storage {
    ($storage:ty, $in_texts:expr, $chunk:expr) => {
        impl $storage {
            pub(crate) async fn store_events_impl(
                &self,
                workspace_id: uuid::Uuid,
                events: &[hub_protocol::Event],
                dead: &[$crate::storage::events::NewDeadLetter],
                source: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StorageResult<$crate::storage::events::StoredEvents> {
                use $crate::storage::events::*;
                use $crate::storage::sync::values_sql;
                let ws = workspace_id.hyphenated().to_string();
                let mut outcome = StoredEvents::default();

                let mut rows = Vec::with_capacity(events.len());
                if !events.is_empty() {
                    // Which messageIds the workspace already has (a retry), read before
                    // taking the counter's lock so the lock is held for as little as
                    // possible; an id stored by a concurrent request in between is caught
                    // by ON CONFLICT below (its reserved seq is then left unused: the
                    // stream may have gaps, never a late arrival behind a cursor).
                    let ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
                    let ids_json = serde_json::to_string(&ids)
                        .map_err(|e| $crate::storage::StorageError::Corrupt(e.to_string()))?;
                    let known: Vec<(String,)> = sqlx::query_as(&format!(
                        "SELECT message_id FROM events WHERE workspace_id = $1 \
                         AND message_id {}",
                        $in_texts("$2")
                    ))
                    .bind(&ws)
                    .bind(&ids_json)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut seen: std::collections::HashSet<&str> =
                        known.iter().map(|(id,)| id.as_str()).collect();
                    // Identifiers of erased people: their events are dropped.
                    let hashes: Vec<String> =
                        events.iter().flat_map(|e| e.identity_hashes()).collect();
                    let suppressed: std::collections::HashSet<String> = if hashes.is_empty() {
                        std::collections::HashSet::new()
                    } else {
                        sqlx::query_scalar::<_, String>(&format!(
                            "SELECT hash FROM suppressed_identities WHERE workspace_id = $1 \
                             AND hash {}",
                            $in_texts("$2")
                        ))
                        .bind(&ws)
                        .bind(serde_json::to_string(&hashes).map_err(|e| {
                            $crate::storage::StorageError::Corrupt(e.to_string())
                        })?)
                        .fetch_all(&self.pool)
                        .await?
                        .into_iter()
                        .collect()
                    };
                    for event in events {
                        if !suppressed.is_empty()
                            && event.identity_hashes().iter().any(|h| suppressed.contains(h))
                        {
                            outcome.suppressed += 1;
                        } else if seen.insert(event.message_id.as_str()) {
                            rows.push(EventInsert::new(event)?);
                        } else {
                            outcome.duplicate += 1;
                        }
                    }
                }

                #[allow(clippy::let_unit_value)]
                let _turn = self.events_write_turn().await;
                let mut tx = self.pool.begin().await?;
                if !rows.is_empty() {
                    // Lock (or create) the workspace's counter and reserve the seqs in
                    // one statement: stores of a workspace are serialised from here to
                    // the commit, so seq order is commit order.
                    let (end,): (i64,) = sqlx::query_as(
                        "INSERT INTO event_seqs (workspace_id, seq) VALUES ($1, $2) \
                         ON CONFLICT (workspace_id) DO UPDATE SET seq = event_seqs.seq + $2 \
                         RETURNING seq",
                    )
                    .bind(&ws)
                    .bind(rows.len() as i64)
                    .fetch_one(&mut *tx)
                    .await?;
                    let mut seq = end - rows.len() as i64;
                    for chunk in rows.chunks($chunk) {
                        let sql = format!(
                            "INSERT INTO events (workspace_id, seq, message_id, type, user_id, \
                             anonymous_id, name, at_ms, received_ms, body, source) VALUES {} \
                             ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING seq",
                            values_sql(chunk.len(), 11)
                        );
                        let mut q = sqlx::query_as::<_, (i64,)>(&sql);
                        for row in chunk {
                            seq += 1;
                            q = q
                                .bind(&ws)
                                .bind(seq)
                                .bind(row.message_id)
                                .bind(row.kind)
                                .bind(row.user_id)
                                .bind(row.anonymous_id)
                                .bind(row.name)
                                .bind(row.at_ms)
                                .bind(row.received_ms)
                                .bind(&row.body)
                                .bind(source);
                        }
                        let inserted = q.fetch_all(&mut *tx).await?;
                        outcome.stored += inserted.len() as u64;
                        outcome.duplicate += (chunk.len() - inserted.len()) as u64;
                        if let Some(last) = inserted.iter().map(|(s,)| *s).max() {
                            outcome.last_seq =
                                Some(outcome.last_seq.map_or(last, |l| l.max(last)));
                        }
                    }
                }

                for chunk in dead.chunks(INSERT_CHUNK) {
                    let sql = format!(
                        "INSERT INTO dead_letters (id, workspace_id, received_ms, code, reason, \
                         raw, raw_bytes, source, identity_hashes) VALUES {}",
                        values_sql(chunk.len(), 9)
                    );
                    let mut q = sqlx::query(&sql);
                    for letter in chunk {
                        q = q
                            .bind(uuid::Uuid::now_v7().hyphenated().to_string())
                            .bind(&ws)
                            .bind(now.timestamp_millis())
                            .bind(&letter.code)
                            .bind(&letter.reason)
                            .bind(&letter.raw)
                            .bind(letter.raw_bytes)
                            .bind(source)
                            .bind(serde_json::to_string(&letter.identity_hashes).map_err(
                                |e| $crate::storage::StorageError::Corrupt(e.to_string()),
                            )?);
                    }
                    q.execute(&mut *tx).await?;
                }
                outcome.dead_lettered = dead.len() as u64;
                tx.commit().await?;
                Ok(outcome)
            }

            pub(crate) async fn pull_events_impl(
                &self,
                workspace_id: uuid::Uuid,
                cursor: i64,
                limit: i64,
            ) -> $crate::storage::StorageResult<$crate::storage::EventPage> {
                use $crate::storage::events::*;
                let ws = workspace_id.hyphenated().to_string();
                let mut rows: Vec<EventRow> = sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND seq > $2 \
                     ORDER BY seq LIMIT $3"
                ))
                .bind(&ws)
                .bind(cursor)
                .bind(limit + 1)
                .fetch_all(&self.pool)
                .await?;
                let has_more = rows.len() as i64 > limit;
                rows.truncate(limit as usize);
                let events = rows
                    .into_iter()
                    .map(event_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                let next_cursor = events.last().map_or(cursor, |e| e.seq);
                Ok($crate::storage::EventPage {
                    events,
                    next_cursor,
                    has_more,
                })
            }

            pub(crate) async fn dead_letters_impl(
                &self,
                workspace_id: uuid::Uuid,
                limit: i64,
            ) -> $crate::storage::StorageResult<Vec<$crate::storage::events::DeadLetter>> {
                use $crate::storage::events::*;
                let rows: Vec<DeadLetterRow> = sqlx::query_as(
                    "SELECT id, received_ms, code, reason, raw, raw_bytes, source \
                     FROM dead_letters WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(workspace_id.hyphenated().to_string())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(dead_letter_from_row).collect()
            }

            /// Deletes the collected events and dead letters of an erased person: every
            /// one carrying an identifier whose hash is in `hashes` (the erasure's
            /// suppression list; later events are dropped at collection). A pass over
            /// the workspace's stream in pages, run once per erasure after its push has
            /// committed. Returns how many events went.
            pub(crate) async fn purge_suppressed_events_impl(
                &self,
                workspace_id: uuid::Uuid,
                hashes: &[String],
            ) -> $crate::storage::StorageResult<u64> {
                use $crate::storage::events::*;
                const PAGE: i64 = 5000;
                if hashes.is_empty() {
                    return Ok(0);
                }
                let ws = workspace_id.hyphenated().to_string();
                let hashes: std::collections::HashSet<&str> =
                    hashes.iter().map(String::as_str).collect();
                let to_json = |ids: &[String]| {
                    serde_json::to_string(ids)
                        .map_err(|e| $crate::storage::StorageError::Corrupt(e.to_string()))
                };
                let mut purged = 0;
                let mut cursor = i64::MIN;
                loop {
                    let rows: Vec<EventRow> = sqlx::query_as(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND seq > $2 \
                         ORDER BY seq LIMIT $3"
                    ))
                    .bind(&ws)
                    .bind(cursor)
                    .bind(PAGE)
                    .fetch_all(&self.pool)
                    .await?;
                    let Some(last) = rows.last().map(|r| r.0) else {
                        break;
                    };
                    cursor = last;
                    let mut doomed = Vec::new();
                    for row in rows {
                        let event = event_from_row(row)?.event;
                        if event.identity_hashes().iter().any(|h| hashes.contains(h.as_str())) {
                            doomed.push(event.message_id);
                        }
                    }
                    if !doomed.is_empty() {
                        let _turn = self.events_write_turn().await;
                        purged += sqlx::query(&format!(
                            "DELETE FROM events WHERE workspace_id = $1 AND message_id {}",
                            $in_texts("$2")
                        ))
                        .bind(&ws)
                        .bind(to_json(&doomed)?)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    }
                }
                // Dead letters: by the hashes read from the full event when it came.
                let letters: Vec<(String, String)> = sqlx::query_as(
                    "SELECT id, identity_hashes FROM dead_letters WHERE workspace_id = $1",
                )
                .bind(&ws)
                .fetch_all(&self.pool)
                .await?;
                let doomed: Vec<String> = letters
                    .into_iter()
                    .filter(|(_, held)| {
                        serde_json::from_str::<Vec<String>>(held)
                            .unwrap_or_default()
                            .iter()
                            .any(|h| hashes.contains(h.as_str()))
                    })
                    .map(|(id, _)| id)
                    .collect();
                if !doomed.is_empty() {
                    sqlx::query(&format!(
                        "DELETE FROM dead_letters WHERE workspace_id = $1 AND id {}",
                        $in_texts("$2")
                    ))
                    .bind(&ws)
                    .bind(to_json(&doomed)?)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(purged)
            }

            pub(crate) async fn workspace_by_write_key_impl(
                &self,
                write_key: &str,
            ) -> $crate::storage::StorageResult<Option<uuid::Uuid>> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT CAST(id AS TEXT) FROM workspaces WHERE write_key = $1")
                        .bind(write_key)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(id,)| $crate::storage::sync::uuid(&id)).transpose()
            }
        }
    };
}

pub(crate) use events_storage;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_found_in_dead_letters_that_are_cut_or_not_json() {
        use hub_protocol::event::identity_hash;
        let cut = r#"{"type": "track", "userId" : "u-\"1\"", "traits": {"email":"Ada@Example.com"}, "properties": {"pad": "yyyy"#;
        assert_eq!(
            raw_identity_hashes(cut),
            [
                identity_hash("user_id", "u-\"1\""),
                identity_hash("email", "ada@example.com")
            ]
        );
        assert_eq!(
            raw_identity_hashes(r#"{"anonymousId": 42, "userId": null}"#),
            [identity_hash("anonymous_id", "42")]
        );
        assert!(raw_identity_hashes("not json at all").is_empty());
        assert!(raw_identity_hashes(r#"{"userId": "unterminated"#).is_empty());
    }

    #[test]
    fn dead_letter_raw_text_is_cut_at_a_character_boundary() {
        let raw = "é".repeat(DEAD_LETTER_RAW_CHARS + 10);
        let letter = NewDeadLetter::new("too_large", "big".into(), &raw);
        assert_eq!(letter.raw.chars().count(), DEAD_LETTER_RAW_CHARS);
        assert_eq!(letter.raw_bytes, raw.len() as i64);
        let small = NewDeadLetter::new("x", "y".into(), "{}");
        assert_eq!(small.raw, "{}");
    }
}
