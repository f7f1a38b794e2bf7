//! `hub trash ...`: deleted records, and putting them back (docs/sync.md,
//! "edited after delete"). Works offline; a restore syncs as an edit.

use anyhow::Context;
use clap::Subcommand;
use hub_core::trash::{self, TrashItem};
use hub_core::Store;
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum TrashCommand {
    /// Deleted records, newest delete first
    List {
        /// Only this kind: contact, company, deal, ticket, reminder, activity
        #[arg(long)]
        entity: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Take a record out of the trash, with every value it has
    Restore {
        /// contact, company, deal, ticket, reminder or activity
        entity: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: TrashCommand) -> anyhow::Result<()> {
    match cmd {
        TrashCommand::List {
            entity,
            limit,
            json,
        } => {
            let items = trash::list(store, entity.as_deref(), limit).await?;
            output::print(
                json,
                &serde_json::json!({ "total": items.len(), "items": items }),
                || {
                    if items.is_empty() {
                        return "The trash is empty.".to_owned();
                    }
                    output::table(
                        &["KIND", "ID", "NAME", "DELETED", "EDITED AFTER DELETE"],
                        items.iter().map(row).collect(),
                    )
                },
            )
        }
        TrashCommand::Restore { entity, id, json } => {
            let id = Uuid::parse_str(id.trim()).with_context(|| format!("{id:?} is not an id"))?;
            let item = trash::restore(store, &entity, id).await?;
            output::print(json, &item, || {
                format!("Restored {} {} ({}).", item.entity, item.label, item.id)
            })
        }
    }
}

fn row(item: &TrashItem) -> Vec<String> {
    vec![
        item.entity.clone(),
        item.id.to_string(),
        item.label.clone(),
        item.deleted_at.clone(),
        item.edited_after_delete.join(", "),
    ]
}
