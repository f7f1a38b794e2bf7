//! `hub privacy erase|export` and `hub retention run|days` as a user runs them.

mod common;

use common::Hub;

#[test]
fn export_then_erase_a_contact() {
    let hub = Hub::new().fails_with_code(1);
    let ada = hub
        .ok(&[
            "contact",
            "add",
            "--name",
            "Ada Lovelace",
            "--email",
            "ada@example.com",
        ])
        .trim()
        .to_owned();
    hub.ok(&["consent", "set", &ada, "email_marketing", "granted"]);
    let dir = tempfile::tempdir().unwrap();

    let json_path = dir.path().join("ada.json");
    hub.ok(&[
        "privacy",
        "export",
        &ada,
        "--out",
        json_path.to_str().unwrap(),
    ]);
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(
        export["records"]["contact"][0]["display_name"],
        "Ada Lovelace"
    );
    assert_eq!(
        export["records"]["contact_email"][0]["address"],
        "ada@example.com"
    );
    assert_eq!(export["records"]["consent_record"][0]["status"], "granted");

    let csv_path = dir.path().join("ada.csv");
    hub.ok(&[
        "privacy",
        "export",
        &ada,
        "--out",
        csv_path.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["section", "record", "field", "value"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(rows
        .iter()
        .any(|r| &r[0] == "contact_email" && &r[2] == "address" && &r[3] == "ada@example.com"));

    // Erasure needs --yes and writes nothing without it.
    hub.fails(&["privacy", "erase", &ada], "cannot be undone: add --yes");
    hub.ok(&["contact", "show", &ada]);
    let erased = hub.json(&["privacy", "erase", &ada, "--yes", "--json"]);
    assert_eq!(erased["rows"]["contact"], 1);
    assert_eq!(erased["rows"]["contact_email"], 1);
    assert_eq!(erased["rows"]["consent_record"], 1);
    hub.fails(&["contact", "show", &ada], "no contact with id");
    hub.fails(&["privacy", "erase", &ada, "--yes"], "is already erased");
    hub.fails(
        &[
            "privacy",
            "export",
            &ada,
            "--out",
            json_path.to_str().unwrap(),
        ],
        "no contact with id",
    );
}

#[test]
fn retention_period_and_run() {
    let hub = Hub::new().fails_with_code(1);
    assert_eq!(hub.json(&["retention", "days", "--json"])["days"], 180);
    assert_eq!(hub.json(&["retention", "days", "90", "--json"])["days"], 90);
    hub.fails(&["retention", "days", "0"], "between 1 and 3650 days");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"type":"page","anonymousId":"old","messageId":"m1","timestamp":"2020-01-01T00:00:00Z","context":{"ip":"203.0.113.9"}}"#,
            "\n",
            r#"{"type":"page","anonymousId":"new","messageId":"m2","context":{"ip":"203.0.113.10"}}"#,
            "\n"
        ),
    )
    .unwrap();
    hub.ok(&["events", "import", file.to_str().unwrap()]);
    let report = hub.json(&["retention", "run", "--json"]);
    assert_eq!(report["days"], 90);
    assert_eq!(report["anonymous_profiles"], 1);
    assert_eq!(report["events_removed"], 1);
    // IPs are truncated as events are stored: nothing left for the run.
    assert_eq!(report["ips_truncated"], 0);
    let again = hub.json(&["retention", "run", "--json"]);
    assert_eq!(again["events_removed"], 0);
}
