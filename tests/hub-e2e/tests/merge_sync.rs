//! Acceptance 4 of issue 5 (the sync part): a merge made on device A while device B,
//! offline, edits the merged-away contact and logs a call on it converges, through a real
//! `hub-server` (port 0, SQLite), to the survivor with B's edit on every device, with no
//! live row left pointing at the merged-away contact. A third device that joins later
//! (snapshot) ends identical. Then the merge is undone on B and everyone follows.

use hub_core::activities::{self, ActivityInput, ActivityKind};
use hub_core::contacts::{self, ContactInput, EmailEntry, PhoneEntry};
use hub_core::sync::{self, HttpTransport};
use hub_core::{merge, Store};
use hub_e2e::{device_rows, spawn_server_with, TestServer};
use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords};
use uuid::Uuid;

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

/// Live rows of every table that refers to a contact, still on `id`.
async fn live_references(store: &Store, id: Uuid) -> Vec<String> {
    let mut out = Vec::new();
    for r in merge::CONTACT_RELATIONS {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE {} = ? AND deleted_at IS NULL",
            r.entity.table, r.column
        ))
        .bind(id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
        if n > 0 {
            out.push(format!("{} {n}", r.entity.name));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_on_one_device_and_an_offline_edit_of_the_loser_on_another_converge() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let db = Database::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    let passwords = Passwords::cheap_for_tests();
    accounts::create_workspace(
        &db,
        &passwords,
        "Acme",
        EMAIL,
        Some(Password::parse(PASSWORD.to_owned()).unwrap()),
    )
    .await
    .unwrap();
    let server = spawn_server_with(AppState::with_passwords(db, passwords)).await;
    let a = Device::join(&server, dir.path(), "A").await;
    let b = Device::join(&server, dir.path(), "B").await;

    // A creates the contact and its duplicate; both devices have them.
    let keep = contacts::create(
        &a.store,
        ContactInput {
            display_name: Some("Grace Hopper".into()),
            emails: vec![EmailEntry {
                kind: "work".into(),
                address: "grace@navy.example".into(),
            }],
            tags: vec!["navy".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let other = contacts::create(
        &a.store,
        ContactInput {
            display_name: Some("Grace B. Hopper".into()),
            emails: vec![EmailEntry {
                kind: "home".into(),
                address: "amazing@grace.example".into(),
            }],
            tags: vec!["cobol".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    a.sync().await;
    b.sync().await;

    // B, offline: edits the duplicate (title, a new phone) and logs a call on it.
    let mut input = ContactInput::from(&contacts::get(&b.store, other.id).await.unwrap());
    input.title = Some("Rear Admiral".into());
    input.phones.push(PhoneEntry {
        kind: "work".into(),
        number: "+1 202 555 0143".into(),
    });
    contacts::update(&b.store, other.id, input).await.unwrap();
    let call = activities::log(
        &b.store,
        ActivityInput {
            contact_id: Some(other.id),
            subject: Some("About COBOL".into()),
            ..ActivityInput::new(ActivityKind::Call)
        },
    )
    .await
    .unwrap();

    // A, meanwhile, merges the duplicate into Grace and syncs first.
    let merged = merge::merge_contacts(&a.store, keep.id, other.id, &[])
        .await
        .unwrap();
    a.sync().await;
    // B comes back online; then both sync until quiet.
    for _ in 0..3 {
        b.sync().await;
        a.sync().await;
    }

    assert_eq!(device_rows(&a.store).await, device_rows(&b.store).await);
    for (name, store) in [("A", &a.store), ("B", &b.store)] {
        let grace = contacts::get(store, keep.id).await.unwrap();
        assert_eq!(grace.title.as_deref(), Some("Rear Admiral"), "{name}");
        assert_eq!(grace.phones.len(), 1, "{name}");
        assert_eq!(grace.phones[0].number, "+12025550143", "{name}");
        assert_eq!(grace.emails.len(), 2, "{name}");
        assert_eq!(grace.tags, vec!["cobol", "navy"], "{name}");
        assert!(contacts::get(store, other.id).await.is_err(), "{name}");
        assert_eq!(
            activities::get(store, call.id)
                .await
                .unwrap()
                .contact
                .map(|c| c.id),
            Some(keep.id),
            "{name}"
        );
        assert!(
            live_references(store, other.id).await.is_empty(),
            "{name}: {:?}",
            live_references(store, other.id).await
        );
    }

    // A device that joins now gets the same rows from the snapshot.
    let c = Device::join(&server, dir.path(), "C").await;
    c.sync().await;
    assert_eq!(device_rows(&a.store).await, device_rows(&c.store).await);

    // B undoes the merge; everyone has both contacts again.
    merge::undo(&b.store, merged.id).await.unwrap();
    for _ in 0..2 {
        b.sync().await;
        a.sync().await;
        c.sync().await;
    }
    assert_eq!(device_rows(&a.store).await, device_rows(&b.store).await);
    assert_eq!(device_rows(&a.store).await, device_rows(&c.store).await);
    for store in [&a.store, &b.store, &c.store] {
        let back = contacts::get(store, other.id).await.unwrap();
        assert_eq!(back.emails[0].address, "amazing@grace.example");
        assert_eq!(back.tags, vec!["cobol"]);
        assert!(merge::get(store, merged.id)
            .await
            .unwrap()
            .undone_at
            .is_some());
    }
    server.shutdown().await;
}
