use hub_core::custom_fields::FieldEntity;
use hub_core::filters::{self, Filter, RecordPage, Sort};
use hub_core::views::{self, SavedView, ViewInput, ViewResult};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// A filtered, sorted page of records (a list's filter, saved or not).
#[tauri::command]
pub async fn query_records(
    state: State<'_, AppState>,
    entity: FieldEntity,
    filter: Filter,
    sort: Option<Sort>,
    offset: u32,
    limit: u32,
) -> CommandResult<RecordPage> {
    Ok(filters::query(
        state.store().await?,
        entity,
        &filter,
        sort.as_ref(),
        offset,
        limit,
    )
    .await?)
}

#[tauri::command]
pub async fn list_views(state: State<'_, AppState>) -> CommandResult<Vec<SavedView>> {
    Ok(views::list(state.store().await?).await?)
}

#[tauri::command]
pub async fn save_view(state: State<'_, AppState>, input: ViewInput) -> CommandResult<SavedView> {
    Ok(views::save(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn run_view(
    state: State<'_, AppState>,
    name: String,
    offset: u32,
    limit: u32,
) -> CommandResult<ViewResult> {
    Ok(views::run(state.store().await?, &name, offset, limit).await?)
}

#[tauri::command]
pub async fn delete_view(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    Ok(views::delete(state.store().await?, &name).await?)
}
