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
//! `GET /v1/sync/pull` and `GET /v1/sync/snapshot` ([`sync`], docs/sync.md).
//!
//! Every response carries the server's clock in `X-Server-Time` (RFC 3339, UTC), so a
//! client can measure its skew on any answer, errors included.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
mod health;
pub mod storage;
pub mod sync;
mod sync_api;

use std::future::Future;
use std::io;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use auth::Passwords;
pub use config::{DatabaseUrl, ServerConfig};
pub use error::ApiError;
pub use health::Health;
pub use storage::{Database, Storage};

/// Version reported by `/healthz`: the crate version, shared by the whole workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest request body accepted; a bigger one is a JSON 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Response header with the server's wall-clock time, RFC 3339 UTC with milliseconds.
pub const SERVER_TIME_HEADER: &str = "x-server-time";

/// State shared by every handler. Cheap to clone: the database is a pool handle and
/// [`Passwords`] an `Arc`.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Database,
    pub passwords: Passwords,
}

impl AppState {
    /// New password hashes use the recommended argon2id cost.
    pub fn new(db: Database) -> Self {
        Self::with_passwords(db, Passwords::recommended())
    }

    /// Chooses the cost of new password hashes (tests use [`Passwords::cheap_for_tests`]).
    pub fn with_passwords(db: Database, passwords: Passwords) -> Self {
        Self { db, passwords }
    }
}

pub use hub_protocol::wire::ErrorBody;

/// All routes of the service, with request logging.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/v1/auth/login", post(api::login))
        .route("/v1/auth/setup", post(api::setup))
        .route("/v1/devices", get(api::list_devices))
        .route("/v1/devices/{id}", delete(api::revoke_device))
        .route("/v1/sync/push", post(sync_api::push))
        .route("/v1/sync/pull", get(sync_api::pull))
        .route("/v1/sync/snapshot", get(sync_api::snapshot))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(add_server_time))
        .layer(
            TraceLayer::new_for_http()
                // Method and path only: query strings and headers may carry personal data.
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
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
