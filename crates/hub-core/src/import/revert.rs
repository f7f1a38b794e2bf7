//! The import history and reverting an import.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, WriteTx};
use crate::entities::{self, EntityDef, IMPORT};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::users;

/// One recorded import, as the history lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportSummary {
    pub id: Uuid,
    pub file_name: String,
    pub format: String,
    pub created_by: String,
    pub created_at: String,
    /// `done` or `reverted`.
    pub status: String,
    pub reverted_at: Option<String>,
    pub reverted_by: Option<String>,
    /// created, updated, skipped, errors, companies_created, ... (numbers).
    #[ts(type = "Record<string, number>")]
    pub counts: Value,
    /// Column → target field (null: skipped).
    #[ts(type = "Record<string, string | null>")]
    pub mapping: Value,
}

/// What a revert did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RevertReport {
    pub import_id: Uuid,
    /// Rows the import created that are now deleted.
    pub removed: u64,
    /// Fields the import changed that now hold their old value again.
    pub restored: u64,
    /// Fields changed again since the import: left as they are now.
    pub kept_newer: u64,
    /// Created companies and tags still used by records the import did not
    /// create: kept.
    pub kept_in_use: u64,
}

type SummaryRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const SELECT: &str = "SELECT id, file_name, format, created_by, created_at, status, reverted_at,
    reverted_by, counts, mapping FROM imports WHERE deleted_at IS NULL";

fn summary(row: SummaryRow) -> Option<ImportSummary> {
    let (id, file_name, format, by, at, status, reverted_at, reverted_by, counts, mapping) = row;
    Some(ImportSummary {
        id: Uuid::parse_str(&id).ok()?,
        file_name: file_name.unwrap_or_default(),
        format: format.unwrap_or_default(),
        created_by: by.unwrap_or_default(),
        created_at: at.unwrap_or_default(),
        status: status.unwrap_or_default(),
        reverted_at,
        reverted_by,
        counts: counts
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_else(|| json!({})),
        mapping: mapping
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_else(|| json!({})),
    })
}

/// Every recorded import, newest first.
pub async fn list(store: &Store) -> Result<Vec<ImportSummary>> {
    let rows: Vec<SummaryRow> =
        sqlx::query_as(&format!("{SELECT} ORDER BY created_at DESC, rk DESC"))
            .fetch_all(store.pool())
            .await?;
    Ok(rows.into_iter().filter_map(summary).collect())
}

pub async fn get(store: &Store, id: Uuid) -> Result<ImportSummary> {
    let row: Option<SummaryRow> = sqlx::query_as(&format!("{SELECT} AND id = ?"))
        .bind(id.to_string())
        .fetch_optional(store.pool())
        .await?;
    row.and_then(summary)
        .ok_or_else(|| Error::not_found("import", id))
}

/// Undo an import, in one transaction that syncs like any edit: rows it
/// created are deleted, fields it changed get their previous values back.
/// A field edited again since the import keeps the newer value (and is
/// counted in `kept_newer`); a company or tag the import created that other
/// records now use is kept. Works on any device that has synced the import.
pub async fn revert(store: &Store, id: Uuid) -> Result<RevertReport> {
    let import = get(store, id).await?;
    if import.status == "reverted" {
        return Err(Error::invalid(
            "import",
            format!(
                "import {id} ({}) was already reverted{}",
                import.file_name,
                import
                    .reverted_at
                    .as_deref()
                    .map(|at| format!(" at {at}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let who = users::current(store).await?;
    let mut tx = store.write().await?;
    let batches: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT created, updated FROM import_batches
          WHERE import_id = ? AND deleted_at IS NULL ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(tx.conn())
    .await?;
    let mut created: Vec<(String, String)> = Vec::new();
    let mut updated: Vec<Value> = Vec::new();
    for (c, u) in batches {
        let c: Vec<(String, String)> = c
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default();
        created.extend(c);
        let u: Vec<Value> = u
            .and_then(|u| serde_json::from_str(&u).ok())
            .unwrap_or_default();
        updated.extend(u);
    }
    let mut report = RevertReport {
        import_id: id,
        ..Default::default()
    };

    // Updates first, newest first, so a field changed twice ends at its first value.
    for entry in updated.iter().rev() {
        let (Some(entity), Some(row)) = (
            entry["entity"].as_str().and_then(entities::by_name),
            entry["id"].as_str().and_then(|i| Uuid::parse_str(i).ok()),
        ) else {
            continue;
        };
        let before = entry["before"].as_object().cloned().unwrap_or_default();
        let after = entry["after"].as_object().cloned().unwrap_or_default();
        let current = read_fields(&mut tx, entity, row, after.keys()).await?;
        let Some(current) = current else { continue };
        let mut restore = Vec::new();
        for (field, value) in &after {
            let Some(field) = entity.fields.iter().copied().find(|f| f == field) else {
                continue;
            };
            if current.get(field).unwrap_or(&Value::Null) == value {
                restore.push((field, before.get(field).cloned().unwrap_or(Value::Null)));
            } else {
                report.kept_newer += 1;
            }
        }
        if !restore.is_empty() {
            report.restored += tx.update(entity, row, restore).await? as u64;
        }
    }

    // Created rows: dependants before what they point at.
    let order = |entity: &str| match entity {
        "company" => 3,
        "tag" => 3,
        "contact" => 2,
        _ => 1,
    };
    created.sort_by_key(|(e, _)| order(e));
    for (entity_name, row) in &created {
        let (Some(entity), Ok(row)) = (entities::by_name(entity_name), Uuid::parse_str(row)) else {
            continue;
        };
        if matches!(entity_name.as_str(), "company" | "tag") && in_use(&mut tx, entity, row).await?
        {
            report.kept_in_use += 1;
            continue;
        }
        match tx.delete(entity, row).await {
            Ok(true) => report.removed += 1,
            Ok(false) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let now = now_rfc3339();
    tx.update(
        &IMPORT,
        id,
        vec![
            ("status", json!("reverted")),
            ("reverted_at", json!(now)),
            ("reverted_by", json!(who)),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// The given fields of a live or deleted row; None when the row is unknown here.
async fn read_fields<'k>(
    tx: &mut WriteTx,
    entity: &EntityDef,
    row: Uuid,
    fields: impl Iterator<Item = &'k String>,
) -> Result<Option<Map<String, Value>>> {
    let pairs: Vec<String> = fields
        .filter(|f| entity.has_field(f))
        .map(|f| format!("'{f}', {f}"))
        .collect();
    if pairs.is_empty() {
        return Ok(None);
    }
    let text: Option<String> = sqlx::query_scalar(&format!(
        "SELECT json_object({}) FROM {} WHERE id = ?",
        pairs.join(", "),
        entity.table
    ))
    .bind(row.to_string())
    .fetch_optional(tx.conn())
    .await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Is this company or tag still used by a live record (after the import's
/// own rows were deleted)?
async fn in_use(tx: &mut WriteTx, entity: &EntityDef, row: Uuid) -> Result<bool> {
    let checks: &[&str] = if entity.name == "company" {
        &[
            "SELECT 1 FROM contacts WHERE company_id = ?1 AND deleted_at IS NULL",
            "SELECT 1 FROM deals WHERE company_id = ?1 AND deleted_at IS NULL",
            "SELECT 1 FROM tickets WHERE company_id = ?1 AND deleted_at IS NULL",
            "SELECT 1 FROM activities WHERE company_id = ?1 AND deleted_at IS NULL",
        ]
    } else {
        &[
            "SELECT 1 FROM contact_tags WHERE tag_id = ?1 AND deleted_at IS NULL",
            "SELECT 1 FROM company_tags WHERE tag_id = ?1 AND deleted_at IS NULL",
            "SELECT 1 FROM deal_tags WHERE tag_id = ?1 AND deleted_at IS NULL",
        ]
    };
    for sql in checks {
        let found: Option<i64> = sqlx::query_scalar(&format!("{sql} LIMIT 1"))
            .bind(row.to_string())
            .fetch_optional(tx.conn())
            .await?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
