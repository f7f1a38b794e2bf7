//! What the commands share: the store, opened on first use.
//!
//! A store that cannot be opened (not SQLite, locked by another program) must
//! not stop the window from appearing: the command answers with the open
//! error, the UI shows it where the data would have been, and the next command
//! (the UI's "Try again") tries to open it again. Once open, the store is a
//! cheap clone of a shared pool: no lock on the way to a query.

use std::path::PathBuf;
use std::sync::Arc;

use hub_core::Store;
use tauri::AppHandle;
use tokio::sync::OnceCell;

use crate::error::CommandError;
use crate::store_events;
use crate::sync_loop::SyncEngine;

pub struct AppState {
    path: PathBuf,
    store: OnceCell<Store>,
    app: AppHandle,
    /// The background sync loop, started with the store.
    pub sync: Arc<SyncEngine>,
}

impl AppState {
    pub fn new(app: AppHandle, path: PathBuf) -> Self {
        AppState {
            path,
            store: OnceCell::new(),
            app,
            sync: Arc::new(SyncEngine::default()),
        }
    }

    /// The open store, opening it (and starting its change watcher and the
    /// sync loop) if needed.
    pub async fn store(&self) -> Result<&Store, CommandError> {
        self.store
            .get_or_try_init(|| async {
                let store = Store::open(&self.path).await.map_err(|err| {
                    tracing::error!(path = %self.path.display(), error = %err, "cannot open the store");
                    CommandError::from(err)
                })?;
                tracing::info!(path = %self.path.display(), "store opened");
                store_events::spawn_watcher(self.app.clone(), store.clone(), self.sync.clone());
                self.sync.start(self.app.clone(), store.clone());
                Ok(store)
            })
            .await
    }
}
