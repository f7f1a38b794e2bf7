//! Data-subject requests from the contact screen (docs/privacy.md): the
//! subject-access export written as JSON to a file the user named (through
//! `ExportFile`, so a failure leaves no half file), and erasure.

use std::io::Write;
use std::path::PathBuf;

use hub_core::export::ExportFile;
use hub_core::privacy;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// A subject-access export written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SubjectExportSummary {
    pub path: String,
    /// Stored records (the contact, emails, activities, consent, …).
    #[ts(type = "number")]
    pub records: u64,
    #[ts(type = "number")]
    pub events: u64,
}

/// What an erasure removed on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ErasureSummary {
    pub contact_id: String,
    /// Stored records removed.
    #[ts(type = "number")]
    pub records: u64,
    #[ts(type = "number")]
    pub events: u64,
    /// Deals kept, without the person.
    #[ts(type = "number")]
    pub deals_unlinked: u64,
}

/// Everything held about a contact as JSON at `path`.
#[tauri::command]
pub async fn export_subject(
    state: State<'_, AppState>,
    contact: Uuid,
    path: String,
) -> CommandResult<SubjectExportSummary> {
    let export = privacy::subject_export(state.store().await?, contact).await?;
    let mut file = ExportFile::create(&PathBuf::from(path.trim()))?;
    serde_json::to_writer_pretty(&mut file, &export)
        .map_err(|e| hub_core::Error::Io(std::io::Error::other(e)))?;
    file.write_all(b"\n").map_err(hub_core::Error::Io)?;
    let path = file.commit()?;
    Ok(SubjectExportSummary {
        path: path.display().to_string(),
        records: export.records.values().map(|r| r.len() as u64).sum(),
        events: export.events.len() as u64,
    })
}

/// Erase a contact and everything about them, on every device, for good.
#[tauri::command]
pub async fn erase_contact(
    state: State<'_, AppState>,
    contact: Uuid,
) -> CommandResult<ErasureSummary> {
    let erased = privacy::erase(state.store().await?, contact).await?;
    Ok(ErasureSummary {
        contact_id: erased.contact_id,
        records: erased.rows.values().map(|n| *n as u64).sum(),
        events: erased.events,
        deals_unlinked: erased.deals_unlinked as u64,
    })
}
