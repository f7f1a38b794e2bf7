use hub_core::companies::{self, Company, CompanyInput, CompanyPage, CompanyQuery};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_companies(
    state: State<'_, AppState>,
    query: CompanyQuery,
) -> CommandResult<CompanyPage> {
    Ok(companies::list(state.store().await?, &query).await?)
}

#[tauri::command]
pub async fn get_company(state: State<'_, AppState>, id: Uuid) -> CommandResult<Company> {
    Ok(companies::get(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn create_company(
    state: State<'_, AppState>,
    input: CompanyInput,
) -> CommandResult<Company> {
    Ok(companies::create(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn update_company(
    state: State<'_, AppState>,
    id: Uuid,
    input: CompanyInput,
) -> CommandResult<Company> {
    Ok(companies::update(state.store().await?, id, input).await?)
}

#[tauri::command]
pub async fn delete_company(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(companies::delete(state.store().await?, id).await?)
}
