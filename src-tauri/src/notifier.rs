//! Reminder notifications on the desktop.
//!
//! A background task ([`run`]) ticks hub-core's [`Scheduler`] at the next
//! due time, and at least every 30 s ([`schedule::TICK`]); between ticks it
//! re-reads the wall clock every 2 s, so a wake from sleep or a changed clock
//! is noticed at once, and it ticks early when the store changes (a reminder
//! added, snoozed or synced). It needs no window: it runs while the window is
//! hidden or minimised, and it needs no network.
//!
//! The real [`NotificationSink`] is notify-rust ([`DesktopSink`]): on Linux a
//! D-Bus `org.freedesktop.Notifications.Notify` call with the actions Open,
//! Done and Snooze 15 min; a thread per shown notification waits for the
//! user's action ([`notify_rust::NotificationHandle::wait_for_action`]) and
//! sends it to [`handle_actions`], which completes or snoozes the reminder
//! through hub-core or asks the UI to open the record ([`OPEN_EVENT`]).
//! Other platforms show the notification without actions.
//!
//! Everything but [`spawn`] takes the store, a [`Clock`] and a sink, so the
//! loop is tested without Tauri (src-tauri/tests/notifications.rs drives it
//! against a real D-Bus notification daemon).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use hub_core::reminders::schedule::{
    self, summary_text, Due, NotificationSink, Scheduler, SinkError, Target,
};
use hub_core::reminders::{self, DEFAULT_SNOOZE};
use hub_core::Store;
use notify_rust::{Notification, Timeout};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::state::AppState;

/// Event asking the UI to open a record: payload a [`Target`]
/// (`{kind: "contact"|"deal"|"ticket"|"reminder", id}`), or `null` for the
/// list of due reminders (a click on the missed summary).
pub const OPEN_EVENT: &str = "open-record";
const APP_NAME: &str = "Customer Hub";
/// How often the loop re-reads the clock and looks for store changes.
const POLL: StdDuration = StdDuration::from_secs(2);
/// How long showing one notification may take before it counts as failed.
const SHOW_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// Where the loop reads the time; tests may pin or shift it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The computer's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What the user did on a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Done(Uuid),
    Snooze(Uuid),
    /// Clicked a reminder's notification: open its record.
    Open(Target),
    /// Clicked the missed summary: open the due reminders.
    OpenDue,
}

/// notify-rust as a [`NotificationSink`]; the user's actions go to `actions`.
#[derive(Debug, Clone)]
pub struct DesktopSink {
    actions: mpsc::UnboundedSender<Action>,
}

impl DesktopSink {
    pub fn new(actions: mpsc::UnboundedSender<Action>) -> Self {
        DesktopSink { actions }
    }
}

fn due_body(item: &Due) -> String {
    let when = item
        .at
        .with_timezone(&chrono::Local)
        .format("Due %H:%M")
        .to_string();
    let mut body = match item.notes.as_deref().map(str::trim) {
        Some(notes) if !notes.is_empty() => {
            let first: String = notes
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            format!("{when} · {first}")
        }
        _ => when,
    };
    if item.recurring {
        body.push_str(" · repeats");
    }
    body
}

/// Show `n` on a thread of its own; that thread then waits for the user's
/// action and maps it with `on_action`. Returns once the notification
/// service accepted it (or refused).
fn show(
    n: Notification,
    on_action: impl FnOnce(&str) -> Option<Action> + Send + 'static,
    actions: mpsc::UnboundedSender<Action>,
) -> Result<(), SinkError> {
    let (shown_tx, shown_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("notification".into())
        .spawn(move || {
            let handle = match n.show() {
                Ok(handle) => handle,
                Err(e) => {
                    let _ = shown_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = shown_tx.send(Ok(()));
            #[cfg(all(unix, not(target_os = "macos")))]
            handle.wait_for_action(|action| {
                if let Some(a) = on_action(action) {
                    let _ = actions.send(a);
                }
            });
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            {
                let _ = (handle, on_action, actions);
            }
        })
        .map_err(|e| SinkError(e.to_string()))?;
    match shown_rx.recv_timeout(SHOW_TIMEOUT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SinkError(e)),
        Err(_) => Err(SinkError("the notification service did not answer".into())),
    }
}

impl NotificationSink for DesktopSink {
    fn due(&self, item: &Due) -> Result<(), SinkError> {
        let mut n = Notification::new();
        n.appname(APP_NAME)
            .summary(&item.title)
            .body(&due_body(item))
            // A reminder stays until it is dealt with.
            .timeout(Timeout::Never);
        #[cfg(all(unix, not(target_os = "macos")))]
        n.action("default", "Open")
            .action("done", "Done")
            .action("snooze", "Snooze 15 min")
            .hint(notify_rust::Hint::Category(
                "x-customer-hub.reminder".into(),
            ));
        let id = item.reminder_id;
        let target = item.target();
        show(
            n,
            move |action| match action {
                "done" => Some(Action::Done(id)),
                "snooze" => Some(Action::Snooze(id)),
                "default" => Some(Action::Open(target)),
                _ => None, // closed or expired
            },
            self.actions.clone(),
        )
    }

    fn missed(&self, items: &[Due]) -> Result<(), SinkError> {
        let (title, body) = summary_text(items);
        let mut n = Notification::new();
        n.appname(APP_NAME).summary(&title).body(&body);
        #[cfg(all(unix, not(target_os = "macos")))]
        n.action("default", "Show");
        show(
            n,
            |action| (action == "default").then_some(Action::OpenDue),
            self.actions.clone(),
        )
    }
}

/// The notifier loop (never returns): tick, then sleep until the next due
/// time, at most [`schedule::TICK`], waking early when the store changes.
pub async fn run<C: Clock, S: NotificationSink>(store: Store, clock: C, sink: S) {
    let mut scheduler = Scheduler::new();
    let mut watcher = match store.watcher().await {
        Ok(w) => Some(w),
        Err(err) => {
            tracing::warn!(error = %err, "notifier: cannot watch the store; reminders are checked every 30 s");
            None
        }
    };
    loop {
        let now = clock.now();
        let next = match scheduler.tick(&store, now, &sink).await {
            Ok(report) => {
                for error in &report.errors {
                    tracing::warn!(%error, "notifier: a reminder notification failed; retrying");
                }
                if !report.notified.is_empty() || !report.summarised.is_empty() {
                    tracing::info!(
                        due = report.notified.len(),
                        missed = report.summarised.len(),
                        "notifier: reminders notified"
                    );
                }
                report.next_tick
            }
            Err(err) => {
                tracing::warn!(error = %err, "notifier: cannot read reminders");
                now + schedule::TICK
            }
        };
        // Sleep in short steps on the wall clock: a suspended computer or a
        // changed clock shows up at the next step.
        loop {
            let now = clock.now();
            if now >= next {
                break;
            }
            let left = (next - now).to_std().unwrap_or_default().min(POLL);
            tokio::time::sleep(left).await;
            if let Some(w) = watcher.as_mut() {
                if w.changed().await.unwrap_or(false) {
                    break;
                }
            }
        }
    }
}

/// Carry out the user's notification actions until the sink is gone:
/// Done and Snooze through hub-core, Open through `open` (the app emits
/// [`OPEN_EVENT`] and shows its window).
pub async fn handle_actions<C: Clock>(
    store: Store,
    clock: C,
    mut actions: mpsc::UnboundedReceiver<Action>,
    open: impl Fn(Option<Target>) + Send + 'static,
) {
    while let Some(action) = actions.recv().await {
        let now = clock.now();
        let result = match action {
            Action::Done(id) => reminders::done(&store, id, now).await.map(drop),
            Action::Snooze(id) => reminders::snooze(&store, id, now + DEFAULT_SNOOZE, now)
                .await
                .map(drop),
            Action::Open(target) => {
                open(Some(target));
                Ok(())
            }
            Action::OpenDue => {
                open(None);
                Ok(())
            }
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "notifier: a notification action failed");
        }
    }
}

/// Start the notifier for the app: once the store is open, the loop and the
/// action handler run for the life of the app.
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let store = loop {
            match app.state::<AppState>().store().await {
                Ok(store) => break store.clone(),
                // The UI shows the open error; try again as it may.
                Err(_) => tokio::time::sleep(StdDuration::from_secs(5)).await,
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let opener = app.clone();
        tauri::async_runtime::spawn(handle_actions(
            store.clone(),
            SystemClock,
            rx,
            move |target| {
                crate::tray::show_main_window(&opener);
                if let Err(err) = opener.emit(OPEN_EVENT, target) {
                    tracing::warn!(error = %err, "cannot emit {OPEN_EVENT}");
                }
            },
        ));
        run(store, SystemClock, DesktopSink::new(tx)).await;
    });
}
