//! The import wizard's commands, each one call into `hub_core::import`:
//! preview a CSV with its proposed mapping, dry-run or run an import (CSV or
//! vCard) with progress events and cancel, the history, revert, and saved
//! mappings. Payloads: /work/notes/issue5-api.md and docs/import.md.

use std::collections::{BTreeMap, HashMap};
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Mutex;

use hub_core::import::csv::{self, Preview};
use hub_core::import::mapping::{self, SavedMapping};
use hub_core::import::{
    self, CancelToken, ImportProgress, ImportReport, ImportSummary, RevertReport, Target,
};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, State};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// The event a running import sends after each chunk of records.
pub const PROGRESS_EVENT: &str = "import-progress";

/// Cancel tokens of the imports running now, by the run id the UI chose.
#[derive(Default)]
pub struct ImportRuns(Mutex<HashMap<String, CancelToken>>);

/// `import-progress` payload.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ImportProgressEvent {
    pub run_id: String,
    pub progress: ImportProgress,
}

/// What file an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ImportKind {
    Csv,
    Vcard,
}

/// Column → target text (`first_name`, `email:home`, `custom:budget`) or
/// null to skip: the user's choices over the automatic mapping.
fn choices(
    mapping: &BTreeMap<String, Option<String>>,
) -> CommandResult<Vec<(String, Option<Target>)>> {
    let mut out = Vec::new();
    for (column, target) in mapping {
        let target = match target.as_deref().map(str::trim) {
            None | Some("") | Some("skip") => None,
            Some(t) => Some(Target::parse(t)?),
        };
        out.push((column.clone(), target));
    }
    Ok(out)
}

/// The CSV file's encoding, delimiter, columns with their proposed (or
/// chosen) fields and an example value each, and its first `rows` rows.
#[tauri::command]
pub async fn preview_import(
    state: State<'_, AppState>,
    path: String,
    mapping: Option<BTreeMap<String, Option<String>>>,
    saved_mapping: Option<String>,
    rows: Option<usize>,
) -> CommandResult<Preview> {
    let store = state.store().await?;
    let path = PathBuf::from(path.trim());
    let mut all = Vec::new();
    if let Some(name) = saved_mapping {
        let headers = csv::open(&path)?.headers().to_vec();
        all.extend(mapping::load(store, &name).await?.choices(&headers)?);
    }
    all.extend(choices(&mapping.unwrap_or_default())?);
    Ok(csv::preview(store, &path, &all, rows.unwrap_or(20)).await?)
}

/// Run (or, with `dry_run`, only count) an import. Sends `import-progress`
/// events tagged with `run_id`; `cancel_import(run_id)` stops it and
/// nothing is written. The report lists every bad line with its reason.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn run_import(
    app: AppHandle,
    state: State<'_, AppState>,
    runs: State<'_, ImportRuns>,
    run_id: String,
    path: String,
    kind: ImportKind,
    mapping: Option<BTreeMap<String, Option<String>>>,
    dry_run: bool,
) -> CommandResult<ImportReport> {
    let store = state.store().await?;
    let path = PathBuf::from(path.trim());
    let cancel = CancelToken::new();
    runs.0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(run_id.clone(), cancel.clone());
    let progress = |p: &ImportProgress| {
        let _ = app.emit(
            PROGRESS_EVENT,
            ImportProgressEvent {
                run_id: run_id.clone(),
                progress: p.clone(),
            },
        );
    };
    let result = match kind {
        ImportKind::Csv => {
            let all = choices(&mapping.unwrap_or_default())?;
            csv::import_file(store, &path, &all, dry_run, progress, &cancel).await
        }
        ImportKind::Vcard => match std::fs::File::open(&path) {
            Ok(file) => {
                let total = file.metadata().ok().map(|m| m.len());
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                import::import_records(
                    store,
                    hub_core::vcard::records(BufReader::new(file), total),
                    &hub_core::vcard::options(&name, dry_run),
                    progress,
                    &cancel,
                )
                .await
            }
            Err(e) => Err(e.into()),
        },
    };
    runs.0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&run_id);
    Ok(result?)
}

/// Stop a running import (it rolls back). False when no such run is going.
#[tauri::command]
pub fn cancel_import(runs: State<'_, ImportRuns>, run_id: String) -> bool {
    match runs
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&run_id)
    {
        Some(token) => {
            token.cancel();
            true
        }
        None => false,
    }
}

/// Every recorded import, newest first (synced: the team's too).
#[tauri::command]
pub async fn list_imports(state: State<'_, AppState>) -> CommandResult<Vec<ImportSummary>> {
    Ok(import::list(state.store().await?).await?)
}

/// Undo an import: created rows deleted, updated fields restored.
#[tauri::command]
pub async fn revert_import(state: State<'_, AppState>, id: Uuid) -> CommandResult<RevertReport> {
    Ok(import::revert(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn list_import_mappings(state: State<'_, AppState>) -> CommandResult<Vec<SavedMapping>> {
    Ok(mapping::saved(state.store().await?).await?)
}

/// Save (or replace) a mapping: column → target text, null to skip.
#[tauri::command]
pub async fn save_import_mapping(
    state: State<'_, AppState>,
    name: String,
    columns: BTreeMap<String, Option<String>>,
) -> CommandResult<SavedMapping> {
    Ok(mapping::save(state.store().await?, &name, &columns).await?)
}
