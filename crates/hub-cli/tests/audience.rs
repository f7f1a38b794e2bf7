//! `hub audience export|history|removals` as a user runs them, against payloads
//! written by hand from Meta's and Google's documentation (tests/fixtures/audiences).

mod common;

use std::path::{Path, PathBuf};

use common::Hub;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/audiences")
        .join(name)
}

fn add(hub: &Hub, name: &str, email: &str) -> String {
    hub.ok(&["contact", "add", "--name", name, "--email", email])
        .trim()
        .to_owned()
}

#[test]
fn export_to_meta_google_and_an_email_tool_then_remove_the_erased() {
    let hub = Hub::new().fails_with_code(1).fails_write_nothing();
    let dir = tempfile::tempdir().unwrap();
    hub.ok(&["import", "vcard", fixture("john.vcf").to_str().unwrap()]);
    let list = hub.json(&["contact", "list", "--json"]);
    let john = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["display_name"] == "John Doe")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hub.ok(&["field", "add", "contact", "Gender", "--type", "text"]);
    hub.ok(&["field", "set", "contact", &john, "gender", "Female"]);
    hub.ok(&["consent", "set", &john, "advertising", "granted"]);
    hub.ok(&["consent", "set", &john, "email_marketing", "granted"]);
    let ann = add(&hub, "Ann Nodecision", "ann@example.com");
    let cy = add(&hub, "Cy Donotsell", "cy@example.com");
    hub.ok(&["consent", "set", &cy, "advertising", "granted"]);
    hub.ok(&["consent", "set", &cy, "sale", "denied"]);
    let rule = dir.path().join("rule.json");
    std::fs::write(&rule, r#"{"lifecycle_stage": "lead"}"#).unwrap();
    hub.ok(&[
        "segment",
        "create",
        "Leads",
        "--rule-file",
        rule.to_str().unwrap(),
    ]);

    // Meta: the payload is the one written by hand from Meta's rules.
    let meta = dir.path().join("leads.json");
    let report = hub.json(&[
        "audience",
        "export",
        "leads",
        "--dest",
        "meta",
        "--out",
        meta.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["members"], 3);
    assert_eq!(report["exported"], 1);
    assert_eq!(report["left_out"]["no_consent"], 1);
    assert_eq!(report["left_out"]["do_not_sell"], 1);
    assert_eq!(report["left_out"]["no_identifier"], 0);
    assert_eq!(report["destination"], "meta");
    let ours: Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("meta_users_payload.json")).unwrap())
            .unwrap();
    assert_eq!(ours, expected);
    let meta_id = report["id"].as_str().unwrap().to_owned();

    // Google: the template's header, hashed identifiers, Country and Zip as written.
    let google = dir.path().join("leads.csv");
    let text = hub.ok(&[
        "audience",
        "export",
        "Leads",
        "--dest",
        "google",
        "--seed",
        "--out",
        google.to_str().unwrap(),
    ]);
    assert!(
        text.contains("exported 1 of 3 member(s) of \"Leads\" to Google Ads as a lookalike seed"),
        "{text}"
    );
    assert!(
        text.contains("left out 2: 1 without advertising consent, 1 do-not-sell"),
        "{text}"
    );
    let csv = std::fs::read_to_string(&google).unwrap();
    let header = std::fs::read_to_string(fixture("google_customer_match_header.csv")).unwrap();
    assert!(csv.starts_with(&header));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    // sha256sum of "john.doe@example.com", "+14155552671", "john", "doe"
    assert_eq!(
        rows[0].iter().collect::<Vec<_>>(),
        vec![
            "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
            "cb6880e416769253645cb9c6b8989154bf66a56a77fc14c81fb1019663cbb928",
            "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
            "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f",
            "US",
            "94103-1234",
        ]
    );

    // An email tool: plain addresses, email marketing consent only.
    let mailchimp = dir.path().join("newsletter.csv");
    hub.ok(&[
        "audience",
        "export",
        "Leads",
        "--dest",
        "csv",
        "--out",
        mailchimp.to_str().unwrap(),
    ]);
    let mut reader = csv::Reader::from_path(&mailchimp).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        vec![
            "Email Address",
            "First Name",
            "Last Name",
            "Phone Number",
            "Birthday",
            "Tags"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], "John.Doe@example.com");
    assert_eq!(&rows[0][4], "04/07");

    // Bad input: a clear error, nothing written.
    hub.fails(
        &[
            "audience", "export", "Leads", "--dest", "tiktok", "--out", "x.csv",
        ],
        "unknown destination \"tiktok\"",
    );
    hub.fails(
        &[
            "audience", "export", "Leads", "--dest", "csv", "--seed", "--out", "x.csv",
        ],
        "a lookalike seed is for an ad network",
    );
    hub.fails(
        &[
            "audience", "export", "Nobody", "--dest", "meta", "--out", "x.json",
        ],
        "no segment with id Nobody",
    );
    assert!(!Path::new("x.csv").exists());

    let history = hub.json(&["audience", "history", "--json"]);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["id"], meta_id.as_str());
    assert_eq!(history[1]["purpose"], "lookalike_seed");
    assert_eq!(history[0]["destination"], "csv");
    assert_eq!(history[0]["exported_by"], "me");
    let table = hub.ok(&["audience", "history"]);
    assert!(table.contains("google (seed)"), "{table}");

    // John is erased: every export he was in lists him for removal.
    assert_eq!(
        hub.json(&["audience", "removals", "--json"]),
        Value::Array(vec![])
    );
    hub.ok(&["privacy", "erase", &john, "--yes"]);
    let removals = hub.json(&["audience", "removals", "--json"]);
    let removals = removals.as_array().unwrap();
    assert_eq!(removals.len(), 3);
    assert!(removals
        .iter()
        .all(|r| r["contact_id"] == john.as_str() && r["reason"] == "erased"));
    let removal = dir.path().join("remove.json");
    let written = hub.json(&[
        "audience",
        "removals",
        &meta_id,
        "--out",
        removal.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(written["removed"], 1);
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(&removal).unwrap()).unwrap();
    assert_eq!(payload["schema"], serde_json::json!(["EMAIL", "PHONE"]));
    assert_eq!(
        payload["data"],
        serde_json::json!([[
            "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
            "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0"
        ]])
    );
    let history = hub.json(&["audience", "history", "--json"]);
    assert_eq!(history[2]["pending_removals"], 0);
    assert_eq!(history[1]["pending_removals"], 1);
    let _ = ann;
}
