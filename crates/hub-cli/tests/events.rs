//! `hub events import`, `hub identity ...` and behavioural events on `hub timeline`,
//! run as a user runs them, on a Segment export fixture.

mod common;

use common::Hub;

fn fixture() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/events/segment_export.jsonl"
    )
    .to_owned()
}

#[test]
fn import_a_segment_export_then_see_the_lead_its_identifiers_and_its_timeline() {
    let hub = Hub::new().env("HUB_DEFAULT_REGION", "ES");
    let report = hub.json(&["events", "import", &fixture(), "--json"]);
    assert_eq!(report["lines"], 10);
    assert_eq!(report["stored"], 7);
    assert_eq!(report["duplicate"], 0);
    assert_eq!(report["failed"], 3);
    assert_eq!(report["resolved"]["leads"], 1);
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6, 9, 10]);
    assert_eq!(report["errors"][1]["code"], "unknown_type");

    // Text form names each bad line.
    let text = hub.ok(&["events", "import", &fixture()]);
    assert!(
        text.contains("0 events stored, 7 already here, 3 lines failed"),
        "{text}"
    );
    assert!(text.contains("line 6: not JSON"), "{text}");

    let status = hub.json(&["events", "status", "--json"]);
    assert_eq!(status["events"], 7);
    assert_eq!(status["not_uploaded"], 7);

    let contacts = hub.json(&["contact", "list", "--json"]);
    assert_eq!(contacts["total"], 1);
    let lead = contacts["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(contacts["items"][0]["display_name"], "María García");
    assert_eq!(contacts["items"][0]["lifecycle_stage"], "lead");
    assert_eq!(contacts["items"][0]["company_name"], "Globex");

    let ids = hub.json(&["identity", "show", &lead, "--json"]);
    let kinds: Vec<String> = ids["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["kind"].as_str().unwrap(),
                i["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "anonymous_id:5f2a0b8e-9c1d-4e6f-8a3b-2c7d9e0f1a2b",
            "anonymous_id:9e8d7c6b-0000-4000-8000-000000000001",
            "email:maria.garcia@example.org",
            "phone:+34612345678",
            "user_id:usr_8841"
        ]
    );

    // `hub timeline CONTACT_ID`: the whole journey, newest first.
    let page = hub.json(&["timeline", &lead, "--json"]);
    let kinds: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "alias",
            "screen_view",
            "event",
            "identified",
            "event",
            "page_view",
            "page_view"
        ]
    );
    let text = hub.ok(&["timeline", "contact", &lead, "--kind", "page_view,event"]);
    assert!(text.contains("Viewed /pricing"), "{text}");
    assert!(text.contains("Order Completed [user usr_8841]"), "{text}");
    assert!(!text.contains("screen"), "{text}");
    let pages = hub.json(&[
        "timeline", &lead, "--kind", "page", "--limit", "1", "--json",
    ]);
    assert_eq!(pages["entries"].as_array().unwrap().len(), 1);
    assert!(pages["next_cursor"].is_string());

    assert_eq!(
        hub.json(&["identity", "warnings", "--json"])["total"],
        0,
        "one person, no warnings"
    );
    hub.fails(
        &["timeline", &lead, "--kind", "pageviews"],
        "not a timeline kind",
    );
    hub.fails(
        &["events", "import", "/nonexistent/file.jsonl"],
        "cannot read",
    );
}

#[test]
fn two_identified_profiles_on_one_browser_give_a_warning_not_a_merge() {
    let hub = Hub::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"type":"identify","userId":"u1","anonymousId":"kiosk","messageId":"i1","timestamp":"2026-11-01T10:00:00Z","traits":{"name":"Ann One","email":"ann@example.com"}}"#,
            "\n",
            r#"{"type":"identify","userId":"u2","anonymousId":"kiosk","messageId":"i2","timestamp":"2026-11-01T11:00:00Z","traits":{"name":"Bo Two"}}"#,
            "\n",
        ),
    )
    .unwrap();
    hub.ok(&["events", "import", file.to_str().unwrap()]);
    assert_eq!(hub.json(&["contact", "list", "--json"])["total"], 2);
    let warnings = hub.json(&["identity", "warnings", "--json"]);
    assert_eq!(warnings["total"], 1);
    let w = &warnings["warnings"][0];
    assert_eq!(w["reason"], "anonymous_id_elsewhere");
    assert_eq!(w["identity"], "anonymous_id:kiosk");
    assert_eq!(w["contact_name"], "Bo Two");
    assert_eq!(w["other_contact_name"], "Ann One");
    let text = hub.ok(&["identity", "warnings"]);
    assert!(text.contains("hub contact merge"), "{text}");
    // Re-running resolution changes nothing.
    let again = hub.json(&["identity", "resolve", "--json"]);
    assert_eq!(again["warnings"], 0);
    assert_eq!(again["identities"], 0);
}
