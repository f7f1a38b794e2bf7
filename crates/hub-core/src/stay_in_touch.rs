//! Stay in touch: "talk to this person every N days".
//!
//! A contact's `stay_in_touch_days` (a synced contact field, NULL when off).
//! The next follow-up is the last interaction with the contact — the latest
//! `occurred_at` of its logged calls, emails and meetings (notes are not
//! interactions) — plus N days; with no interaction yet, the contact's
//! creation plus N days. Logging an interaction therefore moves the date,
//! and deleting one moves it back. Days are 24-hour periods in UTC.
//!
//! [`due`] is the Today view's "stay in touch" list: contacts whose next
//! follow-up is at or before a given time, most overdue first.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;
use uuid::Uuid;

use crate::activities::{parse_time_opt, time_text};
use crate::entities::CONTACT;
use crate::error::{Error, Result};
use crate::store::Store;

/// At most every ten years.
pub const MAX_DAYS: u32 = 3650;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StayInTouch {
    pub contact_id: Uuid,
    /// None: stay-in-touch is off for this contact.
    pub every_days: Option<u32>,
    /// The latest logged call, email or meeting.
    pub last_interaction: Option<DateTime<Utc>>,
    /// None when off.
    pub next_due: Option<DateTime<Utc>>,
}

/// One contact of the Today view's stay-in-touch list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DueContact {
    pub contact_id: Uuid,
    pub display_name: String,
    pub every_days: u32,
    pub last_interaction: Option<DateTime<Utc>>,
    pub next_due: DateTime<Utc>,
}

/// The latest interaction of a contact: walks its activities newest first on
/// the timeline index and stops at the first one that is not a note.
const LAST_INTERACTION: &str = "(SELECT a.occurred_at FROM activities a
      WHERE a.contact_id = c.id AND a.deleted_at IS NULL AND a.kind <> 'note'
      ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1)";

/// Turn stay-in-touch on (every `days` days) or off (`None`).
pub async fn set(store: &Store, contact_id: Uuid, days: Option<u32>) -> Result<StayInTouch> {
    if let Some(d) = days {
        if d == 0 || d > MAX_DAYS {
            return Err(Error::invalid(
                "stay_in_touch_days",
                format!("Stay in touch every 1 to {MAX_DAYS} days"),
            ));
        }
    }
    let mut tx = store.write().await?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM contacts WHERE id = ? AND deleted_at IS NULL")
            .bind(contact_id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    if live.is_none() {
        return Err(Error::NotFound {
            entity: "contact",
            id: contact_id.to_string(),
        });
    }
    tx.update(
        &CONTACT,
        contact_id,
        vec![("stay_in_touch_days", json!(days))],
    )
    .await?;
    tx.commit().await?;
    get(store, contact_id).await
}

pub async fn get(store: &Store, contact_id: Uuid) -> Result<StayInTouch> {
    let row: Option<(Option<i64>, Option<String>, Option<String>)> = sqlx::query_as(&format!(
        "SELECT c.stay_in_touch_days, c.created_at, {LAST_INTERACTION}
           FROM contacts c WHERE c.id = ? AND c.deleted_at IS NULL"
    ))
    .bind(contact_id.to_string())
    .fetch_optional(store.pool())
    .await?;
    let Some((days, created_at, last)) = row else {
        return Err(Error::NotFound {
            entity: "contact",
            id: contact_id.to_string(),
        });
    };
    let every_days = days.and_then(|d| u32::try_from(d).ok()).filter(|d| *d > 0);
    let last_interaction = parse_time_opt(last.as_deref());
    let next_due = every_days.map(|d| {
        next_due(
            d,
            last_interaction,
            parse_time_opt(created_at.as_deref()).unwrap_or_default(),
        )
    });
    Ok(StayInTouch {
        contact_id,
        every_days,
        last_interaction,
        next_due,
    })
}

/// The rule: last interaction (else creation) + N days.
pub fn next_due(
    every_days: u32,
    last_interaction: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
) -> DateTime<Utc> {
    last_interaction.unwrap_or(created_at) + Duration::days(i64::from(every_days))
}

/// id, name, days, created_at, last interaction.
type DueRow = (String, Option<String>, i64, Option<String>, Option<String>);

/// Live contacts whose next follow-up is at or before `as_of`, most overdue
/// first (then by name), at most `limit`.
pub async fn due(store: &Store, as_of: DateTime<Utc>, limit: u32) -> Result<Vec<DueContact>> {
    // One range of `contacts_next_follow_up` (0009), whose expression this
    // repeats exactly; `last_interaction_at` is kept by triggers. julianday()
    // reads the stored RFC 3339 text (with its Z) exactly; the due time itself
    // is computed in Rust from the same values.
    let rows: Vec<DueRow> = sqlx::query_as(
        "SELECT id, display_name, stay_in_touch_days, created_at, last_interaction_at
           FROM contacts INDEXED BY contacts_next_follow_up
          WHERE stay_in_touch_days IS NOT NULL AND deleted_at IS NULL
            AND julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days <= julianday(?1)
          ORDER BY julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days,
                   display_name COLLATE NOCASE, id
          LIMIT ?2",
    )
    .bind(time_text(as_of))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, days, created_at, last)| {
            let every_days = u32::try_from(days).ok()?;
            let last_interaction = parse_time_opt(last.as_deref());
            Some(DueContact {
                contact_id: Uuid::parse_str(&id).ok()?,
                display_name: name.unwrap_or_default(),
                every_days,
                last_interaction,
                next_due: next_due(
                    every_days,
                    last_interaction,
                    parse_time_opt(created_at.as_deref()).unwrap_or_default(),
                ),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activities::{self, ActivityInput, ActivityKind};
    use crate::contacts::{self, ContactInput};

    async fn contact(store: &Store, name: &str) -> (Uuid, DateTime<Utc>) {
        let c = contacts::create(
            store,
            ContactInput {
                display_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        (c.id, c.created_at)
    }

    async fn log(store: &Store, kind: ActivityKind, contact: Uuid, at: &str) -> Uuid {
        activities::log(
            store,
            ActivityInput {
                contact_id: Some(contact),
                occurred_at: Some(at.parse().unwrap()),
                subject: (kind != ActivityKind::Note).then(|| "s".into()),
                body: Some("b".into()),
                ..ActivityInput::new(kind)
            },
        )
        .await
        .unwrap()
        .id
    }

    #[tokio::test]
    async fn logging_an_interaction_moves_the_next_follow_up() {
        let store = Store::open_in_memory().await.unwrap();
        let (ada, created) = contact(&store, "Ada").await;
        let off = get(&store, ada).await.unwrap();
        assert_eq!((off.every_days, off.next_due), (None, None));

        let on = set(&store, ada, Some(14)).await.unwrap();
        assert_eq!(on.every_days, Some(14));
        assert_eq!(on.last_interaction, None);
        assert_eq!(on.next_due, Some(created + Duration::days(14)));

        log(&store, ActivityKind::Call, ada, "2026-11-01T09:00:00Z").await;
        let after_call = get(&store, ada).await.unwrap();
        let call_at: DateTime<Utc> = "2026-11-01T09:00:00Z".parse().unwrap();
        assert_eq!(after_call.last_interaction, Some(call_at));
        assert_eq!(after_call.next_due, Some(call_at + Duration::days(14)));

        // A later email moves it again; an earlier meeting and a note do not.
        let email = log(&store, ActivityKind::Email, ada, "2026-11-10T16:30:00Z").await;
        log(&store, ActivityKind::Meeting, ada, "2026-10-01T09:00:00Z").await;
        log(&store, ActivityKind::Note, ada, "2026-11-20T09:00:00Z").await;
        let email_at: DateTime<Utc> = "2026-11-10T16:30:00Z".parse().unwrap();
        assert_eq!(
            get(&store, ada).await.unwrap().next_due,
            Some(email_at + Duration::days(14))
        );
        // Deleting the email moves it back to the call.
        activities::delete(&store, email).await.unwrap();
        assert_eq!(
            get(&store, ada).await.unwrap().next_due,
            Some(call_at + Duration::days(14))
        );

        let cleared = set(&store, ada, None).await.unwrap();
        assert_eq!((cleared.every_days, cleared.next_due), (None, None));
    }

    #[tokio::test]
    async fn due_lists_contacts_at_or_past_their_date_most_overdue_first() {
        let store = Store::open_in_memory().await.unwrap();
        let (ada, _) = contact(&store, "Ada").await;
        let (bob, _) = contact(&store, "Bob").await;
        let (cy, cy_created) = contact(&store, "Cy").await;
        let (_dee, _) = contact(&store, "Dee").await; // never set: never due
        set(&store, ada, Some(7)).await.unwrap();
        set(&store, bob, Some(30)).await.unwrap();
        set(&store, cy, Some(1)).await.unwrap();
        log(&store, ActivityKind::Call, ada, "2026-11-01T10:00:00Z").await; // due 11-08 10:00
        log(&store, ActivityKind::Meeting, bob, "2026-11-01T10:00:00Z").await; // due 12-01

        let now: DateTime<Utc> = "2026-11-08T10:00:00Z".parse().unwrap();
        let names = |list: Vec<DueContact>| -> Vec<String> {
            list.into_iter().map(|d| d.display_name).collect()
        };
        // Cy (due a day after creation, which is today in real time) only
        // counts once that day is past.
        let later = cy_created + Duration::days(2);
        let at_later = due(&store, later.max(now), 100).await.unwrap();
        assert!(names(at_later.clone()).contains(&"Cy".to_string()));
        let just_before = due(&store, now - Duration::milliseconds(1), 100)
            .await
            .unwrap();
        assert!(!names(just_before).contains(&"Ada".to_string()));
        let at_due = due(&store, now, 100).await.unwrap();
        let ada_due = at_due.iter().find(|d| d.contact_id == ada).unwrap();
        assert_eq!(ada_due.next_due, now);
        assert_eq!(ada_due.every_days, 7);
        assert!(!names(at_due).contains(&"Bob".to_string()));

        // Logging a call takes Ada off the list.
        log(&store, ActivityKind::Call, ada, "2026-11-08T09:00:00Z").await;
        assert!(!due(&store, now, 100)
            .await
            .unwrap()
            .iter()
            .any(|d| d.contact_id == ada));

        // Ordering: most overdue first.
        let far = Utc::now() + Duration::days(400);
        let all = due(&store, far, 100).await.unwrap();
        assert!(all.windows(2).all(|w| w[0].next_due <= w[1].next_due));
        assert_eq!(all.len(), 3);
        assert_eq!(due(&store, far, 2).await.unwrap().len(), 2);

        // A deleted contact is never due.
        contacts::delete(&store, bob).await.unwrap();
        assert_eq!(due(&store, far, 100).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn bad_values_are_refused_and_a_contact_edit_keeps_the_setting() {
        let store = Store::open_in_memory().await.unwrap();
        let (ada, _) = contact(&store, "Ada").await;
        for bad in [0, MAX_DAYS + 1] {
            let err = set(&store, ada, Some(bad)).await.unwrap_err();
            assert_eq!(err.field_errors()[0].field, "stay_in_touch_days");
        }
        assert_eq!(
            set(&store, Uuid::now_v7(), Some(3))
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        set(&store, ada, Some(21)).await.unwrap();
        // The contact form does not know the field: editing it keeps the value.
        let c = contacts::get(&store, ada).await.unwrap();
        let mut input = ContactInput::from(&c);
        input.title = Some("Countess".into());
        contacts::update(&store, ada, input).await.unwrap();
        assert_eq!(get(&store, ada).await.unwrap().every_days, Some(21));
        // The setting is a synced field write.
        let logged: String = sqlx::query_scalar(
            "SELECT fields FROM change_log WHERE entity = 'contact' AND fields LIKE '%stay_in_touch_days\":21%'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(logged, r#"{"stay_in_touch_days":21}"#);
    }
}

#[cfg(test)]
mod kept_in_step {
    use super::*;
    use crate::activities::time_text;
    use crate::changes::now_rfc3339;
    use crate::entities::{ACTIVITY, CONTACT};
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use serde_json::json;

    /// Every contact's next follow-up, recounted from `activities` without
    /// the kept column: the rule as the module docs state it.
    async fn recount(store: &Store, as_of: DateTime<Utc>) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', julianday(coalesce(last, created_at)) + days) FROM (
                SELECT c.id, c.created_at, c.stay_in_touch_days AS days,
                       (SELECT max(a.occurred_at) FROM activities a
                         WHERE a.contact_id = c.id AND a.deleted_at IS NULL AND a.kind <> 'note') AS last
                  FROM contacts c WHERE c.stay_in_touch_days IS NOT NULL AND c.deleted_at IS NULL)
              WHERE julianday(coalesce(last, created_at)) + days <= julianday(?)
              ORDER BY 1",
        )
        .bind(time_text(as_of))
        .fetch_all(store.pool())
        .await
        .unwrap()
    }

    async fn listed(store: &Store, as_of: DateTime<Utc>) -> Vec<(String, String)> {
        let mut got: Vec<(String, String)> = due(store, as_of, 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.contact_id.to_string(), time_text(d.next_due)))
            .collect();
        got.sort();
        got
    }

    /// The kept last interaction (0009's triggers) agrees with a recount
    /// after random creates, edits, moves between contacts and deletes, and
    /// on a second device that receives the activities before the contacts;
    /// the due list reads one index range.
    #[tokio::test]
    async fn the_due_list_matches_a_recount_after_random_changes() {
        let store = Store::open_in_memory().await.unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let base: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let contacts: Vec<Uuid> = (0..400).map(|_| Uuid::now_v7()).collect();
        let mut tx = store.write().await.unwrap();
        tx.insert_many(
            &CONTACT,
            contacts
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let days = (i % 3 != 0).then(|| 1 + i % 40);
                    (
                        *id,
                        vec![
                            ("display_name", json!(format!("C{i}"))),
                            ("created_at", json!(now_rfc3339())),
                            ("stay_in_touch_days", json!(days)),
                        ],
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
        let kinds = ["call", "email", "meeting", "note"];
        let activities: Vec<Uuid> = (0..2_000).map(|_| Uuid::now_v7()).collect();
        tx.insert_many(
            &ACTIVITY,
            activities
                .iter()
                .map(|id| {
                    (
                        *id,
                        vec![
                            ("kind", json!(kinds[rng.random_range(0..4)])),
                            (
                                "contact_id",
                                json!(contacts[rng.random_range(0..contacts.len())].to_string()),
                            ),
                            (
                                "occurred_at",
                                json!(time_text(
                                    base + Duration::minutes(rng.random_range(0..500_000))
                                )),
                            ),
                        ],
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
        for _ in 0..600 {
            let id = activities[rng.random_range(0..activities.len())];
            let field = match rng.random_range(0..4) {
                0 => ("kind", json!(kinds[rng.random_range(0..4)])),
                1 => (
                    "contact_id",
                    json!(contacts[rng.random_range(0..contacts.len())].to_string()),
                ),
                2 => (
                    "occurred_at",
                    json!(time_text(
                        base + Duration::minutes(rng.random_range(0..500_000))
                    )),
                ),
                _ => ("deleted_at", json!(now_rfc3339())),
            };
            tx.update(&ACTIVITY, id, vec![field]).await.unwrap();
        }
        tx.commit().await.unwrap();

        let far = Utc::now() + Duration::days(3650);
        for as_of in [base + Duration::days(200), base + Duration::days(330), far] {
            let expected = recount(&store, as_of).await;
            assert!(!expected.is_empty());
            assert_eq!(listed(&store, as_of).await, expected);
        }

        // A device that receives the activities before their contacts.
        let other = Store::open_in_memory().await.unwrap();
        let mut changes = crate::changes::outbox(&store, u32::MAX).await.unwrap();
        changes.sort_by_key(|c| c.entity != "activity");
        let mut tx = other.write().await.unwrap();
        for change in &changes {
            tx.apply_remote(change).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(listed(&other, far).await, recount(&store, far).await);

        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN SELECT id FROM contacts
              WHERE stay_in_touch_days IS NOT NULL AND deleted_at IS NULL
                AND julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days <= julianday(?1)
              ORDER BY julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days LIMIT 10",
        )
        .bind(time_text(far))
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.3.contains("USING INDEX contacts_next_follow_up")),
            "{plan:?}"
        );
    }
}
