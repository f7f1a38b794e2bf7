//! `hub tag ...`

use clap::Subcommand;
use hub_core::tags::{self, Tag, Taggable};
use hub_core::{companies, Store};
use serde::Serialize;
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum TagCommand {
    /// Create a tag (or recolour it), and put it on records: `hub tag add VIP --contact ID`
    Add {
        name: String,
        /// #rrggbb or blue, green, amber, red, violet, cyan, pink, gray
        #[arg(long)]
        color: Option<String>,
        #[command(flatten)]
        on: Records,
        #[arg(long)]
        json: bool,
    },
    /// Take a tag off records
    Remove {
        name: String,
        #[command(flatten)]
        on: Records,
        #[arg(long)]
        json: bool,
    },
    /// Every tag with how many contacts, companies and deals carry it
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a tag's colour
    Color {
        name: String,
        color: String,
        #[arg(long)]
        json: bool,
    },
    /// Rename a tag; every record keeps it
    Rename {
        name: String,
        new_name: String,
        #[arg(long)]
        json: bool,
    },
    /// Move every record of tag FROM to tag INTO, then delete FROM
    Merge {
        from: String,
        into: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a tag (it leaves every record; creating it again brings it back)
    Delete { name: String },
}

#[derive(clap::Args)]
pub struct Records {
    /// Contact id. Repeatable
    #[arg(long = "contact", value_name = "ID")]
    contacts: Vec<Uuid>,
    /// Company id or name. Repeatable
    #[arg(long = "company", value_name = "ID|NAME")]
    companies: Vec<String>,
    /// Deal id. Repeatable
    #[arg(long = "deal", value_name = "ID")]
    deals: Vec<Uuid>,
}

impl Records {
    async fn resolve(&self, store: &Store) -> anyhow::Result<Vec<(Taggable, Uuid)>> {
        let mut out: Vec<(Taggable, Uuid)> = self
            .contacts
            .iter()
            .map(|id| (Taggable::Contact, *id))
            .collect();
        for company in &self.companies {
            out.push((Taggable::Company, companies::find(store, company).await?.id));
        }
        out.extend(self.deals.iter().map(|id| (Taggable::Deal, *id)));
        Ok(out)
    }
}

/// The tags of one record after a change.
#[derive(Serialize)]
struct Tagged {
    kind: Taggable,
    id: Uuid,
    tags: Vec<String>,
}

pub async fn run(store: &Store, cmd: TagCommand) -> anyhow::Result<()> {
    match cmd {
        TagCommand::Add {
            name,
            color,
            on,
            json,
        } => {
            let records = on.resolve(store).await?;
            let tag = tags::add(store, &name, color.as_deref(), &records).await?;
            print_change(store, json, &tag, &records).await
        }
        TagCommand::Remove { name, on, json } => {
            let records = on.resolve(store).await?;
            anyhow::ensure!(
                !records.is_empty(),
                "name the records: --contact ID, --company ID|NAME or --deal ID"
            );
            let tag = tags::remove(store, &name, &records).await?;
            print_change(store, json, &tag, &records).await
        }
        TagCommand::List { json } => {
            let all = tags::list(store).await?;
            output::print(json, &all, || {
                if all.is_empty() {
                    return "No tags yet: `hub tag add NAME`.".into();
                }
                output::table(
                    &["NAME", "COLOR", "CONTACTS", "COMPANIES", "DEALS"],
                    all.iter()
                        .map(|t| {
                            vec![
                                t.name.clone(),
                                t.color.clone().unwrap_or_default(),
                                t.contact_count.to_string(),
                                t.company_count.to_string(),
                                t.deal_count.to_string(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        TagCommand::Color { name, color, json } => {
            let tag = tags::set_color(store, &name, &color).await?;
            output::print(json, &tag, || describe(&tag))
        }
        TagCommand::Rename {
            name,
            new_name,
            json,
        } => {
            let tag = tags::rename(store, &name, &new_name).await?;
            output::print(json, &tag, || format!("Renamed to {}", describe(&tag)))
        }
        TagCommand::Merge { from, into, json } => {
            let report = tags::merge(store, &from, &into).await?;
            output::print(json, &report, || {
                format!(
                    "Merged {from} into {}: {} records moved, {} already had it.",
                    report.tag.name, report.moved, report.already_tagged
                )
            })
        }
        TagCommand::Delete { name } => {
            tags::delete(store, &name).await?;
            println!("Deleted tag {}", name.trim());
            Ok(())
        }
    }
}

async fn print_change(
    store: &Store,
    json: bool,
    tag: &Tag,
    records: &[(Taggable, Uuid)],
) -> anyhow::Result<()> {
    let mut tagged = Vec::new();
    let mut conn = store.pool().acquire().await?;
    for (kind, id) in records {
        tagged.push(Tagged {
            kind: *kind,
            id: *id,
            tags: tags::names_for(&mut conn, *kind, *id).await?,
        });
    }
    output::print(
        json,
        &serde_json::json!({ "tag": tag, "records": tagged }),
        || {
            let mut lines = vec![describe(tag)];
            for t in &tagged {
                lines.push(format!(
                    "  {} {}: {}",
                    t.kind.as_str(),
                    t.id,
                    t.tags.join(", ")
                ));
            }
            lines.join("\n")
        },
    )
}

fn describe(t: &Tag) -> String {
    format!(
        "{} {}  ({} contacts, {} companies, {} deals)",
        t.name,
        t.color.as_deref().unwrap_or(""),
        t.contact_count,
        t.company_count,
        t.deal_count
    )
}
