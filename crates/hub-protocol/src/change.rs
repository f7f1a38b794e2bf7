//! A change: one write of some fields of one row, as the store logs it and sync
//! ships it. Entities are named by string so that new entities need no new sync
//! code; the receiver checks names against its own schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::hlc::{DeviceId, Hlc};

/// A field's value on the wire. JSON keeps integers, text, booleans and null
/// apart; money travels as decimal text, never as a float.
pub type FieldValue = serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub op_id: Uuid,
    pub device_id: DeviceId,
    pub entity: String,
    pub row_id: Uuid,
    pub hlc: Hlc,
    pub fields: BTreeMap<String, FieldValue>,
    /// For each written field, the clock of the value the writer had seen
    /// (absent for a field that had no value yet).
    #[serde(default)]
    pub base: BTreeMap<String, Hlc>,
}
