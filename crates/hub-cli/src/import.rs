//! `hub import`: CSV and vCard files in, the import history, and revert.

use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use hub_core::import::{
    self, csv, mapping, CancelToken, ImportProgress, ImportReport, ImportSummary, Target,
};
use hub_core::{Error, Store};
use serde_json::json;
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import contacts (with their companies, deals and tags) from a CSV file:
    /// HubSpot, Pipedrive, Salesforce, Zoho, Google Contacts, Outlook, or any sheet
    Csv(CsvArgs),
    /// Import contacts from a vCard file (2.1, 3.0 or 4.0; many cards per file)
    Vcard(VcardArgs),
    /// The import history, newest first
    List {
        #[arg(long)]
        json: bool,
    },
    /// Undo an import: remove what it created, restore what it changed
    Revert {
        /// The import's id (or the start of it) from `hub import list`
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Saved column mappings (`--save-mapping NAME`, `--mapping NAME`)
    Mappings {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct CsvArgs {
    file: PathBuf,
    /// Map a column to a field, or skip it: "Work Email=email", "Fax=skip",
    /// "Budget=custom:budget" (repeatable; wins over the saved mapping and the guess)
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// Start from a saved mapping
    #[arg(long, value_name = "NAME")]
    mapping: Option<String>,
    /// Save the mapping used for this file under a name
    #[arg(long, value_name = "NAME")]
    save_mapping: Option<String>,
    /// Check every row and count what would happen; write nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VcardArgs {
    file: PathBuf,
    /// Check every card and count what would happen; write nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(store: &Store, cmd: ImportCommand) -> anyhow::Result<()> {
    match cmd {
        ImportCommand::Csv(args) => run_csv(store, args).await,
        ImportCommand::Vcard(args) => run_vcard(store, args).await,
        ImportCommand::List { json } => {
            let list = import::list(store).await?;
            output::print(json, &list, || history(&list))
        }
        ImportCommand::Revert { id, json } => {
            let id = find(store, &id).await?;
            let report = import::revert(store, id).await?;
            output::print(json, &report, || {
                let mut text = format!(
                    "Reverted import {id}: {} records removed, {} fields restored.",
                    report.removed, report.restored
                );
                if report.kept_newer > 0 {
                    text.push_str(&format!(
                        "\n{} fields were edited after the import and keep their newer value.",
                        report.kept_newer
                    ));
                }
                if report.kept_in_use > 0 {
                    text.push_str(&format!(
                        "\n{} companies or tags it created are used by other records and were kept.",
                        report.kept_in_use
                    ));
                }
                text
            })
        }
        ImportCommand::Mappings { json } => {
            let saved = mapping::saved(store).await?;
            output::print(json, &saved, || {
                if saved.is_empty() {
                    return "No saved mappings (save one with hub import csv FILE --save-mapping NAME)."
                        .into();
                }
                saved
                    .iter()
                    .map(|m| {
                        let cols = m
                            .columns
                            .iter()
                            .map(|(c, t)| format!("  {c} = {}", t.as_deref().unwrap_or("skip")))
                            .collect::<Vec<_>>()
                            .join("\n");
                        format!("{}\n{cols}", m.name)
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
        }
    }
}

/// An import by id or by a unique start of its id.
async fn find(store: &Store, text: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(text.trim()) {
        return Ok(id);
    }
    let prefix = text.trim().to_lowercase();
    let matches: Vec<Uuid> = import::list(store)
        .await?
        .into_iter()
        .map(|i| i.id)
        .filter(|id| !prefix.is_empty() && id.to_string().starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::NotFound {
            entity: "import",
            id: text.trim().to_owned(),
        }
        .into()),
        _ => Err(Error::invalid(
            "id",
            format!(
                "\"{}\" is the start of several imports' ids: give more of it",
                text.trim()
            ),
        )
        .into()),
    }
}

async fn run_csv(store: &Store, args: CsvArgs) -> anyhow::Result<()> {
    let mut choices: Vec<(String, Option<Target>)> = Vec::new();
    let reader = csv::open(&args.file)?;
    let headers = reader.headers().to_vec();
    drop(reader);
    if let Some(name) = &args.mapping {
        choices.extend(mapping::load(store, name).await?.choices(&headers)?);
    }
    for m in &args.map {
        choices.push(mapping::parse_override(m)?);
    }
    let columns = csv::mapping_for(store, &headers, &choices).await?;
    if let Some(name) = &args.save_mapping {
        mapping::save(store, name, &mapping::to_map(&headers, &columns)).await?;
    }
    let cancel = cancel_on_ctrl_c();
    let mut bar = Bar::new();
    let report = csv::import_file(
        store,
        &args.file,
        &choices,
        args.dry_run,
        |p| bar.draw(p),
        &cancel,
    )
    .await;
    bar.finish();
    let report = report?;
    let mapped: Vec<(String, Option<String>)> = headers
        .iter()
        .cloned()
        .zip(columns.iter().map(|t| t.as_ref().map(Target::to_string)))
        .collect();
    let value = json!({
        "file": args.file.display().to_string(),
        "mapping": mapped.iter().map(|(c, t)| json!({"column": c, "field": t})).collect::<Vec<_>>(),
        "report": report,
    });
    output::print(args.json, &value, || {
        let table = output::table(
            &["COLUMN", "FIELD"],
            mapped
                .iter()
                .map(|(c, t)| vec![c.clone(), t.clone().unwrap_or_else(|| "(skip)".into())])
                .collect(),
        );
        format!("{table}\n\n{}", summary(&args.file, &report))
    })
}

async fn run_vcard(store: &Store, args: VcardArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file)?;
    let total = file.metadata().ok().map(|m| m.len());
    let name = file_name(&args.file);
    let cancel = cancel_on_ctrl_c();
    let mut bar = Bar::new();
    let report = import::import_records(
        store,
        hub_core::vcard::records(BufReader::new(file), total),
        &hub_core::vcard::options(&name, args.dry_run),
        |p| bar.draw(p),
        &cancel,
    )
    .await;
    bar.finish();
    let report = report?;
    output::print(args.json, &report, || summary(&args.file, &report))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Ctrl+C cancels the import (it rolls back) instead of killing `hub` mid-write.
fn cancel_on_ctrl_c() -> CancelToken {
    let cancel = CancelToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
        }
    });
    cancel
}

fn summary(file: &Path, r: &ImportReport) -> String {
    let mut lines = Vec::new();
    let what = if r.cancelled {
        "Cancelled: nothing was imported from".to_owned()
    } else if r.dry_run {
        "Dry run (nothing written):".to_owned()
    } else {
        "Imported".to_owned()
    };
    lines.push(format!(
        "{what} {}: {} records, {} to create, {} to update, {} unchanged, {} with errors.",
        file_name(file),
        r.records,
        r.created,
        r.updated,
        r.skipped,
        r.error_count
    ));
    if !r.dry_run && !r.cancelled {
        lines[0] = format!(
            "Imported {}: {} records, {} created, {} updated, {} unchanged, {} with errors.",
            file_name(file),
            r.records,
            r.created,
            r.updated,
            r.skipped,
            r.error_count
        );
    }
    let extra: Vec<String> = [
        (r.companies_created, "companies created"),
        (r.companies_updated, "companies updated"),
        (r.deals_created, "deals created"),
        (r.deals_updated, "deals updated"),
        (r.tags_created, "tags created"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if !extra.is_empty() {
        lines.push(format!("Also: {}.", extra.join(", ")));
    }
    for e in &r.errors {
        lines.push(format!("line {}: {}", e.line, e.message));
    }
    if let Some(id) = r.import_id {
        lines.push(format!("Undo with: hub import revert {id}"));
    }
    lines.join("\n")
}

fn history(list: &[ImportSummary]) -> String {
    if list.is_empty() {
        return "No imports yet.".into();
    }
    let n = |i: &ImportSummary, k: &str| i.counts[k].as_u64().unwrap_or(0).to_string();
    output::table(
        &[
            "ID", "WHEN", "WHO", "FILE", "CREATED", "UPDATED", "SKIPPED", "ERRORS", "STATUS",
        ],
        list.iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    i.created_at
                        .chars()
                        .take(16)
                        .collect::<String>()
                        .replace('T', " "),
                    i.created_by.clone(),
                    i.file_name.clone(),
                    n(i, "created"),
                    n(i, "updated"),
                    n(i, "skipped"),
                    n(i, "errors"),
                    i.status.clone(),
                ]
            })
            .collect(),
    )
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Bar {
    on: bool,
    drawn: bool,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            on: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn draw(&mut self, p: &ImportProgress) {
        if !self.on {
            return;
        }
        let mut err = std::io::stderr();
        let line = match p.bytes_total.filter(|t| *t > 0) {
            Some(total) => {
                let frac = (p.bytes_read as f64 / total as f64).min(1.0);
                let width = 30;
                let full = (frac * width as f64).round() as usize;
                format!(
                    "\r[{}{}] {:>3}%  {} records ({} new, {} updated, {} errors)",
                    "#".repeat(full),
                    "-".repeat(width - full),
                    (frac * 100.0).round() as u32,
                    p.records,
                    p.created,
                    p.updated,
                    p.errors
                )
            }
            None => format!(
                "\r{} records ({} new, {} updated, {} errors)",
                p.records, p.created, p.updated, p.errors
            ),
        };
        let _ = write!(err, "{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}
