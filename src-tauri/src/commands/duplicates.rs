//! Likely duplicates and merging them (docs/merge.md): one call into
//! `hub_core::duplicates` / `hub_core::merge` each.

use std::collections::BTreeMap;

use hub_core::contacts::ContactInput;
use hub_core::duplicates::{self, DuplicateMatch, DuplicateScan, RecordKind};
use hub_core::merge::{self, MergePreview, MergeRecord, UndoReport, Winner};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// Pairs the screen shows at most (the demo data alone has tens of thousands
/// of look-alike companies); `total` says how many there are.
const DEFAULT_LIMIT: u32 = 500;

/// Likely duplicate pairs of `kind` (contacts and companies when absent),
/// most certain first.
#[tauri::command]
pub async fn find_duplicates(
    state: State<'_, AppState>,
    kind: Option<RecordKind>,
    limit: Option<u32>,
) -> CommandResult<DuplicateScan> {
    let mut scan = duplicates::scan(state.store().await?).await?;
    scan.keep(kind, limit.unwrap_or(DEFAULT_LIMIT) as usize);
    Ok(scan)
}

/// Contacts that share an email or phone with a contact about to be saved
/// (`exclude`: the contact being edited).
#[tauri::command]
pub async fn find_contact_duplicates(
    state: State<'_, AppState>,
    input: ContactInput,
    exclude: Option<Uuid>,
) -> CommandResult<Vec<DuplicateMatch>> {
    Ok(duplicates::matching_contacts(state.store().await?, &input, exclude).await?)
}

/// Each field's two values and default pick, and what would move.
#[tauri::command]
pub async fn preview_merge(
    state: State<'_, AppState>,
    kind: RecordKind,
    keep: Uuid,
    other: Uuid,
    prefer: Option<BTreeMap<String, Winner>>,
) -> CommandResult<MergePreview> {
    let prefer: Vec<(String, Winner)> = prefer.unwrap_or_default().into_iter().collect();
    Ok(merge::preview(state.store().await?, kind, keep, other, &prefer).await?)
}

/// Merge `other` into `keep` with the picked values.
#[tauri::command]
pub async fn merge_records(
    state: State<'_, AppState>,
    kind: RecordKind,
    keep: Uuid,
    other: Uuid,
    prefer: BTreeMap<String, Winner>,
) -> CommandResult<MergeRecord> {
    let prefer: Vec<(String, Winner)> = prefer.into_iter().collect();
    Ok(merge::merge(state.store().await?, kind, keep, other, &prefer).await?)
}

/// The merge history, newest first.
#[tauri::command]
pub async fn list_merges(
    state: State<'_, AppState>,
    limit: Option<u32>,
) -> CommandResult<Vec<MergeRecord>> {
    Ok(merge::list(state.store().await?, limit.unwrap_or(100)).await?)
}

/// Undo a merge: both records and their rows as they were.
#[tauri::command]
pub async fn undo_merge(state: State<'_, AppState>, id: Uuid) -> CommandResult<UndoReport> {
    Ok(merge::undo(state.store().await?, id).await?)
}
