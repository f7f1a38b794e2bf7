//! The `hub` binary as a user runs it: real processes on a real database file.

mod common;

use common::{run_on, Hub};

/// Runs remove `HUB_DEFAULT_REGION`.
fn new_hub() -> Hub {
    Hub::new().env_remove("HUB_DEFAULT_REGION")
}

impl Hub {
    fn total(&self) -> u64 {
        self.json(&["contact", "list", "--json"])["total"]
            .as_u64()
            .unwrap()
    }
}

#[test]
fn add_list_edit_show_delete_round_trip() {
    let hub = new_hub();
    let id = hub.ok(&[
        "contact",
        "add",
        "--name",
        "Ada Lovelace",
        "--email",
        "Ada@Engines.Example.com",
        "--phone",
        "mobile:(415) 555-2671",
        "--company",
        "Analytical Engines",
        "--title",
        "Analyst",
        "--tag",
        "vip",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 36, "prints the new id: {id:?}");

    let list = hub.json(&["contact", "list", "--json"]);
    assert_eq!(list["total"], 1);
    let row = &list["items"][0];
    assert_eq!(row["id"], id);
    assert_eq!(row["display_name"], "Ada Lovelace");
    assert_eq!(row["email"], "Ada@engines.example.com");
    assert_eq!(row["phone"], "+14155552671");
    assert_eq!(row["company_name"], "Analytical Engines");
    assert_eq!(row["tags"], serde_json::json!(["vip"]));

    hub.ok(&[
        "contact",
        "edit",
        id,
        "--set",
        "title=Chief Analyst",
        "--set",
        "stage=customer",
        "--set",
        "email=ada@engines.example.com,home:ada@home.example.net",
    ]);
    let shown = hub.json(&["contact", "show", id, "--json"]);
    assert_eq!(shown["title"], "Chief Analyst");
    assert_eq!(shown["lifecycle_stage"], "customer");
    assert_eq!(shown["first_name"], "Ada");
    assert_eq!(shown["last_name"], "Lovelace");
    assert_eq!(
        shown["emails"][1],
        serde_json::json!({"kind": "home", "address": "ada@home.example.net"})
    );
    assert_eq!(shown["company"]["name"], "Analytical Engines");

    let found = hub.json(&["contact", "list", "--search", "ada@hom", "--json"]);
    assert_eq!(found["total"], 1);
    let text = hub.ok(&["contact", "show", id]);
    assert!(
        text.contains("Chief Analyst") && text.contains("+14155552671"),
        "{text}"
    );

    let companies = hub.json(&["company", "list", "--json"]);
    assert_eq!(companies["items"][0]["contact_count"], 1);
    hub.ok(&["contact", "delete", id]);
    assert_eq!(hub.total(), 0);
    hub.fails(&["contact", "show", id], "no contact with id");

    // The trash has it; restoring brings it back with everything it had.
    let trash = hub.json(&["trash", "list", "--json"]);
    assert_eq!(trash["total"], 1);
    assert_eq!(trash["items"][0]["entity"], "contact");
    assert_eq!(trash["items"][0]["id"], id);
    assert_eq!(
        trash["items"][0]["edited_after_delete"],
        serde_json::json!([])
    );
    hub.fails(&["trash", "restore", "tag", id], "has no trash");
    hub.ok(&["trash", "restore", "contact", id]);
    assert_eq!(
        hub.json(&["contact", "show", id, "--json"])["title"],
        "Chief Analyst"
    );
    assert_eq!(hub.json(&["trash", "list", "--json"])["total"], 0);
    hub.fails(&["trash", "restore", "contact", id], "no contact with id");
}

#[test]
fn companies_add_list_show() {
    let hub = new_hub();
    let id = hub.ok(&[
        "company",
        "add",
        "--name",
        "Blue Harbor",
        "--domain",
        "https://www.BlueHarbor.example.com/about",
        "--size",
        "11-50",
        "--country",
        "us",
    ]);
    let shown = hub.json(&["company", "show", id.trim(), "--json"]);
    assert_eq!(shown["domain"], "blueharbor.example.com");
    assert_eq!(shown["country"], "US");
    assert_eq!(
        hub.json(&["company", "show", "blue harbor", "--json"])["id"],
        id.trim()
    );
    assert_eq!(
        hub.json(&["company", "list", "--search", "blue", "--json"])["total"],
        1
    );
    hub.fails(&["company", "add", "--name", "X", "--size", "huge"], "size");
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let hub = new_hub();
    hub.ok(&[
        "contact",
        "add",
        "--name",
        "Kept",
        "--email",
        "kept@example.com",
    ]);
    hub.fails(
        &["contact", "add", "--name", "Grace", "--email", "grace@"],
        "emails[0]",
    );
    hub.fails(
        &["contact", "add", "--name", "Grace", "--phone", "555"],
        "phones[0]",
    );
    hub.fails(&["contact", "add", "--name", "   "], "needs a name");
    hub.fails(
        &["contact", "add", "--name", "Grace", "--stage", "hot"],
        "not a lifecycle stage",
    );
    hub.fails(
        &["contact", "show", "0195e4a2-0000-7000-8000-000000000000"],
        "no contact with id",
    );
    hub.fails(
        &[
            "contact",
            "edit",
            "0195e4a2-0000-7000-8000-000000000000",
            "--set",
            "title=x",
        ],
        "no contact with id",
    );
    hub.fails(
        &["contact", "delete", "0195e4a2-0000-7000-8000-000000000000"],
        "no contact with id",
    );
    hub.fails(&["contact", "show", "not-a-uuid"], "invalid");
    let id = hub.json(&["contact", "list", "--json"])["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hub.fails(
        &["contact", "edit", &id, "--set", "email=nope"],
        "emails[0]",
    );
    hub.fails(
        &["contact", "edit", &id, "--set", "shoe_size=9"],
        "unknown field",
    );
    assert_eq!(hub.total(), 1);
    assert_eq!(
        hub.json(&["contact", "show", &id, "--json"])["emails"][0]["address"],
        "kept@example.com"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("budget.xlsx");
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    let out = run_on(&path, &["contact", "list"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Customer Hub database"));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[tokio::test]
async fn a_locked_database_fails_with_a_message_instead_of_hanging() {
    let hub = new_hub();
    hub.ok(&["contact", "add", "--name", "First"]);
    let store = hub_core::Store::open(&hub.db).await.unwrap();
    let holder = store.write().await.unwrap(); // another program mid-write
    let out = run_on(
        &hub.db,
        &["contact", "add", "--name", "Second"],
        &[("HUB_BUSY_TIMEOUT_MS", "300")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    drop(holder);
    assert_eq!(hub.total(), 1);
    hub.ok(&["contact", "add", "--name", "Second"]);
    assert_eq!(hub.total(), 2);
}

#[test]
fn demo_data_fills_an_empty_database_once_and_clears() {
    let hub = new_hub();
    let first = hub.json(&["demo", "--contacts", "200", "--if-empty", "--json"]);
    assert_eq!(first["contacts"], 200);
    let again = hub.json(&["demo", "--contacts", "200", "--if-empty", "--json"]);
    assert_eq!(again["skipped"], true);
    assert_eq!(hub.total(), 200);
    hub.ok(&["demo", "--clear"]);
    assert_eq!(hub.total(), 0);
}

#[test]
fn default_region_reads_national_numbers() {
    let hub = new_hub();
    hub.ok(&["config", "set", "default_region", "gb"]);
    assert_eq!(hub.ok(&["config", "get", "default_region"]).trim(), "GB");
    let id = hub.ok(&[
        "contact",
        "add",
        "--name",
        "Alan Turing",
        "--phone",
        "020 7946 0018",
    ]);
    assert_eq!(
        hub.json(&["contact", "show", id.trim(), "--json"])["phones"][0]["number"],
        "+442079460018"
    );
    hub.fails(
        &["config", "set", "default_region", "Narnia"],
        "not a two-letter region",
    );
}
