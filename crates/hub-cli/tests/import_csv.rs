//! `hub import csv|vcard|list|revert` on files that look like real exports
//! (tests/fixtures/import/csv, written from each vendor's documented columns).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::Hub;
use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/import")
        .join(name)
        .display()
        .to_string()
}

fn new_hub() -> Hub {
    Hub::new().env_remove("HUB_DEFAULT_REGION")
}

impl Hub {
    fn import(&self, file: &str, extra: &[&str]) -> Value {
        let mut args = vec!["import", "csv", file, "--json"];
        args.extend_from_slice(extra);
        self.json(&args)["report"].clone()
    }

    /// The whole database as `hub export json` writes it, minus the import history.
    fn dump(&self) -> Value {
        self.json(&[
            "export",
            "json",
            "--exclude",
            "import",
            "--exclude",
            "import_batch",
        ])
    }
}

fn rows<'a>(dump: &'a Value, entity: &str) -> Vec<&'a Value> {
    dump["entities"][entity]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// A contact with its emails, phones, addresses, tags and company name.
struct Person {
    row: Value,
    emails: Vec<(String, String)>,
    phones: Vec<(String, String)>,
    addresses: Vec<Value>,
    tags: Vec<String>,
    company: Option<String>,
}

fn person(dump: &Value, email: &str) -> Person {
    let contact_id = rows(dump, "contact_email")
        .into_iter()
        .find(|e| e["address"].as_str().unwrap().eq_ignore_ascii_case(email))
        .unwrap_or_else(|| panic!("no contact with {email}"))["contact_id"]
        .clone();
    person_by_id(dump, &contact_id)
}

fn person_by_id(dump: &Value, id: &Value) -> Person {
    let row = rows(dump, "contact")
        .into_iter()
        .find(|c| &c["id"] == id)
        .unwrap()
        .clone();
    let of = |entity: &str| -> Vec<Value> {
        let mut v: Vec<Value> = rows(dump, entity)
            .into_iter()
            .filter(|r| &r["contact_id"] == id)
            .cloned()
            .collect();
        v.sort_by_key(|r| r["position"].as_i64());
        v
    };
    let pair = |r: &Value, f: &str| {
        (
            r["kind"].as_str().unwrap().to_owned(),
            r[f].as_str().unwrap().to_owned(),
        )
    };
    let mut tags: Vec<String> = of("contact_tag")
        .iter()
        .map(|l| {
            rows(dump, "tag")
                .into_iter()
                .find(|t| t["id"] == l["tag_id"])
                .unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    tags.sort();
    let company = rows(dump, "company")
        .into_iter()
        .find(|c| c["id"] == row["company_id"])
        .map(|c| c["name"].as_str().unwrap().to_owned());
    Person {
        emails: of("contact_email")
            .iter()
            .map(|r| pair(r, "address"))
            .collect(),
        phones: of("contact_phone")
            .iter()
            .map(|r| pair(r, "number"))
            .collect(),
        addresses: of("contact_address"),
        tags,
        company,
        row,
    }
}

fn counts(r: &Value) -> (u64, u64, u64, u64) {
    (
        r["created"].as_u64().unwrap(),
        r["updated"].as_u64().unwrap(),
        r["skipped"].as_u64().unwrap(),
        r["error_count"].as_u64().unwrap(),
    )
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn hubspot_contacts_export() {
    let hub = new_hub();
    let r = hub.import(&fixture("csv/hubspot-contacts.csv"), &[]);
    assert_eq!(counts(&r), (5, 0, 0, 1), "{r}");
    assert_eq!(r["errors"][0]["line"], 7);
    assert!(r["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("broken@@example.com"));
    assert_eq!(r["companies_created"], 2);

    let d = hub.dump();
    let maria = person(&d, "maria.johnson@brightwave.example.com");
    assert_eq!(maria.row["display_name"], "Maria Johnson");
    assert_eq!(maria.row["title"], "Head of Procurement");
    assert_eq!(maria.row["lifecycle_stage"], "customer");
    assert_eq!(maria.row["owner"], "Sam Carter");
    assert_eq!(
        maria.phones,
        pairs(&[("work", "+14155552671"), ("mobile", "+14155552672")])
    );
    assert_eq!(maria.company.as_deref(), Some("Brightwave Solar"));
    assert_eq!(maria.addresses[0]["city"], "San Francisco");
    assert_eq!(maria.addresses[0]["postal_code"], "94105");
    let brightwave = rows(&d, "company")
        .into_iter()
        .find(|c| c["name"] == "Brightwave Solar")
        .unwrap();
    assert_eq!(brightwave["domain"], "brightwave.example.com");
    // Both Inbound Labs people share one company, found by its domain.
    let brian = person(&d, "brian@inbound.example.com");
    let dharmesh = person(&d, "dharmesh@inbound.example.com");
    assert_eq!(brian.row["company_id"], dharmesh.row["company_id"]);
    assert_eq!(brian.row["lifecycle_stage"], "prospect");
    assert_eq!(dharmesh.row["lifecycle_stage"], "lead");
    // A row with only an email is named after it.
    assert_eq!(
        person(&d, "info@noname.example.net").row["display_name"],
        "info@noname.example.net"
    );

    let again = hub.import(&fixture("csv/hubspot-contacts.csv"), &[]);
    assert_eq!(counts(&again), (0, 0, 5, 1), "{again}");
    assert_eq!(hub.dump(), d);
}

#[test]
fn pipedrive_deals_export() {
    let hub = new_hub();
    let r = hub.import(&fixture("csv/pipedrive-deals.csv"), &[]);
    // The last row adds a second deal to the contact of the first: an update.
    assert_eq!(counts(&r), (3, 1, 0, 1), "{r}");
    assert_eq!(r["deals_created"], 4, "{r}");
    assert_eq!(r["errors"][0]["line"], 5);
    assert!(r["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Demo Scheduled"));
    let d = hub.dump();
    let maria = person(&d, "maria.johnson@brightwave.example.com");
    let deals: Vec<&Value> = rows(&d, "deal");
    let of_maria: Vec<&&Value> = deals
        .iter()
        .filter(|x| x["contact_id"] == maria.row["id"])
        .collect();
    assert_eq!(of_maria.len(), 2, "the won renewal is Maria's second deal");
    let fleet = deals
        .iter()
        .find(|x| x["title"] == "Fleet renewal")
        .unwrap();
    assert_eq!(fleet["amount"], "48000.50");
    assert_eq!(fleet["currency"], "EUR");
    assert_eq!(fleet["expected_close"], "2024-09-15");
    assert_eq!(fleet["owner"], "Ana Ruiz");
    let stage_name = |deal: &Value| {
        rows(&d, "pipeline_stage")
            .into_iter()
            .find(|s| s["id"] == deal["stage_id"])
            .unwrap()["name"]
            .clone()
    };
    assert_eq!(stage_name(fleet), "Proposal");
    let luc = person(&d, "luc.moreau@transports.example.fr");
    assert_eq!(fleet["contact_id"], luc.row["id"]);
    assert_eq!(fleet["company_id"], luc.row["company_id"]);
    assert_eq!(luc.tags, vec!["France", "VIP"]);
    assert_eq!(luc.phones, pairs(&[("work", "+33478421000")]));
    let renewal = deals.iter().find(|x| x["title"] == "Renewal 2023").unwrap();
    assert_eq!(renewal["status"], "won");

    let again = hub.import(&fixture("csv/pipedrive-deals.csv"), &[]);
    assert_eq!(counts(&again), (0, 0, 4, 1), "{again}");
    assert_eq!(again["deals_created"], 0);
    assert_eq!(hub.dump(), d);
}

#[test]
fn google_contacts_export() {
    let hub = new_hub();
    let r = hub.import(&fixture("csv/google-contacts.csv"), &[]);
    assert_eq!(counts(&r), (3, 0, 0, 0), "{r}");
    let d = hub.dump();
    let zoe = person(&d, "zoe.mueller@example.de");
    assert_eq!(zoe.row["first_name"], "Zoë");
    assert_eq!(zoe.row["display_name"], "Zoë Müller");
    assert_eq!(zoe.row["title"], "Designer");
    assert_eq!(zoe.row["birthday"], "1988-06-14");
    assert_eq!(zoe.row["website"], "https://zoe.example.de");
    assert_eq!(
        zoe.row["notes"],
        "Met at Web Summit.\nLikes \"short\" calls."
    );
    assert_eq!(
        zoe.emails,
        pairs(&[
            ("home", "zoe.mueller@example.de"),
            ("work", "z.mueller@kraftwerk.example.de")
        ])
    );
    assert_eq!(zoe.phones, pairs(&[("mobile", "+4930901820")]));
    assert_eq!(
        zoe.tags,
        vec!["Friends", "Lisbon"],
        "myContacts is left out"
    );
    assert_eq!(zoe.company.as_deref(), Some("Kraftwerk GmbH"));
    assert_eq!(zoe.addresses[0]["kind"], "home");
    assert_eq!(zoe.addresses[0]["street"], "Unter den Linden 5");
    assert_eq!(zoe.addresses[0]["city"], "Berlin");
    // Google's "a ::: b" cell: two addresses.
    let tomas = person(&d, "tomas@obrien.example.ie");
    assert_eq!(tomas.emails.len(), 2);
    assert_eq!(tomas.row["last_name"], "O'Brien");
    assert!(tomas.tags.is_empty());
    let phone_only = rows(&d, "contact_phone")
        .into_iter()
        .find(|p| p["number"] == "+14155552690")
        .unwrap()["contact_id"]
        .clone();
    assert_eq!(
        person_by_id(&d, &phone_only).row["display_name"],
        "Phone Only"
    );

    let again = hub.import(&fixture("csv/google-contacts.csv"), &[]);
    assert_eq!(counts(&again), (0, 0, 3, 0), "{again}");
    assert_eq!(hub.dump(), d);
}

#[test]
fn outlook_export_in_windows_1252() {
    let hub = new_hub();
    let out = hub.json(&[
        "import",
        "csv",
        &fixture("csv/outlook-contacts.csv"),
        "--json",
    ]);
    let fields: Vec<(String, Value)> = out["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["column"].as_str().unwrap().to_owned(), m["field"].clone()))
        .collect();
    let field = |c: &str| fields.iter().find(|(k, _)| k == c).unwrap().1.clone();
    assert_eq!(field("Title"), Value::Null, "Outlook's Title is Mr./Dr.");
    assert_eq!(field("Job Title"), "title");
    assert_eq!(field("Business Phone"), "phone:work");
    assert_eq!(field("E-mail 2 Address"), "email:other");
    let r = &out["report"];
    assert_eq!(counts(r), (2, 0, 0, 0), "{r}");
    let d = hub.dump();
    let francois = person(&d, "francois.lefevre@cafe-creme.example.fr");
    assert_eq!(francois.row["display_name"], "François Lefèvre");
    assert_eq!(francois.row["title"], "Gérant");
    assert_eq!(francois.row["birthday"], "1975-03-14");
    assert_eq!(francois.row["website"], "https://cafe-creme.example.fr");
    assert_eq!(
        francois.row["notes"],
        "Préfère le téléphone — pas d'e-mails le lundi."
    );
    assert_eq!(francois.company.as_deref(), Some("Café Crème SARL"));
    assert_eq!(francois.tags, vec!["Fournisseurs", "Paris"]);
    assert_eq!(
        francois.phones,
        pairs(&[("work", "+33478421000"), ("mobile", "+33612345678")])
    );
    assert_eq!(francois.addresses[0]["kind"], "work");
    assert_eq!(francois.addresses[0]["street"], "12 rue de la Paix");
    let jurgen = person(&d, "juergen.weiss@strasse.example.de");
    assert_eq!(jurgen.row["last_name"], "Weiß");
    assert_eq!(jurgen.row["birthday"], Value::Null, "0/0/00 is no birthday");
    assert_eq!(jurgen.company.as_deref(), Some("Straße & Söhne GmbH"));
    assert_eq!(
        jurgen.emails,
        pairs(&[
            ("work", "juergen.weiss@strasse.example.de"),
            ("other", "jw@privat.example.de")
        ])
    );
    let kinds: Vec<&str> = jurgen
        .addresses
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"home") && kinds.contains(&"work"));

    let again = hub.import(&fixture("csv/outlook-contacts.csv"), &[]);
    assert_eq!(counts(&again), (0, 0, 2, 0), "{again}");
}

#[test]
fn salesforce_utf16_tabs_and_zoho_semicolons() {
    let hub = new_hub();
    let r = hub.import(&fixture("csv/salesforce-contacts.txt"), &[]);
    assert_eq!(counts(&r), (2, 0, 0, 0), "{r}");
    let r = hub.import(&fixture("csv/zoho-contacts.csv"), &[]);
    assert_eq!(counts(&r), (2, 0, 0, 0), "{r}");
    let d = hub.dump();
    let asa = person(&d, "asa.lindstrom@nordljus.example.se");
    assert_eq!(asa.row["display_name"], "Åsa Lindström");
    assert_eq!(asa.row["source"], "Web");
    assert_eq!(asa.row["owner"], "Ana Ruiz");
    assert_eq!(asa.company.as_deref(), Some("Nordljus AB"));
    assert_eq!(asa.addresses[0]["city"], "Stockholm");
    assert_eq!(
        person(&d, "kenji.sato@yamada.example.jp")
            .company
            .as_deref(),
        Some("山田商事")
    );
    let giulia = person(&d, "giulia.rossi@vino.example.it");
    assert_eq!(
        giulia.row["notes"],
        "Ordina a settembre; vuole il listino; parla inglese"
    );
    assert_eq!(giulia.tags, vec!["Italia", "VIP"]);
    let pieter = person(&d, "pieter@tulp.example.nl");
    assert_eq!(
        pieter.emails,
        pairs(&[
            ("work", "pieter@tulp.example.nl"),
            ("other", "p.devries@home.example.nl")
        ])
    );
    for file in ["csv/salesforce-contacts.txt", "csv/zoho-contacts.csv"] {
        let again = hub.import(&fixture(file), &[]);
        assert_eq!(counts(&again), (0, 0, 2, 0), "{file}: {again}");
    }
    assert_eq!(hub.dump(), d);
}

#[test]
fn bad_rows_are_reported_by_line_and_the_others_import() {
    let hub = new_hub();
    let file = fixture("csv/broken.csv");
    let dry = hub.import(&file, &["--dry-run"]);
    assert_eq!(counts(&dry), (3, 0, 0, 5), "{dry}");
    assert_eq!(hub.log_len(), 0, "a dry run writes nothing");
    let errors: Vec<(u64, String)> = dry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![3, 4, 5, 7, 8]);
    assert!(errors[0].1.contains("2 fields"), "{errors:?}");
    assert!(errors[1].1.contains("bad email@example.com"), "{errors:?}");
    assert!(errors[2].1.contains("never ends"), "{errors:?}");
    assert!(errors[3].1.contains("5 fields"), "{errors:?}");
    assert!(errors[4].1.contains("\"12\""), "{errors:?}");
    // The human summary names every bad line.
    let text = hub.ok(&["import", "csv", &file, "--dry-run"]);
    assert!(text.contains("line 4: \"bad email@example.com\" is not a valid email address"));

    let r = hub.import(&file, &[]);
    assert_eq!(counts(&r), (3, 0, 0, 5));
    // Skipping the phone column lets the bad-phone row in.
    let r = hub.import(&file, &["--map", "Phone=skip"]);
    assert_eq!(counts(&r), (1, 0, 3, 4), "{r}");
}

#[test]
fn binary_and_huge_files_are_refused_quickly_and_write_nothing() {
    let hub = new_hub().fails_write_nothing();
    hub.ok(&["contact", "add", "--name", "Existing"]);
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("photo.csv");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0").unwrap();
    hub.fails(&["import", "csv", png.to_str().unwrap()], "not a CSV file");
    let zip = dir.path().join("contacts.csv");
    std::fs::write(&zip, b"PK\x03\x04\x14\0\0\0").unwrap();
    hub.fails(&["import", "csv", zip.to_str().unwrap()], "Excel");
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, b"").unwrap();
    hub.fails(&["import", "csv", empty.to_str().unwrap()], "empty");

    // A 2 GB file of zero bytes (sparse: takes no disk space).
    let huge = dir.path().join("huge.csv");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let start = Instant::now();
    hub.fails(&["import", "csv", huge.to_str().unwrap()], "binary file");
    assert!(start.elapsed().as_secs() < 10, "took {:?}", start.elapsed());
}

/// Peak memory (KB) of a dry-run import of `rows` rows with 2 KB notes each
/// (one bad), and the file's size in KB.
fn dry_run_peak(rows: usize) -> Option<(u64, u64)> {
    let hub = new_hub();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(f, "Name,Email,Notes").unwrap();
        let filler = "x".repeat(2000);
        for i in 0..rows {
            if i == 777 {
                writeln!(f, "Bad {i},bad@@example.com,{filler}").unwrap();
            } else {
                writeln!(f, "Person {i},p{i}@example.com,{filler}").unwrap();
            }
        }
    }
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("maxrss_kb=%M")
        .arg(env!("CARGO_BIN_EXE_hub"))
        .args(["--db", hub.db.to_str().unwrap(), "import", "csv"])
        .arg(&path)
        .args(["--dry-run", "--json"])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts(&v["report"]), (rows as u64 - 1, 0, 0, 1));
    assert_eq!(v["report"]["errors"][0]["line"], 779);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|k| k.trim().parse().ok())
        .unwrap();
    Some((kb, std::fs::metadata(&path).unwrap().len() / 1024))
}

#[test]
fn memory_does_not_grow_with_the_file() {
    // The reader streams; SQLite's cache is bounded and spills to the WAL.
    let Some((small, small_file)) = dry_run_peak(5_000) else {
        eprintln!("/usr/bin/time is missing: skipping the memory check");
        return;
    };
    let (big, big_file) = dry_run_peak(25_000).unwrap();
    assert!(
        big < small + (big_file - small_file) / 2,
        "peak {small} KB for {small_file} KB, {big} KB for {big_file} KB"
    );
}

#[test]
fn revert_restores_the_database_exactly() {
    let hub = new_hub();
    // The default pipeline is made on first use of deals (any `hub deal` or
    // `hub pipeline` command, the Deals screen), not by the import: it stays.
    hub.ok(&["pipeline", "list"]);
    // Data that was there before: the import updates Maria and Brian.
    hub.ok(&[
        "contact",
        "add",
        "--name",
        "Maria J.",
        "--email",
        "Maria.Johnson@Brightwave.example.com",
        "--title",
        "Buyer",
        "--tag",
        "old-friend",
    ]);
    hub.ok(&[
        "contact",
        "add",
        "--first",
        "Brian",
        "--last",
        "Halligan",
        "--phone",
        "+1 617 555 0134",
        "--company",
        "Inbound Labs",
    ]);
    let before = hub.dump();
    let r = hub.import(&fixture("csv/hubspot-contacts.csv"), &[]);
    assert_eq!(counts(&r), (3, 2, 0, 1), "{r}");
    let r2 = hub.import(&fixture("csv/pipedrive-deals.csv"), &[]);
    let after = hub.dump();
    assert_ne!(after, before);
    let maria = person(&after, "maria.johnson@brightwave.example.com");
    assert_eq!(maria.row["title"], "Head of Procurement");
    assert_eq!(maria.emails.len(), 1, "the same address in another case");

    let list = hub.json(&["import", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["file_name"], "pipedrive-deals.csv");
    assert_eq!(list[1]["counts"]["updated"], 2);
    assert_eq!(list[1]["status"], "done");

    // Newest first; a short id prefix works.
    let id2 = r2["import_id"].as_str().unwrap();
    hub.json(&["import", "revert", id2, "--json"]);
    let id1 = r["import_id"].as_str().unwrap();
    let undo = hub.json(&["import", "revert", &id1[..13], "--json"]);
    assert!(undo["removed"].as_u64().unwrap() > 0);
    assert_eq!(hub.dump(), before);
    let list = hub.json(&["import", "list", "--json"]);
    assert_eq!(list[1]["status"], "reverted");
    hub.fails(&["import", "revert", id1], "already reverted");
}

#[test]
fn saved_mappings() {
    let hub = new_hub();
    let file = fixture("csv/broken.csv");
    hub.import(
        &file,
        &[
            "--dry-run",
            "--map",
            "Phone=skip",
            "--save-mapping",
            "No phones",
        ],
    );
    let saved = hub.json(&["import", "mappings", "--json"]);
    assert_eq!(saved[0]["name"], "No phones");
    assert_eq!(saved[0]["columns"]["Phone"], Value::Null);
    assert_eq!(saved[0]["columns"]["Email"], "email:work");
    let r = hub.import(&file, &["--mapping", "no PHONES"]);
    assert_eq!(counts(&r), (4, 0, 0, 4), "{r}");
    hub.fails(
        &["import", "csv", &file, "--mapping", "nope"],
        "no saved mapping",
    );
    hub.fails(
        &["import", "csv", &file, "--map", "Nope=email"],
        "no column \"Nope\"",
    );
    hub.fails(
        &["import", "csv", &file, "--map", "Email=fax"],
        "not a field",
    );
}

#[test]
fn vcard_files_import_through_the_same_pipeline() {
    let hub = new_hub();
    let file = fixture("vcard/apple-3.0.vcf");
    let r = hub.json(&["import", "vcard", &file, "--json"]);
    assert!(r["created"].as_u64().unwrap() > 0, "{r}");
    let d = hub.dump();
    let again = hub.json(&["import", "vcard", &file, "--json"]);
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    assert_eq!(hub.dump(), d);
    let list = hub.json(&["import", "list", "--json"]);
    assert_eq!(list[0]["format"], "vcard");
}
