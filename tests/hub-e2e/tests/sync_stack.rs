//! Acceptance 2 and 3b of the sync issue: a real hub-server (port 0) and three devices with
//! real SQLite files, on both backends; and two `hub-server` processes on one PostgreSQL
//! database, with the devices talking to either at random.

#[path = "../../../crates/hub-server/tests/common/pg.rs"]
mod pg;

use hub_core::contacts::{self, Contact, ContactInput, EmailEntry, PhoneEntry};
use hub_core::sync::{self, HttpTransport};
use hub_core::{conflicts, Store};
use hub_e2e::{
    create_workspace_process, device_rows, spawn_server_with, ServerProcess, TestServer,
};
use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords};
use pg::{Availability, TestPostgres};
use tempfile::TempDir;

const PASSWORD: &str = "a long password";

struct Device {
    store: Store,
    transport: HttpTransport,
    _dir: TempDir,
}

impl Device {
    /// The same device talking to another server process.
    fn via(&mut self, server: &str, token: &str) {
        self.transport = HttpTransport::new(server, token).unwrap();
    }

    async fn sync(&self) -> sync::Report {
        sync::sync_once(&self.store, &self.transport, |_| {})
            .await
            .unwrap()
    }
}

fn input(c: &Contact) -> ContactInput {
    ContactInput {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        display_name: Some(c.display_name.clone()),
        title: c.title.clone(),
        company_id: c.company.as_ref().map(|co| co.id),
        lifecycle_stage: c.lifecycle_stage,
        owner: c.owner.clone(),
        source: c.source.clone(),
        notes: c.notes.clone(),
        emails: c.emails.clone(),
        phones: c.phones.clone(),
        tags: c.tags.clone(),
        ..Default::default()
    }
}

async fn workspace(url: &str) -> (Database, Passwords) {
    let db = Database::open(&DatabaseUrl::parse(url).unwrap())
        .await
        .unwrap();
    let passwords = Passwords::cheap_for_tests();
    accounts::create_workspace(
        &db,
        &passwords,
        "Acme",
        "owner@example.com",
        Some(Password::parse(PASSWORD.to_owned()).unwrap()),
    )
    .await
    .unwrap();
    (db, passwords)
}

async fn server_on(db: &Database, passwords: &Passwords) -> TestServer {
    spawn_server_with(AppState::with_passwords(db.clone(), passwords.clone())).await
}

/// A edits a phone, B the email, C deletes, A and B both change the title — all offline.
/// `servers` are base URLs of servers sharing one database; with `random_server`, each
/// round goes to one of them, chosen pseudo-randomly.
async fn scenario(servers: &[String], random_server: bool) {
    let first = servers[0].clone();
    let mut devices = Vec::new();
    let mut tokens = Vec::new();
    for name in ["A", "B", "C"] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
        let signed = sync::sign_in(&store, &first, "owner@example.com", PASSWORD, name, None)
            .await
            .unwrap();
        tokens.push(signed.token.clone());
        devices.push(Device {
            transport: HttpTransport::new(&first, &signed.token).unwrap(),
            store,
            _dir: dir,
        });
    }
    // A database that syncs never takes demo data: it would reach every device.
    let err = hub_core::demo::generate(
        &devices[0].store,
        hub_core::demo::DemoOptions {
            contacts: 5,
            seed: 1,
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("separate database"), "{err}");
    assert_eq!(contacts::count(&devices[0].store).await.unwrap(), 0);

    let mut pick = 0usize;
    let mut route = |devices: &mut Vec<Device>, i: usize| {
        if random_server {
            pick = (pick * 7 + 3 + i) % servers.len();
            devices[i].via(&servers[pick], &tokens[i]);
        }
    };

    // A creates the contact; everyone gets it.
    let ada = contacts::create(
        &devices[0].store,
        ContactInput {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            title: Some("Analyst".into()),
            emails: vec![EmailEntry {
                kind: "work".into(),
                address: "ada@analytical.example".into(),
            }],
            phones: vec![PhoneEntry {
                kind: "mobile".into(),
                number: "+44 20 7946 0000".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for i in 0..3 {
        route(&mut devices, i);
        devices[i].sync().await;
    }
    for d in &devices {
        assert_eq!(
            contacts::get(&d.store, ada.id)
                .await
                .unwrap()
                .title
                .as_deref(),
            Some("Analyst")
        );
        assert_eq!(sync::status(&d.store).await.unwrap().pending, 0);
        // Searchable on every device, by name, email and phone digits.
        for typed in ["lovel", "ada@analyt", "20794"] {
            let found = contacts::list(
                &d.store,
                &contacts::ContactQuery {
                    search: Some(typed.into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(found.total, 1, "{typed}");
        }
    }

    // Offline edits.
    let mut a = input(&contacts::get(&devices[0].store, ada.id).await.unwrap());
    a.phones[0].number = "+44 20 7946 0999".into();
    a.title = Some("Chief Analyst".into());
    contacts::update(&devices[0].store, ada.id, a)
        .await
        .unwrap();
    let mut b = input(&contacts::get(&devices[1].store, ada.id).await.unwrap());
    b.emails[0].address = "ada@engines.example".into();
    b.title = Some("Head of Engines".into());
    contacts::update(&devices[1].store, ada.id, b)
        .await
        .unwrap();
    contacts::delete(&devices[2].store, ada.id).await.unwrap();

    // Back online: two rounds each, in a fixed order.
    for _ in 0..2 {
        for i in 0..3 {
            route(&mut devices, i);
            devices[i].sync().await;
        }
    }

    // Converged: every table, every row, every field and its clock.
    let reference = device_rows(&devices[0].store).await;
    for d in &devices[1..] {
        assert_eq!(device_rows(&d.store).await, reference);
    }
    // The delete holds; both edits survive in the (trashed) contact.
    let deleted: Option<String> =
        sqlx::query_scalar("SELECT deleted_at FROM contacts WHERE id = ?")
            .bind(ada.id.to_string())
            .fetch_one(devices[0].store.pool())
            .await
            .unwrap();
    assert!(deleted.is_some());
    let phones: Vec<String> = sqlx::query_scalar(
        "SELECT number FROM contact_phones WHERE contact_id = ? AND deleted_at IS NULL",
    )
    .bind(ada.id.to_string())
    .fetch_all(devices[0].store.pool())
    .await
    .unwrap();
    assert_eq!(phones, ["+442079460999"]);
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT address FROM contact_emails WHERE contact_id = ? AND deleted_at IS NULL",
    )
    .bind(ada.id.to_string())
    .fetch_all(devices[0].store.pool())
    .await
    .unwrap();
    assert_eq!(emails, ["ada@engines.example"]);

    // The title conflict is listed on every device, with both values.
    for d in &devices {
        let list = conflicts::list(&d.store, false).await.unwrap();
        let titles: Vec<_> = list.iter().filter(|c| c.field == "title").collect();
        assert_eq!(titles.len(), 1, "{list:#?}");
        let mut both = [
            titles[0].lost_value.as_str().unwrap().to_owned(),
            titles[0].winner_value.as_str().unwrap().to_owned(),
        ];
        both.sort();
        assert_eq!(both, ["Chief Analyst", "Head of Engines"]);
        assert_eq!(titles[0].row_label, "Ada Lovelace");
        assert_eq!(sync::status(&d.store).await.unwrap().pending, 0);
    }

    // Restoring the losing title on C is a new edit that reaches everyone.
    let lost = conflicts::list(&devices[2].store, false).await.unwrap()[0].clone();
    conflicts::restore(&devices[2].store, &lost.id)
        .await
        .unwrap();
    for _ in 0..2 {
        for i in 0..3 {
            route(&mut devices, i);
            devices[i].sync().await;
        }
    }
    let reference = device_rows(&devices[0].store).await;
    for d in &devices {
        assert_eq!(device_rows(&d.store).await, reference);
        let title: Option<String> = sqlx::query_scalar("SELECT title FROM contacts WHERE id = ?")
            .bind(ada.id.to_string())
            .fetch_one(d.store.pool())
            .await
            .unwrap();
        assert_eq!(
            title.as_ref(),
            lost.lost_value.as_str().map(str::to_owned).as_ref()
        );
        let c = conflicts::get(&d.store, &lost.id).await.unwrap();
        assert_eq!(c.status, conflicts::ConflictStatus::Restored);
    }
}

#[tokio::test]
async fn three_devices_converge_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let (db, pw) = workspace(&url).await;
    let server = server_on(&db, &pw).await;
    scenario(&[server.base_url()], false).await;
}

#[tokio::test]
async fn three_devices_converge_on_postgres() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED the PostgreSQL half (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_e2e_three").await;
    let (db, pw) = workspace(&url).await;
    let server = server_on(&db, &pw).await;
    scenario(&[server.base_url()], false).await;
}

/// Acceptance 3b: two `hub-server` processes on one PostgreSQL database serve the same
/// workspace; every round of every device goes to either, chosen at random. The ordering
/// lock lives in the database, so no pull skips a row and all converge.
#[tokio::test]
async fn two_server_processes_on_one_postgres_serve_the_same_workspace() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_e2e_two_servers").await;
    create_workspace_process(&url, "Acme", "owner@example.com", PASSWORD);
    let one = ServerProcess::start(&url);
    let two = ServerProcess::start(&url);
    assert_ne!(one.pid(), two.pid());
    let urls = [one.base_url(), two.base_url()];
    scenario(&urls, true).await;
    for server in [&one, &two] {
        let pushes = server.log().iter().filter(|l| l.contains("push")).count();
        assert!(
            pushes > 0,
            "each process served pushes: {:#?}",
            server.log()
        );
    }

    // The same workspace at another address (a server that moved) keeps the database's
    // history: signing in there is fine, and the next round has nothing to redo.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
    let first = sync::sign_in(&store, &urls[0], "owner@example.com", PASSWORD, "D", None)
        .await
        .unwrap();
    let t = HttpTransport::new(&urls[0], &first.token).unwrap();
    let report = sync::sync_once(&store, &t, |_| {}).await.unwrap();
    assert!(report.snapshot_rows > 0);
    let moved = sync::sign_in(&store, &urls[1], "owner@example.com", PASSWORD, "D", None)
        .await
        .unwrap();
    assert_eq!(moved.account.server, urls[1]);
    let t = HttpTransport::new(&urls[1], &moved.token).unwrap();
    let report = sync::sync_once(&store, &t, |_| {}).await.unwrap();
    assert_eq!((report.snapshot_rows, report.pulled), (0, 0));
}
