//! The scale backend: PostgreSQL (or a compatible database), migrated on open.
//!
//! Several hub-server processes may share one database: sqlx takes an advisory lock while
//! migrating, and nothing here keeps state outside the database.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use super::{
    Device, NewDevice, NewUser, NewWorkspace, Storage, StorageError, StorageResult, UserLogin,
    Workspace,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/server/postgres");

/// PostgreSQL storage. A `PgPool` is already a shareable handle: clone freely.
#[derive(Clone, Debug)]
pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// Connects with the URL as given (`postgres://USER:PASSWORD@HOST/DB`, or a unix
    /// socket via `?host=/dir`), then migrates.
    pub async fn open(url: &str) -> StorageResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: Uuid,
    name: String,
    write_key: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserLoginRow {
    id: Uuid,
    workspace_id: Uuid,
    password_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<DeviceRow> for Device {
    fn from(row: DeviceRow) -> Self {
        Self {
            id: row.id,
            workspace_id: row.workspace_id,
            user_id: row.user_id,
            name: row.name,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            revoked_at: row.revoked_at,
        }
    }
}

const DEVICE_COLUMNS: &str =
    "id, workspace_id, user_id, name, created_at, last_seen_at, revoked_at";

async fn insert_user<'e, E>(executor: E, user: &NewUser) -> StorageResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO users (id, workspace_id, email, password_hash, password_setup_hash, \
         password_setup_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user.id)
    .bind(user.workspace_id)
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

impl Storage for PostgresStorage {
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewUser,
    ) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO workspaces (id, name, write_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.id)
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
            sqlx::query_as("SELECT id, name, write_key, created_at FROM workspaces WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| Workspace {
            id: r.id,
            name: r.name,
            write_key: r.write_key,
            created_at: r.created_at,
        }))
    }

    async fn users_by_email(&self, email: &str) -> StorageResult<Vec<UserLogin>> {
        let rows: Vec<UserLoginRow> = sqlx::query_as(
            "SELECT id, workspace_id, password_hash FROM users \
             WHERE lower(email) = lower($1) ORDER BY created_at, id",
        )
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UserLogin {
                id: r.id,
                workspace_id: r.workspace_id,
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
        let id: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE users SET password_hash = $1, password_setup_hash = NULL, \
             password_setup_expires_at = NULL \
             WHERE password_setup_hash = $2 AND password_setup_expires_at > $3 RETURNING id",
        )
        .bind(password_hash)
        .bind(setup_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(|(id,)| id))
    }

    async fn add_device(&self, device: &NewDevice) -> StorageResult<()> {
        let done = sqlx::query(
            "INSERT INTO devices (id, workspace_id, user_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, \
             token_hash = excluded.token_hash, revoked_at = NULL \
             WHERE devices.workspace_id = excluded.workspace_id",
        )
        .bind(device.id)
        .bind(device.workspace_id)
        .bind(device.user_id)
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
            "UPDATE devices SET last_seen_at = $1 \
             WHERE token_hash = $2 AND revoked_at IS NULL RETURNING {DEVICE_COLUMNS}"
        ))
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Device::from))
    }

    async fn devices(&self, workspace_id: Uuid) -> StorageResult<Vec<Device>> {
        let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
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
            "UPDATE devices SET revoked_at = coalesce(revoked_at, $1) \
             WHERE id = $2 AND workspace_id = $3",
        )
        .bind(now)
        .bind(device_id)
        .bind(workspace_id)
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

super::sync::sync_storage!(PostgresStorage, same_uuid, json_texts, json_pairs);
super::events::events_storage!(PostgresStorage, in_texts, super::events::INSERT_CHUNK);

/// The texts of a JSON array parameter, as a subquery.
fn json_texts(param: &str) -> String {
    format!("SELECT jsonb_array_elements_text({param}::jsonb)")
}

/// The `[entity, row_id]` pairs of a JSON array parameter, as a subquery.
fn json_pairs(param: &str) -> String {
    format!("SELECT p->>0, p->>1 FROM jsonb_array_elements({param}::jsonb) AS p")
}

/// `workspaces.id` is a UUID column here.
fn same_uuid(id: Uuid) -> Uuid {
    id
}

/// "Is one of the texts of a JSON array parameter", looked up in the index.
fn in_texts(param: &str) -> String {
    format!("= ANY(ARRAY(SELECT jsonb_array_elements_text({param}::jsonb)))")
}

impl PostgresStorage {
    /// Event stores of one workspace queue on its `event_seqs` row lock in the database
    /// (first come, first served), so nothing to take here.
    pub(crate) async fn events_write_turn(&self) {}
}
