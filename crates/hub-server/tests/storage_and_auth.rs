//! One suite, two backends: the accounts storage and the `/v1` auth and device routes,
//! over real HTTP on a port-0 listener, against SQLite (a temp file) and PostgreSQL (a
//! throwaway cluster this test starts; see `common/pg.rs`).
//!
//! Every failure case also checks that nothing was written (the device count is unchanged).

mod common;

use chrono::{DateTime, Utc};
use hub_protocol::wire::{DeviceList, LoginResponse};
use hub_server::accounts::{self, AccountError};
use hub_server::auth::Password;
use hub_server::storage::StorageError;
use hub_server::{AppState, Database, DatabaseUrl, ErrorBody, Passwords, Storage};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use common::pg::{Availability, TestPostgres};

#[tokio::test]
async fn suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    run_suite(&url).await;
    // Reopening runs the migrations again: already applied, nothing to do, data kept.
    let db = Database::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    assert!(!db
        .users_by_email("ada@example.com")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn suite_on_postgres() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED the PostgreSQL half (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_suite").await;
    run_suite(&url).await;
    // Reopen: migrations are idempotent on PostgreSQL too.
    let db = Database::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    assert_eq!(db.backend(), "postgres");
    db.close().await;
}

struct Server {
    base: String,
    http: reqwest::Client,
    db: Database,
    passwords: Passwords,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(url: &str) -> Self {
        let db = Database::open(&DatabaseUrl::parse(url).unwrap())
            .await
            .expect("open storage");
        let passwords = Passwords::cheap_for_tests();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::with_passwords(db.clone(), passwords.clone());
        tokio::spawn(hub_server::serve_until(listener, state, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            db,
            passwords,
            _stop: stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn login(&self, email: &str, password: &str, device: &str) -> Response {
        self.http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": password, "device_name": device}))
            .send()
            .await
            .unwrap()
    }

    async fn login_ok(&self, email: &str, password: &str, device: &str) -> LoginResponse {
        let response = self.login(email, password, device).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn devices(&self, token: &str) -> Response {
        self.http
            .get(self.url("/v1/devices"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn revoke(&self, token: &str, device: &str) -> Response {
        self.http
            .delete(self.url(&format!("/v1/devices/{device}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Devices stored in the given workspaces, read straight from storage.
    async fn device_count(&self, workspaces: &[Uuid]) -> usize {
        let mut count = 0;
        for id in workspaces {
            count += self.db.devices(*id).await.unwrap().len();
        }
        count
    }
}

/// Asserts the status and the shared error shape; returns the body.
async fn expect_error(response: Response, status: StatusCode, code: &str) -> ErrorBody {
    assert_eq!(response.status(), status);
    assert_server_time(&response);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.code, code, "{body:?}");
    assert!(!body.message.is_empty());
    body
}

fn assert_server_time(response: &Response) {
    let header = response
        .headers()
        .get("x-server-time")
        .expect("X-Server-Time header")
        .to_str()
        .unwrap();
    let time = DateTime::parse_from_rfc3339(header).unwrap();
    let skew = (Utc::now() - time.with_timezone(&Utc)).num_seconds().abs();
    assert!(skew < 60, "{header}");
}

fn password(text: &str) -> Option<Password> {
    Some(Password::parse(text.to_owned()).unwrap())
}

async fn run_suite(url: &str) {
    let server = Server::start(url).await;
    let (db, pw) = (&server.db, &server.passwords);

    // Two businesses, each with an owner who has a password.
    let acme =
        accounts::create_workspace(db, pw, "Acme", "Ada@Example.com", password("ada password"))
            .await
            .unwrap();
    let beta =
        accounts::create_workspace(db, pw, "Beta", "bob@example.com", password("bob password"))
            .await
            .unwrap();
    assert!(acme.password_setup.is_none());
    assert_eq!(acme.write_key.len(), 43);
    assert_ne!(acme.write_key, beta.write_key);
    assert_eq!(
        db.workspace(acme.workspace_id).await.unwrap().unwrap().name,
        "Acme"
    );
    let both = [acme.workspace_id, beta.workspace_id];

    // Emails are unique per workspace, case-insensitively; the workspace must exist.
    let err = accounts::add_user(db, pw, acme.workspace_id, " ADA@example.com", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccountError::Storage(StorageError::Conflict(_))),
        "{err:?}"
    );
    let err = accounts::add_user(db, pw, Uuid::now_v7(), "x@example.com", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccountError::Storage(StorageError::NotFound(_))),
        "{err:?}"
    );

    // Login works with any case of the email, and the token lists the workspace's devices.
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_server_time(&health);
    let response = server
        .login("ada@EXAMPLE.com", "ada password", "Ada's laptop")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_server_time(&response);
    let ada: LoginResponse = response.json().await.unwrap();
    assert_eq!(ada.workspace_id, acme.workspace_id);
    assert_eq!(ada.user_id, acme.owner_user_id);
    assert_eq!(ada.token.len(), 43);
    let response = server.devices(&ada.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_server_time(&response);
    let raw: Value = response.json().await.unwrap();
    let text = raw.to_string();
    assert!(!text.contains(&ada.token), "token leaked: {text}");
    assert!(
        !text.contains("token"),
        "no token fields in the list: {text}"
    );
    let list: DeviceList = serde_json::from_value(raw).unwrap();
    assert_eq!(list.devices.len(), 1);
    assert_eq!(list.devices[0].id, ada.device_id);
    assert_eq!(list.devices[0].name, "Ada's laptop");
    assert!(list.devices[0].current);
    assert!(list.devices[0].last_seen_at.is_some());
    assert!(list.devices[0].revoked_at.is_none());
    let before = server.device_count(&both).await;
    assert_eq!(before, 1);

    // Wrong password and unknown email: the same 401, no hint, nothing written.
    let wrong = expect_error(
        server
            .login("ada@example.com", "not the password", "x")
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let unknown = expect_error(
        server
            .login("nobody@example.com", "ada password", "x")
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(wrong, unknown);
    expect_error(
        server.login("not an email", "ada password", "x").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(server.device_count(&both).await, before);

    // No token, a made-up token: 401.
    let response = server
        .http
        .get(server.url("/v1/devices"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_error(
        server.devices("made-up-token").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // Malformed JSON, a missing field, a bad device name: 400 with a message, nothing written.
    let response = server
        .http
        .post(server.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": \"ada@example.com\", ")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "ada password"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(body.message.contains("device_name"), "{body:?}");
    expect_error(
        server.login("ada@example.com", "ada password", "   ").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(server.device_count(&both).await, before);

    // A body over 4 MB: 413 in the same shape, nothing written.
    let huge = json!({
        "email": "ada@example.com",
        "password": "ada password",
        "device_name": "x".repeat(hub_server::MAX_BODY_BYTES),
    });
    let response = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(server.device_count(&both).await, before);

    // Another workspace's token sees only its own devices and cannot revoke Ada's.
    let bob = server
        .login_ok("bob@example.com", "bob password", "Bob's phone")
        .await;
    assert_eq!(bob.workspace_id, beta.workspace_id);
    let list: DeviceList = server.devices(&bob.token).await.json().await.unwrap();
    let ids: Vec<_> = list.devices.iter().map(|d| d.id).collect();
    assert_eq!(ids, vec![bob.device_id]);
    let before = server.device_count(&both).await;
    expect_error(
        server.revoke(&bob.token, &ada.device_id.to_string()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Same answer as an id that exists nowhere, and as a malformed id.
    expect_error(
        server.revoke(&bob.token, &Uuid::now_v7().to_string()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        server.revoke(&bob.token, "nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(server.devices(&ada.token).await.status(), StatusCode::OK);
    assert!(db
        .devices(acme.workspace_id)
        .await
        .unwrap()
        .iter()
        .all(|d| d.revoked_at.is_none()));
    assert_eq!(server.device_count(&both).await, before);

    // Revocation takes effect at once; revoking again is fine; the list shows it revoked.
    let ada2 = server
        .login_ok("ada@example.com", "ada password", "Ada's desktop")
        .await;
    let response = server.revoke(&ada2.token, &ada.device_id.to_string()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_server_time(&response);
    expect_error(
        server.devices(&ada.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        server.revoke(&ada.token, &ada2.device_id.to_string()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        server
            .revoke(&ada2.token, &ada.device_id.to_string())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let list: DeviceList = server.devices(&ada2.token).await.json().await.unwrap();
    let old = list.devices.iter().find(|d| d.id == ada.device_id).unwrap();
    assert!(old.revoked_at.is_some());
    assert!(!old.current);
    assert!(list
        .devices
        .iter()
        .any(|d| d.id == ada2.device_id && d.current));

    // A user without a password gets a setup secret; it works once, then login works.
    let carol = accounts::add_user(db, pw, acme.workspace_id, "carol@example.com", None)
        .await
        .unwrap();
    let setup = carol.password_setup.expect("setup secret");
    // Storage refuses the secret once expired (and a wrong one), and changes nothing then.
    let setup_hash = hub_server::auth::secret_hash(&setup.secret);
    let after_expiry = setup.expires_at + chrono::Duration::milliseconds(1);
    assert_eq!(
        db.complete_password_setup(&setup_hash, "unused", after_expiry)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.complete_password_setup("not-a-hash", "unused", Utc::now())
            .await
            .unwrap(),
        None
    );
    expect_error(
        server.login("carol@example.com", "", "x").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let setup_request = json!({"secret": setup.secret, "password": "carol password"});
    let response = server
        .http
        .post(server.url("/v1/auth/setup"))
        .json(&setup_request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user_id"], carol.user_id.to_string());
    let response = server
        .http
        .post(server.url("/v1/auth/setup"))
        .json(&setup_request)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let carol_device = server
        .login_ok("carol@example.com", "carol password", "Carol's")
        .await;
    assert_eq!(carol_device.user_id, carol.user_id);

    // One email in two workspaces: ambiguous without workspace_id, fine with it.
    accounts::add_user(
        db,
        pw,
        beta.workspace_id,
        "ada@example.com",
        password("ada password"),
    )
    .await
    .unwrap();
    let before = server.device_count(&both).await;
    expect_error(
        server.login("ada@example.com", "ada password", "x").await,
        StatusCode::CONFLICT,
        "workspace_required",
    )
    .await;
    assert_eq!(server.device_count(&both).await, before);
    let response = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&json!({
            "email": "ada@example.com",
            "password": "ada password",
            "device_name": "Ada at Beta",
            "workspace_id": beta.workspace_id,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ada_beta: LoginResponse = response.json().await.unwrap();
    assert_eq!(ada_beta.workspace_id, beta.workspace_id);
    assert_eq!(server.device_count(&both).await, before + 1);

    // A store signs in with its own device id (it is in every clock the store issued).
    let store_device = Uuid::now_v7();
    let login_as = |device_id: Uuid, workspace: Uuid, name: &'static str| {
        server
            .http
            .post(server.url("/v1/auth/login"))
            .json(&json!({
                "email": "ada@example.com",
                "password": "ada password",
                "device_name": name,
                "device_id": device_id,
                "workspace_id": workspace,
            }))
            .send()
    };
    let first: LoginResponse = login_as(store_device, acme.workspace_id, "Ada's laptop")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first.device_id, store_device);
    // Revoked, then signed in again on the same store: same device, a new token, the
    // revoked one stays dead.
    assert_eq!(
        server
            .revoke(&first.token, &store_device.to_string())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let count = server.device_count(&both).await;
    let again: LoginResponse = login_as(store_device, acme.workspace_id, "Ada's laptop (2)")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again.device_id, store_device);
    assert_ne!(again.token, first.token);
    assert_eq!(server.device_count(&both).await, count);
    expect_error(
        server.devices(&first.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let list: DeviceList = server.devices(&again.token).await.json().await.unwrap();
    let me = list.devices.iter().find(|d| d.current).unwrap();
    assert_eq!(
        (me.id, me.name.as_str()),
        (store_device, "Ada's laptop (2)")
    );
    assert!(me.revoked_at.is_none());
    // The same store cannot also join another workspace: its data would mix.
    expect_error(
        login_as(store_device, beta.workspace_id, "mixed")
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "device_taken",
    )
    .await;
    assert!(server
        .db
        .devices(beta.workspace_id)
        .await
        .unwrap()
        .iter()
        .all(|d| d.id != store_device));

    server.db.close().await;
}
