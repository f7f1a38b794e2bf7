//! The embedded backend: one SQLite file (WAL, busy timeout), migrated on open.
//!
//! Ids are stored as hyphenated UUID text and times as RFC 3339 text, so the file stays
//! readable with the `sqlite3` shell.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use super::{
    Device, NewDevice, NewUser, NewWorkspace, Storage, StorageError, StorageResult, UserLogin,
    Workspace,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/server/sqlite");

/// SQLite storage. A `SqlitePool` is already a shareable handle: clone freely.
#[derive(Clone, Debug)]
pub struct SqliteStorage {
    pool: SqlitePool,
    /// Taken by event stores before they begin their write transaction: SQLite has one
    /// writer, and writers waiting in its busy handler sleep in growing steps (up to
    /// 100 ms) instead of queueing, which made the slowest batch requests wait for
    /// seconds under concurrent collection. This queue is first come, first served.
    events_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file and its directory, then migrates.
    pub async fn open_file(path: &Path) -> StorageResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Self::migrated(pool).await
    }

    /// An in-memory database for trials and tests. One connection that never expires,
    /// because each SQLite connection to `:memory:` is a separate, empty database.
    pub async fn open_memory() -> StorageResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> StorageResult<Self> {
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            events_writer: Default::default(),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: Hyphenated,
    name: String,
    write_key: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserLoginRow {
    id: Hyphenated,
    workspace_id: Hyphenated,
    password_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: Hyphenated,
    workspace_id: Hyphenated,
    user_id: Hyphenated,
    name: String,
    created_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<DeviceRow> for Device {
    fn from(row: DeviceRow) -> Self {
        Self {
            id: row.id.into_uuid(),
            workspace_id: row.workspace_id.into_uuid(),
            user_id: row.user_id.into_uuid(),
            name: row.name,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            revoked_at: row.revoked_at,
        }
    }
}

const DEVICE_COLUMNS: &str =
    "id, workspace_id, user_id, name, created_at, last_seen_at, revoked_at";

fn text(id: Uuid) -> Hyphenated {
    id.hyphenated()
}

async fn insert_user<'e, E>(executor: E, user: &NewUser) -> StorageResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO users (id, workspace_id, email, password_hash, password_setup_hash, \
         password_setup_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(text(user.id))
    .bind(text(user.workspace_id))
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.password_setup_hash)
    .bind(user.password_setup_expires_at)
    .bind(user.created_at)
    .execute(executor)
    .await
    .map_err(|e| StorageError::from_write(e, "user with this email", "workspace"))?;
    Ok(())
}

impl Storage for SqliteStorage {
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewUser,
    ) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO workspaces (id, name, write_key, created_at) VALUES (?, ?, ?, ?)")
            .bind(text(workspace.id))
            .bind(&workspace.name)
            .bind(&workspace.write_key)
            .bind(workspace.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "workspace", "workspace"))?;
        insert_user(&mut *tx, owner).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_user(&self, user: &NewUser) -> StorageResult<()> {
        insert_user(&self.pool, user).await
    }

    async fn workspace(&self, id: Uuid) -> StorageResult<Option<Workspace>> {
        let row: Option<WorkspaceRow> =
            sqlx::query_as("SELECT id, name, write_key, created_at FROM workspaces WHERE id = ?")
                .bind(text(id))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| Workspace {
            id: r.id.into_uuid(),
            name: r.name,
            write_key: r.write_key,
            created_at: r.created_at,
        }))
    }

    async fn users_by_email(&self, email: &str) -> StorageResult<Vec<UserLogin>> {
        let rows: Vec<UserLoginRow> = sqlx::query_as(
            "SELECT id, workspace_id, password_hash FROM users \
             WHERE lower(email) = lower(?) ORDER BY created_at, id",
        )
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UserLogin {
                id: r.id.into_uuid(),
                workspace_id: r.workspace_id.into_uuid(),
                password_hash: r.password_hash,
            })
            .collect())
    }

    async fn complete_password_setup(
        &self,
        setup_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Uuid>> {
        // Times are RFC 3339 UTC text of one format, so text order is time order.
        let id: Option<(Hyphenated,)> = sqlx::query_as(
            "UPDATE users SET password_hash = ?, password_setup_hash = NULL, \
             password_setup_expires_at = NULL \
             WHERE password_setup_hash = ? AND password_setup_expires_at > ? RETURNING id",
        )
        .bind(password_hash)
        .bind(setup_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(|(id,)| id.into_uuid()))
    }

    async fn add_device(&self, device: &NewDevice) -> StorageResult<()> {
        let done = sqlx::query(
            "INSERT INTO devices (id, workspace_id, user_id, name, token_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, \
             token_hash = excluded.token_hash, revoked_at = NULL \
             WHERE devices.workspace_id = excluded.workspace_id",
        )
        .bind(text(device.id))
        .bind(text(device.workspace_id))
        .bind(text(device.user_id))
        .bind(&device.name)
        .bind(&device.token_hash)
        .bind(device.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StorageError::from_write(e, "device", "workspace or user"))?;
        match done.rows_affected() {
            0 => Err(StorageError::DeviceTaken(device.id)),
            _ => Ok(()),
        }
    }

    async fn authenticate_device(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Device>> {
        let row: Option<DeviceRow> = sqlx::query_as(&format!(
            "UPDATE devices SET last_seen_at = ? \
             WHERE token_hash = ? AND revoked_at IS NULL RETURNING {DEVICE_COLUMNS}"
        ))
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Device::from))
    }

    async fn devices(&self, workspace_id: Uuid) -> StorageResult<Vec<Device>> {
        let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE workspace_id = ? ORDER BY created_at, id"
        ))
        .bind(text(workspace_id))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Device::from).collect())
    }

    async fn revoke_device(
        &self,
        workspace_id: Uuid,
        device_id: Uuid,
        now: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?) \
             WHERE id = ? AND workspace_id = ?",
        )
        .bind(now)
        .bind(text(device_id))
        .bind(text(workspace_id))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
    async fn push_changes(
        &self,
        workspace_id: Uuid,
        changes: &[hub_protocol::Change],
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::sync::OpResult>> {
        self.push_changes_impl(workspace_id, changes, now).await
    }

    async fn pull_changes(
        &self,
        workspace_id: Uuid,
        cursor: i64,
        limit: i64,
    ) -> StorageResult<super::PullPage> {
        self.pull_changes_impl(workspace_id, cursor, limit).await
    }

    async fn snapshot_page(
        &self,
        workspace_id: Uuid,
        after: Option<(String, Uuid)>,
        limit: i64,
    ) -> StorageResult<super::SnapshotPage> {
        self.snapshot_page_impl(workspace_id, after, limit).await
    }

    async fn workspace_by_write_key(&self, write_key: &str) -> StorageResult<Option<Uuid>> {
        self.workspace_by_write_key_impl(write_key).await
    }

    async fn store_events(
        &self,
        workspace_id: Uuid,
        events: &[hub_protocol::Event],
        dead: &[super::events::NewDeadLetter],
        source: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<super::events::StoredEvents> {
        self.store_events_impl(workspace_id, events, dead, source, now)
            .await
    }

    async fn pull_events(
        &self,
        workspace_id: Uuid,
        cursor: i64,
        limit: i64,
    ) -> StorageResult<super::EventPage> {
        self.pull_events_impl(workspace_id, cursor, limit).await
    }

    async fn dead_letters(
        &self,
        workspace_id: Uuid,
        limit: i64,
    ) -> StorageResult<Vec<super::events::DeadLetter>> {
        self.dead_letters_impl(workspace_id, limit).await
    }
}

super::sync::sync_storage!(SqliteStorage, text, json_texts, json_pairs);
super::events::events_storage!(SqliteStorage, in_texts, super::events::SQLITE_EVENT_CHUNK);

/// The texts of a JSON array parameter, as a subquery.
fn json_texts(param: &str) -> String {
    format!("SELECT value FROM json_each({param})")
}

/// The `[entity, row_id]` pairs of a JSON array parameter, as a subquery.
fn json_pairs(param: &str) -> String {
    format!("SELECT value ->> 0, value ->> 1 FROM json_each({param})")
}

/// "Is one of the texts of a JSON array parameter", looked up in the index.
fn in_texts(param: &str) -> String {
    format!("IN (SELECT value FROM json_each({param}))")
}

impl SqliteStorage {
    /// Queues this process's event stores (see `events_writer`).
    pub(crate) async fn events_write_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.events_writer.lock().await
    }
}
