//! Conflicts: versions the sync server kept because the write that beat them
//! had not seen them (docs/sync.md, "The merge rule"). They arrive with pull
//! and snapshot; the user sees both values side by side and may restore the
//! losing one, which is simply a new edit that syncs like any other.

use hub_protocol::wire::ConflictRecord;
use hub_protocol::Hlc;
use serde::Serialize;
use serde_json::Value;
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::now_rfc3339;
use crate::entities::{self, EntityDef};
use crate::error::{Error, Result};
use crate::store::Store;

/// Where a conflict stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ConflictStatus {
    /// The winner is still the field's value.
    Open,
    /// The field holds the lost value again (restored here or elsewhere).
    Restored,
    /// The field was edited since; neither side is current.
    Superseded,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Conflict {
    pub id: String,
    pub entity: String,
    pub row_id: String,
    /// What the row is, for people: a contact's name, an email address, …
    pub row_label: String,
    pub field: String,
    #[ts(type = "unknown")]
    pub lost_value: Value,
    #[ts(type = "unknown")]
    pub winner_value: Value,
    /// The field's value on this device now.
    #[ts(type = "unknown")]
    pub current_value: Value,
    pub lost_device: String,
    pub winner_device: String,
    /// When each side was written (from its clock), RFC 3339.
    pub lost_at: String,
    pub winner_at: String,
    pub detected_at: String,
    pub restored_at: Option<String>,
    pub status: ConflictStatus,
}

/// Store conflict records from the server, once each. Returns how many were new.
pub(crate) async fn record(conn: &mut SqliteConnection, records: &[ConflictRecord]) -> Result<u64> {
    let mut new = 0;
    for c in records {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO conflicts (id, entity, row_id, field, lost_value, lost_clock, \
             lost_device, winner_value, winner_clock, winner_device, detected_at, seq) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.to_string())
        .bind(&c.entity)
        .bind(c.row_id.to_string())
        .bind(&c.field)
        .bind(c.lost_value.to_string())
        .bind(c.lost_clock.to_string())
        .bind(c.lost_device.to_string())
        .bind(c.winner_value.to_string())
        .bind(c.winner_clock.to_string())
        .bind(c.winner_device.to_string())
        .bind(
            c.detected_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
        .bind(c.seq)
        .execute(&mut *conn)
        .await?;
        new += done.rows_affected();
    }
    Ok(new)
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

const COLUMNS: &str = "id, entity, row_id, field, lost_value, lost_clock, lost_device, \
                       winner_value, winner_clock, winner_device, detected_at, restored_at";

/// Conflicts, newest first; with `all`, also those restored or superseded.
pub async fn list(store: &Store, all: bool) -> Result<Vec<Conflict>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conflicts ORDER BY detected_at DESC, id"
    ))
    .fetch_all(store.pool())
    .await?;
    let mut conn = store.pool().acquire().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let conflict = view(&mut conn, row).await?;
        if all || conflict.status == ConflictStatus::Open {
            out.push(conflict);
        }
    }
    Ok(out)
}

/// How many conflicts are still open.
pub async fn open_count(store: &Store) -> Result<i64> {
    Ok(list(store, false).await?.len() as i64)
}

pub async fn get(store: &Store, id: &str) -> Result<Conflict> {
    let mut conn = store.pool().acquire().await?;
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM conflicts WHERE id = ?"))
        .bind(id.trim())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => view(&mut conn, row).await,
        None => Err(Error::not_found("conflict", id.trim())),
    }
}

/// Put the lost value back: a new edit of the field (its `base` is the
/// current value, so the server records it as an informed overwrite) that
/// syncs to every device.
pub async fn restore(store: &Store, id: &str) -> Result<Conflict> {
    let conflict = get(store, id).await?;
    let Some(entity) = entities::by_name(&conflict.entity) else {
        return Err(Error::invalid(
            "entity",
            format!("this version cannot edit {} rows", conflict.entity),
        ));
    };
    let Some(field) = entity.fields.iter().copied().find(|f| *f == conflict.field) else {
        return Err(Error::invalid(
            "field",
            format!(
                "this version has no field {}.{}",
                entity.name, conflict.field
            ),
        ));
    };
    let row_id =
        Uuid::parse_str(&conflict.row_id).map_err(|_| Error::invalid("row_id", "not a row id"))?;
    let mut tx = store.write().await?;
    tx.update(entity, row_id, vec![(field, conflict.lost_value.clone())])
        .await?;
    sqlx::query("UPDATE conflicts SET restored_at = ? WHERE id = ?")
        .bind(now_rfc3339())
        .bind(&conflict.id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    get(store, &conflict.id).await
}

async fn view(conn: &mut SqliteConnection, row: Row) -> Result<Conflict> {
    let (
        id,
        entity_name,
        row_id,
        field,
        lost_value,
        lost_clock,
        lost_device,
        winner_value,
        winner_clock,
        winner_device,
        detected_at,
        restored_at,
    ) = row;
    let lost_value: Value = serde_json::from_str(&lost_value).unwrap_or(Value::Null);
    let winner_value: Value = serde_json::from_str(&winner_value).unwrap_or(Value::Null);
    let (current_value, current_clock, row_label) = match entities::by_name(&entity_name) {
        Some(entity) if entity.has_field(&field) => current(conn, entity, &row_id, &field).await?,
        _ => (Value::Null, None, row_id.clone()),
    };
    let status = if current_value == lost_value && current_value != winner_value {
        ConflictStatus::Restored
    } else if current_clock.is_none_or(|c| c.to_string() == winner_clock) {
        ConflictStatus::Open
    } else {
        ConflictStatus::Superseded
    };
    Ok(Conflict {
        id,
        entity: entity_name,
        row_id,
        row_label,
        field,
        lost_value,
        winner_value,
        current_value,
        lost_device,
        winner_device,
        lost_at: clock_time(&lost_clock),
        winner_at: clock_time(&winner_clock),
        detected_at,
        restored_at,
        status,
    })
}

/// A field's value and clock on this device, and a label for its row.
async fn current(
    conn: &mut SqliteConnection,
    entity: &EntityDef,
    row_id: &str,
    field: &str,
) -> Result<(Value, Option<Hlc>, String)> {
    let label = match entity.name {
        "contact" => "coalesce(display_name, trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')))",
        "company" | "tag" => "name",
        "contact_email" => "address",
        "contact_phone" => "number",
        _ => "id",
    };
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT json_object('v', {field}), clocks, {label} FROM {} WHERE id = ?",
        entity.table
    ))
    .bind(row_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((value, clocks, label)) = row else {
        return Ok((Value::Null, None, row_id.to_owned()));
    };
    let value = serde_json::from_str::<Value>(&value)
        .ok()
        .and_then(|mut v| v.get_mut("v").map(Value::take))
        .unwrap_or(Value::Null);
    let clocks: serde_json::Map<String, Value> = serde_json::from_str(&clocks).unwrap_or_default();
    let clock = clocks
        .get(field)
        .or_else(|| clocks.get("*"))
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok());
    Ok((
        value,
        clock,
        label
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| row_id.to_owned()),
    ))
}

fn clock_time(clock: &str) -> String {
    clock
        .parse::<Hlc>()
        .ok()
        .and_then(|c| chrono::DateTime::from_timestamp_millis(c.ms as i64))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
