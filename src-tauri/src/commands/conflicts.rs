use hub_core::conflicts::{self, Conflict};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// Open conflicts, newest first; with `all`, also restored and superseded ones.
#[tauri::command]
pub async fn list_conflicts(state: State<'_, AppState>, all: bool) -> CommandResult<Vec<Conflict>> {
    Ok(conflicts::list(state.store().await?, all).await?)
}

/// Put the losing value back: a new edit that syncs like any other.
#[tauri::command]
pub async fn restore_conflict(state: State<'_, AppState>, id: String) -> CommandResult<Conflict> {
    Ok(conflicts::restore(state.store().await?, &id).await?)
}
