use chrono::Utc;
use hub_core::reminders;
use hub_core::today::{self, Today};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

/// The Today view now, "today" read in `tz` (default: this computer's zone),
/// at most `limit` items per section.
#[tauri::command]
pub async fn get_today(
    state: State<'_, AppState>,
    tz: Option<String>,
    limit: Option<u32>,
) -> CommandResult<Today> {
    let zone = tz
        .filter(|z| !z.trim().is_empty())
        .unwrap_or_else(reminders::local_zone);
    let tz = reminders::parse_zone(&zone).map_err(|e| hub_core::Error::Validation(vec![e]))?;
    Ok(today::today(
        state.store().await?,
        Utc::now(),
        tz,
        limit.unwrap_or(today::DEFAULT_LIMIT),
    )
    .await?)
}
