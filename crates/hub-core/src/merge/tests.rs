use super::*;
use crate::companies::{self, CompanyInput};
use crate::contacts::{self, ContactInput, EmailEntry, PhoneEntry};
use crate::custom_fields::{self, FieldInput};

fn person(name: &str, emails: &[&str], phones: &[&str], tags: &[&str]) -> ContactInput {
    ContactInput {
        display_name: Some(name.into()),
        emails: emails
            .iter()
            .map(|e| EmailEntry {
                kind: "work".into(),
                address: (*e).into(),
            })
            .collect(),
        phones: phones
            .iter()
            .map(|p| PhoneEntry {
                kind: "mobile".into(),
                number: (*p).into(),
            })
            .collect(),
        tags: tags.iter().map(|t| (*t).to_string()).collect(),
        ..Default::default()
    }
}

/// Every row of every synced table but the merge history: (entity, id) -> values.
async fn dump(store: &Store) -> BTreeMap<(String, String), Map<String, Value>> {
    let mut conn = store.pool().acquire().await.unwrap();
    let mut out = BTreeMap::new();
    for entity in entities::ALL.iter().filter(|e| e.name != "merge") {
        let pairs: Vec<String> = entity
            .fields
            .iter()
            .map(|f| format!("'{f}', {f}"))
            .collect();
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT id, json_object({}) FROM {}",
            pairs.join(", "),
            entity.table
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        for (id, values) in rows {
            out.insert(
                (entity.name.to_owned(), id),
                serde_json::from_str(&values).unwrap(),
            );
        }
    }
    out
}

/// The full JSON export (live rows) without the merge history itself.
async fn export_without_history(store: &Store) -> Value {
    let mut export: Value =
        serde_json::from_str(&crate::export::json_string(store).await.unwrap()).unwrap();
    export["entities"].as_object_mut().unwrap().remove("merge");
    export
}

async fn change_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM change_log")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// One row pointing at `owner` in every table that can refer to a `kind`
/// record, written generically (so a new relation is covered with no new test).
async fn relate_everything(
    store: &Store,
    relations: &[Relation],
    owner: Uuid,
) -> Vec<(String, Uuid)> {
    let mut tx = store.write().await.unwrap();
    let mut made = Vec::new();
    for r in relations {
        if matches!(r.follow, Follow::Tag(_)) {
            continue; // tags go through the tags module (ids derived from names)
        }
        let id = Uuid::now_v7();
        let mut fields: Fields = vec![(r.column, json!(owner.to_string()))];
        if let Follow::Unique(col) = r.follow {
            fields.push((col, json!(format!("unique-{id}"))));
        }
        tx.insert(r.entity, id, fields).await.unwrap();
        made.push((r.entity.name.to_owned(), id));
    }
    tx.commit().await.unwrap();
    made
}

#[test]
fn every_reference_to_a_contact_or_company_is_a_relation() {
    // An erasure names the contact it erased; it must never be repointed at another.
    for e in entities::ALL
        .iter()
        .filter(|e| e.name != entities::ERASURE.name)
    {
        for (column, relations) in [
            ("contact_id", CONTACT_RELATIONS),
            ("company_id", COMPANY_RELATIONS),
        ] {
            if e.has_field(column) {
                assert!(
                    relations
                        .iter()
                        .any(|r| std::ptr::eq(r.entity, *e) && r.column == column),
                    "{}.{column} is not followed by merges",
                    e.name
                );
            }
        }
    }
}

#[tokio::test]
async fn a_contact_merge_moves_every_related_row_and_undo_restores_exactly() {
    let store = Store::open_in_memory().await.unwrap();
    custom_fields::add(
        &store,
        FieldInput {
            entity: FieldEntity::Contact,
            label: "Budget".into(),
            field_type: FieldType::Number,
            options: vec![],
        },
    )
    .await
    .unwrap();
    let keep = contacts::create(
        &store,
        ContactInput {
            title: None,
            ..person(
                "Ada Lovelace",
                &["ada@example.com"],
                &["+1 415 555 2671"],
                &["vip"],
            )
        },
    )
    .await
    .unwrap();
    let other = contacts::create(
        &store,
        ContactInput {
            title: Some("Analyst".into()),
            source: Some("import".into()),
            ..person(
                "Ada King",
                &["ADA@example.com", "countess@example.com"],
                &["+44 20 7946 0018"],
                &["VIP", "math"],
            )
        },
    )
    .await
    .unwrap();
    custom_fields::set_values(
        &store,
        FieldEntity::Contact,
        other.id,
        &[("budget".into(), "1200.50".into())],
    )
    .await
    .unwrap();
    let related = relate_everything(&store, CONTACT_RELATIONS, other.id).await;
    let bystander = contacts::create(&store, person("Bob", &["bob@example.com"], &[], &["vip"]))
        .await
        .unwrap();
    let before = dump(&store).await;
    let export_before = export_without_history(&store).await;

    let preview = preview(&store, RecordKind::Contact, keep.id, other.id, &[])
        .await
        .unwrap();
    let title = preview.fields.iter().find(|f| f.field == "title").unwrap();
    assert_eq!(
        (title.keep.as_deref(), title.other.as_deref(), title.winner),
        (None, Some("Analyst"), Winner::Other)
    );
    let name = preview
        .fields
        .iter()
        .find(|f| f.field == "display_name")
        .unwrap();
    assert_eq!(name.winner, Winner::Keep);
    // Two typed emails and the generic row.
    assert!(
        preview
            .moves
            .iter()
            .any(|m| m.what == "emails" && m.count == 3),
        "{:?}",
        preview.moves
    );

    let merged = merge_contacts(
        &store,
        keep.id,
        other.id,
        &[
            ("name".into(), Winner::Other),
            ("source".into(), Winner::Keep),
        ],
    )
    .await
    .unwrap();
    assert_eq!(merged.survivor_id, keep.id);
    assert_eq!(merged.loser_id, other.id);
    assert_eq!(merged.choices.get("display_name"), Some(&Winner::Other));
    assert_eq!(merged.choices.get("title"), Some(&Winner::Other));
    assert_eq!(merged.choices.get("source"), Some(&Winner::Keep));
    assert_eq!(merged.choices.get("custom.budget"), Some(&Winner::Other));

    let survivor = contacts::get(&store, keep.id).await.unwrap();
    assert_eq!(survivor.display_name, "Ada King");
    assert_eq!(survivor.title.as_deref(), Some("Analyst"));
    assert_eq!(survivor.source, None);
    let emails: Vec<&str> = survivor.emails.iter().map(|e| e.address.as_str()).collect();
    assert!(emails.contains(&"ada@example.com") && emails.contains(&"countess@example.com"));
    assert_eq!(emails.len(), 3, "{emails:?}"); // ADA@ was a repeat; + the generic row
    assert_eq!(survivor.tags, vec!["math", "vip"]);
    let values = custom_fields::values(&store, FieldEntity::Contact, keep.id)
        .await
        .unwrap();
    assert_eq!(values[0].value, json!("1200.5"));
    assert!(
        contacts::get(&store, other.id).await.is_err(),
        "the other contact is deleted"
    );
    // Nothing refers to the merged-away contact any more, deleted rows included.
    let mut conn = store.pool().acquire().await.unwrap();
    for r in CONTACT_RELATIONS {
        let live: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE {} = ? AND deleted_at IS NULL",
            r.entity.table, r.column
        ))
        .bind(other.id.to_string())
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(live, 0, "{} still on the other contact", r.entity.name);
    }
    for (entity, id) in &related {
        let e = entities::by_name(entity).unwrap();
        let column = CONTACT_RELATIONS
            .iter()
            .find(|r| std::ptr::eq(r.entity, e))
            .unwrap()
            .column;
        let now: String =
            sqlx::query_scalar(&format!("SELECT {column} FROM {} WHERE id = ?", e.table))
                .bind(id.to_string())
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(now, keep.id.to_string(), "{entity} did not move");
    }
    drop(conn);
    // The bystander is untouched; the history lists the merge.
    assert_eq!(
        contacts::get(&store, bystander.id).await.unwrap().tags,
        vec!["vip"]
    );
    let history = list(&store, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(
        history[0]
            .moved
            .iter()
            .any(|m| m.what == "deals" && m.count == 1),
        "{:?}",
        history[0].moved
    );

    let report = undo(&store, merged.id).await.unwrap();
    assert!(report.kept.is_empty(), "{:?}", report.kept);
    assert!(report.merge.undone_at.is_some());
    let after = dump(&store).await;
    for (key, was) in &before {
        assert_eq!(after.get(key), Some(was), "{key:?} not restored");
    }
    for (key, row) in &after {
        if !before.contains_key(key) {
            assert!(
                row["deleted_at"].is_string(),
                "{key:?} made by the merge is still live"
            );
        }
    }
    assert_eq!(export_without_history(&store).await, export_before);
    // Undoing twice is refused and writes nothing.
    let n = change_count(&store).await;
    assert!(undo(&store, merged.id)
        .await
        .unwrap_err()
        .to_string()
        .contains("already undone"));
    assert_eq!(change_count(&store).await, n);
}

#[tokio::test]
async fn bad_merges_are_refused_and_write_nothing() {
    let store = Store::open_in_memory().await.unwrap();
    let a = contacts::create(&store, person("A", &[], &[], &[]))
        .await
        .unwrap();
    let b = contacts::create(&store, person("B", &[], &[], &[]))
        .await
        .unwrap();
    let gone = contacts::create(&store, person("Gone", &[], &[], &[]))
        .await
        .unwrap();
    contacts::delete(&store, gone.id).await.unwrap();
    let company = companies::create(
        &store,
        CompanyInput {
            name: "Acme".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let n = change_count(&store).await;
    let err = |e: Error| e.to_string();
    assert!(
        err(merge_contacts(&store, a.id, a.id, &[]).await.unwrap_err()).contains("with itself")
    );
    assert!(err(merge_contacts(&store, a.id, gone.id, &[])
        .await
        .unwrap_err())
    .contains("is deleted"));
    assert!(err(merge_contacts(&store, gone.id, a.id, &[])
        .await
        .unwrap_err())
    .contains("is deleted"));
    let unknown = Uuid::now_v7();
    let e = merge_contacts(&store, a.id, unknown, &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
    // A company id is no contact.
    assert_eq!(
        merge_contacts(&store, a.id, company.id, &[])
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let e = merge_contacts(&store, a.id, b.id, &[("shoe_size".into(), Winner::Other)])
        .await
        .unwrap_err();
    assert!(err(e).contains("no field \"shoe_size\""));
    assert_eq!(undo(&store, unknown).await.unwrap_err().code(), "not_found");
    assert_eq!(change_count(&store).await, n);
    assert!(list(&store, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_company_merge_moves_contacts_and_takes_the_chosen_domain() {
    let store = Store::open_in_memory().await.unwrap();
    let keep = companies::create(
        &store,
        CompanyInput {
            name: "Acme".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let other = companies::create(
        &store,
        CompanyInput {
            name: "ACME Inc.".into(),
            domain: Some("acme.example".into()),
            city: Some("Springfield".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let worker = contacts::create(
        &store,
        ContactInput {
            company_id: Some(other.id),
            ..person("Wile", &[], &[], &[])
        },
    )
    .await
    .unwrap();
    let related = relate_everything(&store, COMPANY_RELATIONS, other.id).await;
    tags::attach(&store, Taggable::Company, keep.id, &["partner".into()])
        .await
        .unwrap();
    tags::attach(
        &store,
        Taggable::Company,
        other.id,
        &["Partner".into(), "reseller".into()],
    )
    .await
    .unwrap();
    let before = dump(&store).await;
    let merged = merge_companies(&store, keep.id, other.id, &[("city".into(), Winner::Keep)])
        .await
        .unwrap();
    let survivor = companies::get(&store, keep.id).await.unwrap();
    assert_eq!(survivor.name, "Acme");
    assert_eq!(survivor.domain.as_deref(), Some("acme.example"));
    assert_eq!(survivor.city, None);
    assert_eq!(
        contacts::get(&store, worker.id)
            .await
            .unwrap()
            .company
            .unwrap()
            .id,
        keep.id
    );
    assert_eq!(related.len(), COMPANY_RELATIONS.len() - 1);
    let mut conn = store.pool().acquire().await.unwrap();
    assert_eq!(
        tags::names_for(&mut conn, Taggable::Company, keep.id)
            .await
            .unwrap(),
        vec!["partner", "reseller"]
    );
    assert!(tags::names_for(&mut conn, Taggable::Company, other.id)
        .await
        .unwrap()
        .is_empty());
    drop(conn);
    undo(&store, merged.id).await.unwrap();
    let after = dump(&store).await;
    for (key, was) in &before {
        assert_eq!(after.get(key), Some(was), "{key:?} not restored");
    }
}

#[tokio::test]
async fn undo_keeps_edits_made_since_and_waits_for_a_later_merge() {
    let store = Store::open_in_memory().await.unwrap();
    let a = contacts::create(&store, person("Ann", &[], &[], &[]))
        .await
        .unwrap();
    let b = contacts::create(
        &store,
        ContactInput {
            title: Some("CEO".into()),
            ..person("Anne", &[], &[], &[])
        },
    )
    .await
    .unwrap();
    let c = contacts::create(&store, person("Annie", &[], &[], &[]))
        .await
        .unwrap();
    let first = merge_contacts(&store, a.id, b.id, &[]).await.unwrap();
    // The survivor's title is edited after the merge.
    let mut input = ContactInput::from(&contacts::get(&store, a.id).await.unwrap());
    input.title = Some("Chair".into());
    contacts::update(&store, a.id, input).await.unwrap();
    let second = merge_contacts(&store, c.id, a.id, &[]).await.unwrap();
    let e = undo(&store, first.id).await.unwrap_err();
    assert!(e.to_string().contains("undo that merge first"), "{e}");
    undo(&store, second.id).await.unwrap();
    let report = undo(&store, first.id).await.unwrap();
    assert_eq!(report.kept, vec![format!("contact {} title", a.id)]);
    assert_eq!(
        contacts::get(&store, a.id).await.unwrap().title.as_deref(),
        Some("Chair")
    );
    assert_eq!(
        contacts::get(&store, b.id).await.unwrap().title.as_deref(),
        Some("CEO")
    );
}

/// Ship `from`'s unsent changes to `to` as a pull would (applied, then
/// followed up, in one transaction), and mark them sent.
async fn ship(from: &Store, to: &Store) -> usize {
    let outbox = crate::changes::outbox(from, 100_000).await.unwrap();
    let mut tx = to.write().await.unwrap();
    for change in &outbox {
        tx.apply_remote(change).await.unwrap();
    }
    follow_up(&mut tx, outbox.iter()).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query("DELETE FROM change_log")
        .execute(from.pool())
        .await
        .unwrap();
    outbox.len()
}

async fn rows(store: &Store) -> BTreeMap<(String, String), Map<String, Value>> {
    dump(store).await
}

#[tokio::test]
async fn a_device_that_edited_the_merged_contact_offline_ends_on_the_survivor_with_its_edit() {
    let a = Store::open_in_memory().await.unwrap();
    let b = Store::open_in_memory().await.unwrap();
    let keep = contacts::create(
        &a,
        person("Grace Hopper", &["grace@navy.example"], &[], &[]),
    )
    .await
    .unwrap();
    let other = contacts::create(
        &a,
        person("Grace B. Hopper", &["amazing@grace.example"], &[], &[]),
    )
    .await
    .unwrap();
    ship(&a, &b).await;
    // B, offline: edits the duplicate's title, adds a phone and logs a call on it.
    let mut input = ContactInput::from(&contacts::get(&b, other.id).await.unwrap());
    input.title = Some("Rear Admiral".into());
    input.phones.push(PhoneEntry {
        kind: "work".into(),
        number: "+1 202 555 0143".into(),
    });
    contacts::update(&b, other.id, input).await.unwrap();
    let call = Uuid::now_v7();
    let mut tx = b.write().await.unwrap();
    tx.insert(
        &ACTIVITY,
        call,
        vec![
            ("kind", json!("call")),
            ("contact_id", json!(other.id.to_string())),
            ("occurred_at", json!(now_rfc3339())),
            ("subject", json!("COBOL")),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A, meanwhile: merges the duplicate into Grace.
    merge_contacts(&a, keep.id, other.id, &[]).await.unwrap();
    // They sync, in either order, until nothing is left to send.
    for _ in 0..4 {
        ship(&b, &a).await;
        ship(&a, &b).await;
    }
    assert_eq!(rows(&a).await, rows(&b).await);
    for store in [&a, &b] {
        let survivor = contacts::get(store, keep.id).await.unwrap();
        assert_eq!(survivor.title.as_deref(), Some("Rear Admiral"));
        assert_eq!(survivor.phones.len(), 1);
        assert_eq!(survivor.emails.len(), 2);
        let on: String = sqlx::query_scalar("SELECT contact_id FROM activities WHERE id = ?")
            .bind(call.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(on, keep.id.to_string());
        assert!(contacts::get(store, other.id).await.is_err());
        let orphans: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM activities WHERE contact_id = ?1 AND deleted_at IS NULL)
                  + (SELECT count(*) FROM contact_phones WHERE contact_id = ?1 AND deleted_at IS NULL)
                  + (SELECT count(*) FROM contact_emails WHERE contact_id = ?1 AND deleted_at IS NULL)",
        )
        .bind(other.id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(orphans, 0);
    }
}

#[tokio::test]
async fn an_edit_of_the_survivor_after_the_merge_is_not_overwritten_by_an_older_offline_edit() {
    let a = Store::open_in_memory().await.unwrap();
    let b = Store::open_in_memory().await.unwrap();
    let keep = contacts::create(&a, person("Alan Turing", &[], &[], &[]))
        .await
        .unwrap();
    let other = contacts::create(&a, person("A. Turing", &[], &[], &[]))
        .await
        .unwrap();
    ship(&a, &b).await;
    let mut input = ContactInput::from(&contacts::get(&b, other.id).await.unwrap());
    input.title = Some("Codebreaker".into());
    contacts::update(&b, other.id, input).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    merge_contacts(&a, keep.id, other.id, &[]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut input = ContactInput::from(&contacts::get(&a, keep.id).await.unwrap());
    input.title = Some("Mathematician".into());
    contacts::update(&a, keep.id, input).await.unwrap();
    for _ in 0..3 {
        ship(&b, &a).await;
        ship(&a, &b).await;
    }
    assert_eq!(rows(&a).await, rows(&b).await);
    assert_eq!(
        contacts::get(&b, keep.id).await.unwrap().title.as_deref(),
        Some("Mathematician")
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;

    const EMAILS: [&str; 4] = ["a@x.example", "A@x.example", "b@x.example", "c@x.example"];
    const TAGS: [&str; 3] = ["vip", "VIP", "lead"];

    fn contact_input() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Option<String>, usize)> {
        (
            proptest::collection::btree_set(0..EMAILS.len(), 0..3)
                .prop_map(|s| s.into_iter().collect()),
            proptest::collection::btree_set(0..TAGS.len(), 0..3)
                .prop_map(|s| s.into_iter().collect()),
            proptest::option::of("[A-Z][a-z]{1,6}"),
            0..3usize,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Any two contacts with any emails (repeats in another case), tags,
        /// titles and calls: the merge leaves nothing on the other contact and
        /// the survivor with the union; undo gives back every row as it was.
        #[test]
        fn merge_then_undo_is_exact(keep in contact_input(), other in contact_input(),
                                    take_title in any::<bool>()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let store = Store::open_in_memory().await.unwrap();
                let mut ids = Vec::new();
                for (n, (emails, tags, title, calls)) in [&keep, &other].into_iter().enumerate() {
                    // One spelling per address within a contact (the form refuses repeats).
                    let mut addrs: Vec<&str> = Vec::new();
                    for e in emails {
                        if !addrs.iter().any(|a| a.eq_ignore_ascii_case(EMAILS[*e])) {
                            addrs.push(EMAILS[*e]);
                        }
                    }
                    let mut names: Vec<&str> = Vec::new();
                    for t in tags {
                        if !names.iter().any(|a| a.eq_ignore_ascii_case(TAGS[*t])) {
                            names.push(TAGS[*t]);
                        }
                    }
                    let c = contacts::create(&store, ContactInput {
                        title: title.clone(),
                        ..person(&format!("Person {n}"), &addrs, &[], &names)
                    }).await.unwrap();
                    for i in 0..*calls {
                        let mut tx = store.write().await.unwrap();
                        tx.insert(&ACTIVITY, Uuid::now_v7(), vec![
                            ("kind", json!("call")),
                            ("contact_id", json!(c.id.to_string())),
                            ("occurred_at", json!(format!("2026-01-0{}T10:00:00.000Z", i + 1))),
                        ]).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                    ids.push(c);
                }
                let before = dump(&store).await;
                let prefer = if take_title { vec![("title".to_owned(), Winner::Other)] } else { vec![] };
                let m = merge_contacts(&store, ids[0].id, ids[1].id, &prefer).await.unwrap();
                let survivor = contacts::get(&store, ids[0].id).await.unwrap();
                let mut want_emails: Vec<String> = ids[0].emails.iter().chain(&ids[1].emails)
                    .map(|e| e.address.to_lowercase()).collect();
                want_emails.sort();
                want_emails.dedup();
                let mut got: Vec<String> = survivor.emails.iter().map(|e| e.address.to_lowercase()).collect();
                got.sort();
                assert_eq!(got, want_emails);
                let mut want_tags: Vec<String> = ids[0].tags.iter().chain(&ids[1].tags)
                    .map(|t| t.to_lowercase()).collect();
                want_tags.sort();
                want_tags.dedup();
                let mut got: Vec<String> = survivor.tags.iter().map(|t| t.to_lowercase()).collect();
                got.sort();
                assert_eq!(got, want_tags);
                // An explicit pick of the other's empty value clears the title.
                let want_title = if take_title || ids[0].title.is_none() {
                    ids[1].title.clone()
                } else {
                    ids[0].title.clone()
                };
                assert_eq!(survivor.title, want_title);
                for r in CONTACT_RELATIONS {
                    let n: i64 = sqlx::query_scalar(&format!(
                        "SELECT count(*) FROM {} WHERE {} = ? AND deleted_at IS NULL", r.entity.table, r.column))
                        .bind(ids[1].id.to_string()).fetch_one(store.pool()).await.unwrap();
                    assert_eq!(n, 0, "{}", r.entity.name);
                }
                undo(&store, m.id).await.unwrap();
                let after = dump(&store).await;
                for (key, was) in &before {
                    assert_eq!(after.get(key), Some(was), "{:?}", key);
                }
                for (key, row) in &after {
                    if !before.contains_key(key) {
                        assert!(row["deleted_at"].is_string(), "{:?}", key);
                    }
                }
            });
        }
    }
}
