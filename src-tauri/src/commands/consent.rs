//! Consent per purpose (docs/consent.md): where a contact stands, and a
//! decision recorded by hand from the contact screen. One call into
//! `hub_core::consent` each.

use hub_core::consent::{self, ConsentInput, ContactConsent, Purpose, Source, Status};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

/// The decision in force per purpose, do-not-sell and the whole history.
#[tauri::command]
pub async fn contact_consent(
    state: State<'_, AppState>,
    contact: Uuid,
) -> CommandResult<ContactConsent> {
    Ok(consent::of_contact(state.store().await?, contact).await?)
}

/// Record a decision taken now, by the current user (`source` manual). Denying a
/// granted purpose records `revoked`; the status already in force records nothing.
#[tauri::command]
pub async fn set_consent(
    state: State<'_, AppState>,
    contact: Uuid,
    purpose: Purpose,
    status: Status,
    evidence: Option<String>,
) -> CommandResult<ContactConsent> {
    let evidence = evidence
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    let input = ConsentInput {
        contact_id: contact,
        purpose,
        status,
        source: Source::Manual,
        decided_at: None,
        evidence,
    };
    Ok(consent::set(state.store().await?, input).await?)
}
