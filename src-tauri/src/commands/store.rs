use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::error::CommandResult;
use crate::state::AppState;

/// Where this window's data lives, shown in the sidebar.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct StoreInfo {
    pub path: String,
    pub device_id: String,
}

#[tauri::command]
pub async fn store_info(state: State<'_, AppState>) -> CommandResult<StoreInfo> {
    let store = state.store().await?;
    Ok(StoreInfo {
        path: store.path().display().to_string(),
        device_id: store.device_id().to_string(),
    })
}
