//! One sync suite, two backends (like `storage_and_auth.rs`): push, pull and snapshot over
//! real HTTP against SQLite (a temp file) and PostgreSQL (a throwaway cluster, see
//! `common/pg.rs`). Every refused request also checks that nothing was written.

mod common;

use std::collections::BTreeMap;

use hub_protocol::wire::LoginResponse;
use hub_protocol::{conflict_id, Change, DeviceId, Hlc};
use hub_server::auth::Password;
use hub_server::sync::{
    ClockAheadBody, OpResult, OpStatus, PullResponse, PushResponse, SnapshotResponse,
};
use hub_server::{accounts, AppState, Database, DatabaseUrl, ErrorBody, Passwords};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use common::pg::{Availability, TestPostgres};

#[tokio::test]
async fn sync_suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    run_suite(&url).await;
    concurrent_pushes(&url).await;
}

#[tokio::test]
async fn sync_suite_on_postgres() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED the PostgreSQL half (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_sync").await;
    run_suite(&url).await;
    concurrent_pushes(&url).await;
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

    async fn workspace(&self, name: &str, email: &str) -> Uuid {
        let pw = Password::parse("a long password".to_owned()).unwrap();
        accounts::create_workspace(&self.db, &self.passwords, name, email, Some(pw))
            .await
            .unwrap()
            .workspace_id
    }

    async fn login(&self, email: &str, device: &str) -> LoginResponse {
        let response = self
            .http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": "a long password", "device_name": device}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn push_raw(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/sync/push"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn push(&self, token: &str, changes: &[Change]) -> Vec<OpResult> {
        let response = self.push_raw(token, &json!({ "changes": changes })).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: PushResponse = response.json().await.unwrap();
        assert_eq!(body.results.len(), changes.len());
        body.results
    }

    async fn pull(&self, token: &str, cursor: i64, limit: i64) -> PullResponse {
        let response = self
            .http
            .get(self.url(&format!("/v1/sync/pull?cursor={cursor}&limit={limit}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Every change and conflict after `cursor`, paging by `limit`.
    async fn pull_all(&self, token: &str, limit: i64) -> PullResponse {
        let mut all = self.pull(token, 0, limit).await;
        let mut cursor = all.next_cursor;
        let mut more = all.has_more;
        while more {
            let page = self.pull(token, cursor, limit).await;
            assert!(page.changes.len() as i64 <= limit);
            cursor = page.next_cursor;
            more = page.has_more;
            all.changes.extend(page.changes);
            all.conflicts.extend(page.conflicts);
        }
        all.next_cursor = cursor;
        all
    }

    async fn snapshot(&self, token: &str, after: Option<&str>, limit: i64) -> SnapshotResponse {
        let mut url = format!("/v1/sync/snapshot?limit={limit}");
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let response = self
            .http
            .get(self.url(&url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap()
}

fn clock(device: Uuid, ms: u64) -> Hlc {
    Hlc {
        ms,
        counter: 0,
        device: DeviceId(device),
    }
}

fn change(
    device: Uuid,
    entity: &str,
    row: Uuid,
    hlc: Hlc,
    fields: Value,
    base: &[(&str, Hlc)],
) -> Change {
    let fields: BTreeMap<String, Value> = serde_json::from_value(fields).unwrap();
    Change {
        op_id: Uuid::now_v7(),
        device_id: DeviceId(device),
        entity: entity.into(),
        row_id: row,
        hlc,
        fields,
        base: base.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect(),
    }
}

fn applied(conflicts: &[Uuid]) -> OpStatus {
    OpStatus::Applied {
        conflict_ids: conflicts.to_vec(),
    }
}

async fn run_suite(url: &str) {
    let server = Server::start(url).await;
    server.workspace("Acme", "ada@example.com").await;
    server.workspace("Beta", "bob@example.com").await;
    let a = server.login("ada@example.com", "laptop A").await;
    let b = server.login("ada@example.com", "laptop B").await;
    let bob = server.login("bob@example.com", "Bob's").await;
    let (da, db) = (a.device_id, b.device_id);
    let t0 = now_ms() - 60_000;
    let row = Uuid::now_v7();

    // A creates a contact: applied, no conflicts, seq 1.
    let create = change(
        da,
        "contact",
        row,
        clock(da, t0),
        json!({"display_name": "Ann", "title": "CEO", "phone": null}),
        &[],
    );
    let results = server.push(&a.token, std::slice::from_ref(&create)).await;
    assert_eq!(results[0].op_id, create.op_id);
    assert_eq!(results[0].status, applied(&[]));

    // A retry gets the stored result and stores nothing new.
    let results = server.push(&a.token, std::slice::from_ref(&create)).await;
    assert_eq!(results[0].status, applied(&[]));
    assert_eq!(server.pull(&a.token, 0, 100).await.changes.len(), 1);

    // The same op_id with another payload: 422 for the whole request, nothing written.
    let fresh = change(
        da,
        "contact",
        row,
        clock(da, t0 + 1),
        json!({"title": "x"}),
        &[],
    );
    let mut reused = create.clone();
    reused.fields.insert("title".into(), json!("CTO"));
    let response = server
        .push_raw(&a.token, &json!({ "changes": [fresh, reused] }))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.code, "op_id_reused");
    assert_eq!(server.pull(&a.token, 0, 100).await.changes.len(), 1);

    // A clock 10 minutes ahead: 409 clock_ahead with the server's time, nothing written
    // (not even the valid change in the same request).
    let ahead = change(
        da,
        "contact",
        row,
        clock(da, now_ms() + 600_000),
        json!({"title": "x"}),
        &[],
    );
    let ok = change(
        da,
        "contact",
        row,
        clock(da, t0 + 2),
        json!({"title": "y"}),
        &[],
    );
    let response = server
        .push_raw(&a.token, &json!({ "changes": [ok, ahead] }))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: ClockAheadBody = response.json().await.unwrap();
    assert_eq!(body.code, "clock_ahead");
    assert!((chrono::Utc::now() - body.server_time).num_seconds().abs() < 60);
    assert_eq!(server.pull(&a.token, 0, 100).await.changes.len(), 1);

    // Invalid changes are rejected one by one (and not stored); the rest still apply.
    let foreign = change(
        db,
        "contact",
        row,
        clock(db, t0 + 3),
        json!({"title": "x"}),
        &[],
    );
    let bad_entity = change(
        da,
        "Contact",
        row,
        clock(da, t0 + 3),
        json!({"title": "x"}),
        &[],
    );
    let bad_field = change(
        da,
        "contact",
        row,
        clock(da, t0 + 3),
        json!({"ti-tle": "x"}),
        &[],
    );
    let empty = change(da, "contact", row, clock(da, t0 + 3), json!({}), &[]);
    let forged_clock = change(
        da,
        "contact",
        row,
        clock(db, t0 + 3),
        json!({"title": "x"}),
        &[],
    );
    let other_row = Uuid::now_v7();
    let good = change(
        da,
        "company",
        other_row,
        clock(da, t0 + 3),
        json!({"name": "Acme Ltd"}),
        &[],
    );
    let results = server
        .push(
            &a.token,
            &[foreign, bad_entity, bad_field, empty, forged_clock, good],
        )
        .await;
    for r in &results[..5] {
        assert!(matches!(r.status, OpStatus::Rejected { .. }), "{r:?}");
    }
    assert_eq!(results[5].status, applied(&[]));
    assert_eq!(server.pull(&a.token, 0, 100).await.changes.len(), 2);

    // Too many changes: 413 with a message.
    let many: Vec<Change> = (0..1001)
        .map(|i| {
            change(
                da,
                "tag",
                Uuid::now_v7(),
                clock(da, t0 + i),
                json!({"name": "t"}),
                &[],
            )
        })
        .collect();
    let response = server.push_raw(&a.token, &json!({ "changes": many })).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.code, "too_many_changes");

    // A and B both edit the title from the creation's clock; B's clock is higher. A's push
    // first: applied; B's replaces it without having seen it: applied, A's kept as a conflict.
    let base = create.hlc;
    let edit_a = change(
        da,
        "contact",
        row,
        clock(da, t0 + 10),
        json!({"title": "Chief"}),
        &[("title", base)],
    );
    let edit_b = change(
        db,
        "contact",
        row,
        clock(db, t0 + 20),
        json!({"title": "Boss"}),
        &[("title", base)],
    );
    assert_eq!(
        server.push(&a.token, std::slice::from_ref(&edit_a)).await[0].status,
        applied(&[])
    );
    let title_conflict = conflict_id("contact", row, "title", edit_a.hlc);
    assert_eq!(
        server.push(&b.token, std::slice::from_ref(&edit_b)).await[0].status,
        applied(&[title_conflict])
    );
    // The other way round: B's phone (higher clock) arrives first, A's older concurrent
    // phone then loses, and is kept.
    let phone_b = change(
        db,
        "contact",
        row,
        clock(db, t0 + 40),
        json!({"phone": "+441"}),
        &[("phone", base)],
    );
    let phone_a = change(
        da,
        "contact",
        row,
        clock(da, t0 + 30),
        json!({"phone": "+442"}),
        &[("phone", base)],
    );
    assert_eq!(
        server.push(&b.token, std::slice::from_ref(&phone_b)).await[0].status,
        applied(&[])
    );
    let phone_conflict = conflict_id("contact", row, "phone", phone_a.hlc);
    assert_eq!(
        server.push(&a.token, std::slice::from_ref(&phone_a)).await[0].status,
        OpStatus::Lost {
            conflict_ids: vec![phone_conflict]
        }
    );
    // Replaying the losing change changes nothing.
    assert_eq!(
        server.push(&a.token, std::slice::from_ref(&phone_a)).await[0].status,
        OpStatus::Lost {
            conflict_ids: vec![phone_conflict]
        }
    );

    // An informed overwrite (base = the current clock) loses nothing.
    let informed = change(
        da,
        "contact",
        row,
        clock(da, t0 + 50),
        json!({"title": "Chair"}),
        &[("title", edit_b.hlc)],
    );
    assert_eq!(
        server.push(&a.token, std::slice::from_ref(&informed)).await[0].status,
        applied(&[])
    );
    // A stale relay of the overwritten version: nothing changes, nothing is lost.
    let stale = Change {
        op_id: Uuid::now_v7(),
        ..edit_b.clone()
    };
    let stale = Change {
        device_id: DeviceId(db),
        ..stale
    };
    assert_eq!(
        server.push(&b.token, &[stale]).await[0].status,
        OpStatus::Duplicate
    );

    // Pull: both conflicts with both values, on every device of the workspace.
    for token in [&a.token, &b.token] {
        let all = server.pull_all(token, 100).await;
        let conflicts: BTreeMap<Uuid, _> = all.conflicts.iter().map(|c| (c.id, c)).collect();
        assert_eq!(conflicts.len(), 2, "{:?}", all.conflicts);
        let t = conflicts[&title_conflict];
        assert_eq!(
            (t.field.as_str(), &t.lost_value, &t.winner_value),
            ("title", &json!("Chief"), &json!("Boss"))
        );
        assert_eq!(
            (t.lost_clock, t.winner_clock, t.lost_device, t.winner_device),
            (edit_a.hlc, edit_b.hlc, da, db)
        );
        let p = conflicts[&phone_conflict];
        assert_eq!(
            (&p.lost_value, &p.winner_value),
            (&json!("+442"), &json!("+441"))
        );
        assert_eq!(p.entity, "contact");
        assert_eq!(p.row_id, row);
    }

    // More rows, then page through by cursor: every change exactly once, in seq order.
    let mut rows = vec![row, other_row];
    for i in 0..7u64 {
        let r = Uuid::now_v7();
        rows.push(r);
        let batch = [
            change(
                da,
                "contact",
                r,
                clock(da, t0 + 100 + i),
                json!({"display_name": format!("C{i}")}),
                &[],
            ),
            change(
                da,
                "contact_email",
                Uuid::now_v7(),
                clock(da, t0 + 100 + i),
                json!({"contact_id": r.to_string(), "email": "x@y.z"}),
                &[],
            ),
        ];
        server.push(&a.token, &batch).await;
    }
    let everything = server.pull(&a.token, 0, 1000).await;
    assert!(!everything.has_more);
    let total = everything.changes.len();
    assert_eq!(total, 2 + 5 + 1 + 14); // create, company, edits (a, b, phones, informed, stale), batches
    for limit in [1, 2, 3, 1000] {
        let paged = server.pull_all(&a.token, limit).await;
        let seqs: Vec<i64> = paged.changes.iter().map(|c| c.seq).collect();
        assert_eq!(
            seqs,
            (1..=total as i64).collect::<Vec<_>>(),
            "limit {limit}"
        );
        assert_eq!(paged.changes, everything.changes);
        assert_eq!(paged.conflicts.len(), 2);
        assert_eq!(paged.next_cursor, total as i64);
    }
    let tail = server.pull(&a.token, total as i64, 10).await;
    assert!(tail.changes.is_empty() && !tail.has_more && tail.next_cursor == total as i64);

    // Snapshot: current state per row, paged, with the high-water mark.
    let first = server.snapshot(&b.token, None, 3).await;
    assert_eq!(first.as_of_seq, total as i64);
    let mut state = first.rows.clone();
    let mut snapshot_conflicts: Vec<Uuid> = first.conflicts.iter().map(|c| c.id).collect();
    let mut after = first.next_after.clone();
    while let Some(key) = after {
        let page = server.snapshot(&b.token, Some(&key), 3).await;
        assert!(page.rows.len() <= 3);
        assert_eq!(page.as_of_seq, total as i64);
        state.extend(page.rows);
        snapshot_conflicts.extend(page.conflicts.iter().map(|c| c.id));
        after = page.next_after;
    }
    snapshot_conflicts.sort();
    let mut expected = vec![title_conflict, phone_conflict];
    expected.sort();
    assert_eq!(
        snapshot_conflicts, expected,
        "each conflict once, with its row"
    );
    assert_eq!(state.len(), 2 + 14);
    let contact = state
        .iter()
        .find(|r| r.entity == "contact" && r.row_id == row)
        .unwrap();
    assert_eq!(contact.state.fields["title"], json!("Chair"));
    assert_eq!(contact.state.fields["phone"], json!("+441"));
    assert_eq!(contact.state.fields["display_name"], json!("Ann"));
    assert_eq!(contact.state.clocks["title"], informed.hlc);
    assert_eq!(contact.state.bases["title"], edit_b.hlc);
    assert!(!contact.state.bases.contains_key("display_name"));
    let keys: Vec<_> = state.iter().map(|r| (r.entity.clone(), r.row_id)).collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "each row once");

    // Another workspace's token sees nothing and its pushes touch only its own workspace.
    let theirs = server.pull(&bob.token, 0, 1000).await;
    assert!(theirs.changes.is_empty() && theirs.conflicts.is_empty());
    assert_eq!(server.snapshot(&bob.token, None, 1000).await.rows.len(), 0);
    let intrude = change(
        bob.device_id,
        "contact",
        row,
        clock(bob.device_id, t0 + 500),
        json!({"title": "Hacked"}),
        &[],
    );
    // The same op_id in another workspace is another change: no 422.
    let intrude = Change {
        op_id: create.op_id,
        ..intrude
    };
    assert_eq!(
        server.push(&bob.token, &[intrude]).await[0].status,
        applied(&[])
    );
    assert_eq!(server.pull(&bob.token, 0, 1000).await.changes.len(), 1);
    let ours = server.snapshot(&a.token, None, 1000).await;
    let contact = ours.rows.iter().find(|r| r.row_id == row).unwrap();
    assert_eq!(contact.state.fields["title"], json!("Chair"));
    assert_eq!(server.pull(&a.token, 0, 1000).await.changes.len(), total);

    // Rows wider than a page's share of fields (12 per row) still come whole and once,
    // at every page size: one with 80 fields, between two narrow ones.
    let wide_fields: serde_json::Map<String, Value> = (0..80)
        .map(|i| {
            let name: String = [
                "w",
                &"abcdefghij"[i / 10..i / 10 + 1],
                &"abcdefghij"[i % 10..i % 10 + 1],
            ]
            .concat();
            (name, json!(i))
        })
        .collect();
    let (narrow_a, wide, narrow_b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let wide_changes = vec![
        change(
            da,
            "widget",
            narrow_a,
            clock(da, t0 + 700),
            json!({"name": "a"}),
            &[],
        ),
        change(
            da,
            "widget",
            wide,
            clock(da, t0 + 701),
            Value::Object(wide_fields),
            &[],
        ),
        change(
            da,
            "widget",
            narrow_b,
            clock(da, t0 + 702),
            json!({"name": "b"}),
            &[],
        ),
    ];
    server.push(&a.token, &wide_changes).await;
    for limit in [1, 2, 3, 1000] {
        let mut widgets = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = server.snapshot(&b.token, after.as_deref(), limit).await;
            assert!(page.rows.len() as i64 <= limit);
            widgets.extend(page.rows.into_iter().filter(|r| r.entity == "widget"));
            match page.next_after {
                Some(next) if page.has_more => after = Some(next),
                _ => break,
            }
        }
        let ids: Vec<Uuid> = widgets.iter().map(|r| r.row_id).collect();
        let mut expected = vec![narrow_a, wide, narrow_b];
        expected.sort();
        assert_eq!(ids, expected, "limit {limit}");
        let whole = widgets.iter().find(|r| r.row_id == wide).unwrap();
        assert_eq!(whole.state.fields.len(), 80, "limit {limit}");
    }

    // Without a token: 401.
    let response = server
        .http
        .get(server.url("/v1/sync/pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server
        .http
        .get(server.url("/v1/sync/pull?limit=5000"))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Snapshot pages go up to 5,000 rows (small documents), and no further.
    for (limit, status) in [(5000, StatusCode::OK), (5001, StatusCode::BAD_REQUEST)] {
        let response = server
            .http
            .get(server.url(&format!("/v1/sync/snapshot?limit={limit}")))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "limit {limit}");
    }

    server.db.close().await;
}

/// Two devices push concurrently while a third pulls: sequence numbers are contiguous and
/// the puller, paging by cursor, never sees a gap (seq order is commit order).
async fn concurrent_pushes(url: &str) {
    let server = std::sync::Arc::new(Server::start(url).await);
    server.workspace("Gamma", "gil@example.com").await;
    let devices = [
        server.login("gil@example.com", "one").await,
        server.login("gil@example.com", "two").await,
    ];
    let reader = server.login("gil@example.com", "reader").await;
    const BATCHES: usize = 15;
    const PER_BATCH: u64 = 4;
    let mut tasks = Vec::new();
    for device in devices {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let t0 = now_ms() - 10_000;
            for i in 0..BATCHES as u64 {
                let batch: Vec<Change> = (0..PER_BATCH)
                    .map(|j| {
                        let c = clock(device.device_id, t0 + i * 10 + j);
                        change(
                            device.device_id,
                            "contact",
                            Uuid::now_v7(),
                            c,
                            json!({"n": i}),
                            &[],
                        )
                    })
                    .collect();
                server.push(&device.token, &batch).await;
            }
        }));
    }
    let total = 2 * BATCHES as i64 * PER_BATCH as i64;
    let puller = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            while cursor < total {
                let page = server.pull(&reader.token, cursor, 7).await;
                for c in &page.changes {
                    seen.push(c.seq);
                }
                cursor = page.next_cursor;
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    let seen = puller.await.unwrap();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "no gaps, no repeats");
    server.db.close().await;
}
