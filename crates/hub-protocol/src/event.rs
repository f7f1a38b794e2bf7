//! Behavioural events (the CDP's raw material) as the hub keeps them once accepted:
//! a Segment-spec event with its index fields pulled out and its body kept verbatim.
//!
//! Events are immutable and append-only. They do not travel as [`crate::Change`]s (no
//! field clocks, no merge): the server numbers each workspace's accepted events in commit
//! order and devices read that stream with their own cursor (`GET /v1/events/pull`); events a
//! device loaded offline (`hub events import`) go up with `POST /v1/events/push` and come back
//! down the stream like any other. `message_id` is the identity everywhere: an event stored
//! twice is stored once.
//!
//! Turning what a client sent into an [`Event`] (type inference, generated messageId,
//! timestamp correction, batch context) is [`crate::segment`]'s job, shared by the server's
//! collection endpoints and the device's JSON-lines import.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The six Segment call types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::Identify,
        EventType::Track,
        EventType::Page,
        EventType::Screen,
        EventType::Group,
        EventType::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Identify => "identify",
            EventType::Track => "track",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// One accepted event.
///
/// The typed fields are copies of what `body` holds, normalised (absent, `null` and
/// non-string ids are `None`; `timestamp` corrected for the sender's clock), so stores can
/// index them without parsing JSON. `body` is the event exactly as it will be shown and
/// exported: every field the client sent, unknown ones included, plus the `messageId`,
/// `type`, `timestamp`, `receivedAt` and merged batch `context` the normalisation settled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub message_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// `track`: the event name ("Order Completed"); `page` / `screen`: the page or screen
    /// name when given; otherwise `None`.
    pub name: Option<String>,
    /// When it happened, on the server's clock.
    pub timestamp: DateTime<Utc>,
    /// When the collecting server (or the importing device) accepted it.
    pub received_at: DateTime<Utc>,
    pub body: Map<String, Value>,
}

impl Event {
    fn object(&self, key: &str) -> Option<&Map<String, Value>> {
        self.body.get(key).and_then(Value::as_object)
    }

    /// `properties` of a track, page or screen call.
    pub fn properties(&self) -> Option<&Map<String, Value>> {
        self.object("properties")
    }

    /// `traits` of an identify or group call (Segment also allows them in `context.traits`,
    /// which is where track calls carry them).
    pub fn traits(&self) -> Option<&Map<String, Value>> {
        self.object("traits").or_else(|| {
            self.context()
                .and_then(|c| c.get("traits"))
                .and_then(Value::as_object)
        })
    }

    pub fn context(&self) -> Option<&Map<String, Value>> {
        self.object("context")
    }

    /// The page path of a page call (`properties.path`, else `context.page.path`), or of
    /// any call made on a page (`context.page.path`).
    pub fn page_path(&self) -> Option<&str> {
        let from_properties = match self.kind {
            EventType::Page => self
                .properties()
                .and_then(|p| p.get("path"))
                .and_then(Value::as_str),
            _ => None,
        };
        from_properties.or_else(|| {
            self.context()
                .and_then(|c| c.get("page"))
                .and_then(|p| p.get("path"))
                .and_then(Value::as_str)
        })
    }
}

/// The SHA-256 (lower-case hex) of one identifier of a person, as erasure keeps it to
/// suppress later events without keeping the identifier: `kind` is `user_id`,
/// `anonymous_id`, `email` (trimmed, lower-cased here) or `phone` (E.164).
pub fn identity_hash(kind: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let value = match kind {
        "email" => value.trim().to_lowercase(),
        _ => value.trim().to_owned(),
    };
    let digest = Sha256::digest(format!("{kind}:{value}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Event {
    /// The hashes of the identifiers this event carries (userId, anonymousId, traits'
    /// email), to compare with an erasure's suppression list.
    pub fn identity_hashes(&self) -> Vec<String> {
        let mut hashes = Vec::new();
        if let Some(user) = &self.user_id {
            hashes.push(identity_hash("user_id", user));
        }
        if let Some(anonymous) = &self.anonymous_id {
            hashes.push(identity_hash("anonymous_id", anonymous));
        }
        if let Some(email) = self
            .traits()
            .and_then(|t| t.get("email"))
            .and_then(Value::as_str)
        {
            hashes.push(identity_hash("email", email));
        }
        hashes
    }
}

/// An IP address with its host part cut off, as the hub stores IPs: IPv4 keeps its
/// first three octets (`203.0.113.0`), IPv6 its first three groups, a /48
/// (`2001:db8:85a3::`). Text that is not an IP address gives `None`.
pub fn truncate_ip(ip: &str) -> Option<String> {
    match ip.trim().parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(std::net::Ipv4Addr::new(a, b, c, 0).to_string())
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string())
        }
    }
}

impl Event {
    /// Truncate `context.ip` in place ([`truncate_ip`]); true if it changed. An `ip` that
    /// is not an address is removed rather than kept whole.
    pub fn truncate_ip(&mut self) -> bool {
        let Some(context) = self.body.get_mut("context").and_then(Value::as_object_mut) else {
            return false;
        };
        let Some(ip) = context.get("ip").and_then(Value::as_str) else {
            return false;
        };
        match truncate_ip(ip) {
            Some(cut) if cut == ip => false,
            Some(cut) => {
                context.insert("ip".into(), Value::String(cut));
                true
            }
            None => {
                context.remove("ip");
                true
            }
        }
    }
}

impl Event {
    /// The body as the hub stores it: JSON text with `context.ip` truncated
    /// ([`truncate_ip`]); copied only when the IP needs cutting.
    pub fn stored_body(&self) -> String {
        let ip = self
            .context()
            .and_then(|c| c.get("ip"))
            .and_then(Value::as_str);
        match ip {
            Some(ip) if truncate_ip(ip).as_deref() != Some(ip) => {
                let mut event = self.clone();
                event.truncate_ip();
                Value::Object(event.body).to_string()
            }
            _ => serde_json::to_string(&self.body).unwrap_or_default(),
        }
    }
}

/// One event of a workspace's stream, with its place in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamedEvent {
    pub seq: i64,
    pub event: Event,
}

/// Default and largest page of `GET /v1/events/pull`.
pub const DEFAULT_EVENT_PAGE: i64 = 1_000;
pub const MAX_EVENT_PAGE: i64 = 5_000;

/// `200` body of `GET /v1/events/pull?cursor=SEQ&limit=N`: the events with
/// `cursor < seq <= next_cursor`, in seq order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventPullResponse {
    pub events: Vec<StreamedEvent>,
    pub next_cursor: i64,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
}

/// Most events in one `POST /v1/events/push`.
pub const MAX_EVENT_PUSH: usize = 1_000;

/// `POST /v1/events/push` (device token): events a device loaded offline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventPushRequest {
    pub events: Vec<Event>,
}

/// `200` body of `POST /v1/events/push`: how many were new and how many were already
/// stored (same messageId); `suppressed` counts events of erased people, dropped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventPushResponse {
    pub stored: u64,
    pub duplicate: u64,
    pub suppressed: u64,
    pub server_time: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: EventType, body: Value) -> Event {
        Event {
            message_id: "m1".into(),
            kind,
            user_id: None,
            anonymous_id: Some("a1".into()),
            name: None,
            timestamp: Utc::now(),
            received_at: Utc::now(),
            body: body.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn page_path_prefers_the_page_calls_own_property() {
        let page = event(
            EventType::Page,
            json!({"properties": {"path": "/pricing"}, "context": {"page": {"path": "/old"}}}),
        );
        assert_eq!(page.page_path(), Some("/pricing"));
        let track = event(
            EventType::Track,
            json!({"properties": {"path": "/x"}, "context": {"page": {"path": "/cart"}}}),
        );
        assert_eq!(track.page_path(), Some("/cart"));
        assert_eq!(event(EventType::Track, json!({})).page_path(), None);
    }

    #[test]
    fn traits_fall_back_to_the_context() {
        let track = event(
            EventType::Track,
            json!({"context": {"traits": {"email": "a@b.c"}}}),
        );
        assert_eq!(track.traits().unwrap()["email"], "a@b.c");
    }

    #[test]
    fn ips_lose_their_host_part() {
        assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
        assert_eq!(
            truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(),
            Some("2001:db8:85a3::")
        );
        assert_eq!(truncate_ip("not an ip"), None);
        let mut e = event(EventType::Page, json!({"context": {"ip": "198.51.100.23"}}));
        assert!(e.truncate_ip());
        assert_eq!(e.context().unwrap()["ip"], "198.51.100.0");
        assert!(!e.truncate_ip(), "truncating twice changes nothing");
        let whole = event(EventType::Page, json!({"context": {"ip": "198.51.100.23"}}));
        assert!(whole.stored_body().contains("198.51.100.0"));
        assert_eq!(
            whole.context().unwrap()["ip"],
            "198.51.100.23",
            "the event is not changed"
        );
        let mut junk = event(EventType::Page, json!({"context": {"ip": "localhost"}}));
        assert!(junk.truncate_ip());
        assert!(junk.context().unwrap().get("ip").is_none());
    }

    #[test]
    fn identity_hashes_normalise_emails_only() {
        assert_eq!(
            identity_hash("email", " Ada@Example.COM "),
            identity_hash("email", "ada@example.com")
        );
        assert_ne!(
            identity_hash("user_id", "U1"),
            identity_hash("user_id", "u1")
        );
        assert_ne!(
            identity_hash("user_id", "x"),
            identity_hash("anonymous_id", "x")
        );
        assert_eq!(identity_hash("user_id", "x").len(), 64);
        let mut e = event(EventType::Identify, json!({"traits": {"email": "A@b.c"}}));
        e.user_id = Some("u1".into());
        let hashes = e.identity_hashes();
        assert!(hashes.contains(&identity_hash("email", "a@b.c")));
        assert!(hashes.contains(&identity_hash("user_id", "u1")));
        assert!(hashes.contains(&identity_hash("anonymous_id", "a1")));
    }

    #[test]
    fn the_type_serialises_as_segment_spells_it() {
        let e = event(EventType::Screen, json!({}));
        let text = serde_json::to_value(&e).unwrap();
        assert_eq!(text["type"], "screen");
        assert_eq!(EventType::parse("alias"), Some(EventType::Alias));
        assert_eq!(EventType::parse("Alias"), None);
    }
}
