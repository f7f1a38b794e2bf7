//! The write path. Every create, update and delete of a synced entity goes
//! through a [`WriteTx`], which in one SQLite transaction
//! - writes the row,
//! - stamps each written field with a hybrid logical clock (kept per row in
//!   the `clocks` JSON column, for the merge rule),
//! - appends one `change_log` entry per written field (the sync outbox), with
//!   the clock the writer had seen as `base`,
//! - keeps the contact search index current.
//!
//! It is generic over [`EntityDef`]: nothing here knows about contacts.

use std::collections::{BTreeMap, BTreeSet};

use hub_protocol::{Hlc, HlcClock};
use serde_json::{json, Map, Value};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

use crate::entities::{self, EntityDef};
use crate::error::{Error, Result};
use crate::search;
use crate::store::Store;

/// Field values of one row write, by column name.
pub type Fields = Vec<(&'static str, Value)>;

/// Rows per multi-row statement in bulk inserts.
const CHUNK: usize = 1000;

/// Clock of every field of a row not listed separately in `clocks`.
const ALL_FIELDS: &str = "*";

pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    clock: HlcClock,
    last: Option<Hlc>,
    touched_contacts: BTreeSet<String>,
    touched_companies: BTreeSet<String>,
}

impl Store {
    /// Start a write. `BEGIN IMMEDIATE` takes SQLite's write lock up front, so
    /// the clock read below cannot race another process's writer (the app and
    /// the CLI share one database and one device id).
    pub async fn write(&self) -> Result<WriteTx> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'hlc'")
            .fetch_optional(&mut *tx)
            .await?;
        let last = last.and_then(|s| s.parse::<Hlc>().ok());
        Ok(WriteTx {
            tx,
            clock: HlcClock::resume(self.device_id(), last),
            last: None,
            touched_contacts: BTreeSet::new(),
            touched_companies: BTreeSet::new(),
        })
    }
}

impl WriteTx {
    /// The transaction's connection, for reads that must see this write.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    fn tick(&mut self) -> Hlc {
        let hlc = self.clock.now(wall_ms());
        self.last = Some(hlc);
        hlc
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

    /// Create many rows, a thousand per statement: the bulk path of imports
    /// and demo data. Every row is its own change with its own clock.
    pub async fn insert_many(
        &mut self,
        entity: &'static EntityDef,
        rows: Vec<(Uuid, Fields)>,
    ) -> Result<()> {
        for (_, fields) in &rows {
            check_fields(entity, fields)?;
        }
        let columns: Vec<&str> = entity.fields.to_vec();
        let select: String = std::iter::once("value->>'id'".to_string())
            .chain(columns.iter().map(|c| format!("value->>'{c}'")))
            .chain(["value->>'clocks'".into(), "value->>'updated_ms'".into()])
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {table} (id, {cols}, clocks, updated_ms) SELECT {select} FROM json_each(?)",
            table = entity.table,
            cols = columns.join(", "),
        );

        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut row_docs = Vec::with_capacity(CHUNK);
            let mut log = Vec::with_capacity(CHUNK * columns.len());
            for (id, fields) in rows.by_ref().take(CHUNK) {
                let hlc = self.tick();
                let op = Uuid::now_v7().to_string();
                let id = id.to_string();
                let mut given: BTreeMap<&str, Value> =
                    fields.into_iter().map(|(k, v)| (k, normalise(v))).collect();
                let mut doc = Map::new();
                doc.insert("id".into(), Value::String(id.clone()));
                // A create logs every field, nulls too, so that the "*" clock
                // means the same thing on every device that applies it.
                for column in &columns {
                    let value = given.remove(column).unwrap_or(Value::Null);
                    log.push(json!([
                        op,
                        entity.name,
                        id,
                        column,
                        value,
                        hlc.to_string(),
                        Value::Null
                    ]));
                    doc.insert((*column).into(), value);
                }
                doc.insert(
                    "clocks".into(),
                    Value::String(json!({ ALL_FIELDS: hlc.to_string() }).to_string()),
                );
                doc.insert("updated_ms".into(), json!(hlc.ms));
                self.note_touched(entity, &id, &doc);
                row_docs.push(Value::Object(doc));
            }
            sqlx::query(&sql)
                .bind(Value::Array(row_docs).to_string())
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
        let current_sql = format!(
            "SELECT json_object({pairs}), clocks FROM {table} WHERE id = ?",
            pairs = entity
                .fields
                .iter()
                .map(|f| format!("'{f}', {f}"))
                .collect::<Vec<_>>()
                .join(", "),
            table = entity.table,
        );
        let row: Option<(String, String)> = sqlx::query_as(&current_sql)
            .bind(&id_text)
            .fetch_optional(&mut *self.tx)
            .await?;
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

        let hlc = self.tick();
        let op = Uuid::now_v7().to_string();
        let mut log = Vec::with_capacity(changed.len());
        for (field, value) in &changed {
            let base = clocks
                .get(*field)
                .or_else(|| clocks.get(ALL_FIELDS))
                .cloned()
                .unwrap_or(Value::Null);
            log.push(json!([
                op,
                entity.name,
                id_text,
                field,
                value,
                hlc.to_string(),
                base
            ]));
            clocks.insert((*field).into(), Value::String(hlc.to_string()));
        }

        let sets: String = changed.iter().map(|(f, _)| format!("{f} = ?, ")).collect();
        let sql = format!(
            "UPDATE {} SET {sets}clocks = ?, updated_ms = ? WHERE id = ?",
            entity.table
        );
        let mut query = sqlx::query::<Sqlite>(&sql);
        for (_, value) in &changed {
            query = bind_json(query, value);
        }
        query
            .bind(Value::Object(clocks).to_string())
            .bind(hlc.ms as i64)
            .bind(&id_text)
            .execute(&mut *self.tx)
            .await?;
        self.append_log(log).await?;

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

    async fn append_log(&mut self, entries: Vec<Value>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO change_log (op_id, entity, row_id, field, value, hlc, base) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->4, value->>5, value->>6 FROM json_each(?)",
        )
        .bind(Value::Array(entries).to_string())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
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

    /// Refresh the search index for what this write touched, persist the
    /// clock, and commit. Dropping a `WriteTx` without commit rolls back all.
    pub async fn commit(mut self) -> Result<()> {
        let contacts = std::mem::take(&mut self.touched_contacts);
        let companies = std::mem::take(&mut self.touched_companies);
        search::reindex(&mut self.tx, &contacts, &companies).await?;
        if let Some(last) = self.last {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                .bind(last.to_string())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
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
    value: &Value,
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Bool(b) => query.bind(*b as i64),
        Value::Number(n) => match n.as_i64() {
            Some(i) => query.bind(i),
            None => query.bind(n.as_f64()),
        },
        Value::String(s) => query.bind(s.clone()),
        other => query.bind(other.to_string()),
    }
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

pub(crate) fn wall_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

/// The store's text form of a time: RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
