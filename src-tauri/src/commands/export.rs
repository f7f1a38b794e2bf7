//! Exports to a file the user named: a list or saved view as CSV, contacts
//! as vCard, open reminders as iCalendar, everything as JSON. Each is one
//! call into `hub_core::export` (or `vcard`/`ical`) writing through
//! `ExportFile`, so a failed export leaves no half file.

use std::path::PathBuf;

use hub_core::export::{self, CsvOptions, CsvSummary, ExportFile, JsonSummary, ListEntity};
use hub_core::filters::{Filter, Sort};
use hub_core::ical::{self, IcsOptions};
use hub_core::reminders;
use hub_core::vcard::{self, Selection};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// A vCard or iCalendar file written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct FileExport {
    pub path: String,
    /// Cards, or reminders plus follow-ups.
    #[ts(type = "number")]
    pub records: u64,
}

fn target(path: &str) -> CommandResult<ExportFile> {
    Ok(ExportFile::create(&PathBuf::from(path.trim()))?)
}

/// A list (entity, filter, sort) or a saved view (`view`) as CSV at `path`.
#[tauri::command]
pub async fn export_csv(
    state: State<'_, AppState>,
    path: String,
    entity: ListEntity,
    filter: Option<Filter>,
    sort: Option<Sort>,
    view: Option<String>,
    excel: bool,
) -> CommandResult<CsvSummary> {
    let store = state.store().await?;
    let mut file = target(&path)?;
    let options = CsvOptions { excel };
    let summary = match view {
        Some(name) => export::csv_view(store, &name, options, &mut file).await?,
        None => {
            let filter = filter.unwrap_or_default();
            export::csv(store, entity, &filter, sort.as_ref(), options, &mut file).await?
        }
    };
    file.commit()?;
    Ok(summary)
}

/// Contacts as vCard 4.0: a saved view of contacts, some by id, or all.
#[tauri::command]
pub async fn export_vcard(
    state: State<'_, AppState>,
    path: String,
    view: Option<String>,
    ids: Option<Vec<Uuid>>,
) -> CommandResult<FileExport> {
    let store = state.store().await?;
    let selection = match (view, ids) {
        (Some(name), _) => Selection::View(name),
        (None, Some(ids)) if !ids.is_empty() => Selection::Ids(ids),
        _ => Selection::All,
    };
    let mut file = target(&path)?;
    let records = vcard::export(store, &selection, &mut file).await?;
    let path = file.commit()?;
    Ok(FileExport {
        path: path.display().to_string(),
        records,
    })
}

/// Open reminders and stay-in-touch follow-ups (in this computer's zone)
/// as iCalendar.
#[tauri::command]
pub async fn export_ics(state: State<'_, AppState>, path: String) -> CommandResult<FileExport> {
    let store = state.store().await?;
    let zone = reminders::parse_zone(&reminders::local_zone())
        .map_err(|e| hub_core::Error::Validation(vec![e]))?;
    let options = IcsOptions {
        assignee: None,
        follow_ups: true,
        follow_up_tz: zone,
        now: chrono::Utc::now(),
    };
    let mut file = target(&path)?;
    let summary = ical::export(store, &options, &mut file).await?;
    let path = file.commit()?;
    Ok(FileExport {
        path: path.display().to_string(),
        records: summary.reminders + summary.follow_ups,
    })
}

/// The whole database (every record not in the trash) as JSON.
#[tauri::command]
pub async fn export_json(state: State<'_, AppState>, path: String) -> CommandResult<JsonSummary> {
    let store = state.store().await?;
    let mut file = target(&path)?;
    let summary = export::json(store, &mut file).await?;
    file.commit()?;
    Ok(summary)
}

/// `file_name` in the folder exports go to by default (Downloads).
#[tauri::command]
pub fn default_export_path(file_name: String) -> String {
    export::default_dir().join(file_name).display().to_string()
}
