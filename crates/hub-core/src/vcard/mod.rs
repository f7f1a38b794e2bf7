//! vCard: import of 2.1, 3.0 and 4.0 files ([`parse`], [`records`]) and
//! export as 4.0 ([`write`]). See docs/vcard-ical.md.
//!
//! Import goes through the format-neutral pipeline of [`crate::import`]:
//! each card becomes an [`crate::import::Record`] (its `BEGIN:VCARD` line,
//! target field → value), so vCard imports dedupe by email then phone,
//! create nothing on re-import, are recorded and can be reverted like CSV
//! ones.

pub mod parse;
pub mod records;
pub mod write;

pub use parse::{cards, Card, CardError, Cards};
pub use records::{options, records, to_record, VcardRecords};
pub use write::{export, Selection};
