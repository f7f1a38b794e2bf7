//! Retention of behavioural data: anonymous profiles that stayed anonymous are not kept
//! for ever, and IP addresses are kept only without their host part.
//!
//! - An **anonymous profile** is the events of one anonymousId (or an unresolved userId)
//!   that never resolved to a contact. When its last event is older than the retention
//!   period (the workspace setting `retention_days`, default 180), all its events are
//!   deleted. Events of contacts are the contact's history and are not touched.
//! - `context.ip` of stored events is truncated ([`hub_protocol::event::truncate_ip`]):
//!   IPv4 to its /24, IPv6 to its /48.
//!
//! [`run`] is idempotent: a second run at the same time removes and changes nothing.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::settings;
use crate::store::Store;

pub const DEFAULT_DAYS: u32 = 180;
const SETTING: &str = "retention_days";
/// Events read per batch while truncating IPs.
const BATCH: i64 = 2_000;

/// The retention period in days (workspace setting, synced).
pub async fn days(store: &Store) -> Result<u32> {
    Ok(settings::get(store, SETTING)
        .await?
        .and_then(|v| v.as_u64())
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| *d > 0)
        .unwrap_or(DEFAULT_DAYS))
}

/// Change the retention period for the whole team: 1 to 3,650 days.
pub async fn set_days(store: &Store, days: u32) -> Result<u32> {
    if !(1..=3650).contains(&days) {
        return Err(Error::invalid(
            "days",
            format!("keep anonymous data between 1 and 3650 days, not {days}"),
        ));
    }
    settings::set(store, SETTING, &json!(days)).await?;
    Ok(days)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub days: u32,
    /// Anonymous profiles whose last event is before this were purged.
    pub cutoff: DateTime<Utc>,
    pub anonymous_profiles: u64,
    pub events_removed: u64,
    pub ips_truncated: u64,
}

/// Purge inactive anonymous profiles and truncate stored IPs (module docs).
pub async fn run(store: &Store, now: DateTime<Utc>) -> Result<RetentionReport> {
    let days = days(store).await?;
    let cutoff = now - Duration::days(i64::from(days));
    let mut tx = store.write().await?;
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT coalesce(anonymous_id, user_id) AS profile FROM events
          WHERE contact_rk IS NULL AND coalesce(anonymous_id, user_id) IS NOT NULL
          GROUP BY profile HAVING max(at_ms) < ?",
    )
    .bind(cutoff.timestamp_millis())
    .fetch_all(tx.conn())
    .await?;
    // A profile is one id across all its events: one that resolved anywhere is not
    // anonymous (its unresolved events, if any, stay with it).
    let events_removed = sqlx::query(
        "DELETE FROM events
          WHERE contact_rk IS NULL
            AND coalesce(anonymous_id, user_id) IN (SELECT value FROM json_each(?1))
            AND coalesce(anonymous_id, user_id) NOT IN (
                SELECT coalesce(anonymous_id, user_id) FROM events
                 WHERE contact_rk IS NOT NULL
                   AND coalesce(anonymous_id, user_id) IN (SELECT value FROM json_each(?1)))",
    )
    .bind(serde_json::to_string(&stale).unwrap_or_default())
    .execute(tx.conn())
    .await?
    .rows_affected();
    let mut ips_truncated = 0;
    let mut after = 0_i64;
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT rk, body FROM events
              WHERE rk > ? AND json_extract(body, '$.context.ip') IS NOT NULL
              ORDER BY rk LIMIT ?",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(tx.conn())
        .await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        for (rk, body) in rows {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&body) else {
                continue;
            };
            let Some(body) = truncated(map) else { continue };
            sqlx::query("UPDATE events SET body = ? WHERE rk = ?")
                .bind(body)
                .bind(rk)
                .execute(tx.conn())
                .await?;
            ips_truncated += 1;
        }
    }
    tx.commit().await?;
    Ok(RetentionReport {
        days,
        cutoff,
        anonymous_profiles: stale.len() as u64,
        events_removed,
        ips_truncated,
    })
}

/// The body with its IP truncated, if that changes it.
fn truncated(body: Map<String, Value>) -> Option<String> {
    let mut event = hub_protocol::Event {
        message_id: String::new(),
        kind: hub_protocol::EventType::Track,
        user_id: None,
        anonymous_id: None,
        name: None,
        timestamp: Utc::now(),
        received_at: Utc::now(),
        body,
    };
    event
        .truncate_ip()
        .then(|| Value::Object(event.body).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_protocol::{Event, EventType};

    fn event(
        id: &str,
        anonymous: &str,
        user: Option<&str>,
        days_ago: i64,
        now: DateTime<Utc>,
    ) -> Event {
        Event {
            message_id: id.into(),
            kind: if user.is_some() { EventType::Identify } else { EventType::Page },
            user_id: user.map(str::to_owned),
            anonymous_id: Some(anonymous.into()),
            name: None,
            timestamp: now - Duration::days(days_ago),
            received_at: now - Duration::days(days_ago),
            body: json!({"context": {"ip": "203.0.113.77"}, "traits": {"email": format!("{anonymous}@example.com")}})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    async fn profiles(store: &Store) -> Vec<(String, i64)> {
        sqlx::query_as(
            "SELECT anonymous_id, count(*) FROM events GROUP BY anonymous_id ORDER BY anonymous_id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn inactive_anonymous_profiles_go_identified_history_stays() {
        let store = Store::open_in_memory().await.unwrap();
        let now = Utc::now();
        crate::events::store(
            &store,
            &[
                // Stale and anonymous: purged.
                event("a1", "old-visitor", None, 400, now),
                event("a2", "old-visitor", None, 200, now),
                // Anonymous but active within the period: kept.
                event("b1", "recent-visitor", None, 400, now),
                event("b2", "recent-visitor", None, 10, now),
                // Old, but identified (a contact's history): kept.
                event("c1", "customer", None, 500, now),
                event("c2", "customer", Some("u-1"), 499, now),
            ],
        )
        .await
        .unwrap();
        // Events are stored with their IP truncated; one stored whole by an older version
        // is truncated by the run.
        sqlx::query(
            "UPDATE events SET body = json_set(body, '$.context.ip', '198.51.100.23')
              WHERE message_id = 'b2'",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let report = run(&store, now).await.unwrap();
        assert_eq!(report.days, 180);
        assert_eq!(report.anonymous_profiles, 1);
        assert_eq!(report.events_removed, 2);
        assert_eq!(report.ips_truncated, 1);
        assert_eq!(
            profiles(&store).await,
            vec![("customer".into(), 2), ("recent-visitor".into(), 2)]
        );
        let ips: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT json_extract(body, '$.context.ip') FROM events")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            ips,
            vec!["203.0.113.0".to_owned(), "198.51.100.0".to_owned()]
        );
        // Idempotent.
        let again = run(&store, now).await.unwrap();
        assert_eq!((again.events_removed, again.ips_truncated), (0, 0));
        // A shorter period reaches the recent visitor's old activity only through its last event.
        set_days(&store, 5).await.unwrap();
        let short = run(&store, now).await.unwrap();
        assert_eq!((short.days, short.events_removed), (5, 2));
        assert_eq!(profiles(&store).await, vec![("customer".into(), 2)]);
        assert_eq!(set_days(&store, 0).await.unwrap_err().code(), "validation");
        assert_eq!(
            set_days(&store, 4000).await.unwrap_err().code(),
            "validation"
        );
        assert_eq!(days(&store).await.unwrap(), 5);
    }
}
