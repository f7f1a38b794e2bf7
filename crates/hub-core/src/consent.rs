//! Consent per purpose, and the do-not-sell flag.
//!
//! Every decision a person makes — granting, denying or withdrawing consent to one
//! [`Purpose`] — is a [`ConsentRecord`]: a synced row that is never edited, with when the
//! person decided, how we learnt it ([`Source`]) and what proves it (`evidence`). The
//! status in force is the latest decision per purpose (by `decided_at`, then id), so the
//! history is the audit trail and two devices that record decisions offline never
//! conflict: both decisions are kept and the later one counts.
//!
//! Rules:
//! - Nothing recorded means no consent: every gate (segments, audience exports) treats
//!   "never asked" like "denied".
//! - Denying a purpose that was granted records `revoked` (a withdrawal, which GDPR tells
//!   apart from a refusal); recording the status already in force writes nothing.
//! - **Do-not-sell** is the purpose `sale` (sale or sharing of personal data, CCPA) denied or
//!   revoked. A Global Privacy Control signal on a tracked event sets it.
//! - From tracking: a non-empty `context.consent.categoryPreferences` on an event records
//!   the purposes its categories name (see [`purposes_of_category`]); those records take
//!   ids derived from the event's messageId and purpose, so every device processing the
//!   same event writes the same row.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, WriteTx};
use crate::entities::CONSENT_RECORD;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::users;

const NAMESPACE: Uuid = Uuid::from_u128(0x3f0c_95e1_7a2b_4c8d_b1e6_5d40_2f98_a7c3);

/// What a person agrees (or not) to us doing with their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "ConsentPurpose")]
pub enum Purpose {
    EmailMarketing,
    Advertising,
    Analytics,
    /// Sale or sharing of personal data; denied = do not sell.
    Sale,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [
        Purpose::EmailMarketing,
        Purpose::Advertising,
        Purpose::Analytics,
        Purpose::Sale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailMarketing => "email_marketing",
            Purpose::Advertising => "advertising",
            Purpose::Analytics => "analytics",
            Purpose::Sale => "sale",
        }
    }

    pub fn parse(text: &str) -> Result<Purpose> {
        let key = text.trim().to_lowercase().replace(['-', ' '], "_");
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == key)
            .ok_or_else(|| {
                Error::invalid(
                    "purpose",
                    format!(
                        "unknown purpose {text:?}: use email_marketing, advertising, analytics or sale"
                    ),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "ConsentStatus")]
pub enum Status {
    Granted,
    Denied,
    /// Granted once, then withdrawn.
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Granted => "granted",
            Status::Denied => "denied",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Result<Status> {
        match text.trim().to_lowercase().as_str() {
            "granted" | "grant" | "yes" => Ok(Status::Granted),
            "denied" | "deny" | "no" => Ok(Status::Denied),
            "revoked" | "revoke" | "withdrawn" => Ok(Status::Revoked),
            _ => Err(Error::invalid(
                "status",
                format!("unknown status {text:?}: use granted, denied or revoked"),
            )),
        }
    }
}

/// How we learnt of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "ConsentSource")]
pub enum Source {
    Form,
    Import,
    Tracking,
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Form => "form",
            Source::Import => "import",
            Source::Tracking => "tracking",
            Source::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Result<Source> {
        [
            Source::Form,
            Source::Import,
            Source::Tracking,
            Source::Manual,
        ]
        .into_iter()
        .find(|s| s.as_str() == text.trim().to_lowercase())
        .ok_or_else(|| {
            Error::invalid(
                "source",
                format!("unknown source {text:?}: use form, import, tracking or manual"),
            )
        })
    }
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConsentRecord {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub purpose: Purpose,
    pub status: Status,
    pub source: Source,
    pub decided_at: DateTime<Utc>,
    pub recorded_by: Option<String>,
    pub evidence: Option<String>,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct ConsentInput {
    pub contact_id: Uuid,
    pub purpose: Purpose,
    pub status: Status,
    pub source: Source,
    /// When the person decided; now when absent. Never in the future.
    pub decided_at: Option<DateTime<Utc>>,
    pub evidence: Option<String>,
}

/// Where a contact stands on every purpose.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ContactConsent {
    pub contact_id: Uuid,
    /// The decision in force for each purpose that has one, in [`Purpose::ALL`] order.
    pub current: Vec<ConsentRecord>,
    /// `sale` denied or revoked.
    pub do_not_sell: bool,
    /// Every decision, newest first.
    pub history: Vec<ConsentRecord>,
}

impl ContactConsent {
    pub fn status(&self, purpose: Purpose) -> Option<Status> {
        self.current
            .iter()
            .find(|r| r.purpose == purpose)
            .map(|r| r.status)
    }

    /// Only an explicit grant in force allows a purpose.
    pub fn allows(&self, purpose: Purpose) -> bool {
        self.status(purpose) == Some(Status::Granted)
    }
}

/// Record a decision. Returns the contact's consent after it. Recording the status
/// already in force writes nothing; denying a granted purpose records `revoked`.
pub async fn set(store: &Store, input: ConsentInput) -> Result<ContactConsent> {
    let me = users::current(store).await?;
    let mut tx = store.write().await?;
    record(&mut tx, &input, Uuid::now_v7(), Some(&me)).await?;
    tx.commit().await?;
    of_contact(store, input.contact_id).await
}

/// Record a decision inside the caller's transaction with the given row id; `false`
/// when it changed nothing (the same status is already in force). The contact must exist.
pub async fn record(
    tx: &mut WriteTx,
    input: &ConsentInput,
    id: Uuid,
    recorded_by: Option<&str>,
) -> Result<bool> {
    let decided_at = input.decided_at.unwrap_or_else(Utc::now);
    if decided_at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(Error::invalid(
            "decided_at",
            "a decision cannot be dated in the future",
        ));
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts WHERE id = ? AND deleted_at IS NULL)",
    )
    .bind(input.contact_id.to_string())
    .fetch_one(tx.conn())
    .await?;
    if !exists {
        return Err(Error::not_found("contact", input.contact_id));
    }
    let already: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM consent_records WHERE id = ?)")
            .bind(id.to_string())
            .fetch_one(tx.conn())
            .await?;
    if already {
        return Ok(false);
    }
    let in_force = current_in(tx.conn(), input.contact_id, input.purpose).await?;
    let status = match (in_force, input.status) {
        (Some(Status::Granted), Status::Denied) => Status::Revoked,
        (_, status) => status,
    };
    if in_force == Some(status) {
        return Ok(false);
    }
    tx.insert(
        &CONSENT_RECORD,
        id,
        vec![
            ("contact_id", json!(input.contact_id.to_string())),
            ("purpose", json!(input.purpose.as_str())),
            ("status", json!(status.as_str())),
            ("source", json!(input.source.as_str())),
            (
                "decided_at",
                json!(decided_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            ),
            ("recorded_by", json!(recorded_by)),
            ("evidence", json!(input.evidence)),
            ("created_at", json!(now_rfc3339())),
        ],
    )
    .await?;
    Ok(true)
}

async fn current_in(
    conn: &mut SqliteConnection,
    contact: Uuid,
    purpose: Purpose,
) -> Result<Option<Status>> {
    let status: Option<String> = sqlx::query_scalar(
        "SELECT status FROM consent_records
          WHERE contact_id = ? AND purpose = ? AND deleted_at IS NULL
          ORDER BY decided_at DESC, id DESC LIMIT 1",
    )
    .bind(contact.to_string())
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(status.and_then(|s| Status::parse(&s).ok()))
}

type RecordRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// A contact's consent: what is in force and the whole history.
pub async fn of_contact(store: &Store, contact: Uuid) -> Result<ContactConsent> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = ?)")
        .bind(contact.to_string())
        .fetch_one(store.pool())
        .await?;
    if !exists {
        return Err(Error::not_found("contact", contact));
    }
    let rows: Vec<RecordRow> = sqlx::query_as(
        "SELECT id, contact_id, purpose, status, source, decided_at, recorded_by, evidence
           FROM consent_records
          WHERE contact_id = ? AND deleted_at IS NULL
          ORDER BY decided_at DESC, id DESC",
    )
    .bind(contact.to_string())
    .fetch_all(store.pool())
    .await?;
    let history: Vec<ConsentRecord> = rows.into_iter().filter_map(from_row).collect();
    let current: Vec<ConsentRecord> = Purpose::ALL
        .into_iter()
        .filter_map(|p| history.iter().find(|r| r.purpose == p).cloned())
        .collect();
    let do_not_sell = current
        .iter()
        .any(|r| r.purpose == Purpose::Sale && r.status != Status::Granted);
    Ok(ContactConsent {
        contact_id: contact,
        current,
        do_not_sell,
        history,
    })
}

/// A stored row; rows another version wrote with values this one does not know are
/// left out rather than failing the whole list.
fn from_row(row: RecordRow) -> Option<ConsentRecord> {
    let (id, contact, purpose, status, source, decided_at, recorded_by, evidence) = row;
    Some(ConsentRecord {
        id: id.parse().ok()?,
        contact_id: contact.parse().ok()?,
        purpose: Purpose::parse(&purpose).ok()?,
        status: Status::parse(&status).ok()?,
        source: Source::parse(&source).ok()?,
        decided_at: DateTime::parse_from_rfc3339(&decided_at)
            .ok()?
            .with_timezone(&Utc),
        recorded_by,
        evidence,
    })
}

/// The purposes a consent-manager category stands for, by its name (case-insensitive):
/// OneTrust's, Segment's and most banners' names for advertising, analytics and marketing
/// categories. Unknown categories (functional, necessary, …) stand for none.
pub fn purposes_of_category(category: &str) -> Vec<Purpose> {
    let name = category.to_lowercase();
    let mut purposes = Vec::new();
    if ["advertis", "targeting", "ads"]
        .iter()
        .any(|w| name.contains(w))
    {
        purposes.push(Purpose::Advertising);
    }
    if ["analytic", "performance", "statistic", "measurement"]
        .iter()
        .any(|w| name.contains(w))
    {
        purposes.push(Purpose::Analytics);
    }
    if ["email", "marketing", "newsletter"]
        .iter()
        .any(|w| name.contains(w))
    {
        purposes.push(Purpose::EmailMarketing);
    }
    purposes
}

/// The decisions a tracked event carries: its `context.consent.categoryPreferences`
/// (when non-empty; a purpose named by several categories is granted only if all of them
/// are) and a Global Privacy Control signal (`context.gpc` or
/// `context.consent.gpc` true, as set from a `Sec-GPC: 1` request) as `sale` denied.
pub fn decisions_of_event(event: &hub_protocol::Event) -> Vec<(Purpose, Status)> {
    let mut decisions: Vec<(Purpose, Status)> = Vec::new();
    let context = event.context();
    let consent = context.and_then(|c| c.get("consent"));
    if let Some(prefs) = consent
        .and_then(|c| c.get("categoryPreferences"))
        .and_then(Value::as_object)
    {
        for (category, allowed) in prefs {
            let Some(allowed) = allowed.as_bool() else {
                continue;
            };
            let status = if allowed {
                Status::Granted
            } else {
                Status::Denied
            };
            for purpose in purposes_of_category(category) {
                match decisions.iter_mut().find(|(p, _)| *p == purpose) {
                    Some((_, s)) if status == Status::Denied => *s = Status::Denied,
                    Some(_) => {}
                    None => decisions.push((purpose, status)),
                }
            }
        }
    }
    let gpc = [
        context.and_then(|c| c.get("gpc")),
        consent.and_then(|c| c.get("gpc")),
    ]
    .into_iter()
    .flatten()
    .any(|v| v.as_bool() == Some(true));
    if gpc {
        decisions.push((Purpose::Sale, Status::Denied));
    }
    decisions
}

/// Record what a tracked event says about a resolved contact's consent, inside the
/// caller's transaction (event processing). Ids derive from the messageId and purpose,
/// so every device processing the event writes the same rows. Returns how many records
/// it wrote.
pub async fn record_from_event(
    tx: &mut WriteTx,
    contact: Uuid,
    event: &hub_protocol::Event,
) -> Result<usize> {
    let mut written = 0;
    for (purpose, status) in decisions_of_event(event) {
        let id = Uuid::new_v5(
            &NAMESPACE,
            format!("{}/{}", event.message_id, purpose.as_str()).as_bytes(),
        );
        let input = ConsentInput {
            contact_id: contact,
            purpose,
            status,
            source: Source::Tracking,
            decided_at: Some(event.timestamp.min(Utc::now())),
            evidence: Some(format!("event {}", event.message_id)),
        };
        if record(tx, &input, id, None).await? {
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};
    use hub_protocol::EventType;

    async fn store_with_contact() -> (Store, Uuid) {
        let store = Store::open_in_memory().await.unwrap();
        let contact = contacts::create(
            &store,
            ContactInput {
                display_name: Some("Ada Lovelace".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        (store, contact.id)
    }

    fn input(contact: Uuid, purpose: Purpose, status: Status, minutes_ago: i64) -> ConsentInput {
        ConsentInput {
            contact_id: contact,
            purpose,
            status,
            source: Source::Manual,
            decided_at: Some(Utc::now() - chrono::Duration::minutes(minutes_ago)),
            evidence: None,
        }
    }

    #[tokio::test]
    async fn the_latest_decision_is_in_force_and_every_decision_is_kept() {
        let (store, ada) = store_with_contact().await;
        let none = of_contact(&store, ada).await.unwrap();
        assert!(none.current.is_empty() && !none.allows(Purpose::Advertising));
        set(
            &store,
            input(ada, Purpose::Advertising, Status::Granted, 10),
        )
        .await
        .unwrap();
        let after = set(&store, input(ada, Purpose::Advertising, Status::Denied, 5))
            .await
            .unwrap();
        assert_eq!(after.status(Purpose::Advertising), Some(Status::Revoked));
        assert!(!after.allows(Purpose::Advertising));
        assert_eq!(after.history.len(), 2);
        // A decision dated before the one in force is history, not the status.
        let late = set(
            &store,
            input(ada, Purpose::Advertising, Status::Granted, 60),
        )
        .await
        .unwrap();
        assert_eq!(late.status(Purpose::Advertising), Some(Status::Revoked));
        assert_eq!(late.history.len(), 3);
    }

    #[tokio::test]
    async fn recording_the_status_in_force_writes_nothing() {
        let (store, ada) = store_with_contact().await;
        set(&store, input(ada, Purpose::Analytics, Status::Denied, 3))
            .await
            .unwrap();
        let again = set(&store, input(ada, Purpose::Analytics, Status::Denied, 1))
            .await
            .unwrap();
        assert_eq!(again.history.len(), 1);
    }

    #[tokio::test]
    async fn do_not_sell_is_sale_denied() {
        let (store, ada) = store_with_contact().await;
        let granted = set(&store, input(ada, Purpose::Sale, Status::Granted, 2))
            .await
            .unwrap();
        assert!(!granted.do_not_sell);
        let denied = set(&store, input(ada, Purpose::Sale, Status::Denied, 1))
            .await
            .unwrap();
        assert!(denied.do_not_sell);
    }

    #[tokio::test]
    async fn bad_input_writes_nothing() {
        let (store, ada) = store_with_contact().await;
        let mut future = input(ada, Purpose::Analytics, Status::Granted, 0);
        future.decided_at = Some(Utc::now() + chrono::Duration::days(1));
        assert_eq!(set(&store, future).await.unwrap_err().code(), "validation");
        let nobody = input(Uuid::now_v7(), Purpose::Analytics, Status::Granted, 0);
        assert_eq!(set(&store, nobody).await.unwrap_err().code(), "not_found");
        assert!(of_contact(&store, ada).await.unwrap().history.is_empty());
        assert!(Purpose::parse("marketing").is_err());
        assert_eq!(
            Purpose::parse("Email-Marketing").unwrap(),
            Purpose::EmailMarketing
        );
        assert!(Status::parse("maybe").is_err());
    }

    fn event(context: Value) -> hub_protocol::Event {
        hub_protocol::Event {
            message_id: "msg-1".into(),
            kind: EventType::Page,
            user_id: Some("u1".into()),
            anonymous_id: None,
            name: None,
            timestamp: Utc::now() - chrono::Duration::seconds(30),
            received_at: Utc::now(),
            body: json!({ "context": context }).as_object().unwrap().clone(),
        }
    }

    #[test]
    fn category_preferences_and_gpc_become_decisions() {
        let e = event(json!({"consent": {"categoryPreferences": {
            "Advertising": false, "Analytics": true, "Functional": true,
            "C0004 Targeting Cookies": true
        }}, "gpc": true}));
        let decisions = decisions_of_event(&e);
        // Two categories name advertising; one said no, so no.
        assert!(decisions.contains(&(Purpose::Advertising, Status::Denied)));
        assert!(decisions.contains(&(Purpose::Analytics, Status::Granted)));
        assert!(decisions.contains(&(Purpose::Sale, Status::Denied)));
        assert_eq!(decisions.len(), 3);
        assert!(
            decisions_of_event(&event(json!({"consent": {"categoryPreferences": {}}}))).is_empty()
        );
        assert!(decisions_of_event(&event(json!({}))).is_empty());
    }

    #[tokio::test]
    async fn an_event_records_the_same_rows_however_often_it_is_processed() {
        let (store, ada) = store_with_contact().await;
        let e = event(json!({"consent": {"categoryPreferences": {"Marketing": true}}}));
        for expected in [1, 0] {
            let mut tx = store.write().await.unwrap();
            assert_eq!(record_from_event(&mut tx, ada, &e).await.unwrap(), expected);
            tx.commit().await.unwrap();
        }
        let consent = of_contact(&store, ada).await.unwrap();
        assert!(consent.allows(Purpose::EmailMarketing));
        assert_eq!(consent.history[0].source, Source::Tracking);
        assert_eq!(consent.history[0].recorded_by, None);
    }

    #[tokio::test]
    async fn the_view_names_the_decision_in_force() {
        let (store, ada) = store_with_contact().await;
        set(
            &store,
            input(ada, Purpose::Advertising, Status::Granted, 10),
        )
        .await
        .unwrap();
        set(&store, input(ada, Purpose::Advertising, Status::Denied, 5))
            .await
            .unwrap();
        let status: String = sqlx::query_scalar(
            "SELECT status FROM consent_current WHERE contact_id = ? AND purpose = 'advertising'",
        )
        .bind(ada.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(status, "revoked");
    }
}
