//! What the commands share: the store, or why it could not be opened.
//!
//! A store that fails to open (not SQLite, locked by another program) must not
//! stop the window from appearing: every command then answers with the open
//! error, and the UI shows it where the data would have been.

use hub_core::Store;

use crate::error::CommandError;

pub struct AppState {
    store: Result<Store, CommandError>,
}

impl AppState {
    pub fn new(store: Result<Store, CommandError>) -> Self {
        AppState { store }
    }

    pub fn store(&self) -> Result<&Store, CommandError> {
        self.store.as_ref().map_err(Clone::clone)
    }
}
