use chrono::{DateTime, Utc};
use hub_core::reminders::{self, Reminder, ReminderInput, ReminderQuery};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_reminders(
    state: State<'_, AppState>,
    query: ReminderQuery,
) -> CommandResult<Vec<Reminder>> {
    Ok(reminders::list(state.store().await?, &query).await?)
}

#[tauri::command]
pub async fn get_reminder(state: State<'_, AppState>, id: Uuid) -> CommandResult<Reminder> {
    Ok(reminders::get(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn create_reminder(
    state: State<'_, AppState>,
    input: ReminderInput,
) -> CommandResult<Reminder> {
    Ok(reminders::add(state.store().await?, &input, Utc::now()).await?)
}

#[tauri::command]
pub async fn complete_reminder(state: State<'_, AppState>, id: Uuid) -> CommandResult<Reminder> {
    Ok(reminders::done(state.store().await?, id, Utc::now()).await?)
}

/// Snooze until `until`, or for the default 15 minutes.
#[tauri::command]
pub async fn snooze_reminder(
    state: State<'_, AppState>,
    id: Uuid,
    until: Option<DateTime<Utc>>,
) -> CommandResult<Reminder> {
    let now = Utc::now();
    let until = until.unwrap_or(now + reminders::DEFAULT_SNOOZE);
    Ok(reminders::snooze(state.store().await?, id, until, now).await?)
}

#[tauri::command]
pub async fn reopen_reminder(state: State<'_, AppState>, id: Uuid) -> CommandResult<Reminder> {
    Ok(reminders::reopen(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn delete_reminder(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(reminders::delete(state.store().await?, id).await?)
}

/// This computer's IANA zone: the default zone of a new reminder.
#[tauri::command]
pub fn local_time_zone() -> String {
    reminders::local_zone()
}
