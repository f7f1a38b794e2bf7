//! `GET /metrics`: counters and a latency histogram in the Prometheus text exposition
//! format (version 0.0.4), kept by hand in a few atomics and maps — no exporter crate and
//! no background thread.
//!
//! No label carries personal data or an id: `route` is the matched route template from
//! [`crate::ROUTES`] (`/v1/devices/{id}`, never the raw path), `method` one of the standard
//! methods, `status` the HTTP status code. Requests that match no route are counted under
//! `route="unmatched"`, so a client probing paths cannot grow the label set either.
//!
//! The endpoint is unauthenticated like `/healthz`; it holds no personal data, but it does
//! reveal traffic volumes, so operators should not expose it beyond their network
//! (docs/sync.md, "Operations").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::sync::{OpResult, OpStatus};

/// Content type of the Prometheus text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the request-duration histogram buckets.
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The server's counters. One per [`crate::AppState`], shared by every handler.
#[derive(Debug)]
pub struct Metrics {
    backend: &'static str,
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    durations: Mutex<BTreeMap<&'static str, Histogram>>,
    push_applied: AtomicU64,
    push_duplicate: AtomicU64,
    push_lost: AtomicU64,
    push_rejected: AtomicU64,
    pull_changes: AtomicU64,
    conflicts: AtomicU64,
    logins_ok: AtomicU64,
    logins_unauthorized: AtomicU64,
    logins_refused: AtomicU64,
    events_accepted: AtomicU64,
    events_duplicate: AtomicU64,
    events_dead_lettered: AtomicU64,
    events_rate_limited: AtomicU64,
    events_pulled: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Non-cumulative count per bucket of [`DURATION_BUCKETS`]; the last slot is `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = DURATION_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// How a sign-in ended, for `hub_auth_logins_total{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginResult {
    Ok,
    /// Wrong password or unknown email (the same 401).
    Unauthorized,
    /// Any other refusal or failure (bad input, `workspace_required`, `device_taken`, 500).
    Refused,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a counter map inconsistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    /// `backend` is `sqlite` or `postgres`, reported by `hub_build_info`.
    pub fn new(backend: &'static str) -> Self {
        Self {
            backend,
            requests: Mutex::default(),
            durations: Mutex::default(),
            push_applied: AtomicU64::new(0),
            push_duplicate: AtomicU64::new(0),
            push_lost: AtomicU64::new(0),
            push_rejected: AtomicU64::new(0),
            pull_changes: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            logins_ok: AtomicU64::new(0),
            logins_unauthorized: AtomicU64::new(0),
            logins_refused: AtomicU64::new(0),
            events_accepted: AtomicU64::new(0),
            events_duplicate: AtomicU64::new(0),
            events_dead_lettered: AtomicU64::new(0),
            events_rate_limited: AtomicU64::new(0),
            events_pulled: AtomicU64::new(0),
        }
    }

    /// One answered request. `route` must be a template (see [`route_label`]).
    pub fn observe_request(
        &self,
        method: &Method,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        *lock(&self.requests)
            .entry((method_label(method), route, status))
            .or_default() += 1;
        lock(&self.durations)
            .entry(route)
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The per-op results of one push: one count per change by status, and the conflict
    /// ids they report. A retried op is answered its stored result, so it counts again.
    pub fn observe_push(&self, results: &[OpResult]) {
        for result in results {
            let (counter, conflicts) = match &result.status {
                OpStatus::Applied { conflict_ids } => (&self.push_applied, conflict_ids.len()),
                OpStatus::Lost { conflict_ids } => (&self.push_lost, conflict_ids.len()),
                OpStatus::Duplicate => (&self.push_duplicate, 0),
                OpStatus::Rejected { .. } => (&self.push_rejected, 0),
            };
            counter.fetch_add(1, Ordering::Relaxed);
            self.conflicts
                .fetch_add(conflicts as u64, Ordering::Relaxed);
        }
    }

    /// Changes returned by one pull page.
    pub fn observe_pull(&self, changes: usize) {
        self.pull_changes
            .fetch_add(changes as u64, Ordering::Relaxed);
    }

    pub fn observe_login(&self, result: LoginResult) {
        let counter = match result {
            LoginResult::Ok => &self.logins_ok,
            LoginResult::Unauthorized => &self.logins_unauthorized,
            LoginResult::Refused => &self.logins_refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// What one collection call or event push did (counts only, never an id).
    pub fn observe_events(&self, accepted: u64, duplicate: u64, dead_lettered: u64) {
        self.events_accepted.fetch_add(accepted, Ordering::Relaxed);
        self.events_duplicate
            .fetch_add(duplicate, Ordering::Relaxed);
        self.events_dead_lettered
            .fetch_add(dead_lettered, Ordering::Relaxed);
    }

    /// A collection call answered 429.
    pub fn observe_events_rate_limited(&self) {
        self.events_rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Events returned by one event-stream page.
    pub fn observe_events_pulled(&self, events: usize) {
        self.events_pulled
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);

        header(
            &mut out,
            "hub_build_info",
            "gauge",
            "Build of the running server; always 1.",
        );
        let _ = writeln!(
            out,
            "hub_build_info{{version=\"{}\",backend=\"{}\"}} 1",
            escape(crate::VERSION),
            escape(self.backend)
        );

        header(
            &mut out,
            "hub_http_requests_total",
            "counter",
            "HTTP requests answered, by method, matched route template and status.",
        );
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "hub_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }

        header(
            &mut out,
            "hub_http_request_duration_seconds",
            "histogram",
            "Time from receiving a request to its response headers, by matched route template.",
        );
        for (route, h) in lock(&self.durations).iter() {
            let route = escape(route);
            let mut cumulative = 0;
            for (le, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "hub_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "hub_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "hub_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "hub_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }

        header(
            &mut out,
            "hub_sync_push_changes_total",
            "counter",
            "Pushed changes by per-op result (a retried op counts again with its stored result).",
        );
        for (status, counter) in [
            ("applied", &self.push_applied),
            ("duplicate", &self.push_duplicate),
            ("lost", &self.push_lost),
            ("rejected", &self.push_rejected),
        ] {
            let _ = writeln!(
                out,
                "hub_sync_push_changes_total{{status=\"{status}\"}} {}",
                get(counter)
            );
        }

        header(
            &mut out,
            "hub_sync_pull_changes_total",
            "counter",
            "Changes returned by pull.",
        );
        let _ = writeln!(
            out,
            "hub_sync_pull_changes_total {}",
            get(&self.pull_changes)
        );

        header(
            &mut out,
            "hub_sync_conflicts_total",
            "counter",
            "Conflict ids reported in push results (kept versions that lost without being seen).",
        );
        let _ = writeln!(out, "hub_sync_conflicts_total {}", get(&self.conflicts));

        header(
            &mut out,
            "hub_auth_logins_total",
            "counter",
            "Sign-ins by result: ok, unauthorized (wrong password or unknown email), refused (anything else).",
        );
        for (result, counter) in [
            ("ok", &self.logins_ok),
            ("unauthorized", &self.logins_unauthorized),
            ("refused", &self.logins_refused),
        ] {
            let _ = writeln!(
                out,
                "hub_auth_logins_total{{result=\"{result}\"}} {}",
                get(counter)
            );
        }

        header(
            &mut out,
            "hub_events_total",
            "counter",
            "Collected and pushed events by result: accepted (new), duplicate (messageId already stored), dead_lettered (invalid).",
        );
        for (result, counter) in [
            ("accepted", &self.events_accepted),
            ("duplicate", &self.events_duplicate),
            ("dead_lettered", &self.events_dead_lettered),
        ] {
            let _ = writeln!(
                out,
                "hub_events_total{{result=\"{result}\"}} {}",
                get(counter)
            );
        }

        header(
            &mut out,
            "hub_events_rate_limited_total",
            "counter",
            "Collection requests answered 429 because their workspace exceeded its event rate.",
        );
        let _ = writeln!(
            out,
            "hub_events_rate_limited_total {}",
            get(&self.events_rate_limited)
        );

        header(
            &mut out,
            "hub_events_pulled_total",
            "counter",
            "Events returned by GET /v1/events/pull.",
        );
        let _ = writeln!(out, "hub_events_pulled_total {}", get(&self.events_pulled));
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label-value escaping of the text format: backslash, double quote, newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A fixed set, so an unusual method cannot add label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route template of a request: the `MatchedPath` axum set (always one of
/// [`crate::ROUTES`]), or [`UNMATCHED`]. Never the raw path.
pub fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    matched
        .and_then(|m| {
            crate::ROUTES
                .iter()
                .map(|(path, _)| *path)
                .find(|path| *path == m.as_str())
        })
        .unwrap_or(UNMATCHED)
}

/// Middleware: counts and times every request by method, route template and status.
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_label(request.extensions().get::<MatchedPath>());
    let response = next.run(request).await;
    metrics.observe_request(
        &method,
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics`.
pub(crate) async fn serve(State(state): State<crate::AppState>) -> Response {
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], state.metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let m = Metrics::new("sqlite");
        m.observe_request(&Method::GET, "/healthz", 200, Duration::from_millis(1));
        m.observe_request(&Method::GET, "/healthz", 200, Duration::from_millis(30));
        m.observe_request(&Method::GET, "/healthz", 200, Duration::from_secs(60));
        let text = m.render();
        assert!(text.contains(
            "hub_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains(
            "hub_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 2\n"
        ));
        assert!(text.contains(
            "hub_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 2\n"
        ));
        assert!(text.contains(
            "hub_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains("hub_http_request_duration_seconds_count{route=\"/healthz\"} 3\n"));
        assert!(text.contains(
            "hub_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n"
        ));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
