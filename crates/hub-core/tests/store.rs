//! The offline store through its public API, on real SQLite files.

use std::time::Duration;

use hub_core::changes::{outbox, WriteTx};
use hub_core::companies::{self, CompanyInput};
use hub_core::contacts::{
    self, ContactInput, ContactQuery, EmailEntry, LifecycleStage, PhoneEntry,
};
use hub_core::entities::CONTACT;
use hub_core::{demo, tags, Hlc, Store};
use serde_json::json;
use uuid::Uuid;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
    (dir, store)
}

fn ada() -> ContactInput {
    ContactInput {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        title: Some("Analyst".into()),
        company_name: Some("Analytical Engines".into()),
        emails: vec![EmailEntry {
            kind: "work".into(),
            address: "ada.lovelace@engines.example.com".into(),
        }],
        phones: vec![PhoneEntry {
            kind: "mobile".into(),
            number: "(415) 555-2671".into(),
        }],
        tags: vec!["VIP".into()],
        ..Default::default()
    }
}

async fn log_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM change_log")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn row_count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

fn search(q: &str) -> ContactQuery {
    ContactQuery {
        search: Some(q.into()),
        limit: 50,
        ..Default::default()
    }
}

#[tokio::test]
async fn create_then_read_back_normalised_values() {
    let (_dir, store) = store().await;
    let c = contacts::create(&store, ada()).await.unwrap();
    assert_eq!(c.display_name, "Ada Lovelace");
    assert_eq!(c.phones[0].number, "+14155552671");
    assert_eq!(c.emails[0].address, "ada.lovelace@engines.example.com");
    assert_eq!(c.company.as_ref().unwrap().name, "Analytical Engines");
    assert_eq!(c.tags, vec!["VIP"]);
    assert_eq!(c.lifecycle_stage, LifecycleStage::Lead);
    assert_eq!(contacts::get(&store, c.id).await.unwrap(), c);
    // The company was created once and is reused by name, in any case.
    let mut grace = ada();
    grace.first_name = Some("Grace".into());
    grace.company_name = Some("analytical engines".into());
    grace.emails.clear();
    grace.phones.clear();
    let g = contacts::create(&store, grace).await.unwrap();
    assert_eq!(g.company.unwrap().id, c.company.unwrap().id);
}

#[tokio::test]
async fn every_write_logs_each_field_with_a_clock_in_the_same_transaction() {
    let (_dir, store) = store().await;
    let c = contacts::create(&store, ada()).await.unwrap();
    let log = outbox(&store, 1000).await.unwrap();
    let of = |entity: &str| {
        log.iter()
            .filter(|ch| ch.entity == entity)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("contact").len(), 1);
    let created = of("contact")[0];
    assert_eq!(created.row_id, c.id);
    assert_eq!(
        created.fields.len(),
        CONTACT.fields.len(),
        "a create logs every field"
    );
    assert_eq!(created.fields["title"], json!("Analyst"));
    assert_eq!(created.fields["deleted_at"], json!(null));
    assert!(
        created.base.is_empty(),
        "a create has seen no earlier clock"
    );
    assert_eq!(
        of("contact_email")[0].fields["address"],
        json!("ada.lovelace@engines.example.com")
    );
    assert_eq!(
        of("contact_phone")[0].fields["number"],
        json!("+14155552671")
    );
    assert_eq!(of("company")[0].fields["name"], json!("Analytical Engines"));
    assert_eq!(of("tag")[0].fields["name"], json!("VIP"));
    assert_eq!(of("contact_tag").len(), 1);
    let mut clocks: Vec<Hlc> = log.iter().map(|ch| ch.hlc).collect();
    assert!(clocks.iter().all(|h| h.device == store.device_id()));
    let before = clocks.len();
    clocks.dedup();
    assert_eq!(clocks.len(), before, "every change has its own clock");
    assert!(
        clocks.windows(2).all(|w| w[0] < w[1]),
        "clocks rise in log order"
    );

    // An edit logs only what changed, with the clock it had seen as base.
    let mut input = ContactInput::from(&c);
    input.title = Some("Chief Analyst".into());
    contacts::update(&store, c.id, input.clone()).await.unwrap();
    let log = outbox(&store, 1000).await.unwrap();
    assert_eq!(log.len(), before + 1);
    let edit = log.last().unwrap();
    assert_eq!(edit.fields.len(), 1, "{edit:?}");
    assert_eq!(edit.fields["title"], json!("Chief Analyst"));
    assert_eq!(edit.base["title"], created.hlc);
    assert!(edit.hlc > created.hlc);
    // Saving the same form again writes nothing.
    contacts::update(&store, c.id, input).await.unwrap();
    assert_eq!(log_count(&store).await as usize, before + 1);

    // A delete is a logged tombstone, not a lost row.
    contacts::delete(&store, c.id).await.unwrap();
    let log = outbox(&store, 1000).await.unwrap();
    let tombstone = log.last().unwrap();
    assert_eq!(
        (tombstone.entity.as_str(), tombstone.row_id),
        ("contact", c.id)
    );
    assert!(tombstone.fields["deleted_at"].is_string());
    assert_eq!(tombstone.base["deleted_at"], created.hlc);
}

#[tokio::test]
async fn an_aborted_transaction_leaves_neither_row_nor_log_entry() {
    let (_dir, store) = store().await;
    let id = Uuid::now_v7();
    {
        let mut tx: WriteTx = store.write().await.unwrap();
        tx.insert(&CONTACT, id, vec![("display_name", json!("Half Written"))])
            .await
            .unwrap();
        let inside: i64 = sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert!(
            inside > 0,
            "the log entry is written inside the transaction"
        );
        // A second write fails midway (the same id again): the caller gives up.
        let err = tx
            .insert(&CONTACT, id, vec![("display_name", json!("Again"))])
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation");
        // Dropped without commit.
    }
    assert_eq!(row_count(&store, "contacts").await, 0);
    assert_eq!(log_count(&store).await, 0);
    assert_eq!(row_count(&store, "contact_search").await, 0);

    // A batch with one bad contact writes none of them.
    let mut bad = ada();
    bad.emails[0].address = "not-an-email".into();
    let err = contacts::create_many(&store, vec![ada(), bad])
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "emails[0]");
    assert_eq!(row_count(&store, "contacts").await, 0);
    assert_eq!(log_count(&store).await, 0);
}

#[tokio::test]
async fn bad_input_is_refused_with_field_errors_and_writes_nothing() {
    let (_dir, store) = store().await;
    let cases: Vec<(ContactInput, &str)> = vec![
        (
            ContactInput {
                emails: vec![EmailEntry {
                    kind: "work".into(),
                    address: "ada@".into(),
                }],
                ..ada()
            },
            "emails[0]",
        ),
        (
            ContactInput {
                phones: vec![PhoneEntry {
                    kind: "work".into(),
                    number: "12".into(),
                }],
                ..ada()
            },
            "phones[0]",
        ),
        (
            ContactInput {
                first_name: None,
                last_name: Some("  ".into()),
                display_name: None,
                ..ada()
            },
            "display_name",
        ),
        (
            ContactInput {
                phones: vec![PhoneEntry {
                    kind: "fax".into(),
                    number: "+14155552671".into(),
                }],
                ..ada()
            },
            "phones[0]",
        ),
        (
            ContactInput {
                company_id: Some(Uuid::now_v7()),
                ..ada()
            },
            "company_id",
        ),
    ];
    for (input, field) in cases {
        let err = contacts::create(&store, input).await.unwrap_err();
        assert_eq!(err.code(), "validation");
        assert!(
            err.field_errors().iter().any(|e| e.field == field),
            "{field}: {err}"
        );
    }
    assert_eq!(log_count(&store).await, 0);
    assert_eq!(row_count(&store, "contacts").await, 0);
    assert_eq!(row_count(&store, "companies").await, 0);

    let missing = Uuid::now_v7();
    assert_eq!(
        contacts::get(&store, missing).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        contacts::update(&store, missing, ada())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        contacts::delete(&store, missing).await.unwrap_err().code(),
        "not_found"
    );
    let err = companies::create(
        &store,
        CompanyInput {
            name: " ".into(),
            domain: Some("nope".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors().len(), 2);
    assert_eq!(log_count(&store).await, 0);
}

#[tokio::test]
async fn search_finds_prefixes_of_names_emails_phones_and_companies() {
    let (_dir, store) = store().await;
    let c = contacts::create(&store, ada()).await.unwrap();
    let mut other = ada();
    other.first_name = Some("Charles".into());
    other.last_name = Some("Babbage".into());
    other.emails = vec![EmailEntry {
        kind: "home".into(),
        address: "charles@difference.example.org".into(),
    }];
    other.phones = vec![PhoneEntry {
        kind: "work".into(),
        number: "+44 20 7946 0018".into(),
    }];
    other.company_name = Some("Difference Ltd".into());
    contacts::create(&store, other).await.unwrap();

    for q in [
        "ada",
        "lovel",
        "ada.lov",
        "engines.exa",
        "4155",
        "+1415",
        "(415) 555",
        "analyt",
        "Ana Lov",
    ] {
        let page = contacts::list(&store, &search(q)).await.unwrap();
        assert_eq!(page.total, 1, "query {q:?}");
        assert_eq!(page.items[0].id, c.id, "query {q:?}");
    }
    assert_eq!(
        contacts::list(&store, &search("2079")).await.unwrap().items[0].display_name,
        "Charles Babbage"
    );
    // A three-digit country code (+353): found by the national number and the full one.
    let mut irish = ada();
    irish.first_name = Some("Kathleen".into());
    irish.last_name = Some("Lonsdale".into());
    irish.emails.clear();
    irish.company_name = None;
    irish.phones = vec![PhoneEntry {
        kind: "mobile".into(),
        number: "+353 87 123 4567".into(),
    }];
    contacts::create(&store, irish).await.unwrap();
    for q in ["871234", "353871", "+353 87"] {
        let page = contacts::list(&store, &search(q)).await.unwrap();
        assert_eq!(page.total, 1, "query {q:?}");
        assert_eq!(
            page.items[0].display_name, "Kathleen Lonsdale",
            "query {q:?}"
        );
    }
    contacts::delete(
        &store,
        contacts::list(&store, &search("871234"))
            .await
            .unwrap()
            .items[0]
            .id,
    )
    .await
    .unwrap();
    assert_eq!(
        contacts::list(&store, &search("zzz")).await.unwrap().total,
        0
    );
    assert_eq!(
        contacts::list(&store, &search("")).await.unwrap().total,
        2,
        "empty search lists all"
    );

    // Renaming the company re-indexes its contacts; deleting a contact drops it.
    let company = c.company.clone().unwrap();
    let mut input = CompanyInput {
        name: "Jacquard Looms".into(),
        ..Default::default()
    };
    input.domain = Some("looms.example.com".into());
    companies::update(&store, company.id, input).await.unwrap();
    assert_eq!(
        contacts::list(&store, &search("jacq")).await.unwrap().total,
        1
    );
    assert_eq!(
        contacts::list(&store, &search("analyt"))
            .await
            .unwrap()
            .total,
        0
    );
    contacts::delete(&store, c.id).await.unwrap();
    assert_eq!(
        contacts::list(&store, &search("ada")).await.unwrap().total,
        0
    );
    assert_eq!(
        contacts::get(&store, c.id).await.unwrap_err().code(),
        "not_found"
    );
}

#[tokio::test]
async fn editing_emails_and_phones_keeps_rows_whose_value_stays() {
    let (_dir, store) = store().await;
    let c = contacts::create(&store, ada()).await.unwrap();
    let email_row: String = sqlx::query_scalar("SELECT id FROM contact_emails")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut input = ContactInput::from(&c);
    input.emails.insert(
        0,
        EmailEntry {
            kind: "home".into(),
            address: "ada@home.example.net".into(),
        },
    );
    input.emails[1].kind = "other".into();
    input.phones.clear();
    input.tags = vec!["vip".into(), "newsletter".into()];
    let c = contacts::update(&store, c.id, input).await.unwrap();
    assert_eq!(
        c.emails
            .iter()
            .map(|e| e.address.as_str())
            .collect::<Vec<_>>(),
        ["ada@home.example.net", "ada.lovelace@engines.example.com"]
    );
    assert_eq!(c.emails[1].kind, "other");
    assert!(c.phones.is_empty());
    assert_eq!(c.tags, vec!["newsletter", "VIP"]);
    let still: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contact_emails WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(&email_row)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(still, 1, "the kept address is the same row");
    assert_eq!(
        contacts::list(&store, &search("4155")).await.unwrap().total,
        0,
        "removed phone no longer found"
    );

    let by_tag = contacts::list(
        &store,
        &ContactQuery {
            tag: Some("Newsletter".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_tag.total, 1);
    let all_tags = tags::list(&store).await.unwrap();
    assert_eq!(
        all_tags
            .iter()
            .map(|t| (t.name.as_str(), t.contact_count))
            .collect::<Vec<_>>(),
        [("newsletter", 1), ("VIP", 1)]
    );
}

#[tokio::test]
async fn two_handles_on_one_file_never_issue_the_same_clock() {
    // The desktop app and the CLI open the same file with the same device id.
    let (dir, app) = store().await;
    let cli = Store::open(&dir.path().join("hub.db")).await.unwrap();
    assert_eq!(app.device_id(), cli.device_id());
    let mut handles = Vec::new();
    for (i, s) in [app.clone(), cli.clone()].into_iter().enumerate() {
        handles.push(tokio::spawn(async move {
            for n in 0..20 {
                let mut c = ada();
                c.first_name = Some(format!("P{i}-{n}"));
                c.emails.clear();
                c.phones.clear();
                c.tags.clear();
                c.company_name = None;
                contacts::create(&s, c).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let clocks: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT hlc FROM change_log ORDER BY seq")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(clocks.len(), 40, "one distinct clock per change");
    let mut sorted = clocks.clone();
    sorted.sort();
    assert_eq!(sorted, clocks, "clocks increase in commit order");
}

#[tokio::test]
async fn a_locked_database_is_reported_not_waited_on_forever() {
    let (dir, store) = store().await;
    let path = dir.path().join("hub.db");
    let mut holder = store.write().await.unwrap(); // holds the write lock
    let other = Store::open_with_timeout(&path, Duration::from_millis(200))
        .await
        .unwrap();
    let err = contacts::create(&other, ada()).await.unwrap_err();
    assert_eq!(err.code(), "locked", "{err}");
    let _ = holder.conn();
    drop(holder);
    contacts::create(&other, ada()).await.unwrap();
}

#[tokio::test]
async fn demo_data_is_plausible_and_clears_in_one_go() {
    let (_dir, store) = store().await;
    let mine = contacts::create(&store, ada()).await.unwrap();
    let mine_logged = log_count(&store).await;
    let report = demo::generate(
        &store,
        demo::DemoOptions {
            contacts: 300,
            seed: 7,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.contacts, 300);
    let status = demo::status(&store).await.unwrap();
    assert!(status.loaded);
    assert_eq!(status.contacts, 300);
    let page = contacts::list(
        &store,
        &ContactQuery {
            limit: 300,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.total, 301);
    assert!(page
        .items
        .iter()
        .all(|c| c.email.is_some() && c.phone.as_deref().is_some_and(|p| p.starts_with("+1"))));
    assert!(log_count(&store).await > mine_logged);
    assert_eq!(demo::clear(&store).await.unwrap(), 300);
    assert!(!demo::status(&store).await.unwrap().loaded);
    assert_eq!(contacts::count(&store).await.unwrap(), 1);
    assert!(
        contacts::get(&store, mine.id).await.is_ok(),
        "the user's own contact stays"
    );
    // Never synced: the demo leaves no trace a later sign-in could push, and no stale
    // search entries; the user's own contact keeps every log entry it had.
    assert_eq!(log_count(&store).await, mine_logged);
    let demo_left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM contacts WHERE source = 'demo') \
         + (SELECT count(*) FROM contact_search) - 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(demo_left, 0);
    let found = contacts::list(
        &store,
        &ContactQuery {
            search: Some("lovelace".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(found.total, 1);
    let companies_left: i64 = sqlx::query_scalar("SELECT count(*) FROM companies")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let companies_logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM change_log WHERE entity = 'company'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(companies_left, companies_logged);
}

#[tokio::test]
async fn any_typed_text_searches_without_error() {
    let (_dir, store) = store().await;
    contacts::create(&store, ada()).await.unwrap();
    for q in [
        "\"",
        "*",
        "a\"b",
        "NEAR(ada",
        "ada OR",
        "-ada",
        "कि",
        "e\u{301}",
        "🙂",
        "ada AND NOT",
        "^ada",
        "ada:lov",
        "((",
        "'",
    ] {
        let page = contacts::list(&store, &search(q)).await;
        assert!(page.is_ok(), "{q:?}: {page:?}");
    }
    assert_eq!(
        contacts::list(&store, &search("ADA lovelace"))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        contacts::list(&store, &search("lovelace ada"))
            .await
            .unwrap()
            .total,
        1
    );
}
