//! Turning what a Segment-compatible client sent into accepted [`Event`]s: the rules shared
//! by hub-server's collection endpoints (`POST /v1/batch`, `/v1/track`, …) and the device's
//! offline import (`hub events import FILE.jsonl`). Pure: no I/O, no clock (the caller
//! passes `received_at`).
//!
//! What real clients send differs, and all of it is accepted:
//! - a single-event call without `type`: the type comes from the path (`/v1/t` → track);
//! - no `messageId`: one is made (see [`normalise`] for how, and why it is sometimes
//!   derived from the content);
//! - `"userId": null` is absent; numeric ids are their decimal text (Segment libraries
//!   allow `userId: 42`);
//! - `originalTimestamp` + `sentAt` without `timestamp`: the sender's clock skew is
//!   removed, `timestamp = receivedAt − (sentAt − originalTimestamp)`;
//! - RFC 3339 times with 0–9 (or more, truncated) fractional digits, `T`/`t`/space
//!   between date and time, and any offset written `Z`, `z`, `+hh:mm`, `+hhmm` or `+hh`;
//! - a batch-level `context` deep-merged into each event (the event's own fields win);
//! - fields the hub does not know are kept verbatim in [`Event::body`].
//!
//! An event that cannot be accepted gives a [`SegmentError`]; its `Display` text is the
//! dead-letter reason and [`SegmentError::code`] a stable machine code.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::event::{Event, EventType};

/// Largest accepted event, as JSON text (Segment's limit).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest accepted request body, after any `Content-Encoding` is undone (Segment's limit).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Longest accepted `messageId` (it is a unique key in every store).
pub const MAX_MESSAGE_ID_CHARS: usize = 255;
/// Longest accepted id (`userId`, `anonymousId`, `groupId`, `previousId`).
pub const MAX_ID_CHARS: usize = 1024;

/// Namespace of messageIds derived from an event's content (UUIDv5).
pub const MESSAGE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x7c1d_52a4_4a36_4f1e_9d0b_8e55_e3b2_61a0);

/// Which collection endpoint a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `/v1/batch` or `/v1/b`: `{"batch": [event, …], "context"?, "sentAt"?, "writeKey"?}`.
    Batch,
    /// `/v1/track`, `/v1/t`, …: the body is one event of this type.
    Single(EventType),
}

impl Call {
    /// The call of a `/v1/{name}` path segment, long or short form.
    pub fn from_path(name: &str) -> Option<Call> {
        Some(match name {
            "batch" | "b" => Call::Batch,
            "identify" | "i" => Call::Single(EventType::Identify),
            "track" | "t" => Call::Single(EventType::Track),
            "page" | "p" => Call::Single(EventType::Page),
            "screen" | "s" => Call::Single(EventType::Screen),
            "group" | "g" => Call::Single(EventType::Group),
            "alias" | "a" => Call::Single(EventType::Alias),
            _ => return None,
        })
    }

    /// The type a single-event call implies.
    pub fn implied_type(self) -> Option<EventType> {
        match self {
            Call::Batch => None,
            Call::Single(kind) => Some(kind),
        }
    }
}

/// A whole request, not yet per event: the reasons a request is refused as a whole (400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("a batch needs a \"batch\" array of events")]
    MissingBatch,
    #[error("\"{field}\" must be {expected}")]
    BadField {
        field: &'static str,
        expected: &'static str,
    },
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::Json(_) => "malformed_json",
            RequestError::NotAnObject => "not_an_object",
            RequestError::MissingBatch => "missing_batch",
            RequestError::BadField { .. } => "bad_field",
        }
    }
}

/// One request taken apart: its events (still raw) and what applies to all of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Envelope {
    pub events: Vec<Value>,
    /// Batch-level `context`, merged into each event.
    pub context: Option<Map<String, Value>>,
    /// Batch-level `sentAt` (analytics-python and -node put it here), used for events that
    /// carry none of their own.
    pub sent_at: Option<Value>,
    /// `writeKey` from the body (the Basic auth user name is the other place for it).
    pub write_key: Option<String>,
}

/// Takes a request body apart. For a batch the events are the `batch` array's items (an
/// item that is not an object is left for [`normalise`] to refuse, so the rest is kept);
/// for a single-event call the body is the one event.
pub fn parse_request(body: Value, call: Call) -> Result<Envelope, RequestError> {
    let Value::Object(mut body) = body else {
        return Err(RequestError::NotAnObject);
    };
    let write_key = match body.get("writeKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(key.clone()),
        Some(_) => {
            return Err(RequestError::BadField {
                field: "writeKey",
                expected: "a string",
            })
        }
    };
    match call {
        Call::Single(_) => Ok(Envelope {
            events: vec![Value::Object(body)],
            context: None,
            sent_at: None,
            write_key,
        }),
        Call::Batch => {
            let events = match body.remove("batch") {
                Some(Value::Array(events)) => events,
                None | Some(Value::Null) => return Err(RequestError::MissingBatch),
                Some(_) => {
                    return Err(RequestError::BadField {
                        field: "batch",
                        expected: "an array of events",
                    })
                }
            };
            let context = match body.remove("context") {
                None | Some(Value::Null) => None,
                Some(Value::Object(context)) => Some(context),
                Some(_) => {
                    return Err(RequestError::BadField {
                        field: "context",
                        expected: "an object",
                    })
                }
            };
            let sent_at = body.remove("sentAt").filter(|v| !v.is_null());
            Ok(Envelope {
                events,
                context,
                sent_at,
                write_key,
            })
        }
    }
}

/// Why one event was not accepted (the dead-letter reason).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("an event must be a JSON object")]
    NotAnObject,
    #[error("the event is {bytes} bytes, more than the {limit}-byte limit")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the event has no \"type\" (needed in a batch)")]
    MissingType,
    #[error("unknown event type {0:?} (identify, track, page, screen, group or alias)")]
    UnknownType(String),
    #[error("a {given:?} event was sent to the {path} endpoint")]
    TypeMismatch { path: &'static str, given: String },
    #[error("a track event needs a non-empty \"event\" name")]
    MissingEventName,
    #[error("a {0} event needs a \"userId\" or an \"anonymousId\"")]
    MissingIdentity(&'static str),
    #[error("an alias event needs a \"previousId\"")]
    MissingPreviousId,
    #[error("a group event needs a \"groupId\"")]
    MissingGroupId,
    #[error("\"{field}\" must be a string or a number")]
    BadId { field: &'static str },
    #[error("\"{field}\" is longer than {limit} characters")]
    IdTooLong { field: &'static str, limit: usize },
    #[error("\"{field}\" must be {expected}")]
    BadField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("\"{field}\" is not an RFC 3339 time with an offset: {value:?}")]
    BadTimestamp { field: &'static str, value: String },
    #[error("\"sentAt\" and \"originalTimestamp\" give a timestamp out of range")]
    TimestampOutOfRange,
}

impl SegmentError {
    /// A stable machine code (the dead-letter table's `code` column, metrics labels).
    pub fn code(&self) -> &'static str {
        match self {
            SegmentError::NotAnObject => "not_an_object",
            SegmentError::TooLarge { .. } => "too_large",
            SegmentError::MissingType => "missing_type",
            SegmentError::UnknownType(_) => "unknown_type",
            SegmentError::TypeMismatch { .. } => "type_mismatch",
            SegmentError::MissingEventName => "missing_event_name",
            SegmentError::MissingIdentity(_) => "missing_identity",
            SegmentError::MissingPreviousId => "missing_previous_id",
            SegmentError::MissingGroupId => "missing_group_id",
            SegmentError::BadId { .. } => "bad_id",
            SegmentError::IdTooLong { .. } => "id_too_long",
            SegmentError::BadField { .. } => "bad_field",
            SegmentError::BadTimestamp { .. } => "bad_timestamp",
            SegmentError::TimestampOutOfRange => "timestamp_out_of_range",
        }
    }
}

/// What applies to one event besides its own JSON.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// The endpoint's type for single-event calls (`None` for a batch or an import line).
    pub implied_type: Option<EventType>,
    /// Batch-level `context` (merged in; the event's own fields win).
    pub batch_context: Option<&'a Map<String, Value>>,
    /// Batch-level `sentAt`, used when the event has none.
    pub batch_sent_at: Option<&'a Value>,
    /// When the server (or importing device) received it.
    pub received_at: DateTime<Utc>,
}

impl<'a> Options<'a> {
    /// Options for one event read on its own (an import line): no batch, no path type.
    pub fn single(received_at: DateTime<Utc>) -> Options<'a> {
        Options {
            implied_type: None,
            batch_context: None,
            batch_sent_at: None,
            received_at,
        }
    }

    /// Options for the events of a parsed request.
    pub fn for_envelope(
        envelope: &'a Envelope,
        call: Call,
        received_at: DateTime<Utc>,
    ) -> Options<'a> {
        Options {
            implied_type: call.implied_type(),
            batch_context: envelope.context.as_ref(),
            batch_sent_at: envelope.sent_at.as_ref(),
            received_at,
        }
    }
}

/// Normalises one raw event into an [`Event`], or says why it cannot be accepted.
///
/// The returned body is the event as sent (unknown fields verbatim) with `type`,
/// `messageId`, `timestamp` (as settled, UTC), `receivedAt` and the merged `context` set,
/// and `writeKey` removed (it is a credential, not event data).
///
/// A missing (or empty) `messageId` is made as follows: when the event carries its own
/// time (`timestamp` or `originalTimestamp`), it is a UUIDv5 of the event's canonical JSON
/// (keys sorted; `sentAt`, `receivedAt` and `writeKey` left out, since they change between
/// retries), so a client that retries the same event, or a file imported twice, stores it
/// once. Without any time of its own, two events with the same content could be two real
/// occurrences ("Button Clicked" twice), so each gets a fresh UUIDv7 instead; such an
/// event cannot be deduplicated if its sender retries it (nothing identifies it).
pub fn normalise(raw: Value, options: &Options<'_>) -> Result<Event, SegmentError> {
    normalise_or_return(raw, options).map_err(|(err, _)| err)
}

/// [`normalise`], but a refused event comes back with the reason, as it was sent (for its
/// dead letter), without a copy being made up front.
pub fn normalise_or_return(
    raw: Value,
    options: &Options<'_>,
) -> Result<Event, (SegmentError, Value)> {
    let Value::Object(mut body) = raw else {
        return Err((SegmentError::NotAnObject, raw));
    };
    let Checked {
        kind,
        user_id,
        anonymous_id,
        name,
        timestamp,
        message_id,
    } = match check(&body, options) {
        Ok(checked) => checked,
        Err(err) => return Err((err, Value::Object(body))),
    };
    body.remove("writeKey");

    if let Some(batch) = options.batch_context {
        match body.get_mut("context") {
            Some(Value::Object(own)) => merge_under(own, batch),
            _ => {
                body.insert("context".into(), Value::Object(batch.clone()));
            }
        }
    }
    // Filled in last so a derived messageId depends on the event as sent, plus the batch
    // context that is part of its meaning.
    let message_id = match message_id {
        Some(id) => id,
        None => derive_message_id(&body, kind),
    };

    body.insert("type".into(), Value::String(kind.as_str().into()));
    body.insert("messageId".into(), Value::String(message_id.clone()));
    body.insert("timestamp".into(), Value::String(format_time(timestamp)));
    body.insert(
        "receivedAt".into(),
        Value::String(format_time(options.received_at)),
    );

    Ok(Event {
        message_id,
        kind,
        user_id,
        anonymous_id,
        name,
        timestamp,
        received_at: options.received_at,
        body,
    })
}

/// What [`check`] settled about a valid event.
struct Checked {
    kind: EventType,
    user_id: Option<String>,
    anonymous_id: Option<String>,
    name: Option<String>,
    timestamp: DateTime<Utc>,
    message_id: Option<String>,
}

/// Every rule an event must pass, read-only.
fn check(body: &Map<String, Value>, options: &Options<'_>) -> Result<Checked, SegmentError> {
    let bytes = json_len(body);
    if bytes > MAX_EVENT_BYTES {
        return Err(SegmentError::TooLarge {
            bytes,
            limit: MAX_EVENT_BYTES,
        });
    }

    let kind = event_type(body, options.implied_type)?;
    for field in ["properties", "traits", "context", "integrations"] {
        match body.get(field) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => {
                return Err(SegmentError::BadField {
                    field,
                    expected: "an object",
                })
            }
        }
    }

    let user_id = id_field(body, "userId")?;
    let anonymous_id = id_field(body, "anonymousId")?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(SegmentError::MissingIdentity(kind.as_str()));
    }
    let name = match kind {
        EventType::Track => match body.get("event") {
            Some(Value::String(name)) if !name.trim().is_empty() => Some(name.clone()),
            _ => return Err(SegmentError::MissingEventName),
        },
        EventType::Page | EventType::Screen => match body.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.clone()).filter(|n| !n.is_empty()),
            Some(_) => {
                return Err(SegmentError::BadField {
                    field: "name",
                    expected: "a string",
                })
            }
        },
        _ => None,
    };
    match kind {
        EventType::Alias if id_field(body, "previousId")?.is_none() => {
            return Err(SegmentError::MissingPreviousId)
        }
        EventType::Group if id_field(body, "groupId")?.is_none() => {
            return Err(SegmentError::MissingGroupId)
        }
        _ => {}
    }

    let timestamp = settle_timestamp(body, options)?;

    let message_id = match body.get("messageId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.trim().is_empty() => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(SegmentError::BadId { field: "messageId" }),
    };
    if let Some(id) = &message_id {
        if id.chars().count() > MAX_MESSAGE_ID_CHARS {
            return Err(SegmentError::IdTooLong {
                field: "messageId",
                limit: MAX_MESSAGE_ID_CHARS,
            });
        }
    }

    Ok(Checked {
        kind,
        user_id,
        anonymous_id,
        name,
        timestamp,
        message_id,
    })
}

/// RFC 3339 text of a settled time: UTC, `Z`, as many fractional digits as needed.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn event_type(
    body: &Map<String, Value>,
    implied: Option<EventType>,
) -> Result<EventType, SegmentError> {
    let given = match body.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => Some(text.as_str()),
        Some(_) => {
            return Err(SegmentError::BadField {
                field: "type",
                expected: "a string",
            })
        }
    };
    match (given, implied) {
        (None, Some(kind)) => Ok(kind),
        (None, None) => Err(SegmentError::MissingType),
        (Some(text), implied) => {
            let kind = EventType::parse(&text.trim().to_ascii_lowercase())
                .ok_or_else(|| SegmentError::UnknownType(text.to_string()))?;
            match implied {
                Some(path) if path != kind => Err(SegmentError::TypeMismatch {
                    path: path.as_str(),
                    given: text.to_string(),
                }),
                _ => Ok(kind),
            }
        }
    }
}

/// An id field: absent, `null` and blank are `None`; strings as sent; numbers as their text.
fn id_field(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, SegmentError> {
    let id = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(id)) if id.trim().is_empty() => return Ok(None),
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(SegmentError::BadId { field }),
    };
    if id.chars().count() > MAX_ID_CHARS {
        return Err(SegmentError::IdTooLong {
            field,
            limit: MAX_ID_CHARS,
        });
    }
    Ok(Some(id))
}

fn time_field(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, SegmentError> {
    time_value(body.get(field), field)
}

fn time_value(
    value: Option<&Value>,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, SegmentError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            parse_timestamp(text)
                .map(Some)
                .ok_or_else(|| SegmentError::BadTimestamp {
                    field,
                    value: text.chars().take(64).collect(),
                })
        }
        Some(other) => Err(SegmentError::BadTimestamp {
            field,
            value: other.to_string().chars().take(64).collect(),
        }),
    }
}

/// The event's time on the server's clock: `timestamp` when given; else
/// `receivedAt − (sentAt − originalTimestamp)` when both are known (the event's own
/// `sentAt`, else the batch's); else `originalTimestamp`; else `receivedAt`.
fn settle_timestamp(
    body: &Map<String, Value>,
    options: &Options<'_>,
) -> Result<DateTime<Utc>, SegmentError> {
    let timestamp = time_field(body, "timestamp")?;
    let original = time_field(body, "originalTimestamp")?;
    let sent_at = match time_field(body, "sentAt")? {
        Some(at) => Some(at),
        None => time_value(options.batch_sent_at, "sentAt")?,
    };
    Ok(match (timestamp, original, sent_at) {
        (Some(at), _, _) => at,
        (None, Some(original), Some(sent)) => {
            let skew = sent.signed_duration_since(original);
            options
                .received_at
                .checked_sub_signed(skew)
                .ok_or(SegmentError::TimestampOutOfRange)?
        }
        (None, Some(original), None) => original,
        (None, None, _) => options.received_at,
    })
}

/// Merges `batch` into `own`: keys `own` lacks are added, objects on both sides are merged
/// the same way, anything else stays as `own` has it.
fn merge_under(own: &mut Map<String, Value>, batch: &Map<String, Value>) {
    for (key, value) in batch {
        match own.get_mut(key) {
            None => {
                own.insert(key.clone(), value.clone());
            }
            Some(Value::Object(inner)) => {
                if let Value::Object(batch_inner) = value {
                    merge_under(inner, batch_inner);
                }
            }
            Some(_) => {}
        }
    }
}

fn derive_message_id(body: &Map<String, Value>, kind: EventType) -> String {
    let has_own_time = ["timestamp", "originalTimestamp"]
        .iter()
        .any(|f| body.get(*f).is_some_and(|v| !v.is_null()));
    if !has_own_time {
        return Uuid::now_v7().to_string();
    }
    let mut text = String::with_capacity(256);
    text.push_str(kind.as_str());
    text.push('\n');
    let mut keys: Vec<&String> = body
        .keys()
        .filter(|k| {
            !matches!(
                k.as_str(),
                "sentAt" | "receivedAt" | "writeKey" | "type" | "messageId"
            )
        })
        .collect();
    keys.sort();
    text.push('{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        canonical(&Value::String(key.clone()), &mut text);
        text.push(':');
        canonical(&body[key], &mut text);
    }
    text.push('}');
    Uuid::new_v5(&MESSAGE_ID_NAMESPACE, text.as_bytes()).to_string()
}

/// JSON text with object keys sorted at every level, whatever map order serde_json uses.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Length of the object's compact JSON text, without building it.
fn json_len(body: &Map<String, Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Map into a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, body);
    count.0
}

/// Parses an RFC 3339 time, tolerantly: `YYYY-MM-DD`, then `T`, `t` or a space,
/// `hh:mm[:ss]`, an optional fraction (`.` or `,`, any number of digits, nanoseconds kept),
/// and an offset `Z`, `z`, `±hh:mm`, `±hhmm` or `±hh`. A time without an offset is refused
/// (it would be read in an unknown zone). A leap second (`:60`) is accepted.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim().as_bytes();
    let mut p = Parser { s, i: 0 };
    let year = p.digits(4)? as i32;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    match p.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    let mut second = 0;
    if p.peek() == Some(b':') {
        p.i += 1;
        second = p.digits(2)?;
    }
    let mut nanos: u32 = 0;
    if matches!(p.peek(), Some(b'.') | Some(b',')) {
        p.i += 1;
        let mut n = 0;
        while let Some(d) = p.peek().filter(u8::is_ascii_digit) {
            if n < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            n += 1;
            p.i += 1;
        }
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_seconds: i64 = match p.next()? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = p.digits(2)?;
            let minutes = match p.peek() {
                None => 0,
                Some(b':') => {
                    p.i += 1;
                    p.digits(2)?
                }
                Some(_) => p.digits(2)?,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    if p.i != s.len() {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let (second, nanos) = if second == 60 {
        (59, nanos.checked_add(1_000_000_000)?)
    } else {
        (second, nanos)
    };
    let local =
        NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)?;
    let utc = local.checked_sub_signed(Duration::seconds(offset_seconds))?;
    Some(utc.and_utc())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self.next()?;
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn opts(received: &str) -> Options<'static> {
        Options::single(at(received))
    }

    #[test]
    fn timestamps_in_every_form_real_clients_write() {
        let base = at("2024-03-01T10:20:30Z");
        for text in [
            "2024-03-01T10:20:30Z",
            "2024-03-01t10:20:30z",
            "2024-03-01 10:20:30Z",
            "2024-03-01T12:20:30+02:00",
            "2024-03-01T12:20:30+0200",
            "2024-03-01T12:20:30+02",
            "2024-03-01T05:20:30-05:00",
            "2024-03-01T10:20:30.000Z",
            "2024-03-01T10:20:30.0Z",
            "2024-03-01T10:20:30,000000+00:00",
            "  2024-03-01T10:20:30.000000000Z ",
        ] {
            assert_eq!(parse_timestamp(text), Some(base), "{text}");
        }
        assert_eq!(
            parse_timestamp("2024-03-01T10:20:30.123456789Z").unwrap(),
            base + Duration::nanoseconds(123_456_789)
        );
        assert_eq!(
            parse_timestamp("2024-03-01T10:20:30.1234567891234Z").unwrap(),
            base + Duration::nanoseconds(123_456_789)
        );
        assert_eq!(
            parse_timestamp("2024-03-01T10:20:30.5+05:30").unwrap(),
            at("2024-03-01T04:50:30.5Z")
        );
        assert_eq!(
            parse_timestamp("2024-03-01T10:20Z"),
            Some(base - Duration::seconds(30))
        );
        assert!(parse_timestamp("2016-12-31T23:59:60Z").is_some());
    }

    #[test]
    fn bad_timestamps_are_refused() {
        for text in [
            "",
            "yesterday",
            "2024-03-01",
            "2024-03-01T10:20:30",
            "2024-13-01T10:20:30Z",
            "2024-02-30T10:20:30Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T10:20:30.Z",
            "2024-03-01T10:20:30+2:00",
            "2024-03-01T10:20:30+24:00",
            "2024-03-01T10:20:30Zjunk",
            "1709288430",
            "24-03-01T10:20:30Z",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn any_chrono_time_reads_back(secs in 86_400i64..253_370_000_000, nanos in 0u32..1_000_000_000, off in -86_399i32..86_400) {
            let utc = Utc.timestamp_opt(secs, nanos).unwrap();
            let off = chrono::FixedOffset::east_opt(off / 60 * 60).unwrap();
            let text = utc.with_timezone(&off).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
            prop_assert_eq!(parse_timestamp(&text), Some(utc));
        }

        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = parse_timestamp(&text);
        }
    }

    #[test]
    fn a_full_track_event_keeps_every_field() {
        let raw = json!({
            "type": "track", "event": "Order Completed", "userId": "u1",
            "anonymousId": "a1", "messageId": "m-1",
            "timestamp": "2024-03-01T12:00:00+01:00",
            "properties": {"revenue": 12.5, "items": [1, 2]},
            "context": {"ip": "1.2.3.4"}, "integrations": {"All": true},
            "customThing": {"x": [null]}, "writeKey": "secret"
        });
        let e = normalise(raw, &opts("2024-03-01T11:00:05Z")).unwrap();
        assert_eq!(e.kind, EventType::Track);
        assert_eq!(e.message_id, "m-1");
        assert_eq!(e.user_id.as_deref(), Some("u1"));
        assert_eq!(e.anonymous_id.as_deref(), Some("a1"));
        assert_eq!(e.name.as_deref(), Some("Order Completed"));
        assert_eq!(e.timestamp, at("2024-03-01T11:00:00Z"));
        assert_eq!(e.body["customThing"], json!({"x": [null]}));
        assert_eq!(e.body["properties"]["revenue"], json!(12.5));
        assert_eq!(e.body["timestamp"], "2024-03-01T11:00:00Z");
        assert_eq!(e.body["receivedAt"], "2024-03-01T11:00:05Z");
        assert_eq!(e.body["messageId"], "m-1");
        assert!(!e.body.contains_key("writeKey"));
    }

    #[test]
    fn the_type_comes_from_the_path_when_missing() {
        let mut o = opts("2024-03-01T00:00:00Z");
        o.implied_type = Some(EventType::Identify);
        let e = normalise(json!({"userId": "u", "traits": {"email": "a@b.c"}}), &o).unwrap();
        assert_eq!(e.kind, EventType::Identify);
        assert_eq!(e.body["type"], "identify");
        let err = normalise(json!({"userId": "u", "type": "track", "event": "x"}), &o).unwrap_err();
        assert_eq!(err.code(), "type_mismatch");
        // In a batch the type is required.
        let err = normalise(json!({"userId": "u"}), &opts("2024-03-01T00:00:00Z")).unwrap_err();
        assert_eq!(err, SegmentError::MissingType);
        let err = normalise(
            json!({"userId": "u", "type": "purchase"}),
            &opts("2024-03-01T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(err.code(), "unknown_type");
        // Case and spaces are forgiven.
        let e = normalise(
            json!({"userId": "u", "type": " Identify"}),
            &opts("2024-03-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(e.kind, EventType::Identify);
    }

    #[test]
    fn null_and_numeric_ids() {
        let o = opts("2024-03-01T00:00:00Z");
        let e = normalise(
            json!({"type": "identify", "userId": null, "anonymousId": "a"}),
            &o,
        )
        .unwrap();
        assert_eq!(e.user_id, None);
        assert_eq!(
            e.body["userId"],
            Value::Null,
            "the body keeps what was sent"
        );
        let e = normalise(json!({"type": "identify", "userId": 42}), &o).unwrap();
        assert_eq!(e.user_id.as_deref(), Some("42"));
        let err = normalise(
            json!({"type": "identify", "userId": null, "anonymousId": ""}),
            &o,
        )
        .unwrap_err();
        assert_eq!(err, SegmentError::MissingIdentity("identify"));
        let err = normalise(json!({"type": "identify", "userId": {"a": 1}}), &o).unwrap_err();
        assert_eq!(err, SegmentError::BadId { field: "userId" });
        let err =
            normalise(json!({"type": "identify", "userId": "x".repeat(1025)}), &o).unwrap_err();
        assert_eq!(err.code(), "id_too_long");
    }

    #[test]
    fn each_type_has_its_required_fields() {
        let o = opts("2024-03-01T00:00:00Z");
        let err = normalise(json!({"type": "track", "userId": "u"}), &o).unwrap_err();
        assert_eq!(err, SegmentError::MissingEventName);
        let err = normalise(json!({"type": "track", "userId": "u", "event": " "}), &o).unwrap_err();
        assert_eq!(err, SegmentError::MissingEventName);
        let err = normalise(json!({"type": "alias", "userId": "u"}), &o).unwrap_err();
        assert_eq!(err, SegmentError::MissingPreviousId);
        let e = normalise(
            json!({"type": "alias", "userId": "u", "previousId": "anon"}),
            &o,
        )
        .unwrap();
        assert_eq!(e.kind, EventType::Alias);
        let err = normalise(json!({"type": "group", "userId": "u"}), &o).unwrap_err();
        assert_eq!(err, SegmentError::MissingGroupId);
        let e = normalise(json!({"type": "group", "userId": "u", "groupId": 7}), &o).unwrap();
        assert_eq!(e.kind, EventType::Group);
        let e = normalise(
            json!({"type": "page", "anonymousId": "a", "name": "Pricing"}),
            &o,
        )
        .unwrap();
        assert_eq!(e.name.as_deref(), Some("Pricing"));
        let e = normalise(json!({"type": "screen", "anonymousId": "a"}), &o).unwrap();
        assert_eq!(e.name, None);
        let err = normalise(
            json!({"type": "page", "anonymousId": "a", "properties": [1]}),
            &o,
        )
        .unwrap_err();
        assert_eq!(err.code(), "bad_field");
        assert_eq!(
            normalise(json!([1]), &o).unwrap_err(),
            SegmentError::NotAnObject
        );
    }

    #[test]
    fn the_senders_clock_skew_is_removed() {
        // The device's clock is 10 minutes fast: it says it sent at 12:10 what happened at
        // 12:05 by its clock; the server received it at 12:00:02.
        let raw = json!({"type": "track", "event": "e", "anonymousId": "a",
            "originalTimestamp": "2024-03-01T12:05:00Z", "sentAt": "2024-03-01T12:10:00Z"});
        let e = normalise(raw.clone(), &opts("2024-03-01T12:00:02Z")).unwrap();
        assert_eq!(e.timestamp, at("2024-03-01T11:55:02Z"));
        assert_eq!(e.body["originalTimestamp"], "2024-03-01T12:05:00Z");
        // sentAt at the batch level (analytics-python, -node).
        let mut no_sent = raw.clone();
        no_sent.as_object_mut().unwrap().remove("sentAt");
        let batch_sent = json!("2024-03-01T12:10:00+00:00");
        let mut o = opts("2024-03-01T12:00:02Z");
        o.batch_sent_at = Some(&batch_sent);
        assert_eq!(
            normalise(no_sent.clone(), &o).unwrap().timestamp,
            at("2024-03-01T11:55:02Z")
        );
        // Without sentAt the original time is taken as it is; without either, receivedAt.
        assert_eq!(
            normalise(no_sent, &opts("2024-03-01T12:00:02Z"))
                .unwrap()
                .timestamp,
            at("2024-03-01T12:05:00Z")
        );
        let e = normalise(
            json!({"type": "track", "event": "e", "anonymousId": "a"}),
            &opts("2024-03-01T12:00:02Z"),
        )
        .unwrap();
        assert_eq!(e.timestamp, at("2024-03-01T12:00:02Z"));
        // An explicit timestamp wins over the correction.
        let mut with_ts = raw;
        with_ts["timestamp"] = json!("2024-01-01T00:00:00Z");
        assert_eq!(
            normalise(with_ts, &opts("2024-03-01T12:00:02Z"))
                .unwrap()
                .timestamp,
            at("2024-01-01T00:00:00Z")
        );
        let err = normalise(
            json!({"type": "track", "event": "e", "anonymousId": "a", "timestamp": "soon"}),
            &opts("2024-03-01T12:00:02Z"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            SegmentError::BadTimestamp {
                field: "timestamp",
                value: "soon".into()
            }
        );
        let err = normalise(
            json!({"type": "track", "event": "e", "anonymousId": "a", "sentAt": 5}),
            &opts("2024-03-01T12:00:02Z"),
        )
        .unwrap_err();
        assert_eq!(err.code(), "bad_timestamp");
    }

    #[test]
    fn the_batch_context_is_merged_under_the_events_own() {
        let batch = json!({"library": {"name": "analytics-python", "version": "2"},
            "ip": "9.9.9.9", "locale": "de-DE"});
        let batch = batch.as_object().unwrap();
        let mut o = opts("2024-03-01T00:00:00Z");
        o.batch_context = Some(batch);
        let e = normalise(
            json!({"type": "track", "event": "e", "anonymousId": "a",
            "context": {"library": {"version": "3"}, "ip": "1.1.1.1"}}),
            &o,
        )
        .unwrap();
        assert_eq!(
            e.body["context"],
            json!({"library": {"name": "analytics-python", "version": "3"},
            "ip": "1.1.1.1", "locale": "de-DE"})
        );
        let e = normalise(
            json!({"type": "track", "event": "e", "anonymousId": "a"}),
            &o,
        )
        .unwrap();
        assert_eq!(&e.body["context"], &Value::Object(batch.clone()));
    }

    #[test]
    fn generated_message_ids() {
        let o = opts("2024-03-01T00:00:00Z");
        let timed = json!({"type": "track", "event": "e", "anonymousId": "a",
            "timestamp": "2024-03-01T00:00:00Z", "properties": {"b": 1, "a": 2}, "sentAt": "2024-03-01T00:00:01Z"});
        let first = normalise(timed.clone(), &o).unwrap();
        assert_eq!(first.body["messageId"], first.message_id.as_str());
        // A retry (new sentAt, another receive time, keys in another order) gets the same id.
        let retry = json!({"sentAt": "2024-03-01T00:09:00Z", "properties": {"a": 2, "b": 1},
            "timestamp": "2024-03-01T00:00:00Z", "anonymousId": "a", "event": "e", "type": "track", "messageId": ""});
        assert_eq!(
            normalise(retry, &opts("2024-03-01T00:10:00Z"))
                .unwrap()
                .message_id,
            first.message_id
        );
        let mut other = timed;
        other["properties"]["a"] = json!(3);
        assert_ne!(normalise(other, &o).unwrap().message_id, first.message_id);
        // Without a time of its own, two identical events are two events.
        let untimed = json!({"type": "track", "event": "e", "anonymousId": "a"});
        let a = normalise(untimed.clone(), &o).unwrap().message_id;
        let b = normalise(untimed, &o).unwrap().message_id;
        assert_ne!(a, b);
        let e = normalise(
            json!({"type": "track", "event": "e", "anonymousId": "a", "messageId": 17}),
            &o,
        )
        .unwrap();
        assert_eq!(e.message_id, "17");
        let err = normalise(json!({"type": "track", "event": "e", "anonymousId": "a", "messageId": "m".repeat(256)}), &o).unwrap_err();
        assert_eq!(err.code(), "id_too_long");
    }

    #[test]
    fn an_event_over_32_kb_is_refused() {
        let o = opts("2024-03-01T00:00:00Z");
        let big = json!({"type": "track", "event": "e", "anonymousId": "a", "properties": {"x": "y".repeat(40 * 1024)}});
        assert!(matches!(
            normalise(big, &o),
            Err(SegmentError::TooLarge { .. })
        ));
        let fits = json!({"type": "track", "event": "e", "anonymousId": "a", "properties": {"x": "y".repeat(30 * 1024)}});
        assert!(normalise(fits, &o).is_ok());
    }

    #[test]
    fn requests_are_taken_apart() {
        let env = parse_request(
            json!({"batch": [{"a": 1}, 5], "context": {"ip": "x"},
            "sentAt": "2024-03-01T00:00:00Z", "writeKey": "k"}),
            Call::Batch,
        )
        .unwrap();
        assert_eq!(env.events.len(), 2);
        assert_eq!(env.write_key.as_deref(), Some("k"));
        assert_eq!(env.context.unwrap()["ip"], "x");
        assert_eq!(env.sent_at, Some(json!("2024-03-01T00:00:00Z")));
        assert_eq!(
            parse_request(json!({}), Call::Batch).unwrap_err(),
            RequestError::MissingBatch
        );
        assert_eq!(
            parse_request(json!([]), Call::Batch).unwrap_err(),
            RequestError::NotAnObject
        );
        assert_eq!(
            parse_request(json!({"batch": {}}), Call::Batch)
                .unwrap_err()
                .code(),
            "bad_field"
        );
        let env = parse_request(
            json!({"userId": "u", "writeKey": "k"}),
            Call::Single(EventType::Identify),
        )
        .unwrap();
        assert_eq!(env.events.len(), 1);
        assert_eq!(env.write_key.as_deref(), Some("k"));
        assert_eq!(Call::from_path("t"), Some(Call::Single(EventType::Track)));
        assert_eq!(Call::from_path("b"), Some(Call::Batch));
        assert_eq!(Call::from_path("x"), None);
    }
}
