//! `GET /openapi.json`: the OpenAPI 3.1 document of the HTTP API, written by hand in
//! `crates/hub-server/openapi.json` and compiled in. Its schemas mirror the bodies in
//! `hub_protocol::wire` and `hub_protocol::Change`; `tests/ops.rs` checks that its paths
//! are exactly [`crate::ROUTES`] and that every `$ref` resolves.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

pub(crate) async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}
