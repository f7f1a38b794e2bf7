//! The tray icon: closing the window hides it to the tray, so the app keeps
//! running and reminder notifications keep coming (src/notifier.rs). The
//! tray's menu opens the window again or quits.
//!
//! Where no tray can be shown (a desktop without a status area, a headless
//! session), closing the window quits as usual: a hidden window with no way
//! back would look like a crash.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{App, AppHandle, Manager, Runtime, Window, WindowEvent};

/// Managed when the tray icon exists.
struct Tray;

const SHOW: &str = "show";
const QUIT: &str = "quit";

/// Show, unminimise and focus the main window.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Put the icon in the tray. A failure is logged, not fatal. Under WebDriver
/// automation (tauri-driver sets `TAURI_WEBVIEW_AUTOMATION=true`) there is no
/// tray: the harness ends a session by closing the window, which must quit.
pub fn install<R: Runtime>(app: &App<R>) {
    if std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true") {
        return;
    }
    let built = (|| -> tauri::Result<()> {
        let show = MenuItem::with_id(app, SHOW, "Open Customer Hub", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, QUIT, "Quit Customer Hub", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&show, &quit])?;
        let mut tray = TrayIconBuilder::with_id("main")
            .tooltip("Customer Hub")
            .menu(&menu)
            .show_menu_on_left_click(true)
            .on_menu_event(|app, event| match event.id.as_ref() {
                SHOW => show_main_window(app),
                QUIT => app.exit(0),
                _ => {}
            });
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.build(app)?;
        Ok(())
    })();
    match built {
        Ok(()) => {
            app.manage(Tray);
        }
        Err(err) => {
            tracing::warn!(error = %err, "no tray icon; closing the window quits the app");
        }
    }
}

/// The window's close button hides it to the tray when there is one.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == "main" && window.app_handle().try_state::<Tray>().is_some() {
            let _ = window.hide();
            api.prevent_close();
        }
    }
}
