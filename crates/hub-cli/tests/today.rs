//! `hub today` as a user runs it: the real binary on a real database file.

mod common;

use common::Hub;
use serde_json::Value;

/// `fails` wants exit status 1.
fn new_hub() -> Hub {
    Hub::new().fails_with_code(1)
}

fn titles(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().or(r["subject"].as_str()).unwrap())
        .collect()
}

#[test]
fn today_lists_every_section_and_follows_done() {
    let hub = new_hub();
    let ada = hub.ok(&["contact", "add", "--name", "Ada Lovelace"]);
    let ada = ada.trim();
    let overdue = hub.json(&[
        "reminder",
        "add",
        "--title",
        "Call Ada back",
        "--due",
        "2026-11-29T08:00:00Z",
        "--tz",
        "Europe/Berlin",
        "--contact",
        ada,
        "--json",
    ]);
    hub.ok(&[
        "reminder",
        "add",
        "--title",
        "Send the quote",
        "--due",
        "2026-11-29T16:00:00Z",
        "--tz",
        "Europe/Berlin",
    ]);
    hub.ok(&[
        "reminder",
        "add",
        "--title",
        "Next week",
        "--due",
        "2026-12-06T16:00:00Z",
    ]);
    hub.ok(&[
        "deal",
        "add",
        "--title",
        "Website",
        "--amount",
        "1200",
        "--currency",
        "EUR",
    ]);
    hub.ok(&[
        "ticket",
        "add",
        "--subject",
        "Printer on fire",
        "--assignee",
        "me",
    ]);
    hub.ok(&[
        "ticket",
        "add",
        "--subject",
        "Someone else's",
        "--assignee",
        "bo",
    ]);

    let at = ["--at", "2026-11-29T12:00:00Z", "--tz", "Europe/Berlin"];
    let mut args = vec!["today", "--json"];
    args.extend(at);
    let day = hub.json(&args);
    assert_eq!(day["user"], "me");
    assert_eq!(day["tz"], "Europe/Berlin");
    assert_eq!(day["overdue_count"], 1);
    assert_eq!(titles(&day["overdue"]), ["Call Ada back"]);
    assert_eq!(titles(&day["due_today"]), ["Send the quote"]);
    assert_eq!(day["stale_deal_count"], 1);
    assert_eq!(day["stale_deals"][0]["no_next_activity"], true);
    assert_eq!(titles(&day["tickets"]), ["Printer on fire"]);

    let mut args = vec!["today"];
    args.extend(at);
    let text = hub.ok(&args);
    assert!(text.contains("Overdue (1)"), "{text}");
    assert!(text.contains("Call Ada back · Ada Lovelace"), "{text}");
    assert!(text.contains("Due today (1)"), "{text}");
    assert!(text.contains("Website (Lead)"), "{text}");
    assert!(text.contains("Stay in touch (0)"), "{text}");

    let id = overdue["id"].as_str().unwrap();
    hub.ok(&["reminder", "done", id]);
    let mut args = vec!["today", "--json"];
    args.extend(at);
    let day = hub.json(&args);
    assert_eq!(day["overdue_count"], 0);
    assert_eq!(day["due_today_count"], 1);
}

#[test]
fn bad_input_is_refused() {
    let hub = new_hub();
    hub.fails(&["today", "--tz", "Mars/Olympus"], "tz");
    hub.fails(&["today", "--limit", "0"], "limit");
    hub.fails(&["today", "--at", "soon"], "at");
}
