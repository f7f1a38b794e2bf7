//! Customer Hub's desktop shell: a window, its capabilities and thin commands
//! over hub-core. Everything the app knows lives in hub-core; this crate only
//! opens the store, exposes commands and tells the UI when data changed.

pub mod commands;
pub mod error;
pub mod state;
pub mod store_events;

use hub_core::Store;

use crate::error::CommandError;
use crate::state::AppState;

/// Open the store at `Store::default_path()` (`$HUB_DB` wins). A failure is
/// kept, not fatal: the window still opens and shows what went wrong.
fn open_store() -> AppState {
    let path = Store::default_path();
    match tauri::async_runtime::block_on(Store::open(&path)) {
        Ok(store) => {
            tracing::info!(path = %path.display(), "store opened");
            AppState::new(Ok(store))
        }
        Err(err) => {
            tracing::error!(path = %path.display(), error = %err, "cannot open the store");
            AppState::new(Err(CommandError::from(err)))
        }
    }
}

pub fn run() {
    let state = open_store();
    let watched = state.store().ok().cloned();

    tauri::Builder::default()
        .manage(state)
        .setup(move |app| {
            if let Some(store) = watched {
                store_events::spawn_watcher(app.handle().clone(), store);
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::contacts::list_contacts,
            commands::contacts::get_contact,
            commands::contacts::create_contact,
            commands::contacts::update_contact,
            commands::contacts::delete_contact,
            commands::companies::list_companies,
            commands::companies::get_company,
            commands::companies::create_company,
            commands::companies::update_company,
            commands::companies::delete_company,
            commands::tags::list_tags,
            commands::demo::demo_status,
            commands::demo::clear_demo_data,
            commands::store::store_info,
        ])
        .run(tauri::generate_context!())
        .expect("error while running Customer Hub");
}
