//! Wire types shared by the Customer Hub desktop store and the sync server.
//!
//! Pure data and rules, no I/O: the hybrid logical clock that orders every
//! field write, the change record that the store logs and sync ships, the
//! per-field merge rule, the sync service's HTTP bodies, and behavioural events.

pub mod change;
pub mod event;
pub mod hlc;
pub mod merge;
pub mod segment;
pub mod wire;

pub use change::{Change, FieldValue};
pub use event::{Event, EventType};
pub use hlc::{DeviceId, Hlc, HlcClock, HlcParseError};
pub use merge::{conflict_id, merge_field, Outcome, RowVersions, Version};
