//! The trash: deleted records, restorable.
//!
//! A delete writes the `deleted_at` tombstone and keeps the row, so it syncs
//! and merges like any field (docs/sync.md). The trash lists those rows, newest
//! delete first; restoring clears the tombstone as a new edit, which syncs.
//!
//! **Edited after delete.** An edit and a delete made on two devices offline
//! both survive the merge: the row stays deleted, with the edit applied. A
//! device that had seen the delete cannot edit the row (the write path refuses
//! deleted rows), so a field whose clock is later than the tombstone's was
//! written by a device that had not seen the delete: the trash flags the row
//! with those fields, so the user can restore it with the edit. An edit made
//! concurrently but stamped earlier than the delete is in the row too, but
//! cannot be told apart from one the deleting device had seen; it is not
//! flagged.

use std::cmp::Reverse;

use hub_protocol::Hlc;
use serde::Serialize;
use serde_json::{Map, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::entities::{self, EntityDef};
use crate::error::{Error, Result};
use crate::Store;

/// What can be in the trash, with the SQL that names a row to a person.
pub static TRASHABLE: &[(&EntityDef, &str)] = &[
    (&entities::CONTACT, "display_name"),
    (&entities::COMPANY, "name"),
    (&entities::DEAL, "title"),
    (&entities::TICKET, "subject"),
    (&entities::REMINDER, "title"),
    (&entities::ACTIVITY, "coalesce(subject, kind)"),
];

/// The key of the clock shared by every field a row's `clocks` does not list.
const ALL_FIELDS: &str = "*";

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TrashItem {
    /// The entity's wire name (`contact`, `deal`, …).
    pub entity: String,
    #[ts(type = "string")]
    pub id: Uuid,
    pub label: String,
    /// When it was deleted (RFC 3339).
    pub deleted_at: String,
    /// Fields written after the delete by a device that had not seen it.
    pub edited_after_delete: Vec<String>,
}

/// Deleted records of `entity` (or of every trashable entity), newest delete
/// first, at most `limit`.
pub async fn list(store: &Store, entity: Option<&str>, limit: u32) -> Result<Vec<TrashItem>> {
    let wanted = match entity {
        Some(name) => vec![trashable(name)?],
        None => TRASHABLE.iter().collect(),
    };
    let mut items = Vec::new();
    for (entity, label) in wanted {
        let rows: Vec<(String, Option<String>, String, String)> = sqlx::query_as(&format!(
            "SELECT id, {label}, deleted_at, clocks FROM {} WHERE deleted_at IS NOT NULL \
             ORDER BY deleted_at DESC LIMIT ?",
            entity.table
        ))
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
        for (id, label, deleted_at, clocks) in rows {
            items.push(TrashItem {
                entity: entity.name.to_owned(),
                id: Uuid::parse_str(&id).map_err(|_| Error::not_found(entity.name, &id))?,
                label: label.unwrap_or_default(),
                deleted_at,
                edited_after_delete: edited_after_delete(entity, &clocks),
            });
        }
    }
    items.sort_by_key(|i| Reverse(i.deleted_at.clone()));
    items.truncate(limit as usize);
    Ok(items)
}

/// Takes a record out of the trash: the tombstone is cleared as a new edit,
/// with every value it had (an edit made after the delete included).
pub async fn restore(store: &Store, entity: &str, id: Uuid) -> Result<TrashItem> {
    let (def, _) = trashable(entity)?;
    let item = list_one(store, def, id).await?;
    let mut tx = store.write().await?;
    tx.update(def, id, vec![("deleted_at", Value::Null)])
        .await?;
    tx.commit().await?;
    Ok(item)
}

async fn list_one(store: &Store, def: &EntityDef, id: Uuid) -> Result<TrashItem> {
    let (entity, label) = trashable(def.name)?;
    let row: Option<(Option<String>, Option<String>, String)> = sqlx::query_as(&format!(
        "SELECT {label}, deleted_at, clocks FROM {} WHERE id = ?",
        entity.table
    ))
    .bind(id.to_string())
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some((label, Some(deleted_at), clocks)) => Ok(TrashItem {
            entity: entity.name.to_owned(),
            id,
            label: label.unwrap_or_default(),
            deleted_at,
            edited_after_delete: edited_after_delete(entity, &clocks),
        }),
        // Absent, or not deleted: either way not in the trash.
        _ => Err(Error::not_found(entity.name, id)),
    }
}

fn trashable(name: &str) -> Result<&'static (&'static EntityDef, &'static str)> {
    TRASHABLE
        .iter()
        .find(|(e, _)| e.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = TRASHABLE.iter().map(|(e, _)| e.name).collect();
            Error::invalid(
                "entity",
                format!("\"{name}\" has no trash; one of: {}", names.join(", ")),
            )
        })
}

/// The fields of a deleted row whose clock is later than its tombstone's.
fn edited_after_delete(entity: &EntityDef, clocks: &str) -> Vec<String> {
    let clocks: Map<String, Value> = serde_json::from_str(clocks).unwrap_or_default();
    let clock_of = |field: &str| -> Option<Hlc> {
        clocks
            .get(field)
            .or_else(|| clocks.get(ALL_FIELDS))
            .and_then(Value::as_str)
            .and_then(|c| c.parse().ok())
    };
    let Some(deleted) = clock_of("deleted_at") else {
        return Vec::new();
    };
    entity
        .fields
        .iter()
        .filter(|f| **f != "deleted_at")
        .filter(|f| clock_of(f).is_some_and(|c| c > deleted))
        .map(|f| (*f).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::outbox;
    use crate::contacts::{self, ContactInput};

    fn person(name: &str) -> ContactInput {
        ContactInput {
            display_name: Some(name.into()),
            ..Default::default()
        }
    }

    /// Apply every change `from` made to `to`, as a pull would.
    async fn deliver(from: &Store, to: &Store) {
        let mut tx = to.write().await.unwrap();
        for change in outbox(from, u32::MAX).await.unwrap() {
            tx.apply_remote(&change).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_deleted_contact_is_listed_and_restored_as_an_edit() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contacts::create(&store, person("Ada Lovelace"))
            .await
            .unwrap();
        let grace = contacts::create(&store, person("Grace Hopper"))
            .await
            .unwrap();
        contacts::delete(&store, ada.id).await.unwrap();
        assert!(list(&store, None, 50)
            .await
            .unwrap()
            .iter()
            .all(|i| i.id != grace.id));
        let trash = list(&store, Some("contact"), 50).await.unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].label, "Ada Lovelace");
        assert!(trash[0].edited_after_delete.is_empty());

        let logged = outbox(&store, u32::MAX).await.unwrap().len();
        restore(&store, "contact", ada.id).await.unwrap();
        assert_eq!(
            contacts::get(&store, ada.id).await.unwrap().display_name,
            "Ada Lovelace"
        );
        assert!(list(&store, None, 50).await.unwrap().is_empty());
        assert_eq!(
            outbox(&store, u32::MAX).await.unwrap().len(),
            logged + 1,
            "a synced edit"
        );
        // Not in the trash any more: restoring again is not found, and so is an unknown kind.
        assert_eq!(
            restore(&store, "contact", ada.id).await.unwrap_err().code(),
            "not_found"
        );
        assert_eq!(
            restore(&store, "tag", ada.id).await.unwrap_err().code(),
            "validation"
        );
    }

    #[tokio::test]
    async fn an_edit_made_offline_after_a_delete_is_flagged_and_restored_with_the_row() {
        let (a, b) = (
            Store::open_in_memory().await.unwrap(),
            Store::open_in_memory().await.unwrap(),
        );
        let ada = contacts::create(&a, person("Ada Lovelace")).await.unwrap();
        deliver(&a, &b).await;
        // A deletes; B, offline and later, changes the title.
        contacts::delete(&a, ada.id).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let mut edit = ContactInput::from(&ada);
        edit.title = Some("Countess".into());
        contacts::update(&b, ada.id, edit).await.unwrap();
        deliver(&a, &b).await;
        deliver(&b, &a).await;

        for store in [&a, &b] {
            let trash = list(store, None, 50).await.unwrap();
            assert_eq!(trash.len(), 1);
            assert_eq!(trash[0].edited_after_delete, vec!["title".to_owned()]);
        }
        restore(&a, "contact", ada.id).await.unwrap();
        let back = contacts::get(&a, ada.id).await.unwrap();
        assert_eq!(back.title.as_deref(), Some("Countess"));
    }

    #[tokio::test]
    async fn an_edit_the_deleter_had_seen_is_not_flagged() {
        let (a, b) = (
            Store::open_in_memory().await.unwrap(),
            Store::open_in_memory().await.unwrap(),
        );
        let ada = contacts::create(&a, person("Ada Lovelace")).await.unwrap();
        let mut edit = ContactInput::from(&ada);
        edit.title = Some("Countess".into());
        contacts::update(&a, ada.id, edit).await.unwrap();
        deliver(&a, &b).await;
        contacts::delete(&b, ada.id).await.unwrap();
        deliver(&b, &a).await;
        let trash = list(&a, None, 50).await.unwrap();
        assert_eq!(trash.len(), 1);
        assert!(trash[0].edited_after_delete.is_empty());
    }
}
