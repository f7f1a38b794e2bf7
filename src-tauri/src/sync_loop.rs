//! The background sync loop: one task per window, started once the store is
//! open. It runs a round ([`hub_core::sync::sync_once`])
//!
//! - every 30 s while signed in,
//! - about 2 s after a local change (the store watcher calls [`SyncEngine::local_change`];
//!   commits made by a round itself leave the outbox empty and are ignored),
//! - at once when asked: "Sync now", a fresh sign-in, the network coming back
//!   (the UI calls `sync_now` on the browser's `online` event).
//!
//! Rounds never overlap: the loop and `sync_now` take the same lock. Transient
//! failures (offline, server unavailable, database locked) retry after
//! [`hub_core::sync::backoff`]; a refused token (`unauthorized`) stops the
//! timer until the user signs in again. The UI follows along through two
//! events: `sync-state` ([`SyncState`]) and `sync-progress` (hub-core's `Progress`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hub_core::credentials::{self, TokenKey};
use hub_core::sync::{self, HttpTransport, Report, SyncError};
use hub_core::Store;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};
use ts_rs::TS;

use crate::error::CommandError;
use crate::store_events;

pub const STATE_EVENT: &str = "sync-state";
pub const PROGRESS_EVENT: &str = "sync-progress";

/// How often a signed-in device syncs when nothing else asks it to.
const PERIOD: Duration = Duration::from_secs(30);
/// How long after a local change the round starts (edits in a burst share it).
const AFTER_CHANGE: Duration = Duration::from_secs(2);

/// What the status indicator and Settings → Sync show, pushed as `sync-state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SyncState {
    /// `signed_out`, `idle` (online, synced), `syncing`, `offline` or `error`.
    pub state: String,
    pub last_sync_at: Option<String>,
    /// Local changes the server has not acknowledged yet.
    #[ts(type = "number")]
    pub pending: i64,
    #[ts(type = "number")]
    pub open_conflicts: i64,
    /// Why the last round failed, for people.
    pub message: Option<String>,
    /// The server refused this device's token (or there is none): sign in again.
    pub needs_sign_in: bool,
}

impl SyncState {
    fn signed_out() -> Self {
        SyncState {
            state: "signed_out".into(),
            last_sync_at: None,
            pending: 0,
            open_conflicts: 0,
            message: None,
            needs_sign_in: false,
        }
    }
}

/// Shared by the loop, the store watcher and the sync commands.
pub struct SyncEngine {
    /// Held for the whole of a round: the loop and `sync_now` never overlap.
    round: tokio::sync::Mutex<()>,
    /// Run a round now (sign-in, reconnect).
    wake: tokio::sync::Notify,
    /// A local change: run a round shortly.
    nudge: tokio::sync::Notify,
    /// The token of the signed-in account, once read (the keyring is slow).
    token: Mutex<Option<(TokenKey, String)>>,
    /// Transient failures in a row, for backoff.
    failures: AtomicU32,
    /// The server refused the token: no timed rounds until a new sign-in.
    paused: AtomicBool,
    /// The last round's outcome (state, message); counts are re-read on demand.
    last: Mutex<SyncState>,
    started: AtomicBool,
}

impl Default for SyncEngine {
    fn default() -> Self {
        SyncEngine {
            round: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
            nudge: tokio::sync::Notify::new(),
            token: Mutex::new(None),
            failures: AtomicU32::new(0),
            paused: AtomicBool::new(false),
            last: Mutex::new(SyncState::signed_out()),
            started: AtomicBool::new(false),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SyncEngine {
    /// Start the loop for `store` (once; later calls do nothing).
    pub fn start<R: Runtime>(self: &Arc<Self>, app: AppHandle<R>, store: Store) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let engine = self.clone();
        tauri::async_runtime::spawn(async move { engine.run(app, store).await });
    }

    async fn run<R: Runtime>(self: Arc<Self>, app: AppHandle<R>, store: Store) {
        // A round at start-up catches up with what happened while the app was closed.
        let mut first = true;
        loop {
            if !first {
                let signed_in = matches!(sync::account(&store).await, Ok(Some(_)));
                let failures = self.failures.load(Ordering::SeqCst);
                let timer = if !signed_in || self.paused.load(Ordering::SeqCst) {
                    None
                } else if failures > 0 {
                    Some(sync::backoff(failures))
                } else {
                    Some(PERIOD)
                };
                let sleep = async {
                    match timer {
                        Some(t) => tokio::time::sleep(t).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = sleep => {}
                    _ = self.wake.notified() => {}
                    _ = self.nudge.notified() => {
                        // Edits in a burst share one round; "Sync now" cuts the wait short.
                        tokio::select! {
                            _ = tokio::time::sleep(AFTER_CHANGE) => {}
                            _ = self.wake.notified() => {}
                        }
                    }
                }
            }
            first = false;
            match sync::account(&store).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.publish(&app, &store, SyncState::signed_out()).await;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the sync account");
                    continue;
                }
            }
            if self.paused.load(Ordering::SeqCst) {
                // Refused token: only a new sign-in (or "Sync now") tries again.
                continue;
            }
            let _ = self.round(&app, &store).await;
            // Edits committed while the round pulled are still in the outbox:
            // they go in a round of their own shortly.
            if self.failures.load(Ordering::SeqCst) == 0 && !self.paused.load(Ordering::SeqCst) {
                if let Ok(status) = sync::status(&store).await {
                    if status.pending > 0 && status.account.is_some() {
                        self.nudge.notify_one();
                    }
                }
            }
        }
    }

    /// One round now, after any round in progress. Emits `sync-state` before
    /// and after, `sync-progress` during, and `store-changed` when it brought
    /// other devices' changes.
    pub async fn round<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        store: &Store,
    ) -> Result<Report, CommandError> {
        let _round = self.round.lock().await;
        let Some(account) = sync::account(store).await? else {
            self.publish(app, store, SyncState::signed_out()).await;
            return Err(sync_error(SyncError::NotSignedIn));
        };
        let key = TokenKey::new(account.server.clone(), store.device_id().0);
        let token = match self.token_for(&key).await {
            Ok(Some(token)) => token,
            Ok(None) => {
                self.paused.store(true, Ordering::SeqCst);
                let message = "This device has no sync token here (it was removed or kept \
                               elsewhere); sign in again."
                    .to_owned();
                self.fail(app, store, "error", message.clone(), true).await;
                return Err(CommandError {
                    code: "unauthorized".into(),
                    message,
                    fields: vec![],
                });
            }
            Err(err) => {
                self.fail(app, store, "error", err.message.clone(), false)
                    .await;
                return Err(err);
            }
        };
        let mut syncing = self.snapshot(store).await;
        syncing.state = "syncing".into();
        syncing.message = None;
        self.emit_state(app, syncing);

        let result = match HttpTransport::new(&account.server, &token) {
            Ok(transport) => {
                sync::sync_once(store, &transport, |progress| {
                    if let Err(err) = app.emit(PROGRESS_EVENT, progress) {
                        tracing::warn!(error = %err, "cannot emit {PROGRESS_EVENT}");
                    }
                })
                .await
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(report) => {
                self.failures.store(0, Ordering::SeqCst);
                self.paused.store(false, Ordering::SeqCst);
                tracing::info!(?report, "sync round done");
                let mut state = self.snapshot(store).await;
                state.state = "idle".into();
                state.message = None;
                state.needs_sign_in = false;
                self.publish_state(app, state);
                if report.applied_fields > 0 || report.new_conflicts > 0 || report.snapshot_rows > 0
                {
                    // The watcher would notice too; say it now so views reload at once.
                    let _ = app.emit(store_events::EVENT, ());
                }
                Ok(report)
            }
            Err(err) => {
                let unauthorized = matches!(err, SyncError::Unauthorized(_));
                let kind = if err.is_transient() {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    if matches!(err, SyncError::Offline(_)) {
                        "offline"
                    } else {
                        "error"
                    }
                } else {
                    // Not going to fix itself: retry at the slow end of the backoff.
                    self.failures.store(
                        self.failures.load(Ordering::SeqCst).max(5) + 1,
                        Ordering::SeqCst,
                    );
                    "error"
                };
                if unauthorized {
                    self.paused.store(true, Ordering::SeqCst);
                    *lock(&self.token) = None;
                }
                tracing::warn!(code = err.code(), error = %err, "sync round failed");
                self.fail(app, store, kind, err.to_string(), unauthorized)
                    .await;
                Err(sync_error(err))
            }
        }
    }

    async fn token_for(&self, key: &TokenKey) -> Result<Option<String>, CommandError> {
        if let Some((k, token)) = lock(&self.token).as_ref() {
            if k == key {
                return Ok(Some(token.clone()));
            }
        }
        let wanted = key.clone();
        let found = tokio::task::spawn_blocking(move || credentials::find_token(&wanted))
            .await
            .map_err(|e| CommandError {
                code: "io".into(),
                message: format!("cannot read the token: {e}"),
                fields: vec![],
            })?
            .map_err(credential_error)?;
        Ok(found.map(|(token, _from)| {
            *lock(&self.token) = Some((key.clone(), token.clone()));
            token
        }))
    }

    /// A fresh sign-in: remember its token and sync at once.
    pub fn signed_in(&self, key: TokenKey, token: String) {
        *lock(&self.token) = Some((key, token));
        self.failures.store(0, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Signed out: forget the token; the loop idles until the next sign-in.
    pub async fn signed_out<R: Runtime>(&self, app: &AppHandle<R>, store: &Store) {
        *lock(&self.token) = None;
        self.failures.store(0, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
        self.publish(app, store, SyncState::signed_out()).await;
    }

    /// Called by the store watcher when something committed. Only changes that
    /// left something in the outbox (a local edit, here or by the CLI) ask for a
    /// round: a round's own commits empty it.
    pub async fn local_change(&self, store: &Store) {
        if self.round.try_lock().is_err() {
            // A round is running; the loop checks the outbox after it.
            return;
        }
        if let Ok(status) = sync::status(store).await {
            if status.account.is_some() && status.pending > 0 {
                self.nudge.notify_one();
            }
        }
    }

    /// The state to show now: the last round's outcome with fresh counts.
    pub async fn current(&self, store: &Store) -> SyncState {
        self.snapshot(store).await
    }

    async fn snapshot(&self, store: &Store) -> SyncState {
        let last = lock(&self.last).clone();
        match sync::status(store).await {
            Ok(status) if status.account.is_none() => SyncState::signed_out(),
            Ok(status) => SyncState {
                state: if last.state == "signed_out" {
                    // Signed in by the CLI, or before the first round here.
                    "idle".into()
                } else {
                    last.state
                },
                last_sync_at: status.last_sync_at,
                pending: status.pending,
                open_conflicts: status.open_conflicts,
                message: last.message.or(status.last_error),
                needs_sign_in: last.needs_sign_in,
            },
            Err(_) => last,
        }
    }

    async fn fail<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        store: &Store,
        kind: &str,
        message: String,
        needs_sign_in: bool,
    ) {
        let mut state = self.snapshot(store).await;
        state.state = kind.into();
        state.message = Some(message);
        state.needs_sign_in = needs_sign_in;
        self.publish_state(app, state);
    }

    async fn publish<R: Runtime>(&self, app: &AppHandle<R>, store: &Store, state: SyncState) {
        let state = if state.state == "signed_out" {
            state
        } else {
            let mut fresh = self.snapshot(store).await;
            fresh.state = state.state;
            fresh
        };
        self.publish_state(app, state);
    }

    fn publish_state<R: Runtime>(&self, app: &AppHandle<R>, state: SyncState) {
        *lock(&self.last) = state.clone();
        self.emit_state(app, state);
    }

    fn emit_state<R: Runtime>(&self, app: &AppHandle<R>, state: SyncState) {
        if let Err(err) = app.emit(STATE_EVENT, state) {
            tracing::warn!(error = %err, "cannot emit {STATE_EVENT}");
        }
    }
}

/// A sync failure as it crosses IPC: the engine's stable code and its message.
pub fn sync_error(err: SyncError) -> CommandError {
    match err {
        SyncError::Store(e) => CommandError::from(e),
        other => CommandError {
            code: other.code().to_owned(),
            message: other.to_string(),
            fields: vec![],
        },
    }
}

/// A token store failure as it crosses IPC. `keyring_unavailable` speaks of
/// the Settings checkbox, not the CLI's `--insecure-storage`.
pub fn credential_error(err: credentials::CredentialError) -> CommandError {
    let message = match &err {
        credentials::CredentialError::Unavailable { reason } => format!(
            "No keyring service is available on this computer ({reason}). To sign in anyway, \
             tick \u{201c}Keep the token in a file on this computer\u{201d}: it is then stored \
             unencrypted, readable only by your user account."
        ),
        other => other.to_string(),
    };
    CommandError {
        code: err.code().to_owned(),
        message,
        fields: vec![],
    }
}
