//! Erasure ("right to be forgotten") and subject-access export of a contact.
//!
//! # Erasure
//! [`erase`] removes, in one transaction, everything the hub holds about a person:
//! the contact, its emails, phones, addresses, tag links, custom values, activities,
//! reminders, tickets (with their comments), identities, consent decisions and merge
//! records, its behavioural events and segment memberships. Deals are the business's
//! records: they stay, unlinked from the person. The rows are deleted outright (no
//! tombstone, no trash, no change log entry carrying their values); what syncs is one
//! [`ERASURE`] row, id derived from the contact's, that lists the rows removed and the
//! SHA-256 hashes of the person's identifiers — never the identifiers themselves.
//!
//! Every device that receives the erasure does the same ([`follow`], after each pulled
//! page and snapshot page): it removes the listed rows and whatever else it holds that
//! points at the contact (an email added offline), drops its own unsent edits of them,
//! and remembers the removed rows (`erased_rows`). From then on a change to one of them,
//! or one that links a new row to the erased contact, is dropped on arrival
//! ([`WriteTx::apply_remote`] and the snapshot path ask [`Erased`]); the server refuses
//! them too. So no later sync can bring the person back. Events whose userId,
//! anonymousId or traits.email hash matches are not stored ([`is_suppressed`]).
//!
//! # Subject-access export
//! [`subject_export`] gathers the same set of rows (and the deals) as JSON; the CSV form
//! flattens it to `section,record,field,value` lines.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::changes::{now_rfc3339, WriteTx};
use crate::entities::{self, EntityDef, CONTACT, DEAL, ERASURE};
use crate::error::{Error, Result};
use crate::merge::CONTACT_RELATIONS;
use crate::store::Store;
use crate::users;

const NAMESPACE: Uuid = Uuid::from_u128(0x9d3e_1a57_c6b2_4e08_a4f1_7b2c_5e90_d316);

/// The erasure row's id for a contact: derived, so two devices erasing the same person
/// offline write one row.
pub fn erasure_id(contact: Uuid) -> Uuid {
    Uuid::new_v5(&NAMESPACE, contact.as_bytes())
}

/// What an erasure removed on this device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub contact_id: String,
    /// Synced rows removed, by entity.
    pub rows: BTreeMap<String, usize>,
    pub events: u64,
    /// This device's unsent edits of those rows, dropped.
    pub unsent_edits: u64,
    /// Deals kept and unlinked from the person.
    pub deals_unlinked: usize,
}

/// Erase a contact (module docs). The contact may be live or in the trash; erasing one
/// that is already erased is an error.
pub async fn erase(store: &Store, contact: Uuid) -> Result<Erased> {
    let me = users::current(store).await?;
    let mut tx = store.write().await?;
    let id = contact.to_string();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = ?)")
        .bind(&id)
        .fetch_one(tx.conn())
        .await?;
    if !exists {
        let erased: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM erasures WHERE contact_id = ?)")
                .bind(&id)
                .fetch_one(tx.conn())
                .await?;
        return Err(if erased {
            Error::invalid("contact_id", format!("contact {id} is already erased"))
        } else {
            Error::not_found("contact", id)
        });
    }
    // Deals stay with the business, without the person.
    let deals: Vec<String> =
        sqlx::query_scalar("SELECT id FROM deals WHERE contact_id = ? AND deleted_at IS NULL")
            .bind(&id)
            .fetch_all(tx.conn())
            .await?;
    for deal in &deals {
        let deal: Uuid = deal.parse().map_err(|_| Error::not_found("deal", deal))?;
        tx.update(&DEAL, deal, vec![("contact_id", Value::Null)])
            .await?;
    }
    let rows = rows_of(tx.conn(), &id).await?;
    let suppress = identity_hashes(tx.conn(), &id).await?;
    let listed: Vec<[&str; 2]> = rows
        .iter()
        .map(|(entity, row)| [*entity, row.as_str()])
        .collect();
    tx.insert(
        &ERASURE,
        erasure_id(contact),
        vec![
            ("contact_id", json!(id)),
            ("erased_at", json!(now_rfc3339())),
            ("erased_by", json!(me)),
            (
                "rows",
                json!(serde_json::to_string(&listed).unwrap_or_default()),
            ),
            (
                "suppress",
                json!(serde_json::to_string(&suppress).unwrap_or_default()),
            ),
        ],
    )
    .await?;
    let mut erased = purge(tx.conn(), &id, rows, &suppress).await?;
    erased.deals_unlinked = deals.len();
    sqlx::query("UPDATE erasures SET followed = 1 WHERE contact_id = ?")
        .bind(&id)
        .execute(tx.conn())
        .await?;
    tx.forget_erased();
    tx.commit().await?;
    Ok(erased)
}

/// Carry out the erasures this device has received but not yet followed (module docs).
/// Runs inside the sync's transactions, after each applied page.
pub async fn follow(tx: &mut WriteTx) -> Result<Vec<Erased>> {
    let pending: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT contact_id, rows, suppress FROM erasures WHERE followed = 0 AND contact_id IS NOT NULL",
    )
    .fetch_all(tx.conn())
    .await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut done = Vec::with_capacity(pending.len());
    for (contact, listed, suppress) in pending {
        let mut rows = rows_of(tx.conn(), &contact).await?;
        let listed: Vec<(String, String)> = listed
            .and_then(|l| serde_json::from_str(&l).ok())
            .unwrap_or_default();
        for (entity, row) in listed {
            if let Some(def) = entities::by_name(&entity) {
                rows.insert((def.name, row));
            }
        }
        let suppress: Vec<String> = suppress
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        // Deals another device linked to the person meanwhile: unlinked here too (the
        // server refuses the link, so no device keeps it).
        sqlx::query("UPDATE deals SET contact_id = NULL WHERE contact_id = ?")
            .bind(&contact)
            .execute(tx.conn())
            .await?;
        // This device's unsent deal changes that link the person go out unlinked (the
        // server would refuse them, and with them the deal).
        sqlx::query(
            "UPDATE change_log SET fields = json_set(fields, '$.contact_id', json('null'))
              WHERE entity = 'deal' AND json_extract(fields, '$.contact_id') = ?",
        )
        .bind(&contact)
        .execute(tx.conn())
        .await?;
        done.push(purge(tx.conn(), &contact, rows, &suppress).await?);
        sqlx::query("UPDATE erasures SET followed = 1 WHERE contact_id = ?")
            .bind(&contact)
            .execute(tx.conn())
            .await?;
    }
    tx.forget_erased();
    Ok(done)
}

/// Rows by (entity name, id).
type RowSet = BTreeSet<(&'static str, String)>;

/// Every synced row that is about the contact (deals excepted).
async fn rows_of(conn: &mut SqliteConnection, contact: &str) -> Result<RowSet> {
    let mut rows: RowSet = BTreeSet::new();
    rows.insert((CONTACT.name, contact.to_owned()));
    let mut add = |def: &'static EntityDef, ids: Vec<String>| {
        rows.extend(ids.into_iter().map(|id| (def.name, id)));
    };
    for relation in CONTACT_RELATIONS {
        if relation.entity.name == DEAL.name {
            continue;
        }
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM {} WHERE {} = ?",
            relation.entity.table, relation.column
        ))
        .bind(contact)
        .fetch_all(&mut *conn)
        .await?;
        add(relation.entity, ids);
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM custom_values WHERE entity = 'contact' AND row_id = ?")
            .bind(contact)
            .fetch_all(&mut *conn)
            .await?;
    add(&entities::CUSTOM_VALUE, ids);
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT c.id FROM ticket_comments c JOIN tickets t ON t.id = c.ticket_id WHERE t.contact_id = ?",
    )
    .bind(contact)
    .fetch_all(&mut *conn)
    .await?;
    add(&entities::TICKET_COMMENT, ids);
    // A merge record keeps the merged-away contact's values.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM merges WHERE kind = 'contact' AND (survivor_id = ?1 OR loser_id = ?1)",
    )
    .bind(contact)
    .fetch_all(&mut *conn)
    .await?;
    add(&entities::MERGE, ids);
    Ok(rows)
}

/// Hashes of every identifier of the contact: identities, emails, phones.
async fn identity_hashes(conn: &mut SqliteConnection, contact: &str) -> Result<Vec<String>> {
    let mut ids: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, value FROM identities WHERE contact_id = ?1 AND value IS NOT NULL
         UNION SELECT 'email', address FROM contact_emails WHERE contact_id = ?1 AND address IS NOT NULL
         UNION SELECT 'phone', number FROM contact_phones WHERE contact_id = ?1 AND number IS NOT NULL",
    )
    .bind(contact)
    .fetch_all(&mut *conn)
    .await?;
    ids.sort();
    ids.dedup();
    let mut hashes: Vec<String> = ids
        .iter()
        .map(|(kind, value)| hub_protocol::event::identity_hash(kind, value))
        .collect();
    hashes.sort();
    hashes.dedup();
    Ok(hashes)
}

/// Delete the rows, the person's events and memberships, and what would bring them back.
async fn purge(
    conn: &mut SqliteConnection,
    contact: &str,
    rows: RowSet,
    suppress: &[String],
) -> Result<Erased> {
    let mut erased = Erased {
        contact_id: contact.to_owned(),
        ..Erased::default()
    };
    let rk: Option<i64> = sqlx::query_scalar("SELECT rk FROM contacts WHERE id = ?")
        .bind(contact)
        .fetch_optional(&mut *conn)
        .await?;
    // Events first, while the identities that resolve them still exist.
    let anonymous: Vec<String> = sqlx::query_scalar(
        "SELECT value FROM identities WHERE contact_id = ? AND kind IN ('anonymous_id', 'user_id')",
    )
    .bind(contact)
    .fetch_all(&mut *conn)
    .await?;
    erased.events = sqlx::query(
        "DELETE FROM events WHERE contact_rk = ?1
            OR user_id IN (SELECT value FROM json_each(?2))
            OR anonymous_id IN (SELECT value FROM json_each(?2))",
    )
    .bind(rk)
    .bind(serde_json::to_string(&anonymous).unwrap_or_default())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if let Some(rk) = rk {
        sqlx::query("DELETE FROM segment_members WHERE contact_rk = ?")
            .bind(rk)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM segment_queue WHERE contact_rk = ?")
            .bind(rk)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM contact_search WHERE rowid = ?")
            .bind(rk)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM segment_history WHERE contact_id = ?")
        .bind(contact)
        .execute(&mut *conn)
        .await?;
    for (name, id) in &rows {
        let Some(entity) = entities::by_name(name) else {
            continue;
        };
        let removed = sqlx::query(&format!("DELETE FROM {} WHERE id = ?", entity.table))
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if removed > 0 {
            *erased.rows.entry(entity.name.to_owned()).or_default() += removed as usize;
        }
        erased.unsent_edits +=
            sqlx::query("DELETE FROM change_log WHERE entity = ? AND row_id = ?")
                .bind(entity.name)
                .bind(id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        for table in ["conflicts", "rejected_changes"] {
            let column = if table == "conflicts" {
                "row_id"
            } else {
                "json_extract(change, '$.row_id')"
            };
            sqlx::query(&format!("DELETE FROM {table} WHERE {column} = ?"))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("INSERT OR IGNORE INTO erased_rows (entity, row_id) VALUES (?, ?)")
            .bind(entity.name)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    for hash in suppress {
        sqlx::query("INSERT OR IGNORE INTO suppressed_identities (hash) VALUES (?)")
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(erased)
}

/// Whether an event belongs to an erased person (its userId, anonymousId or traits'
/// email hashes to a suppressed identifier): such events are not stored.
pub async fn is_suppressed(
    conn: &mut SqliteConnection,
    event: &hub_protocol::Event,
) -> Result<bool> {
    let hashes = event.identity_hashes();
    if hashes.is_empty() {
        return Ok(false);
    }
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM suppressed_identities WHERE hash IN (SELECT value FROM json_each(?)))",
    )
    .bind(serde_json::to_string(&hashes).unwrap_or_default())
    .fetch_one(conn)
    .await?)
}

/// The message ids of the events that belong to erased people ([`is_suppressed`] for a
/// batch: one query, none when nobody was erased).
pub async fn suppressed_among<'e>(
    conn: &mut SqliteConnection,
    events: impl Iterator<Item = &'e hub_protocol::Event>,
) -> Result<HashSet<String>> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM suppressed_identities)")
        .fetch_one(&mut *conn)
        .await?;
    if !any {
        return Ok(HashSet::new());
    }
    let mut by_hash: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for event in events {
        for hash in event.identity_hashes() {
            by_hash.entry(hash).or_default().push(&event.message_id);
        }
    }
    let hashes: Vec<&String> = by_hash.keys().collect();
    let hits: Vec<String> = sqlx::query_scalar(
        "SELECT hash FROM suppressed_identities WHERE hash IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(&hashes).unwrap_or_default())
    .fetch_all(&mut *conn)
    .await?;
    Ok(hits
        .iter()
        .flat_map(|h| by_hash[h].iter().map(|m| (*m).to_owned()))
        .collect())
}

/// What this device knows is erased, loaded once per transaction when a remote change
/// arrives (two indexed reads; both sets are empty on most devices).
#[derive(Debug, Default)]
pub struct ErasedSet {
    rows: HashSet<(String, String)>,
    contacts: HashSet<String>,
}

impl ErasedSet {
    pub(crate) async fn load(conn: &mut SqliteConnection) -> Result<ErasedSet> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT entity, row_id FROM erased_rows")
            .fetch_all(&mut *conn)
            .await?;
        let contacts: Vec<String> =
            sqlx::query_scalar("SELECT contact_id FROM erasures WHERE contact_id IS NOT NULL")
                .fetch_all(&mut *conn)
                .await?;
        Ok(ErasedSet {
            rows: rows.into_iter().collect(),
            contacts: contacts.into_iter().collect(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.contacts.is_empty()
    }

    /// Whether a change to this row (its values read through `field`) must be dropped:
    /// the row was erased, or it links to an erased contact.
    pub(crate) fn holds<'v>(
        &self,
        entity: &str,
        row: &str,
        field: impl Fn(&str) -> Option<&'v Value>,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        if self.rows.contains(&(entity.to_owned(), row.to_owned())) {
            return true;
        }
        if entity == CONTACT.name && self.contacts.contains(row) {
            return true;
        }
        let points_at_erased = |name: &str| {
            field(name)
                .and_then(Value::as_str)
                .is_some_and(|c| self.contacts.contains(c))
        };
        entity != ERASURE.name
            && entity != DEAL.name
            && (points_at_erased("contact_id")
                || (entity == entities::CUSTOM_VALUE.name && points_at_erased("row_id")))
    }

    pub(crate) fn remember(&mut self, entity: &str, row: &str) {
        self.rows.insert((entity.to_owned(), row.to_owned()));
    }
}

/// Everything the hub holds about a contact, for a subject-access request.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectExport {
    pub contact_id: String,
    pub exported_at: String,
    /// Synced rows by entity: every column, as stored.
    pub records: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Behavioural events, oldest first, as received.
    pub events: Vec<Value>,
    /// Segment entries and exits.
    pub segments: Vec<Map<String, Value>>,
}

/// Gather everything about a contact (module docs). Deleted rows (in the trash) are
/// included: they are still held.
pub async fn subject_export(store: &Store, contact: Uuid) -> Result<SubjectExport> {
    let mut conn = store.pool().acquire().await?;
    let id = contact.to_string();
    let rk: Option<i64> = sqlx::query_scalar("SELECT rk FROM contacts WHERE id = ?")
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(rk) = rk else {
        return Err(Error::not_found("contact", id));
    };
    let mut rows = rows_of(&mut conn, &id).await?;
    let deals: Vec<String> = sqlx::query_scalar("SELECT id FROM deals WHERE contact_id = ?")
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    rows.extend(deals.into_iter().map(|d| (DEAL.name, d)));
    let mut records: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    for (name, row) in rows {
        let Some(entity) = entities::by_name(name) else {
            continue;
        };
        let object = format!(
            "json_object('id', id{})",
            entity
                .fields
                .iter()
                .map(|f| format!(", '{f}', {f}"))
                .collect::<String>()
        );
        let text: Option<String> = sqlx::query_scalar(&format!(
            "SELECT {object} FROM {} WHERE id = ?",
            entity.table
        ))
        .bind(&row)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(Value::Object(map)) = text.and_then(|t| serde_json::from_str(&t).ok()) {
            records.entry(entity.name.to_owned()).or_default().push(map);
        }
    }
    let anonymous: Vec<String> = sqlx::query_scalar(
        "SELECT value FROM identities WHERE contact_id = ? AND kind IN ('anonymous_id', 'user_id')",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM events WHERE contact_rk = ?1
            OR user_id IN (SELECT value FROM json_each(?2))
            OR anonymous_id IN (SELECT value FROM json_each(?2))
          ORDER BY at_ms, rk",
    )
    .bind(rk)
    .bind(serde_json::to_string(&anonymous).unwrap_or_default())
    .fetch_all(&mut *conn)
    .await?;
    let events = bodies
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect();
    let history: Vec<String> = sqlx::query_scalar(
        "SELECT json_object('segment', coalesce(s.name, h.segment_id), 'kind', h.kind, 'at', h.at)
           FROM segment_history h LEFT JOIN segments s ON s.id = h.segment_id
          WHERE h.contact_id = ? ORDER BY h.at, h.rk",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let segments = history
        .iter()
        .filter_map(|h| match serde_json::from_str(h) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        })
        .collect();
    Ok(SubjectExport {
        contact_id: id,
        exported_at: now_rfc3339(),
        records,
        events,
        segments,
    })
}

impl SubjectExport {
    /// The export as CSV (RFC 4180, as `hub export csv` writes it):
    /// `section,record,field,value`, one line per stored value (nested event fields as
    /// JSON text), with a header line.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("section,record,field,value\r\n");
        let mut line = |section: &str, record: &str, field: &str, value: &Value| {
            let text = match value {
                Value::Null => return,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            for (i, cell) in [section, record, field, &text].into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::export::csv::push_field(&mut out, cell);
            }
            out.push_str("\r\n");
        };
        for (entity, rows) in &self.records {
            for row in rows {
                let record = row.get("id").and_then(Value::as_str).unwrap_or_default();
                for (field, value) in row {
                    line(entity, record, field, value);
                }
            }
        }
        for event in &self.events {
            let record = event
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Value::Object(map) = event {
                for (field, value) in map {
                    line("event", record, field, value);
                }
            }
        }
        for (n, entry) in self.segments.iter().enumerate() {
            for (field, value) in entry {
                line("segment_history", &n.to_string(), field, value);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activities::{self, ActivityInput, ActivityKind};
    use crate::contacts::{self, ContactInput, EmailEntry};
    use chrono::Utc;
    use hub_protocol::{Event, EventType};

    async fn ada(store: &Store) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                display_name: Some("Ada Lovelace".into()),
                title: Some("Analyst".into()),
                emails: vec![EmailEntry {
                    kind: "work".into(),
                    address: "ada@example.com".into(),
                }],
                tags: vec!["VIP".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    fn identify(user: &str, email: &str, message: &str) -> Event {
        Event {
            message_id: message.into(),
            kind: EventType::Identify,
            user_id: Some(user.into()),
            anonymous_id: Some(format!("anon-{user}")),
            name: None,
            timestamp: Utc::now(),
            received_at: Utc::now(),
            body: json!({"traits": {"email": email}})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    /// Every value the change log holds, as text.
    async fn log_text(store: &Store) -> String {
        let fields: Vec<String> = sqlx::query_scalar("SELECT fields FROM change_log")
            .fetch_all(store.pool())
            .await
            .unwrap();
        fields.join("\n")
    }

    #[tokio::test]
    async fn erasing_removes_the_person_and_keeps_the_business_records() {
        let store = Store::open_in_memory().await.unwrap();
        let id = ada(&store).await;
        crate::events::store(&store, &[identify("u-ada", "ada@example.com", "m1")])
            .await
            .unwrap();
        activities::log(
            &store,
            ActivityInput {
                contact_id: Some(id),
                body: Some("Prefers calls after 5".into()),
                ..ActivityInput::new(ActivityKind::Note)
            },
        )
        .await
        .unwrap();
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(events, 1);
        let export = subject_export(&store, id).await.unwrap();
        assert_eq!(
            export.records["contact_email"][0]["address"],
            "ada@example.com"
        );
        assert_eq!(export.events.len(), 1);
        assert!(export.to_csv().contains("contact_email,"));

        let erased = erase(&store, id).await.unwrap();
        assert_eq!(erased.rows["contact"], 1);
        assert_eq!(erased.rows["contact_email"], 1);
        assert_eq!(erased.rows["activity"], 1);
        assert_eq!(erased.events, 1);
        for table in [
            "contacts",
            "contact_emails",
            "contact_tags",
            "activities",
            "events",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        // Nothing about the person is left to sync but the erasure itself.
        let log = log_text(&store).await;
        assert!(
            !log.contains("Lovelace") && !log.contains("ada@example.com"),
            "{log}"
        );
        assert!(!log.contains("Prefers calls"), "{log}");
        assert!(matches!(
            contacts::get(&store, id).await.unwrap_err(),
            Error::NotFound { .. }
        ));
        assert_eq!(erase(&store, id).await.unwrap_err().code(), "validation");
        assert_eq!(
            subject_export(&store, id).await.unwrap_err().code(),
            "not_found"
        );
        // Later events of the person are not stored.
        let later = crate::events::store(
            &store,
            &[
                identify("u-ada", "x@y.z", "m2"),
                identify("u-bob", "bob@example.com", "m4"),
            ],
        )
        .await
        .unwrap();
        assert_eq!((later.stored, later.suppressed), (1, 1));
        let mut conn = store.pool().acquire().await.unwrap();
        assert!(is_suppressed(&mut conn, &identify("u-ada", "x@y.z", "m2"))
            .await
            .unwrap());
        assert!(
            is_suppressed(&mut conn, &identify("u-other", "ADA@example.com", "m3"))
                .await
                .unwrap()
        );
        assert!(
            !is_suppressed(&mut conn, &identify("u-bob", "bob@example.com", "m4"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_device_that_receives_the_erasure_removes_the_person_and_refuses_them_back() {
        let a = Store::open_in_memory().await.unwrap();
        let b = Store::open_in_memory().await.unwrap();
        let id = ada(&a).await;
        // B has everything A had (as sync would bring it).
        let created = crate::changes::outbox(&a, u32::MAX).await.unwrap();
        let mut tx = b.write().await.unwrap();
        for change in &created {
            tx.apply_remote(change).await.unwrap();
        }
        tx.commit().await.unwrap();
        // B edits the contact offline and adds a phone; meanwhile A erases.
        contacts::update(
            &b,
            id,
            ContactInput {
                display_name: Some("Ada King".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let b_edits = crate::changes::outbox(&b, u32::MAX).await.unwrap();
        assert!(!b_edits.is_empty());
        let before = crate::changes::outbox(&a, u32::MAX).await.unwrap().len();
        erase(&a, id).await.unwrap();
        let erasure: Vec<_> = crate::changes::outbox(&a, u32::MAX)
            .await
            .unwrap()
            .into_iter()
            .skip(before.saturating_sub(created.len()))
            .filter(|c| c.entity == "erasure")
            .collect();
        assert_eq!(erasure.len(), 1);
        // B pulls the erasure.
        let mut tx = b.write().await.unwrap();
        tx.apply_remote(&erasure[0]).await.unwrap();
        let done = follow(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(done.len(), 1);
        assert!(
            done[0].unsent_edits > 0,
            "B's unsent edit of the person is dropped"
        );
        assert_eq!(contacts::count(&b).await.unwrap(), 0);
        assert!(!log_text(&b).await.contains("Ada King"));
        // A's old changes, and B's own edit coming back from elsewhere, change nothing.
        let mut tx = b.write().await.unwrap();
        let mut dropped = 0;
        for change in created.iter().chain(&b_edits) {
            dropped += tx.apply_remote(change).await.unwrap().erased;
        }
        tx.commit().await.unwrap();
        // All but the tag "VIP" itself, which is the business's, not the person's.
        let personal = created.iter().filter(|c| c.entity != "tag").count();
        assert_eq!(dropped, personal + b_edits.len());
        assert_eq!(contacts::count(&b).await.unwrap(), 0);
        let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM contact_emails")
            .fetch_one(b.pool())
            .await
            .unwrap();
        assert_eq!(emails, 0);
    }
}
