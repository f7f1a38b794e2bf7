//! The Reports screen (docs/desktop or README "Reports"): every chart's data
//! in one call, and a chart written to a file the user named, as PNG (the
//! canvas the app drew) or CSV (the chart's data).

use std::path::PathBuf;

use hub_core::reports::{self, Dashboard, DashboardQuery};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// Funnel, won revenue by month, forecast, campaigns, segment sizes and
/// events per day, as of now.
#[tauri::command]
pub async fn report_dashboard(
    state: State<'_, AppState>,
    query: DashboardQuery,
) -> CommandResult<Dashboard> {
    Ok(reports::dashboard(state.store().await?, &query, chrono::Utc::now()).await?)
}

/// A chart as a PNG file: `image` is the canvas's `data:image/png;base64,…`.
#[tauri::command]
pub async fn save_chart_png(path: String, image: String) -> CommandResult<String> {
    let path = reports::write_chart_png(&PathBuf::from(path.trim()), &image)?;
    Ok(path.display().to_string())
}

/// A chart's data as a CSV file.
#[tauri::command]
pub async fn save_chart_csv(path: String, csv: String) -> CommandResult<String> {
    let path = reports::write_chart_csv(&PathBuf::from(path.trim()), &csv)?;
    Ok(path.display().to_string())
}
