//! Logged activities, the per-record timeline and stay-in-touch.

use chrono::Utc;
use hub_core::activities::{self, Activity, ActivityInput};
use hub_core::stay_in_touch::{self, DueContact, StayInTouch};
use hub_core::timeline::{self, TimelineOf, TimelinePage, TimelineQuery};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn log_activity(
    state: State<'_, AppState>,
    input: ActivityInput,
) -> CommandResult<Activity> {
    Ok(activities::log(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn get_activity(state: State<'_, AppState>, id: Uuid) -> CommandResult<Activity> {
    Ok(activities::get(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn update_activity(
    state: State<'_, AppState>,
    id: Uuid,
    input: ActivityInput,
) -> CommandResult<Activity> {
    Ok(activities::update(state.store().await?, id, input).await?)
}

#[tauri::command]
pub async fn delete_activity(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(activities::delete(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn get_timeline(
    state: State<'_, AppState>,
    of: TimelineOf,
    query: TimelineQuery,
) -> CommandResult<TimelinePage> {
    Ok(timeline::page(state.store().await?, of, &query).await?)
}

#[tauri::command]
pub async fn get_stay_in_touch(
    state: State<'_, AppState>,
    contact_id: Uuid,
) -> CommandResult<StayInTouch> {
    Ok(stay_in_touch::get(state.store().await?, contact_id).await?)
}

/// `every_days: null` turns it off.
#[tauri::command]
pub async fn set_stay_in_touch(
    state: State<'_, AppState>,
    contact_id: Uuid,
    every_days: Option<u32>,
) -> CommandResult<StayInTouch> {
    Ok(stay_in_touch::set(state.store().await?, contact_id, every_days).await?)
}

/// Contacts due for a follow-up now, most overdue first.
#[tauri::command]
pub async fn stay_in_touch_due(
    state: State<'_, AppState>,
    limit: Option<u32>,
) -> CommandResult<Vec<DueContact>> {
    Ok(stay_in_touch::due(state.store().await?, Utc::now(), limit.unwrap_or(100)).await?)
}
