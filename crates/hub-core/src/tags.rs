//! Manual tags. A tag's id is derived from its lower-cased name, and a
//! contact-tag link's id from the pair, so devices that tag offline converge
//! on one tag and one link instead of duplicates.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::WriteTx;
use crate::entities::{CONTACT_TAG, TAG};
use crate::error::{Error, Result};
use crate::store::Store;

const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8a4d_4f0b_9e57_2d1c_0a93_e6f4);
const MAX_LEN: usize = 50;
const PALETTE: [&str; 8] = [
    "#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#4b5563",
];

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Tag {
    pub id: Uuid,
    pub name: String,
    pub color: Option<String>,
    pub contact_count: u32,
}

pub fn tag_id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.trim().to_lowercase().as_bytes())
}

fn link_id(contact: Uuid, tag: Uuid) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{contact}/{tag}").as_bytes())
}

/// Trim, drop empties and case-insensitive repeats; `field` names the input
/// in error messages.
pub fn clean_names(names: &[String], field: &str) -> Result<Vec<String>, crate::FieldError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > MAX_LEN {
            return Err(crate::FieldError::new(
                field,
                format!("Tag \"{name}\" is longer than {MAX_LEN} characters"),
            ));
        }
        if !out.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Make sure a live tag with this name exists; returns its id.
pub(crate) async fn ensure(tx: &mut WriteTx, name: &str) -> Result<Uuid> {
    let id = tag_id(name);
    let state: Option<Option<String>> =
        sqlx::query_scalar("SELECT deleted_at FROM tags WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    match state {
        None => {
            let color = PALETTE[id.as_bytes()[0] as usize % PALETTE.len()];
            tx.insert(
                &TAG,
                id,
                vec![("name", json!(name)), ("color", json!(color))],
            )
            .await?;
        }
        Some(Some(_)) => {
            tx.update(&TAG, id, vec![("deleted_at", Value::Null)])
                .await?;
        }
        Some(None) => {}
    }
    Ok(id)
}

/// Make the contact's live tags exactly `names` (already cleaned).
pub(crate) async fn set_for_contact(
    tx: &mut WriteTx,
    contact: Uuid,
    names: &[String],
) -> Result<()> {
    let mut wanted = Vec::with_capacity(names.len());
    for name in names {
        wanted.push(ensure(tx, name).await?);
    }
    let links: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, tag_id, deleted_at FROM contact_tags WHERE contact_id = ?")
            .bind(contact.to_string())
            .fetch_all(tx.conn())
            .await?;
    for (link, tag, deleted_at) in &links {
        let keep = wanted.iter().any(|w| w.to_string() == *tag);
        let link = Uuid::parse_str(link).map_err(|_| Error::not_found("contact_tag", link))?;
        if keep && deleted_at.is_some() {
            tx.update(&CONTACT_TAG, link, vec![("deleted_at", Value::Null)])
                .await?;
        } else if !keep && deleted_at.is_none() {
            tx.delete(&CONTACT_TAG, link).await?;
        }
    }
    let new_links: Vec<_> = wanted
        .iter()
        .filter(|w| !links.iter().any(|(_, tag, _)| *tag == w.to_string()))
        .map(|tag| {
            (
                link_id(contact, *tag),
                vec![
                    ("contact_id", json!(contact.to_string())),
                    ("tag_id", json!(tag.to_string())),
                ],
            )
        })
        .collect();
    tx.insert_many(&CONTACT_TAG, new_links).await
}

/// Tag new contacts in bulk (no existing links to reconcile).
pub(crate) async fn add_to_new_contacts(
    tx: &mut WriteTx,
    tagged: Vec<(Uuid, Vec<String>)>,
) -> Result<()> {
    let mut tag_ids = std::collections::HashMap::new();
    let mut rows = Vec::new();
    for (contact, names) in tagged {
        for name in names {
            let key = name.to_lowercase();
            let tag = match tag_ids.get(&key) {
                Some(id) => *id,
                None => {
                    let id = ensure(tx, &name).await?;
                    tag_ids.insert(key, id);
                    id
                }
            };
            rows.push((
                link_id(contact, tag),
                vec![
                    ("contact_id", json!(contact.to_string())),
                    ("tag_id", json!(tag.to_string())),
                ],
            ));
        }
    }
    tx.insert_many(&CONTACT_TAG, rows).await
}

/// Every live tag with how many live contacts carry it.
pub async fn list(store: &Store) -> Result<Vec<Tag>> {
    let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT t.id, t.name, t.color,
                (SELECT count(*) FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id
                  WHERE ct.tag_id = t.id AND ct.deleted_at IS NULL AND c.deleted_at IS NULL)
           FROM tags t WHERE t.deleted_at IS NULL ORDER BY t.name COLLATE NOCASE",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, color, count)| {
            Some(Tag {
                id: Uuid::parse_str(&id).ok()?,
                name,
                color,
                contact_count: count as u32,
            })
        })
        .collect())
}

/// Live tag names of one contact, alphabetical.
pub(crate) async fn names_of(conn: &mut SqliteConnection, contact: Uuid) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
          WHERE ct.contact_id = ? AND ct.deleted_at IS NULL AND t.deleted_at IS NULL
          ORDER BY t.name COLLATE NOCASE",
    )
    .bind(contact.to_string())
    .fetch_all(conn)
    .await?)
}
