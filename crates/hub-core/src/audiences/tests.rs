//! Exports end to end on a store: consent gating, file layout, the record, removal
//! lists. Expected hashes are `sha256sum` output of hand-normalised text.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::changes::now_rfc3339;
use crate::consent::{self, ConsentInput, Source, Status};
use crate::contact_details::{self, AddressEntry, ContactDetails};
use crate::contacts::{self, ContactInput, EmailEntry, PhoneEntry};
use crate::entities::{CUSTOM_FIELD, CUSTOM_VALUE};
use crate::segments::{self, SegmentInput};

fn now() -> DateTime<Utc> {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

/// sha256sum of "john.doe@example.com"
const JOHN_EMAIL: &str = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f";
/// sha256sum of "14155552671" (Meta: digits with country code, no +)
const JOHN_PHONE_META: &str = "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0";
/// sha256sum of "+14155552671" (Google: E.164)
const JOHN_PHONE_GOOGLE: &str = "cb6880e416769253645cb9c6b8989154bf66a56a77fc14c81fb1019663cbb928";
/// sha256sum of "john"
const JOHN_FN: &str = "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a";
/// sha256sum of "94103"
const ZIP_94103: &str = "91dc2519ea98c5002cf2091e6a12b772eafdce9dca618e626d7d3b8275361789";
/// sha256sum of "us"
const US: &str = "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621";
/// sha256sum of "f"
const F: &str = "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111";

struct Person<'a> {
    first: &'a str,
    last: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    consents: &'a [(crate::consent::Purpose, Status)],
}

async fn add(store: &Store, p: Person<'_>) -> Uuid {
    let c = contacts::create(
        store,
        ContactInput {
            first_name: Some(p.first.into()),
            last_name: Some(p.last.into()),
            emails: p
                .email
                .map(|e| {
                    vec![EmailEntry {
                        kind: "work".into(),
                        address: e.into(),
                    }]
                })
                .unwrap_or_default(),
            phones: p
                .phone
                .map(|n| {
                    vec![PhoneEntry {
                        kind: "mobile".into(),
                        number: n.into(),
                    }]
                })
                .unwrap_or_default(),
            tags: vec!["Audience".into()],
            ..ContactInput::default()
        },
    )
    .await
    .unwrap();
    for (purpose, status) in p.consents {
        consent::set(
            store,
            ConsentInput {
                contact_id: c.id,
                purpose: *purpose,
                status: *status,
                source: Source::Form,
                decided_at: None,
                evidence: None,
            },
        )
        .await
        .unwrap();
    }
    c.id
}

async fn segment(store: &Store) {
    segments::create(
        store,
        &SegmentInput {
            name: "Buyers".into(),
            rule: json!({"tag": "Audience"}),
            triggers: None,
        },
        now(),
    )
    .await
    .unwrap();
}

fn input(dest: Destination, out: &Path) -> ExportInput {
    ExportInput {
        segment: "buyers".into(),
        destination: dest,
        seed: false,
        out: out.to_path_buf(),
    }
}

use crate::consent::Purpose::{Advertising, EmailMarketing, Sale};
const ADS: &[(crate::consent::Purpose, Status)] = &[(Advertising, Status::Granted)];

/// John (everything, consented), Ann (no decision), Bob (advertising denied),
/// Cy (consented but do-not-sell), Dee (consented, no email or phone),
/// Eve (email marketing only).
async fn cast(store: &Store) -> BTreeMap<&'static str, Uuid> {
    let mut ids = BTreeMap::new();
    let john = add(
        store,
        Person {
            first: "John",
            last: "Doe",
            email: Some("John.Doe@Example.COM"),
            phone: Some("(415) 555-2671"),
            consents: &[
                (Advertising, Status::Granted),
                (EmailMarketing, Status::Granted),
            ],
        },
    )
    .await;
    contact_details::set(
        store,
        john,
        &ContactDetails {
            birthday: Some("1985-04-07".into()),
            addresses: vec![AddressEntry {
                kind: "home".into(),
                city: Some("San Francisco".into()),
                region: Some("California".into()),
                postal_code: Some("94103-1234".into()),
                country: Some("US".into()),
                ..AddressEntry::default()
            }],
            ..ContactDetails::default()
        },
    )
    .await
    .unwrap();
    // Gender from a contact custom field keyed `gender`.
    let field = Uuid::now_v7();
    let mut tx = store.write().await.unwrap();
    tx.insert(
        &CUSTOM_FIELD,
        field,
        vec![
            ("entity", json!("contact")),
            ("key", json!("gender")),
            ("label", json!("Gender")),
            ("field_type", json!("text")),
            ("created_at", json!(now_rfc3339())),
        ],
    )
    .await
    .unwrap();
    tx.insert(
        &CUSTOM_VALUE,
        Uuid::now_v7(),
        vec![
            ("entity", json!("contact")),
            ("row_id", json!(john.to_string())),
            ("field_id", json!(field.to_string())),
            ("value", json!("Female")),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    ids.insert("john", john);
    ids.insert(
        "ann",
        add(
            store,
            Person {
                first: "Ann",
                last: "Nodecision",
                email: Some("ann@example.com"),
                phone: None,
                consents: &[],
            },
        )
        .await,
    );
    ids.insert(
        "bob",
        add(
            store,
            Person {
                first: "Bob",
                last: "Denied",
                email: Some("bob@example.com"),
                phone: None,
                consents: &[
                    (Advertising, Status::Denied),
                    (EmailMarketing, Status::Granted),
                ],
            },
        )
        .await,
    );
    ids.insert(
        "cy",
        add(
            store,
            Person {
                first: "Cy",
                last: "Dns",
                email: Some("cy@example.com"),
                phone: None,
                consents: &[
                    (Advertising, Status::Granted),
                    (EmailMarketing, Status::Granted),
                    (Sale, Status::Denied),
                ],
            },
        )
        .await,
    );
    ids.insert(
        "dee",
        add(
            store,
            Person {
                first: "Dee",
                last: "Nocontact",
                email: None,
                phone: None,
                consents: ADS,
            },
        )
        .await,
    );
    ids.insert(
        "eve",
        add(
            store,
            Person {
                first: "Eve",
                last: "Newsletter",
                email: Some("eve@example.com"),
                phone: Some("+44 20 7946 0018"),
                consents: &[(EmailMarketing, Status::Granted)],
            },
        )
        .await,
    );
    segment(store).await;
    ids
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn meta_export_sends_only_consenting_people_hashed_per_metas_rules() {
    let store = Store::open_in_memory().await.unwrap();
    let ids = cast(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("buyers.json");
    let report = export(&store, &input(Destination::Meta, &out), now())
        .await
        .unwrap();
    assert_eq!(report.members, 6);
    assert_eq!(report.exported, 1);
    assert_eq!(
        report.left_out,
        LeftOut {
            // Ann (nothing recorded), Bob (denied), Eve (email marketing only)
            no_consent: 3,
            do_not_sell: 1,   // Cy
            no_identifier: 1, // Dee
        }
    );
    assert_eq!(report.files, vec![out.display().to_string()]);
    assert_eq!(report.exported_by, "me");

    let payload = read_json(&out);
    assert_eq!(
        payload["schema"],
        json!([
            "EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "GEN", "DOBY", "DOBM",
            "DOBD"
        ])
    );
    let row = &payload["data"][0];
    assert_eq!(payload["data"].as_array().unwrap().len(), 1);
    assert_eq!(row[0], JOHN_EMAIL);
    assert_eq!(row[1], JOHN_PHONE_META);
    assert_eq!(row[2], JOHN_FN);
    // sha256sum of "doe", "sanfrancisco", "ca"
    assert_eq!(
        row[3],
        "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f"
    );
    assert_eq!(
        row[4],
        "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac"
    );
    assert_eq!(
        row[5],
        "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"
    );
    assert_eq!(row[6], ZIP_94103);
    assert_eq!(row[7], US);
    assert_eq!(row[8], F);
    // sha256sum of "1985", "04", "07"
    assert_eq!(
        row[9],
        "78e370b587b145920213731b7c7c725e512b3b6577c51c800218a7c764c532ae"
    );
    assert_eq!(
        row[10],
        "6cd5b6e51936a442b973660c21553dd22bd72ddc8751132a943475288113b4c0"
    );
    assert_eq!(
        row[11],
        "19b100ab7725c612f3d80ff203ca53cea5cadaafae3bf0f88f0fb4089fe08815"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    for hidden in ["bob@example.com", "cy@example.com", "ann@example.com"] {
        assert!(!text.contains(&crate::audiences::normalise::sha256_hex(hidden)));
    }

    // The export is recorded and synced; the member list is kept here.
    let history = history(&store).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, report.id);
    assert_eq!(history[0].destination, "meta");
    assert_eq!(history[0].segment_name, "Buyers");
    assert_eq!(history[0].exported, 1);
    assert_eq!(history[0].left_out, report.left_out);
    assert_eq!(history[0].files, vec!["buyers.json".to_string()]);
    assert!(history[0].members_here);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM change_log WHERE entity = 'audience_export'"
        )
        .await,
        1
    );
    let keys: (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT contact_id, nullif(lower(hex(email_key)), ''), nullif(lower(hex(phone_key)), '') FROM audience_export_members")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        keys,
        (
            ids["john"].to_string(),
            Some(JOHN_EMAIL.to_string()),
            Some(JOHN_PHONE_META.to_string())
        )
    );
}

#[tokio::test]
async fn google_csv_has_googles_header_and_unhashed_country_and_zip() {
    let store = Store::open_in_memory().await.unwrap();
    let ids = cast(&store).await;
    // A consented contact with a name but no address: the name is not sent.
    add(
        &store,
        Person {
            first: "Fay",
            last: "Partial",
            email: Some("fay@example.com"),
            phone: None,
            consents: ADS,
        },
    )
    .await;
    segments::refresh(&store, now()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("buyers.csv");
    let report = export(&store, &input(Destination::Google, &out), now())
        .await
        .unwrap();
    assert_eq!(report.exported, 2);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "Email,Phone,First Name,Last Name,Country,Zip");
    assert_eq!(
        lines[1],
        format!("{JOHN_EMAIL},{JOHN_PHONE_GOOGLE},{JOHN_FN},799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f,US,94103-1234")
    );
    // sha256sum of "fay@example.com"
    assert_eq!(lines[2], format!("{FAY_EMAIL},,,,,"));
    assert_eq!(lines.len(), 4, "two rows and the final line end");
    let _ = ids;
}

/// sha256sum of "fay@example.com"
const FAY_EMAIL: &str = "f9dc7ba568728656be651b704da45328c71232976d9b8cc2a93412f265d603c0";

#[tokio::test]
async fn email_tool_csv_needs_email_marketing_consent() {
    let store = Store::open_in_memory().await.unwrap();
    cast(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("newsletter.csv");
    let report = export(&store, &input(Destination::Csv, &out), now())
        .await
        .unwrap();
    // John, Bob (ads denied but newsletter granted) and Eve; Cy is do-not-sell.
    assert_eq!(report.exported, 3);
    assert_eq!(
        report.left_out,
        LeftOut {
            no_consent: 2, // Ann, Dee
            do_not_sell: 1,
            no_identifier: 0,
        }
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "Email Address,First Name,Last Name,Phone Number,Birthday,Tags"
    );
    assert_eq!(
        lines[1],
        "John.Doe@example.com,John,Doe,+14155552671,04/07,Audience,segment: Buyers"
            .replace("Audience,segment: Buyers", "\"Audience,segment: Buyers\"")
    );
    assert!(lines[2].starts_with("bob@example.com,Bob,Denied,,,"));
    assert!(lines[3].starts_with("eve@example.com,Eve,Newsletter,+442079460018,,"));
    // The key kept for removal is the subscriber hash: md5sum of "bob@example.com".
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT lower(hex(email_key)) FROM audience_export_members ORDER BY email_key",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(keys.contains(&BOB_MD5.to_string()), "{keys:?}");
}

/// md5sum of "bob@example.com"
const BOB_MD5: &str = "4b9bb80620f03eb3719e0a061c14283d";

#[tokio::test]
async fn erased_and_withdrawn_people_are_listed_for_removal() {
    let store = Store::open_in_memory().await.unwrap();
    let ids = cast(&store).await;
    let gil = add(
        &store,
        Person {
            first: "Gil",
            last: "Later",
            email: Some("gil@example.com"),
            phone: None,
            consents: ADS,
        },
    )
    .await;
    segments::refresh(&store, now()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = export(
        &store,
        &input(Destination::Meta, &dir.path().join("a.json")),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(report.exported, 2);
    assert!(removals(&store, None).await.unwrap().is_empty());

    crate::privacy::erase(&store, ids["john"]).await.unwrap();
    consent::set(
        &store,
        ConsentInput {
            contact_id: gil,
            purpose: Advertising,
            status: Status::Denied,
            source: Source::Manual,
            decided_at: None,
            evidence: None,
        },
    )
    .await
    .unwrap();
    let list = removals(&store, None).await.unwrap();
    assert_eq!(list.len(), 2);
    let john = list.iter().find(|r| r.contact_id == ids["john"]).unwrap();
    assert_eq!(john.reason, RemovalReason::Erased);
    assert!(john.erased_at.is_some());
    let gil_r = list.iter().find(|r| r.contact_id == gil).unwrap();
    assert_eq!(gil_r.reason, RemovalReason::ConsentWithdrawn);
    assert_eq!(history(&store).await.unwrap()[0].pending_removals, 2);

    let out = dir.path().join("remove.json");
    let written = write_removals(&store, &report.id.to_string()[..13], &out, now())
        .await
        .unwrap();
    assert_eq!(
        (written.removed, written.erased, written.consent_withdrawn),
        (2, 1, 1)
    );
    let payload = read_json(&out);
    assert_eq!(payload["schema"], json!(["EMAIL", "PHONE"]));
    let data = payload["data"].as_array().unwrap();
    assert!(data.contains(&json!([JOHN_EMAIL, JOHN_PHONE_META])));
    assert!(data.contains(&json!([GIL_EMAIL, ""])));
    assert_eq!(history(&store).await.unwrap()[0].pending_removals, 0);
    assert!(removals(&store, None)
        .await
        .unwrap()
        .iter()
        .all(|r| r.removal_at.is_some()));
}

/// sha256sum of "gil@example.com"
const GIL_EMAIL: &str = "b208d7496d08876b54cfc77574a9954d40119ced7c99654292e2b8651fa2da6b";

#[tokio::test]
async fn meta_payloads_split_at_ten_thousand_rows() {
    let store = Store::open_in_memory().await.unwrap();
    let n = 10_001;
    sqlx::query(
        "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
         INSERT INTO contacts (id, display_name, lifecycle_stage, created_at)
         SELECT printf('00000000-0000-4000-8000-%012d', n), 'Contact ' || n, 'customer',
                '2026-01-01T00:00:00.000Z' FROM i",
    )
    .bind(n)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO contact_emails (id, contact_id, kind, address, position)
         SELECT 'e' || id, id, 'work', 'person' || rk || '@example.com', 0 FROM contacts",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO consent_records (id, contact_id, purpose, status, source, decided_at, created_at)
         SELECT 'c' || id, id, 'advertising', 'granted', 'form', '2026-01-01T00:00:00.000Z',
                '2026-01-01T00:00:00.000Z' FROM contacts",
    )
    .execute(store.pool())
    .await
    .unwrap();
    segments::create(
        &store,
        &SegmentInput {
            name: "Customers".into(),
            rule: json!({"lifecycle_stage": "customer"}),
            triggers: None,
        },
        now(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("customers.json");
    let mut inp = input(Destination::Meta, &out);
    inp.segment = "Customers".into();
    inp.seed = true;
    let report = export(&store, &inp, now()).await.unwrap();
    assert_eq!(report.exported, 10_001);
    assert_eq!(report.purpose, Purpose::LookalikeSeed);
    let one = dir.path().join("customers-1.json");
    let two = dir.path().join("customers-2.json");
    assert_eq!(
        report.files,
        vec![one.display().to_string(), two.display().to_string()]
    );
    assert!(!out.exists());
    assert_eq!(read_json(&one)["data"].as_array().unwrap().len(), 10_000);
    assert_eq!(read_json(&two)["data"].as_array().unwrap().len(), 1);
    assert_eq!(read_json(&two)["schema"], json!(["EMAIL"]));
    assert_eq!(
        history(&store).await.unwrap()[0].files,
        vec![
            "customers-1.json".to_string(),
            "customers-2.json".to_string()
        ]
    );
}

#[tokio::test]
async fn bad_input_writes_nothing() {
    let store = Store::open_in_memory().await.unwrap();
    cast(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    let logged = count(&store, "SELECT count(*) FROM change_log").await;
    let mut seed_csv = input(Destination::Csv, &out);
    seed_csv.seed = true;
    let mut unknown = input(Destination::Meta, &out);
    unknown.segment = "Nobody".into();
    let missing_dir = input(Destination::Google, &dir.path().join("no/such/x.csv"));
    for bad in [seed_csv, unknown, missing_dir] {
        assert!(export(&store, &bad, now()).await.is_err());
    }
    // A segment where nobody may be sent: an error with the counts.
    segments::create(
        &store,
        &SegmentInput {
            name: "No consent".into(),
            rule: json!({"consent": "advertising", "status": "none"}),
            triggers: None,
        },
        now(),
    )
    .await
    .unwrap();
    let logged = count(&store, "SELECT count(*) FROM change_log")
        .await
        .max(logged);
    let mut none = input(Destination::Meta, &out);
    none.segment = "no consent".into();
    let err = export(&store, &none, now()).await.unwrap_err().to_string();
    assert!(err.contains("nothing to export"), "{err}");
    assert!(err.contains("without advertising consent"), "{err}");
    assert_eq!(
        count(&store, "SELECT count(*) FROM change_log").await,
        logged
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM audience_exports").await,
        0
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM audience_export_members").await,
        0
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// One generated contact: advertising and sale decisions (None: nothing recorded),
/// whether it has an email and a phone.
type Case = (Option<Status>, Option<Status>, bool, bool);

fn status() -> impl proptest::strategy::Strategy<Value = Option<Status>> {
    use proptest::prelude::*;
    prop_oneof![
        Just(None),
        Just(Some(Status::Granted)),
        Just(Some(Status::Denied)),
        Just(Some(Status::Revoked)),
    ]
}

/// Whatever the mix of decisions and identifiers, an ad export holds exactly the
/// people with advertising granted, not do-not-sell and an email or phone, and the
/// left-out counts account for everyone else.
async fn gate_case(cases: Vec<Case>) {
    let store = Store::open_in_memory().await.unwrap();
    let mut expected = Vec::new();
    let mut left = LeftOut::default();
    for (n, (ads, sale, email, phone)) in cases.iter().enumerate() {
        let mut consents = Vec::new();
        if let Some(s) = ads {
            // A withdrawal needs a grant before it.
            if *s == Status::Revoked {
                consents.push((Advertising, Status::Granted));
            }
            consents.push((Advertising, *s));
        }
        if let Some(s) = sale {
            if *s == Status::Revoked {
                consents.push((Sale, Status::Granted));
            }
            consents.push((Sale, *s));
        }
        let address = format!("p{n}@example.com");
        let number = format!("+1415555{:04}", 1000 + n);
        add(
            &store,
            Person {
                first: "P",
                last: "Q",
                email: email.then_some(address.as_str()),
                phone: phone.then_some(number.as_str()),
                consents: &consents,
            },
        )
        .await;
        if *ads != Some(Status::Granted) {
            left.no_consent += 1;
        } else if matches!(sale, Some(Status::Denied | Status::Revoked)) {
            left.do_not_sell += 1;
        } else if !email && !phone {
            left.no_identifier += 1;
        } else {
            expected.push((
                email.then(|| address.clone()),
                phone.then(|| number.clone()),
            ));
        }
    }
    segment(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.csv");
    match export(&store, &input(Destination::Google, &out), now()).await {
        Ok(report) => {
            assert_eq!(report.left_out, left);
            assert_eq!(report.exported as usize, expected.len());
            let text = std::fs::read_to_string(&out).unwrap();
            let mut lines: Vec<String> = text
                .split("\r\n")
                .skip(1)
                .filter(|l| !l.is_empty())
                .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
                .collect();
            let mut want: Vec<String> = expected
                .iter()
                .map(|(e, p)| {
                    format!(
                        "{},{}",
                        e.as_deref().map(normalise::sha256_hex).unwrap_or_default(),
                        p.as_deref().map(normalise::sha256_hex).unwrap_or_default()
                    )
                })
                .collect();
            lines.sort();
            want.sort();
            assert_eq!(lines, want);
        }
        Err(e) => {
            assert!(expected.is_empty(), "{e}");
            assert!(!out.exists());
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    #[test]
    fn ad_exports_hold_exactly_the_consenting_reachable_people(
        cases in proptest::collection::vec((status(), status(), proptest::bool::ANY, proptest::bool::ANY), 1..8)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(gate_case(cases));
    }
}

/// Migration 0026 moves the members of exports made before it to the compact table
/// with their keys unchanged, so their removal files still list them.
#[tokio::test]
async fn members_of_earlier_exports_survive_the_compact_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let store = Store::open(&path).await.unwrap();
    // The table as migration 0024 made it, holding two members of an export, and
    // the store marked as not having run 0026 yet.
    sqlx::raw_sql(&format!(
        "INSERT INTO audience_exports (id, destination, exported_at) VALUES ('x1', 'meta', '2026-11-01T00:00:00.000Z');
         DROP TABLE audience_export_members;
         CREATE TABLE audience_export_members (
             export_id TEXT NOT NULL, contact_id TEXT NOT NULL, email_key TEXT, phone_key TEXT,
             removal_at TEXT, PRIMARY KEY (export_id, contact_id)) WITHOUT ROWID;
         CREATE INDEX audience_export_members_contact ON audience_export_members (contact_id);
         INSERT INTO audience_export_members VALUES
             ('x1', 'c1', '{JOHN_EMAIL}', NULL, NULL),
             ('x1', 'c2', NULL, '{JOHN_PHONE_META}', '2026-11-02T00:00:00.000Z');
         DELETE FROM _sqlx_migrations WHERE version = 26;"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    store.pool().close().await;

    let store = Store::open(&path).await.unwrap();
    /// export, contact, email key, phone key, removal written
    type Member = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Member> = sqlx::query_as(
        "SELECT x.id, m.contact_id, nullif(lower(hex(m.email_key)), ''),
                    nullif(lower(hex(m.phone_key)), ''), m.removal_at
               FROM audience_export_members m JOIN audience_exports x ON x.rk = m.export_rk
              ORDER BY m.contact_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "x1".into(),
                "c1".into(),
                Some(JOHN_EMAIL.into()),
                None,
                None
            ),
            (
                "x1".into(),
                "c2".into(),
                None,
                Some(JOHN_PHONE_META.into()),
                Some("2026-11-02T00:00:00.000Z".into())
            ),
        ]
    );
}
