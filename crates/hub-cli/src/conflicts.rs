//! `hub conflicts ...`: versions the sync server kept because the edit that
//! beat them had not seen them (docs/sync.md). Works offline.

use anyhow::bail;
use clap::Subcommand;
use hub_core::conflicts::{self, Conflict, ConflictStatus};
use hub_core::Store;
use serde_json::Value;

use crate::output;

#[derive(Subcommand)]
pub enum ConflictsCommand {
    /// Open conflicts, newest first
    List {
        /// Also the restored and superseded ones
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Both versions of one field, side by side
    Show {
        /// Conflict id (or a prefix of it that names one conflict)
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Put the lost value back (a new edit; it syncs on the next `hub sync`)
    Restore {
        /// Conflict id (or a prefix of it that names one conflict)
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: ConflictsCommand) -> anyhow::Result<()> {
    let me = store.device_id().0.to_string();
    match cmd {
        ConflictsCommand::List { all, json } => {
            let list = conflicts::list(store, all).await?;
            if json {
                return output::print(
                    true,
                    &serde_json::json!({ "total": list.len(), "items": list }),
                    String::new,
                );
            }
            if list.is_empty() {
                println!("No {}conflicts.", if all { "" } else { "open " });
                return Ok(());
            }
            let mut headers = vec![
                "ID",
                "ROW",
                "FIELD",
                "LOST VALUE",
                "LOST ON",
                "WINNING VALUE",
                "WON ON",
            ];
            if all {
                headers.push("STATUS");
            }
            let rows = list
                .iter()
                .map(|c| {
                    let mut row = vec![
                        c.id.chars().take(8).collect(),
                        format!("{} {}", c.entity, clip(&c.row_label, 30)),
                        c.field.clone(),
                        clip(&value(&c.lost_value), 30),
                        format!("{} {}", device(&c.lost_device, &me), when(&c.lost_at)),
                        clip(&value(&c.winner_value), 30),
                        format!("{} {}", device(&c.winner_device, &me), when(&c.winner_at)),
                    ];
                    if all {
                        row.push(status(c.status).to_owned());
                    }
                    row
                })
                .collect();
            println!("{}", output::table(&headers, rows));
            Ok(())
        }
        ConflictsCommand::Show { id, json } => {
            let conflict = conflicts::get(store, &resolve(store, &id).await?).await?;
            output::print(json, &conflict, || describe(&conflict, &me))
        }
        ConflictsCommand::Restore { id, json } => {
            let before = conflicts::get(store, &resolve(store, &id).await?).await?;
            let after = conflicts::restore(store, &before.id).await?;
            output::print(json, &after, || {
                format!(
                    "Restored {} of {} {} to {} (was {}).\nIt reaches the other devices on the next hub sync.",
                    after.field,
                    after.entity,
                    after.row_label,
                    value(&after.lost_value),
                    value(&before.current_value),
                )
            })
        }
    }
}

/// A full conflict id, from the id or a prefix naming one conflict.
async fn resolve(store: &Store, id: &str) -> anyhow::Result<String> {
    let id = id.trim().to_lowercase();
    if id.is_empty() {
        bail!("give a conflict id (hub conflicts list)");
    }
    let all = conflicts::list(store, true).await?;
    if all.iter().any(|c| c.id == id) {
        return Ok(id);
    }
    let matches: Vec<&Conflict> = all.iter().filter(|c| c.id.starts_with(&id)).collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => bail!("no conflict {id} (hub conflicts list --all)"),
        _ => bail!(
            "{id} names {} conflicts; give more of the id",
            matches.len()
        ),
    }
}

fn describe(c: &Conflict, me: &str) -> String {
    let mut lines = vec![
        format!("Conflict {} ({})", c.id, status(c.status)),
        format!("Row:      {} {} ({})", c.entity, c.row_label, c.row_id),
        format!("Field:    {}", c.field),
        format!(
            "Lost:     {}  written on {} at {}",
            value(&c.lost_value),
            device(&c.lost_device, me),
            c.lost_at
        ),
        format!(
            "Winner:   {}  written on {} at {}",
            value(&c.winner_value),
            device(&c.winner_device, me),
            c.winner_at
        ),
        format!("Now:      {}", value(&c.current_value)),
        format!("Detected: {}", c.detected_at),
    ];
    if let Some(at) = &c.restored_at {
        lines.push(format!("Restored: {at}"));
    }
    if c.status == ConflictStatus::Open {
        lines.push(format!(
            "Put the lost value back with: hub conflicts restore {}",
            c.id
        ));
    }
    lines.join("\n")
}

fn status(s: ConflictStatus) -> &'static str {
    match s {
        ConflictStatus::Open => "open",
        ConflictStatus::Restored => "restored",
        ConflictStatus::Superseded => "superseded",
    }
}

/// A field value for people: strings quoted, null as (empty).
fn value(v: &Value) -> String {
    match v {
        Value::Null => "(empty)".to_owned(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// "this device", or the end of the device id (the random part of a v7 id).
fn device(id: &str, me: &str) -> String {
    if id == me {
        "this device".to_owned()
    } else {
        let tail: String = id
            .chars()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("device …{tail}")
    }
}

/// `2026-11-29T13:40:01.123Z` → `2026-11-29 13:40`.
fn when(rfc3339: &str) -> String {
    let t = rfc3339.replace('T', " ");
    t.chars().take(16).collect()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}
