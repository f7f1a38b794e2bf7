//! `hub company ...`

use clap::Subcommand;
use hub_core::companies::{self, CompanyInput, CompanyQuery};
use hub_core::Store;

use crate::output;

#[derive(Subcommand)]
pub enum CompanyCommand {
    /// Add a company; prints its id
    Add {
        #[arg(long)]
        name: String,
        /// Web domain, e.g. example.com (a pasted URL is fine)
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        industry: Option<String>,
        /// Head count: 1-10, 11-50, 51-200, 201-500, 501-1000, 1001-5000, 5001+
        #[arg(long)]
        size: Option<String>,
        #[arg(long)]
        street: Option<String>,
        #[arg(long)]
        city: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        postal_code: Option<String>,
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List companies by name
    List {
        /// Companies whose name or domain starts with this
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one company, by id or exact name
    Show {
        company: String,
        #[arg(long)]
        json: bool,
    },
    /// Merge OTHER into KEEP (ids or exact names): pick values per field, move contacts,
    /// deals and the rest, undo with `hub merge undo`
    Merge(crate::duplicates::MergeArgs),
}

pub async fn run(store: &Store, cmd: CompanyCommand) -> anyhow::Result<()> {
    match cmd {
        CompanyCommand::Merge(args) => {
            crate::duplicates::run_merge(store, hub_core::duplicates::RecordKind::Company, args)
                .await
        }
        CompanyCommand::Add {
            name,
            domain,
            industry,
            size,
            street,
            city,
            region,
            postal_code,
            country,
            json,
        } => {
            let input = CompanyInput {
                name,
                domain,
                industry,
                size,
                street,
                city,
                region,
                postal_code,
                country,
            };
            let company = companies::create(store, input).await?;
            output::print(json, &company, || company.id.to_string())
        }
        CompanyCommand::List {
            search,
            limit,
            offset,
            json,
        } => {
            let page = companies::list(
                store,
                &CompanyQuery {
                    search,
                    limit,
                    offset,
                },
            )
            .await?;
            output::print(json, &page, || {
                let rows = page
                    .items
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            c.name.clone(),
                            c.domain.clone().unwrap_or_default(),
                            c.contact_count.to_string(),
                        ]
                    })
                    .collect();
                format!(
                    "{}\n{} of {} companies",
                    output::table(&["ID", "NAME", "DOMAIN", "CONTACTS"], rows),
                    page.items.len(),
                    page.total
                )
            })
        }
        CompanyCommand::Show { company, json } => {
            let c = companies::find(store, &company).await?;
            output::print(json, &c, || {
                let address = [
                    c.street.as_deref(),
                    c.city.as_deref(),
                    c.region.as_deref(),
                    c.postal_code.as_deref(),
                    c.country.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
                let mut lines = vec![format!("{}  ({})", c.name, c.id)];
                for (label, value) in [
                    ("Domain", c.domain.clone()),
                    ("Industry", c.industry.clone()),
                    ("Size", c.size.clone()),
                    ("Address", Some(address).filter(|a| !a.is_empty())),
                ] {
                    if let Some(v) = value {
                        lines.push(format!("  {label:<9} {v}"));
                    }
                }
                lines.push(format!("  {:<9} {}", "Contacts", c.contact_count));
                lines.join("\n")
            })
        }
    }
}
