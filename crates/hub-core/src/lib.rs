//! Customer Hub's offline store and every use case on it.
//!
//! One module per domain noun. Every write of a synced entity goes through
//! [`changes::WriteTx`], which logs each written field with a hybrid logical
//! clock in the same SQLite transaction; sync ships that log.

pub mod activities;
pub mod audiences;
pub mod campaigns;
pub mod changes;
pub mod companies;
pub mod conflicts;
pub mod consent;
pub mod contact_details;
pub mod contacts;
pub mod credentials;
pub mod custom_fields;
pub mod deals;
pub mod demo;
pub mod duplicates;
pub mod email;
pub mod entities;
pub mod error;
pub mod events;
pub mod export;
pub mod filters;
pub mod forecast;
pub mod ical;
pub mod identity;
pub mod import;
pub mod lookalike;
pub mod merge;
pub mod money;
pub mod phone;
pub mod pipelines;
pub mod privacy;
pub mod recurrence;
pub mod reminders;
pub mod reports;
pub mod retention;
pub mod search;
pub mod segments;
pub mod settings;
pub mod stay_in_touch;
pub mod store;
pub mod sync;
pub mod tags;
pub mod tickets;
pub mod timeline;
pub mod today;
pub mod trash;
pub mod users;
pub mod vcard;
pub mod views;

pub use error::{Error, FieldError, Result};
pub use hub_protocol::{DeviceId, Hlc};
pub use store::{ChangeWatcher, Store};
