//! Storage: everything the server keeps, behind one trait with two backends.
//!
//! As in atuin, [`Storage`] is the contract and each backend ([`SqliteStorage`],
//! [`PostgresStorage`]) implements it with runtime `query_as` over small `FromRow` row
//! types, so building the server needs no live database. Each backend runs its own
//! migrations (`migrations/server/{sqlite,postgres}`) when it is opened.
//!
//! Handlers hold a [`Database`], an enum over the two backends, rather than an
//! `Arc<dyn Storage>`: the set of backends is closed and ours, the trait can use plain
//! `async fn`s (not object safe, so no boxed futures and no `async-trait`), and each pool is
//! already a cheap, shareable handle, so the enum is `Clone` without another `Arc`.
//! A third backend is a new `impl Storage` plus one variant.
//!
//! The sync tables (changes, field versions, conflicts, the commit-ordered sequence) are
//! written and read by one body of SQL shared by both backends (`sync.rs`); so are the
//! event tables (events, their commit-ordered stream, dead letters: `events.rs`).

pub mod events;
mod postgres;
mod sqlite;
pub(crate) mod sync;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::DatabaseUrl;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

/// A workspace to insert: one per business.
#[derive(Clone, Debug)]
pub struct NewWorkspace {
    pub id: Uuid,
    pub name: String,
    pub write_key: String,
    pub created_at: DateTime<Utc>,
}

/// A stored workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub write_key: String,
    pub created_at: DateTime<Utc>,
}

/// A user to insert. `email` is already normalised (see [`crate::auth::Email`]).
/// Either `password_hash` is set, or the setup secret's hash and expiry are.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub password_setup_hash: Option<String>,
    pub password_setup_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What login needs about a user found by email.
#[derive(Clone, Debug)]
pub struct UserLogin {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// `None` while the user has not set a password yet: login always fails.
    pub password_hash: Option<String>,
}

/// A device to insert at login.
#[derive(Clone, Debug)]
pub struct NewDevice {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A stored device. Deliberately has no token hash: nothing read from storage for display
/// can leak it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A unique rule would be broken (same email twice in a workspace, …).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist (a user for an unknown workspace, …).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A device id signing in is registered in another workspace.
    #[error("device {0} belongs to another workspace")]
    DeviceTaken(Uuid),
    /// A pushed op_id is already stored (or earlier in the batch) with another payload.
    #[error("op_id {0} was already pushed with a different payload")]
    OpIdReused(Uuid),
    /// Stored sync data that does not parse (never written by this server).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl StorageError {
    /// Maps the driver's constraint errors onto domain errors; anything else stays opaque.
    pub(crate) fn from_write(
        err: sqlx::Error,
        unique: &'static str,
        missing: &'static str,
    ) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return Self::Conflict(unique);
            }
            if db.is_foreign_key_violation() {
                return Self::NotFound(missing);
            }
        }
        Self::Database(err)
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// One page of `GET /v1/sync/pull`.
#[derive(Clone, Debug)]
pub struct PullPage {
    pub changes: Vec<crate::sync::SyncedChange>,
    /// Conflicts detected by the changes of this page (`cursor < seq <= next_cursor`).
    pub conflicts: Vec<crate::sync::ConflictRecord>,
    pub next_cursor: i64,
    pub has_more: bool,
}

/// One page of `GET /v1/sync/snapshot`.
#[derive(Clone, Debug)]
pub struct SnapshotPage {
    pub as_of_seq: i64,
    /// Each row's stored [`hub_protocol::RowVersions`] document, undecoded.
    pub rows: Vec<crate::sync::SnapshotRow<Box<serde_json::value::RawValue>>>,
    /// Every conflict recorded on the page's rows.
    pub conflicts: Vec<crate::sync::ConflictRecord>,
    pub has_more: bool,
    /// Rows in the whole snapshot; on the first page only.
    pub total_rows: Option<i64>,
}

/// One page of `GET /v1/events/pull`: events with `cursor < seq <= next_cursor`.
#[derive(Clone, Debug)]
pub struct EventPage {
    pub events: Vec<hub_protocol::event::StreamedEvent>,
    pub next_cursor: i64,
    pub has_more: bool,
}

/// Everything hub-server stores. Both backends pass the same test suite
/// (`tests/storage_and_auth.rs`).
pub trait Storage: Send + Sync {
    /// Creates a workspace and its first user in one transaction.
    fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewUser,
    ) -> impl Future<Output = StorageResult<()>> + Send;

    /// Adds a user; [`StorageError::Conflict`] if the email is taken in that workspace,
    /// [`StorageError::NotFound`] if the workspace does not exist.
    fn add_user(&self, user: &NewUser) -> impl Future<Output = StorageResult<()>> + Send;

    fn workspace(&self, id: Uuid) -> impl Future<Output = StorageResult<Option<Workspace>>> + Send;

    /// Users with this (normalised) email, in every workspace, oldest first.
    fn users_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = StorageResult<Vec<UserLogin>>> + Send;

    /// Sets the password of the user whose unexpired setup secret hashes to `setup_hash`
    /// and burns the secret. Returns the user's id, or `None` if no such secret is live.
    fn complete_password_setup(
        &self,
        setup_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StorageResult<Option<Uuid>>> + Send;

    /// Registers a device, or signs an existing one of the same workspace in again (new
    /// token, new user and name, revocation lifted: the password was just proven). An id
    /// registered in another workspace is `Conflict`.
    fn add_device(&self, device: &NewDevice) -> impl Future<Output = StorageResult<()>> + Send;

    /// The live (not revoked) device whose token hashes to `token_hash`; marks it seen.
    fn authenticate_device(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StorageResult<Option<Device>>> + Send;

    /// The workspace's devices, revoked ones included, oldest first.
    fn devices(
        &self,
        workspace_id: Uuid,
    ) -> impl Future<Output = StorageResult<Vec<Device>>> + Send;

    /// Revokes a device of this workspace (again is a no-op). `false` when the workspace
    /// has no such device, whether or not another workspace has.
    fn revoke_device(
        &self,
        workspace_id: Uuid,
        device_id: Uuid,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StorageResult<bool>> + Send;

    /// Merges validated changes in one transaction, numbering the stored ones from the
    /// workspace's counter; one result per change, in order. A retried op_id gets its stored
    /// result; one reused with another payload fails the whole batch
    /// ([`StorageError::OpIdReused`]) with nothing written.
    fn push_changes(
        &self,
        workspace_id: Uuid,
        changes: &[hub_protocol::Change],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StorageResult<Vec<crate::sync::OpResult>>> + Send;

    /// Changes with `seq > cursor` in sequence order (at most `limit`), and the conflicts
    /// they detected.
    fn pull_changes(
        &self,
        workspace_id: Uuid,
        cursor: i64,
        limit: i64,
    ) -> impl Future<Output = StorageResult<PullPage>> + Send;

    /// Current field versions of up to `limit` rows after `(entity, row_id)`.
    fn snapshot_page(
        &self,
        workspace_id: Uuid,
        after: Option<(String, Uuid)>,
        limit: i64,
    ) -> impl Future<Output = StorageResult<SnapshotPage>> + Send;
    /// The workspace whose event write key this is.
    fn workspace_by_write_key(
        &self,
        write_key: &str,
    ) -> impl Future<Output = StorageResult<Option<Uuid>>> + Send;

    /// Stores a request's accepted events and dead letters in one transaction. Events
    /// whose messageId the workspace already has (or that repeat one earlier in `events`)
    /// are counted as duplicates and not stored again; new ones are numbered from the
    /// workspace's event counter in commit order. `source` is `collect` or
    /// `device:<id>`.
    fn store_events(
        &self,
        workspace_id: Uuid,
        events: &[hub_protocol::Event],
        dead: &[events::NewDeadLetter],
        source: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StorageResult<events::StoredEvents>> + Send;

    /// Events with `seq > cursor` in sequence order (at most `limit`).
    fn pull_events(
        &self,
        workspace_id: Uuid,
        cursor: i64,
        limit: i64,
    ) -> impl Future<Output = StorageResult<EventPage>> + Send;

    /// The workspace's latest dead letters, newest first.
    fn dead_letters(
        &self,
        workspace_id: Uuid,
        limit: i64,
    ) -> impl Future<Output = StorageResult<Vec<events::DeadLetter>>> + Send;
}

/// The backend chosen by the database URL's scheme. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqliteStorage),
    Postgres(PostgresStorage),
}

impl Database {
    /// Connects to (or creates) the database and runs the backend's migrations.
    pub async fn open(url: &DatabaseUrl) -> StorageResult<Self> {
        Ok(match url {
            DatabaseUrl::Sqlite { path } => Self::Sqlite(SqliteStorage::open_file(path).await?),
            DatabaseUrl::SqliteMemory => Self::Sqlite(SqliteStorage::open_memory().await?),
            DatabaseUrl::Postgres { url } => Self::Postgres(PostgresStorage::open(url).await?),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// `Database` forwards each trait method to the backend it holds.
macro_rules! forward {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Database::Sqlite(s) => s.$method($($arg),*).await,
            Database::Postgres(p) => p.$method($($arg),*).await,
        }
    };
}

impl Storage for Database {
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewUser,
    ) -> StorageResult<()> {
        forward!(self, create_workspace(workspace, owner))
    }

    async fn add_user(&self, user: &NewUser) -> StorageResult<()> {
        forward!(self, add_user(user))
    }

    async fn workspace(&self, id: Uuid) -> StorageResult<Option<Workspace>> {
        forward!(self, workspace(id))
    }

    async fn users_by_email(&self, email: &str) -> StorageResult<Vec<UserLogin>> {
        forward!(self, users_by_email(email))
    }

    async fn complete_password_setup(
        &self,
        setup_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Uuid>> {
        forward!(
            self,
            complete_password_setup(setup_hash, password_hash, now)
        )
    }

    async fn add_device(&self, device: &NewDevice) -> StorageResult<()> {
        forward!(self, add_device(device))
    }

    async fn authenticate_device(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Device>> {
        forward!(self, authenticate_device(token_hash, now))
    }

    async fn devices(&self, workspace_id: Uuid) -> StorageResult<Vec<Device>> {
        forward!(self, devices(workspace_id))
    }

    async fn revoke_device(
        &self,
        workspace_id: Uuid,
        device_id: Uuid,
        now: DateTime<Utc>,
    ) -> StorageResult<bool> {
        forward!(self, revoke_device(workspace_id, device_id, now))
    }

    async fn push_changes(
        &self,
        workspace_id: Uuid,
        changes: &[hub_protocol::Change],
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::sync::OpResult>> {
        forward!(self, push_changes(workspace_id, changes, now))
    }

    async fn pull_changes(
        &self,
        workspace_id: Uuid,
        cursor: i64,
        limit: i64,
    ) -> StorageResult<PullPage> {
        forward!(self, pull_changes(workspace_id, cursor, limit))
    }

    async fn snapshot_page(
        &self,
        workspace_id: Uuid,
        after: Option<(String, Uuid)>,
        limit: i64,
    ) -> StorageResult<SnapshotPage> {
        forward!(self, snapshot_page(workspace_id, after, limit))
    }

    async fn workspace_by_write_key(&self, write_key: &str) -> StorageResult<Option<Uuid>> {
        forward!(self, workspace_by_write_key(write_key))
    }

    async fn store_events(
        &self,
        workspace_id: Uuid,
        events: &[hub_protocol::Event],
        dead: &[events::NewDeadLetter],
        source: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<events::StoredEvents> {
        forward!(self, store_events(workspace_id, events, dead, source, now))
    }

    async fn pull_events(
        &self,
        workspace_id: Uuid,
        cursor: i64,
        limit: i64,
    ) -> StorageResult<EventPage> {
        forward!(self, pull_events(workspace_id, cursor, limit))
    }

    async fn dead_letters(
        &self,
        workspace_id: Uuid,
        limit: i64,
    ) -> StorageResult<Vec<events::DeadLetter>> {
        forward!(self, dead_letters(workspace_id, limit))
    }
}
