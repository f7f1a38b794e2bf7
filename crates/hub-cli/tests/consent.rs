//! `hub consent set|show` as a user runs them: the real binary on a real database file.

mod common;

use common::Hub;

#[test]
fn record_consent_withdraw_it_and_read_the_history() {
    let hub = Hub::new().fails_with_code(1).fails_write_nothing();
    let ada = hub
        .ok(&["contact", "add", "--name", "Ada Lovelace"])
        .trim()
        .to_owned();

    let nothing = hub.json(&["consent", "show", &ada, "--json"]);
    assert_eq!(nothing["current"].as_array().unwrap().len(), 0);
    assert_eq!(nothing["do_not_sell"], false);

    let granted = hub.json(&[
        "consent",
        "set",
        &ada,
        "advertising",
        "granted",
        "--source",
        "form",
        "--at",
        "2026-11-01T10:00:00Z",
        "--evidence",
        "newsletter form",
        "--json",
    ]);
    assert_eq!(granted["current"][0]["purpose"], "advertising");
    assert_eq!(granted["current"][0]["status"], "granted");
    assert_eq!(granted["current"][0]["source"], "form");
    assert_eq!(granted["current"][0]["evidence"], "newsletter form");

    // Denying what was granted is a withdrawal.
    let withdrawn = hub.json(&["consent", "set", &ada, "advertising", "denied", "--json"]);
    assert_eq!(withdrawn["current"][0]["status"], "revoked");
    assert_eq!(withdrawn["history"].as_array().unwrap().len(), 2);

    let dns = hub.json(&["consent", "set", &ada, "sale", "denied", "--json"]);
    assert_eq!(dns["do_not_sell"], true);

    let text = hub.ok(&["consent", "show", &ada]);
    assert!(
        text.contains("advertising") && text.contains("revoked"),
        "{text}"
    );
    assert!(
        text.contains("email_marketing") && text.contains("not asked"),
        "{text}"
    );
    assert!(text.contains("do not sell: yes"), "{text}");
}

#[test]
fn bad_consent_input_is_refused_and_nothing_is_written() {
    let hub = Hub::new().fails_with_code(1).fails_write_nothing();
    let ada = hub
        .ok(&["contact", "add", "--name", "Ada"])
        .trim()
        .to_owned();
    hub.fails(
        &["consent", "set", &ada, "cookies", "granted"],
        "unknown purpose \"cookies\"",
    );
    hub.fails(
        &["consent", "set", &ada, "analytics", "perhaps"],
        "unknown status \"perhaps\"",
    );
    hub.fails(
        &[
            "consent",
            "set",
            &ada,
            "analytics",
            "granted",
            "--source",
            "rumour",
        ],
        "unknown source \"rumour\"",
    );
    hub.fails(
        &[
            "consent",
            "set",
            &ada,
            "analytics",
            "granted",
            "--at",
            "2099-01-01T00:00:00Z",
        ],
        "cannot be dated in the future",
    );
    hub.fails(
        &[
            "consent",
            "set",
            &ada,
            "analytics",
            "granted",
            "--at",
            "yesterday",
        ],
        "is not an RFC 3339 time",
    );
    hub.fails(
        &[
            "consent",
            "set",
            "0193a0c4-0000-7000-8000-000000000000",
            "analytics",
            "granted",
        ],
        "no contact with id",
    );
    hub.fails(&["consent", "show", "nobody"], "\"nobody\" is not an id");
}
