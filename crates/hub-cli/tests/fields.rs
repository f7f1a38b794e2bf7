//! `hub tag`, `hub field` and `hub view` as a user runs them: the real
//! binary on a real database file.

mod common;

use common::Hub;
use serde_json::Value;

/// Runs remove `HUB_DEFAULT_REGION`; `fails` also wants nothing written.
fn new_hub() -> Hub {
    Hub::new()
        .env_remove("HUB_DEFAULT_REGION")
        .fails_write_nothing()
}

impl Hub {
    fn contact(&self, name: &str) -> String {
        self.ok(&["contact", "add", "--name", name])
            .trim()
            .to_owned()
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn tags_on_contacts_and_companies_rename_merge_and_colour() {
    let hub = new_hub();
    let ada = hub.contact("Ada Lovelace");
    let bob = hub.contact("Bob Babbage");
    hub.ok(&["company", "add", "--name", "Acme"]);

    let added = hub.json(&[
        "tag",
        "add",
        "VIP",
        "--color",
        "red",
        "--contact",
        &ada,
        "--company",
        "Acme",
        "--json",
    ]);
    assert_eq!(added["tag"]["name"], "VIP");
    assert_eq!(added["tag"]["color"], "#dc2626");
    assert_eq!(added["tag"]["contact_count"], 1);
    assert_eq!(added["tag"]["company_count"], 1);
    assert_eq!(added["records"][1]["kind"], "company");
    assert_eq!(added["records"][1]["tags"][0], "VIP");

    hub.ok(&[
        "tag",
        "add",
        "Customer",
        "--contact",
        &bob,
        "--contact",
        &ada,
    ]);
    let list = hub.json(&["tag", "list", "--json"]);
    assert_eq!(names(&list, "name"), ["Customer", "VIP"]);
    assert_eq!(list[0]["contact_count"], 2);

    // Rename keeps the records; the contact shows the new name.
    let renamed = hub.json(&["tag", "rename", "vip", "Key account", "--json"]);
    assert_eq!(renamed["name"], "Key account");
    assert_eq!(renamed["color"], "#dc2626");
    assert_eq!(renamed["contact_count"], 1);
    let shown = hub.json(&["contact", "show", &ada, "--json"]);
    assert_eq!(
        shown["tags"],
        serde_json::json!(["Customer", "Key account"])
    );

    // Merge: Ada has both, Bob only Customer; the company moves.
    let merged = hub.json(&["tag", "merge", "Key account", "customer", "--json"]);
    assert_eq!(merged["moved"], 1);
    assert_eq!(merged["already_tagged"], 1);
    assert_eq!(merged["tag"]["contact_count"], 2);
    assert_eq!(merged["tag"]["company_count"], 1);
    assert_eq!(
        names(&hub.json(&["tag", "list", "--json"]), "name"),
        ["Customer"]
    );
    let by_tag = hub.json(&["contact", "list", "--tag", "customer", "--json"]);
    assert_eq!(by_tag["total"], 2);

    let removed = hub.json(&["tag", "remove", "Customer", "--contact", &bob, "--json"]);
    assert_eq!(removed["tag"]["contact_count"], 1);
    assert_eq!(removed["records"][0]["tags"], serde_json::json!([]));

    let text = hub.ok(&["tag", "list"]);
    assert!(
        text.contains("Customer") && text.contains("COMPANIES"),
        "{text}"
    );

    // Bad input: clear error, nothing written.
    hub.fails(&["tag", "color", "Customer", "pinkish"], "not a colour");
    hub.fails(&["tag", "rename", "nope", "x"], "no tag with id nope");
    hub.fails(&["tag", "merge", "Customer", "customer"], "into itself");
    hub.fails(
        &[
            "tag",
            "add",
            "New",
            "--contact",
            "0190a1b2-0000-7000-8000-000000000000",
        ],
        "no contact",
    );
    hub.fails(
        &["tag", "remove", "Customer", "--contact", &bob],
        "has no tag",
    );
    hub.ok(&["tag", "add", "Gold"]);
    hub.fails(&["tag", "rename", "Gold", "CUSTOMER"], "merge");

    hub.ok(&["tag", "delete", "gold"]);
    assert_eq!(
        names(&hub.json(&["tag", "list", "--json"]), "name"),
        ["Customer"]
    );
}

#[test]
fn custom_fields_define_set_show_delete_restore() {
    let hub = new_hub();
    let ada = hub.contact("Ada Lovelace");

    let budget = hub.json(&[
        "field",
        "add",
        "contact",
        "Annual budget",
        "--type",
        "number",
        "--json",
    ]);
    assert_eq!(budget["key"], "annual_budget");
    assert_eq!(budget["type"], "number");
    hub.ok(&[
        "field", "add", "contact", "Tier", "--type", "select", "--option", "Gold", "--option",
        "Silver",
    ]);
    hub.ok(&[
        "field",
        "add",
        "contact",
        "Interests",
        "--type",
        "multi_select",
        "--option",
        "CRM",
        "--option",
        "API",
    ]);
    hub.ok(&["field", "add", "contact", "Renewal", "--type", "date"]);
    hub.ok(&[
        "field",
        "add",
        "contact",
        "Newsletter",
        "--type",
        "checkbox",
    ]);
    hub.ok(&["field", "add", "deal", "Source system", "--type", "text"]);

    let list = hub.json(&["field", "list", "contact", "--json"]);
    assert_eq!(
        names(&list, "key"),
        [
            "annual_budget",
            "tier",
            "interests",
            "renewal",
            "newsletter"
        ]
    );
    assert_eq!(list[1]["options"], serde_json::json!(["Gold", "Silver"]));
    assert_eq!(
        hub.json(&["field", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        6
    );

    let after = hub.json(&[
        "field",
        "set",
        "contact",
        &ada,
        "annual_budget",
        "1234567890.123456789",
        "--also",
        "tier=gold",
        "--also",
        "Interests=api,crm",
        "--also",
        "renewal=2027-03-01",
        "--also",
        "newsletter=yes",
        "--json",
    ]);
    assert_eq!(after.as_array().unwrap().len(), 5);
    let shown = hub.json(&["contact", "show", &ada, "--json"]);
    assert_eq!(
        shown["custom_fields"],
        serde_json::json!({
            "annual_budget": "1234567890.123456789",
            "tier": "Gold",
            "interests": ["CRM", "API"],
            "renewal": "2027-03-01",
            "newsletter": true
        })
    );
    assert_eq!(shown["display_name"], "Ada Lovelace");
    let text = hub.ok(&["contact", "show", &ada]);
    assert!(text.contains("Tier") && text.contains("Gold"), "{text}");

    // Bad values and definitions: a clear error, nothing written.
    hub.fails(
        &["field", "set", "contact", &ada, "annual_budget", "lots"],
        "\"lots\" is not a number",
    );
    hub.fails(
        &["field", "set", "contact", &ada, "tier", "Bronze"],
        "not an option of Tier (Gold, Silver)",
    );
    hub.fails(
        &["field", "set", "contact", &ada, "renewal", "1 March"],
        "not a date",
    );
    hub.fails(
        &[
            "field",
            "set",
            "contact",
            &ada,
            "tier",
            "Silver",
            "--also",
            "newsletter=perhaps",
        ],
        "newsletter",
    );
    hub.fails(
        &["field", "set", "contact", &ada, "nope", "1"],
        "no custom field \"nope\"",
    );
    hub.fails(
        &["field", "add", "contact", "Email", "--type", "text"],
        "built-in field",
    );
    hub.fails(
        &["field", "add", "contact", "Score", "--type", "float"],
        "not a field type",
    );
    hub.fails(
        &["field", "add", "contact", "Tier", "--type", "text"],
        "already exists",
    );
    hub.fails(
        &["field", "add", "planet", "X", "--type", "text"],
        "not one of contact",
    );
    assert_eq!(
        hub.json(&["field", "get", "contact", &ada, "--json"])[1]["value"],
        "Gold"
    );

    // Clear one value.
    hub.ok(&["field", "set", "contact", &ada, "newsletter", ""]);
    let shown = hub.json(&["contact", "show", &ada, "--json"]);
    assert!(shown["custom_fields"].get("newsletter").is_none());

    // Delete hides, restore brings the values back.
    hub.ok(&["field", "delete", "contact", "tier"]);
    let shown = hub.json(&["contact", "show", &ada, "--json"]);
    assert!(shown["custom_fields"].get("tier").is_none());
    let deleted = hub.json(&["field", "list", "contact", "--deleted", "--json"]);
    assert!(deleted
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["key"] == "tier" && f["deleted"] == true));
    hub.fails(
        &["field", "add", "contact", "Tier", "--type", "text"],
        "restore",
    );
    hub.ok(&["field", "restore", "contact", "tier"]);
    let shown = hub.json(&["contact", "show", &ada, "--json"]);
    assert_eq!(shown["custom_fields"]["tier"], "Gold");

    let edited = hub.json(&[
        "field",
        "edit",
        "contact",
        "tier",
        "--label",
        "Customer tier",
        "--add-option",
        "Bronze",
        "--json",
    ]);
    assert_eq!(edited["label"], "Customer tier");
    assert_eq!(
        edited["options"],
        serde_json::json!(["Gold", "Silver", "Bronze"])
    );
    hub.ok(&["field", "set", "contact", &ada, "Customer tier", "bronze"]);
    assert_eq!(
        hub.json(&["contact", "show", &ada, "--json"])["custom_fields"]["tier"],
        "Bronze"
    );
}

#[test]
fn saved_views_save_list_show_and_refuse_bad_filters() {
    let hub = new_hub();
    hub.ok(&["field", "add", "contact", "Budget", "--type", "number"]);
    for (name, stage, budget, tag) in [
        ("Ada Lovelace", "lead", "500", "VIP"),
        ("Bob Babbage", "lead", "5000", "VIP"),
        ("Cy Clone", "customer", "9000", "VIP"),
        ("Dee Dee", "lead", "7000.25", "Partner"),
    ] {
        let id = hub
            .ok(&[
                "contact", "add", "--name", name, "--stage", stage, "--tag", tag,
            ])
            .trim()
            .to_owned();
        hub.ok(&["field", "set", "contact", &id, "budget", budget]);
    }

    let saved = hub.json(&[
        "view",
        "save",
        "Hot leads",
        "--entity",
        "contacts",
        "--filter",
        "stage=lead",
        "--filter",
        "budget>=1000",
        "--sort",
        "-budget",
        "--json",
    ]);
    assert_eq!(saved["name"], "Hot leads");
    assert_eq!(saved["entity"], "contact");
    assert_eq!(saved["filter"]["conditions"][1]["op"], "gte");
    assert_eq!(saved["sort"]["descending"], true);
    hub.ok(&[
        "view", "save", "VIPs", "--entity", "contacts", "--filter", "tag=vip",
    ]);

    let list = hub.json(&["view", "list", "--json"]);
    assert_eq!(names(&list, "name"), ["Hot leads", "VIPs"]);
    let text = hub.ok(&["view", "list"]);
    assert!(text.contains("stage=lead AND budget>=1000"), "{text}");

    let shown = hub.json(&["view", "show", "hot leads", "--json"]);
    assert_eq!(shown["page"]["total"], 2);
    assert_eq!(
        names(&shown["page"]["items"], "label"),
        ["Dee Dee", "Bob Babbage"]
    );
    assert_eq!(
        shown["page"]["items"][0]["custom_fields"]["budget"],
        "7000.25"
    );
    assert_eq!(shown["page"]["items"][0]["fields"]["stage"], "lead");
    let text = hub.ok(&["view", "show", "Hot leads"]);
    assert!(
        text.contains("BUDGET") && text.contains("7000.25") && text.contains("2 of 2"),
        "{text}"
    );
    let vips = hub.json(&["view", "show", "vips", "--json"]);
    assert_eq!(
        names(&vips["page"]["items"], "label"),
        ["Ada Lovelace", "Bob Babbage", "Cy Clone"]
    );

    // Ad hoc, unsaved.
    let page = hub.json(&[
        "view",
        "run",
        "--entity",
        "contacts",
        "--filter",
        "budget<1000",
        "--json",
    ]);
    assert_eq!(names(&page["items"], "label"), ["Ada Lovelace"]);

    // Replacing by name keeps one view.
    hub.ok(&[
        "view",
        "save",
        "HOT LEADS",
        "--entity",
        "contacts",
        "--filter",
        "stage=customer",
    ]);
    assert_eq!(
        hub.json(&["view", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let shown = hub.json(&["view", "show", "Hot leads", "--json"]);
    assert_eq!(names(&shown["page"]["items"], "label"), ["Cy Clone"]);

    // Bad input: clear error, nothing written.
    hub.fails(
        &[
            "view",
            "save",
            "X",
            "--entity",
            "contacts",
            "--filter",
            "budget>lots",
        ],
        "\"lots\" is not a number",
    );
    hub.fails(
        &[
            "view", "save", "X", "--entity", "contacts", "--filter", "shoe=4",
        ],
        "no field \"shoe\"",
    );
    hub.fails(
        &[
            "view", "save", "X", "--entity", "contacts", "--filter", "budget",
        ],
        "is not a condition",
    );
    hub.fails(
        &["view", "save", "X", "--entity", "planets"],
        "not one of contact",
    );
    hub.fails(&["view", "show", "nope"], "no view");

    hub.ok(&["view", "delete", "vips"]);
    assert_eq!(
        names(&hub.json(&["view", "list", "--json"]), "name"),
        ["HOT LEADS"]
    );
}

// --- through a real sync server ------------------------------------------------

mod synced {
    //! Two databases syncing through a real `hub-server` (SQLite file) in
    //! this test process, as tests/sync.rs does: tags, custom fields and
    //! saved views are plain synced entities, so they converge with no
    //! special sync code.

    use serde_json::json;

    use crate::common::{Device, Server};

    impl Device {
        fn sync(&self) {
            self.ok(&["sync", "--json"]);
        }

        fn keys(&self, args: &[&str], key: &str) -> Vec<String> {
            self.json(args)
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v[key].as_str().unwrap().to_owned())
                .collect()
        }
    }

    #[test]
    fn tags_fields_and_views_converge_and_edits_of_different_fields_do_not_conflict() {
        let server = Server::start();
        let (a, b) = (Device::new(), Device::new());
        a.login(&server, "laptop");
        b.login(&server, "desk");

        a.ok(&["field", "add", "contact", "Budget", "--type", "number"]);
        a.ok(&[
            "field", "add", "contact", "Tier", "--type", "select", "--option", "Gold", "--option",
            "Silver",
        ]);
        let ada = a
            .ok(&["contact", "add", "--name", "Ada Lovelace", "--tag", "VIP"])
            .trim()
            .to_owned();
        a.ok(&[
            "view",
            "save",
            "Big budgets",
            "--entity",
            "contacts",
            "--filter",
            "budget>1000",
        ]);
        a.sync();
        b.sync();
        assert_eq!(
            b.keys(&["field", "list", "contact", "--json"], "key"),
            ["budget", "tier"]
        );
        assert_eq!(b.keys(&["view", "list", "--json"], "name"), ["Big budgets"]);

        // Offline on both: different custom fields of one contact, a tag
        // rename on one, the same new field on both.
        a.ok(&["field", "set", "contact", &ada, "budget", "5000"]);
        b.ok(&["field", "set", "contact", &ada, "tier", "Gold"]);
        a.ok(&["tag", "rename", "VIP", "Key account"]);
        a.ok(&["field", "add", "contact", "Region", "--type", "text"]);
        b.ok(&["field", "add", "contact", "Region", "--type", "text"]);
        a.sync();
        b.sync();
        a.sync();

        for device in [&a, &b] {
            let shown = device.json(&["contact", "show", &ada, "--json"]);
            assert_eq!(
                shown["custom_fields"],
                json!({ "budget": "5000", "tier": "Gold" })
            );
            assert_eq!(shown["tags"], json!(["Key account"]));
            assert_eq!(
                device.keys(&["tag", "list", "--json"], "name"),
                ["Key account"]
            );
            assert_eq!(
                device.keys(&["field", "list", "contact", "--json"], "key"),
                ["budget", "tier", "region"]
            );
            let view = device.json(&["view", "show", "big budgets", "--json"]);
            assert_eq!(view["page"]["total"], 1);
            assert_eq!(view["page"]["items"][0]["label"], "Ada Lovelace");
            // Different fields of one contact: nothing to resolve.
            let conflicts = device.json(&["conflicts", "list", "--json"]);
            assert_eq!(conflicts["total"], 0, "{conflicts}");
        }
    }
}
