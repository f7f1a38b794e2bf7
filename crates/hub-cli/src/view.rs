//! `hub view ...`: saved views (filtered, sorted lists kept by name).

use clap::Subcommand;
use hub_core::custom_fields::{self, FieldEntity};
use hub_core::filters::{self, Filter, ListItem, RecordPage, Sort};
use hub_core::views::{self, SavedView, ViewInput};
use hub_core::Store;

use crate::output;

#[derive(Subcommand)]
pub enum ViewCommand {
    /// Save a view (replacing the one with this name):
    /// `hub view save "Hot leads" --entity contacts --filter stage=lead --filter "budget>=1000" --sort -budget`
    Save {
        name: String,
        #[command(flatten)]
        spec: Spec,
        #[arg(long)]
        json: bool,
    },
    /// Every saved view
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a saved view and print its records
    Show {
        name: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Run a filter without saving it
    Run {
        #[command(flatten)]
        spec: Spec,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Delete a saved view
    Delete { name: String },
}

#[derive(clap::Args)]
pub struct Spec {
    /// contacts, deals, tickets (or companies)
    #[arg(long)]
    entity: String,
    /// FIELD=VALUE, FIELD!=VALUE, FIELD~TEXT, FIELD>VALUE (>=, <, <=), FIELD:set, FIELD:unset,
    /// tag=NAME, tag!=NAME; FIELD is a built-in field or a custom field's key. Repeatable: all must hold
    #[arg(long = "filter", value_name = "CONDITION")]
    filters: Vec<String>,
    /// FIELD (ascending), -FIELD or FIELD:desc (descending); unset values last
    #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
    sort: Option<String>,
}

impl Spec {
    fn parse(&self) -> anyhow::Result<(FieldEntity, Filter, Option<Sort>)> {
        Ok((
            FieldEntity::parse(&self.entity)?,
            filters::parse_filter(&self.filters)?,
            self.sort.as_deref().map(Sort::parse).transpose()?,
        ))
    }
}

pub async fn run(store: &Store, cmd: ViewCommand) -> anyhow::Result<()> {
    match cmd {
        ViewCommand::Save { name, spec, json } => {
            let (entity, filter, sort) = spec.parse()?;
            let view = views::save(
                store,
                ViewInput {
                    name,
                    entity,
                    filter,
                    sort,
                },
            )
            .await?;
            output::print(json, &view, || format!("Saved view {}", describe(&view)))
        }
        ViewCommand::List { json } => {
            let all = views::list(store).await?;
            output::print(json, &all, || {
                if all.is_empty() {
                    return "No saved views: `hub view save NAME --entity contacts --filter ...`."
                        .into();
                }
                output::table(
                    &["NAME", "ENTITY", "FILTER", "SORT"],
                    all.iter()
                        .map(|v| {
                            vec![
                                v.name.clone(),
                                plural(v.entity).into(),
                                filter_text(&v.filter),
                                v.sort.as_ref().map(Sort::to_string).unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        ViewCommand::Show {
            name,
            limit,
            offset,
            json,
        } => {
            let result = views::run(store, &name, offset, limit).await?;
            output::print(json, &result, || {
                format!(
                    "{}\n{}",
                    describe(&result.view),
                    rows(&result.page, &result.view.filter, result.view.sort.as_ref())
                )
            })
        }
        ViewCommand::Run {
            spec,
            limit,
            offset,
            json,
        } => {
            let (entity, filter, sort) = spec.parse()?;
            let page = filters::query(store, entity, &filter, sort.as_ref(), offset, limit).await?;
            output::print(json, &page, || rows(&page, &filter, sort.as_ref()))
        }
        ViewCommand::Delete { name } => {
            views::delete(store, &name).await?;
            println!("Deleted view {}", name.trim());
            Ok(())
        }
    }
}

fn plural(entity: FieldEntity) -> &'static str {
    match entity {
        FieldEntity::Contact => "contacts",
        FieldEntity::Company => "companies",
        FieldEntity::Deal => "deals",
        FieldEntity::Ticket => "tickets",
    }
}

fn filter_text(filter: &Filter) -> String {
    filter
        .conditions
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn describe(v: &SavedView) -> String {
    let mut text = format!("{} ({})", v.name, plural(v.entity));
    let filter = filter_text(&v.filter);
    if !filter.is_empty() {
        text.push_str(&format!(": {filter}"));
    }
    if let Some(sort) = &v.sort {
        text.push_str(&format!(", sorted by {sort}"));
    }
    text
}

/// The records as a table: id, name, then the fields the filter and sort use.
fn rows(page: &RecordPage, filter: &Filter, sort: Option<&Sort>) -> String {
    let mut columns: Vec<String> = Vec::new();
    for field in filter
        .conditions
        .iter()
        .map(|c| c.field.clone())
        .chain(sort.map(|s| s.field.clone()))
    {
        if !columns.contains(&field) && field != "name" {
            columns.push(field);
        }
    }
    let cell = |r: &ListItem, field: &str| -> String {
        if field == "tag" {
            return r.tags.join(", ");
        }
        let value = r
            .fields
            .get(field)
            .or_else(|| r.custom_fields.get(field))
            .cloned()
            .unwrap_or_default();
        custom_fields::value_text(&value).replace(',', ", ")
    };
    let mut headers = vec!["ID".to_owned(), "NAME".to_owned()];
    headers.extend(columns.iter().map(|c| c.to_uppercase()));
    let body = page
        .items
        .iter()
        .map(|r| {
            let mut row = vec![r.id.to_string(), r.label.clone()];
            row.extend(columns.iter().map(|c| cell(r, c)));
            row
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    format!(
        "{}\n{} of {}",
        output::table(&headers, body),
        page.items.len(),
        page.total
    )
}
