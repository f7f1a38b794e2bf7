//! Event collection (Segment HTTP API) and the device event stream, one suite on both
//! backends over real HTTP: SQLite (a temp file) and PostgreSQL (a throwaway cluster, see
//! `common/pg.rs`). Every refused request also checks that nothing was stored.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::Write;

use chrono::{DateTime, Duration, Utc};
use hub_protocol::event::{Event, EventPullResponse, EventPushResponse, EventType, StreamedEvent};
use hub_protocol::wire::LoginResponse;
use hub_server::auth::Password;
use hub_server::storage::events::DEAD_LETTER_RAW_CHARS;
use hub_server::{accounts, AppState, Database, DatabaseUrl, ErrorBody, Passwords, Storage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use common::pg::{Availability, TestPostgres};

#[tokio::test]
async fn events_suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    run_suite(&url).await;
}

#[tokio::test]
async fn events_suite_on_postgres() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED the PostgreSQL half (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_events").await;
    run_suite(&url).await;
}

async fn run_suite(url: &str) {
    let server = Server::start(url, 0).await;
    let a = server.workspace("Acme", "ada@acme.test").await;
    let b = server.workspace("Bravo", "bob@bravo.test").await;
    let token_a = server.login("ada@acme.test", "laptop").await.token;
    let token_b = server.login("bob@bravo.test", "laptop").await.token;

    all_six_calls_stored_once_with_their_fields(&server, &a, &token_a).await;
    accepted_bodies(&server, &a, &token_a).await;
    bad_input(&server, &a, &token_a).await;
    single_event_endpoints(&server, &a, &token_a).await;
    isolation(&server, &a, &b, &token_a, &token_b).await;
    device_push(&server, &token_a, &token_b).await;
    concurrent_batches_keep_the_stream_gapless(&server, &b, &token_b).await;
    paging_and_query_errors(&server, &token_a).await;
    metrics_count_events(&server).await;
    drop(server);
    rate_limit(url).await;
}

struct Workspace {
    id: Uuid,
    key: String,
}

struct Server {
    base: String,
    http: reqwest::Client,
    db: Database,
    passwords: Passwords,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(url: &str, event_rate: u32) -> Self {
        let db = Database::open(&DatabaseUrl::parse(url).unwrap())
            .await
            .expect("open storage");
        let passwords = Passwords::cheap_for_tests();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state =
            AppState::with_passwords(db.clone(), passwords.clone()).with_event_rate(event_rate);
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

    async fn workspace(&self, name: &str, email: &str) -> Workspace {
        let pw = Password::parse("a long password".to_owned()).unwrap();
        let created = accounts::create_workspace(&self.db, &self.passwords, name, email, Some(pw))
            .await
            .unwrap();
        Workspace {
            id: created.workspace_id,
            key: created.write_key,
        }
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

    /// POSTs raw bytes with the write key as Basic user name.
    async fn send(
        &self,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).body(body);
        if let Some(key) = key {
            request = request.basic_auth(key, Some(""));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn batch(&self, key: &str, body: &Value) -> Value {
        let response = self
            .send(
                "/v1/batch",
                Some(key),
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], true);
        answer
    }

    async fn pull(&self, token: &str, cursor: i64, limit: i64) -> EventPullResponse {
        let response = self
            .http
            .get(self.url(&format!("/v1/events/pull?cursor={cursor}&limit={limit}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// The whole stream, paging by 1,000 and checking it is strictly increasing.
    async fn stream(&self, token: &str) -> Vec<StreamedEvent> {
        let mut all: Vec<StreamedEvent> = Vec::new();
        let mut cursor = 0;
        loop {
            let page = self.pull(token, cursor, 1_000).await;
            all.extend(page.events);
            cursor = page.next_cursor;
            if !page.has_more {
                break;
            }
        }
        for pair in all.windows(2) {
            assert!(pair[0].seq < pair[1].seq, "stream out of order");
        }
        all
    }

    async fn find(&self, token: &str, message_id: &str) -> Event {
        let found: Vec<Event> = self
            .stream(token)
            .await
            .into_iter()
            .filter(|e| e.event.message_id == message_id)
            .map(|e| e.event)
            .collect();
        assert_eq!(found.len(), 1, "{message_id} stored {} times", found.len());
        found.into_iter().next().unwrap()
    }

    async fn count(&self, token: &str) -> usize {
        self.stream(token).await.len()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn error_of(response: reqwest::Response, status: StatusCode) -> ErrorBody {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

fn six_calls(tag: &str) -> Value {
    json!({
        "batch": [
            {"type": "identify", "messageId": format!("{tag}-i"), "userId": "u-1",
             "anonymousId": "anon-1", "traits": {"email": "ada@example.com", "plan": "pro"},
             "timestamp": "2024-05-01T10:00:00.123+02:00"},
            {"type": "track", "messageId": format!("{tag}-t"), "userId": "u-1",
             "event": "Order Completed",
             "properties": {"revenue": 19.99, "currency": "EUR", "products": [{"sku": "A-1"}]},
             "timestamp": "2024-05-01T08:00:01Z", "x-custom": {"kept": true}},
            {"type": "page", "messageId": format!("{tag}-p"), "anonymousId": "anon-1",
             "name": "Pricing", "properties": {"path": "/pricing", "title": "Pricing"},
             "timestamp": "2024-05-01T08:00:02Z"},
            {"type": "screen", "messageId": format!("{tag}-s"), "userId": "u-1",
             "name": "Home", "properties": {"variant": "b"},
             "timestamp": "2024-05-01T08:00:03Z"},
            {"type": "group", "messageId": format!("{tag}-g"), "userId": "u-1",
             "groupId": "acme-gmbh", "traits": {"name": "Acme GmbH", "employees": 42},
             "timestamp": "2024-05-01T08:00:04Z"},
            {"type": "alias", "messageId": format!("{tag}-a"), "userId": "u-1",
             "previousId": "anon-1", "timestamp": "2024-05-01T08:00:05Z"}
        ],
        "context": {"library": {"name": "test", "version": "1"}},
        "sentAt": "2024-05-01T08:00:06Z"
    })
}

async fn all_six_calls_stored_once_with_their_fields(s: &Server, a: &Workspace, token: &str) {
    let body = six_calls("six");
    let answer = s.batch(&a.key, &body).await;
    assert_eq!(
        answer,
        json!({"success": true, "stored": 6, "duplicate": 0, "dead_lettered": 0, "suppressed": 0})
    );
    let stream = s.stream(token).await;
    assert_eq!(stream.len(), 6);
    let kinds: Vec<EventType> = stream.iter().map(|e| e.event.kind).collect();
    assert_eq!(kinds, EventType::ALL.to_vec());
    let identify = &stream[0].event;
    assert_eq!(identify.message_id, "six-i");
    assert_eq!(identify.user_id.as_deref(), Some("u-1"));
    assert_eq!(identify.anonymous_id.as_deref(), Some("anon-1"));
    assert_eq!(identify.timestamp, at("2024-05-01T08:00:00.123Z"));
    assert_eq!(identify.traits().unwrap()["plan"], "pro");
    assert_eq!(identify.body["context"]["library"]["name"], "test");
    let track = &stream[1].event;
    assert_eq!(track.name.as_deref(), Some("Order Completed"));
    assert_eq!(track.body["properties"], body["batch"][1]["properties"]);
    assert_eq!(track.body["x-custom"], json!({"kept": true}));
    let page = &stream[2].event;
    assert_eq!(page.name.as_deref(), Some("Pricing"));
    assert_eq!(page.page_path(), Some("/pricing"));
    assert_eq!(page.user_id, None);
    assert_eq!(stream[4].event.body["groupId"], "acme-gmbh");
    assert_eq!(stream[5].event.body["previousId"], "anon-1");
    for e in &stream {
        assert!(!e.event.body.contains_key("writeKey"));
        assert!(!e.event.body.contains_key("sentAt"));
        assert!(e.event.received_at > Utc::now() - Duration::minutes(5));
    }

    // The same batch again (a retry): nothing new.
    let answer = s.batch(&a.key, &body).await;
    assert_eq!(
        answer,
        json!({"success": true, "stored": 0, "duplicate": 6, "dead_lettered": 0, "suppressed": 0})
    );
    // A batch that repeats a messageId inside itself stores it once.
    let twice = json!({"batch": [
        {"type": "track", "event": "x", "userId": "u", "messageId": "dup-in-batch"},
        {"type": "track", "event": "x", "userId": "u", "messageId": "dup-in-batch"}
    ]});
    let answer = s.batch(&a.key, &twice).await;
    assert_eq!(
        (answer["stored"].clone(), answer["duplicate"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(s.count(token).await, 7);
}

async fn accepted_bodies(s: &Server, a: &Workspace, token: &str) {
    let before = s.count(token).await;

    // Gzip, writeKey in the body instead of Basic auth.
    let body = json!({"writeKey": a.key, "batch": [
        {"type": "track", "event": "Gzipped", "userId": "u-2", "messageId": "gz-1"}]});
    let response = s
        .send(
            "/v1/batch",
            None,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(body.to_string().as_bytes()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.find(token, "gz-1").await.name.as_deref(), Some("Gzipped"));

    // form-urlencoded and text/plain bodies that are JSON (sendBeacon, some SDKs).
    for (ct, id) in [
        ("application/x-www-form-urlencoded", "form-1"),
        ("text/plain;charset=UTF-8", "text-1"),
        ("application/octet-stream", "octet-1"),
    ] {
        let body = json!({"batch": [{"type": "page", "anonymousId": "a-9", "messageId": id}]});
        let response = s
            .send(
                "/v1/batch",
                Some(&a.key),
                &[("content-type", ct)],
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{ct}");
        assert_eq!(s.find(token, id).await.kind, EventType::Page);
    }
    // A form body that is really percent-encoded.
    let encoded: String = format!(
        "data={}",
        json!({"batch": [{"type": "page", "anonymousId": "a-9", "messageId": "form-enc"}]})
            .to_string()
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &[("content-type", "application/x-www-form-urlencoded")],
            encoded.into_bytes(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    s.find(token, "form-enc").await;

    // No messageId: one is made. With a time of its own, the same event sent again is
    // the same id (stored once); without, each is new.
    let timed = json!({"batch": [{"type": "track", "event": "No Id", "userId": "u-3",
        "timestamp": "2024-05-02T00:00:00Z", "properties": {"n": 1}}]});
    let first = s.batch(&a.key, &timed).await;
    assert_eq!(first["stored"], 1);
    let again = s.batch(&a.key, &timed).await;
    assert_eq!(
        (again["stored"].clone(), again["duplicate"].clone()),
        (json!(0), json!(1))
    );
    let untimed = json!({"batch": [{"type": "track", "event": "No Id Untimed", "userId": "u-3"}]});
    s.batch(&a.key, &untimed).await;
    s.batch(&a.key, &untimed).await;
    let generated: Vec<Event> = s
        .stream(token)
        .await
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.name.as_deref().is_some_and(|n| n.starts_with("No Id")))
        .collect();
    assert_eq!(generated.len(), 3);
    for e in &generated {
        assert!(Uuid::parse_str(&e.message_id).is_ok(), "{}", e.message_id);
        assert_eq!(e.body["messageId"], e.message_id.as_str());
    }

    // "userId": null is absent; a numeric userId is its text.
    let body = json!({"batch": [
        {"type": "identify", "userId": null, "anonymousId": "anon-null", "messageId": "null-uid"},
        {"type": "identify", "userId": 12345, "messageId": "num-uid"}]});
    s.batch(&a.key, &body).await;
    let e = s.find(token, "null-uid").await;
    assert_eq!(e.user_id, None);
    assert_eq!(e.anonymous_id.as_deref(), Some("anon-null"));
    assert_eq!(
        s.find(token, "num-uid").await.user_id.as_deref(),
        Some("12345")
    );

    // originalTimestamp + sentAt without timestamp: the sender's clock skew is removed.
    // The sender's clock is one hour fast; the event happened 30 s before it was sent.
    let now = Utc::now();
    let sent = now + Duration::hours(1);
    let original = sent - Duration::seconds(30);
    let body = json!({"batch": [{"type": "track", "event": "Skewed", "anonymousId": "a",
        "messageId": "skew-1", "originalTimestamp": original.to_rfc3339(),
        "sentAt": sent.to_rfc3339()}]});
    s.batch(&a.key, &body).await;
    let e = s.find(token, "skew-1").await;
    assert_eq!(e.timestamp, e.received_at - Duration::seconds(30));
    assert!((e.received_at - now).num_seconds().abs() < 60);
    // sentAt at the batch level, an offset, and 9 fractional digits.
    let body = json!({"sentAt": "2024-05-01T12:00:10.000000000+02:00", "batch": [
        {"type": "track", "event": "Skewed", "anonymousId": "a", "messageId": "skew-2",
         "originalTimestamp": "2024-05-01T10:00:00.5Z"}]});
    s.batch(&a.key, &body).await;
    let e = s.find(token, "skew-2").await;
    assert_eq!(e.timestamp, e.received_at - Duration::milliseconds(9_500));

    // The batch context goes under each event's own (its IP stored truncated,
    // docs/privacy.md).
    let body = json!({"context": {"ip": "203.0.113.9", "library": {"name": "lib", "version": "1"}},
        "batch": [{"type": "track", "event": "Ctx", "userId": "u", "messageId": "ctx-1",
                   "context": {"library": {"version": "2"}}}]});
    s.batch(&a.key, &body).await;
    let e = s.find(token, "ctx-1").await;
    assert_eq!(
        e.body["context"],
        json!({"ip": "203.0.113.0", "library": {"name": "lib", "version": "2"}})
    );
    assert_eq!(s.count(token).await, before + 13);
}

async fn bad_input(s: &Server, a: &Workspace, token: &str) {
    let before = s.count(token).await;
    let json_ct = [("content-type", "application/json")];

    // Malformed JSON: 400 with where it broke.
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &json_ct,
            b"{\"batch\": [ {\"type\": ".to_vec(),
        )
        .await;
    let err = error_of(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(err.code, "malformed_json");
    assert!(err.message.contains("line 1"), "{}", err.message);

    // Not a batch.
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &json_ct,
            b"{\"events\": []}".to_vec(),
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "missing_batch"
    );

    // A 5 MB body: 400, nothing stored (the valid events in it included).
    let filler = "x".repeat(1_000);
    let events: Vec<Value> = (0..5_000)
        .map(|i| json!({"type": "track", "event": "Big", "userId": "u", "messageId": format!("big-{i}"), "properties": {"f": filler}}))
        .collect();
    let big = json!({"batch": events}).to_string().into_bytes();
    assert!(big.len() > 5_000_000);
    let response = s
        .send("/v1/batch", Some(&a.key), &json_ct, big.clone())
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "payload_too_large"
    );
    // The same 5 MB gzipped (small on the wire): still over the limit once inflated.
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(&big),
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "payload_too_large"
    );
    // A gzip bomb (64 MB of spaces in ~64 KB) stops at the limit.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..64 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &[("content-encoding", "gzip")],
            bomb,
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "payload_too_large"
    );
    // Corrupt gzip, an unknown encoding.
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &[("content-encoding", "gzip")],
            b"not gzip".to_vec(),
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "bad_encoding"
    );
    let response = s
        .send(
            "/v1/batch",
            Some(&a.key),
            &[("content-encoding", "br")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "bad_encoding"
    );

    // Wrong, missing and malformed write keys: 401.
    let body =
        json!({"batch": [{"type": "track", "event": "K", "userId": "u", "messageId": "key-1"}]})
            .to_string()
            .into_bytes();
    let response = s
        .send("/v1/batch", Some("not-a-key"), &json_ct, body.clone())
        .await;
    assert_eq!(
        error_of(response, StatusCode::UNAUTHORIZED).await.code,
        "unauthorized"
    );
    let response = s.send("/v1/batch", None, &json_ct, body.clone()).await;
    assert_eq!(
        error_of(response, StatusCode::UNAUTHORIZED).await.code,
        "unauthorized"
    );
    let wrong_in_body = json!({"writeKey": "nope", "batch": []})
        .to_string()
        .into_bytes();
    let response = s.send("/v1/batch", None, &json_ct, wrong_in_body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = s
        .send(
            "/v1/batch",
            None,
            &[("authorization", "Bearer abc")],
            body.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A wrong Basic key is refused even when the body names a right one.
    let mixed = json!({"writeKey": a.key, "batch": [{"type": "track", "event": "K", "userId": "u", "messageId": "key-2"}]});
    let response = s
        .send(
            "/v1/batch",
            Some("wrong"),
            &json_ct,
            mixed.to_string().into_bytes(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.count(token).await,
        before,
        "a refused request stored something"
    );

    // A batch with a 40 KB event, bad timestamps and other invalid events: the valid
    // part is stored (200), each bad one is a dead letter with its reason.
    let huge = "y".repeat(40 * 1024);
    let body = json!({"batch": [
        {"type": "track", "event": "Ok 1", "userId": "u", "messageId": "mixed-ok-1"},
        {"type": "track", "event": "Huge", "userId": "u", "messageId": "mixed-huge",
         "properties": {"blob": huge}},
        {"type": "track", "event": "Bad Time", "userId": "u", "messageId": "mixed-time",
         "timestamp": "31/12/2024 10:00"},
        {"type": "track", "event": "No Offset", "userId": "u", "messageId": "mixed-offset",
         "timestamp": "2024-05-01T10:00:00"},
        {"type": "track", "event": "Bad Sent", "userId": "u", "messageId": "mixed-sent",
         "originalTimestamp": "2024-05-01T10:00:00Z", "sentAt": 1714557600},
        {"type": "track", "userId": "u", "messageId": "mixed-noname"},
        {"type": "identify", "messageId": "mixed-noid", "traits": {"email": "x@y.z"}},
        {"type": "rename", "userId": "u", "messageId": "mixed-type"},
        "not an object",
        {"type": "page", "anonymousId": "a", "messageId": "mixed-ok-2"}
    ]});
    let answer = s.batch(&a.key, &body).await;
    assert_eq!(
        answer,
        json!({"success": true, "stored": 2, "duplicate": 0, "dead_lettered": 8, "suppressed": 0})
    );
    s.find(token, "mixed-ok-1").await;
    s.find(token, "mixed-ok-2").await;
    assert_eq!(s.count(token).await, before + 2);
    let letters = s.db.dead_letters(a.id, 100).await.unwrap();
    let codes: BTreeSet<&str> = letters.iter().map(|l| l.code.as_str()).collect();
    assert_eq!(
        codes,
        BTreeSet::from([
            "too_large",
            "bad_timestamp",
            "missing_event_name",
            "missing_identity",
            "unknown_type",
            "not_an_object",
        ])
    );
    let huge_letter = letters.iter().find(|l| l.code == "too_large").unwrap();
    assert!(
        huge_letter.reason.contains("32768"),
        "{}",
        huge_letter.reason
    );
    assert_eq!(huge_letter.raw.chars().count(), DEAD_LETTER_RAW_CHARS);
    assert!(huge_letter.raw_bytes > 40 * 1024);
    assert!(huge_letter.raw.starts_with('{'));
    assert_eq!(huge_letter.source, "collect");
    let bad_time = letters
        .iter()
        .filter(|l| l.code == "bad_timestamp")
        .map(|l| l.raw.as_str())
        .collect::<Vec<_>>();
    assert_eq!(bad_time.len(), 3);
    assert!(letters.iter().all(|l| !l.raw.contains(&a.key)));

    // Replaying the mixed batch stores nothing new (its bad events are dead letters again).
    let answer = s.batch(&a.key, &body).await;
    assert_eq!(
        (answer["stored"].clone(), answer["duplicate"].clone()),
        (json!(0), json!(2))
    );
    assert_eq!(s.count(token).await, before + 2);
}

async fn single_event_endpoints(s: &Server, a: &Workspace, token: &str) {
    let calls = [
        (
            "identify",
            "i",
            EventType::Identify,
            json!({"userId": "u", "traits": {"a": 1}}),
        ),
        (
            "track",
            "t",
            EventType::Track,
            json!({"userId": "u", "event": "Clicked"}),
        ),
        (
            "page",
            "p",
            EventType::Page,
            json!({"anonymousId": "a", "name": "Home"}),
        ),
        (
            "screen",
            "s",
            EventType::Screen,
            json!({"anonymousId": "a", "name": "Main"}),
        ),
        (
            "group",
            "g",
            EventType::Group,
            json!({"userId": "u", "groupId": "g1"}),
        ),
        (
            "alias",
            "a",
            EventType::Alias,
            json!({"userId": "u", "previousId": "a"}),
        ),
    ];
    for (long, short, kind, body) in calls {
        for path in [long, short] {
            let id = format!("single-{path}");
            let mut event = body.clone();
            event["messageId"] = json!(id);
            let response = s
                .send(
                    &format!("/v1/{path}"),
                    Some(&a.key),
                    &[],
                    event.to_string().into_bytes(),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK, "/v1/{path}");
            let answer: Value = response.json().await.unwrap();
            assert_eq!(answer["stored"], 1, "/v1/{path}");
            let stored = s.find(token, &id).await;
            assert_eq!(stored.kind, kind);
            assert_eq!(stored.body["type"], long);
        }
    }
    // writeKey in the single event's body.
    let response = s
        .send(
            "/v1/t",
            None,
            &[],
            json!({"writeKey": a.key, "userId": "u", "event": "E", "messageId": "single-wk"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!s
        .find(token, "single-wk")
        .await
        .body
        .contains_key("writeKey"));
    // An invalid single event: 400 with its reason, and kept as a dead letter.
    let before = s.db.dead_letters(a.id, 1_000).await.unwrap().len();
    let response = s
        .send(
            "/v1/track",
            Some(&a.key),
            &[],
            json!({"userId": "u"}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "missing_event_name"
    );
    let response = s
        .send(
            "/v1/track",
            Some(&a.key),
            &[],
            json!({"type": "identify", "userId": "u"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(
        error_of(response, StatusCode::BAD_REQUEST).await.code,
        "type_mismatch"
    );
    assert_eq!(
        s.db.dead_letters(a.id, 1_000).await.unwrap().len(),
        before + 2
    );
    // GET is not a collection call.
    let response = s.http.get(s.url("/v1/track")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn isolation(s: &Server, a: &Workspace, b: &Workspace, token_a: &str, token_b: &str) {
    let before_a = s.count(token_a).await;
    let before_b = s.count(token_b).await;
    // B's write key writes into B only, even when the event names A's ids.
    let body = json!({"batch": [{"type": "track", "event": "In B", "userId": "u-1",
        "messageId": "six-t"}]});
    let answer = s.batch(&b.key, &body).await;
    assert_eq!(answer["stored"], 1, "A's messageId is no duplicate in B");
    assert_eq!(s.count(token_a).await, before_a);
    assert_eq!(s.count(token_b).await, before_b + 1);
    let b_events = s.stream(token_b).await;
    assert!(b_events
        .iter()
        .all(|e| e.event.name.as_deref() == Some("In B")));
    // A's device never reads B's event; A's event of the same id is still A's.
    assert_eq!(
        s.find(token_a, "six-t").await.name.as_deref(),
        Some("Order Completed")
    );
    // B's dead letters are B's.
    let bad = json!({"batch": [{"type": "track", "userId": "u", "messageId": "b-bad"}]});
    s.batch(&b.key, &bad).await;
    let b_letters = s.db.dead_letters(b.id, 100).await.unwrap();
    assert_eq!(b_letters.len(), 1);
    assert!(s
        .db
        .dead_letters(a.id, 1_000)
        .await
        .unwrap()
        .iter()
        .all(|l| !l.raw.contains("b-bad")));
    // No token, a bad token: 401.
    let response = s.http.get(s.url("/v1/events/pull")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = s
        .http
        .get(s.url("/v1/events/pull"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A write key is not a device token.
    let response = s
        .http
        .get(s.url("/v1/events/pull"))
        .bearer_auth(&a.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

fn device_event(id: &str, name: &str) -> Event {
    let now = Utc::now();
    Event {
        message_id: id.into(),
        kind: EventType::Track,
        user_id: Some("imported-user".into()),
        anonymous_id: None,
        name: Some(name.into()),
        timestamp: at("2023-01-02T03:04:05.123456789Z"),
        received_at: now,
        body: json!({"event": name, "userId": "imported-user", "properties": {"src": "csv"}})
            .as_object()
            .unwrap()
            .clone(),
    }
}

async fn push(s: &Server, token: &str, events: &[Event]) -> reqwest::Response {
    s.http
        .post(s.url("/v1/events/push"))
        .bearer_auth(token)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap()
}

async fn device_push(s: &Server, token_a: &str, token_b: &str) {
    let before_a = s.count(token_a).await;
    let before_b = s.count(token_b).await;
    let events = vec![
        device_event("imp-1", "Imported"),
        device_event("imp-2", "Imported"),
    ];
    let response = push(s, token_a, &events).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: EventPushResponse = response.json().await.unwrap();
    assert_eq!(
        (answer.stored, answer.duplicate, answer.suppressed),
        (2, 0, 0)
    );
    // Again: duplicates.
    let answer: EventPushResponse = push(s, token_a, &events).await.json().await.unwrap();
    assert_eq!((answer.stored, answer.duplicate), (0, 2));
    // A second device of A reads them exactly (nanoseconds kept), B does not.
    let other = s.login("ada@acme.test", "phone").await.token;
    let stored = s.find(&other, "imp-1").await;
    assert_eq!(stored.timestamp, events[0].timestamp);
    assert_eq!(stored.name.as_deref(), Some("Imported"));
    assert_eq!(stored.body["properties"], json!({"src": "csv"}));
    assert_eq!(stored.body["messageId"], "imp-1");
    assert_eq!(stored.body["type"], "track");
    assert_eq!(s.count(token_a).await, before_a + 2);
    assert_eq!(s.count(token_b).await, before_b);
    // An invalid event refuses the whole push, nothing stored.
    let mut bad = device_event("imp-3", "Imported");
    bad.name = None;
    bad.body.remove("event");
    let response = push(s, token_a, &[device_event("imp-4", "Fine"), bad]).await;
    let err = error_of(response, StatusCode::BAD_REQUEST).await;
    assert!(err.message.contains("event 1"), "{}", err.message);
    let empty_id = device_event("", "Imported");
    let response = push(s, token_a, &[empty_id]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.count(token_a).await, before_a + 2);
    // Too many events.
    let many: Vec<Event> = (0..1_001)
        .map(|i| device_event(&format!("m{i}"), "M"))
        .collect();
    let response = push(s, token_a, &many).await;
    assert_eq!(
        error_of(response, StatusCode::PAYLOAD_TOO_LARGE).await.code,
        "too_many_events"
    );
    let response = s
        .http
        .post(s.url("/v1/events/push"))
        .json(&json!({"events": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// Writers post batches concurrently while a reader follows the stream with its cursor:
/// the reader sees every stored event exactly once (a late commit never lands behind its
/// cursor) and seqs are gapless.
async fn concurrent_batches_keep_the_stream_gapless(s: &Server, b: &Workspace, token: &str) {
    let start = s.stream(token).await.last().map_or(0, |e| e.seq);
    let writers = 8;
    let batches = 6;
    let per_batch = 50;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let http = s.http.clone();
        let url = s.url("/v1/batch");
        let key = b.key.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..batches {
                let events: Vec<Value> = (0..per_batch)
                    .map(|i| {
                        json!({"type": "track", "event": "Load", "anonymousId": format!("w{w}"),
                        "messageId": format!("conc-{w}-{n}-{i}")})
                    })
                    .collect();
                let response = http
                    .post(&url)
                    .basic_auth(&key, Some(""))
                    .json(&json!({ "batch": events }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        }));
    }
    let total = writers * batches * per_batch;
    let mut seen: Vec<StreamedEvent> = Vec::new();
    let mut cursor = start;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while seen.len() < total {
        assert!(
            std::time::Instant::now() < deadline,
            "stream stalled at {}",
            seen.len()
        );
        let page = s.pull(token, cursor, 137).await;
        cursor = page.next_cursor;
        seen.extend(page.events);
        if !page.has_more {
            tokio::task::yield_now().await;
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let after = s.pull(token, cursor, 1_000).await;
    assert!(after.events.is_empty(), "events beyond the expected total");
    let ids: HashSet<&str> = seen.iter().map(|e| e.event.message_id.as_str()).collect();
    assert_eq!(ids.len(), total);
    for (i, e) in seen.iter().enumerate() {
        assert_eq!(e.seq, start + 1 + i as i64, "gap or reorder in the stream");
    }
}

async fn paging_and_query_errors(s: &Server, token: &str) {
    let all = s.stream(token).await;
    let page = s.pull(token, 0, 5).await;
    assert_eq!(page.events.len(), 5);
    assert!(page.has_more);
    assert_eq!(page.next_cursor, all[4].seq);
    let next = s.pull(token, page.next_cursor, 5).await;
    assert_eq!(next.events[0].seq, all[5].seq);
    let end = s.pull(token, all.last().unwrap().seq, 10).await;
    assert!(end.events.is_empty());
    assert!(!end.has_more);
    assert_eq!(end.next_cursor, all.last().unwrap().seq);
    for query in ["limit=0", "limit=5001", "cursor=-1", "cursor=abc"] {
        let response = s
            .http
            .get(s.url(&format!("/v1/events/pull?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
}

async fn metrics_count_events(s: &Server) {
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(value("hub_events_total{result=\"accepted\"}") > 2_000);
    assert!(value("hub_events_total{result=\"duplicate\"}") >= 10);
    assert!(value("hub_events_total{result=\"dead_lettered\"}") >= 10);
    assert!(value("hub_events_pulled_total") > 0);
    assert!(text.contains("route=\"/v1/batch\""));
    assert!(!text.contains("u-1"), "an id reached the metrics");
}

async fn rate_limit(url: &str) {
    let s = Server::start(url, 100).await;
    let ws = s.workspace("Rated", "rita@rated.test").await;
    let token = s.login("rita@rated.test", "laptop").await.token;
    let events = |n: usize, tag: &str| {
        json!({"batch": (0..n).map(|i| json!({"type": "track", "event": "R", "userId": "u",
            "messageId": format!("{tag}-{i}")})).collect::<Vec<_>>()})
    };
    // A batch larger than a second's worth goes through (the bucket goes into debt), then
    // 429 with Retry-After; nothing stored from it.
    s.batch(&ws.key, &events(1_000, "r1")).await;
    let response = s
        .send(
            "/v1/batch",
            Some(&ws.key),
            &[],
            events(5, "r2").to_string().into_bytes(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 900 events in debt at 100/s (less what the first request took to store).
    assert!((1..=9).contains(&wait), "{wait}");
    assert_eq!(
        error_of(response, StatusCode::TOO_MANY_REQUESTS).await.code,
        "rate_limited"
    );
    assert_eq!(s.count(&token).await, 1_000);
    // Another workspace is not held back.
    let other = s.workspace("Other", "otto@other.test").await;
    s.batch(&other.key, &events(5, "o1")).await;
    // (Refilling after the wait is the unit test of EventRate.)
}
