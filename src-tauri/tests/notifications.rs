//! Reminder notifications for real (issue 4, acceptance 2): a private D-Bus
//! session bus, a real notification daemon from Debian (dunst, on a headless
//! Xvfb display), and `dbus-monitor` watching the
//! `org.freedesktop.Notifications.Notify` calls the app's notifier makes
//! through notify-rust.
//!
//! - a reminder due in 5 s raises its notification within 60 s of its time;
//! - one that fell due while the app was closed is summarised once at start,
//!   and not again after a restart;
//! - Done and Snooze pressed on a notification (the daemon's `ActionInvoked`
//!   signal) complete or snooze the reminder, a click on the summary asks the
//!   UI to open;
//! - a second device of the same user that has received the reminders and
//!   the notification records (copied through the sync write path,
//!   `apply_remote`, as a pull applies them; no server) does not notify them
//!   again, while a device that has the reminders but not the records does.
//!
//! Needs Xvfb, dbus-daemon, dbus-monitor, dbus-send and dunst: `make test`
//! installs them (scripts/setup.sh test).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use customer_hub_lib::notifier::{self, Action, DesktopSink, SystemClock};
use hub_core::reminders::schedule::Target;
use hub_core::reminders::{self, ReminderInput, ReminderStatus};
use hub_core::Store;
use tokio::sync::mpsc;

const NOTIFICATIONS: &str = "org.freedesktop.Notifications";

/// A process killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One message dbus-monitor printed: its header line and body lines.
#[derive(Debug, Clone)]
struct Message {
    seen: SystemTime,
    header: String,
    body: Vec<String>,
}

impl Message {
    fn field(&self, name: &str) -> Option<&str> {
        self.header
            .split([' ', ';'])
            .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
    }

    fn is_notify(&self) -> bool {
        self.header.starts_with("method call") && self.header.contains("member=Notify")
    }

    /// Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, timeout)
    fn summary(&self) -> Option<String> {
        let line = self.body.get(3)?.trim();
        Some(
            line.strip_prefix("string \"")?
                .strip_suffix('"')?
                .to_owned(),
        )
    }
}

struct Desktop {
    address: String,
    messages: Arc<Mutex<Vec<Message>>>,
    _procs: Vec<Proc>,
    _dir: tempfile::TempDir,
}

fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run scripts/setup.sh test (Debian: apt-get install xvfb dbus dunst)"
    );
}

/// Start `cmd` and read the first line it prints on stdout.
fn spawn_reading_first_line(cmd: &mut Command) -> (Proc, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.trim().is_empty(), "{cmd:?} printed nothing");
    (Proc(child), line.trim().to_owned())
}

impl Desktop {
    fn start() -> Desktop {
        for tool in ["Xvfb", "dbus-daemon", "dbus-monitor", "dbus-send", "dunst"] {
            require(tool);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut procs = Vec::new();
        // A headless X display for the daemon (-displayfd 1: its number on stdout).
        let (xvfb, display) = spawn_reading_first_line(Command::new("Xvfb").args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "800x600x24",
            "-nolisten",
            "tcp",
        ]));
        procs.push(xvfb);
        // A private session bus.
        let (bus, address) = spawn_reading_first_line(Command::new("dbus-daemon").args([
            "--session",
            "--nofork",
            "--nopidfile",
            "--print-address=1",
        ]));
        procs.push(bus);
        // The notification daemon, with its default settings.
        let config = dir.path().join("dunstrc");
        std::fs::write(&config, "[global]\n    timeout = 60\n").unwrap();
        let daemon = Command::new("dunst")
            .arg("-config")
            .arg(&config)
            .env("DISPLAY", format!(":{display}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start dunst");
        procs.push(Proc(daemon));
        wait_for(
            Duration::from_secs(15),
            "dunst to own org.freedesktop.Notifications",
            || {
                let out = Command::new("dbus-send")
                    .args([
                        &format!("--bus={address}"),
                        "--print-reply",
                        "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner",
                        &format!("string:{NOTIFICATIONS}"),
                    ])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).contains("boolean true")
            },
        );
        // Watch every Notify call and the daemon's answers (the ids).
        let mut monitor = Command::new("dbus-monitor")
            .args([
                "--address",
                &address,
                &format!("type='method_call',interface='{NOTIFICATIONS}',member='Notify'"),
                &format!("type='method_return',sender='{NOTIFICATIONS}'"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start dbus-monitor");
        let messages: Arc<Mutex<Vec<Message>>> = Arc::default();
        let stdout = monitor.stdout.take().unwrap();
        let sink = messages.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut all = sink.lock().unwrap();
                if line.starts_with(' ') || line.starts_with('\t') {
                    if let Some(last) = all.last_mut() {
                        last.body.push(line);
                    }
                } else if !line.trim().is_empty() {
                    all.push(Message {
                        seen: SystemTime::now(),
                        header: line,
                        body: Vec::new(),
                    });
                }
            }
        });
        procs.push(Proc(monitor));
        // dbus-monitor reports its own NameLost once it is monitoring.
        wait_for(Duration::from_secs(10), "dbus-monitor to start", || {
            messages
                .lock()
                .unwrap()
                .iter()
                .any(|m| m.header.contains("member=NameLost"))
        });
        Desktop {
            address,
            messages,
            _procs: procs,
            _dir: dir,
        }
    }

    fn notifications(&self) -> Vec<Message> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.is_notify())
            .cloned()
            .collect()
    }

    fn summaries(&self) -> Vec<String> {
        self.notifications()
            .iter()
            .filter_map(Message::summary)
            .collect()
    }

    /// Wait for the Notify call with this summary; returns it with the id
    /// the daemon gave it.
    fn wait_notified(&self, summary: &str, within: Duration) -> (Message, u32) {
        let mut found = None;
        wait_for(within, &format!("a notification {summary:?}"), || {
            let all = self.messages.lock().unwrap();
            let Some(call) = all
                .iter()
                .find(|m| m.is_notify() && m.summary().as_deref() == Some(summary))
            else {
                return false;
            };
            let serial = call.field("serial").unwrap_or("?").to_owned();
            let id = all
                .iter()
                .find(|m| {
                    m.header.starts_with("method return")
                        && m.field("reply_serial") == Some(serial.as_str())
                })
                .and_then(|r| r.body.first())
                .and_then(|l| l.trim().strip_prefix("uint32 ")?.parse::<u32>().ok());
            match id {
                Some(id) => {
                    found = Some((call.clone(), id));
                    true
                }
                None => false,
            }
        });
        found.unwrap()
    }

    /// What the daemon sends when the user presses an action button.
    fn invoke_action(&self, id: u32, action: &str) {
        let status = Command::new("dbus-send")
            .args([
                &format!("--bus={}", self.address),
                "--type=signal",
                "/org/freedesktop/Notifications",
                &format!("{NOTIFICATIONS}.ActionInvoked"),
                &format!("uint32:{id}"),
                &format!("string:{action}"),
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn wait_for(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn add(store: &Store, title: &str, due: DateTime<Utc>) -> uuid::Uuid {
    let input = ReminderInput {
        title: title.into(),
        due: due.to_rfc3339(),
        tz: Some("Europe/Berlin".into()),
        ..Default::default()
    };
    reminders::add(store, &input, Utc::now()).await.unwrap().id
}

/// The app's notifier on `store`: the loop and the action handler.
struct App {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    opened: Arc<Mutex<Vec<Option<Target>>>>,
}

impl App {
    fn start(store: &Store) -> App {
        let (tx, rx) = mpsc::unbounded_channel::<Action>();
        let opened: Arc<Mutex<Vec<Option<Target>>>> = Arc::default();
        let record = opened.clone();
        let tasks = vec![
            tokio::spawn(notifier::handle_actions(
                store.clone(),
                SystemClock,
                rx,
                move |target| record.lock().unwrap().push(target),
            )),
            tokio::spawn(notifier::run(
                store.clone(),
                SystemClock,
                DesktopSink::new(tx),
            )),
        ];
        App { tasks, opened }
    }

    fn quit(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Apply `from`'s outbox to `to` through the write path's remote side, as a
/// sync pull does; `only` keeps the changes of these entities.
async fn copy_changes(from: &Store, to: &Store, only: &[&str]) {
    let changes = hub_core::changes::outbox(from, 100_000).await.unwrap();
    let mut tx = to.write().await.unwrap();
    for c in changes.iter().filter(|c| only.contains(&c.entity.as_str())) {
        tx.apply_remote(c).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn wait_async(within: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn reminders_raise_real_desktop_notifications_once_per_user() {
    let desktop = Desktop::start();
    // notify-rust connects to the session bus named here: the private one.
    // Set before any thread of this test process talks D-Bus.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &desktop.address);
    // Waits below block a worker; the notifier has others.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(&desktop));
}

async fn scenario(desktop: &Desktop) {
    let dir = tempfile::tempdir().unwrap();
    let laptop = Store::open(&dir.path().join("laptop.db")).await.unwrap();

    // While the app was closed, one reminder fell due.
    let missed = add(
        &laptop,
        "Missed while closed",
        Utc::now() - chrono::Duration::minutes(10),
    )
    .await;
    let started = SystemTime::now();
    let due_at = Utc::now() + chrono::Duration::seconds(5);
    let call = add(&laptop, "Call Ada back", due_at).await;
    let quote = add(&laptop, "Send the quote", due_at).await;

    let app = App::start(&laptop);
    // At start: one summary of what was missed, straight away.
    let (summary, summary_id) =
        desktop.wait_notified("1 missed follow-up", Duration::from_secs(10));
    assert!(summary.seen.duration_since(started).unwrap() < Duration::from_secs(5));
    assert_eq!(summary.body[4].trim(), "string \"Missed while closed\"");
    assert!(
        !desktop.summaries().iter().any(|s| s == "Call Ada back"),
        "notified before its time"
    );

    // The reminder due in 5 s: a real notification within 60 s of its time.
    let (note, note_id) = desktop.wait_notified("Call Ada back", Duration::from_secs(65));
    let seen: DateTime<Utc> = note.seen.into();
    assert!(
        seen >= due_at,
        "notified at {seen}, before its time {due_at}"
    );
    assert!(
        seen - due_at < chrono::Duration::seconds(60),
        "notified at {seen}, more than 60 s after {due_at}"
    );
    // With its Done and Snooze buttons.
    let body = note.body.join("\n");
    for action in ["\"done\"", "\"Done\"", "\"snooze\"", "\"default\""] {
        assert!(body.contains(action), "actions lack {action}: {body}");
    }
    let (_, quote_id) = desktop.wait_notified("Send the quote", Duration::from_secs(10));

    // Done pressed on the notification completes the reminder.
    desktop.invoke_action(note_id, "done");
    wait_async(
        Duration::from_secs(10),
        "Done to complete the reminder",
        async || reminders::get(&laptop, call).await.unwrap().status == ReminderStatus::Done,
    )
    .await;
    // A click on the summary asks the UI to open the due reminders.
    desktop.invoke_action(summary_id, "default");
    wait_async(
        Duration::from_secs(10),
        "the click to reach the app",
        async || app.opened.lock().unwrap().as_slice() == [None],
    )
    .await;
    // Snooze pressed on another: it rings again in 15 minutes.
    desktop.invoke_action(quote_id, "snooze");
    wait_async(
        Duration::from_secs(10),
        "Snooze to snooze the reminder",
        async || {
            reminders::get(&laptop, quote)
                .await
                .unwrap()
                .snoozed_until
                .is_some()
        },
    )
    .await;
    let snoozed = reminders::get(&laptop, quote).await.unwrap();
    assert_eq!(snoozed.status, ReminderStatus::Open);
    let in_15 = (snoozed.next_at - Utc::now() - reminders::DEFAULT_SNOOZE).num_seconds();
    assert!(in_15.abs() < 30, "snoozed until {}", snoozed.next_at);
    assert_eq!(
        reminders::get(&laptop, missed).await.unwrap().status,
        ReminderStatus::Open
    );

    // Restart the app: nothing is notified again.
    app.quit();
    let before = desktop.notifications().len();
    assert_eq!(before, 3, "{:?}", desktop.summaries());
    let app = App::start(&laptop);
    tokio::time::sleep(Duration::from_secs(4)).await;
    app.quit();
    assert_eq!(
        desktop.notifications().len(),
        before,
        "{:?}",
        desktop.summaries()
    );

    // The user's second device, synced: the reminders and the notification
    // records. It notifies its own new reminder, and none of the others.
    let desk = Store::open(&dir.path().join("desk.db")).await.unwrap();
    copy_changes(&laptop, &desk, &["reminder", "reminder_notification"]).await;
    add(
        &desk,
        "Only on the desk",
        Utc::now() + chrono::Duration::seconds(2),
    )
    .await;
    let app = App::start(&desk);
    desktop.wait_notified("Only on the desk", Duration::from_secs(65));
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.quit();
    assert_eq!(
        desktop.summaries()[before..],
        ["Only on the desk".to_owned()],
        "the second device notified again"
    );

    // Control: a device with the reminders but not the records would have
    // notified them (so it is the synced record that stops the desk).
    let other = Store::open(&dir.path().join("other.db")).await.unwrap();
    copy_changes(&laptop, &other, &["reminder"]).await;
    let seen = desktop.notifications().len();
    let app = App::start(&other);
    wait_for(
        Duration::from_secs(10),
        "the control device to notify",
        || {
            // The snoozed quote is not due there either.
            desktop.summaries()[seen..] == ["1 missed follow-up"]
        },
    );
    app.quit();
}
