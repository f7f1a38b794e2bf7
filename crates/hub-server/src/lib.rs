//! `hub-server`: the Customer Hub sync and event-collection service.
//!
//! The library holds everything; `src/main.rs` only parses flags and calls [`serve`].
//! Tests (here and in `tests/hub-e2e`) build the same [`router`] and serve it on a
//! port-0 listener, so they exercise exactly what the binary runs.
//!
//! Today the server answers `GET /healthz`. The sync issue adds the storage trait
//! (SQLite and PostgreSQL backends chosen by [`config::DatabaseUrl`]) to [`AppState`]
//! and the `/v1/...` routes to [`router`].

pub mod config;
mod health;

use std::future::Future;
use std::io;

use axum::http::{Method, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use config::{DatabaseUrl, ServerConfig};
pub use health::Health;

/// Version reported by `/healthz`: the crate version, shared by the whole workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// State shared by every handler. Cheap to clone.
///
/// Empty for now: the sync issue puts the storage handle (a pool is already
/// shareable, so no extra `Arc`/`Mutex`) and the server's settings here.
#[derive(Clone, Debug, Default)]
pub struct AppState {}

impl AppState {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Error body of every non-2xx answer: clients switch on `code`, never on `message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// All routes of the service, with request logging.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .fallback(not_found)
        .with_state(state)
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
