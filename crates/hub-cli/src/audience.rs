//! `hub audience export|history|removals`: segments exported to Meta, Google Ads
//! or an email tool, consent-gated and hashed (docs/audiences.md).

use std::path::PathBuf;

use chrono::Utc;
use clap::Subcommand;
use hub_core::audiences::{self, Destination, ExportInput, LeftOut, RemovalReason};
use hub_core::Store;

use crate::output;

#[derive(Subcommand)]
pub enum AudienceCommand {
    /// Write a segment as a Meta Custom Audiences payload, a Google Ads Customer Match
    /// CSV or an email tool's CSV: only people with consent, identifiers hashed
    Export {
        /// The segment's name (any case) or id
        segment: String,
        /// meta, google or csv (an email tool: Mailchimp's columns)
        #[arg(long)]
        dest: String,
        /// A seed audience for the network's lookalike feature (meta or google)
        #[arg(long)]
        seed: bool,
        /// The file to write; Meta payloads over 10,000 rows become NAME-1.json, NAME-2.json, …
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Every export, newest first: who, when, segment, destination, counts
    History {
        #[arg(long)]
        json: bool,
    },
    /// People in earlier exports who were erased or withdrew consent since; with
    /// EXPORT and --out, write them as a removal file in that export's format
    Removals {
        /// An export's id (or the start of it); all exports when left out
        export: Option<String>,
        /// Write the removal file for EXPORT here
        #[arg(long, requires = "export")]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

fn left_out_text(l: &LeftOut, dest: &str) -> String {
    if l.total() == 0 {
        return "nobody left out".into();
    }
    let consent = if dest == "csv" {
        "email marketing"
    } else {
        "advertising"
    };
    let mut parts = Vec::new();
    if l.no_consent > 0 {
        parts.push(format!("{} without {consent} consent", l.no_consent));
    }
    if l.do_not_sell > 0 {
        parts.push(format!("{} do-not-sell", l.do_not_sell));
    }
    if l.no_identifier > 0 {
        let what = if dest == "csv" {
            "an email address"
        } else {
            "an email or phone"
        };
        parts.push(format!("{} without {what}", l.no_identifier));
    }
    format!("left out {}: {}", l.total(), parts.join(", "))
}

pub async fn run(store: &Store, cmd: AudienceCommand) -> anyhow::Result<()> {
    match cmd {
        AudienceCommand::Export {
            segment,
            dest,
            seed,
            out,
            json,
        } => {
            let input = ExportInput {
                segment,
                destination: Destination::parse(&dest)?,
                seed,
                out,
            };
            let report = audiences::export(store, &input, Utc::now()).await?;
            output::print(json, &report, || {
                let mut text = format!(
                    "exported {} of {} member(s) of \"{}\" to {}{} (export {})\n{}",
                    report.exported,
                    report.members,
                    report.segment_name,
                    report.destination.label(),
                    if seed { " as a lookalike seed" } else { "" },
                    report.id,
                    left_out_text(&report.left_out, report.destination.as_str()),
                );
                for f in &report.files {
                    text.push_str(&format!("\nwrote {f}"));
                }
                text
            })
        }
        AudienceCommand::History { json } => {
            let list = audiences::history(store).await?;
            output::print(json, &list, || {
                if list.is_empty() {
                    return "No audience exports yet.".into();
                }
                output::table(
                    &[
                        "EXPORTED AT",
                        "ID",
                        "SEGMENT",
                        "DEST",
                        "BY",
                        "SENT",
                        "LEFT OUT",
                        "TO REMOVE",
                    ],
                    list.iter()
                        .map(|x| {
                            let dest = if x.purpose == "lookalike_seed" {
                                format!("{} (seed)", x.destination)
                            } else {
                                x.destination.clone()
                            };
                            vec![
                                x.exported_at.clone(),
                                x.id.to_string(),
                                x.segment_name.clone(),
                                dest,
                                x.exported_by.clone(),
                                x.exported.to_string(),
                                x.left_out.total().to_string(),
                                if x.members_here {
                                    x.pending_removals.to_string()
                                } else {
                                    "-".into()
                                },
                            ]
                        })
                        .collect(),
                )
            })
        }
        AudienceCommand::Removals { export, out, json } => {
            if let (Some(which), Some(out)) = (&export, out) {
                let report = audiences::write_removals(store, which, &out, Utc::now()).await?;
                return output::print(json, &report, || {
                    let mut text = format!(
                        "{} to remove from export {} ({} erased, {} consent withdrawn)",
                        report.removed, report.export_id, report.erased, report.consent_withdrawn
                    );
                    for f in &report.files {
                        text.push_str(&format!("\nwrote {f}"));
                    }
                    text
                });
            }
            let list = audiences::removals(store, export.as_deref()).await?;
            output::print(json, &list, || {
                if list.is_empty() {
                    return "Nobody to remove: no one in an earlier export was erased or withdrew consent since.".into();
                }
                output::table(
                    &["EXPORT", "DEST", "CONTACT", "REASON", "REMOVAL FILE"],
                    list.iter()
                        .map(|r| {
                            vec![
                                r.export_id.to_string(),
                                r.destination.clone(),
                                r.contact_id.to_string(),
                                match r.reason {
                                    RemovalReason::Erased => format!(
                                        "erased {}",
                                        r.erased_at.clone().unwrap_or_default()
                                    ),
                                    RemovalReason::ConsentWithdrawn => "consent withdrawn".into(),
                                },
                                r.removal_at.clone().unwrap_or_else(|| "not yet".into()),
                            ]
                        })
                        .collect(),
                )
            })
        }
    }
}
