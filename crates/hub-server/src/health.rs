//! `GET /healthz`: liveness for load balancers and a clock reading for clients.

use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Body of `GET /healthz`. `server_time` lets a client see its clock skew before it syncs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the server answers.
    pub status: String,
    /// The server's crate version.
    pub version: String,
    /// Server wall-clock time, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: crate::VERSION.into(),
        server_time: Utc::now(),
    })
}
