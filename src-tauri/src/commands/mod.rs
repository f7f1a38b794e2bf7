//! The IPC surface: one module per domain noun, each command a single call
//! into hub-core. No SQL and no business rules here.

pub mod activities;
pub mod audiences;
pub mod companies;
pub mod conflicts;
pub mod consent;
pub mod contacts;
pub mod deals;
pub mod demo;
pub mod duplicates;
pub mod export;
pub mod fields;
pub mod import;
pub mod privacy;
pub mod reminders;
pub mod reports;
pub mod segments;
pub mod store;
pub mod sync;
pub mod tags;
pub mod tickets;
pub mod today;
pub mod trash;
pub mod views;
