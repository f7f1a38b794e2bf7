//! Settings → Sync: sign in and out, the sync status, "Sync now" and the
//! workspace's devices. The rounds themselves run in [`crate::sync_loop`].

use hub_core::credentials::{self, TokenKey, TokenStore};
use hub_core::sync::{self, HttpTransport, Report, SyncError, SyncStatus};
use hub_core::Store;
use serde::Serialize;
use tauri::{AppHandle, State};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;
use crate::sync_loop::{credential_error, sync_error, SyncState};

/// One device of the workspace, as Settings → Sync lists it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
    /// This device.
    pub current: bool,
}

#[tauri::command]
pub async fn sync_status(state: State<'_, AppState>) -> CommandResult<SyncStatus> {
    Ok(sync::status(state.store().await?).await?)
}

/// What the status indicator shows now (then follows `sync-state` events).
#[tauri::command]
pub async fn sync_state(state: State<'_, AppState>) -> CommandResult<SyncState> {
    let store = state.store().await?;
    Ok(state.sync.current(store).await)
}

/// Sign this database in and keep the device token: in the OS keyring, or
/// with `insecure_storage` in a 0600 file. The store is chosen before the
/// server is contacted, so without a keyring nothing is registered.
#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    server: String,
    email: String,
    password: String,
    device_name: Option<String>,
    insecure_storage: bool,
) -> CommandResult<SyncStatus> {
    let store = state.store().await?;
    let tokens = blocking(move || TokenStore::choose(insecure_storage)).await?;
    let device_name = device_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(host_name);
    let signed_in = sync::sign_in(store, &server, &email, &password, &device_name, None)
        .await
        .map_err(sign_in_error)?;
    let key = token_key(store, &signed_in.account.server);
    let token = signed_in.token.clone();
    let (save_key, save_tokens) = (key.clone(), tokens.clone());
    if let Err(err) = blocking(move || save_tokens.save(&save_key, &token)).await {
        // Unusable without its token: give it back and forget the account.
        if let Ok(t) = HttpTransport::new(&signed_in.account.server, &signed_in.token) {
            let _ = t.revoke(store.device_id().0).await;
        }
        sync::sign_out(store).await?;
        return Err(CommandError {
            message: format!(
                "Signed in, but the token could not be kept, so this device signed out again: {}",
                err.message
            ),
            ..err
        });
    }
    if matches!(tokens, TokenStore::Keyring) {
        // The file is read before the keyring: an older token there must not shadow this one.
        let file_key = key.clone();
        let _ = blocking(move || TokenStore::default_file().delete(&file_key)).await;
    }
    state.sync.signed_in(key, signed_in.token);
    Ok(sync::status(store).await?)
}

/// Sign out: revoke this device's token on the server (best effort: offline
/// it is still deleted here), delete it, forget the account. The data stays.
#[tauri::command]
pub async fn sign_out(app: AppHandle, state: State<'_, AppState>) -> CommandResult<SyncStatus> {
    let store = state.store().await?;
    if let Some(account) = sync::account(store).await? {
        let key = token_key(store, &account.server);
        let find_key = key.clone();
        let token = blocking(move || credentials::find_token(&find_key))
            .await
            .unwrap_or(None);
        if let Some((token, _)) = token {
            if let Ok(t) = HttpTransport::new(&account.server, &token) {
                if let Err(err) = t.revoke(store.device_id().0).await {
                    tracing::warn!(error = %err, "sign out: the server did not revoke this device's token");
                }
            }
        }
        let delete_key = key.clone();
        let deleted = blocking(move || {
            TokenStore::default_file().delete(&delete_key)?;
            if credentials::keyring_available().is_ok() {
                TokenStore::Keyring.delete(&delete_key)?;
            }
            Ok(())
        })
        .await;
        if let Err(err) = deleted {
            tracing::warn!(error = %err, "sign out: the token could not be deleted");
        }
        sync::sign_out(store).await?;
    }
    state.sync.signed_out(&app, store).await;
    Ok(sync::status(store).await?)
}

/// One round now (after any round in progress).
#[tauri::command]
pub async fn sync_now(app: AppHandle, state: State<'_, AppState>) -> CommandResult<Report> {
    let store = state.store().await?;
    state.sync.round(&app, store).await
}

#[tauri::command]
pub async fn list_devices(state: State<'_, AppState>) -> CommandResult<Vec<DeviceInfo>> {
    let transport = transport(&state).await?;
    let list = transport.devices().await.map_err(sync_error)?;
    Ok(list
        .devices
        .into_iter()
        .map(|d| DeviceInfo {
            id: d.id.to_string(),
            name: d.name,
            created_at: d.created_at.to_rfc3339(),
            last_seen_at: d.last_seen_at.map(|t| t.to_rfc3339()),
            revoked_at: d.revoked_at.map(|t| t.to_rfc3339()),
            current: d.current,
        })
        .collect())
}

#[tauri::command]
pub async fn revoke_device(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    transport(&state)
        .await?
        .revoke(id)
        .await
        .map_err(sync_error)
}

/// The signed-in account's server, authenticated as this device.
async fn transport(state: &AppState) -> CommandResult<HttpTransport> {
    let store = state.store().await?;
    let Some(account) = sync::account(store).await? else {
        return Err(sync_error(SyncError::NotSignedIn));
    };
    let key = token_key(store, &account.server);
    let found = blocking(move || credentials::find_token(&key)).await?;
    let Some((token, _)) = found else {
        return Err(CommandError {
            code: "unauthorized".into(),
            message: "This device has no sync token here; sign in again.".into(),
            fields: vec![],
        });
    };
    HttpTransport::new(&account.server, &token).map_err(sync_error)
}

fn token_key(store: &Store, server: &str) -> TokenKey {
    TokenKey::new(server.to_owned(), store.device_id().0)
}

/// Keyring and token-file calls block (a Secret Service can hang): off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, credentials::CredentialError> + Send + 'static,
) -> CommandResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CommandError {
            code: "io".into(),
            message: format!("the credential store did not answer: {e}"),
            fields: vec![],
        })?
        .map_err(credential_error)
}

/// Sign-in failures in the words of someone signing in (the engine's
/// `unauthorized` speaks of a device token).
fn sign_in_error(err: SyncError) -> CommandError {
    match &err {
        SyncError::Unauthorized(_) => CommandError {
            code: "unauthorized".into(),
            message: "Wrong email or password.".into(),
            fields: vec![],
        },
        _ => sync_error(err),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Customer Hub desktop".to_owned())
}
