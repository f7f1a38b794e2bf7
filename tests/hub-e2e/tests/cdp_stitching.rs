//! Acceptance 2 of issue 6 (stitching): a website's anonymous page views reach a real
//! `hub-server` (port 0, SQLite) through its Segment collection endpoints, followed by
//! an identify; an app's events are loaded offline on device A (`hub events import`)
//! and uploaded by A's sync. Device B, after its sync, shows all of them on the
//! identified person's timeline, and A and B hold the same synced rows (the lead and
//! the identities have derived ids, so both devices resolving the same events converge).
//! Two profiles identified by different user ids on one browser are not merged: B
//! records a warning instead.

use hub_core::contacts::{self, ContactInput, EmailEntry};
use hub_core::identity::{self, lead_id};
use hub_core::sync::{self, HttpTransport};
use hub_core::timeline::{self, EntryKind, TimelineOf, TimelineQuery};
use hub_core::{events, Store};
use hub_e2e::{device_rows, spawn_server_with, TestServer};
use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords};
use serde_json::{json, Value};

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a long password";

struct Device {
    store: Store,
    transport: HttpTransport,
}

impl Device {
    async fn join(server: &TestServer, dir: &std::path::Path, name: &str) -> Device {
        let store = Store::open(&dir.join(format!("{name}.db"))).await.unwrap();
        let signed = sync::sign_in(&store, &server.base_url(), EMAIL, PASSWORD, name, None)
            .await
            .unwrap();
        Device {
            transport: HttpTransport::new(&server.base_url(), &signed.token).unwrap(),
            store,
        }
    }

    async fn sync(&self) {
        sync::sync_once(&self.store, &self.transport, |_| {})
            .await
            .unwrap();
    }
}

/// Rounds until both devices have sent and received every write: what resolution
/// writes while a round reads the event stream goes up with the device's next round.
async fn settle(a: &Device, b: &Device) {
    for _ in 0..2 {
        a.sync().await;
        b.sync().await;
    }
    a.sync().await;
}

/// A Segment call as analytics.js sends it (write key as Basic user name).
async fn collect(server: &TestServer, key: &str, path: &str, body: Value) {
    let response = server
        .client()
        .post(server.url(path))
        .basic_auth(key, Some(""))
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{path}: {:?}",
        response.text().await
    );
}

async fn kinds_on(store: &Store, contact: uuid::Uuid) -> Vec<(String, String)> {
    let page = timeline::page(
        store,
        TimelineOf::Contact(contact),
        &TimelineQuery {
            kinds: EntryKind::parse_filter("behaviour").unwrap(),
            cursor: None,
            limit: 100,
        },
    )
    .await
    .unwrap();
    page.entries
        .iter()
        .map(|e| {
            let id = match &e.detail {
                timeline::EntryDetail::Event { event } => event.message_id.clone(),
                other => panic!("{other:?}"),
            };
            (e.kind.as_str().to_owned(), id)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visits_then_identify_land_on_the_contact_on_a_second_device() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let db = Database::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    let passwords = Passwords::cheap_for_tests();
    let workspace = accounts::create_workspace(
        &db,
        &passwords,
        "Acme",
        EMAIL,
        Some(Password::parse(PASSWORD.to_owned()).unwrap()),
    )
    .await
    .unwrap();
    let key = workspace.write_key;
    let server = spawn_server_with(AppState::with_passwords(db, passwords)).await;
    let a = Device::join(&server, dir.path(), "A").await;
    let b = Device::join(&server, dir.path(), "B").await;

    // A CRM contact made on A, known to both devices.
    let ann = contacts::create(
        &a.store,
        ContactInput {
            display_name: Some("Ann Archer".into()),
            emails: vec![EmailEntry {
                kind: "work".into(),
                address: "ann@example.com".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    a.sync().await;
    b.sync().await;

    // The website: anonymous page views, a track, then the visitor signs up.
    let t = |m: u32| format!("2026-11-20T10:{m:02}:00.000Z");
    for (i, path) in ["/", "/pricing"].iter().enumerate() {
        collect(
            &server,
            &key,
            "/v1/p",
            json!({"anonymousId": "web-zoe", "messageId": format!("web-page-{i}"),
                   "timestamp": t(i as u32), "properties": {"path": path}}),
        )
        .await;
    }
    collect(
        &server,
        &key,
        "/v1/batch",
        json!({"batch": [
            {"type": "track", "anonymousId": "web-zoe", "messageId": "web-track",
             "event": "Signup Started", "timestamp": t(3)},
            {"type": "identify", "anonymousId": "web-zoe", "userId": "u-zoe",
             "messageId": "web-identify", "timestamp": t(4),
             "traits": {"email": "zoe@example.com", "firstName": "Zoe", "lastName": "Quinn",
                        "company": "Initech"}}
        ], "context": {"library": {"name": "analytics.js", "version": "4.1.0"}}}),
    )
    .await;

    // The mobile app's events, exported as JSON lines and loaded offline on A: a screen
    // view by the app's anonymous id, then its alias to the user id.
    let file = dir.path().join("app.jsonl");
    std::fs::write(
        &file,
        [
            json!({"type": "screen", "anonymousId": "app-zoe", "name": "Plans",
                   "messageId": "app-screen", "timestamp": t(5)}),
            json!({"type": "alias", "previousId": "app-zoe", "userId": "u-zoe",
                   "messageId": "app-alias", "timestamp": t(6)}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect::<String>(),
    )
    .unwrap();
    let imported = events::import_file(&a.store, &file, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(imported.stored.stored, 2);
    assert_eq!(events::counts(&a.store).await.unwrap(), (2, 2));

    a.sync().await; // uploads the app's events, reads the web's
    assert_eq!(events::counts(&a.store).await.unwrap(), (6, 0));
    b.sync().await;
    a.sync().await;

    let zoe = lead_id("user_id", "u-zoe");
    let expected: Vec<(String, String)> = [
        ("alias", "app-alias"),
        ("screen_view", "app-screen"),
        ("identified", "web-identify"),
        ("event", "web-track"),
        ("page_view", "web-page-1"),
        ("page_view", "web-page-0"),
    ]
    .iter()
    .map(|(k, m)| (k.to_string(), m.to_string()))
    .collect();
    assert_eq!(kinds_on(&b.store, zoe).await, expected, "on B");
    assert_eq!(kinds_on(&a.store, zoe).await, expected, "on A");
    let lead = contacts::get(&b.store, zoe).await.unwrap();
    assert_eq!(lead.display_name, "Zoe Quinn");
    assert_eq!(lead.source.as_deref(), Some("tracking"));
    assert_eq!(
        lead.company.as_ref().map(|c| c.name.as_str()),
        Some("Initech")
    );
    assert_eq!(contacts::count(&b.store).await.unwrap(), 2, "Ann and Zoe");
    settle(&a, &b).await;
    assert_eq!(
        device_rows(&a.store).await,
        device_rows(&b.store).await,
        "both devices resolved the same events to the same rows"
    );

    // Two people on one shared browser: Ann signs in (joins her CRM contact by
    // email), then Bob. Bob's profile is a new lead; nothing is merged.
    collect(
        &server,
        &key,
        "/v1/batch",
        json!({"batch": [
            {"type": "page", "anonymousId": "kiosk", "messageId": "kiosk-page",
             "timestamp": t(10), "properties": {"path": "/docs"}},
            {"type": "identify", "anonymousId": "kiosk", "userId": "u-ann",
             "messageId": "kiosk-ann", "timestamp": t(11),
             "traits": {"email": "ANN@example.com"}},
            {"type": "identify", "anonymousId": "kiosk", "userId": "u-bob",
             "messageId": "kiosk-bob", "timestamp": t(12), "traits": {"name": "Bob Baker"}}
        ]}),
    )
    .await;
    b.sync().await;
    let bob = lead_id("user_id", "u-bob");
    let ann_ids: Vec<String> = identity::of_contact(&b.store, ann.id)
        .await
        .unwrap()
        .iter()
        .map(|i| format!("{}:{}", i.kind, i.value))
        .collect();
    assert_eq!(
        ann_ids,
        [
            "anonymous_id:kiosk",
            "email:ann@example.com",
            "user_id:u-ann"
        ]
    );
    assert_eq!(
        contacts::get(&b.store, bob).await.unwrap().display_name,
        "Bob Baker"
    );
    assert_eq!(contacts::count(&b.store).await.unwrap(), 3);
    let warnings = identity::warnings(&b.store, None).await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].contact_id, bob.to_string());
    assert_eq!(warnings[0].other_contact_id, ann.id.to_string());
    assert_eq!(warnings[0].identity, "anonymous_id:kiosk");
    assert!(kinds_on(&b.store, ann.id)
        .await
        .iter()
        .any(|(_, m)| m == "kiosk-page"));

    // A resolves the same and the devices agree; resolving again writes nothing.
    settle(&a, &b).await;
    assert_eq!(identity::warnings(&a.store, None).await.unwrap().len(), 1);
    assert_eq!(device_rows(&a.store).await, device_rows(&b.store).await);
    let again = identity::reprocess_all(&b.store).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    server.shutdown().await;
}
