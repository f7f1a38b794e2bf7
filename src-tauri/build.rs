// Lists the app's commands so tauri-build generates an `allow-<command>`
// permission for each; with an app manifest no command is reachable unless a
// capability (capabilities/default.json) grants it. Tauri also embeds ../ui/dist
// here: build the UI first (`npm --prefix ui run build`).
const COMMANDS: &[&str] = &[
    "list_contacts",
    "get_contact",
    "create_contact",
    "update_contact",
    "delete_contact",
    "list_companies",
    "get_company",
    "create_company",
    "update_company",
    "delete_company",
    "list_tags",
    "list_pipelines",
    "create_pipeline",
    "add_stage",
    "update_stage",
    "get_board",
    "list_stage_deals",
    "list_deals",
    "get_deal",
    "create_deal",
    "update_deal",
    "move_deal",
    "close_deal",
    "delete_deal",
    "get_forecast",
    "list_rates",
    "set_rate",
    "base_currency",
    "set_base_currency",
    "demo_status",
    "clear_demo_data",
    "store_info",
    "sync_status",
    "sync_state",
    "sign_in",
    "sign_out",
    "sync_now",
    "list_devices",
    "revoke_device",
    "list_conflicts",
    "restore_conflict",
    "list_reminders",
    "get_reminder",
    "create_reminder",
    "complete_reminder",
    "snooze_reminder",
    "reopen_reminder",
    "delete_reminder",
    "local_time_zone",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
