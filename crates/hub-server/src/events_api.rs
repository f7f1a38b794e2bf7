//! Event collection compatible with the Segment HTTP tracking API (`POST /v1/batch`,
//! `/v1/track`, … and their short forms), and the device-facing event stream
//! (`GET /v1/events/pull`, `POST /v1/events/push`). The rules are in docs/events.md.
//!
//! Collection authenticates with the workspace's write key (HTTP Basic user name, or
//! `writeKey` in the body), reads at most [`MAX_REQUEST_BYTES`] after undoing gzip, takes
//! the body as JSON whatever its Content-Type, normalises each event with
//! [`hub_protocol::segment`] and stores the valid ones and the dead letters in one
//! transaction. Logs and metrics carry counts and the workspace id only: never a body, an
//! id a client sent, or a write key.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use chrono::Utc;
use hub_protocol::event::{
    EventPullResponse, EventPushRequest, EventPushResponse, DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE,
    MAX_EVENT_PUSH,
};
use hub_protocol::segment::{
    self, format_time, Call, Options, MAX_EVENT_BYTES, MAX_ID_CHARS, MAX_MESSAGE_ID_CHARS,
    MAX_REQUEST_BYTES,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::api::Authenticated;
use crate::error::{ApiError, ApiJson};
use crate::storage::events::NewDeadLetter;
use crate::storage::Storage;
use crate::AppState;

/// Events per second a workspace may send when `--event-rate` is not given.
pub const DEFAULT_EVENT_RATE: u32 = 10_000;

/// `200` body of a collection call: Segment's `{"success": true}` plus what happened.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CollectResponse {
    pub success: bool,
    /// New events stored.
    pub stored: u64,
    /// Events whose messageId was already stored (a retry): not stored again.
    pub duplicate: u64,
    /// Invalid events kept in the dead-letter table instead.
    pub dead_lettered: u64,
    /// Events of erased people, dropped (docs/privacy.md).
    #[serde(default)]
    pub suppressed: u64,
}

/// A per-workspace token bucket over events: `rate` events per second, bursts of up to one
/// second's worth. A request is let through while the bucket is not empty and takes all
/// its events (so one large batch is never refused forever; the bucket goes into debt and
/// later requests wait it out). `rate == 0` means unlimited.
#[derive(Debug)]
pub struct EventRate {
    rate: u32,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl EventRate {
    pub fn new(rate: u32) -> Self {
        Self {
            rate,
            buckets: Mutex::default(),
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Takes `events` tokens, or answers how many whole seconds to wait (≥ 1).
    pub fn take(&self, workspace: Uuid, events: usize, now: Instant) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        let rate = f64::from(self.rate);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(workspace).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.at = now;
        if bucket.tokens <= 0.0 {
            // Seconds until the bucket holds a token again.
            let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
            return Err(wait as u64);
        }
        bucket.tokens -= events as f64;
        Ok(())
    }
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn too_large() -> ApiError {
    bad_request(
        "payload_too_large",
        format!("request body is larger than {MAX_REQUEST_BYTES} bytes (after decompression)"),
    )
}

/// The write key of an `Authorization: Basic base64(KEY:)` header: `None` without one,
/// `Err` when it is not valid Basic credentials.
fn basic_write_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ApiError::unauthorized("Authorization must be Basic base64(WRITE_KEY:)");
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let key = text.split_once(':').map_or(text.as_str(), |(user, _)| user);
    Ok(Some(key.to_owned()).filter(|k| !k.is_empty()))
}

async fn workspace_of(state: &AppState, key: &str) -> Result<Uuid, ApiError> {
    state
        .db
        .workspace_by_write_key(key)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown write key"))
}

/// The body's bytes, gzip undone, at most [`MAX_REQUEST_BYTES`] either way.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| too_large())?;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(bytes),
        "gzip" | "x-gzip" => {
            let mut inflated = Vec::with_capacity(bytes.len() * 4);
            // One byte more than allowed tells an oversize body (a gzip bomb stops there).
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .take(MAX_REQUEST_BYTES as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| {
                    bad_request("bad_encoding", format!("the gzip body is corrupt: {e}"))
                })?;
            if inflated.len() > MAX_REQUEST_BYTES {
                return Err(too_large());
            }
            Ok(Bytes::from(inflated))
        }
        other => Err(bad_request(
            "bad_encoding",
            format!("Content-Encoding {other:?} is not supported (only gzip)"),
        )),
    }
}

/// The JSON of a body sent with any Content-Type. A form-urlencoded body is JSON as it is
/// (what sendBeacon and some SDKs send); a body that really is percent-encoded
/// (`data=%7B…%7D`, or the JSON encoded whole) is decoded and read again.
fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = match serde_json::from_slice::<Value>(text) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if is_form {
        for candidate in form_candidates(text) {
            if let Ok(value) = serde_json::from_slice::<Value>(&candidate) {
                return Ok(value);
            }
        }
    }
    Err(bad_request(
        "malformed_json",
        format!("the body is not valid JSON: {first}"),
    ))
}

/// Ways a form body may hold JSON: the whole body percent-decoded, and the value of each
/// `name=value` pair.
fn form_candidates(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![percent_decode(text)];
    for pair in text.split(|&b| b == b'&') {
        if let Some(eq) = pair.iter().position(|&b| b == b'=') {
            out.push(percent_decode(&pair[eq + 1..]));
        }
    }
    out
}

fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The raw text of an event for its dead letter, without the write key.
fn raw_text(mut raw: Value) -> String {
    if let Value::Object(map) = &mut raw {
        map.remove("writeKey");
    }
    raw.to_string()
}

/// `POST /v1/batch`, `/v1/b`, `/v1/{identify,track,page,screen,group,alias}` and
/// `/v1/{i,t,p,s,g,a}`.
pub async fn collect(
    State(state): State<AppState>,
    matched: MatchedPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let call = matched
        .as_str()
        .strip_prefix("/v1/")
        .and_then(Call::from_path)
        .ok_or_else(|| ApiError::internal("collection handler on a non-collection route"))?;
    let received_at = Utc::now();

    // A Basic header is checked before the body is read; otherwise the body's writeKey.
    let from_header = match basic_write_key(&headers)? {
        Some(key) => Some(workspace_of(&state, &key).await?),
        None => None,
    };
    let bytes = read_body(&headers, body).await?;
    let value = parse_json(&headers, &bytes)?;
    drop(bytes);
    let envelope =
        segment::parse_request(value, call).map_err(|e| bad_request(e.code(), e.to_string()))?;
    let workspace = match from_header {
        Some(ws) => ws,
        None => match envelope.write_key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => workspace_of(&state, key).await?,
            None => {
                return Err(ApiError::unauthorized(
                    "a write key is needed: HTTP Basic user name, or writeKey in the body",
                ))
            }
        },
    };

    if let Err(wait) = state
        .event_rate
        .take(workspace, envelope.events.len(), Instant::now())
    {
        state.metrics.observe_events_rate_limited();
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this workspace sends more than {} events per second; retry after {wait} s",
                state.event_rate.rate()
            ),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(response);
    }

    let segment::Envelope {
        events: raws,
        context,
        sent_at,
        write_key: _,
    } = envelope;
    let options = Options {
        implied_type: call.implied_type(),
        batch_context: context.as_ref(),
        batch_sent_at: sent_at.as_ref(),
        received_at,
    };
    let mut events = Vec::with_capacity(raws.len());
    let mut dead = Vec::new();
    let mut first_error = None;
    for raw in raws {
        match segment::normalise_or_return(raw, &options) {
            Ok(event) => events.push(event),
            Err((err, raw)) => {
                dead.push(NewDeadLetter::new(
                    err.code(),
                    err.to_string(),
                    &raw_text(raw),
                ));
                first_error.get_or_insert(err);
            }
        }
    }
    let stored = state
        .db
        .store_events(workspace, &events, &dead, "collect", received_at)
        .await?;
    state
        .metrics
        .observe_events(stored.stored, stored.duplicate, stored.dead_lettered);
    tracing::debug!(
        workspace = %workspace,
        stored = stored.stored,
        duplicate = stored.duplicate,
        dead_lettered = stored.dead_lettered,
        "events collected"
    );
    // A single-event call whose event is invalid says so (it is kept as a dead letter
    // too); a batch answers 200 for its valid part.
    if let (Call::Single(_), Some(err)) = (call, first_error) {
        return Err(bad_request(err.code(), err.to_string()));
    }
    Ok(Json(CollectResponse {
        success: true,
        stored: stored.stored,
        duplicate: stored.duplicate,
        dead_lettered: stored.dead_lettered,
        suppressed: stored.suppressed,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct PullQuery {
    #[serde(default)]
    cursor: i64,
    limit: Option<i64>,
}

/// `GET /v1/events/pull?cursor=SEQ&limit=N` (device token): the workspace's stream.
pub async fn pull(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    q: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventPullResponse>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = match q.limit {
        None => DEFAULT_EVENT_PAGE,
        Some(n) if (1..=MAX_EVENT_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_EVENT_PAGE}, not {n}"
            )))
        }
    };
    if q.cursor < 0 {
        return Err(ApiError::invalid("cursor must not be negative"));
    }
    let page = state
        .db
        .pull_events(me.workspace_id, q.cursor, limit)
        .await?;
    state.metrics.observe_events_pulled(page.events.len());
    Ok(Json(EventPullResponse {
        events: page.events,
        next_cursor: page.next_cursor,
        has_more: page.has_more,
        server_time: Utc::now(),
    }))
}

/// Why a pushed event is refused, if it is: the same rules as collection (the device made
/// it with [`segment::normalise`]), checked on its body with the typed fields written in.
fn push_rejection(event: &hub_protocol::Event) -> Option<String> {
    let id = &event.message_id;
    if id.trim().is_empty() || id.chars().count() > MAX_MESSAGE_ID_CHARS {
        return Some(format!(
            "messageId must be 1 to {MAX_MESSAGE_ID_CHARS} characters"
        ));
    }
    for (field, value) in [
        ("userId", &event.user_id),
        ("anonymousId", &event.anonymous_id),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_ID_CHARS)
        {
            return Some(format!("{field} is longer than {MAX_ID_CHARS} characters"));
        }
    }
    let mut body = event.body.clone();
    body.insert("messageId".into(), Value::String(id.clone()));
    body.insert("type".into(), Value::String(event.kind.as_str().into()));
    body.insert(
        "timestamp".into(),
        Value::String(format_time(event.timestamp)),
    );
    match &event.user_id {
        Some(v) => body.insert("userId".into(), Value::String(v.clone())),
        None => body.remove("userId"),
    };
    match &event.anonymous_id {
        Some(v) => body.insert("anonymousId".into(), Value::String(v.clone())),
        None => body.remove("anonymousId"),
    };
    let options = Options::single(event.received_at);
    segment::normalise(Value::Object(body), &options)
        .err()
        .map(|e| e.to_string())
}

/// `POST /v1/events/push` (device token): events the device loaded offline. All or
/// nothing: an invalid event refuses the request (400) with nothing stored.
pub async fn push(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ApiJson(body): ApiJson<EventPushRequest>,
) -> Result<Json<EventPushResponse>, ApiError> {
    if body.events.len() > MAX_EVENT_PUSH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "a push carries at most {MAX_EVENT_PUSH} events, this one has {}",
                body.events.len()
            ),
        ));
    }
    let mut events = body.events;
    for (i, event) in events.iter_mut().enumerate() {
        if let Some(reason) = push_rejection(event) {
            return Err(ApiError::invalid(format!(
                "event {i} is invalid: {reason}; nothing was stored"
            )));
        }
        // The body agrees with the typed fields, as collection writes it.
        event
            .body
            .insert("messageId".into(), Value::String(event.message_id.clone()));
        event
            .body
            .insert("type".into(), Value::String(event.kind.as_str().into()));
        event.body.insert(
            "timestamp".into(),
            Value::String(format_time(event.timestamp)),
        );
        event.body.insert(
            "receivedAt".into(),
            Value::String(format_time(event.received_at)),
        );
        let bytes = serde_json::to_string(&event.body).map_or(0, |t| t.len());
        if bytes > MAX_EVENT_BYTES {
            return Err(ApiError::invalid(format!(
                "event {i} is {bytes} bytes, more than {MAX_EVENT_BYTES}; nothing was stored"
            )));
        }
    }
    let source = format!("device:{}", me.id);
    let stored = state
        .db
        .store_events(me.workspace_id, &events, &[], &source, Utc::now())
        .await?;
    state
        .metrics
        .observe_events(stored.stored, stored.duplicate, 0);
    Ok(Json(EventPushResponse {
        stored: stored.stored,
        duplicate: stored.duplicate,
        suppressed: stored.suppressed,
        server_time: Utc::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_refills_at_the_rate_and_allows_one_large_batch() {
        let rate = EventRate::new(100);
        let ws = Uuid::from_u128(1);
        let t0 = Instant::now();
        assert_eq!(rate.take(ws, 100, t0), Ok(()));
        // Empty: wait for one token.
        assert_eq!(rate.take(ws, 1, t0), Err(1));
        // Half a second later, 50 tokens.
        assert_eq!(rate.take(ws, 250, t0 + Duration::from_millis(500)), Ok(()));
        // 200 in debt: two seconds.
        assert_eq!(rate.take(ws, 1, t0 + Duration::from_millis(500)), Err(3));
        // Another workspace has its own bucket.
        assert_eq!(rate.take(Uuid::from_u128(2), 1, t0), Ok(()));
        assert_eq!(EventRate::new(0).take(ws, 1_000_000, t0), Ok(()));
    }

    #[test]
    fn basic_credentials() {
        let mut headers = HeaderMap::new();
        assert_eq!(basic_write_key(&headers).unwrap(), None);
        let encoded = base64::engine::general_purpose::STANDARD.encode("wk_123:");
        headers.insert(AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        assert_eq!(
            basic_write_key(&headers).unwrap().as_deref(),
            Some("wk_123")
        );
        headers.insert(AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(basic_write_key(&headers).is_err());
        headers.insert(AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_write_key(&headers).is_err());
    }

    #[test]
    fn form_bodies_that_hold_json() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let plain = br#"{"batch":[]}"#;
        assert_eq!(
            parse_json(&headers, plain).unwrap()["batch"],
            Value::Array(vec![])
        );
        let encoded = b"data=%7B%22batch%22%3A%5B%5D%2C%22x%22%3A%22a+b%22%7D";
        assert_eq!(parse_json(&headers, encoded).unwrap()["x"], "a b");
        let whole = b"%7B%22batch%22%3A%5B%5D%7D";
        assert!(parse_json(&headers, whole).is_ok());
        let err = parse_json(&headers, b"{not json").unwrap_err();
        assert_eq!(err.code, "malformed_json");
        assert_eq!(percent_decode(b"%"), b"%");
        assert_eq!(percent_decode(b"%4"), b"%4");
        assert_eq!(percent_decode(b"%41"), b"A");
    }
}
