//! Opening the offline store: one SQLite file in WAL mode shared by the
//! desktop app and the CLI, migrated on open, with a device id made on first
//! open.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hub_protocol::DeviceId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use crate::error::{Error, Result};
use crate::phone::Region;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/local");

/// How long a statement waits for another process's write lock before the
/// store reports the database as locked.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle on the store. Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    options: SqliteConnectOptions,
    path: Arc<PathBuf>,
    device: DeviceId,
    region: Arc<RwLock<Region>>,
    /// See [`Store::simulate_clock_skew`].
    skew_ms: Arc<AtomicI64>,
}

impl Store {
    /// `$HUB_DB` if set, else `customer-hub/hub.db` in the platform data dir
    /// (`~/.local/share/customer-hub/hub.db` on Linux).
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("HUB_DB").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        directories::BaseDirs::new()
            .map(|d| d.data_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."))
            .join("customer-hub")
            .join("hub.db")
    }

    /// Open (creating if missing) and migrate the store at `path`.
    pub async fn open(path: &Path) -> Result<Store> {
        Self::open_with_timeout(path, busy_timeout()).await
    }

    /// As [`Store::open`], waiting at most `busy` for another program's write
    /// lock before reporting the database as locked.
    pub async fn open_with_timeout(path: &Path, busy: Duration) -> Result<Store> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Open {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        }
        if path.is_dir() {
            return Err(Error::Open {
                path: shown,
                message: "it is a directory".into(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(busy)
            // Search and list pages read scattered rows: serve them from
            // memory-mapped pages and a 32 MB cache, not read() calls.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-32000")
            // Multi-row INSERTs keep a statement journal for their rollback:
            // in memory, not in a temporary file written for every batch.
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A local file does not drop connections the way a network server
            // can: no ping (a round trip to the connection's thread) per acquire.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::from(e).at_path(&shown))?;
        Self::init(pool, options, path.to_path_buf())
            .await
            .map_err(|e| e.at_path(&shown))
    }

    /// A private in-memory store, for tests and benchmarks.
    pub async fn open_in_memory() -> Result<Store> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(Error::Database)?
            .foreign_keys(true);
        // One connection that never closes: the database lives as long as it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        Self::init(pool, options, PathBuf::from(":memory:")).await
    }

    async fn init(pool: SqlitePool, options: SqliteConnectOptions, path: PathBuf) -> Result<Store> {
        // The first real read fails cleanly on a file that is not SQLite.
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&pool)
            .await?;
        MIGRATOR.run(&pool).await?;
        // Read first: opening must not need the write lock, so a second
        // program can open (and read) while another one writes.
        let existing: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'device_id'")
                .fetch_optional(&pool)
                .await?;
        let device = match existing {
            Some(device) => device,
            None => {
                sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('device_id', ?)")
                    .bind(DeviceId::random().to_string())
                    .execute(&pool)
                    .await?;
                sqlx::query_scalar("SELECT value FROM meta WHERE key = 'device_id'")
                    .fetch_one(&pool)
                    .await?
            }
        };
        let device = device.parse().map_err(|_| Error::Open {
            path: path.display().to_string(),
            message: "corrupt device id".into(),
        })?;
        let region = match std::env::var("HUB_DEFAULT_REGION")
            .ok()
            .filter(|r| !r.is_empty())
        {
            Some(r) => Region::parse(&r)?,
            None => {
                let stored: Option<String> =
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'default_region'")
                        .fetch_optional(&pool)
                        .await?;
                stored
                    .and_then(|r| Region::parse(&r).ok())
                    .unwrap_or_default()
            }
        };
        Ok(Store {
            pool,
            options,
            path: Arc::new(path),
            device,
            region: Arc::new(RwLock::new(region)),
            skew_ms: Arc::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device_id(&self) -> DeviceId {
        self.device
    }

    /// The region used to read phone numbers written without a country code.
    pub fn default_region(&self) -> Region {
        *self.region.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Change and persist the default phone region (e.g. `"GB"`).
    pub async fn set_default_region(&self, code: &str) -> Result<Region> {
        let region = Region::parse(code)?;
        meta_set(&self.pool, "default_region", &region.code()).await?;
        *self.region.write().unwrap_or_else(|e| e.into_inner()) = region;
        Ok(region)
    }

    /// This machine's wall clock in ms since the epoch, as the store reads it.
    pub fn wall_ms(&self) -> u64 {
        let now = chrono::Utc::now().timestamp_millis();
        now.saturating_add(self.skew_ms.load(Ordering::Relaxed))
            .max(0) as u64
    }

    /// Make this handle read the wall clock `ms` off, as on a laptop whose
    /// clock is wrong: for tests of clock skew and for reproducing it.
    pub fn simulate_clock_skew(&self, ms: i64) {
        self.skew_ms.store(ms, Ordering::Relaxed);
    }

    /// A watcher that notices commits made by any connection or process.
    pub async fn watcher(&self) -> Result<ChangeWatcher> {
        let mut conn = SqliteConnection::connect_with(&self.options).await?;
        let version = data_version(&mut conn).await?;
        Ok(ChangeWatcher { conn, version })
    }

    /// Close the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A value of the `meta` table (device id, clock, settings, sync position).
pub(crate) async fn meta_get<'e>(
    ex: impl sqlx::SqliteExecutor<'e>,
    key: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
        .bind(key)
        .fetch_optional(ex)
        .await?)
}

/// Set a value of the `meta` table.
pub(crate) async fn meta_set<'e>(
    ex: impl sqlx::SqliteExecutor<'e>,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(ex)
    .await?;
    Ok(())
}

fn busy_timeout() -> Duration {
    std::env::var("HUB_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_BUSY_TIMEOUT)
}

/// Polls `PRAGMA data_version` on its own connection: the value moves whenever
/// another connection (this process's pool or another process, e.g. the CLI)
/// commits, so the app can refresh its views without polling tables.
pub struct ChangeWatcher {
    conn: SqliteConnection,
    version: i64,
}

impl ChangeWatcher {
    /// True when something was committed since the last call.
    pub async fn changed(&mut self) -> Result<bool> {
        let now = data_version(&mut self.conn).await?;
        let moved = now != self.version;
        self.version = now;
        Ok(moved)
    }
}

async fn data_version(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reopening_keeps_the_device_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/hub.db");
        let a = Store::open(&path).await.unwrap();
        let id = a.device_id();
        a.close().await;
        let b = Store::open(&path).await.unwrap();
        assert_eq!(b.device_id(), id);
    }

    #[tokio::test]
    async fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        let text = "these are my notes, not a database\n".repeat(200);
        std::fs::write(&path, &text).unwrap();
        let err = Store::open(&path).await.err().expect("must fail");
        assert_eq!(err.code(), "not_a_database", "{err}");
        assert!(err.to_string().contains("notes.txt"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[tokio::test]
    async fn the_watcher_sees_commits_from_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let app = Store::open(&path).await.unwrap();
        let mut watcher = app.watcher().await.unwrap();
        assert!(!watcher.changed().await.unwrap());
        let cli = Store::open(&path).await.unwrap();
        cli.set_default_region("GB").await.unwrap();
        assert!(watcher.changed().await.unwrap());
        assert!(!watcher.changed().await.unwrap());
    }
}
