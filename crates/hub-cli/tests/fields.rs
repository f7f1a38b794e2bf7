//! `hub tag`, `hub field` and `hub view` as a user runs them: the real
//! binary on a real database file.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Hub {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Hub {
    fn new() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hub.db");
        Hub { _dir: dir, db }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hub"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("HUB_DB")
            .env_remove("HUB_DEFAULT_REGION")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hub {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("hub {args:?}: {e}: {out}"))
    }

    /// The command fails, says why on stderr, prints nothing on stdout and
    /// writes nothing (the change log does not grow).
    fn fails(&self, args: &[&str], says: &str) {
        let before = self.log_len();
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "hub {args:?} should fail");
        assert!(
            stderr.contains(says),
            "hub {args:?}: stderr {stderr:?} lacks {says:?}"
        );
        assert!(out.stdout.is_empty());
        assert_eq!(self.log_len(), before, "hub {args:?} wrote something");
    }

    /// Changes in the outbox: what every write adds to.
    fn log_len(&self) -> usize {
        if !self.db.exists() {
            return 0;
        }
        let out = Command::new("sqlite3")
            .arg(&self.db)
            .arg("SELECT count(*) FROM change_log")
            .output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(0),
            // No sqlite3 shell: count what `hub sync status` reports instead.
            _ => self.json(&["sync", "status", "--json"])["pending"]
                .as_u64()
                .unwrap_or(0) as usize,
        }
    }

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
    let hub = Hub::new();
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
