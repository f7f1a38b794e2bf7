//! Operations surface, served on a real port-0 listener: `GET /metrics` (Prometheus text),
//! `GET /openapi.json` held to [`hub_server::ROUTES`], and request logs that carry no
//! personal data.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};

use hub_protocol::wire::LoginResponse;
use hub_protocol::{Change, DeviceId, Hlc};
use hub_server::auth::Password;
use hub_server::sync::PushResponse;
use hub_server::{accounts, AppState, Database, DatabaseUrl, ErrorBody, Passwords, ROUTES};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

const EMAIL: &str = "Dana.Private@example.com";
const PASSWORD: &str = "a long password";
const DEVICE_A: &str = "Dana's MacBook";
const DEVICE_B: &str = "Dana's Phone";
/// An email typed into a path that matches no route.
const PROBE_EMAIL: &str = "probe.person@example.org";

struct Server {
    base: String,
    http: reqwest::Client,
    db: Database,
    passwords: Passwords,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start() -> Self {
        let db = Database::open(&DatabaseUrl::SqliteMemory).await.unwrap();
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

    async fn workspace(&self) -> Uuid {
        let pw = Password::parse(PASSWORD.to_owned()).unwrap();
        accounts::create_workspace(&self.db, &self.passwords, "Ops Ltd", EMAIL, Some(pw))
            .await
            .unwrap()
            .workspace_id
    }

    async fn login(&self, password: &str, device: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": EMAIL, "password": password, "device_name": device}))
            .send()
            .await
            .unwrap()
    }

    async fn push(&self, token: &str, changes: &[Change]) -> PushResponse {
        let response = self
            .http
            .post(self.url("/v1/sync/push"))
            .bearer_auth(token)
            .json(&json!({ "changes": changes }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn metrics(&self) -> (String, Samples) {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        let samples = parse_prometheus(&text);
        (text, samples)
    }
}

fn change(device: Uuid, row: Uuid, ms: u64, fields: Value) -> Change {
    Change {
        op_id: Uuid::now_v7(),
        device_id: DeviceId(device),
        entity: "contact".into(),
        row_id: row,
        hlc: Hlc {
            ms,
            counter: 0,
            device: DeviceId(device),
        },
        fields: serde_json::from_value(fields).unwrap(),
        base: BTreeMap::new(),
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap()
}

// ---- Prometheus text ------------------------------------------------------------------

type Labels = BTreeMap<String, String>;

#[derive(Debug, Default)]
struct Samples(Vec<(String, Labels, f64)>);

impl Samples {
    /// The sample with exactly these labels, 0 when absent (a counter not yet touched).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map_or(0.0, |(_, _, v)| *v)
    }

    fn names(&self) -> BTreeSet<&str> {
        self.0.iter().map(|(n, _, _)| n.as_str()).collect()
    }
}

/// Parses the text exposition format strictly enough for the test: every line is a
/// comment (`# HELP`/`# TYPE`), empty, or `name{k="v",…} value` with a numeric value.
fn parse_prometheus(text: &str) -> Samples {
    let mut samples = Samples::default();
    let mut typed = BTreeSet::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let kind = words.next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "odd comment: {line}");
            let name = words.next().expect(line);
            if kind == "TYPE" {
                let ty = words.next().expect(line);
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                    "{line}"
                );
                typed.insert(name.to_owned());
            }
            continue;
        }
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(
            !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name: {line}"
        );
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(after) => parse_labels(after, line),
            None => (Labels::new(), &line[name_end..]),
        };
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("value is not a number: {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| typed.contains(*f))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its # TYPE: {line}");
        samples.0.push((name.to_owned(), labels, value));
    }
    samples
}

/// `k="v",k2="v2"} rest` → the labels and `rest`.
fn parse_labels<'a>(mut s: &'a str, line: &str) -> (Labels, &'a str) {
    let mut labels = Labels::new();
    loop {
        let eq = s.find('=').unwrap_or_else(|| panic!("bad labels: {line}"));
        let key = &s[..eq];
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad label name in {line}"
        );
        let quoted = s[eq + 1..]
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("unquoted label value: {line}"));
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let close = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => panic!("bad escape: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        assert!(
            labels.insert(key.to_owned(), value).is_none(),
            "repeated label: {line}"
        );
        let after = &quoted[close + 1..];
        if let Some(next) = after.strip_prefix(',') {
            s = next;
        } else if let Some(rest) = after.strip_prefix('}') {
            return (labels, rest);
        } else {
            panic!("bad label list: {line}");
        }
    }
}

// ---- Routes and the OpenAPI document --------------------------------------------------

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// `/v1/devices/{id}` → a concrete path.
fn concrete(template: &str) -> String {
    template.replace("{id}", &Uuid::now_v7().to_string())
}

#[tokio::test]
async fn the_router_serves_exactly_the_listed_routes() {
    let server = Server::start().await;
    for (path, methods) in ROUTES {
        for method in METHODS {
            let response = server
                .http
                .request(method.clone(), server.url(&concrete(path)))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let listed = methods.contains(&method.as_str());
            if listed {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                if status == StatusCode::NOT_FOUND {
                    // Only a handler's own 404 (an unknown device), never the fallback.
                    let body: ErrorBody = response.json().await.unwrap();
                    assert!(!body.message.starts_with("no route"), "{method} {path}");
                }
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
    let response = server
        .http
        .get(server.url("/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Every `"$ref"` string anywhere in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_describes_exactly_the_routes() {
    let server = Server::start().await;
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(hub_server::openapi::DOCUMENT).unwrap()
    );

    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    // Paths and their operations are exactly ROUTES.
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let ops = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "options", "head", "patch", "trace",
                    ]
                    .contains(&k.as_str())
                })
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), ops)
        })
        .collect();
    let served: BTreeMap<String, BTreeSet<String>> = ROUTES
        .iter()
        .map(|(path, methods)| {
            (
                (*path).to_owned(),
                methods.iter().map(|m| (*m).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(documented, served);

    // Every operation documents its answers; authenticated ones name the bearer scheme
    // and their 401; every error answer has the {code, message} shape or ClockAhead.
    let bearer_routes = [
        "/v1/devices",
        "/v1/devices/{id}",
        "/v1/sync/push",
        "/v1/sync/pull",
        "/v1/sync/snapshot",
        "/v1/events/pull",
        "/v1/events/push",
    ];
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, methods) in ROUTES {
        for method in *methods {
            let op = &doc["paths"][*path][method.to_lowercase()];
            assert!(op["operationId"].is_string(), "{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}"
            );
            let secured = op["security"] == json!([{"bearer": []}]);
            assert_eq!(secured, bearer_routes.contains(path), "{method} {path}");
            if secured {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
        }
    }
    let push = &doc["paths"]["/v1/sync/push"]["post"]["responses"];
    for status in ["400", "401", "409", "413", "422"] {
        assert!(push[status].is_object(), "push {status}");
    }
    let text = hub_server::openapi::DOCUMENT;
    for code in [
        "clock_ahead",
        "device_taken",
        "workspace_required",
        "op_id_reused",
        "too_many_changes",
        "payload_too_large",
    ] {
        assert!(text.contains(code), "{code} undocumented");
    }
    assert_eq!(
        doc["components"]["schemas"]["Error"]["required"],
        json!(["code", "message"])
    );

    // Every $ref points inside the document and resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20);
    for r in all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
    }
}

// ---- Metrics and logs over one session -------------------------------------------------

/// What one session did, for the assertions.
struct Session {
    workspace: Uuid,
    a: LoginResponse,
    b: LoginResponse,
    pushed_applied: u64,
    pulled: u64,
}

/// Two devices sign in (plus one wrong password), push (applied, rejected, lost with a
/// conflict), pull, list and revoke a device, and probe an unknown path with an email.
async fn session(server: &Server) -> Session {
    let workspace = server.workspace().await;
    assert_eq!(
        server
            .login("Qx7-not-the-password", DEVICE_A)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let a: LoginResponse = server.login(PASSWORD, DEVICE_A).await.json().await.unwrap();
    let b: LoginResponse = server.login(PASSWORD, DEVICE_B).await.json().await.unwrap();

    let now = now_ms();
    let row = Uuid::now_v7();
    let batch: Vec<Change> = (0..3)
        .map(|i| {
            change(
                a.device_id,
                Uuid::now_v7(),
                now,
                json!({"name": format!("row {i}")}),
            )
        })
        .chain([change(a.device_id, row, now, json!({"title": "winner"}))])
        .collect();
    let pushed = server.push(&a.token, &batch).await;
    assert!(pushed.results.iter().all(|r| r.status
        == hub_server::sync::OpStatus::Applied {
            conflict_ids: vec![]
        }));
    // B writes the same field with a lower clock, not having seen A's: lost, one conflict.
    // And a change claiming A's device: rejected.
    let pushed = server
        .push(
            &b.token,
            &[
                change(b.device_id, row, now - 1_000, json!({"title": "loser"})),
                change(a.device_id, row, now, json!({"title": "forged"})),
            ],
        )
        .await;
    assert!(matches!(
        &pushed.results[0].status,
        hub_server::sync::OpStatus::Lost { conflict_ids } if conflict_ids.len() == 1
    ));
    assert!(matches!(
        pushed.results[1].status,
        hub_server::sync::OpStatus::Rejected { .. }
    ));

    let pull: Value = server
        .http
        .get(server.url("/v1/sync/pull?cursor=0&limit=100"))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pulled = pull["changes"].as_array().unwrap().len() as u64;
    assert_eq!(pulled, 5);

    let devices = server
        .http
        .get(server.url("/v1/devices"))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(devices.status(), StatusCode::OK);
    let revoke = server
        .http
        .delete(server.url(&format!("/v1/devices/{}", b.device_id)))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);

    let probe = server
        .http
        .get(server.url(&format!("/v1/users/{PROBE_EMAIL}?email={PROBE_EMAIL}")))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), StatusCode::NOT_FOUND);

    Session {
        workspace,
        a,
        b,
        pushed_applied: 4,
        pulled,
    }
}

/// Strings that must never appear in metrics or logs.
fn personal(session: &Session) -> Vec<String> {
    vec![
        EMAIL.to_owned(),
        EMAIL.to_lowercase(),
        "dana.private".to_owned(),
        PROBE_EMAIL.to_owned(),
        PASSWORD.to_owned(),
        "Qx7-not-the-password".to_owned(),
        DEVICE_A.to_owned(),
        DEVICE_B.to_owned(),
        session.a.token.clone(),
        session.b.token.clone(),
    ]
}

#[tokio::test]
async fn metrics_count_requests_sign_ins_and_sync_without_personal_data() {
    let server = Server::start().await;
    let (_, before) = server.metrics().await;
    assert_eq!(
        before.get(
            "hub_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("backend", "sqlite")
            ]
        ),
        1.0
    );
    let login_ok = before.get("hub_auth_logins_total", &[("result", "ok")]);
    assert_eq!(login_ok, 0.0);

    let s = session(&server).await;
    let (text, after) = server.metrics().await;

    assert_eq!(after.get("hub_auth_logins_total", &[("result", "ok")]), 2.0);
    assert_eq!(
        after.get("hub_auth_logins_total", &[("result", "unauthorized")]),
        1.0
    );
    let push = |status| after.get("hub_sync_push_changes_total", &[("status", status)]);
    assert_eq!(push("applied"), s.pushed_applied as f64);
    assert_eq!(push("lost"), 1.0);
    assert_eq!(push("rejected"), 1.0);
    assert_eq!(push("duplicate"), 0.0);
    assert_eq!(after.get("hub_sync_conflicts_total", &[]), 1.0);
    assert_eq!(
        after.get("hub_sync_pull_changes_total", &[]),
        s.pulled as f64
    );

    let requests = |method, route, status| {
        after.get(
            "hub_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/v1/auth/login", "200"), 2.0);
    assert_eq!(requests("POST", "/v1/auth/login", "401"), 1.0);
    assert_eq!(requests("POST", "/v1/sync/push", "200"), 2.0);
    assert_eq!(requests("GET", "/v1/sync/pull", "200"), 1.0);
    assert_eq!(requests("DELETE", "/v1/devices/{id}", "204"), 1.0);
    assert_eq!(requests("GET", "unmatched", "404"), 1.0);
    assert_eq!(requests("GET", "/metrics", "200"), 1.0);
    // Route labels are templates: only ROUTES and "unmatched", never a raw path.
    let routes: BTreeSet<&str> = ROUTES
        .iter()
        .map(|(p, _)| *p)
        .chain(["unmatched"])
        .collect();
    for (name, labels, _) in &after.0 {
        if let Some(route) = labels.get("route") {
            assert!(routes.contains(route.as_str()), "{name} route={route}");
        }
    }

    // The histogram: +Inf bucket = count, cumulative buckets never decrease.
    let route = [("route", "/v1/sync/push")];
    let count = after.get("hub_http_request_duration_seconds_count", &route);
    assert_eq!(count, 2.0);
    assert_eq!(
        after.get(
            "hub_http_request_duration_seconds_bucket",
            &[("route", "/v1/sync/push"), ("le", "+Inf")]
        ),
        count
    );
    let buckets: Vec<f64> = after
        .0
        .iter()
        .filter(|(n, l, _)| {
            n == "hub_http_request_duration_seconds_bucket"
                && l.get("route").map(String::as_str) == Some("/v1/sync/push")
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(
        buckets.len(),
        hub_server::metrics::DURATION_BUCKETS.len() + 1
    );
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
    assert!(after.get("hub_http_request_duration_seconds_sum", &route) > 0.0);
    for family in [
        "hub_http_requests_total",
        "hub_sync_push_changes_total",
        "hub_sync_pull_changes_total",
        "hub_sync_conflicts_total",
        "hub_auth_logins_total",
        "hub_build_info",
    ] {
        assert!(after.names().contains(family), "{family} missing");
    }

    // No personal data, and no ids either.
    let lower = text.to_lowercase();
    for secret in personal(&s) {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "metrics show {secret:?}"
        );
    }
    for id in [s.workspace, s.a.device_id, s.b.device_id, s.a.user_id] {
        assert!(!lower.contains(&id.to_string()), "metrics show id {id}");
        assert!(
            !lower.contains(&id.simple().to_string()),
            "metrics show id {id}"
        );
    }
}

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

// The default #[tokio::test] runtime is single-threaded, so the server's tasks run on this
// thread and the thread-local subscriber sees all of them.
#[tokio::test]
async fn request_logs_carry_no_personal_data_even_at_trace_level() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    // tracing caches each callsite's interest process-wide; while exactly one dispatcher
    // exists it asks the *registering* thread's default, so a sibling test (no subscriber)
    // reaching a server callsite first would cache "never" and blind this capture. A
    // second live dispatcher makes registration ask every live dispatcher instead.
    let _anchor = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(std::io::sink)
            .finish(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let server = Server::start().await;
    let s = session(&server).await;
    drop(_guard);
    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();

    // The request spans name method, route template and status…
    assert!(log.contains("route=\"/v1/devices/{id}\""), "{log}");
    assert!(log.contains("route=\"/v1/sync/pull\""), "{log}");
    assert!(log.contains("route=\"unmatched\""), "{log}");
    assert!(log.contains("status=204"), "{log}");
    // …and never the raw path, a query string, a header or a body.
    let lower = log.to_lowercase();
    for secret in personal(&s) {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "log shows {secret:?}"
        );
    }
    for needle in [
        format!("/v1/devices/{}", s.b.device_id),
        "cursor=".to_owned(),
        "limit=100".to_owned(),
        "/v1/users".to_owned(),
        "bearer ".to_owned(),
        "authorization".to_owned(),
    ] {
        assert!(
            !lower.contains(&needle.to_lowercase()),
            "log shows {needle:?}"
        );
    }
}
