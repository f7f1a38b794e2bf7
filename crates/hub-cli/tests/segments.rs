//! `hub segment`: create from a rule file, list with sizes, show, members,
//! live membership after edits and events, update, delete, bad rules.

mod common;

use std::process::Command;

use common::Hub;
use serde_json::{json, Value};

fn write(hub: &Hub, name: &str, value: &Value) -> String {
    let path = hub.db.parent().unwrap().join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn add_contact(hub: &Hub, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["contact", "add", "--name", name];
    args.extend_from_slice(extra);
    hub.ok(&args).trim().to_owned()
}

fn member_names(hub: &Hub, segment: &str) -> Vec<String> {
    hub.json(&["segment", "members", segment, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Store an event for a contact as any loader would: a row in `events`
/// (the sqlite3 shell, as the harness's change-log count uses).
fn event(hub: &Hub, contact: &str, name: &str, seconds_ago: i64) {
    let sql = format!(
        "INSERT INTO events (message_id, type, name, at_ms, received_ms, body, contact_rk)
         SELECT 'm-' || lower(hex(randomblob(8))), 'track', '{name}',
                CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - {seconds_ago} * 1000,
                0, '{{}}', rk FROM contacts WHERE id = '{contact}'"
    );
    let out = Command::new("sqlite3")
        .arg(&hub.db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn create_list_show_members_update_delete() {
    let hub = Hub::new();
    let ada = add_contact(&hub, "Ada", &["--tag", "vip"]);
    add_contact(&hub, "Bob", &[]);
    let rule = write(&hub, "vip.json", &json!({"tag": "VIP"}));
    let created = hub.json(&["segment", "create", "VIPs", "--rule-file", &rule, "--json"]);
    assert_eq!(created["name"], "VIPs");
    assert_eq!(created["size"], 1);
    assert_eq!(created["tag"], "segment: VIPs");
    assert_eq!(created["rule"], json!({"tag": "VIP"}));

    // The segment tag is a real tag on the member.
    let shown = hub.json(&["contact", "show", &ada, "--json"]);
    let tags: Vec<&str> = shown["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"segment: VIPs"), "{tags:?}");

    // Live: an edit by another command shows up at the next read.
    let bob_id = hub.json(&["contact", "list", "--json"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["display_name"] == "Bob")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hub.ok(&["tag", "add", "vip", "--contact", &bob_id]);
    assert_eq!(member_names(&hub, "vips"), vec!["Ada", "Bob"]);

    let list = hub.json(&["segment", "list", "--json"]);
    assert_eq!(list[0]["name"], "VIPs");
    assert_eq!(list[0]["size"], 2);
    let text = hub.ok(&["segment", "list"]);
    assert!(
        text.contains("VIPs") && text.contains("segment: VIPs") && text.contains('2'),
        "{text}"
    );

    let show = hub.json(&["segment", "show", "VIPs", "--json"]);
    assert_eq!(show["size"], 2);
    let kinds: Vec<&str> = show["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["entered", "entered"]);
    let text = hub.ok(&["segment", "show", "VIPs"]);
    assert!(text.contains("entered") && text.contains("Bob"), "{text}");

    hub.ok(&["tag", "remove", "vip", "--contact", &ada]);
    assert_eq!(member_names(&hub, "VIPs"), vec!["Bob"]);
    let show = hub.json(&["segment", "show", "VIPs", "--json"]);
    assert_eq!(show["history"][0]["kind"], "exited");
    assert_eq!(show["history"][0]["contact_name"], "Ada");

    // Rename: the tag follows; a new rule recomputes.
    let renamed = hub.json(&[
        "segment",
        "update",
        "VIPs",
        "--name",
        "Very important",
        "--json",
    ]);
    assert_eq!(renamed["tag"], "segment: Very important");
    let all = write(
        &hub,
        "all.json",
        &json!({"lifecycle_stage": ["lead", "customer"]}),
    );
    let updated = hub.json(&[
        "segment",
        "update",
        "Very important",
        "--rule-file",
        &all,
        "--json",
    ]);
    assert_eq!(updated["size"], 2);

    let out = hub.ok(&["segment", "delete", "very important"]);
    assert!(out.contains("came off 2 contacts"), "{out}");
    assert_eq!(hub.json(&["segment", "list", "--json"]), json!([]));
    let tags = hub.json(&["tag", "list", "--json"]);
    assert!(!tags.to_string().contains("segment: "), "{tags}");
}

#[test]
fn behaviour_rules_see_new_events_and_triggers_make_reminders() {
    let hub = Hub::new();
    let ada = add_contact(&hub, "Ada", &["--owner", "sam@example.com"]);
    let bob = add_contact(&hub, "Bob", &[]);
    event(&hub, &ada, "Order Completed", 3600);
    event(&hub, &ada, "Order Completed", 7 * 86400 + 60);
    let rule = write(
        &hub,
        "r.json",
        &json!({"event": "Order Completed", "at_least": 1, "in_last_days": 7}),
    );
    let triggers = write(
        &hub,
        "t.json",
        &json!({"reminder": {"title": "Call {name}", "due_in_days": 1}}),
    );
    let seg = hub.json(&[
        "segment",
        "create",
        "Buyers",
        "--rule-file",
        &rule,
        "--triggers-file",
        &triggers,
        "--json",
    ]);
    assert_eq!(seg["size"], 1);
    assert_eq!(seg["triggers"]["reminder"]["title"], "Call {name}");
    event(&hub, &bob, "Order Completed", 10);
    assert_eq!(member_names(&hub, "Buyers"), vec!["Ada", "Bob"]);
    let reminders = hub.json(&["reminder", "list", "--all", "--json"]);
    let titles: Vec<(&str, &str)> = reminders
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap(),
                r["assignee"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        titles.contains(&("Call Ada", "sam@example.com")),
        "{titles:?}"
    );
    assert!(titles.contains(&("Call Bob", "me")), "{titles:?}");

    // Consent recorded by another command moves a contact in.
    let mailable = write(
        &hub,
        "m.json",
        &json!({"all": [{"consent": "email_marketing"}, {"event": "Order Completed"}]}),
    );
    hub.ok(&[
        "segment",
        "create",
        "Mailable buyers",
        "--rule-file",
        &mailable,
    ]);
    assert!(member_names(&hub, "Mailable buyers").is_empty());
    hub.ok(&["consent", "set", &bob, "email_marketing", "granted"]);
    assert_eq!(member_names(&hub, "Mailable buyers"), vec!["Bob"]);

    let report = hub.json(&["segment", "refresh", "--json"]);
    assert_eq!(report["segments"], 2);
    assert_eq!(report["entered"], 0);
}

#[test]
fn bad_rules_say_where_and_write_nothing() {
    let hub = Hub::new().fails_write_nothing();
    add_contact(&hub, "Ada", &[]);
    let cases = [
        (
            json!({"event": "Signed Up", "at_least": 0}),
            "rule.at_least: is at least 1 (got 0)",
        ),
        (
            json!({"all": [{"field": "shoe_size", "value": 9}]}),
            "rule.all[0].field: unknown contact field \"shoe_size\"",
        ),
        (
            json!({"any": [{"tag": "x", "op": "eq"}]}),
            "rule.any[0].op: unknown key \"op\"",
        ),
        (
            json!({"custom_field": "plan", "value": "pro"}),
            "contacts have no custom field \"plan\"",
        ),
        (
            json!({"consent": "newsletter"}),
            "rule.consent: unknown purpose",
        ),
        (
            json!({"consent": "analytics", "status": "maybe"}),
            "rule.status: \"maybe\" is not a consent status",
        ),
    ];
    for (i, (rule, says)) in cases.iter().enumerate() {
        let file = write(&hub, &format!("bad{i}.json"), rule);
        hub.fails(&["segment", "create", "Bad", "--rule-file", &file], says);
    }
    let file = hub.db.parent().unwrap().join("broken.json");
    std::fs::write(&file, "{\"tag\": ").unwrap();
    hub.fails(
        &[
            "segment",
            "create",
            "Bad",
            "--rule-file",
            file.to_str().unwrap(),
        ],
        "is not valid JSON",
    );
    hub.fails(
        &[
            "segment",
            "create",
            "Bad",
            "--rule-file",
            "/nonexistent/rule.json",
        ],
        "cannot read the rule file",
    );
    hub.fails(&["segment", "members", "Nope"], "no segment with id Nope");
    let ok = write(&hub, "ok.json", &json!({"tag": "x"}));
    let trig = write(
        &hub,
        "trig.json",
        &json!({"reminder": {"title": "x", "due_in_days": 400}}),
    );
    hub.fails(
        &[
            "segment",
            "create",
            "Bad",
            "--rule-file",
            &ok,
            "--triggers-file",
            &trig,
        ],
        "triggers.reminder.due_in_days",
    );
    assert_eq!(hub.json(&["segment", "list", "--json"]), json!([]));
}
