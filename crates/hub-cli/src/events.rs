//! `hub events import|status` and `hub identity warnings|show|resolve`
//! (docs/events.md, "On the device").

use std::path::PathBuf;

use clap::Subcommand;
use hub_core::events::{self, ImportReport};
use hub_core::identity::{self, Warning};
use hub_core::Store;
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Load behavioural events from a Segment JSON-lines file (one event object a line)
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// How many events this device holds and how many are not uploaded yet
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Profiles that look like one person but were not merged automatically
    Warnings {
        /// Only those involving this contact
        #[arg(long)]
        contact: Option<Uuid>,
        #[arg(long)]
        json: bool,
    },
    /// A contact's identifiers (user ids, anonymous ids, emails, phones) and warnings
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Resolve every stored event again (idempotent: writes only what is missing)
    Resolve {
        #[arg(long)]
        json: bool,
    },
}

/// Files at least this big show progress on stderr.
const PROGRESS_BYTES: u64 = 4 * 1024 * 1024;

pub async fn run(store: &Store, cmd: EventsCommand) -> anyhow::Result<()> {
    match cmd {
        EventsCommand::Import { file, json } => {
            let size = std::fs::metadata(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                .len();
            let show = size >= PROGRESS_BYTES;
            let mut progress = |lines: u64, bytes: u64| {
                if show {
                    eprint!(
                        "\r{lines} lines, {:.0}%",
                        bytes as f64 * 100.0 / size.max(1) as f64
                    );
                }
            };
            let report = events::import_file(store, &file, &mut progress).await?;
            if show {
                eprintln!();
            }
            output::print(json, &report, || describe_import(&report))
        }
        EventsCommand::Status { json } => {
            let (all, unsent) = events::counts(store).await?;
            output::print(
                json,
                &serde_json::json!({ "events": all, "not_uploaded": unsent }),
                || format!("{all} events on this device, {unsent} not uploaded yet."),
            )
        }
    }
}

fn describe_import(r: &ImportReport) -> String {
    let mut text = format!(
        "Read {} lines: {} events stored, {} already here, {} lines failed.",
        r.lines, r.stored.stored, r.stored.duplicate, r.failed
    );
    let res = &r.stored.resolved;
    if !res.is_empty() {
        text.push_str(&format!(
            "\nIdentity: {} identifiers, {} new leads, {} fields from traits, {} warnings.",
            res.identities, res.leads, res.fields, res.warnings
        ));
    }
    for e in &r.errors {
        text.push_str(&format!("\n  line {}: {} ({})", e.line, e.message, e.code));
    }
    if r.failed as usize > r.errors.len() {
        text.push_str(&format!(
            "\n  … and {} more",
            r.failed as usize - r.errors.len()
        ));
    }
    text
}

pub async fn run_identity(store: &Store, cmd: IdentityCommand) -> anyhow::Result<()> {
    match cmd {
        IdentityCommand::Warnings { contact, json } => {
            let list = identity::warnings(store, contact).await?;
            output::print(
                json,
                &serde_json::json!({ "total": list.len(), "warnings": list }),
                || describe_warnings(&list),
            )
        }
        IdentityCommand::Show { id, json } => {
            hub_core::contacts::get(store, id).await?;
            let ids = identity::of_contact(store, id).await?;
            let list = identity::warnings(store, Some(id)).await?;
            output::print(
                json,
                &serde_json::json!({ "contact_id": id, "identities": ids, "warnings": list }),
                || {
                    let mut text = if ids.is_empty() {
                        "No identifiers.".to_owned()
                    } else {
                        output::table(
                            &["KIND", "VALUE"],
                            ids.iter()
                                .map(|i| vec![i.kind.clone(), i.value.clone()])
                                .collect(),
                        )
                    };
                    if !list.is_empty() {
                        text.push_str("\n\n");
                        text.push_str(&describe_warnings(&list));
                    }
                    text
                },
            )
        }
        IdentityCommand::Resolve { json } => {
            let done = identity::reprocess_all(store).await?;
            output::print(json, &done, || {
                format!(
                    "{} identifiers, {} new leads, {} fields from traits, {} new warnings.",
                    done.identities, done.leads, done.fields, done.warnings
                )
            })
        }
    }
}

fn describe_warnings(list: &[Warning]) -> String {
    if list.is_empty() {
        return "No identity warnings.".into();
    }
    let name = |n: &Option<String>, id: &str| match n {
        Some(n) => format!("{n} ({id})"),
        None => id.to_owned(),
    };
    let mut out = Vec::new();
    for w in list {
        out.push(format!(
            "{}  {}\n  {} / {}\n  merge if they are one person: {}",
            w.at.format("%Y-%m-%d %H:%M"),
            w.message,
            name(&w.contact_name, &w.contact_id),
            name(&w.other_contact_name, &w.other_contact_id),
            w.merge_command
        ));
    }
    out.join("\n")
}
