use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::contacts::{self, ContactInput};
use crate::tags::Taggable;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

async fn contact(store: &Store, name: &str) -> Uuid {
    contacts::create(
        store,
        ContactInput {
            display_name: Some(name.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn rk(store: &Store, id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT rk FROM contacts WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Store an event for a contact the way any loader does: a row in `events`.
async fn event(store: &Store, contact: Uuid, name: &str, at: DateTime<Utc>, body: Value) {
    let rk = rk(store, contact).await;
    let (kind, path) = if name == "page" {
        (
            "page",
            body["context"]["page"]["path"].as_str().map(str::to_owned),
        )
    } else {
        ("track", None)
    };
    sqlx::query(
        "INSERT INTO events (message_id, type, name, path, at_ms, received_ms, body, contact_rk)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(kind)
    .bind((kind == "track").then_some(name))
    .bind(path)
    .bind(at.timestamp_millis())
    .bind(at.timestamp_millis())
    .bind(body.to_string())
    .bind(rk)
    .execute(store.pool())
    .await
    .unwrap();
}

async fn member_ids(store: &Store, name: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = members(store, name, 10_000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.contact_id)
        .collect();
    ids.sort();
    ids
}

async fn tagged(store: &Store, tag: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = sqlx::query_scalar::<_, String>(
        "SELECT l.contact_id FROM contact_tags l WHERE l.tag_id = ? AND l.deleted_at IS NULL",
    )
    .bind(tags::tag_id(tag).to_string())
    .fetch_all(store.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|s| Uuid::parse_str(&s).unwrap())
    .collect();
    ids.sort();
    ids
}

fn input(name: &str, rule: Value) -> SegmentInput {
    SegmentInput {
        name: name.into(),
        rule,
        triggers: None,
    }
}

#[tokio::test]
async fn an_event_one_second_inside_the_window_counts_and_one_outside_does_not() {
    let store = Store::open_in_memory().await.unwrap();
    let inside = contact(&store, "Inside").await;
    let outside = contact(&store, "Outside").await;
    let twice = contact(&store, "Twice").await;
    let now = t0();
    let d = Duration::days(7);
    event(
        &store,
        inside,
        "Order Completed",
        now - d + Duration::seconds(1),
        json!({}),
    )
    .await;
    event(
        &store,
        outside,
        "Order Completed",
        now - d - Duration::seconds(1),
        json!({}),
    )
    .await;
    event(
        &store,
        twice,
        "Order Completed",
        now - d + Duration::seconds(1),
        json!({}),
    )
    .await;
    event(
        &store,
        twice,
        "Order Completed",
        now - Duration::hours(1),
        json!({}),
    )
    .await;
    // Another event name does not count.
    event(&store, outside, "Signed Up", now, json!({})).await;

    create(
        &store,
        &input(
            "Buyers",
            json!({"event": "Order Completed", "in_last_days": 7}),
        ),
        now,
    )
    .await
    .unwrap();
    let mut want = vec![inside, twice];
    want.sort();
    assert_eq!(member_ids(&store, "Buyers").await, want);

    create(
        &store,
        &input(
            "Repeat",
            json!({"event": "Order Completed", "at_least": 2, "in_last_days": 7}),
        ),
        now,
    )
    .await
    .unwrap();
    assert_eq!(member_ids(&store, "Repeat").await, vec![twice]);

    // The incremental form agrees on each contact.
    let mut all = vec![inside, outside, twice];
    all.sort();
    assert_eq!(
        compute_for(&store, "Buyers", &all, now).await.unwrap(),
        want
    );
    assert_eq!(compute_full(&store, "Buyers", now).await.unwrap(), want);
}

#[tokio::test]
async fn membership_expires_with_no_new_events_and_history_and_tag_follow() {
    let store = Store::open_in_memory().await.unwrap();
    let ann = contact(&store, "Ann").await;
    let now = t0();
    event(
        &store,
        ann,
        "Viewed Product",
        now - Duration::days(2),
        json!({}),
    )
    .await;
    let seg = create(
        &store,
        &input(
            "Browsers",
            json!({"event": "Viewed Product", "in_last_days": 3}),
        ),
        now,
    )
    .await
    .unwrap();
    assert_eq!(seg.size, 1);
    assert_eq!(seg.tag, "segment: Browsers");
    assert_eq!(tagged(&store, "segment: Browsers").await, vec![ann]);

    // A day later: still inside (2 d + 1 d = 3 d exactly counts).
    let r = refresh(&store, now + Duration::days(1)).await.unwrap();
    assert_eq!((r.entered, r.exited), (0, 0));
    assert_eq!(member_ids(&store, "Browsers").await, vec![ann]);

    // One second more: nothing was written, and she leaves.
    let later = now + Duration::days(1) + Duration::seconds(1);
    let r = refresh(&store, later).await.unwrap();
    assert_eq!((r.entered, r.exited), (0, 1), "{r:?}");
    assert!(member_ids(&store, "Browsers").await.is_empty());
    assert!(tagged(&store, "segment: Browsers").await.is_empty());

    // A new event brings her back.
    event(&store, ann, "Viewed Product", later, json!({})).await;
    let r = refresh(&store, later).await.unwrap();
    assert_eq!(r.entered, 1);
    assert_eq!(tagged(&store, "segment: Browsers").await, vec![ann]);

    let h = history(&store, "Browsers", 10).await.unwrap();
    let kinds: Vec<&str> = h.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["entered", "exited", "entered"]);
    assert!(h.iter().all(|e| e.contact_id == ann));
    assert_eq!(contact_history(&store, ann, 10).await.unwrap(), h);
    assert_eq!(
        of_contact(&store, ann).await.unwrap(),
        vec!["Browsers".to_owned()]
    );
}

#[tokio::test]
async fn last_seen_turns_true_as_time_passes_without_a_write() {
    let store = Store::open_in_memory().await.unwrap();
    let bo = contact(&store, "Bo").await;
    let _never = contact(&store, "Never seen").await;
    let now = t0();
    event(
        &store,
        bo,
        "page",
        now - Duration::days(5),
        json!({"context": {"page": {"path": "/"}}}),
    )
    .await;
    create(
        &store,
        &input("Lapsed", json!({"last_seen_more_than_days": 10})),
        now,
    )
    .await
    .unwrap();
    assert!(member_ids(&store, "Lapsed").await.is_empty());
    refresh(&store, now + Duration::days(5)).await.unwrap();
    assert!(member_ids(&store, "Lapsed").await.is_empty());
    refresh(&store, now + Duration::days(5) + Duration::milliseconds(1))
        .await
        .unwrap();
    assert_eq!(member_ids(&store, "Lapsed").await, vec![bo]);
}

#[tokio::test]
async fn segment_tag_links_share_the_manual_link_id() {
    let store = Store::open_in_memory().await.unwrap();
    let a = contact(&store, "A").await;
    tags::attach(&store, Taggable::Contact, a, &["segment: Everyone".into()])
        .await
        .unwrap();
    let manual: String = sqlx::query_scalar("SELECT id FROM contact_tags WHERE contact_id = ?")
        .bind(a.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        manual,
        link_id(a, tags::tag_id("segment: Everyone")).to_string()
    );
}

#[tokio::test]
async fn a_tag_removed_by_hand_comes_back_and_edits_move_members_live() {
    let store = Store::open_in_memory().await.unwrap();
    let a = contact(&store, "A").await;
    let b = contact(&store, "B").await;
    let now = t0();
    create(&store, &input("VIPs", json!({"tag": "VIP"})), now)
        .await
        .unwrap();
    tags::attach(&store, Taggable::Contact, a, &["vip".into()])
        .await
        .unwrap();
    let r = refresh(&store, now).await.unwrap();
    assert_eq!(r.entered, 1);
    assert_eq!(tagged(&store, "segment: VIPs").await, vec![a]);
    // Removed by hand: the segment puts it back.
    tags::detach(&store, Taggable::Contact, a, &["segment: VIPs".into()])
        .await
        .unwrap();
    refresh(&store, now).await.unwrap();
    assert_eq!(tagged(&store, "segment: VIPs").await, vec![a]);
    // The rule's tag moves from a to b.
    tags::detach(&store, Taggable::Contact, a, &["VIP".into()])
        .await
        .unwrap();
    tags::attach(&store, Taggable::Contact, b, &["VIP".into()])
        .await
        .unwrap();
    let r = refresh(&store, now).await.unwrap();
    assert_eq!((r.entered, r.exited), (1, 1));
    assert_eq!(tagged(&store, "segment: VIPs").await, vec![b]);
    // A deleted contact leaves.
    contacts::delete(&store, b).await.unwrap();
    refresh(&store, now).await.unwrap();
    assert!(member_ids(&store, "VIPs").await.is_empty());
    assert!(tagged(&store, "segment: VIPs").await.is_empty());
}

#[tokio::test]
async fn entry_triggers_make_one_reminder_per_contact_and_set_the_stage() {
    let store = Store::open_in_memory().await.unwrap();
    let a = contact(&store, "Ann Lee").await;
    let now = t0();
    let seg = create(
        &store,
        &SegmentInput {
            name: "Hot".into(),
            rule: json!({"tag": "hot"}),
            triggers: Some(json!({
                "reminder": {"title": "Call {name}", "due_in_days": 2},
                "set_lifecycle_stage": "prospect"
            })),
        },
        now,
    )
    .await
    .unwrap();
    tags::attach(&store, Taggable::Contact, a, &["hot".into()])
        .await
        .unwrap();
    let r = refresh(&store, now).await.unwrap();
    assert_eq!((r.entered, r.reminders), (1, 1));
    let row: (String, String, String, String) =
        sqlx::query_as("SELECT id, title, due_at, assignee FROM reminders WHERE contact_id = ?")
            .bind(a.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(row.0, reminder_id(seg.id, a).to_string());
    assert_eq!(row.1, "Call Ann Lee");
    assert_eq!(row.2, "2026-11-03T12:00:00.000Z");
    assert_eq!(row.3, "me");
    assert_eq!(
        contacts::get(&store, a).await.unwrap().lifecycle_stage,
        LifecycleStage::Prospect
    );
    // Out and in again while the reminder is open: still one reminder.
    tags::detach(&store, Taggable::Contact, a, &["hot".into()])
        .await
        .unwrap();
    refresh(&store, now).await.unwrap();
    tags::attach(&store, Taggable::Contact, a, &["hot".into()])
        .await
        .unwrap();
    let r = refresh(&store, now).await.unwrap();
    assert_eq!((r.entered, r.reminders), (1, 0));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM reminders")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn fields_deals_won_amounts_custom_fields_and_first_touch() {
    use crate::custom_fields::{self, FieldInput};
    let store = Store::open_in_memory().await.unwrap();
    let now = t0();
    let a = contacts::create(
        &store,
        ContactInput {
            display_name: Some("Ada".into()),
            company_name: Some("Acme".into()),
            emails: vec![contacts::EmailEntry {
                kind: "work".into(),
                address: "ada@acme.com".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;
    let b = contact(&store, "Bob").await;
    custom_fields::add(
        &store,
        FieldInput {
            entity: custom_fields::FieldEntity::Contact,
            label: "Seats".into(),
            field_type: custom_fields::FieldType::Number,
            options: vec![],
        },
    )
    .await
    .unwrap();
    custom_fields::set_values(
        &store,
        custom_fields::FieldEntity::Contact,
        b,
        &[("seats".into(), "12.5".into())],
    )
    .await
    .unwrap();
    event(
        &store,
        a,
        "page",
        now - Duration::days(40),
        json!({"context": {"page": {"path": "/pricing/team", "url": "https://x.io/pricing/team?utm_source=g&utm_campaign=Spring+Sale"}}}),
    )
    .await;
    event(
        &store,
        a,
        "Order Completed",
        now - Duration::days(1),
        json!({"properties": {"total": 120.5, "coupon": "X"}, "context": {"campaign": {"name": "later"}}}),
    )
    .await;

    let cases = [
        (
            json!({"field": "email", "op": "contains", "value": "@ACME.com"}),
            vec![a],
        ),
        (json!({"field": "company", "value": "acme"}), vec![a]),
        (
            json!({"company_field": "name", "op": "starts_with", "value": "Ac"}),
            vec![a],
        ),
        (json!({"not": {"field": "email", "op": "is_set"}}), vec![b]),
        (
            json!({"custom_field": "seats", "op": "gt", "value": "12"}),
            vec![b],
        ),
        (json!({"custom_field": "seats", "op": "not_set"}), vec![a]),
        (json!({"lifecycle_stage": "lead"}), vec![a, b]),
        (json!({"visited": "/pricing/*"}), vec![a]),
        (
            json!({"visited": "/pricing", "match": "prefix", "in_last_days": 30}),
            vec![],
        ),
        (
            json!({"event": "Order Completed", "where": [{"property": "total", "op": "gte", "value": 120.5}]}),
            vec![a],
        ),
        (
            json!({"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 121}]}),
            vec![],
        ),
        (
            json!({"event": "Order Completed", "where": [{"property": "coupon", "op": "eq", "value": "X"}]}),
            vec![a],
        ),
        (
            json!({"event": "Order Completed", "where": [{"property": "properties.missing", "op": "exists"}]}),
            vec![],
        ),
        (json!({"first_touch_campaign": "spring sale"}), vec![a]),
        (json!({"first_touch_campaign": "later"}), vec![]),
        (
            json!({"won_amount": {"op": "lt", "value": "10", "currency": "EUR"}}),
            vec![a, b],
        ),
        (json!({"deal": {}}), vec![]),
    ];
    for (i, (rule, want)) in cases.iter().enumerate() {
        let name = format!("case {i}");
        create(&store, &input(&name, rule.clone()), now)
            .await
            .unwrap();
        let mut want = want.clone();
        want.sort();
        assert_eq!(member_ids(&store, &name).await, want, "{rule}");
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(
            compute_for(&store, &name, &both, now).await.unwrap(),
            want,
            "{rule} (per contact)"
        );
    }
}

#[tokio::test]
async fn bad_rules_and_names_write_nothing() {
    let store = Store::open_in_memory().await.unwrap();
    let now = t0();
    let e = create(
        &store,
        &input("X", json!({"custom_field": "nope", "value": "1"})),
        now,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("no custom field \"nope\""), "{e}");
    let e = create(
        &store,
        &input("X", json!({"deal": {"stage": "Nowhere"}})),
        now,
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("no deal stage named \"Nowhere\""),
        "{e}"
    );
    let e = create(
        &store,
        &input("X", json!({"won_amount": {"value": "5"}})),
        now,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("set a base currency"), "{e}");
    let e = create(&store, &input("X", json!({"tag": "segment: x"})), now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("its own tag"), "{e}");
    let e = create(&store, &input(&"n".repeat(42), json!({"tag": "a"})), now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 41"), "{e}");
    let e = create(
        &store,
        &SegmentInput {
            name: "X".into(),
            rule: json!({"tag": "a"}),
            triggers: Some(json!({"reminder": {"due_in_days": 2}})),
        },
        now,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("triggers.reminder.title"), "{e}");
    let n: i64 = sqlx::query_scalar("SELECT (SELECT count(*) FROM segments) + (SELECT count(*) FROM tags) + (SELECT count(*) FROM change_log)")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
    create(&store, &input("X", json!({"tag": "a"})), now)
        .await
        .unwrap();
    let e = create(&store, &input("x", json!({"tag": "a"})), now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("exists"), "{e}");
}

#[tokio::test]
async fn rename_moves_the_tag_and_delete_removes_it() {
    let store = Store::open_in_memory().await.unwrap();
    let a = contact(&store, "A").await;
    let now = t0();
    create(
        &store,
        &input("Old", json!({"lifecycle_stage": "lead"})),
        now,
    )
    .await
    .unwrap();
    assert_eq!(tagged(&store, "segment: Old").await, vec![a]);
    let seg = update(
        &store,
        "old",
        &SegmentPatch {
            name: Some("New".into()),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!((seg.name.as_str(), seg.size), ("New", 1));
    assert!(tagged(&store, "segment: Old").await.is_empty());
    assert_eq!(tagged(&store, "segment: New").await, vec![a]);
    // A new rule recomputes in full.
    let seg = update(
        &store,
        "New",
        &SegmentPatch {
            rule: Some(json!({"lifecycle_stage": "customer"})),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(seg.size, 0);
    assert!(tagged(&store, "segment: New").await.is_empty());
    update(
        &store,
        "New",
        &SegmentPatch {
            rule: Some(json!({"lifecycle_stage": "lead"})),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    delete(&store, "New", now).await.unwrap();
    assert!(tagged(&store, "segment: New").await.is_empty());
    assert!(list(&store).await.unwrap().is_empty());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM segment_members")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(matches!(
        get(&store, "New").await,
        Err(Error::NotFound { .. })
    ));
}

// ---- incremental = full ----------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    /// An event of contact i: name index, hours before now, a property value.
    Event(usize, usize, i64, i64),
    Stage(usize, usize),
    Tag(usize, bool),
    Advance(i64),
    Delete(usize),
    /// Contact i grants (true) or denies analytics.
    Consent(usize, bool),
    Refresh,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..5usize, 0..2usize, -2..120i64, 0..200i64).prop_map(|(c, n, h, v)| Step::Event(c, n, h, v)),
        1 => (0..5usize, 0..4usize).prop_map(|(c, s)| Step::Stage(c, s)),
        1 => (0..5usize, any::<bool>()).prop_map(|(c, on)| Step::Tag(c, on)),
        2 => (1..72i64).prop_map(Step::Advance),
        1 => (0..5usize).prop_map(Step::Delete),
        1 => (0..5usize, any::<bool>()).prop_map(|(c, on)| Step::Consent(c, on)),
        2 => Just(Step::Refresh),
    ]
}

const RULES: [&str; 3] = [
    r#"{"any": [
        {"all": [{"event": "Viewed", "at_least": 2, "in_last_days": 2}, {"not": {"tag": "blocked"}}]},
        {"all": [{"lifecycle_stage": ["customer"]}, {"not": {"last_seen_more_than_days": 1}}]}
    ]}"#,
    r#"{"all": [
        {"event": "Bought", "in_last_days": 3, "where": [{"property": "total", "op": "gt", "value": 100}]},
        {"not": {"lifecycle_stage": "churned"}}
    ]}"#,
    r#"{"any": [{"last_seen_more_than_days": 2}, {"tag": "blocked"},
               {"all": [{"consent": "analytics"}, {"field": "name", "op": "starts_with", "value": "p"}]}]}"#,
];

async fn run_steps(steps: Vec<Step>) {
    let store = Store::open_in_memory().await.unwrap();
    let mut now = t0();
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(contact(&store, &format!("P{i}")).await);
    }
    for (i, rule) in RULES.iter().enumerate() {
        create(
            &store,
            &input(&format!("S{i}"), serde_json::from_str(rule).unwrap()),
            now,
        )
        .await
        .unwrap();
    }
    let stages = ["lead", "prospect", "customer", "churned"];
    let mut deleted = HashSet::new();
    for step in steps.into_iter().chain([Step::Refresh]) {
        match step {
            Step::Event(c, n, hours, v) => {
                if deleted.contains(&c) {
                    continue;
                }
                let name = ["Viewed", "Bought"][n];
                event(
                    &store,
                    people[c],
                    name,
                    now - Duration::hours(hours),
                    json!({"properties": {"total": v}}),
                )
                .await;
            }
            Step::Stage(c, s) => {
                if deleted.contains(&c) {
                    continue;
                }
                let mut tx = store.write().await.unwrap();
                tx.update(
                    &CONTACT,
                    people[c],
                    vec![("lifecycle_stage", json!(stages[s]))],
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
            Step::Tag(c, on) => {
                if deleted.contains(&c) {
                    continue;
                }
                let names = ["blocked".to_owned()];
                if on {
                    tags::attach(&store, Taggable::Contact, people[c], &names)
                        .await
                        .unwrap();
                } else {
                    let _ = tags::detach(&store, Taggable::Contact, people[c], &names).await;
                }
            }
            Step::Consent(c, on) => {
                if deleted.contains(&c) {
                    continue;
                }
                use crate::consent::{self, ConsentInput, Purpose, Source, Status};
                consent::set(
                    &store,
                    ConsentInput {
                        contact_id: people[c],
                        purpose: Purpose::Analytics,
                        status: if on { Status::Granted } else { Status::Denied },
                        source: Source::Manual,
                        decided_at: None,
                        evidence: None,
                    },
                )
                .await
                .unwrap();
            }
            Step::Advance(h) => now += Duration::hours(h),
            Step::Delete(c) => {
                if deleted.insert(c) {
                    contacts::delete(&store, people[c]).await.unwrap();
                }
            }
            Step::Refresh => {
                refresh(&store, now).await.unwrap();
                for i in 0..RULES.len() {
                    let name = format!("S{i}");
                    let full = compute_full(&store, &name, now).await.unwrap();
                    assert_eq!(member_ids(&store, &name).await, full, "{name} at {now}");
                    assert_eq!(
                        tagged(&store, &tag_name(&name)).await,
                        full,
                        "tag of {name}"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_refresh_always_equals_a_full_recomputation(steps in prop::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run_steps(steps));
    }
}

#[tokio::test]
async fn entries_and_exits_are_on_the_contacts_timeline() {
    use crate::timeline::{self, EntryDetail, EntryKind, TimelineOf, TimelineQuery};
    let store = Store::open_in_memory().await.unwrap();
    let a = contact(&store, "A").await;
    let now = t0();
    event(&store, a, "Viewed", now - Duration::hours(1), json!({})).await;
    create(
        &store,
        &input("Recent", json!({"event": "Viewed", "in_last_days": 1})),
        now,
    )
    .await
    .unwrap();
    refresh(&store, now + Duration::days(1)).await.unwrap();
    let query = |kinds: Vec<EntryKind>, cursor: Option<String>| TimelineQuery {
        kinds,
        cursor,
        limit: 1,
    };
    let first = timeline::page(
        &store,
        TimelineOf::Contact(a),
        &query(EntryKind::parse_filter("segment").unwrap(), None),
    )
    .await
    .unwrap();
    assert_eq!(first.entries.len(), 1);
    assert_eq!(first.entries[0].kind, EntryKind::SegmentExited);
    let EntryDetail::Segment { segment } = &first.entries[0].detail else {
        panic!("{:?}", first.entries[0].detail)
    };
    assert_eq!((segment.name.as_str(), segment.deleted), ("Recent", false));
    let second = timeline::page(
        &store,
        TimelineOf::Contact(a),
        &query(vec![], first.next_cursor.clone()),
    )
    .await
    .unwrap();
    assert_eq!(second.entries[0].kind, EntryKind::SegmentEntered);
    // The whole timeline: the event, the entry, the exit, newest first.
    let all = timeline::page(
        &store,
        TimelineOf::Contact(a),
        &TimelineQuery {
            kinds: vec![],
            cursor: None,
            limit: 10,
        },
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = all.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["segment_exited", "segment_entered", "event"]);
    delete(&store, "Recent", now + Duration::days(1))
        .await
        .unwrap();
    let after = timeline::page(
        &store,
        TimelineOf::Contact(a),
        &query(vec![EntryKind::SegmentExited], None),
    )
    .await
    .unwrap();
    let EntryDetail::Segment { segment } = &after.entries[0].detail else {
        panic!()
    };
    assert!(segment.deleted);
}

#[tokio::test]
async fn consent_conditions_follow_the_decision_in_force() {
    use crate::consent::{self, ConsentInput, Purpose, Source, Status};
    let store = Store::open_in_memory().await.unwrap();
    let a = contact(&store, "A").await;
    let b = contact(&store, "B").await;
    let now = t0();
    create(
        &store,
        &input("Mailable", json!({"consent": "email_marketing"})),
        now,
    )
    .await
    .unwrap();
    create(
        &store,
        &input(
            "Do not sell",
            json!({"consent": "sale", "status": ["denied", "revoked"]}),
        ),
        now,
    )
    .await
    .unwrap();
    create(
        &store,
        &input(
            "Never asked",
            json!({"consent": "email_marketing", "status": "none"}),
        ),
        now,
    )
    .await
    .unwrap();
    let mut both = vec![a, b];
    both.sort();
    assert!(member_ids(&store, "Mailable").await.is_empty());
    assert_eq!(member_ids(&store, "Never asked").await, both);
    let decide = |who: Uuid, purpose: Purpose, status: Status| ConsentInput {
        contact_id: who,
        purpose,
        status,
        source: Source::Manual,
        decided_at: None,
        evidence: None,
    };
    consent::set(&store, decide(a, Purpose::EmailMarketing, Status::Granted))
        .await
        .unwrap();
    consent::set(&store, decide(b, Purpose::Sale, Status::Denied))
        .await
        .unwrap();
    refresh(&store, now).await.unwrap();
    assert_eq!(member_ids(&store, "Mailable").await, vec![a]);
    assert_eq!(member_ids(&store, "Do not sell").await, vec![b]);
    assert_eq!(member_ids(&store, "Never asked").await, vec![b]);
    // Withdrawn: the later decision counts.
    consent::set(&store, decide(a, Purpose::EmailMarketing, Status::Denied))
        .await
        .unwrap();
    refresh(&store, now).await.unwrap();
    assert!(member_ids(&store, "Mailable").await.is_empty());
    for name in ["Mailable", "Do not sell", "Never asked"] {
        assert_eq!(
            member_ids(&store, name).await,
            compute_full(&store, name, now).await.unwrap()
        );
    }
}

/// Events as the collection, the stream and `hub events import` store them:
/// anonymous page views, then identify (identity resolution makes the lead and
/// attaches the history), then purchases — the segment sees them all.
#[tokio::test]
async fn events_stored_and_resolved_by_the_ingest_path_move_contacts_in() {
    let store = Store::open_in_memory().await.unwrap();
    let now = Utc::now();
    create(
        &store,
        &input(
            "Spring buyers",
            json!({"all": [
                {"first_touch_campaign": "spring sale"},
                {"event": "Order Completed", "at_least": 2, "in_last_days": 7},
                {"visited": "/pricing", "match": "prefix"}
            ]}),
        ),
        now,
    )
    .await
    .unwrap();
    let at = |minutes: i64| (now - Duration::minutes(minutes)).to_rfc3339();
    let raw = [
        json!({"type": "page", "anonymousId": "anon-1", "messageId": "p1", "timestamp": at(90),
               "properties": {"path": "/pricing/team",
                              "url": "https://shop.example/pricing/team?utm_campaign=spring%20sale"}}),
        json!({"type": "identify", "anonymousId": "anon-1", "userId": "u-42", "messageId": "i1",
               "timestamp": at(80), "traits": {"email": "kim@example.com", "name": "Kim Lee"}}),
        json!({"type": "track", "userId": "u-42", "event": "Order Completed", "messageId": "t1",
               "timestamp": at(70), "context": {"campaign": {"name": "later"}}}),
    ];
    let normalise = |v: &Value| {
        hub_protocol::segment::normalise(v.clone(), &hub_protocol::segment::Options::single(now))
            .unwrap()
    };
    let events: Vec<_> = raw.iter().map(normalise).collect();
    crate::events::store(&store, &events).await.unwrap();
    refresh(&store, now).await.unwrap();
    assert!(
        list(&store).await.unwrap()[0].size == 0,
        "one order is not two"
    );

    let second = normalise(
        &json!({"type": "track", "userId": "u-42", "event": "Order Completed",
                                  "messageId": "t2", "timestamp": at(5)}),
    );
    crate::events::store(&store, &[second]).await.unwrap();
    let r = refresh(&store, now).await.unwrap();
    assert_eq!(r.entered, 1, "{r:?}");
    let members = members(&store, "Spring buyers", 10, 0).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        compute_full(&store, "Spring buyers", now).await.unwrap(),
        vec![members[0].contact_id]
    );
    assert_eq!(
        tagged(&store, "segment: Spring buyers").await,
        vec![members[0].contact_id]
    );
}

#[tokio::test]
async fn preview_counts_an_unsaved_rule_without_writing() {
    let store = Store::open_in_memory().await.unwrap();
    let now = t0();
    for name in ["Zoe", "adam", "Mia"] {
        let c = contact(&store, name).await;
        if name != "Mia" {
            event(&store, c, "Signed Up", now - Duration::days(1), json!({})).await;
        }
    }
    let rule = json!({"event": "Signed Up", "in_last_days": 7});
    let p = preview(&store, &rule, now, 1).await.unwrap();
    assert_eq!(p.count, 2);
    let names: Vec<_> = p.sample.iter().map(|m| m.name.clone().unwrap()).collect();
    assert_eq!(names, ["adam"], "first by name, case-insensitive");
    let p = preview(&store, &rule, now, 10).await.unwrap();
    assert_eq!(p.sample.len(), 2);

    let bad = preview(
        &store,
        &json!({"field": "nope", "op": "eq", "value": 1}),
        now,
        5,
    )
    .await;
    assert!(bad.is_err());
    let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM segments")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(written, 0);
}
