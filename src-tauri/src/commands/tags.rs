use hub_core::tags::{self, Tag};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_tags(state: State<'_, AppState>) -> CommandResult<Vec<Tag>> {
    Ok(tags::list(state.store().await?).await?)
}
