//! `hub lookalike`: rank contacts outside a seed segment from behaviour loaded
//! as Segment events, show reasons and the held-out check, save the top.

mod common;

use common::Hub;
use serde_json::{json, Value};

#[test]
fn ranks_the_contacts_who_behave_like_the_seed_and_saves_them() {
    let hub = Hub::new();
    let dir = hub.db.parent().unwrap().to_owned();
    // 12 customers (tagged) and 18 others, each identified by email; customers
    // and five of the others look at pricing and ask for a demo.
    let mut lines = Vec::new();
    let mut lookalikes = Vec::new();
    for i in 0..30 {
        let email = format!("person{i}@example.com");
        let customer = i < 12;
        let mut args = vec![
            "contact",
            "add",
            "--name",
            &*format!("Person {i:02}"),
            "--email",
            &email,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        if customer {
            args.extend(["--tag".into(), "Customer".into()]);
        }
        let id = hub
            .ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .trim()
            .to_owned();
        let like = (12..17).contains(&i);
        if like {
            lookalikes.push(id);
        }
        let ts = |m: u32| format!("2026-11-20T10:{m:02}:00Z");
        lines.push(json!({"type": "identify", "userId": format!("u{i}"),
            "traits": {"email": email}, "timestamp": ts(0)}));
        lines.push(json!({"type": "page", "userId": format!("u{i}"),
            "properties": {"path": "/"}, "timestamp": ts(1)}));
        if customer || like {
            lines.push(json!({"type": "page", "userId": format!("u{i}"),
                "properties": {"path": "/pricing"}, "timestamp": ts(2)}));
            lines.push(json!({"type": "track", "userId": format!("u{i}"),
                "event": "Demo Requested", "timestamp": ts(3)}));
        }
    }
    let file = dir.join("events.jsonl");
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    hub.ok(&["events", "import", file.to_str().unwrap()]);
    let rule = dir.join("rule.json");
    std::fs::write(&rule, json!({"tag": "Customer"}).to_string()).unwrap();
    hub.ok(&[
        "segment",
        "create",
        "Customers",
        "--rule-file",
        rule.to_str().unwrap(),
    ]);

    let out = hub.json(&["lookalike", "customers", "--top", "5", "--json"]);
    assert_eq!(out["seed"], "Customers");
    assert_eq!(out["seed_size"], 12);
    assert_eq!(out["candidates"], 18);
    let mut top: Vec<String> = out["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contact_id"].as_str().unwrap().to_owned())
        .collect();
    top.sort();
    lookalikes.sort();
    assert_eq!(top, lookalikes, "{out:#}");
    let reasons: Vec<&str> = out["top"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["feature"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"visited /pricing"), "{reasons:?}");
    assert!(reasons.contains(&"did Demo Requested"), "{reasons:?}");
    assert!(out["quality"]["held_out"].as_u64().unwrap() > 0, "{out:#}");

    let shown = hub.ok(&["lookalike", "Customers", "--top", "5"]);
    assert!(
        shown.contains("Contacts most like \"Customers\" (12 members)"),
        "{shown}"
    );
    assert!(
        shown.contains("visited /pricing (100% of members"),
        "{shown}"
    );
    assert!(shown.contains("Held-out check:"), "{shown}");

    let saved = hub.json(&[
        "lookalike",
        "Customers",
        "--top",
        "5",
        "--save",
        "Warm leads",
        "--json",
    ]);
    assert_eq!(saved["saved"]["name"], "Warm leads");
    assert_eq!(saved["saved"]["size"], 5);
    let members = hub.json(&["segment", "members", "Warm leads", "--json"]);
    assert_eq!(members.as_array().unwrap().len(), 5);

    hub.fails(
        &["lookalike", "Customers", "--save", "Warm leads"],
        "exists",
    );
    hub.fails(&["lookalike", "Nobody"], "no segment");
}
