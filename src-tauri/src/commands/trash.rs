use hub_core::trash::{self, TrashItem};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// How many deleted records the Trash screen shows when it does not say.
const DEFAULT_LIMIT: u32 = 200;

/// Deleted records of `entity` (or of every kind), newest delete first.
#[tauri::command]
pub async fn list_trash(
    state: State<'_, AppState>,
    entity: Option<String>,
    limit: Option<u32>,
) -> CommandResult<Vec<TrashItem>> {
    Ok(trash::list(
        state.store().await?,
        entity.as_deref(),
        limit.unwrap_or(DEFAULT_LIMIT),
    )
    .await?)
}

/// Takes a record out of the trash with every value it has: a synced edit.
#[tauri::command]
pub async fn restore_from_trash(
    state: State<'_, AppState>,
    entity: String,
    id: Uuid,
) -> CommandResult<TrashItem> {
    Ok(trash::restore(state.store().await?, &entity, id).await?)
}
