use hub_core::demo::{self, DemoStatus};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn demo_status(state: State<'_, AppState>) -> CommandResult<DemoStatus> {
    Ok(demo::status(state.store().await?).await?)
}

/// Removes the generated demo records; answers how many contacts went.
#[tauri::command]
pub async fn clear_demo_data(state: State<'_, AppState>) -> CommandResult<u64> {
    Ok(demo::clear(state.store().await?).await?)
}
