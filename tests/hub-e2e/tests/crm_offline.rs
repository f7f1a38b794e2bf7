//! Acceptance 5 of the CRM issue: everything works with the sync server stopped, and
//! converges after it starts again.
//!
//! Two devices (real SQLite files) of one workspace sync once, then the server stops.
//! Offline, each does CRM work on the same contact and deal: stage moves, won/lost,
//! reminders, logged calls and emails, a ticket with comments, custom fields and values,
//! a saved view, tags on a deal. A sync attempt fails as "unreachable" (transient) and
//! loses nothing. The server starts again on the same database (a new address), both
//! devices sync, and every synced row is identical on both, with both devices' work in it.

use chrono::Utc;
use hub_core::contacts::{self, ContactInput};
use hub_core::custom_fields::{self, FieldEntity, FieldInput};
use hub_core::sync::{self, HttpTransport};
use hub_core::tags::{self, Taggable};
use hub_core::timeline::{self, TimelineOf, TimelineQuery};
use hub_core::{activities, deals, pipelines, reminders, tickets, views, Store};
use hub_e2e::{device_rows, spawn_server_with, TestServer};
use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords};
use serde_json::{from_value, json};

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a long password";

async fn serve(url: &str) -> TestServer {
    let db = Database::open(&DatabaseUrl::parse(url).unwrap())
        .await
        .unwrap();
    spawn_server_with(AppState::with_passwords(db, Passwords::cheap_for_tests())).await
}

async fn sync(store: &Store, server: &str, token: &str) -> sync::Report {
    let transport = HttpTransport::new(server, token).unwrap();
    sync::sync_once(store, &transport, |_| {}).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_work_offline_on_two_devices_converges_when_the_server_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    {
        let db = Database::open(&DatabaseUrl::parse(&url).unwrap())
            .await
            .unwrap();
        accounts::create_workspace(
            &db,
            &Passwords::cheap_for_tests(),
            "Field sales",
            EMAIL,
            Some(Password::parse(PASSWORD.to_owned()).unwrap()),
        )
        .await
        .unwrap();
        db.close().await;
    }
    let server = serve(&url).await;
    let first = server.base_url();
    let a = Store::open(&dir.path().join("a.db")).await.unwrap();
    let b = Store::open(&dir.path().join("b.db")).await.unwrap();
    let ta = sync::sign_in(&a, &first, EMAIL, PASSWORD, "laptop", None)
        .await
        .unwrap()
        .token;
    let tb = sync::sign_in(&b, &first, EMAIL, PASSWORD, "desktop", None)
        .await
        .unwrap()
        .token;

    // Online: a customer and a deal everyone has.
    let ada = contacts::create(
        &a,
        ContactInput {
            display_name: Some("Ada Lovelace".into()),
            company_name: Some("Analytical Engines".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let deal = deals::create(
        &a,
        from_value(json!({"title": "20 seats", "contact_id": ada.id, "amount": "12500.00", "currency": "EUR"}))
            .unwrap(),
    )
    .await
    .unwrap();
    sync(&a, &first, &ta).await;
    sync(&b, &first, &tb).await;
    assert_eq!(
        deals::get(&b, deal.summary.id).await.unwrap().summary.title,
        "20 seats"
    );

    // The server stops. Everything below is offline.
    server.shutdown().await;
    let offline = HttpTransport::new(&first, &ta).unwrap();
    let err = sync::sync_once(&a, &offline, |_| {}).await.unwrap_err();
    assert!(
        err.is_transient(),
        "an unreachable server is retried later: {err}"
    );

    let now = Utc::now();
    let stages = pipelines::list(&a).await.unwrap()[0].stages.clone();
    // Device A: moves the deal on, plans a follow-up, logs a call, opens a ticket, defines
    // a custom field and fills it in, saves a view, tags the deal.
    deals::move_deal(&a, deal.summary.id, stages[2].id, None, None)
        .await
        .unwrap();
    let reminder = reminders::add(
        &a,
        &from_value(json!({"title": "Send the quote", "due": "2030-01-15T09:00:00+01:00", "tz": "Europe/Berlin", "deal_id": deal.summary.id})).unwrap(),
        now,
    )
    .await
    .unwrap();
    activities::log(
        &a,
        from_value(json!({"kind": "call", "contact_id": ada.id, "direction": "outbound", "duration_s": 300})).unwrap(),
    )
    .await
    .unwrap();
    let ticket = tickets::create(
        &a,
        from_value(json!({"subject": "Invoice address", "contact_id": ada.id})).unwrap(),
    )
    .await
    .unwrap();
    tickets::comment(&a, ticket.id, "Asked for the new address")
        .await
        .unwrap();
    custom_fields::add(
        &a,
        FieldInput {
            entity: FieldEntity::Contact,
            label: "Seats".into(),
            field_type: from_value(json!("number")).unwrap(),
            options: vec![],
        },
    )
    .await
    .unwrap();
    let seats = custom_fields::list(&a, Some(FieldEntity::Contact), false)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.label == "Seats")
        .unwrap();
    custom_fields::set_values(
        &a,
        FieldEntity::Contact,
        ada.id,
        &[(seats.key.clone(), "20".into())],
    )
    .await
    .unwrap();
    views::save(
        &a,
        from_value(json!({"name": "Big accounts", "entity": "contact",
            "filter": {"conditions": [{"field": seats.key, "op": "gte", "value": "10"}]}}))
        .unwrap(),
    )
    .await
    .unwrap();
    tags::add(
        &a,
        "Hot",
        Some("#e5484d"),
        &[(Taggable::Deal, deal.summary.id)],
    )
    .await
    .unwrap();

    // Device B, at the same time: logs an email, plans its own reminder, comments on
    // nothing it cannot see yet, and sets stay-in-touch.
    activities::log(
        &b,
        from_value(json!({"kind": "email", "contact_id": ada.id, "subject": "Quote attached", "direction": "outbound"})).unwrap(),
    )
    .await
    .unwrap();
    reminders::add(
        &b,
        &from_value(json!({"title": "Call Ada back", "due": "2030-01-16T10:00:00-05:00", "tz": "America/New_York", "contact_id": ada.id})).unwrap(),
        now,
    )
    .await
    .unwrap();
    hub_core::stay_in_touch::set(&b, ada.id, Some(30))
        .await
        .unwrap();

    // The server starts again on the same database, at a new address.
    let server = serve(&url).await;
    let second = server.base_url();
    sync(&a, &second, &ta).await;
    sync(&b, &second, &tb).await;
    sync(&a, &second, &ta).await;

    assert_eq!(device_rows(&a).await, device_rows(&b).await, "converged");
    // Both devices' work is there, on both.
    for store in [&a, &b] {
        let d = deals::get(store, deal.summary.id).await.unwrap();
        assert_eq!(d.summary.stage.id, stages[2].id);
        // Created in the first stage, then moved by A, who signed in as the owner.
        let history = deals::history(store, deal.summary.id).await.unwrap();
        let moved = history
            .iter()
            .find(|h| h.to_stage.as_ref().map(|s| s.id) == Some(stages[2].id))
            .expect("the offline move is in the history");
        assert_eq!(moved.changed_by.as_deref(), Some(EMAIL));
        assert_eq!(
            reminders::get(store, reminder.id).await.unwrap().title,
            "Send the quote"
        );
        let shown = tickets::show(store, ticket.id).await.unwrap();
        assert_eq!(shown.comments.len(), 1);
        let entries = timeline::page(
            store,
            TimelineOf::Contact(ada.id),
            &from_value::<TimelineQuery>(json!({})).unwrap(),
        )
        .await
        .unwrap()
        .entries;
        let kinds: Vec<String> = entries.iter().map(|e| format!("{:?}", e.kind)).collect();
        for kind in ["Call", "Email", "TicketOpened", "TicketComment"] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{kind} missing from {kinds:?}"
            );
        }
        let values = custom_fields::values(store, FieldEntity::Contact, ada.id)
            .await
            .unwrap();
        assert_eq!(values.len(), 1);
        let big = views::run(store, "Big accounts", 0, 50).await.unwrap();
        assert_eq!(big.page.total, 1);
        assert_eq!(
            hub_core::stay_in_touch::get(store, ada.id)
                .await
                .unwrap()
                .every_days,
            Some(30)
        );
    }
    server.shutdown().await;
}
