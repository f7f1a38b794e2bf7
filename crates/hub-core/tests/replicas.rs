//! Devices converge by exchanging their change logs, in any order, any number
//! of times: the client half of sync, without a server in between.

use hub_core::changes::outbox;
use hub_core::contacts::{self, ContactInput, EmailEntry};
use hub_core::entities::ALL;
use hub_core::Store;
use hub_protocol::wire::SnapshotRow;
use hub_protocol::{RowVersions, Version};
use proptest::prelude::*;
use uuid::Uuid;

/// Apply every change `from` ever made to `to`.
async fn deliver(from: &Store, to: &Store) {
    let changes = outbox(from, u32::MAX).await.unwrap();
    let mut tx = to.write().await.unwrap();
    for change in &changes {
        let applied = tx.apply_remote(change).await.unwrap();
        assert!(applied.unknown.is_empty(), "{applied:?}");
    }
    tx.commit().await.unwrap();
}

/// Every synced row's values and each field's effective clock.
async fn state(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for e in ALL {
        let pairs = e
            .fields
            .iter()
            .map(|f| format!("'{f}', {f}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT id, json_object({pairs}), clocks FROM {} ORDER BY id",
            e.table
        ))
        .fetch_all(store.pool())
        .await
        .unwrap();
        for (id, values, clocks) in rows {
            let clocks: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&clocks).unwrap();
            let effective: Vec<String> = e
                .fields
                .iter()
                .map(|f| {
                    clocks
                        .get(*f)
                        .or_else(|| clocks.get("*"))
                        .map(|c| c.to_string())
                        .unwrap_or_default()
                })
                .collect();
            out.push(format!("{} {id} {values} {}", e.name, effective.join(",")));
        }
    }
    out
}

fn person(name: &str) -> ContactInput {
    ContactInput {
        display_name: Some(name.into()),
        ..Default::default()
    }
}

async fn search_total(store: &Store, q: &str) -> u32 {
    let query = contacts::ContactQuery {
        search: Some(q.into()),
        limit: 10,
        ..Default::default()
    };
    contacts::list(store, &query).await.unwrap().total
}

#[tokio::test]
async fn a_contact_made_on_one_device_appears_on_another_searchable() {
    let a = Store::open_in_memory().await.unwrap();
    let b = Store::open_in_memory().await.unwrap();
    let mut input = person("Ada Lovelace");
    input.company_name = Some("Analytical Engines".into());
    input.emails = vec![EmailEntry {
        kind: "work".into(),
        address: "ada@engines.example.com".into(),
    }];
    input.tags = vec!["vip".into()];
    let ada = contacts::create(&a, input).await.unwrap();
    deliver(&a, &b).await;
    let on_b = contacts::get(&b, ada.id).await.unwrap();
    assert_eq!(on_b, ada);
    assert_eq!(search_total(&b, "engines").await, 1);
    assert!(
        outbox(&b, 100).await.unwrap().is_empty(),
        "applied changes are not b's to push"
    );
    // Replaying changes nothing.
    let before = state(&b).await;
    deliver(&a, &b).await;
    assert_eq!(state(&b).await, before);
}

#[tokio::test]
async fn edits_of_different_fields_both_survive_and_the_same_field_converges() {
    let a = Store::open_in_memory().await.unwrap();
    let b = Store::open_in_memory().await.unwrap();
    let c = contacts::create(&a, person("Grace Hopper")).await.unwrap();
    deliver(&a, &b).await;

    let mut on_a = ContactInput::from(&c);
    on_a.title = Some("Rear Admiral".into());
    on_a.owner = Some("a@example.com".into());
    contacts::update(&a, c.id, on_a).await.unwrap();
    let mut on_b = ContactInput::from(&c);
    on_b.notes = Some("Met at the conference".into());
    on_b.owner = Some("b@example.com".into());
    contacts::update(&b, c.id, on_b).await.unwrap(); // later clock: b's owner wins

    deliver(&a, &b).await;
    deliver(&b, &a).await;
    assert_eq!(state(&a).await, state(&b).await);
    let merged = contacts::get(&a, c.id).await.unwrap();
    assert_eq!(merged.title.as_deref(), Some("Rear Admiral"));
    assert_eq!(merged.notes.as_deref(), Some("Met at the conference"));
    assert_eq!(merged.owner.as_deref(), Some("b@example.com"));
}

#[tokio::test]
async fn a_delete_and_a_concurrent_edit_converge_to_deleted_with_the_edit() {
    let a = Store::open_in_memory().await.unwrap();
    let b = Store::open_in_memory().await.unwrap();
    let c = contacts::create(&a, person("Alan Turing")).await.unwrap();
    deliver(&a, &b).await;
    contacts::delete(&a, c.id).await.unwrap();
    let mut edit = ContactInput::from(&c);
    edit.title = Some("Cryptanalyst".into());
    contacts::update(&b, c.id, edit).await.unwrap();
    deliver(&b, &a).await;
    deliver(&a, &b).await;
    assert_eq!(state(&a).await, state(&b).await);
    assert_eq!(
        contacts::get(&b, c.id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(search_total(&b, "turing").await, 0);
    let title: Option<String> = sqlx::query_scalar("SELECT title FROM contacts WHERE id = ?")
        .bind(c.id.to_string())
        .fetch_one(b.pool())
        .await
        .unwrap();
    assert_eq!(
        title.as_deref(),
        Some("Cryptanalyst"),
        "the edit is kept on the deleted row"
    );
}

/// A first sync's rows: the state of each row of `from` as a snapshot carries
/// it (here: each field with the clock of the change that wrote it).
async fn snapshot_of(from: &Store) -> Vec<SnapshotRow> {
    let mut rows: std::collections::BTreeMap<(String, Uuid), RowVersions> = Default::default();
    for change in outbox(from, u32::MAX).await.unwrap() {
        let row = rows
            .entry((change.entity.clone(), change.row_id))
            .or_default();
        for (field, value) in change.fields {
            let base = change.base.get(&field).copied();
            row.set(
                &field,
                Version {
                    value,
                    clock: change.hlc,
                    base,
                },
            );
        }
    }
    rows.into_iter()
        .map(|((entity, row_id), state)| SnapshotRow {
            entity,
            row_id,
            state,
        })
        .collect()
}

#[tokio::test]
async fn a_snapshot_gives_the_same_rows_and_clocks_as_the_changes() {
    let a = Store::open_in_memory().await.unwrap();
    let mut input = person("Ada Lovelace");
    input.company_name = Some("Analytical Engines".into());
    input.tags = vec!["vip".into()];
    let ada = contacts::create(&a, input).await.unwrap();
    let mut edit = ContactInput::from(&ada);
    edit.title = Some("Countess".into());
    contacts::update(&a, ada.id, edit).await.unwrap();

    let by_changes = Store::open_in_memory().await.unwrap();
    deliver(&a, &by_changes).await;
    let by_snapshot = store_from_snapshot(&snapshot_of(&a).await).await;

    assert_eq!(state(&by_snapshot).await, state(&by_changes).await);
    assert_eq!(
        contacts::get(&by_snapshot, ada.id)
            .await
            .unwrap()
            .title
            .as_deref(),
        Some("Countess")
    );
    assert_eq!(search_total(&by_snapshot, "analytical").await, 1);
}

#[tokio::test]
async fn a_snapshot_page_longer_than_one_statement_inserts_every_row() {
    // A page's rows of one entity go in as several multi-row statements,
    // each bound while the previous one runs: none may be lost or repeated.
    let a = Store::open_in_memory().await.unwrap();
    let inputs: Vec<ContactInput> = (0..2_345)
        .map(|i| ContactInput {
            emails: vec![EmailEntry {
                kind: "work".into(),
                address: format!("person{i}@example.com"),
            }],
            ..person(&format!("Person {i}"))
        })
        .collect();
    contacts::create_many(&a, inputs).await.unwrap();

    let by_changes = Store::open_in_memory().await.unwrap();
    deliver(&a, &by_changes).await;
    let by_snapshot = store_from_snapshot(&snapshot_of(&a).await).await;

    assert_eq!(state(&by_snapshot).await, state(&by_changes).await);
    assert_eq!(contacts::count(&by_snapshot).await.unwrap(), 2_345);
    assert_eq!(search_total(&by_snapshot, "person2344").await, 1);
}

/// A new store holding `rows`, applied as a first sync applies a snapshot
/// (search index rebuilt from the tables at the end).
async fn store_from_snapshot(rows: &[SnapshotRow]) -> Store {
    let store = Store::open_in_memory().await.unwrap();
    let mut tx = store.write().await.unwrap();
    tx.defer_search();
    tx.apply_snapshot_rows(rows).await.unwrap();
    tx.rebuild_search().await.unwrap();
    tx.commit().await.unwrap();
    store
}

/// Every (term, contact) pair the search index holds.
async fn indexed_terms(store: &Store) -> Vec<(String, i64)> {
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms
           USING fts5vocab(main, contact_search, 'instance')",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query_as("SELECT DISTINCT term, doc FROM temp.search_terms ORDER BY term, doc")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_first_sync_indexes_from_the_snapshot_what_a_rebuild_indexes_from_the_tables() {
    // A first sync puts the search text together from the snapshot rows
    // (search::SnapshotDocs) instead of reading the tables back: it must index
    // the same terms for the same contacts, deleted rows and all.
    let a = Store::open_in_memory().await.unwrap();
    let companies = hub_core::demo::companies_for(400, 7);
    let domains: Vec<String> = companies.iter().filter_map(|c| c.domain.clone()).collect();
    let company_ids = hub_core::companies::create_many(&a, companies)
        .await
        .unwrap();
    let people = hub_core::demo::contacts_for(400, 7, &company_ids, &domains);
    let ids = contacts::create_many(&a, people).await.unwrap();
    for id in ids.iter().step_by(9) {
        contacts::delete(&a, *id).await.unwrap();
    }
    for id in company_ids.iter().take(3) {
        hub_core::companies::delete(&a, *id).await.unwrap();
    }
    // One contact loses an email and gets a title; another changes company.
    let mut edit = ContactInput::from(&contacts::get(&a, ids[1]).await.unwrap());
    edit.emails.truncate(0);
    edit.title = Some("Head of Ümlauts".into());
    contacts::update(&a, ids[1], edit).await.unwrap();
    let mut edit = ContactInput::from(&contacts::get(&a, ids[2]).await.unwrap());
    edit.company_id = None;
    edit.company_name = Some("Brand New Holdings".into());
    contacts::update(&a, ids[2], edit).await.unwrap();
    let snapshot = snapshot_of(&a).await;

    let from_docs = Store::open_in_memory().await.unwrap();
    let mut docs = hub_core::search::SnapshotDocs::default();
    let mut tx = from_docs.write().await.unwrap();
    tx.defer_search();
    for page in snapshot.chunks(700) {
        tx.apply_snapshot_rows(page).await.unwrap();
        docs.add(page);
    }
    docs.write(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();

    let rebuilt = store_from_snapshot(&snapshot).await;

    let terms = indexed_terms(&from_docs).await;
    assert!(terms.len() > 2_000, "{} terms", terms.len());
    assert_eq!(terms, indexed_terms(&rebuilt).await);
    eprintln!(
        "{} {} {}",
        search_total(&rebuilt, "ümlauts").await,
        search_total(&from_docs, "umlauts").await,
        search_total(&from_docs, "Head").await
    );
    assert_eq!(search_total(&from_docs, "ümlauts").await, 1);
    assert_eq!(search_total(&from_docs, "brand new").await, 1);
}

#[tokio::test]
async fn a_first_sync_inserts_without_probing_only_while_nobody_else_writes() {
    // Pages of a first sync into empty tables skip the "which of these rows
    // do we have" probe; when another round has inserted a page's rows
    // meanwhile, the table is probed again and the rows merge, not collide.
    let a = Store::open_in_memory().await.unwrap();
    let inputs: Vec<ContactInput> = (0..300).map(|i| person(&format!("Person {i}"))).collect();
    contacts::create_many(&a, inputs).await.unwrap();
    let snapshot = snapshot_of(&a).await;
    let pages: Vec<&[SnapshotRow]> = snapshot.chunks(100).collect();

    let b = Store::open_in_memory().await.unwrap();
    let mut fresh = {
        let mut conn = b.pool().acquire().await.unwrap();
        hub_core::changes::FreshTables::start(&mut conn)
            .await
            .unwrap()
    };
    let mut tx = b.write().await.unwrap();
    tx.apply_snapshot_rows_into(pages[0], &mut fresh)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Another round applies the second page first.
    let mut tx = b.write().await.unwrap();
    tx.apply_snapshot_rows(pages[1]).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = b.write().await.unwrap();
    for page in &pages[1..] {
        tx.apply_snapshot_rows_into(page, &mut fresh).await.unwrap();
    }
    tx.rebuild_search().await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        state(&b).await,
        state(&store_from_snapshot(&snapshot).await).await
    );
    assert_eq!(contacts::count(&b).await.unwrap(), 300);
}

#[tokio::test]
async fn a_snapshot_field_without_a_clock_still_takes_an_older_write() {
    // The server only has the fields some device wrote. A row stored with one
    // clock for all fields ("*") would make every other field look written at
    // that time, and an older write of one of them, pulled later, look stale.
    let id = Uuid::now_v7();
    let device = hub_core::DeviceId(Uuid::now_v7());
    let at = |ms| hub_core::Hlc {
        ms,
        counter: 0,
        device,
    };
    let mut state = RowVersions::default();
    state.set(
        "display_name",
        Version {
            value: "Ada".into(),
            clock: at(2_000_000_000_000),
            base: None,
        },
    );
    let b = Store::open_in_memory().await.unwrap();
    let mut tx = b.write().await.unwrap();
    tx.apply_snapshot_rows(&[SnapshotRow {
        entity: "contact".into(),
        row_id: id,
        state,
    }])
    .await
    .unwrap();
    let older = hub_protocol::Change {
        op_id: Uuid::now_v7(),
        device_id: device,
        entity: "contact".into(),
        row_id: id,
        hlc: at(1_000_000_000_000),
        fields: [("title".to_owned(), serde_json::json!("Countess"))].into(),
        base: Default::default(),
    };
    let applied = tx.apply_remote(&older).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(applied.fields, 1, "{applied:?}");
    assert_eq!(applied.stale, 0);
    let ada = contacts::get(&b, id).await.unwrap();
    assert_eq!(ada.title.as_deref(), Some("Countess"));
    assert_eq!(ada.display_name, "Ada");
}

#[tokio::test]
async fn entities_this_version_does_not_know_are_reported_not_applied() {
    let a = Store::open_in_memory().await.unwrap();
    contacts::create(&a, person("Ada")).await.unwrap();
    let mut change = outbox(&a, 1).await.unwrap().remove(0);
    change.entity = "hologram".into();
    let b = Store::open_in_memory().await.unwrap();
    let mut tx = b.write().await.unwrap();
    let applied = tx.apply_remote(&change).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(applied.unknown, vec!["hologram".to_string()]);
    assert_eq!(contacts::count(&b).await.unwrap(), 0);
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        device: usize,
        name: u8,
    },
    Edit {
        device: usize,
        pick: prop::sample::Index,
        title: u8,
    },
    Delete {
        device: usize,
        pick: prop::sample::Index,
    },
    Sync {
        from: usize,
        to: usize,
    },
}

fn op(devices: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..devices, any::<u8>()).prop_map(|(device, name)| Op::Create { device, name }),
        (0..devices, any::<prop::sample::Index>(), any::<u8>()).prop_map(
            |(device, pick, title)| Op::Edit {
                device,
                pick,
                title
            }
        ),
        (0..devices, any::<prop::sample::Index>())
            .prop_map(|(device, pick)| Op::Delete { device, pick }),
        (0..devices, 0..devices).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

async fn run(ops: Vec<Op>, devices: usize) -> Result<(), TestCaseError> {
    let mut stores = Vec::new();
    for _ in 0..devices {
        stores.push(Store::open_in_memory().await.unwrap());
    }
    for op in ops {
        match op {
            Op::Create { device, name } => {
                contacts::create(&stores[device], person(&format!("Person {name}")))
                    .await
                    .unwrap();
            }
            Op::Edit {
                device,
                pick,
                title,
            } => {
                let ids = known(&stores[device]).await;
                if ids.is_empty() {
                    continue;
                }
                let id = ids[pick.index(ids.len())];
                if let Ok(c) = contacts::get(&stores[device], id).await {
                    let mut input = ContactInput::from(&c);
                    input.title = Some(format!("Title {title}"));
                    contacts::update(&stores[device], id, input).await.unwrap();
                }
            }
            Op::Delete { device, pick } => {
                let ids = known(&stores[device]).await;
                if ids.is_empty() {
                    continue;
                }
                let _ = contacts::delete(&stores[device], ids[pick.index(ids.len())]).await;
            }
            Op::Sync { from, to } if from != to => deliver(&stores[from], &stores[to]).await,
            Op::Sync { .. } => {}
        }
    }
    // Heal: everyone hears from everyone, in a fixed order, twice.
    for _ in 0..2 {
        for from in 0..devices {
            for to in 0..devices {
                if from != to {
                    deliver(&stores[from], &stores[to]).await;
                }
            }
        }
    }
    let first = state(&stores[0]).await;
    for s in &stores[1..] {
        prop_assert_eq!(&state(s).await, &first);
    }
    Ok(())
}

async fn known(store: &Store) -> Vec<Uuid> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM contacts ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn replicas_converge_whatever_the_order_of_edits_and_exchanges(
        devices in 2usize..4,
        ops in prop::collection::vec(op(3), 1..25),
    ) {
        let ops: Vec<Op> = ops.into_iter().map(|o| match o {
            Op::Create { device, name } => Op::Create { device: device % devices, name },
            Op::Edit { device, pick, title } => Op::Edit { device: device % devices, pick, title },
            Op::Delete { device, pick } => Op::Delete { device: device % devices, pick },
            Op::Sync { from, to } => Op::Sync { from: from % devices, to: to % devices },
        }).collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops, devices))?;
    }
}
