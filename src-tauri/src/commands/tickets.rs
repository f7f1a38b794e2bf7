//! Support tickets and their comments.

use hub_core::tickets::{
    self, Ticket, TicketComment, TicketDetail, TicketInput, TicketPage, TicketQuery, TicketStatus,
};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_tickets(
    state: State<'_, AppState>,
    query: TicketQuery,
) -> CommandResult<TicketPage> {
    Ok(tickets::list(state.store().await?, &query).await?)
}

#[tauri::command]
pub async fn get_ticket(state: State<'_, AppState>, id: Uuid) -> CommandResult<TicketDetail> {
    Ok(tickets::show(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn create_ticket(
    state: State<'_, AppState>,
    input: TicketInput,
) -> CommandResult<Ticket> {
    Ok(tickets::create(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn update_ticket(
    state: State<'_, AppState>,
    id: Uuid,
    input: TicketInput,
) -> CommandResult<Ticket> {
    Ok(tickets::update(state.store().await?, id, input).await?)
}

#[tauri::command]
pub async fn set_ticket_status(
    state: State<'_, AppState>,
    id: Uuid,
    status: TicketStatus,
) -> CommandResult<Ticket> {
    Ok(tickets::set_status(state.store().await?, id, status).await?)
}

#[tauri::command]
pub async fn delete_ticket(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(tickets::delete(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn comment_ticket(
    state: State<'_, AppState>,
    id: Uuid,
    body: String,
) -> CommandResult<TicketComment> {
    Ok(tickets::comment(state.store().await?, id, &body).await?)
}

#[tauri::command]
pub async fn delete_ticket_comment(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(tickets::delete_comment(state.store().await?, id).await?)
}

/// The current user's name (the signed-in email, else `me`): "assigned to me".
#[tauri::command]
pub async fn current_user(state: State<'_, AppState>) -> CommandResult<String> {
    Ok(hub_core::users::current(state.store().await?).await?)
}
