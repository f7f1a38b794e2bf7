//! Sync with the team's `hub-server` (the rules: docs/sync.md).
//!
//! One round ([`sync_once`]) pushes the outbox (the change log) and pulls what
//! other devices wrote. Every step is resumable: an outbox entry is cleared
//! only once the server answered for it, and the pull cursor (or the first
//! sync's snapshot position) moves only in the transaction that applied the
//! page. So a round cut off anywhere — network, crash, kill — repeats work at
//! worst, and the server's idempotent push and the clock rule make repeats
//! harmless.
//!
//! The account (server, workspace, email) lives in the store's `meta`; the
//! device token does not: callers keep it with [`crate::credentials`].

pub mod events;
mod transport;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_protocol::wire::{LoginRequest, OpStatus, SnapshotResponse, MAX_PUSH_CHANGES};
use hub_protocol::{Change, Hlc};
use serde::Serialize;
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{self, FreshTables, WriteTx};
use crate::search::SnapshotDocs;
use crate::store::{meta_get, meta_set, Store};
use crate::{conflicts, demo};

pub use transport::{normalise_server, HttpTransport, PushAnswer, Transport};

/// Largest push body we send (the server takes 4 MB).
const MAX_PUSH_BYTES: usize = 3 * 1024 * 1024;
/// Pull page size.
pub const PAGE: i64 = 1_000;
/// Snapshot page size: the most the server sends (one device transaction each).
pub const SNAPSHOT_PAGE: i64 = hub_protocol::wire::MAX_SNAPSHOT_PAGE;
/// A wall clock this far from the server's is corrected (see `WriteTx`).
const MAX_SKEW_MS: i64 = 60_000;
/// Re-stamping more often than this in one round means the server keeps
/// refusing our clocks for another reason: stop and report.
const MAX_RESTAMPS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this database is not signed in to a sync server (hub login)")]
    NotSignedIn,
    #[error(
        "this database holds demo data; clear it (hub demo --clear) before it syncs with a team"
    )]
    DemoData,
    #[error("{server} is not a server address: {message}")]
    BadServer { server: String, message: String },
    #[error("the sync server cannot be reached: {0}")]
    Offline(String),
    #[error("the sync server is unavailable: {0}")]
    Unavailable(String),
    #[error("the sync server refused this device's credentials ({0}); sign in again")]
    Unauthorized(String),
    #[error("the sync server refused: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Protocol(String),
    #[error("this database already syncs with workspace {workspace} on {server}; use another database for a different workspace")]
    OtherWorkspace { server: String, workspace: String },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl SyncError {
    /// Stable kind for the UI and `--json`.
    pub fn code(&self) -> &str {
        match self {
            SyncError::NotSignedIn => "not_signed_in",
            SyncError::DemoData => "demo_data",
            SyncError::BadServer { .. } => "bad_server",
            SyncError::Offline(_) => "offline",
            SyncError::Unavailable(_) => "unavailable",
            SyncError::Unauthorized(_) => "unauthorized",
            SyncError::Refused { code, .. } => code,
            SyncError::Protocol(_) => "protocol",
            SyncError::OtherWorkspace { .. } => "other_workspace",
            SyncError::Store(e) => e.code(),
        }
    }

    /// Worth retrying later by itself (with backoff).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Offline(_)
                | SyncError::Unavailable(_)
                | SyncError::Store(crate::Error::Locked { .. })
        )
    }
}

/// The sync server account this database is signed in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Account {
    pub server: String,
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub device_name: String,
}

/// A successful sign-in: keep `token` with [`crate::credentials`], it is not stored here.
pub struct SignedIn {
    pub account: Account,
    pub token: String,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("account", &self.account)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What `hub sync status` and Settings → Sync show.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncStatus {
    pub account: Option<Account>,
    pub device_id: String,
    /// Local changes the server has not acknowledged yet.
    pub pending: i64,
    /// Changes the server refused (kept in `rejected_changes`).
    pub rejected: i64,
    pub open_conflicts: i64,
    pub last_sync_at: Option<String>,
    pub last_error: Option<String>,
    /// The first sync (snapshot) has completed.
    pub initial_sync_done: bool,
}

/// Where a round is, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pushing,
    /// First sync: the workspace's current state, page by page.
    Snapshot,
    Pulling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Progress {
    pub phase: Phase,
    /// Changes pushed, rows or changes received so far in this phase.
    pub done: u64,
    /// Known for pushing (the outbox) and for the snapshot (rows on the server).
    pub total: Option<u64>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Report {
    pub pushed: u64,
    /// Pushed changes the server refused (kept locally, see `rejected_changes`).
    pub rejected: u64,
    pub restamped: u64,
    pub snapshot_rows: u64,
    pub pulled: u64,
    /// Fields whose value changed here because of another device.
    pub applied_fields: u64,
    pub new_conflicts: u64,
    /// Changes, sent or received, dropped because they were about an erased person
    /// (docs/privacy.md): intended, so not kept as rejected.
    pub erased: u64,
}

mod key {
    pub const SERVER: &str = "sync.server";
    pub const WORKSPACE: &str = "sync.workspace_id";
    pub const USER: &str = "sync.user_id";
    pub const EMAIL: &str = "sync.email";
    pub const DEVICE_NAME: &str = "sync.device_name";
    /// `server workspace` this database synced with first: it never joins
    /// another workspace (it may follow the same one to a new address).
    pub const BOUND: &str = "sync.bound";
    pub const CURSOR: &str = "sync.cursor";
    pub const SNAPSHOT_AFTER: &str = "sync.snapshot_after";
    pub const SNAPSHOT_AS_OF: &str = "sync.snapshot_as_of";
    pub const FLOOR: &str = "sync.hlc_floor";
    pub const OFFSET: &str = "sync.clock_offset_ms";
    pub const LAST_SYNC: &str = "sync.last_sync_at";
    pub const LAST_ERROR: &str = "sync.last_error";
}

async fn delete_meta(conn: &mut sqlx::SqliteConnection, keys: &[&str]) -> crate::Result<()> {
    for key in keys {
        sqlx::query("DELETE FROM meta WHERE key = ?")
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether this database has ever signed in to a sync server (it then syncs
/// with that workspace for life, signed in or not).
pub async fn is_bound(store: &Store) -> crate::Result<bool> {
    Ok(meta_get(store.pool(), key::BOUND).await?.is_some())
}

/// The account this database is signed in to, if any.
pub async fn account(store: &Store) -> crate::Result<Option<Account>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM meta WHERE key LIKE 'sync.%'")
            .fetch_all(store.pool())
            .await?;
    let get = |k: &str| {
        rows.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    Ok(match (get(key::SERVER), get(key::WORKSPACE)) {
        (Some(server), Some(workspace_id)) => Some(Account {
            server,
            workspace_id,
            user_id: get(key::USER).unwrap_or_default(),
            email: get(key::EMAIL).unwrap_or_default(),
            device_name: get(key::DEVICE_NAME).unwrap_or_default(),
        }),
        _ => None,
    })
}

/// Sign this database in: registers its device id with the server and
/// returns the device token (keep it with [`crate::credentials`]). A
/// database syncs with one workspace for life; demo data must go first.
pub async fn sign_in(
    store: &Store,
    server: &str,
    email: &str,
    password: &str,
    device_name: &str,
    workspace_id: Option<Uuid>,
) -> Result<SignedIn, SyncError> {
    let server = normalise_server(server)?;
    if demo::status(store).await?.loaded {
        return Err(SyncError::DemoData);
    }
    let answer = HttpTransport::login(
        &server,
        &LoginRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            device_name: device_name.trim().to_owned(),
            device_id: Some(store.device_id().0),
            workspace_id,
        },
    )
    .await?;
    let bound = format!("{server} {}", answer.workspace_id);
    // The workspace decides, not the address: a server that moved (new host
    // or port, same database) is the same workspace and keeps its history.
    let workspace_of = |b: &str| b.rsplit(' ').next().unwrap_or_default().to_owned();
    if let Some(previous) = meta_get(store.pool(), key::BOUND)
        .await?
        .filter(|b| workspace_of(b) != answer.workspace_id.to_string())
    {
        // Give the token straight back: this database will not use it.
        if let Ok(t) = HttpTransport::new(&server, &answer.token) {
            let _ = t.revoke(answer.device_id).await;
        }
        let (server, workspace) = previous.split_once(' ').unwrap_or((&previous, ""));
        return Err(SyncError::OtherWorkspace {
            server: server.to_owned(),
            workspace: workspace.to_owned(),
        });
    }
    let account = Account {
        server,
        workspace_id: answer.workspace_id.to_string(),
        user_id: answer.user_id.to_string(),
        email: email.trim().to_owned(),
        device_name: device_name.trim().to_owned(),
    };
    let mut tx = store
        .pool()
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(crate::Error::from)?;
    for (k, v) in [
        (key::SERVER, account.server.as_str()),
        (key::WORKSPACE, &account.workspace_id),
        (key::USER, &account.user_id),
        (key::EMAIL, &account.email),
        (key::DEVICE_NAME, &account.device_name),
        (key::BOUND, &bound),
    ] {
        meta_set(&mut *tx, k, v).await?;
    }
    delete_meta(&mut tx, &[key::LAST_ERROR]).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    // Before the first push: what this device made as "me" is the account's.
    crate::users::claim_local_records(store, &account.email).await?;
    Ok(SignedIn {
        account,
        token: answer.token,
    })
}

/// Forget the account (not the sync position: signing in again resumes).
/// Returns the account that was signed in, so the caller can drop its token.
pub async fn sign_out(store: &Store) -> crate::Result<Option<Account>> {
    let account = account(store).await?;
    let mut conn = store.pool().acquire().await?;
    delete_meta(
        &mut conn,
        &[
            key::SERVER,
            key::WORKSPACE,
            key::USER,
            key::EMAIL,
            key::DEVICE_NAME,
            key::LAST_ERROR,
        ],
    )
    .await?;
    Ok(account)
}

pub async fn status(store: &Store) -> crate::Result<SyncStatus> {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(store.pool())
            .await
    };
    Ok(SyncStatus {
        account: account(store).await?,
        device_id: store.device_id().0.to_string(),
        pending: count("SELECT count(*) FROM change_log").await?,
        rejected: count("SELECT count(*) FROM rejected_changes").await?,
        open_conflicts: conflicts::open_count(store).await?,
        last_sync_at: meta_get(store.pool(), key::LAST_SYNC).await?,
        last_error: meta_get(store.pool(), key::LAST_ERROR).await?,
        initial_sync_done: meta_get(store.pool(), key::CURSOR).await?.is_some(),
    })
}

/// One sync round: push every outbox entry, then pull (a snapshot first, on
/// a database's first sync) until the server has nothing newer. Records the
/// outcome for [`status`].
pub async fn sync_once<T: Transport>(
    store: &Store,
    transport: &T,
    mut progress: impl FnMut(Progress),
) -> Result<Report, SyncError> {
    let result = round(store, transport, &mut progress).await;
    let mut conn = store.pool().acquire().await.map_err(crate::Error::from)?;
    match &result {
        Ok(_) => {
            meta_set(&mut *conn, key::LAST_SYNC, &changes::now_rfc3339()).await?;
            delete_meta(&mut conn, &[key::LAST_ERROR]).await?;
        }
        // Not being signed in is a state, shown as such, not a failed sync.
        Err(SyncError::NotSignedIn) => {}
        Err(e) => meta_set(&mut *conn, key::LAST_ERROR, &e.to_string()).await?,
    }
    result
}

async fn round<T: Transport>(
    store: &Store,
    transport: &T,
    progress: &mut impl FnMut(Progress),
) -> Result<Report, SyncError> {
    if account(store).await?.is_none() {
        return Err(SyncError::NotSignedIn);
    }
    if demo::status(store).await?.loaded {
        return Err(SyncError::DemoData);
    }
    let mut report = Report::default();
    push(store, transport, progress, &mut report).await?;
    if meta_get(store.pool(), key::CURSOR).await?.is_none() {
        snapshot(store, transport, progress, &mut report).await?;
    }
    pull(store, transport, progress, &mut report).await?;
    events::sync(store, transport).await?;
    // What arrived (edits, events, erasures) moves contacts in and out of segments here,
    // as a local edit would (docs/segments.md).
    crate::segments::refresh(store, chrono::Utc::now()).await?;
    Ok(report)
}

async fn push<T: Transport>(
    store: &Store,
    transport: &T,
    progress: &mut impl FnMut(Progress),
    report: &mut Report,
) -> Result<(), SyncError> {
    let total = outbox_len(store).await? as u64;
    let mut restamps = 0;
    loop {
        let batch = push_batch(changes::outbox(store, MAX_PUSH_CHANGES as u32).await?);
        if batch.is_empty() {
            return Ok(());
        }
        progress(Progress {
            phase: Phase::Pushing,
            done: report.pushed,
            total: Some(total.max(report.pushed + batch.len() as u64)),
        });
        match transport.push(&batch).await? {
            PushAnswer::ClockAhead { server_time } => {
                restamps += 1;
                if restamps > MAX_RESTAMPS {
                    return Err(SyncError::Protocol(
                        "the server keeps refusing this device's clock; check the system time"
                            .into(),
                    ));
                }
                let mut tx = store.write().await?;
                note_server_time(store, tx.conn(), server_time).await?;
                // A fresh handle so the new offset applies to the re-stamp.
                tx.commit().await?;
                let floor = meta_get(store.pool(), key::FLOOR)
                    .await?
                    .and_then(|f| f.parse().ok());
                let mut tx = store.write().await?;
                report.restamped += tx.restamp_outbox(floor).await? as u64;
                tx.commit().await?;
            }
            PushAnswer::Done(answer) => {
                if batch
                    .iter()
                    .any(|c| !answer.results.iter().any(|r| r.op_id == c.op_id))
                {
                    // Never loop on an answer that skips a change: report it.
                    return Err(SyncError::Protocol(
                        "the server's push answer lacks a result for a change sent".into(),
                    ));
                }
                let mut tx = store.write().await?;
                note_server_time(store, tx.conn(), answer.server_time).await?;
                let mut floor = None;
                let mut rejected = 0;
                let mut erased = 0;
                let mut acked = Vec::with_capacity(batch.len());
                for result in &answer.results {
                    let Some(change) = batch.iter().find(|c| c.op_id == result.op_id) else {
                        continue;
                    };
                    acked.push(change.op_id.to_string());
                    if let OpStatus::Rejected { reason } = &result.status {
                        if reason.starts_with("erased") {
                            // An edit of a person someone erased: dropped, not kept (it
                            // holds the person's data).
                            erased += 1;
                            continue;
                        }
                        sqlx::query(
                            "INSERT OR IGNORE INTO rejected_changes (op_id, change, reason, rejected_at) VALUES (?, ?, ?, ?)",
                        )
                        .bind(change.op_id.to_string())
                        .bind(serde_json::to_string(change).unwrap_or_default())
                        .bind(reason)
                        .bind(changes::now_rfc3339())
                        .execute(tx.conn())
                        .await
                        .map_err(crate::Error::from)?;
                        rejected += 1;
                    } else {
                        floor = floor.max(Some(change.hlc));
                    }
                }
                sqlx::query(
                    "DELETE FROM change_log WHERE op_id IN (SELECT value FROM json_each(?))",
                )
                .bind(serde_json::to_string(&acked).unwrap_or_default())
                .execute(tx.conn())
                .await
                .map_err(crate::Error::from)?;
                raise_floor(&mut tx, floor).await?;
                tx.commit().await?;
                report.rejected += rejected;
                report.erased += erased;
                report.pushed += batch.len() as u64 - rejected - erased;
            }
        }
    }
}

/// The outbox's head, cut to fit one push body.
fn push_batch(mut changes: Vec<Change>) -> Vec<Change> {
    let mut bytes = 0;
    let fits = changes
        .iter()
        .take_while(|c| {
            bytes += serde_json::to_vec(c).map(|v| v.len()).unwrap_or(0) + 1;
            bytes <= MAX_PUSH_BYTES
        })
        .count();
    changes.truncate(fits.max(1));
    changes
}

async fn snapshot<T: Transport>(
    store: &Store,
    transport: &T,
    progress: &mut impl FnMut(Progress),
    report: &mut Report,
) -> Result<(), SyncError> {
    let after = meta_get(store.pool(), key::SNAPSHOT_AFTER).await?;
    let mut docs = SearchDocs::start(store).await?;
    let mut fresh = {
        let mut conn = store.pool().acquire().await.map_err(crate::Error::from)?;
        FreshTables::start(&mut conn).await?
    };
    let mut page = transport.snapshot(after.as_deref(), SNAPSHOT_PAGE).await?;
    let mut total = None;
    loop {
        total = total.or(page.total_rows.map(|t| t as u64));
        // Fetch the next page while this one is written: the network and the
        // server overlap with the local inserts.
        let next_key = page.next_after.clone().filter(|_| page.has_more);
        let prefetch = async {
            match &next_key {
                Some(key) => Some(transport.snapshot(Some(key), SNAPSHOT_PAGE).await),
                None => None,
            }
        };
        let (applied, next) = tokio::join!(
            apply_snapshot_page(store, &page, &mut docs, &mut fresh, report),
            prefetch
        );
        applied?;
        progress(Progress {
            phase: Phase::Snapshot,
            done: report.snapshot_rows,
            total,
        });
        match next {
            Some(next) => page = next?,
            None => return Ok(()),
        }
    }
}

/// One snapshot page in one transaction, with the position of the next page
/// (or, after the last, the pull cursor and the search index).
async fn apply_snapshot_page(
    store: &Store,
    page: &SnapshotResponse,
    docs: &mut SearchDocs,
    fresh: &mut FreshTables,
    report: &mut Report,
) -> Result<(), SyncError> {
    let mut tx = store.write().await?;
    // The search index is written once, after the last page.
    tx.defer_search();
    note_server_time(store, tx.conn(), page.server_time).await?;
    // The page's search text is put together while SQLite inserts its rows.
    let (applied, ()) = tokio::join!(tx.apply_snapshot_rows_into(&page.rows, fresh), async {
        if let Some(docs) = &mut docs.docs {
            docs.add(&page.rows);
        }
    });
    report.applied_fields += applied?.fields as u64;
    crate::privacy::follow(&mut tx).await?;
    let floor = page.rows.iter().filter_map(|row| row.state.newest()).max();
    report.new_conflicts += conflicts::record(tx.conn(), &page.conflicts).await?;
    raise_floor(&mut tx, floor).await?;
    report.snapshot_rows += page.rows.len() as u64;
    // The first page's position is where pull resumes: everything up to it
    // is in the snapshot, anything later comes again by pull.
    if meta_get(tx.conn(), key::SNAPSHOT_AS_OF).await?.is_none() {
        meta_set(tx.conn(), key::SNAPSHOT_AS_OF, &page.as_of_seq.to_string()).await?;
    }
    match (&page.next_after, page.has_more) {
        (Some(next), true) => meta_set(tx.conn(), key::SNAPSHOT_AFTER, next).await?,
        _ => {
            let as_of = meta_get(tx.conn(), key::SNAPSHOT_AS_OF)
                .await?
                .unwrap_or_else(|| page.as_of_seq.to_string());
            meta_set(tx.conn(), key::CURSOR, &as_of).await?;
            delete_meta(tx.conn(), &[key::SNAPSHOT_AFTER, key::SNAPSHOT_AS_OF]).await?;
            match docs.take_if_valid(tx.conn()).await? {
                Some(docs) => docs.write(tx.conn()).await?,
                None => tx.rebuild_search().await?,
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The search entries of a first sync, kept while they can stand for the
/// index: when the snapshot starts on a device with no contacts, companies,
/// emails or phones, and this device writes nothing while it runs (a contact
/// made or edited meanwhile would not be in them). Otherwise the index is
/// rebuilt from the tables.
struct SearchDocs {
    docs: Option<SnapshotDocs>,
    /// The outbox's last entry when the snapshot started.
    outbox_at_start: Option<i64>,
}

impl SearchDocs {
    async fn start(store: &Store) -> Result<Self, SyncError> {
        let empty: bool = sqlx::query_scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM contacts) AND NOT EXISTS (SELECT 1 FROM companies)
                AND NOT EXISTS (SELECT 1 FROM contact_emails)
                AND NOT EXISTS (SELECT 1 FROM contact_phones)",
        )
        .fetch_one(store.pool())
        .await
        .map_err(crate::Error::from)?;
        Ok(SearchDocs {
            docs: empty.then(SnapshotDocs::default),
            outbox_at_start: last_outbox_entry(store.pool()).await?,
        })
    }

    async fn take_if_valid(
        &mut self,
        conn: &mut SqliteConnection,
    ) -> Result<Option<SnapshotDocs>, SyncError> {
        let unchanged = last_outbox_entry(conn).await? == self.outbox_at_start;
        Ok(self.docs.take().filter(|_| unchanged))
    }
}

async fn last_outbox_entry<'e>(
    conn: impl sqlx::SqliteExecutor<'e>,
) -> Result<Option<i64>, SyncError> {
    Ok(sqlx::query_scalar("SELECT max(seq) FROM change_log")
        .fetch_one(conn)
        .await
        .map_err(crate::Error::from)?)
}

async fn pull<T: Transport>(
    store: &Store,
    transport: &T,
    progress: &mut impl FnMut(Progress),
    report: &mut Report,
) -> Result<(), SyncError> {
    loop {
        let cursor: i64 = meta_get(store.pool(), key::CURSOR)
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let page = transport.pull(cursor, PAGE).await?;
        let mut tx = store.write().await?;
        // Another round (the app and `hub sync` share the database) may have
        // applied this page meanwhile: applying again is harmless, but the
        // cursor must not move backwards.
        let now: i64 = meta_get(tx.conn(), key::CURSOR)
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        note_server_time(store, tx.conn(), page.server_time).await?;
        let mut floor = None;
        for synced in &page.changes {
            let applied = tx.apply_remote(&synced.change).await?;
            report.applied_fields += applied.fields as u64;
            report.erased += applied.erased as u64;
            floor = floor.max(Some(synced.change.hlc));
        }
        // Merges that arrived: repoint and carry what reached a merged-away record
        // (docs/merge.md); erasures: remove what this device holds of the person
        // (docs/privacy.md).
        crate::merge::follow_up(&mut tx, page.changes.iter().map(|c| &c.change)).await?;
        crate::privacy::follow(&mut tx).await?;
        report.new_conflicts += conflicts::record(tx.conn(), &page.conflicts).await?;
        raise_floor(&mut tx, floor).await?;
        meta_set(
            tx.conn(),
            key::CURSOR,
            &page.next_cursor.max(now).to_string(),
        )
        .await?;
        tx.commit().await?;
        report.pulled += page.changes.len() as u64;
        progress(Progress {
            phase: Phase::Pulling,
            done: report.pulled,
            total: None,
        });
        if !page.has_more || page.next_cursor <= cursor {
            return Ok(());
        }
    }
}

/// Keep the highest clock the server accepted from us or sent us: a
/// re-stamp never goes below it.
async fn raise_floor(tx: &mut WriteTx, clock: Option<Hlc>) -> crate::Result<()> {
    let Some(clock) = clock else { return Ok(()) };
    let current: Option<Hlc> = meta_get(tx.conn(), key::FLOOR)
        .await?
        .and_then(|f| f.parse().ok());
    if current.is_none_or(|c| c < clock) {
        meta_set(tx.conn(), key::FLOOR, &clock.to_string()).await?;
    }
    Ok(())
}

/// Remember how far this machine's clock is from the server's, when it is
/// more than a minute: new local clocks then follow the server's time.
async fn note_server_time(
    store: &Store,
    conn: &mut sqlx::SqliteConnection,
    server_time: DateTime<Utc>,
) -> crate::Result<()> {
    let skew = server_time.timestamp_millis() - store.wall_ms() as i64;
    let offset = if skew.abs() > MAX_SKEW_MS { skew } else { 0 };
    meta_set(conn, key::OFFSET, &offset.to_string()).await
}

async fn outbox_len(store: &Store) -> crate::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM change_log")
        .fetch_one(store.pool())
        .await?)
}

/// Delay before the next attempt after `failures` transient failures in a
/// row: 5 s, 10 s, 20 s … at most 5 minutes, with ±20% jitter so a team's
/// laptops coming back online do not retry in step.
pub fn backoff(failures: u32) -> Duration {
    let base = 5_000u64.saturating_mul(1 << failures.min(6)).min(300_000);
    let jitter = rand::random_range(0.8..1.2);
    Duration::from_millis((base as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};

    fn person(name: &str) -> ContactInput {
        ContactInput {
            display_name: Some(name.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn snapshot_search_entries_stand_only_for_an_untouched_empty_device() {
        // Empty and untouched while the snapshot ran: the entries stand.
        let store = Store::open_in_memory().await.unwrap();
        let mut docs = SearchDocs::start(&store).await.unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        assert!(docs.take_if_valid(&mut conn).await.unwrap().is_some());
        drop(conn);

        // A contact made on this device during the snapshot is not in them.
        let mut docs = SearchDocs::start(&store).await.unwrap();
        contacts::create(&store, person("Made meanwhile"))
            .await
            .unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        assert!(docs.take_if_valid(&mut conn).await.unwrap().is_none());
        drop(conn);

        // A device that already has contacts merges the snapshot into them.
        let docs = SearchDocs::start(&store).await.unwrap();
        assert!(docs.docs.is_none());
    }
}
