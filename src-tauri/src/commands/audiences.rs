//! Audience export from the segment screen (docs/audiences.md): a segment to
//! Meta, Google Ads or an email tool's CSV, consent-gated, recorded; the
//! history of exports with their pending removals and the removal file.

use std::path::PathBuf;

use hub_core::audiences::{
    self, AudienceExport, Destination, ExportInput, ExportReport, Removal, RemovalReport,
};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// Export `segment` (id or name) to `destination` at `path`.
#[tauri::command]
pub async fn export_audience(
    state: State<'_, AppState>,
    segment: String,
    destination: Destination,
    seed: bool,
    path: String,
) -> CommandResult<ExportReport> {
    let input = ExportInput {
        segment,
        destination,
        seed,
        out: PathBuf::from(path.trim()),
    };
    Ok(audiences::export(state.store().await?, &input, chrono::Utc::now()).await?)
}

/// Every export, newest first, with its pending removals.
#[tauri::command]
pub async fn audience_history(state: State<'_, AppState>) -> CommandResult<Vec<AudienceExport>> {
    Ok(audiences::history(state.store().await?).await?)
}

/// The people to remove from one export's audience (erased or withdrawn).
#[tauri::command]
pub async fn audience_removals(
    state: State<'_, AppState>,
    export: String,
) -> CommandResult<Vec<Removal>> {
    Ok(audiences::removals(state.store().await?, Some(&export)).await?)
}

/// Write one export's removal file at `path`.
#[tauri::command]
pub async fn write_audience_removals(
    state: State<'_, AppState>,
    export: String,
    path: String,
) -> CommandResult<RemovalReport> {
    let out = PathBuf::from(path.trim());
    Ok(audiences::write_removals(state.store().await?, &export, &out, chrono::Utc::now()).await?)
}
