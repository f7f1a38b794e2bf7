//! `hub field ...`: custom fields on contacts, companies, deals and tickets.

use anyhow::Context;
use clap::Subcommand;
use hub_core::custom_fields::{
    self, CustomField, FieldEntity, FieldInput, FieldPatch, FieldType, FieldValue,
};
use hub_core::{companies, Store};
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum FieldCommand {
    /// Define a field: `hub field add contact "Annual budget" --type number`
    Add {
        /// contact, company, deal or ticket
        entity: String,
        /// The label; its key (what commands and filters use) is the label in snake_case
        name: String,
        /// text, number, date, select, multi_select or checkbox
        #[arg(long = "type", value_name = "TYPE")]
        field_type: String,
        /// A choice of a select or multi_select field. Repeatable
        #[arg(long = "option", value_name = "OPTION")]
        options: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The fields of one entity, or of all
    List {
        entity: Option<String>,
        /// Include deleted fields (restorable with their values)
        #[arg(long)]
        deleted: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a record's field: `hub field set contact ID budget 12500`; an empty VALUE clears it
    Set {
        entity: String,
        /// The record's id (a company also by name)
        record: String,
        /// The field's key or label
        name: String,
        /// Number: a decimal; date: YYYY-MM-DD; multi_select: options separated by commas;
        /// checkbox: yes/no
        value: String,
        /// More fields of the same record, all or nothing. Repeatable
        #[arg(long = "also", value_name = "NAME=VALUE")]
        more: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// A record's custom field values
    Get {
        entity: String,
        record: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a field's label or position, or add options
    Edit {
        entity: String,
        name: String,
        #[arg(long)]
        label: Option<String>,
        /// Repeatable
        #[arg(long = "add-option", value_name = "OPTION")]
        add_options: Vec<String>,
        #[arg(long)]
        position: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a field: hidden everywhere, its values kept for `hub field restore`
    Delete { entity: String, name: String },
    /// Bring a deleted field back with its values
    Restore {
        entity: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
}

async fn record(store: &Store, entity: FieldEntity, text: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(text.trim()) {
        return Ok(id);
    }
    if entity == FieldEntity::Company {
        return Ok(companies::find(store, text).await?.id);
    }
    anyhow::bail!("{text:?} is not a {} id", entity.as_str())
}

pub async fn run(store: &Store, cmd: FieldCommand) -> anyhow::Result<()> {
    match cmd {
        FieldCommand::Add {
            entity,
            name,
            field_type,
            options,
            json,
        } => {
            let field = custom_fields::add(
                store,
                FieldInput {
                    entity: FieldEntity::parse(&entity)?,
                    label: name,
                    field_type: FieldType::parse(&field_type)?,
                    options,
                },
            )
            .await?;
            output::print(json, &field, || {
                format!(
                    "Added {} field {} ({})",
                    field.entity.as_str(),
                    field.key,
                    field.field_type.as_str()
                )
            })
        }
        FieldCommand::List {
            entity,
            deleted,
            json,
        } => {
            let entity = entity.as_deref().map(FieldEntity::parse).transpose()?;
            let fields = custom_fields::list(store, entity, deleted).await?;
            output::print(json, &fields, || table(&fields))
        }
        FieldCommand::Set {
            entity,
            record: row,
            name,
            value,
            more,
            json,
        } => {
            let entity = FieldEntity::parse(&entity)?;
            let row = record(store, entity, &row).await?;
            let mut values = vec![(name, value)];
            for m in &more {
                let (k, v) = m
                    .split_once('=')
                    .with_context(|| format!("--also {m:?}: expected NAME=VALUE"))?;
                values.push((k.to_owned(), v.to_owned()));
            }
            let after = custom_fields::set_values(store, entity, row, &values).await?;
            output::print(json, &after, || describe(&after))
        }
        FieldCommand::Get {
            entity,
            record: row,
            json,
        } => {
            let entity = FieldEntity::parse(&entity)?;
            let row = record(store, entity, &row).await?;
            let values = custom_fields::values(store, entity, row).await?;
            output::print(json, &values, || describe(&values))
        }
        FieldCommand::Edit {
            entity,
            name,
            label,
            add_options,
            position,
            json,
        } => {
            let field = custom_fields::update(
                store,
                FieldEntity::parse(&entity)?,
                &name,
                FieldPatch {
                    label,
                    add_options,
                    position,
                },
            )
            .await?;
            output::print(json, &field, || table(std::slice::from_ref(&field)))
        }
        FieldCommand::Delete { entity, name } => {
            let field = custom_fields::delete(store, FieldEntity::parse(&entity)?, &name).await?;
            println!(
                "Deleted {} field {}; its values are kept (`hub field restore {} {}`)",
                field.entity.as_str(),
                field.key,
                field.entity.as_str(),
                field.key
            );
            Ok(())
        }
        FieldCommand::Restore { entity, name, json } => {
            let field = custom_fields::restore(store, FieldEntity::parse(&entity)?, &name).await?;
            output::print(json, &field, || table(std::slice::from_ref(&field)))
        }
    }
}

fn table(fields: &[CustomField]) -> String {
    if fields.is_empty() {
        return "No custom fields: `hub field add ENTITY NAME --type TYPE`.".into();
    }
    output::table(
        &["ENTITY", "KEY", "LABEL", "TYPE", "OPTIONS"],
        fields
            .iter()
            .map(|f| {
                vec![
                    f.entity.as_str().to_owned(),
                    f.key.clone(),
                    if f.deleted {
                        format!("{} (deleted)", f.label)
                    } else {
                        f.label.clone()
                    },
                    f.field_type.as_str().to_owned(),
                    f.options.join(", "),
                ]
            })
            .collect(),
    )
}

/// `label: value` lines.
pub fn describe(values: &[FieldValue]) -> String {
    if values.is_empty() {
        return "No custom field values.".into();
    }
    values
        .iter()
        .map(|v| {
            format!(
                "{}: {}",
                v.label,
                custom_fields::value_text(&v.value).replace(',', ", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
