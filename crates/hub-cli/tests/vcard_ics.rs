//! `hub import vcard` and `hub export vcard|ics` as a user runs them: the real
//! binary on real database files, with the vendor-style fixtures of
//! tests/fixtures/import/vcard.

mod common;

use std::path::{Path, PathBuf};

use common::Hub;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/import/vcard")
        .join(name)
}

fn import(hub: &Hub, path: &Path) -> Value {
    hub.json(&["import", "vcard", path.to_str().unwrap(), "--json"])
}

/// Contacts by name: name, company, title, typed emails and phones, tags.
fn people(hub: &Hub) -> Vec<Value> {
    let list = hub.json(&["contact", "list", "--limit", "1000", "--json"]);
    let mut out: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let full = hub.json(&["contact", "show", c["id"].as_str().unwrap(), "--json"]);
            serde_json::json!({
                "name": full["display_name"], "first": full["first_name"], "last": full["last_name"],
                "company": full["company"]["name"], "title": full["title"],
                "emails": full["emails"], "phones": full["phones"], "tags": full["tags"],
            })
        })
        .collect();
    out.sort_by_key(|p| p["name"].as_str().unwrap_or_default().to_owned());
    out
}

/// An export without what differs between databases (ids, times).
fn comparable(vcf: &str) -> Vec<String> {
    let unfolded = vcf.replace("\r\n ", "");
    let mut cards: Vec<String> = unfolded
        .split("END:VCARD\r\n")
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            c.split("\r\n")
                .filter(|l| !l.starts_with("UID:") && !l.starts_with("REV:"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    cards.sort();
    cards
}

#[test]
fn vendor_files_import_once_and_reimport_creates_nothing() {
    let hub = Hub::new();
    for (name, cards) in [
        ("outlook-2.1.vcf", 2),
        ("apple-3.0.vcf", 2),
        ("google-3.0.vcf", 2),
        ("rfc6350-4.0.vcf", 2),
    ] {
        let first = import(&hub, &fixture(name));
        assert_eq!(first["created"], cards, "{name}: {first}");
        assert_eq!(first["error_count"], 0, "{name}: {first}");
        let again = import(&hub, &fixture(name));
        assert_eq!(again["created"], 0, "{name}: {again}");
        assert_eq!(again["updated"], 0, "{name}: {again}");
    }
    let all = people(&hub);
    assert_eq!(all.len(), 8);
    let juergen = all.iter().find(|p| p["name"] == "Jürgen Müller").unwrap();
    assert_eq!(juergen["company"], "Contoso GmbH");
    assert_eq!(juergen["phones"][1]["kind"], "mobile");
    // Every import is listed, and the re-imports that changed nothing are not
    // recorded as something to revert.
    let history = hub.json(&["import", "list", "--json"]);
    assert!(history.as_array().unwrap().len() >= 4, "{history}");
}

#[test]
fn dry_run_writes_nothing_and_bad_cards_are_reported_by_line() {
    let hub = Hub::new();
    let dry = hub.json(&[
        "import",
        "vcard",
        fixture("google-3.0.vcf").to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["created"], 2);
    assert_eq!(hub.log_len(), 0, "a dry run writes nothing");

    let report = import(&hub, &fixture("malformed.vcf"));
    assert_eq!(report["created"], 3);
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![6, 15, 20, 24, 34]);
    let text = hub.ok(&[
        "import",
        "vcard",
        fixture("malformed.vcf").to_str().unwrap(),
    ]);
    assert!(
        text.contains("line 6: the card has no END:VCARD (a new card begins on line 10)"),
        "{text}"
    );

    // A binary file: one clear error, no contact written (the attempt is
    // recorded in the import history, and that is all).
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("photo.vcf");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 256) as u8).collect();
    std::fs::write(&binary, bytes).unwrap();
    let before = hub.log_len();
    let people_before = people(&hub);
    let report = import(&hub, &binary);
    assert_eq!(report["created"], 0);
    assert_eq!(report["error_count"], 1, "{report}");
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not a vCard"));
    assert_eq!(people(&hub), people_before);
    assert_eq!(hub.log_len(), before + 1, "only the import's own record");
}

#[test]
fn export_then_import_into_an_empty_database_is_the_same() {
    let a = Hub::new();
    for name in [
        "outlook-2.1.vcf",
        "apple-3.0.vcf",
        "google-3.0.vcf",
        "rfc6350-4.0.vcf",
    ] {
        import(&a, &fixture(name));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("everyone.vcf");
    a.ok(&["export", "vcard", "--out", file.to_str().unwrap()]);
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(exported.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
    assert!(exported.contains("BDAY:19780312\r\n"), "{exported}");
    assert!(exported.contains("BDAY:--0615\r\n"), "Apple's omitted year");

    let b = Hub::new();
    let report = import(&b, &file);
    assert_eq!(report["created"], 8, "{report}");
    assert_eq!(report["error_count"], 0, "{report}");
    assert_eq!(people(&b), people(&a));
    // Birthdays, websites, photos and addresses too: B's export is A's.
    let again = b.ok(&["export", "vcard"]);
    assert_eq!(comparable(&again), comparable(&exported));
    // And B's own export re-imported into B changes nothing.
    let file_b = dir.path().join("b.vcf");
    std::fs::write(&file_b, &again).unwrap();
    let report = import(&b, &file_b);
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn revert_removes_what_a_vcard_import_created() {
    let hub = Hub::new();
    let report = import(&hub, &fixture("apple-3.0.vcf"));
    let id = report["import_id"].as_str().unwrap().to_owned();
    assert_eq!(people(&hub).len(), 2);
    hub.ok(&["import", "revert", &id]);
    assert_eq!(people(&hub).len(), 0);
    // Importing again after a revert creates them again.
    assert_eq!(import(&hub, &fixture("apple-3.0.vcf"))["created"], 2);
}

/// A Python with the `icalendar` package (`make test` installs Debian's
/// python3-icalendar): `$HUB_PYTHON`, `python3`, `/usr/bin/python3`.
/// Missing is a failure, not a skip.
fn python_with_icalendar() -> String {
    let candidates: Vec<String> = std::env::var("HUB_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()])
        .collect();
    candidates
        .iter()
        .find(|python| {
            std::process::Command::new(python)
                .args(["-c", "import icalendar"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no Python with the icalendar package among {candidates:?}: install \
                 python3-icalendar (scripts/setup.sh does) or set HUB_PYTHON"
            )
        })
}

#[test]
fn ics_export_reads_back_in_python_icalendar_with_zones_and_rules() {
    let hub = Hub::new().env("TZ", "Europe/Berlin");
    let ada = hub
        .ok(&["contact", "add", "--name", "Ada Lovelace"])
        .trim()
        .to_owned();
    for (title, due, tz, repeat) in [
        (
            "Weekly review",
            "2030-03-25T09:00",
            "Europe/Berlin",
            Some("FREQ=WEEKLY;BYDAY=MO;COUNT=4"),
        ),
        ("Call Ada", "2030-11-04T16:30", "America/Los_Angeles", None),
    ] {
        let mut args = vec![
            "reminder",
            "add",
            "--title",
            title,
            "--due",
            due,
            "--tz",
            tz,
            "--contact",
            &ada,
        ];
        if let Some(r) = repeat {
            args.extend(["--repeat", r]);
        }
        hub.ok(&args);
    }
    hub.ok(&["stay-in-touch", "set", &ada, "--every", "14"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.ics");
    let summary = hub.json(&[
        "export",
        "ics",
        "--tz",
        "Asia/Tokyo",
        "--out",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert!(summary.to_string().contains("Asia/Tokyo"), "{summary}");

    let script = r#"
import sys, json, datetime, itertools
from icalendar import Calendar
from dateutil.rrule import rrulestr
cal = Calendar.from_ical(open(sys.argv[1], 'rb').read())
own = {str(z['TZID']): z.to_tz() for z in cal.walk('VTIMEZONE')}
utc = datetime.timezone.utc
out = {}
for ev in cal.walk('VEVENT'):
    start = ev['DTSTART']
    tzid = start.params.get('TZID')
    naive = start.dt.replace(tzinfo=None)
    occ = []
    if 'RRULE' in ev:
        for t in itertools.islice(rrulestr(ev['RRULE'].to_ical().decode(), dtstart=naive), 10):
            occ.append(own[tzid].localize(t).astimezone(utc).isoformat())
    out[str(ev['SUMMARY'])] = {
        'tzid': tzid,
        'utc': start.dt.astimezone(utc).isoformat(),
        'own': own[tzid].localize(naive).astimezone(utc).isoformat(),
        'occurrences': occ,
        'uid': str(ev['UID']),
    }
print(json.dumps(out))
"#;
    let out = std::process::Command::new(python_with_icalendar())
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "icalendar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Value = serde_json::from_slice(&out.stdout).unwrap();
    let weekly = &events["Weekly review"];
    assert_eq!(weekly["tzid"], "Europe/Berlin");
    // 09:00 Berlin: CET on 25 March, CEST from 31 March (summer time).
    assert_eq!(weekly["utc"], "2030-03-25T08:00:00+00:00");
    assert_eq!(weekly["own"], "2030-03-25T08:00:00+00:00");
    assert_eq!(
        weekly["occurrences"],
        serde_json::json!([
            "2030-03-25T08:00:00+00:00",
            "2030-04-01T07:00:00+00:00",
            "2030-04-08T07:00:00+00:00",
            "2030-04-15T07:00:00+00:00"
        ])
    );
    let call = &events["Call Ada"];
    assert_eq!(call["tzid"], "America/Los_Angeles");
    // PST from 3 November 2030.
    assert_eq!(call["utc"], "2030-11-05T00:30:00+00:00");
    assert_eq!(call["own"], call["utc"]);
    let follow = &events["Get in touch with Ada Lovelace"];
    assert_eq!(follow["tzid"], "Asia/Tokyo");
    assert_eq!(follow["own"], follow["utc"]);
    assert!(follow["uid"]
        .as_str()
        .unwrap()
        .starts_with("stay-in-touch-"));
}
