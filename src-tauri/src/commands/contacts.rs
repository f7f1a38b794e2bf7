use hub_core::contacts::{self, Contact, ContactInput, ContactPage, ContactQuery};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_contacts(
    state: State<'_, AppState>,
    query: ContactQuery,
) -> CommandResult<ContactPage> {
    Ok(contacts::list(state.store().await?, &query).await?)
}

#[tauri::command]
pub async fn get_contact(state: State<'_, AppState>, id: Uuid) -> CommandResult<Contact> {
    Ok(contacts::get(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn create_contact(
    state: State<'_, AppState>,
    input: ContactInput,
) -> CommandResult<Contact> {
    Ok(contacts::create(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn update_contact(
    state: State<'_, AppState>,
    id: Uuid,
    input: ContactInput,
) -> CommandResult<Contact> {
    Ok(contacts::update(state.store().await?, id, input).await?)
}

#[tauri::command]
pub async fn delete_contact(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(contacts::delete(state.store().await?, id).await?)
}
