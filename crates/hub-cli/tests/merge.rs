//! `hub duplicates`, `hub contact merge`, `hub company merge`, `hub merge
//! list|undo` and the duplicate check of `hub contact add`, as a user runs
//! them: the real binary on a real database file.

mod common;

use common::Hub;

fn new_hub() -> Hub {
    Hub::new().fails_with_code(1).fails_write_nothing()
}

#[test]
fn adding_a_contact_with_a_known_email_or_phone_is_refused_unless_allowed() {
    let hub = new_hub();
    let ada = hub.ok(&[
        "contact",
        "add",
        "--name",
        "Ada Lovelace",
        "--email",
        "Ada@Example.com",
        "--phone",
        "+1 415 555 2671",
    ]);
    let ada = ada.trim();
    hub.fails(
        &[
            "contact",
            "add",
            "--name",
            "A. Lovelace",
            "--email",
            " ada@EXAMPLE.com ",
        ],
        "same email Ada@example.com",
    );
    hub.fails(
        &[
            "contact",
            "add",
            "--name",
            "Countess",
            "--phone",
            "(415) 555-2671",
        ],
        ada,
    );
    let other = hub.json(&[
        "contact",
        "add",
        "--name",
        "Countess",
        "--phone",
        "(415) 555-2671",
        "--allow-duplicate",
        "--json",
    ]);
    assert_eq!(other["phones"][0]["number"], "+14155552671");
}

#[test]
fn duplicates_are_listed_merged_and_the_merge_undone() {
    let hub = new_hub();
    let keep = hub.ok(&[
        "contact",
        "add",
        "--name",
        "John Smith",
        "--company",
        "Acme",
        "--email",
        "john@acme.example",
    ]);
    let keep = keep.trim().to_owned();
    let other = hub.ok(&[
        "contact",
        "add",
        "--name",
        "Jon Smith",
        "--company",
        "Acme",
        "--title",
        "CTO",
        "--tag",
        "vip",
        "--allow-duplicate",
        "--email",
        "JOHN@acme.example",
        "--email",
        "jon@home.example",
    ]);
    let other = other.trim().to_owned();
    hub.ok(&[
        "log",
        "call",
        "--contact",
        &other,
        "--subject",
        "Intro call",
    ]);
    let scan = hub.json(&["duplicates", "--json"]);
    let pairs = scan["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{scan}");
    assert_eq!(pairs[0]["a"]["id"], keep.as_str());
    assert_eq!(pairs[0]["b"]["id"], other.as_str());
    assert_eq!(pairs[0]["reasons"][0]["kind"], "same_email");
    assert_eq!(pairs[0]["reasons"][1]["kind"], "similar_name");
    let capped = hub.json(&["duplicates", "--limit", "0", "--json"]);
    assert_eq!(capped["total"], 1);
    assert!(capped["pairs"].as_array().unwrap().is_empty());
    let text = hub.ok(&["duplicates"]);
    assert!(text.contains("same email john@acme.example"), "{text}");

    // A dry run shows the choices and writes nothing.
    let before = hub.log_len();
    let preview = hub.json(&[
        "contact",
        "merge",
        &keep,
        &other,
        "--prefer",
        "name=other",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(hub.log_len(), before);
    let title = preview["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "title")
        .unwrap();
    assert_eq!(title["winner"], "other");
    let name = preview["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "display_name")
        .unwrap();
    assert_eq!(name["winner"], "other");

    // Bad input: nothing written.
    hub.fails(
        &["contact", "merge", &keep, &keep],
        "cannot be merged with itself",
    );
    hub.fails(
        &["contact", "merge", &keep, &other, "--prefer", "shoe=other"],
        "no field \"shoe\"",
    );
    hub.fails(
        &["contact", "merge", &keep, &other, "--prefer", "title=both"],
        "keep or other",
    );
    hub.fails(
        &[
            "contact",
            "merge",
            &keep,
            "01a22964-7c2c-71b3-aa29-4d789629bc24",
        ],
        "no contact",
    );

    let merged = hub.json(&[
        "contact",
        "merge",
        &keep,
        &other,
        "--prefer",
        "title=other",
        "--json",
    ]);
    let id = merged["id"].as_str().unwrap().to_owned();
    let survivor = hub.json(&["contact", "show", &keep, "--json"]);
    assert_eq!(survivor["display_name"], "John Smith");
    assert_eq!(survivor["title"], "CTO");
    assert_eq!(survivor["tags"], serde_json::json!(["vip"]));
    assert_eq!(survivor["emails"].as_array().unwrap().len(), 2);
    let timeline = hub.json(&["timeline", "contact", &keep, "--json"]);
    assert!(timeline.to_string().contains("Intro call"), "{timeline}");
    hub.fails(&["contact", "show", &other], "no contact");
    hub.fails(&["contact", "merge", &keep, &other], "is deleted");
    assert!(hub.json(&["duplicates", "--json"])["pairs"]
        .as_array()
        .unwrap()
        .is_empty());
    let list = hub.ok(&["merge", "list"]);
    assert!(list.contains("Jon Smith → John Smith"), "{list}");

    let undone = hub.json(&["merge", "undo", &id, "--json"]);
    assert!(undone["merge"]["undone_at"].is_string());
    assert_eq!(
        hub.json(&["contact", "show", &other, "--json"])["title"],
        "CTO"
    );
    let survivor = hub.json(&["contact", "show", &keep, "--json"]);
    assert!(survivor["title"].is_null());
    assert_eq!(survivor["emails"].as_array().unwrap().len(), 1);
    hub.fails(&["merge", "undo", &id], "already undone");
}

#[test]
fn companies_merge_by_name() {
    let hub = new_hub();
    hub.ok(&[
        "company",
        "add",
        "--name",
        "Globex",
        "--domain",
        "globex.example",
    ]);
    hub.ok(&[
        "company",
        "add",
        "--name",
        "Globex Corporation",
        "--domain",
        "www.globex.example",
        "--city",
        "Cypress Creek",
    ]);
    hub.ok(&[
        "contact",
        "add",
        "--name",
        "Hank Scorpio",
        "--company",
        "Globex Corporation",
    ]);
    let scan = hub.json(&["duplicates", "--kind", "company", "--json"]);
    assert_eq!(scan["pairs"][0]["reasons"][0]["kind"], "same_domain");
    let merged = hub.json(&["company", "merge", "Globex", "Globex Corporation", "--json"]);
    assert_eq!(merged["moved"][0]["what"], "contacts");
    let globex = hub.json(&["company", "show", "Globex", "--json"]);
    assert_eq!(globex["city"], "Cypress Creek");
    let hank = hub.json(&["contact", "list", "--company", "Globex", "--json"]);
    assert_eq!(hank["items"][0]["display_name"], "Hank Scorpio");
}
