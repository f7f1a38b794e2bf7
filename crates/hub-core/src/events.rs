//! Behavioural events on the device (docs/events.md, "On the device").
//!
//! Events arrive from the server's stream (hub_core::sync::events) or from a
//! Segment JSON-lines file (`hub events import`); both go through [`store_in`],
//! which inserts the new ones with multi-row statements (a `message_id` already
//! stored is a duplicate, counted and skipped) and runs identity resolution on
//! them in the same transaction, so an event is never stored unresolved.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use chrono::{DateTime, Utc};
use hub_protocol::event::{Event, StreamedEvent};
use hub_protocol::segment;
use serde::Serialize;
use serde_json::Value;
use sqlx::Sqlite;

use crate::changes::WriteTx;
use crate::error::Result;
use crate::identity::{self, Resolved};
use crate::phone::Region;
use crate::store::Store;

/// Events per transaction of an import (and bound parameters: 10 per row).
pub const IMPORT_BATCH: usize = 1_000;
/// Bad lines listed in an import report (all are counted).
pub const MAX_LISTED_ERRORS: usize = 10_000;
const ROWS_PER_INSERT: usize = 3_000;

/// What storing a batch of events did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    /// Events new to this device.
    pub stored: u64,
    /// Events it already had (same `message_id`).
    pub duplicate: u64,
    /// Events of erased people, not stored (docs/privacy.md).
    pub suppressed: u64,
    /// What resolving the new ones wrote.
    pub resolved: Resolved,
}

impl Stored {
    fn add(&mut self, other: &Stored) {
        self.stored += other.stored;
        self.duplicate += other.duplicate;
        self.suppressed += other.suppressed;
        self.resolved.add(&other.resolved);
    }
}

/// Store events loaded on this device (not uploaded yet) and resolve them.
pub async fn store(store: &Store, events: &[Event]) -> Result<Stored> {
    let rows: Vec<(Option<i64>, &Event)> = events.iter().map(|e| (None, e)).collect();
    let region = store.default_region();
    let mut tx = store.write().await?;
    let stored = store_in(&mut tx, &rows, region).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Store a page of the server's stream and resolve the new events. An event this
/// device uploaded itself comes back with its `seq`, which is noted.
pub async fn store_streamed(store: &Store, events: &[StreamedEvent]) -> Result<Stored> {
    let rows: Vec<(Option<i64>, &Event)> = events.iter().map(|e| (Some(e.seq), &e.event)).collect();
    let region = store.default_region();
    let mut tx = store.write().await?;
    let stored = store_in(&mut tx, &rows, region).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Insert the events this device does not have yet, note stream positions of those it
/// has, and resolve the new ones, inside `tx`.
pub async fn store_in(
    tx: &mut WriteTx,
    rows: &[(Option<i64>, &Event)],
    region: Region,
) -> Result<Stored> {
    let mut report = Stored::default();
    let mut seen: HashSet<&str> = HashSet::with_capacity(rows.len());
    let mut fresh: Vec<(Option<i64>, &Event)> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "SELECT message_id, seq IS NULL OR seq <= 0 FROM events WHERE message_id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query_as::<Sqlite, (String, bool)>(&sql);
        for (_, e) in chunk {
            query = query.bind(e.message_id.as_str());
        }
        let known: Vec<(String, bool)> = query.fetch_all(tx.conn()).await?;
        let unsent: HashSet<String> = known
            .iter()
            .filter(|(_, unsent)| *unsent)
            .map(|(m, _)| m.clone())
            .collect();
        let known: HashSet<String> = known.into_iter().map(|(m, _)| m).collect();
        for (seq, event) in chunk {
            if known.contains(&event.message_id) || !seen.insert(event.message_id.as_str()) {
                report.duplicate += 1;
                if let (Some(seq), true) = (seq, unsent.contains(&event.message_id)) {
                    sqlx::query(
                        "UPDATE events SET seq = ? WHERE message_id = ? AND (seq IS NULL OR seq <= 0)",
                    )
                        .bind(seq)
                        .bind(event.message_id.as_str())
                        .execute(tx.conn())
                        .await?;
                }
            } else {
                fresh.push((*seq, event));
            }
        }
    }
    let suppressed =
        crate::privacy::suppressed_among(tx.conn(), fresh.iter().map(|(_, e)| *e)).await?;
    if !suppressed.is_empty() {
        fresh.retain(|(_, e)| !suppressed.contains(&e.message_id));
        report.suppressed = suppressed.len() as u64;
    }
    for chunk in fresh.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO events (message_id, type, user_id, anonymous_id, name, path, at_ms,
                                 received_ms, body, seq) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query::<Sqlite>(&sql);
        for (seq, e) in chunk {
            query = query
                .bind(e.message_id.as_str())
                .bind(e.kind.as_str())
                .bind(e.user_id.as_deref())
                .bind(e.anonymous_id.as_deref())
                .bind(e.name.as_deref())
                .bind(e.page_path())
                .bind(e.timestamp.timestamp_millis())
                .bind(e.received_at.timestamp_millis())
                .bind(e.stored_body())
                .bind(*seq);
        }
        query.execute(tx.conn()).await?;
    }
    report.stored = fresh.len() as u64;
    let mut new: Vec<&Event> = fresh.into_iter().map(|(_, e)| e).collect();
    report.resolved = identity::process(tx, &mut new, region).await?;
    Ok(report)
}

/// One line of an import file that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// A stable code: `invalid_json`, `invalid_utf8` or a `SegmentError` code.
    pub code: String,
    pub message: String,
}

/// What `hub events import` did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    #[serde(flatten)]
    pub stored: Stored,
    /// Bad lines (all counted; at most [`MAX_LISTED_ERRORS`] listed).
    pub failed: u64,
    pub errors: Vec<LineError>,
}

/// Progress of a long import: lines and bytes read so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Import a Segment JSON-lines file: one event object a line (blank lines skipped),
/// normalised like the server's collection endpoints do. Every bad line is reported
/// with its line number and the rest is imported; each batch of
/// [`IMPORT_BATCH`] events is stored (and resolved) in one transaction.
pub async fn import_file(
    store: &Store,
    path: &Path,
    progress: Progress<'_>,
) -> Result<ImportReport> {
    let file = std::fs::File::open(path)?;
    import_reader(store, std::io::BufReader::new(file), progress).await
}

/// [`import_file`] from any reader.
pub async fn import_reader<R: BufRead>(
    store: &Store,
    mut reader: R,
    progress: Progress<'_>,
) -> Result<ImportReport> {
    let received_at: DateTime<Utc> = Utc::now();
    let mut report = ImportReport::default();
    let mut batch: Vec<Event> = Vec::with_capacity(IMPORT_BATCH);
    let (mut line_no, mut bytes) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        bytes += n as u64;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim(),
            Err(_) => {
                report.lines += 1;
                fail(
                    &mut report,
                    line_no,
                    "invalid_utf8",
                    "the line is not UTF-8 text".into(),
                );
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        report.lines += 1;
        if text.len() > segment::MAX_EVENT_BYTES * 4 {
            // Not even worth parsing: far over the per-event limit.
            let e = segment::SegmentError::TooLarge {
                bytes: text.len(),
                limit: segment::MAX_EVENT_BYTES,
            };
            fail(&mut report, line_no, e.code(), e.to_string());
            continue;
        }
        let raw: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                fail(
                    &mut report,
                    line_no,
                    "invalid_json",
                    format!("not JSON: {e}"),
                );
                continue;
            }
        };
        match segment::normalise(raw, &segment::Options::single(received_at)) {
            Ok(event) => batch.push(event),
            Err(e) => fail(&mut report, line_no, e.code(), e.to_string()),
        }
        if batch.len() >= IMPORT_BATCH {
            let stored = self::store(store, &batch).await?;
            report.stored.add(&stored);
            batch.clear();
            progress(line_no, bytes);
        }
    }
    if !batch.is_empty() {
        let stored = self::store(store, &batch).await?;
        report.stored.add(&stored);
    }
    progress(line_no, bytes);
    if report.stored.stored > 0 {
        // Behaviour rules and new leads: segment memberships follow at once.
        crate::segments::refresh(store, Utc::now()).await?;
    }
    Ok(report)
}

fn fail(report: &mut ImportReport, line: u64, code: &str, message: String) {
    report.failed += 1;
    if report.errors.len() < MAX_LISTED_ERRORS {
        report.errors.push(LineError {
            line,
            code: code.to_owned(),
            message,
        });
    }
}

/// How many events this device holds, and how many of them are not uploaded yet.
pub async fn counts(store: &Store) -> Result<(u64, u64)> {
    let (all, unsent): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE seq IS NULL) FROM events")
            .fetch_one(store.pool())
            .await?;
    Ok((all as u64, unsent as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::lead_id;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/events/segment_export.jsonl")
    }

    #[tokio::test]
    async fn a_segment_export_imports_with_each_bad_line_reported_and_the_rest_stored() {
        let store = Store::open_in_memory().await.unwrap();
        let mut calls = Vec::new();
        let report = import_file(&store, &fixture(), &mut |l, b| calls.push((l, b)))
            .await
            .unwrap();
        assert_eq!(report.lines, 10, "blank lines are not counted");
        assert_eq!(report.stored.stored, 7);
        assert_eq!(report.failed, 3);
        let bad: Vec<(u64, &str)> = report
            .errors
            .iter()
            .map(|e| (e.line, e.code.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                (6, "invalid_json"),
                (9, "unknown_type"),
                (10, "missing_identity")
            ]
        );
        assert_eq!(calls.last().map(|c| c.0), Some(11));
        // The identify made María a lead with the whole anonymous history, and the
        // app's alias joined the phone's anonymous id.
        let lead = lead_id("user_id", "usr_8841");
        let on_lead: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events e JOIN contacts c ON c.rk = e.contact_rk WHERE c.id = ?",
        )
        .bind(lead.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(on_lead, 7);
        let maria = crate::contacts::get(&store, lead).await.unwrap();
        assert_eq!(maria.display_name, "María García");
        assert_eq!(maria.emails[0].address, "maria.garcia@example.org");
        assert_eq!(maria.phones[0].number, "+34612345678");
        let (path, body): (Option<String>, String) = sqlx::query_as(
            "SELECT path, body FROM events WHERE message_id = 'ajs-next-1700000000002-5f2a0b8e'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(path.as_deref(), Some("/pricing"));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body["context"]["library"]["name"], "analytics.js",
            "kept verbatim"
        );
        assert_eq!(counts(&store).await.unwrap(), (7, 7), "none uploaded yet");

        // Importing the file again stores nothing and writes nothing.
        let log: i64 = sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let again = import_file(&store, &fixture(), &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!((again.stored.stored, again.stored.duplicate), (0, 7));
        assert!(again.stored.resolved.is_empty());
        let log_after: i64 = sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(log, log_after);
    }

    #[tokio::test]
    async fn stream_pages_dedupe_and_note_the_seq_of_events_uploaded_from_here() {
        let store = Store::open_in_memory().await.unwrap();
        let text = "{\"type\":\"track\",\"event\":\"A\",\"anonymousId\":\"x\",\"messageId\":\"m1\",\"timestamp\":\"2026-11-01T00:00:00Z\"}\n\
                    {\"type\":\"track\",\"event\":\"A\",\"anonymousId\":\"x\",\"messageId\":\"m1\",\"timestamp\":\"2026-11-01T00:00:00Z\"}\n";
        let report = import_reader(&store, text.as_bytes(), &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!((report.stored.stored, report.stored.duplicate), (1, 1));
        let m1: Event = sqlx::query_scalar::<_, String>("SELECT body FROM events")
            .fetch_one(store.pool())
            .await
            .map(|b| {
                segment::normalise(
                    serde_json::from_str(&b).unwrap(),
                    &segment::Options::single(Utc::now()),
                )
                .unwrap()
            })
            .unwrap();
        let mut m2 = m1.clone();
        m2.message_id = "m2".into();
        let page = vec![
            StreamedEvent { seq: 7, event: m1 },
            StreamedEvent { seq: 8, event: m2 },
        ];
        let stored = store_streamed(&store, &page).await.unwrap();
        assert_eq!((stored.stored, stored.duplicate), (1, 1));
        let seqs: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT message_id, seq FROM events ORDER BY message_id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(seqs, [("m1".into(), Some(7)), ("m2".into(), Some(8))]);
        assert_eq!(counts(&store).await.unwrap(), (2, 0));
    }
}
