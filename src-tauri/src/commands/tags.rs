use hub_core::tags::{self, MergeReport, Tag, Taggable};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_tags(state: State<'_, AppState>) -> CommandResult<Vec<Tag>> {
    Ok(tags::list(state.store().await?).await?)
}

/// Create a tag (or recolour it) and put it on the given records.
#[tauri::command]
pub async fn add_tag(
    state: State<'_, AppState>,
    name: String,
    color: Option<String>,
    records: Vec<(Taggable, Uuid)>,
) -> CommandResult<Tag> {
    Ok(tags::add(state.store().await?, &name, color.as_deref(), &records).await?)
}

#[tauri::command]
pub async fn remove_tag(
    state: State<'_, AppState>,
    name: String,
    records: Vec<(Taggable, Uuid)>,
) -> CommandResult<Tag> {
    Ok(tags::remove(state.store().await?, &name, &records).await?)
}

#[tauri::command]
pub async fn set_tag_color(
    state: State<'_, AppState>,
    name: String,
    color: String,
) -> CommandResult<Tag> {
    Ok(tags::set_color(state.store().await?, &name, &color).await?)
}

#[tauri::command]
pub async fn rename_tag(
    state: State<'_, AppState>,
    name: String,
    new_name: String,
) -> CommandResult<Tag> {
    Ok(tags::rename(state.store().await?, &name, &new_name).await?)
}

#[tauri::command]
pub async fn merge_tags(
    state: State<'_, AppState>,
    from: String,
    into: String,
) -> CommandResult<MergeReport> {
    Ok(tags::merge(state.store().await?, &from, &into).await?)
}

#[tauri::command]
pub async fn delete_tag(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    Ok(tags::delete(state.store().await?, &name).await?)
}
