//! The sync service's HTTP bodies, shared by `hub-server` and the device's sync client so
//! the two cannot drift apart. The rules behind them are in docs/sync.md.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Change, FieldValue, Hlc, RowVersions};

/// Every error answer: clients switch on `code`, never on `message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// `POST /v1/auth/login`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    pub device_name: String,
    /// The signing-in store's own device id (made on its first open and already in every
    /// clock it issued), so its changes can be pushed as they are. Absent: the server
    /// makes one (a device that has written nothing yet).
    #[serde(default)]
    pub device_id: Option<Uuid>,
    /// Needed only when the email signs in to several workspaces.
    #[serde(default)]
    pub workspace_id: Option<Uuid>,
}

/// `200` body of `POST /v1/auth/login`. The token is shown this once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginResponse {
    pub device_id: Uuid,
    pub token: String,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub server_time: DateTime<Utc>,
}

/// One device in `GET /v1/devices`. Never carries a token or its hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// True for the device making the request.
    pub current: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
    pub server_time: DateTime<Utc>,
}

/// Most changes in one push.
pub const MAX_PUSH_CHANGES: usize = 1_000;
/// A change stamped further ahead of the server's clock than this refuses the push.
pub const MAX_CLOCK_AHEAD_MS: u64 = 5 * 60 * 1000;
/// Default and largest page of pull and snapshot.
pub const DEFAULT_PAGE: i64 = 500;
pub const MAX_PAGE: i64 = 1_000;
/// Largest snapshot page: rows are small documents, and a first sync of 100k contacts
/// is 400k rows, so a page per 5,000 rows saves round trips and device commits.
pub const MAX_SNAPSHOT_PAGE: i64 = 5_000;
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

/// The current state of one row in a snapshot page. `S` is the row's [`RowVersions`];
/// the server sends the stored document as is (`Box<RawValue>`), without decoding it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRow<S = RowVersions> {
    pub entity: String,
    pub row_id: Uuid,
    pub state: S,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotResponse<S = RowVersions> {
    /// The workspace's sequence number read before this page: the state includes every
    /// change up to it. A new device keeps the first page's value and pulls from it.
    pub as_of_seq: i64,
    pub rows: Vec<SnapshotRow<S>>,
    /// Every conflict recorded on this page's rows, whatever its seq (later ones also come
    /// by pull; conflict ids deduplicate).
    pub conflicts: Vec<ConflictRecord>,
    /// `entity/row_id` of the last row: pass as `after` for the next page.
    pub next_after: Option<String>,
    pub has_more: bool,
    /// Rows in the whole snapshot, on the first page only (for a progress bar).
    #[serde(default)]
    pub total_rows: Option<i64>,
    pub server_time: DateTime<Utc>,
}
