//! Customer Hub's desktop shell: a window, its capabilities and thin commands
//! over hub-core. Everything the app knows lives in hub-core; this crate only
//! opens the store, exposes commands, tells the UI when data changed and runs
//! the background sync loop (`sync_loop`).

pub mod commands;
pub mod error;
pub mod notifier;
pub mod state;
pub mod store_events;
pub mod sync_loop;
pub mod tray;

use hub_core::Store;
use tauri::Manager;

use crate::state::AppState;

pub fn run() {
    tauri::Builder::default()
        .on_window_event(tray::on_window_event)
        .setup(|app| {
            // `$HUB_DB`, else the platform data dir: the same file as the `hub` CLI.
            let state = AppState::new(app.handle().clone(), Store::default_path());
            // Open now so the first screen does not wait; a failure is kept
            // for the UI to show, not fatal.
            let _ = tauri::async_runtime::block_on(state.store());
            app.manage(state);
            // Cancel tokens of running imports (the import wizard's cancel button).
            app.manage(commands::import::ImportRuns::default());
            // Reminder notifications: runs with the window hidden, and offline.
            notifier::spawn(app.handle().clone());
            // Closing the window hides it to the tray, so reminders keep ringing.
            tray::install(app);
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
            commands::tags::add_tag,
            commands::tags::remove_tag,
            commands::tags::set_tag_color,
            commands::tags::rename_tag,
            commands::tags::merge_tags,
            commands::tags::delete_tag,
            commands::fields::list_custom_fields,
            commands::fields::create_custom_field,
            commands::fields::update_custom_field,
            commands::fields::delete_custom_field,
            commands::fields::restore_custom_field,
            commands::fields::get_custom_values,
            commands::fields::set_custom_values,
            commands::views::query_records,
            commands::views::list_views,
            commands::views::save_view,
            commands::views::run_view,
            commands::views::delete_view,
            commands::activities::log_activity,
            commands::activities::get_activity,
            commands::activities::update_activity,
            commands::activities::delete_activity,
            commands::activities::get_timeline,
            commands::activities::get_stay_in_touch,
            commands::activities::set_stay_in_touch,
            commands::activities::stay_in_touch_due,
            commands::tickets::list_tickets,
            commands::tickets::get_ticket,
            commands::tickets::create_ticket,
            commands::tickets::update_ticket,
            commands::tickets::set_ticket_status,
            commands::tickets::delete_ticket,
            commands::tickets::comment_ticket,
            commands::tickets::delete_ticket_comment,
            commands::tickets::current_user,
            commands::deals::list_pipelines,
            commands::deals::create_pipeline,
            commands::deals::add_stage,
            commands::deals::update_stage,
            commands::deals::delete_stage,
            commands::deals::move_stage,
            commands::deals::rename_pipeline,
            commands::deals::delete_pipeline,
            commands::deals::get_board,
            commands::deals::list_stage_deals,
            commands::deals::list_deals,
            commands::deals::get_deal,
            commands::deals::create_deal,
            commands::deals::update_deal,
            commands::deals::move_deal,
            commands::deals::close_deal,
            commands::deals::delete_deal,
            commands::deals::get_forecast,
            commands::deals::list_rates,
            commands::deals::set_rate,
            commands::deals::base_currency,
            commands::deals::set_base_currency,
            commands::today::get_today,
            commands::reminders::list_reminders,
            commands::reminders::get_reminder,
            commands::reminders::create_reminder,
            commands::reminders::complete_reminder,
            commands::reminders::snooze_reminder,
            commands::reminders::reopen_reminder,
            commands::reminders::delete_reminder,
            commands::reminders::local_time_zone,
            commands::demo::demo_status,
            commands::demo::clear_demo_data,
            commands::store::store_info,
            commands::sync::sync_status,
            commands::sync::sync_state,
            commands::sync::sign_in,
            commands::sync::sign_out,
            commands::sync::sync_now,
            commands::sync::list_devices,
            commands::sync::revoke_device,
            commands::conflicts::list_conflicts,
            commands::conflicts::restore_conflict,
            commands::trash::list_trash,
            commands::trash::restore_from_trash,
            commands::import::preview_import,
            commands::import::run_import,
            commands::import::cancel_import,
            commands::import::list_imports,
            commands::import::revert_import,
            commands::import::list_import_mappings,
            commands::import::save_import_mapping,
            commands::export::export_csv,
            commands::export::export_vcard,
            commands::export::export_ics,
            commands::export::export_json,
            commands::export::default_export_path,
            commands::duplicates::find_duplicates,
            commands::duplicates::find_contact_duplicates,
            commands::duplicates::preview_merge,
            commands::duplicates::merge_records,
            commands::duplicates::list_merges,
            commands::duplicates::undo_merge,
            commands::segments::list_segments,
            commands::segments::get_segment,
            commands::segments::segment_members,
            commands::segments::segment_history,
            commands::segments::create_segment,
            commands::segments::update_segment,
            commands::segments::delete_segment,
            commands::segments::preview_segment,
            commands::segments::contact_segments,
            commands::consent::contact_consent,
            commands::consent::set_consent,
            commands::privacy::export_subject,
            commands::privacy::erase_contact,
            commands::reports::report_dashboard,
            commands::reports::save_chart_png,
            commands::reports::save_chart_csv,
            commands::audiences::export_audience,
            commands::audiences::audience_history,
            commands::audiences::audience_removals,
            commands::audiences::write_audience_removals,
        ])
        .run(tauri::generate_context!())
        .expect("error while running Customer Hub");
}
