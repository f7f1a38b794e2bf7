//! Turns database commits into one `store-changed` event per tick.
//!
//! `PRAGMA data_version` on a dedicated connection moves whenever any
//! connection commits: this app's pool, the `hub` CLI, or a sync round. Polling
//! it every 500 ms batches bursts of writes into a single event, so open views
//! refresh once and a CLI change shows up within about a second. Each change
//! is also offered to the sync loop, which starts a round soon if it left
//! something in the outbox (a local edit; a round's own commits do not).
//!
//! Segments are kept live here too: each change, and once a minute for memberships
//! whose time window closes (docs/segments.md), runs `segments::refresh`, which is a
//! read when nothing is queued or due.

use std::sync::Arc;
use std::time::Duration;

use hub_core::Store;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::time::MissedTickBehavior;

use crate::sync_loop::SyncEngine;

pub const EVENT: &str = "store-changed";
const TICK: Duration = Duration::from_millis(500);
/// How often segments re-check time windows with no change in the store.
const SEGMENT_RECHECK: Duration = Duration::from_secs(60);

pub fn spawn_watcher<R: Runtime>(app: AppHandle<R>, store: Store, sync: Arc<SyncEngine>) {
    tauri::async_runtime::spawn(async move {
        let mut watcher = match store.watcher().await {
            Ok(w) => w,
            Err(err) => {
                tracing::error!(error = %err, "cannot watch the store; views will not refresh by themselves");
                return;
            }
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut rechecked = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            let changed = match watcher.changed().await {
                Ok(true) => {
                    if let Err(err) = app.emit(EVENT, ()) {
                        tracing::warn!(error = %err, "cannot emit {EVENT}");
                    }
                    sync.local_change(&store).await;
                    true
                }
                Ok(false) => false,
                Err(err) => {
                    tracing::warn!(error = %err, "store watcher poll failed");
                    false
                }
            };
            if changed || rechecked.elapsed() >= SEGMENT_RECHECK {
                rechecked = tokio::time::Instant::now();
                if let Err(err) = hub_core::segments::refresh(&store, chrono::Utc::now()).await {
                    tracing::warn!(error = %err, "segment refresh failed");
                }
            }
        }
    });
}
