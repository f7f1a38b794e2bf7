//! Segments stay live through ordinary commands: any `hub` command that changes a
//! contact moves it in or out of segments before it returns (not only `hub segment`).

mod common;

use common::Hub;

fn tags(hub: &Hub, id: &str) -> Vec<String> {
    let contact = hub.json(&["contact", "show", id, "--json"]);
    contact["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_str()
                .or_else(|| t["name"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_tag_edit_moves_a_contact_into_a_segment_and_a_consent_change_out_of_it() {
    let hub = Hub::new();
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("rule.json");
    std::fs::write(
        &rule,
        r#"{"all": [{"tag": "VIP"}, {"not": {"consent": "email_marketing", "status": "denied"}}]}"#,
    )
    .unwrap();
    hub.ok(&[
        "segment",
        "create",
        "VIP mailing",
        "--rule-file",
        rule.to_str().unwrap(),
    ]);
    let ada = hub
        .ok(&["contact", "add", "--name", "Ada"])
        .trim()
        .to_owned();
    assert!(!tags(&hub, &ada).contains(&"segment: VIP mailing".to_owned()));

    hub.ok(&["tag", "add", "VIP", "--contact", &ada]);
    assert!(
        tags(&hub, &ada).contains(&"segment: VIP mailing".to_owned()),
        "{:?}",
        tags(&hub, &ada)
    );

    hub.ok(&["consent", "set", &ada, "email_marketing", "denied"]);
    assert!(!tags(&hub, &ada).contains(&"segment: VIP mailing".to_owned()));
}
