//! `hub reminder ...` as a user runs it: the real binary on a real database file.

mod common;

use common::Hub;
use serde_json::Value;

/// Runs read local times in Europe/Berlin.
fn new_hub() -> Hub {
    Hub::new()
        // Local times without an offset are read in this zone.
        .env("TZ", "Europe/Berlin")
}

impl Hub {
    fn all(&self) -> Vec<Value> {
        self.json(&["reminder", "list", "--all", "--json"])
            .as_array()
            .unwrap()
            .clone()
    }
}

#[test]
fn add_list_done_snooze_reopen_delete() {
    let hub = new_hub();
    let contact = hub
        .ok(&["contact", "add", "--name", "Ada Lovelace"])
        .trim()
        .to_owned();
    let id = hub
        .ok(&[
            "reminder",
            "add",
            "--title",
            "Call Ada about the renewal",
            "--due",
            "2030-03-28T09:00:00+01:00",
            "--tz",
            "Europe/Berlin",
            "--contact",
            &contact,
        ])
        .trim()
        .to_owned();
    let later = hub.json(&[
        "reminder",
        "add",
        "--title",
        "Send the quote",
        "--due",
        "2030-04-02T15:00:00Z",
        "--tz",
        "America/New_York",
        "--json",
    ]);
    assert_eq!(later["due_local"], "2030-04-02 11:00 EDT");
    assert_eq!(later["assignee"], "me");

    let list = hub.json(&["reminder", "list", "--json"]);
    let titles: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Call Ada about the renewal", "Send the quote"]);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["due_at"], "2030-03-28T08:00:00Z");
    assert_eq!(list[0]["due_local"], "2030-03-28 09:00 CET");
    assert_eq!(list[0]["contact_name"], "Ada Lovelace");
    assert_eq!(list[0]["status"], "open");

    let before = hub.json(&[
        "reminder",
        "list",
        "--due-before",
        "2030-04-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(before.as_array().unwrap().len(), 1);
    let of_ada = hub.json(&["reminder", "list", "--contact", &contact, "--json"]);
    assert_eq!(of_ada.as_array().unwrap().len(), 1);

    let human = hub.ok(&["reminder", "list"]);
    assert!(human.contains("2030-03-28 09:00 CET"), "{human}");
    assert!(human.contains("contact: Ada Lovelace"), "{human}");
    assert!(human.contains("2 reminders"), "{human}");

    // Snooze until a given time, then done, reopen.
    let snoozed = hub.json(&[
        "reminder",
        "snooze",
        &id,
        "--until",
        "2030-04-03T10:00:00Z",
        "--json",
    ]);
    assert_eq!(snoozed["snoozed_until"], "2030-04-03T10:00:00Z");
    assert_eq!(snoozed["next_at"], "2030-04-03T10:00:00Z");
    let titles: Vec<String> = hub
        .json(&["reminder", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["Send the quote", "Call Ada about the renewal"]);

    assert!(hub.ok(&["reminder", "done", &id]).starts_with("Done: "));
    assert_eq!(
        hub.json(&["reminder", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let done = hub.json(&["reminder", "list", "--done", "--json"]);
    assert_eq!(done[0]["id"], id.as_str());
    assert_eq!(done[0]["status"], "done");
    hub.fails(&["reminder", "snooze", &id], "reopen it before snoozing");
    let reopened = hub.json(&["reminder", "reopen", &id, "--json"]);
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["done_at"], Value::Null);

    // Snooze with a duration.
    let snoozed = hub.json(&["reminder", "snooze", &id, "--for", "2h", "--json"]);
    let until =
        chrono::DateTime::parse_from_rfc3339(snoozed["snoozed_until"].as_str().unwrap()).unwrap();
    let in_two_hours = chrono::Utc::now() + chrono::Duration::hours(2);
    assert!((until.to_utc() - in_two_hours).num_seconds().abs() < 60);

    let shown = hub.ok(&["reminder", "show", &id]);
    assert!(shown.contains("Call Ada about the renewal"), "{shown}");
    assert!(shown.contains("snoozed until"), "{shown}");

    hub.ok(&["reminder", "delete", &id]);
    assert_eq!(hub.all().len(), 1);
    hub.fails(&["reminder", "show", &id], "no reminder with id");
}

#[test]
fn a_repeating_reminder_moves_to_its_next_occurrence_in_its_zone() {
    let hub = new_hub();
    // Monthly on the 31st at 09:00 Berlin time; February is clamped.
    let r = hub.json(&[
        "reminder",
        "add",
        "--title",
        "Month-end invoices",
        "--due",
        "2031-01-31T09:00",
        "--tz",
        "Europe/Berlin",
        "--repeat",
        "monthly",
        "--json",
    ]);
    assert_eq!(r["rrule"], "FREQ=MONTHLY");
    assert_eq!(r["repeat"], "every month");
    let id = r["id"].as_str().unwrap();
    let next = hub.json(&["reminder", "done", id, "--json"]);
    assert_eq!(next["status"], "open");
    assert_eq!(next["due_local"], "2031-02-28 09:00 CET");
    let next = hub.json(&["reminder", "done", id, "--json"]);
    assert_eq!(next["due_local"], "2031-03-31 09:00 CEST");
    assert_eq!(next["due_at"], "2031-03-31T07:00:00Z");

    let weekly = hub.json(&[
        "reminder",
        "add",
        "--title",
        "Pipeline review",
        "--due",
        "2031-03-03T08:30",
        "--tz",
        "America/New_York",
        "--repeat",
        "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=3",
        "--json",
    ]);
    let id = weekly["id"].as_str().unwrap();
    assert_eq!(
        hub.json(&["reminder", "done", id, "--json"])["due_local"],
        "2031-03-06 08:30 EST"
    );
    assert_eq!(
        hub.json(&["reminder", "done", id, "--json"])["due_local"],
        "2031-03-10 08:30 EDT"
    );
    assert_eq!(
        hub.json(&["reminder", "done", id, "--json"])["status"],
        "done"
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let hub = new_hub();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "reminder",
            "add",
            "--title",
            "Call",
            "--due",
            "2030-01-01T09:00:00Z",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, says: &str| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        hub.fails(&refs, says);
    };
    run(
        add(&["--tz", "Mars/Olympus"]),
        "\"Mars/Olympus\" is not a known IANA time zone",
    );
    run(
        add(&["--repeat", "FREQ=DAILY;UNTIL=20301231;COUNT=5"]),
        "UNTIL and COUNT cannot both be given",
    );
    run(
        add(&["--repeat", "FREQ=HOURLY"]),
        "FREQ=HOURLY is not supported",
    );
    run(
        add(&["--repeat", "FREQ=DAILY;UNTIL=20291231"]),
        "UNTIL is before the first occurrence",
    );
    run(
        add(&["--contact", "0192f0c1-0000-7000-8000-000000000000"]),
        "no contact with id",
    );
    hub.fails(
        &["reminder", "add", "--title", "Call", "--due", "tomorrow"],
        "\"tomorrow\" is not a time",
    );
    hub.fails(
        &[
            "reminder",
            "add",
            "--title",
            " ",
            "--due",
            "2030-01-01T09:00:00Z",
        ],
        "A reminder needs a title",
    );
    assert!(hub.all().is_empty());

    let id = hub.ok(&add(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    let id = id.trim();
    hub.fails(
        &["reminder", "snooze", id, "--until", "2000-01-01T00:00:00Z"],
        "snooze until a later time than now",
    );
    hub.fails(
        &["reminder", "snooze", id, "--for", "soon"],
        "expected a number and a unit",
    );
    hub.fails(
        &["reminder", "done", "0192f0c1-0000-7000-8000-000000000000"],
        "no reminder with id",
    );
    let only = hub.all();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["snoozed_until"], Value::Null);
}

/// Two devices of one user through a real hub-server: the reminders and the
/// "notified" records sync, so the second device does not notify what the
/// first did, and concurrent offline edits of a reminder converge.
mod sync {
    use std::sync::Mutex;

    use chrono::{DateTime, Duration, Utc};
    use hub_core::reminders::schedule::{
        summary_text, Due, NotificationSink, Scheduler, SinkError,
    };

    use crate::common::{Device, Server, EMAIL};

    /// A device whose runs have `TZ=UTC`.
    fn new_device() -> Device {
        Device::new().env("TZ", "UTC")
    }

    impl Device {
        fn sync(&self) {
            self.ok(&["sync"]);
        }

        /// One notifier tick on this device's database at `now`; what it showed.
        fn tick(&self, scheduler: &mut Scheduler, now: DateTime<Utc>) -> Vec<String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let store = hub_core::Store::open(&self.db).await.unwrap();
                let sink = Recorder::default();
                scheduler.tick(&store, now, &sink).await.unwrap();
                store.close().await;
                sink.shown.into_inner().unwrap()
            })
        }
    }

    #[derive(Default)]
    struct Recorder {
        shown: Mutex<Vec<String>>,
    }

    impl NotificationSink for Recorder {
        fn due(&self, item: &Due) -> Result<(), SinkError> {
            self.shown.lock().unwrap().push(item.title.clone());
            Ok(())
        }
        fn missed(&self, items: &[Due]) -> Result<(), SinkError> {
            self.shown.lock().unwrap().push(summary_text(items).0);
            Ok(())
        }
    }

    fn time(t: DateTime<Utc>) -> String {
        t.to_rfc3339()
    }

    #[test]
    fn a_reminder_is_notified_once_per_user_across_synced_devices() {
        let server = Server::start();
        let laptop = new_device();
        let desk = new_device();
        laptop.login(&server, "laptop");
        desk.login(&server, "desk");
        let now = Utc::now();

        let missed = laptop.json(&[
            "reminder",
            "add",
            "--title",
            "Call Ada",
            "--due",
            &time(now - Duration::minutes(10)),
            "--json",
        ]);
        // Signed in: the reminder is the account's.
        assert_eq!(missed["assignee"], EMAIL);
        let later = laptop
            .ok(&[
                "reminder",
                "add",
                "--title",
                "Send the quote",
                "--due",
                &time(now + Duration::hours(1)),
            ])
            .trim()
            .to_owned();

        // The laptop's app starts: the missed one is summarised.
        let mut on_laptop = Scheduler::new();
        assert_eq!(laptop.tick(&mut on_laptop, now), ["1 missed follow-up"]);
        laptop.sync();
        desk.sync();
        assert_eq!(
            desk.json(&["reminder", "list", "--json"])
                .as_array()
                .unwrap()
                .len(),
            2
        );
        // The desk has the record: nothing to notify.
        let mut on_desk = Scheduler::new();
        assert!(desk
            .tick(&mut on_desk, now + Duration::seconds(5))
            .is_empty());

        // An hour later only the desk is running: it notifies the quote,
        // and after a sync the laptop does not.
        let hour = now + Duration::hours(1) + Duration::seconds(1);
        assert_eq!(
            desk.tick(&mut on_desk, hour - Duration::seconds(20)),
            Vec::<String>::new()
        );
        assert_eq!(desk.tick(&mut on_desk, hour), ["Send the quote"]);
        desk.sync();
        laptop.sync();
        assert!(laptop.tick(&mut Scheduler::new(), hour).is_empty());

        // Offline on both: done on the laptop, snoozed on the desk; after
        // syncing both ways both devices show the same reminder.
        laptop.ok(&["reminder", "done", &later]);
        desk.ok(&["reminder", "snooze", &later, "--for", "2h"]);
        laptop.sync();
        desk.sync();
        laptop.sync();
        let a = laptop.json(&["reminder", "show", &later, "--json"]);
        let b = desk.json(&["reminder", "show", &later, "--json"]);
        assert_eq!(a, b);
        assert_eq!(a["status"], "done");
    }
}
