use hub_core::custom_fields::{self, CustomField, FieldEntity, FieldInput, FieldPatch, FieldValue};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_custom_fields(
    state: State<'_, AppState>,
    entity: Option<FieldEntity>,
    include_deleted: bool,
) -> CommandResult<Vec<CustomField>> {
    Ok(custom_fields::list(state.store().await?, entity, include_deleted).await?)
}

#[tauri::command]
pub async fn create_custom_field(
    state: State<'_, AppState>,
    input: FieldInput,
) -> CommandResult<CustomField> {
    Ok(custom_fields::add(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn update_custom_field(
    state: State<'_, AppState>,
    entity: FieldEntity,
    key: String,
    patch: FieldPatch,
) -> CommandResult<CustomField> {
    Ok(custom_fields::update(state.store().await?, entity, &key, patch).await?)
}

#[tauri::command]
pub async fn delete_custom_field(
    state: State<'_, AppState>,
    entity: FieldEntity,
    key: String,
) -> CommandResult<CustomField> {
    Ok(custom_fields::delete(state.store().await?, entity, &key).await?)
}

#[tauri::command]
pub async fn restore_custom_field(
    state: State<'_, AppState>,
    entity: FieldEntity,
    key: String,
) -> CommandResult<CustomField> {
    Ok(custom_fields::restore(state.store().await?, entity, &key).await?)
}

#[tauri::command]
pub async fn get_custom_values(
    state: State<'_, AppState>,
    entity: FieldEntity,
    id: Uuid,
) -> CommandResult<Vec<FieldValue>> {
    Ok(custom_fields::values(state.store().await?, entity, id).await?)
}

/// Set a record's custom fields: `[key, text]` pairs, an empty text clearing
/// one; all checked first, nothing written on an error.
#[tauri::command]
pub async fn set_custom_values(
    state: State<'_, AppState>,
    entity: FieldEntity,
    id: Uuid,
    values: Vec<(String, String)>,
) -> CommandResult<Vec<FieldValue>> {
    Ok(custom_fields::set_values(state.store().await?, entity, id, &values).await?)
}
