//! `hub-server`: the Customer Hub sync and event-collection service.
//!
//! The library holds everything; `src/main.rs` only parses flags and calls [`serve`].
//! Tests (here and in `tests/hub-e2e`) build the same [`router`] and serve it on a
//! port-0 listener, so they exercise exactly what the binary runs.
//!
//! Today the server keeps workspaces, users and devices in [`storage`] (SQLite or
//! PostgreSQL, chosen by [`config::DatabaseUrl`]) and answers `GET /healthz`,
//! `POST /v1/auth/login`, `POST /v1/auth/setup`, `GET /v1/devices` and
//! `DELETE /v1/devices/{id}`, and syncs changes with `POST /v1/sync/push`,
//! `GET /v1/sync/pull` and `GET /v1/sync/snapshot` ([`sync`], docs/sync.md). It collects
//! behavioural events with the Segment HTTP tracking API (`POST /v1/batch`, `/v1/track`, …)
//! and serves them to devices as a stream (`GET /v1/events/pull`, `POST /v1/events/push`)
//! ([`events_api`], docs/events.md). For operators
//! it serves `GET /metrics` (Prometheus text, [`metrics`]) and its own OpenAPI document at
//! `GET /openapi.json` ([`openapi`]). [`ROUTES`] lists every route; the router is built
//! from it and a test holds the OpenAPI document to it.
//!
//! Every response carries the server's clock in `X-Server-Time` (RFC 3339, UTC), so a
//! client can measure its skew on any answer, errors included.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod events_api;
mod health;
pub mod metrics;
pub mod openapi;
pub mod storage;
pub mod sync;
mod sync_api;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{delete, get, post, MethodRouter};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use auth::Passwords;
pub use config::{DatabaseUrl, ServerConfig};
pub use error::ApiError;
pub use health::Health;
pub use metrics::Metrics;
pub use storage::{Database, Storage};

/// Version reported by `/healthz`: the crate version, shared by the whole workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest request body accepted; a bigger one is a JSON 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Response header with the server's wall-clock time, RFC 3339 UTC with milliseconds.
pub const SERVER_TIME_HEADER: &str = "x-server-time";

/// State shared by every handler. Cheap to clone: the database is a pool handle,
/// [`Passwords`] and [`Metrics`] are `Arc`s.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub passwords: Passwords,
    pub metrics: Arc<Metrics>,
    /// Per-workspace limit of collected events per second (`--event-rate`).
    pub event_rate: Arc<events_api::EventRate>,
}

impl AppState {
    /// New password hashes use the recommended argon2id cost.
    pub fn new(db: Database) -> Self {
        Self::with_passwords(db, Passwords::recommended())
    }

    /// Chooses the cost of new password hashes (tests use [`Passwords::cheap_for_tests`]).
    pub fn with_passwords(db: Database, passwords: Passwords) -> Self {
        let backend = match &db {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        };
        Self {
            db,
            passwords,
            metrics: Arc::new(Metrics::new(backend)),
            event_rate: Arc::new(events_api::EventRate::new(events_api::DEFAULT_EVENT_RATE)),
        }
    }

    /// Sets the per-workspace event rate (events per second; 0 = unlimited).
    pub fn with_event_rate(mut self, per_second: u32) -> Self {
        self.event_rate = Arc::new(events_api::EventRate::new(per_second));
        self
    }
}

pub use hub_protocol::wire::ErrorBody;

/// Every route the router serves: path template and methods. [`router`] is built from
/// this list (a path missing here is not served) and the tests hold both the router and
/// `openapi.json` to it, so a route cannot be added without documenting it.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["GET"]),
    ("/metrics", &["GET"]),
    ("/openapi.json", &["GET"]),
    ("/v1/auth/login", &["POST"]),
    ("/v1/auth/setup", &["POST"]),
    ("/v1/devices", &["GET"]),
    ("/v1/devices/{id}", &["DELETE"]),
    ("/v1/sync/push", &["POST"]),
    ("/v1/sync/pull", &["GET"]),
    ("/v1/sync/snapshot", &["GET"]),
    ("/v1/batch", &["POST"]),
    ("/v1/b", &["POST"]),
    ("/v1/identify", &["POST"]),
    ("/v1/i", &["POST"]),
    ("/v1/track", &["POST"]),
    ("/v1/t", &["POST"]),
    ("/v1/page", &["POST"]),
    ("/v1/p", &["POST"]),
    ("/v1/screen", &["POST"]),
    ("/v1/s", &["POST"]),
    ("/v1/group", &["POST"]),
    ("/v1/g", &["POST"]),
    ("/v1/alias", &["POST"]),
    ("/v1/a", &["POST"]),
    ("/v1/events/pull", &["GET"]),
    ("/v1/events/push", &["POST"]),
];

/// The handlers of one path of [`ROUTES`].
fn endpoint(path: &str) -> MethodRouter<AppState> {
    match path {
        "/healthz" => get(health::healthz),
        "/metrics" => get(metrics::serve),
        "/openapi.json" => get(openapi::serve),
        "/v1/auth/login" => post(api::login),
        "/v1/auth/setup" => post(api::setup),
        "/v1/devices" => get(api::list_devices),
        "/v1/devices/{id}" => delete(api::revoke_device),
        "/v1/sync/push" => post(sync_api::push),
        "/v1/sync/pull" => get(sync_api::pull),
        "/v1/sync/snapshot" => get(sync_api::snapshot),
        // Segment-compatible collection: the handler reads its call from the route, and
        // the body itself (its own 4 MB limit, applied after gzip is undone).
        "/v1/batch" | "/v1/b" | "/v1/identify" | "/v1/i" | "/v1/track" | "/v1/t" | "/v1/page"
        | "/v1/p" | "/v1/screen" | "/v1/s" | "/v1/group" | "/v1/g" | "/v1/alias" | "/v1/a" => {
            post(events_api::collect)
        }
        "/v1/events/pull" => get(events_api::pull),
        "/v1/events/push" => post(events_api::push),
        other => panic!("ROUTES lists {other} but endpoint() has no handler for it"),
    }
}

/// All routes of the service, with metrics and request logging.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    ROUTES
        .iter()
        .fold(Router::new(), |router, (path, _)| {
            router.route(path, endpoint(path))
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(add_server_time))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                // Method and route template only: no raw path (ids), no query string, no
                // headers (Authorization), no bodies (passwords, emails, tokens).
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

/// The span of one request: its method and matched route template, nothing the client chose.
fn request_span(request: &Request) -> tracing::Span {
    let route = metrics::route_label(request.extensions().get::<MatchedPath>());
    tracing::info_span!("request", method = %request.method(), route)
}

async fn not_found(method: Method, uri: Uri) -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            code: "not_found".into(),
            message: format!("no route for {method} {}", uri.path()),
        }),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Stamps every response, errors and 404s included, with the server's clock.
async fn add_server_time(mut response: Response) -> Response {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    if let Ok(value) = HeaderValue::from_str(&now) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(SERVER_TIME_HEADER), value);
    }
    response
}

/// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, state: AppState) -> io::Result<()> {
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves until `shutdown` completes; tests pass a oneshot receiver here.
pub async fn serve_until<F>(listener: TcpListener, state: AppState, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM — what `docker stop` and systemd send.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
