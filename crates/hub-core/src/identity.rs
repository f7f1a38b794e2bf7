//! The identity graph: which contact a user id, anonymous id, email, phone or
//! external id belongs to (docs/events.md, "On the device").
//!
//! Resolution runs on every device that stores an event, deterministically: the
//! rows it writes have ids derived from the identifier (UUIDv5), so two devices that
//! process the same identify write the same identity rows and the same lead, and
//! sync merges them like any edit. Events point at their contact through
//! `events.contact_rk`, kept by the triggers of migration 0018 from these rows.

use uuid::Uuid;

/// Namespace of the derived identity and lead ids.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x3c9a_51d7_0e2b_4a86_b1f4_7d20_95ce_41a8);

/// Identifier values that mean "nobody": they never join anything.
const JUNK: [&str; 7] = ["", "null", "undefined", "anonymous", "0", "-1", "none"];

/// Whether an identifier value is a placeholder that must never join profiles.
pub fn is_junk(value: &str) -> bool {
    let v = value.trim();
    JUNK.iter().any(|j| v.eq_ignore_ascii_case(j))
}

/// The id of the identity row of `kind:value` (the same on every device).
pub fn identity_id(kind: &str, value: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{value}").as_bytes())
}

/// The id of the lead created for the identifier `kind:value`.
pub fn lead_id(kind: &str, value: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("lead:{kind}:{value}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::now_rfc3339;
    use crate::contacts::{self, ContactInput};
    use crate::entities::IDENTITY;
    use crate::Store;
    use serde_json::json;

    async fn contact(store: &Store, name: &str) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                first_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    async fn raw_event(store: &Store, message_id: &str, user: Option<&str>, anon: Option<&str>) {
        sqlx::query(
            "INSERT INTO events (message_id, type, user_id, anonymous_id, at_ms, received_ms, body)
             VALUES (?, 'page', ?, ?, 1, 1, '{}')",
        )
        .bind(message_id)
        .bind(user)
        .bind(anon)
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn owner(store: &Store, message_id: &str) -> Option<Uuid> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT c.id FROM events e LEFT JOIN contacts c ON c.rk = e.contact_rk
             WHERE e.message_id = ?",
        )
        .bind(message_id)
        .fetch_one(store.pool())
        .await
        .unwrap();
        id.map(|s| s.parse().unwrap())
    }

    async fn put_identity(store: &Store, contact: Uuid, kind: &str, value: &str) -> Uuid {
        let id = identity_id(kind, value);
        let mut tx = store.write().await.unwrap();
        tx.insert(
            &IDENTITY,
            id,
            vec![
                ("contact_id", json!(contact.to_string())),
                ("kind", json!(kind)),
                ("value", json!(value)),
                ("created_at", json!(now_rfc3339())),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    #[test]
    fn junk_values_are_recognised_trimmed_and_in_any_case() {
        for junk in ["", " ", "NULL", "Undefined", " anonymous ", "0", "-1"] {
            assert!(is_junk(junk), "{junk:?}");
        }
        for real in ["u1", "00", "anon-1", "1"] {
            assert!(!is_junk(real), "{real:?}");
        }
        assert_eq!(identity_id("email", "a@b.c"), identity_id("email", "a@b.c"));
        assert_ne!(identity_id("email", "a@b.c"), lead_id("email", "a@b.c"));
        assert_ne!(
            identity_id("user_id", "x"),
            identity_id("anonymous_id", "x")
        );
    }

    #[tokio::test]
    async fn an_identity_arriving_after_the_events_claims_them() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contact(&store, "Ann").await;
        raw_event(&store, "m1", None, Some("a1")).await;
        raw_event(&store, "m2", Some("u1"), Some("a2")).await;
        raw_event(&store, "m3", None, Some("other")).await;
        assert_eq!(owner(&store, "m1").await, None);
        put_identity(&store, ann, "anonymous_id", "a1").await;
        put_identity(&store, ann, "user_id", "u1").await;
        assert_eq!(owner(&store, "m1").await, Some(ann));
        assert_eq!(owner(&store, "m2").await, Some(ann));
        assert_eq!(owner(&store, "m3").await, None);
    }

    #[tokio::test]
    async fn an_event_arriving_after_the_identity_gets_its_contact() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contact(&store, "Ann").await;
        let bob = contact(&store, "Bob").await;
        put_identity(&store, ann, "anonymous_id", "a1").await;
        put_identity(&store, bob, "user_id", "u-bob").await;
        raw_event(&store, "m1", None, Some("a1")).await;
        // The user id wins over the anonymous id.
        raw_event(&store, "m2", Some("u-bob"), Some("a1")).await;
        raw_event(&store, "m3", Some("nobody"), None).await;
        assert_eq!(owner(&store, "m1").await, Some(ann));
        assert_eq!(owner(&store, "m2").await, Some(bob));
        assert_eq!(owner(&store, "m3").await, None);
    }

    #[tokio::test]
    async fn deleting_or_repointing_an_identity_moves_its_events() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contact(&store, "Ann").await;
        let bob = contact(&store, "Bob").await;
        let anon = put_identity(&store, ann, "anonymous_id", "a1").await;
        let user = put_identity(&store, ann, "user_id", "u1").await;
        raw_event(&store, "m1", None, Some("a1")).await;
        raw_event(&store, "m2", Some("u1"), Some("a1")).await;

        let mut tx = store.write().await.unwrap();
        tx.update(
            &IDENTITY,
            anon,
            vec![("contact_id", json!(bob.to_string()))],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(owner(&store, "m1").await, Some(bob));
        assert_eq!(
            owner(&store, "m2").await,
            Some(ann),
            "its user id still says Ann"
        );

        let mut tx = store.write().await.unwrap();
        tx.delete(&IDENTITY, user).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            owner(&store, "m2").await,
            Some(bob),
            "now only its anonymous id joins"
        );

        let mut tx = store.write().await.unwrap();
        tx.delete(&IDENTITY, anon).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(owner(&store, "m1").await, None);
        assert_eq!(owner(&store, "m2").await, None);
    }

    #[tokio::test]
    async fn an_identity_pulled_before_its_contact_binds_when_the_contact_arrives() {
        let store = Store::open_in_memory().await.unwrap();
        let later = Uuid::now_v7();
        raw_event(&store, "m1", Some("u1"), None).await;
        put_identity(&store, later, "user_id", "u1").await;
        assert_eq!(owner(&store, "m1").await, None);
        let mut tx = store.write().await.unwrap();
        tx.insert(
            &crate::entities::CONTACT,
            later,
            vec![("first_name", json!("Late"))],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(owner(&store, "m1").await, Some(later));
    }
}
