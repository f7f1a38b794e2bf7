//! Sync: the validation of pushed changes, and the
//! per-change merge against the server's current field versions (pure; storage loads
//! and writes, see `storage/sync.rs`). The rules are in docs/sync.md.

use std::collections::HashMap;

use hub_protocol::wire::MAX_NAME_LEN;
use hub_protocol::{conflict_id, merge_field, Change, Hlc, Outcome, RowVersions, Version};
use sha2::{Digest, Sha256};
use uuid::Uuid;

// The HTTP bodies live in hub-protocol, shared with the device's sync client.
pub use hub_protocol::wire::{
    ClockAheadBody, ConflictRecord, OpResult, OpStatus, PullResponse, PushRequest, PushResponse,
    SnapshotResponse, SnapshotRow, SyncedChange, DEFAULT_PAGE, MAX_CLOCK_AHEAD_MS, MAX_PAGE,
    MAX_PUSH_CHANGES, MAX_SNAPSHOT_PAGE,
};

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
    pub current: RowVersions,
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
        let current = row.current.get(field);
        let outcome = merge_field(current.as_ref(), incoming.clone(), |c| {
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
                    let winner = current.as_ref().expect("keep has a current");
                    conflicts.push(conflict(lost, winner));
                }
            }
        }
    }
    for (field, version) in &writes {
        row.current.set(field, version.clone());
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
