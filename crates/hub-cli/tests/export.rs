//! `hub export` as a user runs it: the real binary on a real database file;
//! CSV read back with the `csv` crate (a real RFC 4180 reader), JSON with
//! serde_json.

mod common;

use std::collections::BTreeMap;

use common::Hub;
use serde_json::Value;

fn new_hub() -> Hub {
    Hub::new()
        .env_remove("HUB_DEFAULT_REGION")
        .fails_write_nothing()
}

/// Header and rows (as header → value maps) of a CSV text.
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.expect("a well-formed CSV record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

impl Hub {
    fn contact(&self, args: &[&str]) -> String {
        let mut all = vec!["contact", "add"];
        all.extend_from_slice(args);
        self.ok(&all).trim().to_owned()
    }
}

/// A small CRM: a company, three contacts with custom fields, tags and
/// typed emails and phones; a saved view over a custom field.
fn crm() -> (Hub, tempfile::TempDir) {
    let hub = new_hub();
    hub.ok(&[
        "company",
        "add",
        "--name",
        "Acme, Inc.",
        "--domain",
        "acme.example",
    ]);
    hub.ok(&["field", "add", "contact", "Budget", "--type", "number"]);
    hub.ok(&[
        "field", "add", "contact", "Region", "--type", "select", "--option", "North", "--option",
        "South",
    ]);
    hub.ok(&["field", "add", "contact", "Renewal", "--type", "date"]);
    let ada = hub.contact(&[
        "--name",
        "Ada Lovelace",
        "--title",
        "Chief \"Engine\" Officer",
        "--company",
        "Acme, Inc.",
        "--email",
        "ada@acme.example",
        "--email",
        "home:ada@home.example",
        "--phone",
        "mobile:+44 20 7946 0958",
        "--tag",
        "VIP",
        "--tag",
        "board",
    ]);
    hub.ok(&[
        "field",
        "set",
        "contact",
        &ada,
        "budget",
        "12500.50",
        "--also",
        "region=north",
        "--also",
        "renewal=2027-01-31",
    ]);
    let zoe = hub.contact(&["--name", "Zoë Ångström", "--email", "zoe@example.se"]);
    hub.ok(&["field", "set", "contact", &zoe, "budget", "900"]);
    hub.contact(&[
        "--name",
        "Bob Babbage",
        "--notes",
        "line one\nline two, with a comma",
    ]);
    hub.ok(&[
        "view",
        "save",
        "Big budgets",
        "--entity",
        "contacts",
        "--filter",
        "budget>=1000",
    ]);
    (hub, tempfile::tempdir().unwrap())
}

#[test]
fn csv_of_a_saved_view_has_every_field_and_its_custom_fields() {
    let (hub, dir) = crm();
    let path = dir.path().join("big.csv");
    let summary = hub.json(&[
        "export",
        "csv",
        "--view",
        "big BUDGETS",
        "--out",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(summary["view"], "Big budgets");
    assert_eq!(summary["entity"], "contacts");
    assert_eq!(summary["rows"], 1);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"));
    assert!(bytes.ends_with(b"\r\n"), "RFC 4180 lines end in CRLF");
    let (header, rows) = read_csv(&bytes);
    assert_eq!(Value::from(header.clone()), summary["columns"]);
    for column in [
        "id",
        "display_name",
        "first_name",
        "last_name",
        "title",
        "company",
        "company.domain",
        "email:work",
        "email:home",
        "phone:mobile",
        "tags",
        "created_at",
        "custom:budget",
        "custom:region",
        "custom:renewal",
    ] {
        assert!(
            header.iter().any(|h| h == column),
            "no {column}: {header:?}"
        );
    }
    // Custom fields follow the built-in ones, in their order.
    let at = |h: &str| header.iter().position(|x| x == h).unwrap();
    assert!(at("created_at") < at("custom:budget"));
    assert!(
        at("custom:budget") < at("custom:region") && at("custom:region") < at("custom:renewal")
    );
    assert_eq!(rows.len(), 1);
    let ada = &rows[0];
    assert_eq!(ada["display_name"], "Ada Lovelace");
    assert_eq!(ada["first_name"], "Ada");
    assert_eq!(ada["last_name"], "Lovelace");
    assert_eq!(ada["title"], "Chief \"Engine\" Officer");
    assert_eq!(ada["company"], "Acme, Inc.");
    assert_eq!(ada["company.domain"], "acme.example");
    assert_eq!(ada["email:work"], "ada@acme.example");
    assert_eq!(ada["email:home"], "ada@home.example");
    assert_eq!(ada["phone:mobile"], "+442079460958");
    assert_eq!(ada["tags"], "board; VIP");
    assert_eq!(ada["custom:budget"], "12500.5");
    assert_eq!(ada["custom:region"], "North");
    assert_eq!(ada["custom:renewal"], "2027-01-31");
    assert!(chrono::DateTime::parse_from_rfc3339(&ada["created_at"]).is_ok());

    // The same export on stdout, and the whole list with the Excel mark.
    let stdout = hub.ok(&["export", "csv", "--view", "Big budgets"]);
    assert_eq!(stdout.as_bytes(), &bytes[..]);
    let all = hub.run(&["export", "csv", "--excel"]);
    assert!(all.status.success());
    assert!(all.stdout.starts_with(b"\xEF\xBB\xBF"));
    let (_, rows) = read_csv(&all.stdout[3..]);
    let names: Vec<&str> = rows.iter().map(|r| r["display_name"].as_str()).collect();
    assert_eq!(names, ["Ada Lovelace", "Bob Babbage", "Zoë Ångström"]);
    assert_eq!(rows[1]["notes"], "line one\nline two, with a comma");
    assert_eq!(rows[2]["custom:budget"], "900");
    assert_eq!(rows[2]["custom:region"], "");

    // A filter and sort typed on the command line.
    let out = hub.ok(&[
        "export",
        "csv",
        "--entity",
        "contacts",
        "--filter",
        "budget:set",
        "--sort",
        "-budget",
    ]);
    let (_, rows) = read_csv(out.as_bytes());
    let names: Vec<&str> = rows.iter().map(|r| r["display_name"].as_str()).collect();
    assert_eq!(names, ["Ada Lovelace", "Zoë Ångström"]);
}

#[test]
fn csv_of_deals_keeps_money_exact_with_its_currency() {
    let hub = new_hub();
    let ada = hub.contact(&["--name", "Ada", "--email", "ada@example.com"]);
    for (title, amount, currency) in [
        ("Rockets", "1234567.89", "USD"),
        ("Anvils", "0.10", "EUR"),
        ("Tea", "5000", "JPY"),
    ] {
        hub.ok(&[
            "deal",
            "add",
            "--title",
            title,
            "--amount",
            amount,
            "--currency",
            currency,
            "--contact",
            &ada,
        ]);
    }
    let out = hub.ok(&["export", "csv", "--entity", "deals", "--sort", "-amount"]);
    let (header, rows) = read_csv(out.as_bytes());
    assert!(header.iter().any(|h| h == "deal.currency"));
    let got: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["deal.title"].as_str(),
                r["deal.amount"].as_str(),
                r["deal.currency"].as_str(),
                r["email"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Rockets", "1234567.89", "USD", "ada@example.com"),
            ("Tea", "5000", "JPY", "ada@example.com"),
            ("Anvils", "0.10", "EUR", "ada@example.com"),
        ]
    );
    assert!(rows.iter().all(|r| r["display_name"] == "Ada"));
    assert!(rows.iter().all(|r| r["deal.status"] == "open"));
}

#[test]
fn json_export_is_byte_identical_for_the_same_data_and_has_only_live_records() {
    let (hub, dir) = crm();
    let first = hub.ok(&["export", "json"]);
    let second = hub.ok(&["export", "json"]);
    assert_eq!(first, second, "two exports of the same data differ");
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["format"], "customer-hub");
    assert_eq!(v["version"], 1);
    let contacts = v["entities"]["contact"].as_array().unwrap();
    assert_eq!(contacts.len(), 3);
    let ids: Vec<&str> = contacts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "rows are in id order");
    assert_eq!(v["entities"]["custom_field"].as_array().unwrap().len(), 3);
    assert_eq!(v["entities"]["saved_view"].as_array().unwrap().len(), 1);

    // A contact added then deleted: the export is the first one again.
    let extra = hub.contact(&["--name", "Temp", "--email", "temp@example.com"]);
    let with_extra = hub.ok(&["export", "json"]);
    assert_ne!(with_extra, first);
    hub.ok(&["contact", "delete", &extra]);
    assert_eq!(hub.ok(&["export", "json"]), first);

    // To a file, with a summary; entities can be left out.
    let path = dir.path().join("all.json");
    let summary = hub.json(&["export", "json", "--out", path.to_str().unwrap(), "--json"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    assert_eq!(summary["bytes"], first.len());
    let counted: u64 = summary["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["records"].as_u64().unwrap())
        .sum();
    assert_eq!(summary["records"].as_u64().unwrap(), counted);
    let slim: Value =
        serde_json::from_str(&hub.ok(&["export", "json", "--exclude", "saved_view"])).unwrap();
    assert!(slim["entities"].get("saved_view").is_none());
    assert_eq!(slim["entities"]["contact"], v["entities"]["contact"]);
}

#[test]
fn bad_exports_say_why_and_leave_no_file_behind() {
    let (hub, dir) = crm();
    let path = dir.path().join("out.csv");
    let p = path.to_str().unwrap();
    hub.fails(
        &["export", "csv", "--view", "nope", "--out", p],
        "no view with id nope",
    );
    assert!(!path.exists());
    hub.fails(&["export", "csv", "--entity", "shoes", "--out", p], "shoes");
    hub.fails(
        &["export", "csv", "--filter", "shoe=1", "--out", p],
        "no field \"shoe\"",
    );
    hub.fails(
        &[
            "export",
            "csv",
            "--entity",
            "reminders",
            "--filter",
            "title=x",
        ],
        "reminders are exported whole",
    );
    hub.fails(
        &["export", "json", "--exclude", "shoes", "--out", p],
        "not an entity",
    );
    hub.fails(&["export", "json", "--json"], "--out");
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a partial file was left"
    );
    // A good file is not replaced by a failed export.
    std::fs::write(&path, "keep me").unwrap();
    hub.fails(&["export", "csv", "--view", "nope", "--out", p], "no view");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    let missing = dir.path().join("no/such/dir/out.csv");
    hub.fails(
        &["export", "json", "--out", missing.to_str().unwrap()],
        "cannot write",
    );
}

#[test]
fn vcard_and_ics_exports_of_a_view_and_of_open_reminders() {
    let (hub, dir) = crm();
    let cards = hub.ok(&["export", "vcard", "--view", "Big budgets"]);
    assert_eq!(cards.matches("BEGIN:VCARD\r\n").count(), 1, "{cards}");
    assert!(cards.contains("VERSION:4.0\r\n"));
    assert!(cards.contains("FN:Ada Lovelace\r\n"), "{cards}");
    assert!(cards.contains("ada@home.example"));
    let path = dir.path().join("all.vcf");
    let summary = hub.json(&["export", "vcard", "--out", path.to_str().unwrap(), "--json"]);
    assert_eq!(summary["cards"], 3);
    let all = std::fs::read_to_string(&path).unwrap();
    assert_eq!(all.matches("END:VCARD\r\n").count(), 3);
    hub.ok(&[
        "view",
        "save",
        "Open deals",
        "--entity",
        "deals",
        "--filter",
        "status=open",
    ]);
    hub.fails(&["export", "vcard", "--view", "Open deals"], "not contacts");

    let ada = hub.json(&["contact", "list", "--json"])["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hub.ok(&[
        "reminder",
        "add",
        "--title",
        "Call Ada back",
        "--due",
        "2030-03-04T09:30",
        "--tz",
        "Europe/Berlin",
        "--contact",
        &ada,
    ]);
    let path = dir.path().join("todo.ics");
    let summary = hub.json(&[
        "export",
        "ics",
        "--no-follow-ups",
        "--out",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(summary["reminders"], 1);
    assert_eq!(summary["follow_ups"], 0);
    assert_eq!(summary["zones"][0], "Europe/Berlin");
    let ics = std::fs::read_to_string(&path).unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(ics.contains("SUMMARY:Call Ada back"), "{ics}");
    assert!(
        ics.contains("DTSTART;TZID=Europe/Berlin:20300304T093000"),
        "{ics}"
    );
    hub.fails(&["export", "ics", "--tz", "Mars/Olympus"], "Mars/Olympus");
}

#[test]
fn a_csv_we_export_imports_into_an_empty_database_with_the_same_values() {
    let (hub, dir) = crm();
    let path = dir.path().join("contacts.csv");
    hub.ok(&["export", "csv", "--excel", "--out", path.to_str().unwrap()]);
    let empty = new_hub();
    empty.ok(&["field", "add", "contact", "Budget", "--type", "number"]);
    empty.ok(&[
        "field", "add", "contact", "Region", "--type", "select", "--option", "North", "--option",
        "South",
    ]);
    empty.ok(&["field", "add", "contact", "Renewal", "--type", "date"]);
    let report = empty.json(&["import", "csv", path.to_str().unwrap(), "--json"]);
    assert_eq!(report["report"]["created"], 3, "{report}");
    assert_eq!(report["report"]["error_count"], 0, "{report}");
    // Our headers map themselves; what the import does not take is skipped.
    let skipped: Vec<&str> = report["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["field"].is_null())
        .map(|m| m["column"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["id", "stay_in_touch_days", "created_at", "updated_at"]
    );

    // Ids and times are new; an empty source becomes "import".
    let rows = |hub: &Hub| {
        let (_, mut rows) = read_csv(hub.ok(&["export", "csv"]).as_bytes());
        for r in &mut rows {
            for k in ["id", "created_at", "updated_at"] {
                r.remove(k);
            }
            if r["source"].is_empty() {
                r.insert("source".into(), "import".into());
            }
        }
        rows
    };
    let (original, imported) = (rows(&hub), rows(&empty));
    assert_eq!(original.len(), 3);
    assert_eq!(original, imported);

    // Re-importing the same file changes nothing; the import finds a
    // contact again by email or phone, so only Bob (neither) is made anew.
    let again = empty.json(&["import", "csv", path.to_str().unwrap(), "--json"]);
    let again = &again["report"];
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64()),
        (Some(1), Some(0))
    );
}
