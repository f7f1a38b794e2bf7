//! How a device reaches its sync server. [`Transport`] is the seam: the engine
//! speaks only to it, [`HttpTransport`] is the real one (reqwest), and tests
//! wrap it to drop requests or lose responses.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_protocol::event::{Event, EventPullResponse, EventPushRequest, EventPushResponse};
use hub_protocol::wire::{
    ClockAheadBody, DeviceList, ErrorBody, LoginRequest, LoginResponse, PullResponse, PushRequest,
    PushResponse, SnapshotResponse,
};
use hub_protocol::Change;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::SyncError;

/// The answer to a push.
#[derive(Debug, Clone)]
pub enum PushAnswer {
    Done(PushResponse),
    /// `409 clock_ahead`: nothing was written; re-stamp and push again.
    ClockAhead {
        server_time: DateTime<Utc>,
    },
}

/// The three sync calls, authenticated as this device.
pub trait Transport {
    fn push(&self, changes: &[Change]) -> impl Future<Output = Result<PushAnswer, SyncError>>;
    fn pull(
        &self,
        cursor: i64,
        limit: i64,
    ) -> impl Future<Output = Result<PullResponse, SyncError>>;
    fn snapshot(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<SnapshotResponse, SyncError>>;
    /// `POST /v1/events/push`: behavioural events loaded on this device.
    fn events_push(
        &self,
        events: &[Event],
    ) -> impl Future<Output = Result<EventPushResponse, SyncError>>;
    /// `GET /v1/events/pull`: the workspace's event stream after `cursor`.
    fn events_pull(
        &self,
        cursor: i64,
        limit: i64,
    ) -> impl Future<Output = Result<EventPullResponse, SyncError>>;
}

/// The sync server over HTTP(S), with a device token.
#[derive(Clone)]
pub struct HttpTransport {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A server address as the user typed it: `https://hub.example.com/` →
/// `https://hub.example.com`. Only http and https.
pub fn normalise_server(url: &str) -> Result<String, SyncError> {
    let url = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(url).map_err(|e| SyncError::BadServer {
        server: url.to_owned(),
        message: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(SyncError::BadServer {
            server: url.to_owned(),
            message: "use an http:// or https:// address".into(),
        });
    }
    Ok(url.to_owned())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("customer-hub/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

impl HttpTransport {
    pub fn new(server: &str, token: &str) -> Result<Self, SyncError> {
        Ok(HttpTransport {
            base: normalise_server(server)?,
            token: token.to_owned(),
            http: client(),
        })
    }

    /// `POST /v1/auth/login`: a new device token for `request.device_id`.
    pub async fn login(server: &str, request: &LoginRequest) -> Result<LoginResponse, SyncError> {
        let base = normalise_server(server)?;
        let response = client()
            .post(format!("{base}/v1/auth/login"))
            .json(request)
            .send()
            .await
            .map_err(offline)?;
        // Here a 401 is a wrong email or password, not a dead device token.
        decode(response).await.map_err(|e| match e {
            SyncError::Unauthorized(message) => SyncError::Refused {
                status: 401,
                code: "wrong_password".into(),
                message,
            },
            other => other,
        })
    }

    /// The workspace's devices (this one marked `current`).
    pub async fn devices(&self) -> Result<DeviceList, SyncError> {
        let response = self
            .http
            .get(format!("{}/v1/devices", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(offline)?;
        decode(response).await
    }

    /// Revoke a device's token (this one's too: signing out).
    pub async fn revoke(&self, device: Uuid) -> Result<(), SyncError> {
        let response = self
            .http
            .delete(format!("{}/v1/devices/{device}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(offline)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(error_of(response).await)
        }
    }
}

impl Transport for HttpTransport {
    async fn push(&self, changes: &[Change]) -> Result<PushAnswer, SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/sync/push", self.base))
            .bearer_auth(&self.token)
            .json(&PushRequest {
                changes: changes.to_vec(),
            })
            .send()
            .await
            .map_err(offline)?;
        if response.status() == StatusCode::CONFLICT {
            let text = response.text().await.map_err(offline)?;
            if let Ok(body) = serde_json::from_str::<ClockAheadBody>(&text) {
                if body.code == "clock_ahead" {
                    return Ok(PushAnswer::ClockAhead {
                        server_time: body.server_time,
                    });
                }
            }
            return Err(server_error(StatusCode::CONFLICT, &text));
        }
        decode(response).await.map(PushAnswer::Done)
    }

    async fn pull(&self, cursor: i64, limit: i64) -> Result<PullResponse, SyncError> {
        let response = self
            .http
            .get(format!(
                "{}/v1/sync/pull?cursor={cursor}&limit={limit}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(offline)?;
        decode(response).await
    }

    async fn snapshot(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<SnapshotResponse, SyncError> {
        let mut request = self
            .http
            .get(format!("{}/v1/sync/snapshot", self.base))
            .bearer_auth(&self.token)
            .query(&[("limit", limit.to_string())]);
        if let Some(after) = after {
            request = request.query(&[("after", after)]);
        }
        let response = request.send().await.map_err(offline)?;
        decode(response).await
    }

    async fn events_push(&self, events: &[Event]) -> Result<EventPushResponse, SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/events/push", self.base))
            .bearer_auth(&self.token)
            .json(&EventPushRequest {
                events: events.to_vec(),
            })
            .send()
            .await
            .map_err(offline)?;
        decode(response).await
    }

    async fn events_pull(&self, cursor: i64, limit: i64) -> Result<EventPullResponse, SyncError> {
        let response = self
            .http
            .get(format!(
                "{}/v1/events/pull?cursor={cursor}&limit={limit}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(offline)?;
        decode(response).await
    }
}

fn offline(e: reqwest::Error) -> SyncError {
    // reqwest's Display names the URL but never headers or bodies.
    SyncError::Offline(e.to_string())
}

async fn decode<T: DeserializeOwned + Send + 'static>(
    response: reqwest::Response,
) -> Result<T, SyncError> {
    if !response.status().is_success() {
        return Err(error_of(response).await);
    }
    let bytes = response.bytes().await.map_err(offline)?;
    // Decoding a page of 5,000 rows is tens of milliseconds of CPU. The sync round fetches
    // the next page while it writes the current one; decoding on a thread of its own lets
    // that overlap the writes instead of taking turns with them on the round's thread.
    tokio::task::spawn_blocking(move || serde_json::from_slice(&bytes))
        .await
        .map_err(|e| SyncError::Protocol(format!("decoding the server's answer failed: {e}")))?
        .map_err(|e| SyncError::Protocol(format!("unexpected answer from the server: {e}")))
}

async fn error_of(response: reqwest::Response) -> SyncError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    server_error(status, &text)
}

fn server_error(status: StatusCode, text: &str) -> SyncError {
    let body = serde_json::from_str::<ErrorBody>(text).unwrap_or_else(|_| ErrorBody {
        code: "unknown".into(),
        message: text.chars().take(200).collect(),
    });
    match status {
        StatusCode::UNAUTHORIZED => SyncError::Unauthorized(body.message),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            SyncError::Unavailable(format!("{s}: {}", body.message))
        }
        s => SyncError::Refused {
            status: s.as_u16(),
            code: body.code,
            message: body.message,
        },
    }
}
