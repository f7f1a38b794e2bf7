//! When reminders ring: the pure, clock-injected core of the desktop
//! notifier. Nothing here reads the wall clock or shows anything: the caller
//! passes `now` and a [`NotificationSink`] (notify-rust in the app, a
//! recording sink in tests).
//!
//! - An occurrence rings at its reminder's `next_at` (the snooze time when
//!   snoozed, else `due_at`), for the reminder's assignee (an unassigned one
//!   rings for whoever is signed in).
//! - Once notified, a [`REMINDER_NOTIFICATION`] row is written through the
//!   write path with a deterministic id (UUID v5 of reminder, occurrence time
//!   and user), so the record syncs and a second device of the same user that
//!   has received it does not notify again. Two devices that are both offline
//!   at the due time both notify (nothing can tell them apart then); their
//!   records carry the same id and merge into one.
//! - Occurrences that fell due while the app was closed or the computer asleep
//!   (more than [`GRACE`] before the scheduler [`Scheduler::tick`] last woke
//!   up) are not raised one by one: they make one summary notification,
//!   "3 missed follow-ups", and are recorded as notified.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use ts_rs::TS;
use uuid::Uuid;

use super::store_time;
use crate::entities::REMINDER_NOTIFICATION;
use crate::error::Result;
use crate::store::Store;
use crate::users;

/// The longest the notifier sleeps: a clock change or a suspend is noticed
/// within this, and a reminder rings at most this late.
pub const TICK: Duration = Duration::seconds(30);
/// A pause between two ticks longer than this means the computer slept (or
/// the clock jumped): what fell due meanwhile was missed.
pub const SLEEP_GAP: Duration = Duration::seconds(90);
/// An occurrence due at most this long before the scheduler woke up still
/// rings on its own (the app started just after it).
pub const GRACE: Duration = Duration::seconds(60);

const NAMESPACE: Uuid = Uuid::from_u128(0x3f0c_9a51_6d2e_4b87_a1c4_58e2_7b90_d613);

/// The id of the record that `user` was notified of `reminder`'s occurrence at `at`.
pub fn notification_id(reminder: Uuid, at: DateTime<Utc>, user: &str) -> Uuid {
    Uuid::new_v5(
        &NAMESPACE,
        format!("{reminder}/{}/{user}", store_time(at)).as_bytes(),
    )
}

/// The record a notification opens when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
#[ts(export)]
pub enum Target {
    Contact(Uuid),
    Deal(Uuid),
    Ticket(Uuid),
    Reminder(Uuid),
}

/// One occurrence that rings.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Due {
    pub reminder_id: Uuid,
    pub title: String,
    pub notes: Option<String>,
    /// The occurrence: snooze time or due time.
    pub at: DateTime<Utc>,
    pub contact_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    /// Whether it recurs (shown in the notification).
    pub recurring: bool,
}

impl Due {
    /// What clicking the notification opens: the linked record (deal, then
    /// ticket, then contact), else the reminder itself.
    pub fn target(&self) -> Target {
        self.deal_id
            .map(Target::Deal)
            .or(self.ticket_id.map(Target::Ticket))
            .or(self.contact_id.map(Target::Contact))
            .unwrap_or(Target::Reminder(self.reminder_id))
    }
}

/// What is to be notified at a moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pending {
    /// Fell due while the app was running: one notification each.
    pub due: Vec<Due>,
    /// Fell due while it was closed or asleep: one summary for all.
    pub missed: Vec<Due>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum NotificationKind {
    Due,
    Missed,
}

impl NotificationKind {
    fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Due => "due",
            NotificationKind::Missed => "missed",
        }
    }
}

type DueRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn due_from_row(row: DueRow) -> Option<Due> {
    let (id, title, notes, at, contact, deal, ticket, rrule) = row;
    let uuid = |t: Option<String>| t.and_then(|t| Uuid::parse_str(&t).ok());
    Some(Due {
        reminder_id: Uuid::parse_str(&id).ok()?,
        title: title.unwrap_or_default(),
        notes,
        at: DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc),
        contact_id: uuid(contact),
        deal_id: uuid(deal),
        ticket_id: uuid(ticket),
        recurring: rrule.is_some(),
    })
}

/// Open occurrences of `user` that are due at `now` and not yet notified to
/// them (on any device whose record has arrived here). Those due before
/// `awake_since - GRACE` are `missed`.
pub async fn pending(
    store: &Store,
    user: &str,
    now: DateTime<Utc>,
    awake_since: DateTime<Utc>,
) -> Result<Pending> {
    let rows: Vec<DueRow> = sqlx::query_as(
        "SELECT r.id, r.title, r.notes, coalesce(r.snoozed_until, r.due_at) AS at,
                r.contact_id, r.deal_id, r.ticket_id, r.rrule
           FROM reminders r
          WHERE r.deleted_at IS NULL AND r.done_at IS NULL
            AND (r.due_at <= ?1 OR r.snoozed_until <= ?1)
            AND coalesce(r.snoozed_until, r.due_at) <= ?1
            AND (r.assignee = ?2 OR r.assignee IS NULL)
            AND NOT EXISTS (
                SELECT 1 FROM reminder_notifications n
                 WHERE n.reminder_id = r.id AND n.recipient = ?2
                   AND n.occurrence_at = coalesce(r.snoozed_until, r.due_at)
                   AND n.deleted_at IS NULL)
          ORDER BY at, r.id",
    )
    .bind(store_time(now))
    .bind(user)
    .fetch_all(store.pool())
    .await?;
    let cutoff = awake_since - GRACE;
    let (missed, due) = rows
        .into_iter()
        .filter_map(due_from_row)
        .partition(|d| d.at < cutoff);
    Ok(Pending { due, missed })
}

/// When the next open occurrence of `user` after `now` rings, if any.
pub async fn next_due(
    store: &Store,
    user: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    // Two ordered scans that stop at the first match: unsnoozed reminders by
    // the open-due index, snoozed ones by their snooze time.
    let next: Option<String> = sqlx::query_scalar(
        "SELECT min(t) FROM (
            SELECT * FROM (SELECT due_at AS t FROM reminders
              WHERE deleted_at IS NULL AND done_at IS NULL AND snoozed_until IS NULL
                AND due_at > ?1 AND (assignee = ?2 OR assignee IS NULL)
              ORDER BY due_at LIMIT 1)
            UNION ALL
            SELECT * FROM (SELECT snoozed_until AS t FROM reminders
              WHERE deleted_at IS NULL AND done_at IS NULL AND snoozed_until > ?1
                AND (assignee = ?2 OR assignee IS NULL)
              ORDER BY snoozed_until LIMIT 1))",
    )
    .bind(store_time(now))
    .bind(user)
    .fetch_one(store.pool())
    .await?;
    Ok(next
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Record that `user` was notified of these occurrences (a synced record per
/// occurrence). Occurrences already recorded are left alone; returns how
/// many records were new.
pub async fn mark_notified(
    store: &Store,
    user: &str,
    items: &[Due],
    kind: NotificationKind,
    now: DateTime<Utc>,
) -> Result<usize> {
    if items.is_empty() {
        return Ok(0);
    }
    let mut tx = store.write().await?;
    let ids: Vec<String> = items
        .iter()
        .map(|d| notification_id(d.reminder_id, d.at, user).to_string())
        .collect();
    // Recorded already (here, or by another device and synced), or listed twice.
    let mut seen: HashSet<String> = sqlx::query_scalar(
        "SELECT id FROM reminder_notifications WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(&ids).unwrap_or_default())
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .collect();
    let mut rows: Vec<(Uuid, crate::changes::Fields)> = Vec::new();
    for (item, id) in items.iter().zip(&ids) {
        if !seen.insert(id.clone()) {
            continue;
        }
        let id = Uuid::parse_str(id).unwrap_or_else(|_| Uuid::now_v7());
        rows.push((
            id,
            vec![
                ("reminder_id", json!(item.reminder_id.to_string())),
                ("occurrence_at", json!(store_time(item.at))),
                ("recipient", json!(user)),
                ("kind", json!(kind.as_str())),
                ("notified_at", json!(store_time(now))),
                ("device_id", json!(store.device_id().to_string())),
            ],
        ));
    }
    let added = rows.len();
    tx.insert_many(&REMINDER_NOTIFICATION, rows).await?;
    tx.commit().await?;
    Ok(added)
}

/// Title and body of the summary of missed occurrences.
pub fn summary_text(missed: &[Due]) -> (String, String) {
    let n = missed.len();
    let title = if n == 1 {
        "1 missed follow-up".to_owned()
    } else {
        format!("{n} missed follow-ups")
    };
    let mut lines: Vec<String> = missed.iter().take(3).map(|d| d.title.clone()).collect();
    if n > 3 {
        lines.push(format!("and {} more", n - 3));
    }
    (title, lines.join("\n"))
}

/// A sink failed to show a notification (no notification service, ...).
#[derive(Debug, thiserror::Error)]
#[error("cannot show the notification: {0}")]
pub struct SinkError(pub String);

/// Where notifications go: the desktop's notification service in the app.
pub trait NotificationSink {
    /// One occurrence that is due now.
    fn due(&self, item: &Due) -> Result<(), SinkError>;
    /// One summary of occurrences missed while closed or asleep.
    fn missed(&self, items: &[Due]) -> Result<(), SinkError>;
}

/// What one [`Scheduler::tick`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    /// Occurrences raised on their own.
    pub notified: Vec<Due>,
    /// Occurrences raised in one summary (empty when there was none).
    pub summarised: Vec<Due>,
    /// Sink failures; those occurrences are tried again next tick.
    pub errors: Vec<String>,
    /// When to tick next: the next due time, at most [`TICK`] away.
    pub next_tick: DateTime<Utc>,
}

/// The notifier's state between ticks: when it last ran, and since when it
/// has been awake (start, or the last wake from sleep).
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    last_tick: Option<DateTime<Utc>>,
    awake_since: Option<DateTime<Utc>>,
}

impl Scheduler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notify what is due at `now` for the current user, through `sink`,
    /// and record it. The first tick, a tick after a pause longer than
    /// [`SLEEP_GAP`] and a tick with the clock set back all count as waking
    /// up: what fell due before is summarised once.
    pub async fn tick<S: NotificationSink + ?Sized>(
        &mut self,
        store: &Store,
        now: DateTime<Utc>,
        sink: &S,
    ) -> Result<TickReport> {
        let woke = match self.last_tick {
            None => true,
            Some(last) => now < last || now - last > SLEEP_GAP,
        };
        if woke {
            self.awake_since = Some(now);
        }
        let awake_since = self.awake_since.unwrap_or(now);
        let user = users::current(store).await?;
        let pending = pending(store, &user, now, awake_since).await?;
        let mut report = TickReport::default();
        if !pending.missed.is_empty() {
            match sink.missed(&pending.missed) {
                Ok(()) => {
                    mark_notified(store, &user, &pending.missed, NotificationKind::Missed, now)
                        .await?;
                    report.summarised = pending.missed;
                }
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        for item in pending.due {
            match sink.due(&item) {
                Ok(()) => {
                    mark_notified(
                        store,
                        &user,
                        std::slice::from_ref(&item),
                        NotificationKind::Due,
                        now,
                    )
                    .await?;
                    report.notified.push(item);
                }
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        self.last_tick = Some(now);
        let cap = now + TICK;
        report.next_tick = next_due(store, &user, now)
            .await?
            .map_or(cap, |t| t.min(cap));
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::reminders::{self, ReminderInput};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Records what would have been shown.
    #[derive(Default)]
    struct Recorder {
        shown: Mutex<Vec<String>>,
        fail: Mutex<bool>,
    }

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.shown.lock().unwrap())
        }
    }

    impl NotificationSink for Recorder {
        fn due(&self, item: &Due) -> Result<(), SinkError> {
            if *self.fail.lock().unwrap() {
                return Err(SinkError("no notification service".into()));
            }
            self.shown.lock().unwrap().push(item.title.clone());
            Ok(())
        }
        fn missed(&self, items: &[Due]) -> Result<(), SinkError> {
            if *self.fail.lock().unwrap() {
                return Err(SinkError("no notification service".into()));
            }
            let (title, body) = summary_text(items);
            self.shown
                .lock()
                .unwrap()
                .push(format!("{title}: {}", body.replace('\n', ", ")));
            Ok(())
        }
    }

    async fn add(store: &Store, title: &str, due: &str, rrule: Option<&str>) -> Uuid {
        let input = ReminderInput {
            title: title.into(),
            due: due.into(),
            tz: Some("UTC".into()),
            rrule: rrule.map(Into::into),
            ..Default::default()
        };
        reminders::add(store, &input, at("2026-11-01T00:00:00Z"))
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn a_reminder_rings_once_at_its_time_while_running() {
        let store = Store::open_in_memory().await.unwrap();
        let sink = Recorder::default();
        let mut s = Scheduler::new();
        add(&store, "Call Ada", "2026-11-29T10:00:05Z", None).await;

        let r = s
            .tick(&store, at("2026-11-29T10:00:00Z"), &sink)
            .await
            .unwrap();
        assert!(sink.take().is_empty());
        // Wakes exactly at the due time, not 30 s later.
        assert_eq!(r.next_tick, at("2026-11-29T10:00:05Z"));
        let r = s.tick(&store, r.next_tick, &sink).await.unwrap();
        assert_eq!(sink.take(), ["Call Ada"]);
        assert_eq!(r.notified.len(), 1);
        assert_eq!(r.next_tick, at("2026-11-29T10:00:35Z"));
        // Not again.
        s.tick(&store, at("2026-11-29T10:00:35Z"), &sink)
            .await
            .unwrap();
        assert!(sink.take().is_empty());
        let kind: String = sqlx::query_scalar("SELECT kind FROM reminder_notifications")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(kind, "due");
    }

    #[tokio::test]
    async fn reminders_missed_while_closed_are_summarised_once_at_start() {
        let store = Store::open_in_memory().await.unwrap();
        let sink = Recorder::default();
        for (i, due) in [
            "2026-11-28T09:00:00Z",
            "2026-11-28T15:00:00Z",
            "2026-11-29T08:00:00Z",
            "2026-11-29T08:30:00Z",
        ]
        .into_iter()
        .enumerate()
        {
            add(&store, &format!("Follow-up {}", i + 1), due, None).await;
        }
        // Due 30 s before the app started: still its own notification.
        add(&store, "Just now", "2026-11-29T08:59:30Z", None).await;
        let done = add(&store, "Already done", "2026-11-28T10:00:00Z", None).await;
        reminders::done(&store, done, at("2026-11-28T11:00:00Z"))
            .await
            .unwrap();

        let mut s = Scheduler::new();
        let r = s
            .tick(&store, at("2026-11-29T09:00:00Z"), &sink)
            .await
            .unwrap();
        assert_eq!(
            sink.take(),
            [
                "4 missed follow-ups: Follow-up 1, Follow-up 2, Follow-up 3, and 1 more",
                "Just now"
            ]
        );
        assert_eq!(r.summarised.len(), 4);
        // A restart does not summarise them again.
        let mut restarted = Scheduler::new();
        restarted
            .tick(&store, at("2026-11-29T09:05:00Z"), &sink)
            .await
            .unwrap();
        assert!(sink.take().is_empty());
        let kinds: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, count(*) FROM reminder_notifications GROUP BY kind ORDER BY kind",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(kinds, [("due".to_owned(), 1), ("missed".to_owned(), 4)]);
    }

    #[tokio::test]
    async fn a_sleep_is_noticed_by_the_gap_between_ticks() {
        let store = Store::open_in_memory().await.unwrap();
        let sink = Recorder::default();
        let mut s = Scheduler::new();
        s.tick(&store, at("2026-11-29T09:00:00Z"), &sink)
            .await
            .unwrap();
        add(&store, "During sleep", "2026-11-29T09:30:00Z", None).await;
        add(&store, "Also during sleep", "2026-11-29T10:00:00Z", None).await;
        // The laptop slept from 09:00:30 to 11:00.
        s.tick(&store, at("2026-11-29T09:00:30Z"), &sink)
            .await
            .unwrap();
        s.tick(&store, at("2026-11-29T11:00:00Z"), &sink)
            .await
            .unwrap();
        assert_eq!(
            sink.take(),
            ["2 missed follow-ups: During sleep, Also during sleep"]
        );
        // A clock set back also counts as waking up (nothing left to show).
        s.tick(&store, at("2026-11-29T10:00:00Z"), &sink)
            .await
            .unwrap();
        assert!(sink.take().is_empty());
    }

    #[tokio::test]
    async fn snoozing_rings_again_and_a_recurring_reminder_rings_each_occurrence() {
        let store = Store::open_in_memory().await.unwrap();
        let sink = Recorder::default();
        let mut s = Scheduler::new();
        let call = add(&store, "Call", "2026-11-29T09:00:00Z", None).await;
        let daily = add(
            &store,
            "Stand-up",
            "2026-11-29T09:00:00Z",
            Some("FREQ=DAILY"),
        )
        .await;
        s.tick(&store, at("2026-11-29T09:00:00Z"), &sink)
            .await
            .unwrap();
        assert_eq!(sink.take(), ["Call", "Stand-up"]);

        let now = at("2026-11-29T09:00:10Z");
        reminders::snooze(&store, call, now + reminders::DEFAULT_SNOOZE, now)
            .await
            .unwrap();
        reminders::done(&store, daily, now).await.unwrap();
        let r = s.tick(&store, now, &sink).await.unwrap();
        assert!(sink.take().is_empty());
        assert_eq!(r.next_tick, now + TICK);
        let mut t = now;
        while t < at("2026-11-29T09:16:00Z") {
            t += Duration::seconds(30);
            s.tick(&store, t, &sink).await.unwrap();
        }
        assert_eq!(sink.take(), ["Call"]);
        // The next day's stand-up rings on its own.
        let mut t = at("2026-11-30T08:59:00Z");
        let r = s.tick(&store, t, &sink).await.unwrap();
        assert!(sink.take().is_empty());
        t = r.next_tick;
        assert_eq!(t, at("2026-11-30T08:59:30Z"));
        s.tick(&store, at("2026-11-30T08:59:30Z"), &sink)
            .await
            .unwrap();
        s.tick(&store, at("2026-11-30T09:00:00Z"), &sink)
            .await
            .unwrap();
        assert_eq!(sink.take(), ["Stand-up"]);
    }

    #[tokio::test]
    async fn only_the_assignees_reminders_ring_and_a_failed_sink_is_retried() {
        let store = Store::open_in_memory().await.unwrap();
        let sink = Recorder::default();
        let mut s = Scheduler::new();
        s.tick(&store, at("2026-11-29T08:59:50Z"), &sink)
            .await
            .unwrap();
        let theirs = ReminderInput {
            title: "Bo's call".into(),
            due: "2026-11-29T09:00:00Z".into(),
            tz: Some("UTC".into()),
            assignee: Some("bo@example.com".into()),
            ..Default::default()
        };
        reminders::add(&store, &theirs, at("2026-11-01T00:00:00Z"))
            .await
            .unwrap();
        add(&store, "Mine", "2026-11-29T09:00:00Z", None).await;

        *sink.fail.lock().unwrap() = true;
        let r = s
            .tick(&store, at("2026-11-29T09:00:00Z"), &sink)
            .await
            .unwrap();
        assert_eq!(r.errors.len(), 1);
        assert!(sink.take().is_empty());
        *sink.fail.lock().unwrap() = false;
        s.tick(&store, at("2026-11-29T09:00:20Z"), &sink)
            .await
            .unwrap();
        assert_eq!(sink.take(), ["Mine"]);
    }

    #[tokio::test]
    async fn a_record_synced_from_another_device_stops_this_one_notifying() {
        // Two devices of one user: the record device A wrote reaches B
        // through sync, applied with the remote path as a pull would.
        let a = Store::open_in_memory().await.unwrap();
        let b = Store::open_in_memory().await.unwrap();
        let id = add(&a, "Call Ada", "2026-11-29T09:00:00Z", None).await;
        let sink_a = Recorder::default();
        let sink_b = Recorder::default();
        copy_changes(&a, &b).await;
        Scheduler::new()
            .tick(&a, at("2026-11-29T09:00:00Z"), &sink_a)
            .await
            .unwrap();
        assert_eq!(sink_a.take(), ["Call Ada"]);
        copy_changes(&a, &b).await;
        Scheduler::new()
            .tick(&b, at("2026-11-29T09:00:10Z"), &sink_b)
            .await
            .unwrap();
        assert!(sink_b.take().is_empty());
        let record: String = sqlx::query_scalar("SELECT id FROM reminder_notifications")
            .fetch_one(b.pool())
            .await
            .unwrap();
        assert_eq!(
            record,
            notification_id(id, at("2026-11-29T09:00:00Z"), users::LOCAL_USER).to_string()
        );
    }

    /// Apply every outbox change of `from` to `to`, as a pull does.
    async fn copy_changes(from: &Store, to: &Store) {
        let changes = crate::changes::outbox(from, 10_000).await.unwrap();
        let mut tx = to.write().await.unwrap();
        for c in &changes {
            tx.apply_remote(c).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn marking_skips_recorded_and_repeated_occurrences() {
        let store = Store::open_in_memory().await.unwrap();
        for i in 0..3000 {
            add(&store, &format!("r{i}"), "2026-11-01T09:00:00Z", None).await;
        }
        let now = at("2026-11-29T09:00:00Z");
        let p = pending(&store, "me", now, now).await.unwrap();
        assert_eq!((p.due.len(), p.missed.len()), (0, 3000));
        let mut twice = p.missed.clone();
        twice.extend(p.missed[..10].iter().cloned());
        let added = mark_notified(&store, "me", &twice, NotificationKind::Missed, now)
            .await
            .unwrap();
        assert_eq!(added, 3000);
        let again = mark_notified(&store, "me", &p.missed, NotificationKind::Missed, now)
            .await
            .unwrap();
        assert_eq!(again, 0);
        assert!(pending(&store, "me", now, now)
            .await
            .unwrap()
            .missed
            .is_empty());
        // Nor are they due for another user: they are assigned to me.
        assert_eq!(
            pending(&store, "bo@example.com", now, now)
                .await
                .unwrap()
                .missed
                .len(),
            0,
            "assigned to me, not to bo"
        );
    }

    #[test]
    fn a_click_opens_the_linked_record() {
        let id = Uuid::now_v7();
        let mut d = Due {
            reminder_id: id,
            title: "x".into(),
            notes: None,
            at: Utc::now(),
            contact_id: None,
            deal_id: None,
            ticket_id: None,
            recurring: false,
        };
        assert_eq!(d.target(), Target::Reminder(id));
        let contact = Uuid::now_v7();
        d.contact_id = Some(contact);
        assert_eq!(d.target(), Target::Contact(contact));
        let deal = Uuid::now_v7();
        d.deal_id = Some(deal);
        assert_eq!(d.target(), Target::Deal(deal));
        assert_eq!(
            serde_json::to_value(d.target()).unwrap(),
            json!({"kind": "deal", "id": deal.to_string()})
        );
        assert_eq!(
            summary_text(std::slice::from_ref(&d)).0,
            "1 missed follow-up"
        );
    }
}
