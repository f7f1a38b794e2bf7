//! Segments (docs/segments.md): the list with sizes, one segment's members and
//! entry/exit history, create/update/delete, and the builder's live preview of
//! an unsaved rule. One call into `hub_core::segments` each; create and update
//! compute the members themselves, and the store watcher refreshes every
//! segment after any change (store_events.rs).

use hub_core::segments::{
    self, Preview, Segment, SegmentHistoryEntry, SegmentInput, SegmentMember, SegmentPatch,
};
use serde_json::Value;
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// Members a page shows by default, and at most.
const PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
/// Preview rows by default, and at most.
const SAMPLE: u32 = 10;
const MAX_SAMPLE: u32 = 100;

/// Every live segment by name, with its size.
#[tauri::command]
pub async fn list_segments(state: State<'_, AppState>) -> CommandResult<Vec<Segment>> {
    Ok(segments::list(state.store().await?).await?)
}

/// One segment by name or id.
#[tauri::command]
pub async fn get_segment(state: State<'_, AppState>, which: String) -> CommandResult<Segment> {
    Ok(segments::get(state.store().await?, &which).await?)
}

/// A page of a segment's members, by name.
#[tauri::command]
pub async fn segment_members(
    state: State<'_, AppState>,
    which: String,
    limit: Option<u32>,
    offset: Option<u32>,
) -> CommandResult<Vec<SegmentMember>> {
    let limit = limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    Ok(segments::members(state.store().await?, &which, limit, offset.unwrap_or(0)).await?)
}

/// A segment's latest entries and exits, newest first.
#[tauri::command]
pub async fn segment_history(
    state: State<'_, AppState>,
    which: String,
    limit: Option<u32>,
) -> CommandResult<Vec<SegmentHistoryEntry>> {
    let limit = limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    Ok(segments::history(state.store().await?, &which, limit).await?)
}

/// Create a segment; its members are computed before it returns.
#[tauri::command]
pub async fn create_segment(
    state: State<'_, AppState>,
    input: SegmentInput,
) -> CommandResult<Segment> {
    Ok(segments::create(state.store().await?, &input, chrono::Utc::now()).await?)
}

/// Rename a segment and/or replace its rule (absent parts stay); its triggers
/// are kept. Members are recomputed before it returns.
#[tauri::command]
pub async fn update_segment(
    state: State<'_, AppState>,
    which: String,
    name: Option<String>,
    rule: Option<Value>,
) -> CommandResult<Segment> {
    let patch = SegmentPatch {
        name,
        rule,
        triggers: None,
    };
    Ok(segments::update(state.store().await?, &which, &patch, chrono::Utc::now()).await?)
}

/// Delete a segment: its tag comes off its members; the history stays.
#[tauri::command]
pub async fn delete_segment(state: State<'_, AppState>, which: String) -> CommandResult<()> {
    Ok(segments::delete(state.store().await?, &which, chrono::Utc::now()).await?)
}

/// What an unsaved rule selects now: the count and the first `limit` members
/// by name. A bad rule is a validation error naming the part; nothing is written.
#[tauri::command]
pub async fn preview_segment(
    state: State<'_, AppState>,
    rule: Value,
    limit: Option<u32>,
) -> CommandResult<Preview> {
    let limit = limit.unwrap_or(SAMPLE).min(MAX_SAMPLE);
    Ok(segments::preview(state.store().await?, &rule, chrono::Utc::now(), limit).await?)
}

/// The names of the segments a contact is in now.
#[tauri::command]
pub async fn contact_segments(
    state: State<'_, AppState>,
    contact: Uuid,
) -> CommandResult<Vec<String>> {
    Ok(segments::of_contact(state.store().await?, contact).await?)
}
