//! Exports: the whole database as JSON ([`json`]), and any list or saved
//! view as CSV ([`csv`]). (vCard and iCalendar: `crate::vcard::export`,
//! `crate::ical::export`.)
//!
//! Exports only read. They are written to any `std::io::Write`, a page of
//! rows at a time, so a large base is streamed rather than built in memory;
//! [`ExportFile`] writes a file all or nothing.

pub mod csv;
pub mod file;
pub mod json;

pub use csv::{csv, csv_view, CsvOptions, CsvSummary, ListEntity};
pub use file::{default_dir, ExportFile};
pub use json::{json, json_string, json_with, EntityCount, JsonOptions, JsonSummary};
