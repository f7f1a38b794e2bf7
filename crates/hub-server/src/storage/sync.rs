//! The sync tables (migration `0002_sync`), for both backends from one body of code.
//!
//! The SQL is identical on SQLite and PostgreSQL (`$N` parameters, which sqlx's SQLite
//! driver also binds by number; ids, clocks and JSON as TEXT), so [`sync_storage!`] expands
//! the same methods for each backend with concrete types: no generic-over-database bounds.
//! The only difference is how `workspaces.id` is bound (UUID on PostgreSQL, text on
//! SQLite), passed in as `$wid`.
//!
//! Ordering: a push first locks its workspace's row (`UPDATE workspaces … RETURNING
//! sync_seq`), numbers its changes from there and stores the new high-water mark before
//! committing. A second push of the same workspace waits on that row lock (PostgreSQL) or
//! on the database write lock (SQLite), so sequence order is commit order and a puller
//! reading `seq > cursor` never sees a gap that fills later.

use std::collections::{BTreeMap, HashMap};

use hub_protocol::{Change, Hlc};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{StorageError, StorageResult};
use crate::sync::{ConflictRecord, OpResult, SnapshotRow, SyncedChange};

/// A change row as stored: (seq, op_id, device_id, entity, row_id, hlc, fields, base).
pub(crate) type ChangeRow = (i64, String, String, String, String, String, String, String);

pub(crate) const CHANGE_COLUMNS: &str = "seq, op_id, device_id, entity, row_id, hlc, fields, base";

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

pub(crate) fn uuid(text: &str) -> StorageResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| corrupt(format!("stored id {text:?}: {e}")))
}

pub(crate) fn hlc(text: &str) -> StorageResult<Hlc> {
    text.parse().map_err(corrupt)
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(text: &str) -> StorageResult<T> {
    serde_json::from_str(text).map_err(corrupt)
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StorageResult<String> {
    serde_json::to_string(value).map_err(corrupt)
}

pub(crate) fn change_from_row(row: ChangeRow) -> StorageResult<SyncedChange> {
    let (seq, op_id, device_id, entity, row_id, clock, fields, base) = row;
    Ok(SyncedChange {
        seq,
        change: Change {
            op_id: uuid(&op_id)?,
            device_id: hub_protocol::DeviceId(uuid(&device_id)?),
            entity,
            row_id: uuid(&row_id)?,
            hlc: hlc(&clock)?,
            fields: json(&fields)?,
            base: json(&base)?,
        },
    })
}

/// A conflict row: (id, entity, row_id, field, lost value/clock/device, winner
/// value/clock/device, detected_at, seq).
pub(crate) const CONFLICT_COLUMNS: &str = "id, entity, row_id, field, lost_value, lost_clock, \
     lost_device, winner_value, winner_clock, winner_device, detected_at, seq";

#[allow(clippy::type_complexity)]
pub(crate) type ConflictRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    chrono::DateTime<chrono::Utc>,
    i64,
);

pub(crate) fn conflict_from_row(row: ConflictRow) -> StorageResult<ConflictRecord> {
    let (id, entity, row_id, field, lv, lc, ld, wv, wc, wd, detected_at, seq) = row;
    Ok(ConflictRecord {
        id: uuid(&id)?,
        entity,
        row_id: uuid(&row_id)?,
        field,
        lost_value: json(&lv)?,
        lost_clock: hlc(&lc)?,
        lost_device: uuid(&ld)?,
        winner_value: json(&wv)?,
        winner_clock: hlc(&wc)?,
        winner_device: uuid(&wd)?,
        detected_at,
        seq,
    })
}

/// What a merge needs to know of each row: its current versions (`row_versions` rows
/// `(entity, row_id, state)`), and the base of every stored version for ancestry
/// lookups (`changes` rows `(entity, row_id, hlc, fields, base)`).
#[allow(clippy::type_complexity)]
pub(crate) fn row_states(
    versions: Vec<(String, String, String)>,
    history: Vec<(String, String, String, String, String)>,
) -> StorageResult<HashMap<RowKey, crate::sync::RowState>> {
    let mut states: HashMap<RowKey, crate::sync::RowState> = HashMap::new();
    for (entity, row_id, state) in versions {
        states.entry((entity, uuid(&row_id)?)).or_default().current = json(&state)?;
    }
    for (entity, row_id, clock, fields, base) in history {
        let clock = hlc(&clock)?;
        let fields: BTreeMap<String, serde_json::Value> = json(&fields)?;
        let base: BTreeMap<String, Hlc> = json(&base)?;
        let state = states.entry((entity, uuid(&row_id)?)).or_default();
        for field in fields.into_keys() {
            let b = base.get(&field).copied();
            state.history.insert((field, clock), b);
        }
    }
    Ok(states)
}

/// Snapshot rows from `row_versions` rows `(entity, row_id, state)`: the stored
/// document goes out as is.
pub(crate) fn snapshot_rows(
    rows: Vec<(String, String, String)>,
) -> StorageResult<Vec<SnapshotRow<Box<RawValue>>>> {
    rows.into_iter()
        .map(|(entity, row_id, state)| {
            Ok(SnapshotRow {
                entity,
                row_id: uuid(&row_id)?,
                state: RawValue::from_string(state).map_err(corrupt)?,
            })
        })
        .collect()
}

/// `($1, $2, …), (…)`: `rows` rows of `width` numbered parameters.
pub(crate) fn values_sql(rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    sql
}

pub(crate) type RowKey = (String, Uuid);

/// A new `changes` row of a push.
pub(crate) struct ChangeInsert {
    pub seq: i64,
    pub op_id: String,
    pub device_id: String,
    pub entity: String,
    pub row_id: String,
    pub hlc: String,
    pub fields: String,
    pub base: String,
    pub payload_hash: String,
    pub result: String,
}

/// A new `conflicts` row of a push.
pub(crate) struct ConflictInsert {
    pub id: String,
    pub entity: String,
    pub row_id: String,
    pub field: String,
    pub lost_value: String,
    pub lost_clock: String,
    pub lost_device: String,
    pub winner_value: String,
    pub winner_clock: String,
    pub winner_device: String,
    pub seq: i64,
}
pub(crate) type BatchSeen = HashMap<Uuid, (String, OpResult)>;

/// An erasure change the batch applied: the person and what to remove (docs/privacy.md).
pub(crate) struct Erasing {
    pub contact: String,
    /// `[entity, row_id]` pairs the erasing device listed.
    pub rows: Vec<(String, String)>,
    pub suppress: Vec<String>,
}

impl Erasing {
    pub(crate) fn of(change: &Change) -> Option<Erasing> {
        let text = |field: &str| change.fields.get(field).and_then(|v| v.as_str());
        let contact = text("contact_id")?.to_owned();
        let rows = text("rows")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        let suppress = text("suppress")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        Some(Erasing {
            contact,
            rows,
            suppress,
        })
    }
}

/// The contacts a change refers to: its row (a contact), its `contact_id`, a custom
/// value's `row_id`.
pub(crate) fn contacts_named(change: &Change) -> Vec<String> {
    let mut ids = Vec::new();
    if change.entity == "contact" {
        ids.push(change.row_id.hyphenated().to_string());
    }
    for field in ["contact_id", "row_id"] {
        if field == "row_id" && change.entity != "custom_value" {
            continue;
        }
        if let Some(id) = change.fields.get(field).and_then(|v| v.as_str()) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// Why a change is refused because of an erasure, if it is: it would undo one, change
/// an erased row, or link a row to an erased person.
pub(crate) fn erased_refusal(
    change: &Change,
    rows: &std::collections::HashSet<(String, String)>,
    contacts: &std::collections::HashSet<String>,
) -> Option<String> {
    if change.entity == "erasure" {
        return change
            .fields
            .get("deleted_at")
            .is_some_and(|v| !v.is_null())
            .then(|| "an erasure cannot be undone".to_owned());
    }
    let row = (
        change.entity.clone(),
        change.row_id.hyphenated().to_string(),
    );
    // A deal is the business's: it is unlinked ([`unlink_erased`]), not refused.
    let links_erased =
        change.entity != "deal" && contacts_named(change).iter().any(|c| contacts.contains(c));
    (rows.contains(&row) || links_erased)
        .then(|| "erased: this record belongs to a person who was erased".to_owned())
}

/// A deal change that links an erased person, with the link cleared: the deal is kept
/// (made offline by a device that had not heard of the erasure), the person is not.
pub(crate) fn unlink_erased(
    change: &Change,
    contacts: &std::collections::HashSet<String>,
) -> Option<Change> {
    let links = change
        .fields
        .get("contact_id")
        .and_then(|v| v.as_str())
        .is_some_and(|c| contacts.contains(c));
    (change.entity == "deal" && links).then(|| {
        let mut unlinked = change.clone();
        unlinked
            .fields
            .insert("contact_id".to_owned(), serde_json::Value::Null);
        unlinked
    })
}

/// Expands `push_changes`, `pull_changes` and `snapshot_page` for one backend.
macro_rules! sync_storage {
    ($storage:ty, $wid:path, $json_texts:expr, $json_pairs:expr) => {
        impl $storage {
            /// Merges a batch in one transaction with a fixed number of statements: one
            /// read of the stored op ids, one of the touched rows' versions and history,
            /// then multi-row inserts. (A statement per change and field made a push of
            /// 1,000 creates cost ~15,000 round trips.)
            pub(crate) async fn push_changes_impl(
                &self,
                workspace_id: uuid::Uuid,
                changes: &[hub_protocol::Change],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StorageResult<Vec<$crate::sync::OpResult>> {
                use $crate::storage::sync::*;
                use $crate::sync::{merge_change, payload_hash, OpResult, RowState};
                use $crate::storage::StorageError;
                use std::collections::HashMap;
                let ws = workspace_id.hyphenated().to_string();
                let mut tx = self.pool.begin().await?;
                // Lock the workspace's counter row first: serialises pushes in the database.
                let seq0: Option<(i64,)> = sqlx::query_as(
                    "UPDATE workspaces SET sync_seq = sync_seq WHERE id = $1 RETURNING sync_seq",
                )
                .bind($wid(workspace_id))
                .fetch_optional(&mut *tx)
                .await?;
                let Some((mut seq,)) = seq0 else {
                    return Err(StorageError::NotFound("workspace"));
                };
                let start = seq;

                // Results already given for these op ids (a retry gets them verbatim).
                let op_ids: Vec<String> =
                    changes.iter().map(|c| c.op_id.hyphenated().to_string()).collect();
                let stored: Vec<(String, String, String)> = sqlx::query_as(&format!(
                    "SELECT op_id, payload_hash, result FROM changes \
                     WHERE workspace_id = $1 AND op_id IN ({})",
                    $json_texts("$2")
                ))
                .bind(&ws)
                .bind(to_json(&op_ids)?)
                .fetch_all(&mut *tx)
                .await?;
                let stored: HashMap<String, (String, String)> = stored
                    .into_iter()
                    .map(|(op, hash, result)| (op, (hash, result)))
                    .collect();

                // What the merge needs of every row the new changes touch.
                let keys: std::collections::BTreeSet<(String, String)> = changes
                    .iter()
                    .filter(|c| !stored.contains_key(&c.op_id.hyphenated().to_string()))
                    .map(|c| (c.entity.clone(), c.row_id.hyphenated().to_string()))
                    .collect();
                let keys_json = to_json(&keys.iter().collect::<Vec<_>>())?;
                let versions: Vec<(String, String, String)> =
                    sqlx::query_as(&format!(
                        "SELECT entity, row_id, state FROM row_versions \
                         WHERE workspace_id = $1 AND (entity, row_id) IN ({})",
                        $json_pairs("$2")
                    ))
                    .bind(&ws)
                    .bind(&keys_json)
                    .fetch_all(&mut *tx)
                    .await?;
                let history: Vec<(String, String, String, String, String)> =
                    sqlx::query_as(&format!(
                        "SELECT entity, row_id, hlc, fields, base FROM changes \
                         WHERE workspace_id = $1 AND (entity, row_id) IN ({})",
                        $json_pairs("$2")
                    ))
                    .bind(&ws)
                    .bind(&keys_json)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut rows: HashMap<RowKey, RowState> = row_states(versions, history)?;

                // Erased people: what this batch may not touch (docs/privacy.md).
                let mut erased_rows: std::collections::HashSet<(String, String)> =
                    sqlx::query_as::<_, (String, String)>(&format!(
                        "SELECT entity, row_id FROM erased_rows \
                         WHERE workspace_id = $1 AND (entity, row_id) IN ({})",
                        $json_pairs("$2")
                    ))
                    .bind(&ws)
                    .bind(&keys_json)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let named: Vec<String> = changes.iter().flat_map(contacts_named).collect();
                let mut erased_contacts: std::collections::HashSet<String> =
                    sqlx::query_scalar::<_, String>(&format!(
                        "SELECT contact_id FROM erased_contacts \
                         WHERE workspace_id = $1 AND contact_id IN ({})",
                        $json_texts("$2")
                    ))
                    .bind(&ws)
                    .bind(to_json(&named)?)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let mut erasing: Vec<Erasing> = Vec::new();

                let mut seen: BatchSeen = BatchSeen::new();
                let mut results = Vec::with_capacity(changes.len());
                let mut new_changes: Vec<ChangeInsert> = Vec::new();
                let mut dirty: std::collections::BTreeSet<RowKey> =
                    std::collections::BTreeSet::new();
                let mut new_conflicts: Vec<ConflictInsert> = Vec::new();
                let mut conflict_ids = std::collections::HashSet::new();
                for change in changes {
                    let hash = payload_hash(change);
                    if let Some((known, result)) = seen.get(&change.op_id) {
                        if *known != hash {
                            return Err(StorageError::OpIdReused(change.op_id));
                        }
                        results.push(result.clone());
                        continue;
                    }
                    let op_text = change.op_id.hyphenated().to_string();
                    if let Some((known, result)) = stored.get(&op_text) {
                        if *known != hash {
                            return Err(StorageError::OpIdReused(change.op_id));
                        }
                        let result = OpResult {
                            op_id: change.op_id,
                            status: json(result)?,
                        };
                        seen.insert(change.op_id, (hash, result.clone()));
                        results.push(result);
                        continue;
                    }
                    if let Some(reason) = erased_refusal(change, &erased_rows, &erased_contacts) {
                        // Not stored: a retry is refused again for the same reason.
                        let result = OpResult {
                            op_id: change.op_id,
                            status: $crate::sync::OpStatus::Rejected { reason },
                        };
                        seen.insert(change.op_id, (hash, result.clone()));
                        results.push(result);
                        continue;
                    }
                    let unlinked = unlink_erased(change, &erased_contacts);
                    let change = unlinked.as_ref().unwrap_or(change);
                    let key = (change.entity.clone(), change.row_id);
                    let row = rows.entry(key.clone()).or_default();
                    let merged = merge_change(row, change);
                    // Whatever the merge says (two devices may erase one person), the
                    // person is erased from here on: the statements below are idempotent.
                    if change.entity == "erasure" {
                        if let Some(e) = Erasing::of(change) {
                            // The rest of this batch may not touch the person either.
                            erased_contacts.insert(e.contact.clone());
                            erased_rows.extend(e.rows.iter().cloned());
                            erasing.push(e);
                        }
                    }
                    seq += 1;
                    let row_text = change.row_id.hyphenated().to_string();
                    new_changes.push(ChangeInsert {
                        seq,
                        op_id: op_text,
                        device_id: change.device_id.0.hyphenated().to_string(),
                        entity: change.entity.clone(),
                        row_id: row_text.clone(),
                        hlc: change.hlc.to_string(),
                        fields: to_json(&change.fields)?,
                        base: to_json(&change.base)?,
                        payload_hash: hash.clone(),
                        result: to_json(&merged.status)?,
                    });
                    if !merged.writes.is_empty() {
                        dirty.insert(key.clone());
                    }
                    for conflict in &merged.conflicts {
                        if conflict_ids.insert(conflict.id) {
                            new_conflicts.push(ConflictInsert {
                                id: conflict.id.hyphenated().to_string(),
                                entity: change.entity.clone(),
                                row_id: row_text.clone(),
                                field: conflict.field.clone(),
                                lost_value: to_json(&conflict.lost.value)?,
                                lost_clock: conflict.lost.clock.to_string(),
                                lost_device: conflict.lost.clock.device.0.hyphenated().to_string(),
                                winner_value: to_json(&conflict.winner.value)?,
                                winner_clock: conflict.winner.clock.to_string(),
                                winner_device: conflict
                                    .winner
                                    .clock
                                    .device
                                    .0
                                    .hyphenated()
                                    .to_string(),
                                seq,
                            });
                        }
                    }
                    let result = OpResult {
                        op_id: change.op_id,
                        status: merged.status,
                    };
                    seen.insert(change.op_id, (hash, result.clone()));
                    results.push(result);
                }

                // Every new change, with its seq (the pull feed and the history).
                for chunk in new_changes.chunks(1000) {
                    let sql = format!(
                        "INSERT INTO changes (workspace_id, seq, op_id, device_id, entity, \
                         row_id, hlc, fields, base, payload_hash, result, received_at) VALUES {}",
                        values_sql(chunk.len(), 12)
                    );
                    let mut q = sqlx::query(&sql);
                    for c in chunk {
                        q = q
                            .bind(&ws)
                            .bind(c.seq)
                            .bind(&c.op_id)
                            .bind(&c.device_id)
                            .bind(&c.entity)
                            .bind(&c.row_id)
                            .bind(&c.hlc)
                            .bind(&c.fields)
                            .bind(&c.base)
                            .bind(&c.payload_hash)
                            .bind(&c.result)
                            .bind(now);
                    }
                    q.execute(&mut *tx).await?;
                }
                // The final state of each row this batch wrote.
                let writes: Vec<(&RowKey, String)> = dirty
                    .iter()
                    .map(|key| Ok((key, to_json(&rows[key].current)?)))
                    .collect::<StorageResult<_>>()?;
                for chunk in writes.chunks(8000) {
                    let sql = format!(
                        "INSERT INTO row_versions (workspace_id, entity, row_id, state) \
                         VALUES {} ON CONFLICT (workspace_id, entity, row_id) \
                         DO UPDATE SET state = excluded.state",
                        values_sql(chunk.len(), 4)
                    );
                    let mut q = sqlx::query(&sql);
                    for ((entity, row_id), state) in chunk {
                        q = q
                            .bind(&ws)
                            .bind(entity)
                            .bind(row_id.hyphenated().to_string())
                            .bind(state);
                    }
                    q.execute(&mut *tx).await?;
                }
                for chunk in new_conflicts.chunks(2000) {
                    let sql = format!(
                        "INSERT INTO conflicts (workspace_id, id, entity, row_id, field, \
                         lost_value, lost_clock, lost_device, winner_value, winner_clock, \
                         winner_device, seq, detected_at) VALUES {} \
                         ON CONFLICT (workspace_id, id) DO NOTHING",
                        values_sql(chunk.len(), 13)
                    );
                    let mut q = sqlx::query(&sql);
                    for c in chunk {
                        q = q
                            .bind(&ws)
                            .bind(&c.id)
                            .bind(&c.entity)
                            .bind(&c.row_id)
                            .bind(&c.field)
                            .bind(&c.lost_value)
                            .bind(&c.lost_clock)
                            .bind(&c.lost_device)
                            .bind(&c.winner_value)
                            .bind(&c.winner_clock)
                            .bind(&c.winner_device)
                            .bind(c.seq)
                            .bind(now);
                    }
                    q.execute(&mut *tx).await?;
                }
                for e in &erasing {
                    // Every row about the person: the ones the device listed, the contact,
                    // and any other row that links to it (written by a device the erasing
                    // one had not heard from). Deals stay: the erasing device unlinks them.
                    let contact_ref = format!("%\"contact_id\":\"{}\"%", e.contact);
                    let value_ref = format!("%\"row_id\":\"{}\"%", e.contact);
                    let merge_ref = format!("%_id\":\"{}\"%", e.contact);
                    let found: Vec<(String, String)> = sqlx::query_as(
                        "SELECT entity, row_id FROM row_versions WHERE workspace_id = $1 \
                         AND entity NOT IN ('erasure', 'deal') \
                         AND ((entity = 'contact' AND row_id = $2) \
                              OR state LIKE $3 \
                              OR (entity = 'custom_value' AND state LIKE $4) \
                              OR (entity = 'merge' AND state LIKE $5))",
                    )
                    .bind(&ws)
                    .bind(&e.contact)
                    .bind(&contact_ref)
                    .bind(&value_ref)
                    .bind(&merge_ref)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut targets: std::collections::BTreeSet<(String, String)> =
                        found.into_iter().collect();
                    targets.extend(e.rows.iter().cloned());
                    targets.insert(("contact".to_owned(), e.contact.clone()));
                    targets.retain(|(entity, _)| entity != "erasure" && entity != "deal");
                    let targets: Vec<(String, String)> = targets.into_iter().collect();
                    let targets_json = to_json(&targets)?;
                    for table in ["row_versions", "conflicts"] {
                        sqlx::query(&format!(
                            "DELETE FROM {table} WHERE workspace_id = $1 AND (entity, row_id) IN ({})",
                            $json_pairs("$2")
                        ))
                        .bind(&ws)
                        .bind(&targets_json)
                        .execute(&mut *tx)
                        .await?;
                    }
                    // The history that carried the person's values; the erasure itself
                    // (and this batch's other changes) stay in the pull feed.
                    sqlx::query(&format!(
                        "DELETE FROM changes WHERE workspace_id = $1 AND seq <= $3 \
                         AND (entity, row_id) IN ({})",
                        $json_pairs("$2")
                    ))
                    .bind(&ws)
                    .bind(&targets_json)
                    .bind(start)
                    .execute(&mut *tx)
                    .await?;
                    for chunk in targets.chunks(1000) {
                        let sql = format!(
                            "INSERT INTO erased_rows (workspace_id, entity, row_id) VALUES {} \
                             ON CONFLICT DO NOTHING",
                            values_sql(chunk.len(), 3)
                        );
                        let mut q = sqlx::query(&sql);
                        for (entity, row) in chunk {
                            q = q.bind(&ws).bind(entity).bind(row);
                        }
                        q.execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "INSERT INTO erased_contacts (workspace_id, contact_id, erased_at) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&ws)
                    .bind(&e.contact)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    for hash in &e.suppress {
                        sqlx::query(
                            "INSERT INTO suppressed_identities (workspace_id, hash) \
                             VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        )
                        .bind(&ws)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                if seq != start {
                    sqlx::query("UPDATE workspaces SET sync_seq = $1 WHERE id = $2")
                        .bind(seq)
                        .bind($wid(workspace_id))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                // The events collected about the erased people go too (after the commit:
                // one pass over the workspace's stream for all of the batch's erasures).
                // A failure here does not undo an erasure, which stands; it is logged, and
                // collection already drops their new events.
                let suppress: Vec<String> =
                    erasing.iter().flat_map(|e| e.suppress.iter().cloned()).collect();
                if let Err(err) = self
                    .purge_suppressed_events_impl(workspace_id, &suppress)
                    .await
                {
                    tracing::error!(%workspace_id, error = %err, "purging erased people's events failed");
                }
                Ok(results)
            }

            pub(crate) async fn pull_changes_impl(
                &self,
                workspace_id: uuid::Uuid,
                cursor: i64,
                limit: i64,
            ) -> $crate::storage::StorageResult<$crate::storage::PullPage> {
                use $crate::storage::sync::*;
                let ws = workspace_id.hyphenated().to_string();
                let mut rows: Vec<ChangeRow> = sqlx::query_as(&format!(
                    "SELECT {CHANGE_COLUMNS} FROM changes WHERE workspace_id = $1 AND seq > $2 \
                     ORDER BY seq LIMIT $3"
                ))
                .bind(&ws)
                .bind(cursor)
                .bind(limit + 1)
                .fetch_all(&self.pool)
                .await?;
                let has_more = rows.len() as i64 > limit;
                rows.truncate(limit as usize);
                let changes = rows
                    .into_iter()
                    .map(change_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                let next_cursor = changes.last().map_or(cursor, |c| c.seq);
                let conflict_rows: Vec<ConflictRow> = sqlx::query_as(&format!(
                    "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE workspace_id = $1 \
                     AND seq > $2 AND seq <= $3 ORDER BY seq, id"
                ))
                .bind(&ws)
                .bind(cursor)
                .bind(next_cursor)
                .fetch_all(&self.pool)
                .await?;
                let conflicts = conflict_rows
                    .into_iter()
                    .map(conflict_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok($crate::storage::PullPage {
                    changes,
                    conflicts,
                    next_cursor,
                    has_more,
                })
            }

            pub(crate) async fn snapshot_page_impl(
                &self,
                workspace_id: uuid::Uuid,
                after: Option<(String, uuid::Uuid)>,
                limit: i64,
            ) -> $crate::storage::StorageResult<$crate::storage::SnapshotPage> {
                use $crate::storage::sync::*;
                let ws = workspace_id.hyphenated().to_string();
                // Read the high-water mark first: the state read next includes all of it.
                let as_of: Option<(i64,)> =
                    sqlx::query_as("SELECT sync_seq FROM workspaces WHERE id = $1")
                        .bind($wid(workspace_id))
                        .fetch_optional(&self.pool)
                        .await?;
                let as_of_seq = as_of.map_or(0, |(s,)| s);
                let (after_entity, after_row) = after
                    .map(|(e, r)| (e, r.hyphenated().to_string()))
                    .unwrap_or_default();
                // One index range scan: a row is one document.
                let mut rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT entity, row_id, state FROM row_versions \
                     WHERE workspace_id = $1 AND (entity, row_id) > ($2, $3) \
                     ORDER BY entity, row_id LIMIT $4",
                )
                .bind(&ws)
                .bind(&after_entity)
                .bind(&after_row)
                .bind(limit + 1)
                .fetch_all(&self.pool)
                .await?;
                let has_more = rows.len() as i64 > limit;
                rows.truncate(limit as usize);
                let rows = snapshot_rows(rows)?;
                // For a progress bar, on the first page.
                let total_rows = if after_entity.is_empty() {
                    let (n,): (i64,) = sqlx::query_as(
                        "SELECT count(*) FROM row_versions WHERE workspace_id = $1",
                    )
                    .bind(&ws)
                    .fetch_one(&self.pool)
                    .await?;
                    Some(n)
                } else {
                    None
                };
                let Some(last) = rows
                    .last()
                    .map(|r| (r.entity.clone(), r.row_id.hyphenated().to_string()))
                else {
                    return Ok($crate::storage::SnapshotPage {
                        as_of_seq,
                        rows: Vec::new(),
                        conflicts: Vec::new(),
                        has_more: false,
                        total_rows,
                    });
                };
                // The conflicts of these rows, so a new device also gets the ones recorded
                // before `as_of_seq` (later ones come again by pull; ids deduplicate).
                let conflict_rows: Vec<ConflictRow> = sqlx::query_as(&format!(
                    "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE workspace_id = $1 \
                     AND (entity, row_id) > ($2, $3) AND (entity, row_id) <= ($4, $5) \
                     ORDER BY seq, id"
                ))
                .bind(&ws)
                .bind(&after_entity)
                .bind(&after_row)
                .bind(&last.0)
                .bind(&last.1)
                .fetch_all(&self.pool)
                .await?;
                Ok($crate::storage::SnapshotPage {
                    as_of_seq,
                    rows,
                    conflicts: conflict_rows
                        .into_iter()
                        .map(conflict_from_row)
                        .collect::<Result<Vec<_>, _>>()?,
                    has_more,
                    total_rows,
                })
            }
        }
    };
}

pub(crate) use sync_storage;
