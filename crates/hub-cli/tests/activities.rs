//! `hub log`, `hub ticket`, `hub timeline` and `hub stay-in-touch` as a user
//! runs them: the real binary on a real database file.

mod common;

use common::Hub;
use serde_json::Value;

/// Runs remove `HUB_DEFAULT_REGION`; `fails` wants exit status 1.
fn new_hub() -> Hub {
    Hub::new()
        .env_remove("HUB_DEFAULT_REGION")
        .fails_with_code(1)
}

impl Hub {
    fn contact(&self, name: &str, company: Option<&str>) -> String {
        let mut args = vec!["contact", "add", "--name", name];
        if let Some(c) = company {
            args.extend(["--company", c]);
        }
        self.ok(&args).trim().to_owned()
    }

    fn timeline(&self, id: &str, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["timeline", "contact", id, "--json", "--all"];
        args.extend(extra);
        self.json(&args)["entries"].as_array().unwrap().clone()
    }
}

#[test]
fn log_every_kind_and_read_the_timeline() {
    let hub = new_hub();
    let ada = hub.contact("Ada Lovelace", Some("Engines Ltd"));

    let call = hub.json(&[
        "log",
        "call",
        "--contact",
        &ada,
        "--direction",
        "in",
        "--duration",
        "5m30s",
        "--outcome",
        "left-voicemail",
        "--body",
        "Call back Tuesday",
        "--at",
        "2026-11-02T10:00:00+01:00",
        "--json",
    ]);
    assert_eq!(call["kind"], "call");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["duration_s"], 330);
    assert_eq!(call["outcome"], "left_voicemail");
    assert_eq!(call["occurred_at"], "2026-11-02T09:00:00Z");
    assert_eq!(call["contact"]["name"], "Ada Lovelace");
    assert_eq!(call["company"]["name"], "Engines Ltd");

    // Without --json: the id alone, for scripts.
    let email = hub.ok(&[
        "log",
        "email",
        "--contact",
        &ada,
        "--subject",
        "Quote",
        "--body",
        "Attached.",
        "--at",
        "2026-11-03T10:00:00Z",
    ]);
    let email = email.trim();
    assert_eq!(email.len(), 36);
    hub.ok(&[
        "log",
        "meeting",
        "--contact",
        &ada,
        "--subject",
        "Demo",
        "--at",
        "2026-11-04T15:00:00Z",
        "--duration",
        "1h",
        "--location",
        "Their office",
    ]);
    hub.ok(&[
        "log",
        "note",
        "--contact",
        &ada,
        "--body",
        "Prefers mornings",
        "--at",
        "2026-11-05T08:00:00Z",
    ]);

    let entries = hub.timeline(&ada, &[]);
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["note", "meeting", "email", "call"]);
    assert_eq!(entries[1]["detail"]["type"], "activity");
    assert_eq!(entries[1]["detail"]["activity"]["location"], "Their office");

    // Filters, comma-separated or repeated; paging by cursor.
    let some = hub.timeline(&ada, &["--kind", "call,email"]);
    assert_eq!(some.len(), 2);
    let first = hub.json(&["timeline", "contact", &ada, "--limit", "3", "--json"]);
    assert_eq!(first["entries"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = hub.json(&[
        "timeline", "contact", &ada, "--limit", "3", "--cursor", cursor, "--json",
    ]);
    assert_eq!(rest["entries"][0]["kind"], "call");
    assert!(rest["next_cursor"].is_null());

    // The company's timeline has them (the contact's company was linked),
    // found by name too.
    let company = hub.json(&["timeline", "company", "Engines Ltd", "--json"]);
    assert_eq!(company["entries"].as_array().unwrap().len(), 4);

    // Human output: one line per entry, newest first.
    let text = hub.ok(&["timeline", "contact", &ada]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("WHEN (UTC)"), "{text}");
    assert!(
        lines[1].contains("note") && lines[1].contains("Prefers mornings"),
        "{text}"
    );
    assert!(
        lines[4].contains("Inbound call · left voicemail · 5m 30s — Call back Tuesday"),
        "{text}"
    );

    // Edit and delete.
    let edited = hub.json(&["log", "edit", email, "--subject", "Quote v2", "--json"]);
    assert_eq!(edited["subject"], "Quote v2");
    assert_eq!(edited["body"], "Attached.");
    let shown = hub.json(&["log", "show", email, "--json"]);
    assert_eq!(shown, edited);
    hub.ok(&["log", "delete", email]);
    assert_eq!(hub.timeline(&ada, &[]).len(), 3);
    hub.fails(&["log", "show", email], "no activity with id");
}

#[test]
fn bad_log_input_is_refused_and_nothing_is_written() {
    let hub = new_hub();
    let ada = hub.contact("Ada", None);
    let unknown = "0193a0c4-0000-7000-8000-000000000000";
    hub.fails(
        &["log", "note", "--body", "x"],
        "contact_id: Log it on a contact, a company or a deal",
    );
    hub.fails(
        &["log", "note", "--contact", &ada],
        "body: A note needs some text",
    );
    hub.fails(
        &["log", "meeting", "--contact", &ada],
        "subject: A meeting needs a subject",
    );
    hub.fails(
        &["log", "call", "--contact", &ada, "--direction", "sideways"],
        "\"sideways\" is not a direction (inbound, outbound)",
    );
    hub.fails(
        &["log", "call", "--contact", &ada, "--duration", "ages"],
        "is not a duration",
    );
    hub.fails(
        &["log", "call", "--contact", &ada, "--duration", "30h"],
        "at most 24 hours",
    );
    hub.fails(
        &["log", "call", "--contact", &ada, "--outcome", "great"],
        "is not a call outcome",
    );
    hub.fails(
        &["log", "call", "--contact", &ada, "--at", "yesterday"],
        "not an RFC 3339 time",
    );
    hub.fails(&["log", "call", "--contact", unknown], "no contact with id");
    hub.fails(
        &["log", "call", "--contact", &ada, "--deal", unknown],
        "deal_id: no deal with id",
    );
    hub.fails(
        &["log", "call", "--contact", &ada, "--company", "Nobody Inc"],
        "no company named \"Nobody Inc\"",
    );
    // A malformed command line is clap's exit 2.
    let out = hub.run(&["log", "call", "--contact", "not-a-uuid"]);
    assert_eq!(out.status.code(), Some(2));

    // Nothing was written: the timeline is empty.
    assert!(hub.timeline(&ada, &[]).is_empty());
    hub.fails(&["timeline", "contact", unknown], "no contact with id");
    hub.fails(
        &["timeline", "contact", &ada, "--kind", "fax"],
        "is not a timeline kind",
    );
    hub.fails(
        &["timeline", "contact", &ada, "--cursor", "garbage"],
        "cursor",
    );
    hub.fails(&["timeline", "contact", &ada, "--limit", "0"], "limit");
}

#[test]
fn tickets_add_list_show_update_comment() {
    let hub = new_hub();
    let ada = hub.contact("Ada", Some("Engines Ltd"));
    let t = hub.json(&[
        "ticket",
        "add",
        "--subject",
        "Printer on fire",
        "--description",
        "Tray 2",
        "--priority",
        "urgent",
        "--contact",
        &ada,
        "--assignee",
        "me",
        "--due",
        "2020-01-01T09:00:00Z",
        "--json",
    ]);
    let id = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["status"], "open");
    assert_eq!(t["assignee"], "me");
    assert_eq!(t["company"]["name"], "Engines Ltd");
    assert_eq!(t["overdue"], true);
    let other = hub.ok(&[
        "ticket",
        "add",
        "--subject",
        "Invoice copy",
        "--priority",
        "low",
    ]);
    let other = other.trim();

    let list = hub.json(&["ticket", "list", "--json"]);
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["id"], id.as_str()); // urgent first
    assert_eq!(
        hub.json(&["ticket", "list", "--overdue", "--json"])["total"],
        1
    );
    assert_eq!(
        hub.json(&["ticket", "list", "--assignee", "me", "--json"])["total"],
        1
    );
    assert_eq!(
        hub.json(&["ticket", "list", "--unassigned", "--json"])["items"][0]["id"],
        other
    );
    assert_eq!(
        hub.json(&["ticket", "list", "--priority", "low", "--json"])["total"],
        1
    );
    assert_eq!(
        hub.json(&["ticket", "list", "--contact", &ada, "--json"])["total"],
        1
    );
    assert_eq!(
        hub.json(&["ticket", "list", "--company", "Engines Ltd", "--json"])["total"],
        1
    );

    let c = hub.json(&[
        "ticket",
        "comment",
        &id,
        "--body",
        "Technician sent",
        "--json",
    ]);
    assert_eq!(c["author"], "me");
    let resolved = hub.json(&["ticket", "update", &id, "--status", "resolved", "--json"]);
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["closed_at"].is_string());
    assert_eq!(resolved["overdue"], false);
    // Resolved tickets leave the default list and show with --all / --status.
    assert_eq!(hub.json(&["ticket", "list", "--json"])["total"], 1);
    assert_eq!(hub.json(&["ticket", "list", "--all", "--json"])["total"], 2);
    assert_eq!(
        hub.json(&["ticket", "list", "--status", "resolved", "--json"])["total"],
        1
    );

    let shown = hub.json(&["ticket", "show", &id, "--json"]);
    assert_eq!(shown["ticket"]["comment_count"], 1);
    assert_eq!(shown["comments"][0]["body"], "Technician sent");
    let text = hub.ok(&["ticket", "show", &id]);
    assert!(
        text.contains("Printer on fire") && text.contains("Technician sent"),
        "{text}"
    );

    // Clearing with an empty value; reopening clears closed_at.
    let reopened = hub.json(&[
        "ticket",
        "update",
        &id,
        "--status",
        "open",
        "--assignee",
        "",
        "--due",
        "",
        "--json",
    ]);
    assert!(reopened["closed_at"].is_null());
    assert!(reopened["assignee"].is_null());
    assert!(reopened["due_at"].is_null());

    // On Ada's timeline: opened, comment, closed (as resolved).
    let kinds: Vec<String> = hub
        .timeline(&ada, &["--kind", "ticket"])
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}"); // reopened: no closed entry
    assert!(
        kinds.contains(&"ticket_opened".to_owned()) && kinds.contains(&"ticket_comment".to_owned())
    );

    // Given to another contact: the company follows.
    let grace = hub.contact("Grace", Some("Navy"));
    let moved = hub.json(&["ticket", "update", &id, "--contact", &grace, "--json"]);
    assert_eq!(moved["company"]["name"], "Navy");

    // Bad input.
    hub.fails(
        &["ticket", "add", "--subject", " "],
        "subject: A ticket needs a subject",
    );
    hub.fails(
        &["ticket", "add", "--subject", "x", "--priority", "critical"],
        "\"critical\" is not a priority (low, normal, high, urgent)",
    );
    hub.fails(
        &["ticket", "update", &id, "--status", "done"],
        "is not a ticket status",
    );
    hub.fails(
        &["ticket", "comment", &id, "--body", "  "],
        "body: A comment needs some text",
    );
    hub.fails(
        &["ticket", "add", "--subject", "x", "--due", "soon"],
        "not an RFC 3339 time",
    );
    assert_eq!(hub.json(&["ticket", "list", "--all", "--json"])["total"], 2);

    hub.ok(&["ticket", "delete", other]);
    hub.fails(&["ticket", "show", other], "no ticket with id");
}

#[test]
fn stay_in_touch_moves_when_a_call_is_logged() {
    let hub = new_hub();
    let ada = hub.contact("Ada", None);
    let off = hub.json(&["stay-in-touch", "show", &ada, "--json"]);
    assert!(off["every_days"].is_null());
    let on = hub.json(&["stay-in-touch", "set", &ada, "--every", "14", "--json"]);
    assert_eq!(on["every_days"], 14);
    let first_due = on["next_due"].as_str().unwrap().to_owned();

    // Not due now; due in 15 days.
    let now_due = hub.json(&["stay-in-touch", "due", "--json"]);
    assert_eq!(now_due.as_array().unwrap().len(), 0);
    let later = (chrono::Utc::now() + chrono::Duration::days(15)).to_rfc3339();
    let due = hub.json(&["stay-in-touch", "due", "--at", &later, "--json"]);
    assert_eq!(due[0]["display_name"], "Ada");

    // A call logged now moves the next follow-up to 14 days after it.
    let call = hub.json(&["log", "call", "--contact", &ada, "--json"]);
    let after = hub.json(&["stay-in-touch", "show", &ada, "--json"]);
    assert_eq!(after["last_interaction"], call["occurred_at"]);
    assert_ne!(after["next_due"].as_str().unwrap(), first_due);
    let call_at: chrono::DateTime<chrono::Utc> =
        call["occurred_at"].as_str().unwrap().parse().unwrap();
    let next: chrono::DateTime<chrono::Utc> = after["next_due"].as_str().unwrap().parse().unwrap();
    assert_eq!(next - call_at, chrono::Duration::days(14));
    let text = hub.ok(&["stay-in-touch", "show", &ada]);
    assert!(
        text.starts_with("Every 14 days; last interaction"),
        "{text}"
    );

    hub.fails(
        &["stay-in-touch", "set", &ada, "--every", "0"],
        "Stay in touch every 1 to 3650 days",
    );
    let out = hub.run(&["stay-in-touch", "set", &ada]);
    assert_eq!(out.status.code(), Some(2)); // --every or --off
    let cleared = hub.json(&["stay-in-touch", "set", &ada, "--off", "--json"]);
    assert!(cleared["next_due"].is_null());
    let far = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    assert_eq!(
        hub.json(&["stay-in-touch", "due", "--at", &far, "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
