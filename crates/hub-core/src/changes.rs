//! The write path. Every create, update and delete of a synced entity goes
//! through a [`WriteTx`], which in one SQLite transaction
//! - writes the row,
//! - stamps each written field with a hybrid logical clock (kept per row in
//!   the `clocks` JSON column, for the merge rule),
//! - appends one `change_log` entry per change (the sync outbox): the row,
//!   the clock, every written field with its value, and for each field the
//!   clock the writer had seen (`base`) — exactly a `hub_protocol::Change`,
//! - keeps the contact search index current.
//!
//! It is generic over [`EntityDef`]: nothing here knows about contacts.

use std::collections::{BTreeMap, BTreeSet};

use hub_protocol::{DeviceId, Hlc, HlcClock};
use serde_json::{json, Map, Value};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

use crate::entities::{self, EntityDef};
use crate::error::{Error, Result};
use crate::privacy::ErasedSet;
use crate::search;
use crate::store::Store;

/// Field values of one row write, by column name.
pub type Fields = Vec<(&'static str, Value)>;

/// Bound parameters per statement (SQLite's limit is 32766).
const MAX_PARAMS: usize = 30_000;

/// What applying one remote change did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Fields whose value now comes from the change.
    pub fields: usize,
    /// Fields skipped because this device already has a newer (or the same) write.
    pub stale: usize,
    /// Entities or `entity.field`s this version does not know.
    pub unknown: Vec<String>,
    /// Changes dropped because they would bring back an erased person
    /// (hub_core::privacy).
    pub erased: usize,
}

/// One change, as the outbox stores it.
struct LogEntry {
    entity: &'static EntityDef,
    row_id: String,
    hlc: Hlc,
    fields: Map<String, Value>,
    base: Map<String, Value>,
}

/// Clock of every field of a row not listed separately in `clocks`.
const ALL_FIELDS: &str = "*";

pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    device: DeviceId,
    /// Read from the store at the first change stamped or observed: a write
    /// that stores no change (most segment refreshes) never reads it.
    clock: Option<Clock>,
    /// The wall clock when the transaction began (one reading per write:
    /// the clock's counter orders events within it).
    wall_ms: u64,
    /// The last clock issued or observed here; `None` if nothing was.
    last: Option<Hlc>,
    touched_contacts: BTreeSet<String>,
    /// Contacts created in this transaction: indexed without a delete first.
    new_contacts: BTreeSet<String>,
    touched_companies: BTreeSet<String>,
    /// Leave the search index alone (a first sync rebuilds it once at the end).
    defer_search: bool,
    /// What this device knows is erased; loaded when the first remote change arrives.
    erased: Option<ErasedSet>,
}

/// The device's clock as stored, and the correction of this machine's wall clock
/// learned from the sync server (`server time - wall time` when they differ by
/// more than a minute).
struct Clock {
    hlc: HlcClock,
    offset_ms: i64,
}

/// The tables a first sync fills that were empty when it started and that
/// nobody else has written to since: their highest `rk` is still the one
/// this sync's own inserts left (a row added by anyone — this device's user,
/// another sync round — takes a higher `rk`). A snapshot row for such a table
/// cannot be on the device yet, so it is inserted without asking first
/// (5,000 index lookups a page). A table that moved is probed from then on.
#[derive(Debug, Default)]
pub struct FreshTables {
    highest_rk: BTreeMap<&'static str, Option<i64>>,
}

impl FreshTables {
    /// The synced tables that are empty now.
    pub async fn start(conn: &mut SqliteConnection) -> Result<FreshTables> {
        let mut highest_rk = BTreeMap::new();
        for entity in entities::ALL {
            if highest(conn, entity.table).await?.is_none() {
                highest_rk.insert(entity.table, None);
            }
        }
        Ok(FreshTables { highest_rk })
    }

    /// Whether `table` is still as this sync left it (forgotten if not).
    async fn untouched(
        &mut self,
        conn: &mut SqliteConnection,
        table: &'static str,
    ) -> Result<bool> {
        let Some(expected) = self.highest_rk.get(table).copied() else {
            return Ok(false);
        };
        let same = highest(conn, table).await? == expected;
        if !same {
            self.highest_rk.remove(table);
        }
        Ok(same)
    }

    /// Note where this sync's inserts into `table` left it.
    async fn inserted(&mut self, conn: &mut SqliteConnection, table: &'static str) -> Result<()> {
        let now = highest(conn, table).await?;
        self.highest_rk.insert(table, now);
        Ok(())
    }
}

async fn highest(conn: &mut SqliteConnection, table: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(&format!("SELECT max(rk) FROM {table}"))
        .fetch_one(conn)
        .await?)
}

impl Store {
    /// Start a write. `BEGIN IMMEDIATE` takes SQLite's write lock up front, so
    /// the clock read below cannot race another process's writer (the app and
    /// the CLI share one database and one device id).
    pub async fn write(&self) -> Result<WriteTx> {
        let tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx,
            device: self.device_id(),
            clock: None,
            wall_ms: self.wall_ms(),
            last: None,
            touched_contacts: BTreeSet::new(),
            new_contacts: BTreeSet::new(),
            touched_companies: BTreeSet::new(),
            defer_search: false,
            erased: None,
        })
    }
}

impl WriteTx {
    /// Whether a change has been stamped or observed in this write so far.
    pub fn has_changes(&self) -> bool {
        self.last.is_some()
    }

    /// The transaction's connection, for reads that must see this write.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// The clock, read under the write lock taken by `BEGIN IMMEDIATE`.
    async fn clock(&mut self) -> Result<&mut Clock> {
        if let Some(clock) = self.clock.take() {
            return Ok(self.clock.insert(clock));
        }
        let meta: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM meta WHERE key IN ('hlc', 'sync.clock_offset_ms')",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        let value = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let last = value("hlc").and_then(|s| s.parse::<Hlc>().ok());
        Ok(self.clock.insert(Clock {
            hlc: HlcClock::resume(self.device, last),
            offset_ms: value("sync.clock_offset_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        }))
    }

    /// A new clock for a change made here.
    async fn tick(&mut self) -> Result<Hlc> {
        let wall_ms = self.wall_ms;
        let clock = self.clock().await?;
        let wall = (wall_ms as i64).saturating_add(clock.offset_ms).max(0) as u64;
        let hlc = clock.hlc.now(wall);
        self.last = Some(hlc);
        Ok(hlc)
    }

    /// Move the clock past a clock received from elsewhere.
    async fn observe(&mut self, remote: Hlc) -> Result<()> {
        let wall_ms = self.wall_ms;
        let clock = self.clock().await?;
        let wall = (wall_ms as i64).saturating_add(clock.offset_ms).max(0) as u64;
        clock.hlc.observe(remote, wall);
        self.last = Some(self.last.map_or(remote, |l| l.max(remote)));
        Ok(())
    }

    /// Create one row with the given fields; unlisted fields are written as null.
    pub async fn insert(
        &mut self,
        entity: &'static EntityDef,
        id: Uuid,
        fields: Fields,
    ) -> Result<()> {
        self.insert_many(entity, vec![(id, fields)]).await
    }

    /// Create many rows with a few multi-row statements: the bulk path of
    /// imports and demo data. Every row is its own change with its own clock.
    pub async fn insert_many(
        &mut self,
        entity: &'static EntityDef,
        rows: Vec<(Uuid, Fields)>,
    ) -> Result<()> {
        for (_, fields) in &rows {
            check_fields(entity, fields)?;
        }
        let columns = entity.fields;
        // id, the fields, clocks, updated_ms: within SQLite's bound-parameter limit.
        let per_row = columns.len() + 3;
        let chunk = MAX_PARAMS / per_row;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<(Uuid, Fields)> = rows.by_ref().take(chunk).collect();
            let mut values: Vec<Value> = Vec::with_capacity(batch.len() * per_row);
            let mut log = Vec::with_capacity(batch.len());
            for (id, fields) in batch {
                let hlc = self.tick().await?;
                let id = id.to_string();
                let mut given: BTreeMap<&str, Value> =
                    fields.into_iter().map(|(k, v)| (k, normalise(v))).collect();
                // A create writes (and logs) every field, nulls too, so the
                // "*" clock means the same thing on every device applying it.
                let row: Map<String, Value> = columns
                    .iter()
                    .map(|c| ((*c).to_owned(), given.remove(c).unwrap_or(Value::Null)))
                    .collect();
                self.note_created(entity, &id, &row);
                values.push(Value::String(id.clone()));
                values.extend(columns.iter().map(|c| row[*c].clone()));
                values.push(Value::String(
                    json!({ ALL_FIELDS: hlc.to_string() }).to_string(),
                ));
                values.push(json!(hlc.ms));
                log.push(LogEntry {
                    entity,
                    row_id: id,
                    hlc,
                    fields: row,
                    base: Map::new(),
                });
            }
            let sql = format!(
                "INSERT INTO {table} (id, {cols}, clocks, updated_ms) VALUES {placeholders}",
                table = entity.table,
                cols = columns.join(", "),
                placeholders = placeholders(per_row, values.len() / per_row),
            );
            let mut query = sqlx::query::<Sqlite>(&sql);
            for value in &values {
                query = bind_json(query, value);
            }
            query
                .execute(&mut *self.tx)
                .await
                .map_err(|e| unique_violation(e, entity))?;
            self.append_log(log).await?;
        }
        Ok(())
    }

    /// Write the given fields of an existing row. Fields whose value does not
    /// change are skipped, so an edit logs only what the user really changed.
    /// Returns how many fields changed.
    pub async fn update(
        &mut self,
        entity: &'static EntityDef,
        id: Uuid,
        fields: Fields,
    ) -> Result<usize> {
        check_fields(entity, &fields)?;
        let id_text = id.to_string();
        let row = self.read_row(entity, &id_text).await?;
        let Some((current, clocks)) = row else {
            return Err(Error::not_found(entity.name, id));
        };
        let current: Map<String, Value> = serde_json::from_str(&current).unwrap_or_default();
        let mut clocks: Map<String, Value> = serde_json::from_str(&clocks).unwrap_or_default();

        let changed: Vec<(&'static str, Value)> = fields
            .into_iter()
            .map(|(k, v)| (k, normalise(v)))
            .filter(|(k, v)| current.get(*k).unwrap_or(&Value::Null) != v)
            .collect();
        if changed.is_empty() {
            return Ok(0);
        }

        let hlc = self.tick().await?;
        let mut entry = LogEntry {
            entity,
            row_id: id_text.clone(),
            hlc,
            fields: Map::new(),
            base: Map::new(),
        };
        for (field, value) in &changed {
            if let Some(base) = clocks.get(*field).or_else(|| clocks.get(ALL_FIELDS)) {
                entry.base.insert((*field).into(), base.clone());
            }
            entry.fields.insert((*field).into(), value.clone());
            clocks.insert((*field).into(), Value::String(hlc.to_string()));
        }

        self.set_fields(
            entity,
            &id_text,
            &changed,
            Value::Object(clocks).to_string(),
            hlc.ms,
        )
        .await?;
        self.append_log(vec![entry]).await?;

        let mut after = current;
        after.extend(changed.iter().map(|(k, v)| ((*k).to_string(), v.clone())));
        self.note_touched(entity, &id_text, &after);
        Ok(changed.len())
    }

    /// Delete a row: a tombstone (`deleted_at`) written like any other field,
    /// so the delete syncs and merges by the same rule. Deleting a deleted row
    /// changes nothing.
    pub async fn delete(&mut self, entity: &'static EntityDef, id: Uuid) -> Result<bool> {
        let deleted_at: Option<Option<String>> = sqlx::query_scalar(&format!(
            "SELECT deleted_at FROM {} WHERE id = ?",
            entity.table
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        match deleted_at {
            None => Err(Error::not_found(entity.name, id)),
            Some(Some(_)) => Ok(false),
            Some(None) => {
                self.update(
                    entity,
                    id,
                    vec![("deleted_at", Value::String(now_rfc3339()))],
                )
                .await?;
                Ok(true)
            }
        }
    }

    /// A row's synced values and its clocks, as JSON texts.
    async fn read_row(&mut self, entity: &EntityDef, id: &str) -> Result<Option<(String, String)>> {
        let pairs: Vec<String> = entity
            .fields
            .iter()
            .map(|f| format!("'{f}', {f}"))
            .collect();
        let sql = format!(
            "SELECT json_object({}), clocks FROM {} WHERE id = ?",
            pairs.join(", "),
            entity.table
        );
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    /// Write some fields of an existing row with its new clocks.
    async fn set_fields(
        &mut self,
        entity: &EntityDef,
        id: &str,
        fields: &[(&'static str, Value)],
        clocks: String,
        ms: u64,
    ) -> Result<()> {
        let sets: String = fields.iter().map(|(f, _)| format!("{f} = ?, ")).collect();
        let sql = format!(
            "UPDATE {} SET {sets}clocks = ?, updated_ms = max(updated_ms, ?) WHERE id = ?",
            entity.table
        );
        let mut query = sqlx::query::<Sqlite>(&sql);
        for (_, value) in fields {
            query = bind_json(query, value);
        }
        query
            .bind(clocks)
            .bind(ms as i64)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn append_log(&mut self, entries: Vec<LogEntry>) -> Result<()> {
        for chunk in entries.chunks(MAX_PARAMS / 6) {
            let sql = format!(
                "INSERT INTO change_log (op_id, entity, row_id, hlc, fields, base) VALUES {}",
                placeholders(6, chunk.len())
            );
            let mut query = sqlx::query::<Sqlite>(&sql);
            for e in chunk {
                query = query
                    .bind(Uuid::now_v7().to_string())
                    .bind(e.entity.name)
                    .bind(e.row_id.as_str())
                    .bind(e.hlc.to_string())
                    .bind(Value::Object(e.fields.clone()).to_string())
                    .bind(Value::Object(e.base.clone()).to_string());
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Note a created row for the search index.
    fn note_created(&mut self, entity: &'static EntityDef, id: &str, row: &Map<String, Value>) {
        if std::ptr::eq(entity, &entities::CONTACT) {
            self.new_contacts.insert(id.to_owned());
        } else {
            self.note_touched(entity, id, row);
        }
    }

    /// Remember which contacts' search entries this write makes stale.
    fn note_touched(&mut self, entity: &'static EntityDef, id: &str, row: &Map<String, Value>) {
        let contact_of = || {
            row.get("contact_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if std::ptr::eq(entity, &entities::CONTACT) {
            self.touched_contacts.insert(id.to_owned());
        } else if std::ptr::eq(entity, &entities::COMPANY) {
            self.touched_companies.insert(id.to_owned());
        } else if std::ptr::eq(entity, &entities::CONTACT_EMAIL)
            || std::ptr::eq(entity, &entities::CONTACT_PHONE)
        {
            if let Some(contact) = contact_of() {
                self.touched_contacts.insert(contact);
            }
        }
    }

    /// Apply a change made on another device (pulled from the sync server).
    /// Per field, the higher clock wins and an equal clock is a duplicate,
    /// so applying changes in any order, or twice, gives the same row: the
    /// rule of `hub_protocol::merge`. Conflicts are decided by the server,
    /// which sees every change; nothing applied here enters the outbox.
    /// Entities or fields this version does not know are skipped and
    /// reported, never guessed at.
    pub async fn apply_remote(&mut self, change: &hub_protocol::Change) -> Result<Applied> {
        if self
            .drops_erased(&change.entity, change.row_id, |f| change.fields.get(f))
            .await?
        {
            return Ok(Applied {
                erased: 1,
                ..Applied::default()
            });
        }
        let versions = change
            .fields
            .iter()
            .map(|(field, value)| (field.as_str(), value, change.hlc));
        self.apply_versions(&change.entity, change.row_id, versions)
            .await
    }

    /// Apply one row of a sync snapshot: each field with its own clock.
    pub async fn apply_snapshot_row(
        &mut self,
        row: &hub_protocol::wire::SnapshotRow,
    ) -> Result<Applied> {
        if self
            .drops_erased(&row.entity, row.row_id, |f| remote_value(&row.state, f))
            .await?
        {
            return Ok(Applied {
                erased: 1,
                ..Applied::default()
            });
        }
        let versions = row.state.fields.iter().filter_map(|(field, value)| {
            row.state
                .clocks
                .get(field)
                .map(|clock| (field.as_str(), value, *clock))
        });
        self.apply_versions(&row.entity, row.row_id, versions).await
    }

    /// Apply a page of a sync snapshot. Rows this device does not have yet
    /// (all of them, on a first sync) are inserted with a few multi-row
    /// statements per entity; the others merge field by field as in
    /// [`WriteTx::apply_snapshot_row`].
    pub async fn apply_snapshot_rows(
        &mut self,
        rows: &[hub_protocol::wire::SnapshotRow],
    ) -> Result<Applied> {
        self.apply_snapshot_rows_into(rows, &mut FreshTables::default())
            .await
    }

    /// [`WriteTx::apply_snapshot_rows`] for a first sync that keeps track of
    /// the tables it fills (`fresh`): rows of a table that nobody else has
    /// written to since go straight to the insert, without first asking
    /// which of them the device has.
    pub async fn apply_snapshot_rows_into(
        &mut self,
        rows: &[hub_protocol::wire::SnapshotRow],
        fresh: &mut FreshTables,
    ) -> Result<Applied> {
        let mut applied = Applied::default();
        let mut by_entity: BTreeMap<&str, Vec<&hub_protocol::wire::SnapshotRow>> = BTreeMap::new();
        for row in rows {
            by_entity.entry(row.entity.as_str()).or_default().push(row);
        }
        for (name, rows) in by_entity {
            let Some(entity) = entities::by_name(name) else {
                applied.unknown.push(name.to_owned());
                continue;
            };
            let untouched = fresh.untouched(&mut self.tx, entity.table).await?;
            let existing: BTreeSet<String> = if untouched {
                BTreeSet::new()
            } else {
                let ids: Vec<String> = rows.iter().map(|r| r.row_id.to_string()).collect();
                sqlx::query_scalar(&format!(
                    "SELECT id FROM {} WHERE id IN (SELECT value FROM json_each(?))",
                    entity.table
                ))
                .bind(serde_json::to_string(&ids).unwrap_or_default())
                .fetch_all(&mut *self.tx)
                .await?
                .into_iter()
                .collect()
            };
            let mut new_rows = Vec::new();
            for row in rows {
                if self
                    .drops_erased(&row.entity, row.row_id, |f| remote_value(&row.state, f))
                    .await?
                {
                    applied.erased += 1;
                } else if !untouched && existing.contains(&row.row_id.to_string()) {
                    let one = self.apply_snapshot_row(row).await?;
                    applied.fields += one.fields;
                    applied.stale += one.stale;
                    applied.unknown.extend(one.unknown);
                    applied.erased += one.erased;
                } else {
                    new_rows.push(row);
                }
            }
            let one = self.insert_remote_rows(entity, &new_rows).await?;
            applied.fields += one.fields;
            applied.unknown.extend(one.unknown);
            if untouched {
                fresh.inserted(&mut self.tx, entity.table).await?;
            }
        }
        Ok(applied)
    }

    /// Insert rows this device does not have, each field with its clock.
    /// The bulk of a first sync: values are bound straight from the page,
    /// a row whose fields share one clock stores it once (`"*"`), and the
    /// next statement's values are bound while SQLite runs this one.
    async fn insert_remote_rows(
        &mut self,
        entity: &'static EntityDef,
        rows: &[&hub_protocol::wire::SnapshotRow],
    ) -> Result<Applied> {
        let mut applied = Applied::default();
        // Observing the newest clock once is the same as observing each:
        // the clock only has to end up past all of them.
        if let Some(newest) = rows.iter().filter_map(|r| r.state.newest()).max() {
            self.observe(newest).await?;
        }
        for row in rows {
            for field in row.state.fields.keys() {
                if !entity.has_field(field) {
                    applied.unknown.push(format!("{}.{field}", entity.name));
                } else if row.state.clocks.contains_key(field) {
                    applied.fields += 1;
                }
            }
            if !self.defer_search {
                let known: Map<String, Value> = entity
                    .fields
                    .iter()
                    .filter_map(|c| {
                        remote_value(&row.state, c).map(|v| ((*c).to_owned(), v.clone()))
                    })
                    .collect();
                self.note_created(entity, &row.row_id.to_string(), &known);
            }
        }
        let per_chunk = MAX_PARAMS / (entity.fields.len() + 3);
        let insert_sql = |rows: usize| {
            format!(
                "INSERT INTO {table} (id, {cols}, clocks, updated_ms) VALUES {placeholders}",
                table = entity.table,
                cols = entity.fields.join(", "),
                placeholders = placeholders(entity.fields.len() + 3, rows),
            )
        };
        let full_sql = insert_sql(per_chunk);
        let last_sql = insert_sql(rows.len() % per_chunk);
        let bind = |chunk| {
            let sql = if <[_]>::len(chunk) == per_chunk {
                &full_sql
            } else {
                &last_sql
            };
            bind_remote_rows(sql, entity, chunk)
        };
        let mut chunks = rows.chunks(per_chunk);
        let mut next = chunks.next().map(bind);
        while let Some(query) = next.take() {
            // `join!` polls the statement first, which hands it to SQLite's
            // thread, then binds the following one on this thread meanwhile.
            let (done, following) = tokio::join!(query.execute(&mut *self.tx), async {
                chunks.next().map(bind)
            });
            done?;
            next = following;
        }
        Ok(applied)
    }

    /// Whether a remote change of this row must be dropped because it would bring back
    /// an erased person ([`ErasedSet::holds`]). A dropped row is remembered as erased,
    /// so a later change of only some of its fields is dropped too.
    async fn drops_erased<'v>(
        &mut self,
        entity: &str,
        row: Uuid,
        field: impl Fn(&str) -> Option<&'v Value>,
    ) -> Result<bool> {
        if self.erased.is_none() {
            self.erased = Some(ErasedSet::load(&mut self.tx).await?);
        }
        let Some(erased) = self.erased.as_mut().filter(|e| !e.is_empty()) else {
            return Ok(false);
        };
        if !erased.holds(entity, &row.to_string(), field) {
            return Ok(false);
        }
        erased.remember(entity, &row.to_string());
        sqlx::query("INSERT OR IGNORE INTO erased_rows (entity, row_id) VALUES (?, ?)")
            .bind(entity)
            .bind(row.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(true)
    }

    /// Reload what is erased at the next remote change (an erasure was just carried out).
    pub(crate) fn forget_erased(&mut self) {
        self.erased = None;
    }

    /// Skip search indexing in this transaction: for a first sync, which
    /// rebuilds the whole index once at the end ([`WriteTx::rebuild_search`]).
    pub fn defer_search(&mut self) {
        self.defer_search = true;
    }

    /// Rebuild the whole contact search index.
    pub async fn rebuild_search(&mut self) -> Result<()> {
        search::rebuild(&mut self.tx).await
    }

    /// The merge of remote field versions into one row (see `apply_remote`).
    async fn apply_versions<'v>(
        &mut self,
        entity: &str,
        row_id: Uuid,
        versions: impl Iterator<Item = (&'v str, &'v Value, Hlc)>,
    ) -> Result<Applied> {
        let mut applied = Applied::default();
        let Some(entity) = entities::by_name(entity) else {
            applied.unknown.push(entity.to_owned());
            return Ok(applied);
        };
        let id = row_id.to_string();
        let row = self.read_row(entity, &id).await?;
        let exists = row.is_some();
        let (current, clocks) = row.unwrap_or_default();
        let current: Map<String, Value> = serde_json::from_str(&current).unwrap_or_default();
        let mut clocks: Map<String, Value> = serde_json::from_str(&clocks).unwrap_or_default();
        let clock_of = |clocks: &Map<String, Value>, field: &str| {
            clocks
                .get(field)
                .or_else(|| clocks.get(ALL_FIELDS))
                .and_then(Value::as_str)
                .and_then(|c| c.parse::<Hlc>().ok())
        };
        let mut winners: Vec<(&'static str, Value, Hlc)> = Vec::new();
        for (field, value, clock) in versions {
            self.observe(clock).await?;
            let Some(field) = entity.fields.iter().copied().find(|f| *f == field) else {
                applied.unknown.push(format!("{}.{field}", entity.name));
                continue;
            };
            match clock_of(&clocks, field) {
                Some(c) if c >= clock => applied.stale += 1,
                _ => winners.push((field, normalise(value.clone()), clock)),
            }
        }
        if winners.is_empty() {
            return Ok(applied);
        }
        // Fields written by the create of this row on this device carry the
        // "*" clock; give them their own before a newer field overrides it.
        if let Some(all) = clocks.remove(ALL_FIELDS) {
            for f in entity.fields {
                clocks
                    .entry((*f).to_string())
                    .or_insert_with(|| all.clone());
            }
        }
        for (field, _, clock) in &winners {
            clocks.insert((*field).into(), Value::String(clock.to_string()));
        }
        let clocks_text = Value::Object(clocks).to_string();
        let newest = winners.iter().map(|(_, _, c)| c.ms).max().unwrap_or(0);
        let values: Vec<(&'static str, Value)> =
            winners.into_iter().map(|(f, v, _)| (f, v)).collect();
        if exists {
            self.set_fields(entity, &id, &values, clocks_text, newest)
                .await?;
        } else {
            let cols: String = values.iter().map(|(f, _)| format!(", {f}")).collect();
            let sql = format!(
                "INSERT INTO {} (id{cols}, clocks, updated_ms) VALUES ({})",
                entity.table,
                vec!["?"; values.len() + 3].join(", ")
            );
            let mut query = sqlx::query::<Sqlite>(&sql).bind(&id);
            for (_, value) in &values {
                query = bind_json(query, value);
            }
            query
                .bind(clocks_text)
                .bind(newest as i64)
                .execute(&mut *self.tx)
                .await?;
        }
        let mut after = current;
        after.extend(values.iter().map(|(k, v)| ((*k).to_string(), v.clone())));
        self.note_touched(entity, &id, &after);
        applied.fields += values.len();
        Ok(applied)
    }

    /// Give every change still in the outbox a new clock and a new op id,
    /// in outbox order, from a clock reset to `floor` (the highest clock this
    /// device knows the server accepted or sent) and the corrected wall time.
    /// For when the server refused a push as `clock_ahead`: this machine's
    /// clock ran ahead, and its unacknowledged changes carry clocks the
    /// server will not take. Rows whose field still holds an old clock get the
    /// new one; `base` links to a re-stamped change follow it. A change the
    /// server may already have under its old id and clock is harmless: the
    /// same value again never conflicts. Returns how many were re-stamped.
    pub async fn restamp_outbox(&mut self, floor: Option<Hlc>) -> Result<usize> {
        let entries: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
            "SELECT seq, entity, row_id, hlc, fields, base FROM change_log ORDER BY seq",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        self.clock().await?.hlc = HlcClock::resume(self.device, floor);
        let mut renamed: BTreeMap<String, String> = BTreeMap::new();
        for (seq, entity_name, row_id, old, fields, base) in &entries {
            let new = self.tick().await?.to_string();
            renamed.insert(old.clone(), new.clone());
            let mut base: Map<String, Value> = serde_json::from_str(base).unwrap_or_default();
            for clock in base.values_mut() {
                if let Some(new_base) = clock.as_str().and_then(|c| renamed.get(c)) {
                    *clock = Value::String(new_base.clone());
                }
            }
            sqlx::query("UPDATE change_log SET op_id = ?, hlc = ?, base = ? WHERE seq = ?")
                .bind(Uuid::now_v7().to_string())
                .bind(&new)
                .bind(Value::Object(base).to_string())
                .bind(seq)
                .execute(&mut *self.tx)
                .await?;
            let Some(entity) = entities::by_name(entity_name) else {
                continue;
            };
            let clocks: Option<String> =
                sqlx::query_scalar(&format!("SELECT clocks FROM {} WHERE id = ?", entity.table))
                    .bind(row_id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
            let Some(clocks) = clocks else { continue };
            let mut clocks: Map<String, Value> = serde_json::from_str(&clocks).unwrap_or_default();
            let fields: Map<String, Value> = serde_json::from_str(fields).unwrap_or_default();
            let mut moved = false;
            for field in fields.keys().map(String::as_str).chain([ALL_FIELDS]) {
                if let Some(clock) = clocks.get_mut(field) {
                    if clock.as_str() == Some(old.as_str()) {
                        *clock = Value::String(new.clone());
                        moved = true;
                    }
                }
            }
            if moved {
                sqlx::query(&format!(
                    "UPDATE {} SET clocks = ? WHERE id = ?",
                    entity.table
                ))
                .bind(Value::Object(clocks).to_string())
                .bind(row_id)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        if entries.is_empty() {
            // Still persist the reset clock.
            self.last = floor.or(self.last);
        }
        Ok(entries.len())
    }

    /// Refresh the search index for what this write touched, persist the
    /// clock, and commit. Dropping a `WriteTx` without commit rolls back all.
    pub async fn commit(mut self) -> Result<()> {
        let mut touched = std::mem::take(&mut self.touched_contacts);
        let new = std::mem::take(&mut self.new_contacts);
        // A contact created here and then edited (e.g. given an email) needs
        // indexing once, as a new row.
        touched.retain(|id| !new.contains(id));
        let companies = std::mem::take(&mut self.touched_companies);
        if !self.defer_search {
            search::reindex(&mut self.tx, &new, &touched, &companies).await?;
        }
        if let (Some(_), Some(clock)) = (self.last, &self.clock) {
            // The clock's state: never below what it resumed from, except after
            // `restamp_outbox`, which lowers it on purpose.
            crate::store::meta_set(&mut *self.tx, "hlc", &clock.hlc.state().to_string()).await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}

/// One multi-row insert of remote rows (see `WriteTx::insert_remote_rows`).
fn bind_remote_rows<'q>(
    sql: &'q str,
    entity: &EntityDef,
    chunk: &[&'q hub_protocol::wire::SnapshotRow],
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    let mut query = sqlx::query::<Sqlite>(sql);
    for row in chunk {
        query = query.bind(row.row_id.to_string());
        for column in entity.fields {
            query = match remote_value(&row.state, column) {
                Some(value) => bind_json(query, value),
                None => query.bind(None::<&str>),
            };
        }
        let newest = row.state.newest().map_or(0, |c| c.ms) as i64;
        query = query.bind(compact_clocks(entity, &row.state)).bind(newest);
    }
    query
}

/// `(?, ?), (?, ?)` for `rows` rows of `width` values.
fn placeholders(width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

fn check_fields(entity: &EntityDef, fields: &Fields) -> Result<()> {
    match fields.iter().find(|(k, _)| !entity.has_field(k)) {
        // A programming error, but never worth a panic in a user's app.
        Some((k, _)) => Err(Error::invalid(
            *k,
            format!("{} has no field {k}", entity.name),
        )),
        None => Ok(()),
    }
}

/// SQLite has no booleans: store them as 0/1 so the log and the row agree.
fn normalise(v: Value) -> Value {
    match v {
        Value::Bool(b) => json!(b as i64),
        other => other,
    }
}

fn bind_json<'q>(
    query: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
    value: &'q Value,
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    match value {
        Value::Null => query.bind(None::<&str>),
        Value::Bool(b) => query.bind(*b as i64),
        Value::Number(n) => match n.as_i64() {
            Some(i) => query.bind(i),
            None => query.bind(n.as_f64()),
        },
        Value::String(s) => query.bind(s.as_str()),
        other => query.bind(other.to_string()),
    }
}

/// A field's value in a remote row, when the row carries a clock for it
/// (a value without a clock cannot be merged later, so it is not taken).
fn remote_value<'r>(state: &'r hub_protocol::RowVersions, field: &str) -> Option<&'r Value> {
    state
        .clocks
        .contains_key(field)
        .then(|| state.fields.get(field))
        .flatten()
}

/// The `clocks` column of a remote row. `"*"` stands for every field not
/// listed, so it may only be used when the row has a clock for every field
/// of the entity (a field with no clock must stay without one, or an older
/// remote write of it would be taken for stale); then the most common clock
/// becomes `"*"` (a row created at once and never edited has just that).
fn compact_clocks(entity: &EntityDef, state: &hub_protocol::RowVersions) -> String {
    let mut clocks = Map::new();
    let complete = entity.fields.iter().all(|f| state.clocks.contains_key(*f));
    let common = complete
        .then(|| {
            let mut counts: BTreeMap<Hlc, usize> = BTreeMap::new();
            for f in entity.fields {
                *counts.entry(state.clocks[*f]).or_default() += 1;
            }
            counts.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c)
        })
        .flatten();
    if let Some(common) = common {
        clocks.insert(ALL_FIELDS.into(), Value::String(common.to_string()));
    }
    for field in entity.fields {
        match state.clocks.get(*field) {
            Some(c) if Some(*c) != common => {
                clocks.insert((*field).into(), Value::String(c.to_string()));
            }
            _ => {}
        }
    }
    Value::Object(clocks).to_string()
}

fn unique_violation(e: sqlx::Error, entity: &EntityDef) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::invalid(
            "id",
            format!("a {} with this id already exists", entity.name),
        ),
        _ => e.into(),
    }
}

/// The store's text form of a time: RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The oldest `limit` changes not yet acknowledged by a sync server, as the
/// protocol's `Change` records (what a push sends).
pub async fn outbox(store: &Store, limit: u32) -> Result<Vec<hub_protocol::Change>> {
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT op_id, entity, row_id, hlc, fields, base FROM change_log ORDER BY seq LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(|(op_id, entity, row_id, hlc, fields, base)| {
            let corrupt = |what: &str| Error::Open {
                path: store.path().display().to_string(),
                message: format!("corrupt change log entry {op_id}: {what}"),
            };
            Ok(hub_protocol::Change {
                op_id: Uuid::parse_str(&op_id).map_err(|_| corrupt("op id"))?,
                device_id: store.device_id(),
                entity,
                row_id: Uuid::parse_str(&row_id).map_err(|_| corrupt("row id"))?,
                hlc: hlc.parse().map_err(|_| corrupt("clock"))?,
                fields: serde_json::from_str(&fields).map_err(|_| corrupt("fields"))?,
                base: serde_json::from_str(&base).map_err(|_| corrupt("base"))?,
            })
        })
        .collect()
}
