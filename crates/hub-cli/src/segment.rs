//! `hub segment ...`: rule-based segments of contacts (docs/segments.md).
//! Every command brings segments up to date first (`segments::refresh`), so
//! what it prints includes the latest events and edits.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use hub_core::segments::{self, Segment, SegmentInput, SegmentPatch};
use hub_core::Store;
use serde::Serialize;
use serde_json::Value;

use crate::output;

#[derive(Subcommand)]
pub enum SegmentCommand {
    /// Create a segment from a JSON rule (docs/segments.md):
    /// `hub segment create "Repeat buyers" --rule-file rule.json`
    Create {
        name: String,
        /// The rule, a JSON file (`-` reads standard input)
        #[arg(long, value_name = "FILE")]
        rule_file: PathBuf,
        /// Entry triggers, a JSON file: {"reminder": {"title": "Call {name}", "due_in_days": 1}, "set_lifecycle_stage": "prospect"}
        #[arg(long, value_name = "FILE")]
        triggers_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Every segment with its size
    List {
        #[arg(long)]
        json: bool,
    },
    /// A segment: its rule, tag, triggers, size and latest entries and exits
    Show {
        /// Name (any case) or id
        name: String,
        /// How many entries and exits to list
        #[arg(long, default_value_t = 20)]
        history: u32,
        #[arg(long)]
        json: bool,
    },
    /// A segment's members, by name
    Members {
        name: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Rename a segment, or replace its rule or triggers
    Update {
        name: String,
        /// The new name (the tag follows: "segment: NEW")
        #[arg(long = "name", value_name = "NEW")]
        new_name: Option<String>,
        #[arg(long, value_name = "FILE")]
        rule_file: Option<PathBuf>,
        #[arg(long, value_name = "FILE", conflicts_with = "no_triggers")]
        triggers_file: Option<PathBuf>,
        /// Remove the entry triggers
        #[arg(long)]
        no_triggers: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a segment; its tag comes off its members
    Delete { name: String },
    /// Bring every segment up to date now and say what changed
    Refresh {
        #[arg(long)]
        json: bool,
    },
}

fn read_json(path: &Path, what: &str) -> anyhow::Result<Value> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} file {}", path.display()))?
    };
    serde_json::from_str(&text).map_err(|e| {
        hub_core::Error::invalid(what, format!("{} is not valid JSON: {e}", path.display())).into()
    })
}

fn describe(s: &Segment) -> String {
    let mut out = format!(
        "{}  ({} member{})\nid       {}\ntag      {}\nrule     {}",
        s.name,
        s.size,
        if s.size == 1 { "" } else { "s" },
        s.id,
        s.tag,
        s.rule
    );
    if let Some(t) = &s.triggers {
        out.push_str(&format!("\ntriggers {t}"));
    }
    if let Some(e) = &s.error {
        out.push_str(&format!("\nerror    {e} (members are kept as they were)"));
    }
    out
}

#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    segment: Segment,
    history: Vec<segments::SegmentHistoryEntry>,
}

pub async fn run(store: &Store, cmd: SegmentCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    match cmd {
        SegmentCommand::Create {
            name,
            rule_file,
            triggers_file,
            json,
        } => {
            let rule = read_json(&rule_file, "rule")?;
            let triggers = triggers_file
                .map(|f| read_json(&f, "triggers"))
                .transpose()?;
            let seg = segments::create(
                store,
                &SegmentInput {
                    name,
                    rule,
                    triggers,
                },
                now,
            )
            .await?;
            output::print(json, &seg, || format!("Created segment {}", describe(&seg)))
        }
        SegmentCommand::List { json } => {
            segments::refresh(store, now).await?;
            let all = segments::list(store).await?;
            output::print(json, &all, || {
                if all.is_empty() {
                    return "No segments: `hub segment create NAME --rule-file rule.json` (docs/segments.md)."
                        .into();
                }
                output::table(
                    &["NAME", "MEMBERS", "TAG", "RULE"],
                    all.iter()
                        .map(|s| {
                            let mut rule = s.rule.to_string();
                            if rule.chars().count() > 60 {
                                rule = rule.chars().take(59).collect::<String>() + "…";
                            }
                            if s.error.is_some() {
                                rule = format!("(cannot evaluate here) {rule}");
                            }
                            vec![s.name.clone(), s.size.to_string(), s.tag.clone(), rule]
                        })
                        .collect(),
                )
            })
        }
        SegmentCommand::Show {
            name,
            history,
            json,
        } => {
            segments::refresh(store, now).await?;
            let segment = segments::get(store, &name).await?;
            let history = segments::history(store, &name, history).await?;
            let shown = Shown { segment, history };
            output::print(json, &shown, || {
                let mut out = describe(&shown.segment);
                if !shown.history.is_empty() {
                    out.push_str("\n\n");
                    out.push_str(&output::table(
                        &["AT", "", "CONTACT", "ID"],
                        shown
                            .history
                            .iter()
                            .map(|h| {
                                vec![
                                    h.at.clone(),
                                    h.kind.clone(),
                                    h.contact_name.clone().unwrap_or_default(),
                                    h.contact_id.to_string(),
                                ]
                            })
                            .collect(),
                    ));
                }
                out
            })
        }
        SegmentCommand::Members {
            name,
            limit,
            offset,
            json,
        } => {
            segments::refresh(store, now).await?;
            let seg = segments::get(store, &name).await?;
            let members = segments::members(store, &name, limit, offset).await?;
            output::print(json, &members, || {
                if members.is_empty() {
                    return format!("{} has no members.", seg.name);
                }
                let mut out = output::table(
                    &["NAME", "ENTERED", "ID"],
                    members
                        .iter()
                        .map(|m| {
                            vec![
                                m.name.clone().unwrap_or_default(),
                                m.entered_at.clone(),
                                m.contact_id.to_string(),
                            ]
                        })
                        .collect(),
                );
                let shown = offset as usize + members.len();
                if shown < seg.size as usize {
                    out.push_str(&format!(
                        "\n({} of {}: --offset {shown} for more)",
                        members.len(),
                        seg.size
                    ));
                }
                out
            })
        }
        SegmentCommand::Update {
            name,
            new_name,
            rule_file,
            triggers_file,
            no_triggers,
            json,
        } => {
            let patch = SegmentPatch {
                name: new_name,
                rule: rule_file.map(|f| read_json(&f, "rule")).transpose()?,
                triggers: if no_triggers {
                    Some(None)
                } else {
                    triggers_file
                        .map(|f| read_json(&f, "triggers").map(Some))
                        .transpose()?
                },
            };
            if patch == SegmentPatch::default() {
                anyhow::bail!(
                    "nothing to change: give --name, --rule-file, --triggers-file or --no-triggers"
                );
            }
            let seg = segments::update(store, &name, &patch, now).await?;
            output::print(json, &seg, || format!("Updated segment {}", describe(&seg)))
        }
        SegmentCommand::Delete { name } => {
            let seg = segments::get(store, &name).await?;
            segments::delete(store, &name, now).await?;
            println!(
                "Deleted segment {} (its tag \"{}\" came off {} contact{})",
                seg.name,
                seg.tag,
                seg.size,
                if seg.size == 1 { "" } else { "s" }
            );
            Ok(())
        }
        SegmentCommand::Refresh { json } => {
            let report = segments::refresh(store, now).await?;
            output::print(json, &report, || {
                let mut out = format!(
                    "{} segment{} up to date: {} entered, {} exited, {} contact check{}, {} tag{} written, {} reminder{}",
                    report.segments,
                    if report.segments == 1 { "" } else { "s" },
                    report.entered,
                    report.exited,
                    report.checked,
                    if report.checked == 1 { "" } else { "s" },
                    report.tags_written,
                    if report.tags_written == 1 { "" } else { "s" },
                    report.reminders,
                    if report.reminders == 1 { "" } else { "s" },
                );
                for (name, error) in &report.errors {
                    out.push_str(&format!("\n{name}: cannot evaluate here: {error}"));
                }
                out
            })
        }
    }
}
