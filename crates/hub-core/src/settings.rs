//! Workspace settings: one synced `workspace_setting` row per key, with an id derived
//! from the key so that two devices setting it offline write one row (the later value
//! wins). Values are JSON.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::entities::WORKSPACE_SETTING;
use crate::error::Result;
use crate::store::Store;

/// The namespace the first setting (the base currency, money.rs) was created with; kept
/// so every existing setting keeps its id.
const NAMESPACE: Uuid = Uuid::from_u128(0x0c2d_6e4a_91f3_4b8e_a7d5_3f10_62b9_c8e1);

pub fn id(key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("setting/{key}").as_bytes())
}

/// A setting's value, if it was set (and not removed).
pub async fn get(store: &Store, key: &str) -> Result<Option<Value>> {
    let value: Option<Option<String>> = sqlx::query_scalar(
        "SELECT value FROM workspace_settings WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(id(key).to_string())
    .fetch_optional(store.pool())
    .await?;
    Ok(value.flatten().and_then(|v| serde_json::from_str(&v).ok()))
}

/// Set a setting for the whole team (synced to every device).
pub async fn set(store: &Store, key: &str, value: &Value) -> Result<()> {
    let mut tx = store.write().await?;
    let id = id(key);
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM workspace_settings WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    let text = json!(value.to_string());
    if exists.is_some() {
        tx.update(
            &WORKSPACE_SETTING,
            id,
            vec![("value", text), ("deleted_at", Value::Null)],
        )
        .await?;
    } else {
        tx.insert(
            &WORKSPACE_SETTING,
            id,
            vec![("key", json!(key)), ("value", text)],
        )
        .await?;
    }
    tx.commit().await
}
