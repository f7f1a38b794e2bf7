//! The behavioural event stream on the device (docs/events.md, "On the device").
//!
//! After the sync round's push and pull of changes, [`sync`]
//! 1. uploads the events loaded here (`events.seq IS NULL`: `hub events import`) in
//!    batches of at most [`MAX_EVENT_PUSH`]; an uploaded event is marked `seq = 0`
//!    (on the server, its place in the stream not known here yet) so it is sent once;
//! 2. reads the workspace's stream from the cursor kept in `meta` (`events.cursor`),
//!    storing and resolving each page and advancing the cursor in the same
//!    transaction, so a page lost on the way is read again and a page stored is
//!    never stored twice. An event that comes back from the stream gets its `seq`.
//!
//! A server without the event endpoints (404) is skipped: changes still sync.

use chrono::{TimeZone, Utc};
use hub_protocol::event::{Event, EventType, DEFAULT_EVENT_PAGE, MAX_EVENT_PUSH};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{SyncError, Transport};
use crate::events;
use crate::identity::Resolved;
use crate::store::{meta_get, meta_set, Store};

/// `meta` key of the last stream seq stored here.
pub const CURSOR: &str = "events.cursor";
/// `events.seq` of an event uploaded from here whose stream seq is not known yet.
pub const UPLOADED: i64 = 0;
/// `events.seq` of an event the server refused (kept here, never sent again).
pub const REFUSED: i64 = -1;

/// What one event sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct EventsReport {
    /// Events uploaded (new to the server or already there).
    pub pushed: u64,
    /// Events the server refused as invalid (kept on this device only).
    pub refused: u64,
    /// Events read from the stream, and how many of them were new here.
    pub pulled: u64,
    pub stored: u64,
    pub resolved: Resolved,
    /// False when the server has no event endpoints (an older hub-server).
    pub supported: bool,
}

fn not_supported(e: &SyncError) -> bool {
    matches!(
        e,
        SyncError::Refused {
            status: 404 | 405,
            ..
        }
    )
}

/// Upload the events loaded here, then read the stream. See the module docs.
pub async fn sync<T: Transport>(store: &Store, transport: &T) -> Result<EventsReport, SyncError> {
    let mut report = EventsReport {
        supported: true,
        ..Default::default()
    };
    match push(store, transport, &mut report).await {
        Err(e) if not_supported(&e) => {
            report.supported = false;
            return Ok(report);
        }
        other => other?,
    }
    match pull(store, transport, &mut report).await {
        Err(e) if not_supported(&e) => {
            report.supported = false;
            Ok(report)
        }
        other => other.map(|_| report),
    }
}

type Row = (
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

fn event_of(row: Row) -> Option<(i64, Event)> {
    let (rk, message_id, kind, user_id, anonymous_id, name, at_ms, received_ms, body) = row;
    let body: Map<String, Value> = serde_json::from_str(&body).ok()?;
    Some((
        rk,
        Event {
            message_id,
            kind: EventType::parse(&kind)?,
            user_id,
            anonymous_id,
            name,
            timestamp: Utc.timestamp_millis_opt(at_ms).single()?,
            received_at: Utc.timestamp_millis_opt(received_ms).single()?,
            body,
        },
    ))
}

async fn mark(store: &Store, rks: &[i64], seq: i64) -> Result<(), SyncError> {
    sqlx::query(
        "UPDATE events SET seq = ? WHERE rk IN (SELECT value FROM json_each(?)) AND seq IS NULL",
    )
    .bind(seq)
    .bind(serde_json::to_string(rks).unwrap_or_default())
    .execute(store.pool())
    .await
    .map_err(crate::Error::from)?;
    Ok(())
}

async fn push<T: Transport>(
    store: &Store,
    transport: &T,
    report: &mut EventsReport,
) -> Result<(), SyncError> {
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT rk, message_id, type, user_id, anonymous_id, name, at_ms, received_ms, body
               FROM events WHERE seq IS NULL AND rk > ? ORDER BY rk LIMIT ?",
        )
        .bind(after)
        .bind(MAX_EVENT_PUSH as i64)
        .fetch_all(store.pool())
        .await
        .map_err(crate::Error::from)?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(());
        };
        after = last;
        let mut unreadable = Vec::new();
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let rk = row.0;
            match event_of(row) {
                Some(e) => batch.push(e),
                None => unreadable.push(rk),
            }
        }
        mark(store, &unreadable, REFUSED).await?;
        report.refused += unreadable.len() as u64;
        let events: Vec<Event> = batch.iter().map(|(_, e)| e.clone()).collect();
        match transport.events_push(&events).await {
            Ok(_) => {
                let rks: Vec<i64> = batch.iter().map(|(rk, _)| *rk).collect();
                mark(store, &rks, UPLOADED).await?;
                report.pushed += rks.len() as u64;
            }
            // The server takes a push whole or not at all: find the event it refuses
            // by sending them one by one, and keep that one here only.
            Err(SyncError::Refused { status: 400, .. }) if batch.len() > 1 => {
                for (rk, event) in &batch {
                    match transport.events_push(std::slice::from_ref(event)).await {
                        Ok(_) => {
                            mark(store, &[*rk], UPLOADED).await?;
                            report.pushed += 1;
                        }
                        Err(SyncError::Refused { status: 400, .. }) => {
                            mark(store, &[*rk], REFUSED).await?;
                            report.refused += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(SyncError::Refused { status: 400, .. }) => {
                let rks: Vec<i64> = batch.iter().map(|(rk, _)| *rk).collect();
                mark(store, &rks, REFUSED).await?;
                report.refused += rks.len() as u64;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn pull<T: Transport>(
    store: &Store,
    transport: &T,
    report: &mut EventsReport,
) -> Result<(), SyncError> {
    let region = store.default_region();
    loop {
        let cursor: i64 = meta_get(store.pool(), CURSOR)
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let page = transport.events_pull(cursor, DEFAULT_EVENT_PAGE).await?;
        if page.next_cursor < cursor {
            return Err(SyncError::Protocol(format!(
                "the server's event stream went back from {cursor} to {}",
                page.next_cursor
            )));
        }
        let rows: Vec<(Option<i64>, &Event)> = page
            .events
            .iter()
            .map(|e| (Some(e.seq), &e.event))
            .collect();
        let mut tx = store.write().await?;
        let stored = events::store_in(&mut tx, &rows, region).await?;
        meta_set(tx.conn(), CURSOR, &page.next_cursor.to_string()).await?;
        tx.commit().await?;
        report.pulled += page.events.len() as u64;
        report.stored += stored.stored;
        report.resolved.add(&stored.resolved);
        if !page.has_more || page.next_cursor == cursor {
            return Ok(());
        }
    }
}

/// Where this device's event stream stands: `(cursor, events not uploaded yet)`.
pub async fn status(store: &Store) -> Result<(i64, u64), SyncError> {
    let cursor = meta_get(store.pool(), CURSOR)
        .await?
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (_, unsent) = events::counts(store).await?;
    Ok((cursor, unsent))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use hub_protocol::event::{EventPullResponse, EventPushResponse, StreamedEvent};
    use hub_protocol::wire::{PullResponse, SnapshotResponse};
    use hub_protocol::{segment, Change};

    use super::*;
    use crate::sync::PushAnswer;

    /// A server's event stream in memory, with faults to inject.
    #[derive(Default)]
    struct Stream {
        events: RefCell<Vec<StreamedEvent>>,
        pushes: RefCell<Vec<usize>>,
        /// message ids the server refuses (400, nothing stored).
        refuse: Vec<String>,
        /// Lose the answer of the next pull (the page was served, not received).
        lose_next_page: RefCell<bool>,
        /// The server has no event endpoints.
        missing: bool,
        page: i64,
    }

    fn refused() -> SyncError {
        SyncError::Refused {
            status: 400,
            code: "invalid".into(),
            message: "no".into(),
        }
    }

    impl Transport for Stream {
        async fn push(&self, _: &[Change]) -> Result<PushAnswer, SyncError> {
            unreachable!()
        }
        async fn pull(&self, _: i64, _: i64) -> Result<PullResponse, SyncError> {
            unreachable!()
        }
        async fn snapshot(&self, _: Option<&str>, _: i64) -> Result<SnapshotResponse, SyncError> {
            unreachable!()
        }
        async fn events_push(&self, events: &[Event]) -> Result<EventPushResponse, SyncError> {
            if self.missing {
                return Err(SyncError::Refused {
                    status: 404,
                    code: "not_found".into(),
                    message: "no route".into(),
                });
            }
            self.pushes.borrow_mut().push(events.len());
            if events.iter().any(|e| self.refuse.contains(&e.message_id)) {
                return Err(refused());
            }
            let mut stream = self.events.borrow_mut();
            let (mut stored, mut duplicate) = (0, 0);
            for e in events {
                if stream.iter().any(|s| s.event.message_id == e.message_id) {
                    duplicate += 1;
                } else {
                    stored += 1;
                    let seq = stream.len() as i64 + 1;
                    stream.push(StreamedEvent {
                        seq,
                        event: e.clone(),
                    });
                }
            }
            Ok(EventPushResponse {
                stored,
                duplicate,
                suppressed: 0,
                server_time: Utc::now(),
            })
        }
        async fn events_pull(
            &self,
            cursor: i64,
            _limit: i64,
        ) -> Result<EventPullResponse, SyncError> {
            let stream = self.events.borrow();
            let events: Vec<StreamedEvent> = stream
                .iter()
                .filter(|e| e.seq > cursor)
                .take(self.page as usize)
                .cloned()
                .collect();
            let next_cursor = events.last().map_or(cursor, |e| e.seq);
            if std::mem::take(&mut *self.lose_next_page.borrow_mut()) {
                return Err(SyncError::Offline("page lost".into()));
            }
            Ok(EventPullResponse {
                has_more: stream.iter().any(|e| e.seq > next_cursor),
                events,
                next_cursor,
                server_time: Utc::now(),
            })
        }
    }

    fn lines(ids: &[&str]) -> String {
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                format!(
                    "{{\"type\":\"page\",\"anonymousId\":\"a\",\"messageId\":\"{id}\",\"timestamp\":\"2026-11-01T00:00:0{i}Z\"}}\n"
                )
            })
            .collect()
    }

    async fn seqs(store: &Store) -> Vec<(String, Option<i64>)> {
        sqlx::query_as("SELECT message_id, seq FROM events ORDER BY message_id")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn uploads_once_reads_pages_and_a_lost_page_is_read_again() {
        let store = Store::open_in_memory().await.unwrap();
        events::import_reader(
            &store,
            lines(&["m1", "m2", "m3"]).as_bytes(),
            &mut |_, _| {},
        )
        .await
        .unwrap();
        let server = Stream {
            page: 2,
            ..Default::default()
        };
        // Another device's event is already in the stream.
        let other = segment::normalise(
            serde_json::json!({"type": "track", "event": "X", "userId": "u", "messageId": "m0",
                               "timestamp": "2026-10-01T00:00:00Z"}),
            &segment::Options::single(Utc::now()),
        )
        .unwrap();
        server.events.borrow_mut().push(StreamedEvent {
            seq: 1,
            event: other,
        });
        *server.lose_next_page.borrow_mut() = true;
        let err = sync(&store, &server).await.unwrap_err();
        assert!(matches!(err, SyncError::Offline(_)));
        // Uploaded (once), but nothing read yet: the cursor did not move.
        assert_eq!(*server.pushes.borrow(), [3]);
        assert_eq!(meta_get(store.pool(), CURSOR).await.unwrap(), None);
        assert_eq!(
            seqs(&store).await,
            [
                ("m1".into(), Some(0)),
                ("m2".into(), Some(0)),
                ("m3".into(), Some(0))
            ]
        );

        let report = sync(&store, &server).await.unwrap();
        assert_eq!(*server.pushes.borrow(), [3], "not sent again");
        assert_eq!((report.pulled, report.stored), (4, 1));
        assert_eq!(
            seqs(&store).await,
            [
                ("m0".into(), Some(1)),
                ("m1".into(), Some(2)),
                ("m2".into(), Some(3)),
                ("m3".into(), Some(4))
            ]
        );
        assert_eq!(
            meta_get(store.pool(), CURSOR).await.unwrap().as_deref(),
            Some("4")
        );
        let again = sync(&store, &server).await.unwrap();
        assert_eq!((again.pushed, again.pulled), (0, 0));
    }

    #[tokio::test]
    async fn an_event_the_server_refuses_is_kept_here_and_does_not_block_the_rest() {
        let store = Store::open_in_memory().await.unwrap();
        events::import_reader(
            &store,
            lines(&["m1", "bad", "m3"]).as_bytes(),
            &mut |_, _| {},
        )
        .await
        .unwrap();
        let server = Stream {
            page: 10,
            refuse: vec!["bad".into()],
            ..Default::default()
        };
        let report = sync(&store, &server).await.unwrap();
        assert_eq!((report.pushed, report.refused), (2, 1));
        assert_eq!(*server.pushes.borrow(), [3, 1, 1, 1]);
        let seqs = seqs(&store).await;
        assert!(seqs.contains(&("bad".into(), Some(REFUSED))), "{seqs:?}");
        let again = sync(&store, &server).await.unwrap();
        assert_eq!(again.pushed + again.refused, 0, "never sent again");
    }

    #[tokio::test]
    async fn a_server_without_event_endpoints_is_skipped() {
        let store = Store::open_in_memory().await.unwrap();
        events::import_reader(&store, lines(&["m1"]).as_bytes(), &mut |_, _| {})
            .await
            .unwrap();
        let server = Stream {
            missing: true,
            page: 10,
            ..Default::default()
        };
        let report = sync(&store, &server).await.unwrap();
        assert!(!report.supported);
        assert_eq!(seqs(&store).await, [("m1".into(), None)], "still to upload");
    }
}
