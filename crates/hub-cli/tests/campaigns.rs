//! `hub campaigns report|contact|deal` with the real binary: the analytics.js
//! fixture imported with `hub events import`, deals added and won with `hub
//! deal`, then back-dated to March (the sqlite3 shell, as a sync from another
//! device would bring them).

mod common;

use std::path::Path;
use std::process::Command;

use common::Hub;
use serde_json::Value;

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/campaigns/analytics_js.jsonl")
        .to_str()
        .unwrap()
        .to_owned()
}

fn sql(hub: &Hub, sql: &str) -> String {
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
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The lead identify created for `user`.
fn contact_of(hub: &Hub, user: &str) -> String {
    sql(
        hub,
        &format!("SELECT contact_id FROM identities WHERE kind = 'user_id' AND value = '{user}'"),
    )
}

fn deal(
    hub: &Hub,
    title: &str,
    contact: &str,
    amount: &str,
    currency: &str,
    created: &str,
    won: Option<&str>,
) {
    let d = hub.json(&[
        "deal",
        "add",
        "--title",
        title,
        "--contact",
        contact,
        "--amount",
        amount,
        "--currency",
        currency,
        "--json",
    ]);
    let id = d["id"].as_str().unwrap().to_owned();
    if won.is_some() {
        hub.ok(&["deal", "won", &id]);
    }
    let closed = won.map_or("NULL".to_owned(), |w| format!("'{w}'"));
    sql(
        hub,
        &format!(
            "UPDATE deals SET created_at = '{created}', closed_at = {closed} WHERE id = '{id}'"
        ),
    );
}

fn row<'a>(report: &'a Value, label: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == label)
        .unwrap_or_else(|| panic!("no {label} in {report:#}"))
}

#[test]
fn report_contact_and_deal_attribution() {
    let hub = Hub::new();
    let imported = hub.json(&["events", "import", &fixture(), "--json"]);
    assert_eq!(imported["stored"], 14);
    hub.ok(&["rate", "base", "EUR"]);
    hub.ok(&["rate", "set", "USD", "0.9"]);
    let ada = contact_of(&hub, "usr_ada");
    let bob = contact_of(&hub, "usr_bob");
    deal(
        &hub,
        "Ada Pro",
        &ada,
        "1200.50",
        "EUR",
        "2026-03-06T00:00:00.000Z",
        Some("2026-03-20T09:00:00.000Z"),
    );
    deal(
        &hub,
        "Ada add-on",
        &ada,
        "99.99",
        "EUR",
        "2026-03-21T00:00:00.000Z",
        Some("2026-03-22T00:00:00.000Z"),
    );
    deal(
        &hub,
        "Bob",
        &bob,
        "500.10",
        "USD",
        "2026-03-05T00:00:00.000Z",
        Some("2026-03-15T00:00:00.000Z"),
    );

    let r = hub.json(&[
        "campaigns",
        "report",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--json",
    ]);
    assert_eq!(r["from"], "2026-03-01");
    assert_eq!(r["base_currency"], "EUR");
    let spring = row(&r, "spring-sale / google / cpc");
    assert_eq!(spring["touches"], 5);
    assert_eq!(spring["visitors"], 4);
    assert_eq!(spring["contacts"], 2);
    assert_eq!(spring["anonymous"], 2);
    assert_eq!(spring["deals"], 2);
    assert_eq!(spring["rates"]["visitor_to_contact"], "50.0");
    let news = row(&r, "march news / newsletter / email");
    assert_eq!(news["won"], 2);
    // Money as strings, exact.
    assert_eq!(news["revenue"][0]["amount"], "1300.49");
    assert_eq!(news["revenue"][0]["currency"], "EUR");
    assert_eq!(news["revenue_base"]["amount"], "1300.49");
    let direct = row(&r, "direct/none");
    assert_eq!(direct["direct"], true);
    assert_eq!(direct["visitors"], Value::Null);
    assert_eq!(direct["revenue"][0]["amount"], "500.10");
    assert_eq!(direct["revenue_base"]["amount"], "450.09");

    let text = hub.ok(&[
        "campaigns",
        "report",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    ]);
    assert!(
        text.starts_with("Campaigns, 2026-03-01 to 2026-03-31"),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("Campaign"), "{text}");
    assert!(
        lines[2].starts_with("march news") && lines[2].contains("1300.49 EUR"),
        "{text}"
    );
    assert!(text.contains("café déjà"), "{text}");
    let direct_line = lines.iter().find(|l| l.starts_with("direct/none")).unwrap();
    assert!(
        direct_line.contains("500.10 USD") && direct_line.contains("450.09"),
        "{text}"
    );

    // A day with nothing: said so.
    let empty = hub.ok(&[
        "campaigns",
        "report",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
    ]);
    assert!(
        empty.contains("No campaign touches or deals in this range."),
        "{empty}"
    );

    // Limited to a segment's members (Ada's example.com address; not Bob).
    let rule = hub.db.parent().unwrap().join("rule.json");
    std::fs::write(
        &rule,
        r#"{"field": "email", "op": "contains", "value": "@example.com"}"#,
    )
    .unwrap();
    hub.ok(&[
        "segment",
        "create",
        "Example people",
        "--rule-file",
        rule.to_str().unwrap(),
    ]);
    let r = hub.json(&[
        "campaigns",
        "report",
        "--segment",
        "example people",
        "--json",
    ]);
    assert_eq!(r["segment"]["name"], "Example people");
    let spring = row(&r, "spring-sale / google / cpc");
    assert_eq!(
        (spring["touches"].as_u64(), spring["contacts"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(spring["anonymous"], Value::Null);
    assert!(r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|row| row["direct"] == false));
    let text = hub.ok(&["campaigns", "report", "--segment", "Example people"]);
    assert!(
        text.starts_with("Campaigns, all time (UTC days), members of Example people"),
        "{text}"
    );

    let c = hub.json(&["campaigns", "contact", &ada, "--json"]);
    assert_eq!(c["first_touch"]["kind"], "campaign");
    assert_eq!(c["first_touch"]["campaign"], "spring-sale");
    assert_eq!(c["first_touch"]["term"], "crm software");
    assert_eq!(c["last_touch"]["campaign"], "café déjà");
    assert_eq!(c["count"], 3);
    let text = hub.ok(&["campaigns", "contact", &ada]);
    assert!(
        text.starts_with("First touch: 2026-03-01 10:00:00  spring-sale / google / cpc"),
        "{text}"
    );
    let b = hub.json(&["campaigns", "contact", &bob, "--json"]);
    assert_eq!(b["first_touch"]["kind"], "direct");
    assert!(hub
        .ok(&["campaigns", "contact", &bob])
        .contains("First touch: direct/none"));

    let d = hub.json(&["campaigns", "deal", "Ada Pro", "--json"]);
    assert_eq!(d["first_touch"]["campaign"], "spring-sale");
    assert_eq!(d["last_touch"]["campaign"], "march news");
    let text = hub.ok(&["campaigns", "deal", "Ada Pro"]);
    assert!(
        text.contains(
            "First touch before it was created: 2026-03-01 10:00:00  spring-sale / google / cpc"
        ),
        "{text}"
    );
    assert!(text.contains("Last touch before it was won (2026-03-20 09:00:00): 2026-03-10 08:00:00  march news / newsletter / email"), "{text}");
    let text = hub.ok(&["campaigns", "deal", "Bob"]);
    assert!(text.contains("created: direct/none"), "{text}");
}

#[test]
fn bad_input_is_refused_with_the_field() {
    let hub = Hub::new().fails_write_nothing();
    hub.ok(&["contact", "add", "--name", "Someone"]);
    hub.fails(
        &["campaigns", "report", "--from", "March"],
        "from: \"March\" is not a date",
    );
    hub.fails(
        &["campaigns", "report", "--to", "2026-02-30"],
        "to: \"2026-02-30\" is not a date",
    );
    hub.fails(
        &[
            "campaigns",
            "report",
            "--from",
            "2026-04-02",
            "--to",
            "2026-04-01",
        ],
        "from: The range starts (2026-04-02) after it ends (2026-04-01)",
    );
    hub.fails(&["campaigns", "contact", "nope"], "contact_id");
    hub.fails(
        &[
            "campaigns",
            "contact",
            "0190a0a0-0000-7000-8000-000000000000",
        ],
        "no contact with id",
    );
    hub.fails(&["campaigns", "deal", "No such deal"], "no deal");
    hub.fails(&["campaigns", "report", "--segment", "Nobody"], "segment");
}
