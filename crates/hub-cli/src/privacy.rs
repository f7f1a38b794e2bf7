//! `hub privacy erase|export` and `hub retention run|days`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use hub_core::{privacy, retention, Store};

use crate::consent::contact_id;
use crate::output;

#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// Erase a contact and everything about them, on every device, for good
    Erase {
        id: String,
        /// Required: erasure cannot be undone
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Subject-access export: everything held about a contact
    Export {
        id: String,
        #[arg(long)]
        out: PathBuf,
        /// json (default) or csv; taken from --out's extension when not given
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Purge anonymous profiles inactive longer than the retention period, truncate IPs
    Run {
        #[arg(long)]
        json: bool,
    },
    /// Show the retention period, or set it for the whole team: `hub retention days 90`
    Days {
        days: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: PrivacyCommand) -> anyhow::Result<()> {
    match cmd {
        PrivacyCommand::Erase { id, yes, json } => {
            let id = contact_id(&id)?;
            if !yes {
                return Err(hub_core::Error::invalid(
                    "yes",
                    "erasure removes the contact and all their data on every device and cannot be undone: add --yes",
                )
                .into());
            }
            let erased = privacy::erase(store, id).await?;
            output::print(json, &erased, || {
                let rows: usize = erased.rows.values().sum();
                format!(
                    "erased {}: {rows} record(s), {} event(s); {} deal(s) kept without the person",
                    erased.contact_id, erased.events, erased.deals_unlinked
                )
            })
        }
        PrivacyCommand::Export { id, out, format } => {
            let export = privacy::subject_export(store, contact_id(&id)?).await?;
            let csv = match format {
                Some(f) => f == Format::Csv,
                None => out
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
            };
            let text = if csv {
                export.to_csv()
            } else {
                serde_json::to_string_pretty(&export)?
            };
            std::fs::write(&out, text)?;
            let records: usize = export.records.values().map(Vec::len).sum();
            eprintln!(
                "wrote {}: {records} record(s), {} event(s)",
                out.display(),
                export.events.len()
            );
            Ok(())
        }
    }
}

pub async fn run_retention(store: &Store, cmd: RetentionCommand) -> anyhow::Result<()> {
    match cmd {
        RetentionCommand::Run { json } => {
            let report = retention::run(store, chrono::Utc::now()).await?;
            output::print(json, &report, || {
                format!(
                    "kept {} days: removed {} anonymous profile(s) with {} event(s); truncated {} IP address(es)",
                    report.days, report.anonymous_profiles, report.events_removed, report.ips_truncated
                )
            })
        }
        RetentionCommand::Days { days, json } => {
            let days = match days {
                Some(d) => retention::set_days(store, d).await?,
                None => retention::days(store).await?,
            };
            output::print(json, &serde_json::json!({ "days": days }), || {
                format!("anonymous profiles are kept {days} days after their last event")
            })
        }
    }
}
