//! Sync: the wire types of push, pull and snapshot, the validation of pushed changes, and
//! the per-change merge against the server's current field versions (pure; storage loads
//! and writes, see `storage/sync.rs`). The rules are in docs/sync.md.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use hub_protocol::{conflict_id, merge_field, Change, FieldValue, Hlc, Outcome, Version};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Most changes in one push.
pub const MAX_PUSH_CHANGES: usize = 1_000;
/// A change stamped further ahead of the server's clock than this refuses the push.
pub const MAX_CLOCK_AHEAD_MS: u64 = 5 * 60 * 1000;
/// Default and largest page of pull and snapshot.
pub const DEFAULT_PAGE: i64 = 500;
pub const MAX_PAGE: i64 = 1_000;
/// Longest entity or field name.
pub const MAX_NAME_LEN: usize = 64;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PushRequest {
    pub changes: Vec<Change>,
}

/// The result of one pushed change, in request order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    pub op_id: Uuid,
    #[serde(flatten)]
    pub status: OpStatus,
}

/// See docs/sync.md, "Per-op results".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OpStatus {
    /// At least one field became current; `conflict_ids` lists any version lost on the
    /// way (a replaced current value, or another field of this change that lost).
    Applied { conflict_ids: Vec<Uuid> },
    /// Nothing became current and nothing was lost: every field was already current with
    /// this clock, or already overwritten by a writer that had seen it, or equal to it.
    Duplicate,
    /// Nothing became current and at least one field lost to a version whose writer had
    /// not seen it; it is kept as a conflict.
    Lost { conflict_ids: Vec<Uuid> },
    /// Not accepted (nothing stored); `reason` says why. Retrying gives the same answer.
    Rejected { reason: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<OpResult>,
    pub server_time: DateTime<Utc>,
}

/// The body of `409 clock_ahead`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClockAheadBody {
    pub code: String,
    pub message: String,
    pub server_time: DateTime<Utc>,
}

/// A change as pull returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncedChange {
    pub seq: i64,
    #[serde(flatten)]
    pub change: Change,
}

/// A version kept because its overwriter had not seen it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictRecord {
    pub id: Uuid,
    pub entity: String,
    pub row_id: Uuid,
    pub field: String,
    pub lost_value: FieldValue,
    pub lost_clock: Hlc,
    pub lost_device: Uuid,
    pub winner_value: FieldValue,
    pub winner_clock: Hlc,
    pub winner_device: Uuid,
    pub detected_at: DateTime<Utc>,
    /// The sequence number of the change whose merge detected it.
    pub seq: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullResponse {
    pub changes: Vec<SyncedChange>,
    pub conflicts: Vec<ConflictRecord>,
    pub next_cursor: i64,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
}

/// The current state of one row in a snapshot page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub entity: String,
    pub row_id: Uuid,
    pub fields: BTreeMap<String, FieldValue>,
    pub clocks: BTreeMap<String, Hlc>,
    /// Base of each current version, where it had one.
    pub bases: BTreeMap<String, Hlc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotResponse {
    /// The workspace's sequence number read before this page: the state includes every
    /// change up to it. A new device keeps the first page's value and pulls from it.
    pub as_of_seq: i64,
    pub rows: Vec<SnapshotRow>,
    /// Every conflict recorded on this page's rows, whatever its seq (later ones also come
    /// by pull; conflict ids deduplicate).
    pub conflicts: Vec<ConflictRecord>,
    /// `entity/row_id` of the last row: pass as `after` for the next page.
    pub next_after: Option<String>,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
}

/// Why a change is refused before merging, or `None` when it is acceptable.
pub fn rejection(change: &Change, device: Uuid) -> Option<String> {
    if change.device_id.0 != device {
        return Some("device_id is not the device of this token".into());
    }
    // Clocks are unique per device only if each device stamps its own: a clock equal to a
    // stored one counts as the same version (duplicate), so a forged one could hide a value.
    if change.hlc.device != change.device_id {
        return Some("hlc must be stamped by the change's own device".into());
    }
    if !valid_name(&change.entity) {
        return Some(format!(
            "entity name must be 1-{MAX_NAME_LEN} characters of a-z and _"
        ));
    }
    if change.fields.is_empty() {
        return Some("a change must write at least one field".into());
    }
    if let Some(name) = change.fields.keys().find(|f| !valid_name(f)) {
        return Some(format!(
            "field name {name:?} must be 1-{MAX_NAME_LEN} characters of a-z and _"
        ));
    }
    if let Some(name) = change.base.keys().find(|f| !change.fields.contains_key(*f)) {
        return Some(format!(
            "base names field {name:?} that the change does not write"
        ));
    }
    None
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// SHA-256 (hex) of the change's canonical JSON (maps are sorted).
pub fn payload_hash(change: &Change) -> String {
    let bytes = serde_json::to_vec(change).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the server knows of one row while merging a batch: the current version of each
/// field, and the base of every stored version (for ancestry lookups).
#[derive(Debug, Default)]
pub struct RowState {
    pub current: HashMap<String, Version>,
    pub history: HashMap<(String, Hlc), Option<Hlc>>,
}

impl RowState {
    /// Records a stored change in the history.
    pub fn remember(&mut self, change: &Change) {
        for field in change.fields.keys() {
            self.history
                .insert((field.clone(), change.hlc), change.base.get(field).copied());
        }
    }
}

/// A lost version to store, with its winner.
#[derive(Clone, Debug)]
pub struct NewConflict {
    pub id: Uuid,
    pub field: String,
    pub lost: Version,
    pub winner: Version,
}

/// The merge of one change into its row.
#[derive(Debug)]
pub struct Merged {
    pub status: OpStatus,
    /// Fields whose current version becomes this change's.
    pub writes: Vec<(String, Version)>,
    pub conflicts: Vec<NewConflict>,
}

/// Merges every field of `change` into `row` with [`merge_field`], updates `row`
/// (current versions and history) and says what to store.
pub fn merge_change(row: &mut RowState, change: &Change) -> Merged {
    let mut writes = Vec::new();
    let mut conflicts = Vec::new();
    for (field, value) in &change.fields {
        let incoming = Version {
            value: value.clone(),
            clock: change.hlc,
            base: change.base.get(field).copied(),
        };
        let history = &row.history;
        let outcome = merge_field(row.current.get(field), incoming.clone(), |c| {
            history.get(&(field.clone(), c)).copied()
        });
        let conflict = |lost: Version, winner: &Version| NewConflict {
            id: conflict_id(&change.entity, change.row_id, field, lost.clock),
            field: field.clone(),
            winner: winner.clone(),
            lost,
        };
        match outcome {
            Outcome::Duplicate => {}
            Outcome::Apply { lost } => {
                if let Some(lost) = lost {
                    conflicts.push(conflict(lost, &incoming));
                }
                writes.push((field.clone(), incoming));
            }
            Outcome::Keep { lost } => {
                if let Some(lost) = lost {
                    let winner = row.current.get(field).cloned().expect("keep has a current");
                    conflicts.push(conflict(lost, &winner));
                }
            }
        }
    }
    for (field, version) in &writes {
        row.current.insert(field.clone(), version.clone());
    }
    row.remember(change);
    let conflict_ids: Vec<Uuid> = conflicts.iter().map(|c| c.id).collect();
    let status = if !writes.is_empty() {
        OpStatus::Applied { conflict_ids }
    } else if !conflict_ids.is_empty() {
        OpStatus::Lost { conflict_ids }
    } else {
        OpStatus::Duplicate
    };
    Merged {
        status,
        writes,
        conflicts,
    }
}
