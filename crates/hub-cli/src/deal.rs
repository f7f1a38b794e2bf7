//! `hub deal ...`, `hub forecast` and `hub rate ...`.

use clap::Subcommand;
use hub_core::deals::{
    self, Board, Deal, DealInput, DealQuery, DealStatus, DealSummary, LineItemInput,
};
use hub_core::forecast::{self, Forecast, ForecastBy, ForecastQuery, ForecastRow};
use hub_core::money::{self, Money};
use hub_core::{companies, pipelines, Store};
use uuid::Uuid;

use crate::output;

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum DealCommand {
    /// Add a deal; prints its id
    Add {
        #[arg(long)]
        title: String,
        /// Contact id
        #[arg(long)]
        contact: Option<Uuid>,
        /// Company id or exact name (default: the contact's company)
        #[arg(long)]
        company: Option<String>,
        /// Pipeline id or name (default: the stage's, else the first pipeline)
        #[arg(long)]
        pipeline: Option<String>,
        /// Stage id or name (default: the pipeline's first open stage)
        #[arg(long)]
        stage: Option<String>,
        /// Amount, e.g. 12500 or 99.90 (default: the sum of the line items)
        #[arg(long, allow_hyphen_values = true)]
        amount: Option<String>,
        /// ISO 4217 code (default: the base currency)
        #[arg(long)]
        currency: Option<String>,
        /// Expected close date, YYYY-MM-DD
        #[arg(long = "close", value_name = "DATE")]
        expected_close: Option<String>,
        /// Default: you
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        /// Line item NAME:QUANTITY:UNIT_PRICE, repeatable
        #[arg(long = "item", value_name = "NAME:QTY:PRICE")]
        items: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List deals, newest first
    List {
        /// Pipeline id or name
        #[arg(long)]
        pipeline: Option<String>,
        /// Stage id or name
        #[arg(long)]
        stage: Option<String>,
        /// open, won or lost
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        contact: Option<Uuid>,
        /// Company id or exact name
        #[arg(long)]
        company: Option<String>,
        /// Part of the title
        #[arg(long)]
        search: Option<String>,
        /// Only stale deals: rotting in their stage, or no next activity scheduled
        #[arg(long)]
        stale: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show a deal with its line items and stage history (by id or exact title)
    Show {
        deal: String,
        #[arg(long)]
        json: bool,
    },
    /// Move a deal to another stage (recorded in its history)
    Move {
        deal: String,
        /// Stage id or name
        stage: String,
        /// Move into this pipeline (needed when the stage is in another pipeline)
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mark a deal won (moves it to its pipeline's won stage)
    Won {
        deal: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mark a deal lost (moves it to its pipeline's lost stage)
    Lost {
        deal: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reopen a won or lost deal (back to its last open stage)
    Reopen {
        deal: String,
        #[arg(long)]
        json: bool,
    },
    /// Change fields: `--set amount=900 --set close=2027-01-31`
    Edit {
        deal: String,
        /// FIELD=VALUE; fields: title, amount, currency, close, owner, notes, contact, company
        /// (an empty value clears)
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        sets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a deal
    Delete { deal: String },
    /// The Kanban board of a pipeline: per stage the deals, totals and weighted totals
    Board {
        /// Pipeline id or name (default: the first)
        #[arg(long)]
        pipeline: Option<String>,
        /// Deals shown per stage
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct ForecastArgs {
    /// Rows per stage or per month (expected close date; won deals by close month)
    #[arg(long, default_value = "stage")]
    by: String,
    /// Pipeline id or name (default: all)
    #[arg(long)]
    pipeline: Option<String>,
    #[arg(long)]
    owner: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum RateCommand {
    /// Set a rate: 1 CURRENCY = RATE base currency (`hub rate set USD 0.92`)
    Set {
        currency: String,
        rate: String,
        #[arg(long)]
        json: bool,
    },
    /// List the exchange rates
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget a rate
    Delete { currency: String },
    /// Print the base currency, or set it (`hub rate base EUR`)
    Base { currency: Option<String> },
}

fn parse_item(index: usize, spec: &str) -> anyhow::Result<LineItemInput> {
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    match parts.as_slice() {
        [price, qty, name] => Ok(LineItemInput {
            name: (*name).to_owned(),
            quantity: (*qty).to_owned(),
            unit_price: (*price).to_owned(),
        }),
        _ => Err(hub_core::Error::invalid(
            format!("line_items[{index}]"),
            format!("\"{spec}\" is not NAME:QUANTITY:UNIT_PRICE, e.g. Seat:3:19.99"),
        )
        .into()),
    }
}

async fn company_id(store: &Store, company: Option<String>) -> anyhow::Result<Option<Uuid>> {
    match company.filter(|c| !c.trim().is_empty()) {
        Some(c) => Ok(Some(companies::find(store, &c).await?.id)),
        None => Ok(None),
    }
}

async fn pipeline_id(store: &Store, pipeline: Option<String>) -> anyhow::Result<Option<Uuid>> {
    match pipeline {
        Some(p) => Ok(Some(pipelines::find(store, &p).await?.id)),
        None => Ok(None),
    }
}

/// A stage by id, or by name in `pipeline` first and then in any pipeline
/// (a stage of another pipeline is then refused by the move, with its name).
async fn stage_id(store: &Store, pipeline: Option<Uuid>, stage: &str) -> anyhow::Result<Uuid> {
    match pipelines::find_stage(store, pipeline, stage).await {
        Ok(s) => Ok(s.id),
        Err(hub_core::Error::NotFound { .. }) if pipeline.is_some() => {
            Ok(pipelines::find_stage(store, None, stage).await?.id)
        }
        Err(e) => Err(e.into()),
    }
}

fn amount(d: &DealSummary) -> String {
    match (&d.amount, &d.currency) {
        (Some(a), Some(c)) => format!("{} {c}", money::amount_text(*a, c)),
        _ => String::new(),
    }
}

fn monies(list: &[Money]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|m| {
            format!(
                "{} {}",
                money::amount_text(m.amount, &m.currency),
                m.currency
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn flags(d: &DealSummary) -> String {
    let mut f = Vec::new();
    if d.rotting {
        f.push(format!("rotting {}d", d.days_in_stage));
    }
    if d.no_next_activity {
        f.push("no next activity".to_owned());
    }
    f.join(", ")
}

fn deal_rows(items: &[DealSummary]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.title.clone(),
                d.stage.name.clone(),
                d.status.as_str().to_owned(),
                amount(d),
                d.expected_close.map(|c| c.to_string()).unwrap_or_default(),
                d.owner.clone().unwrap_or_default(),
                flags(d),
            ]
        })
        .collect()
}

const DEAL_HEADERS: [&str; 8] = [
    "ID", "TITLE", "STAGE", "STATUS", "AMOUNT", "CLOSE", "OWNER", "STALE",
];

fn describe(deal: &Deal) -> String {
    let s = &deal.summary;
    let mut lines = vec![format!("{}  ({})", s.title, s.id)];
    let mut field = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            lines.push(format!("  {label:<15} {v}"));
        }
    };
    field(
        "Stage",
        Some(format!(
            "{} / {} ({}%)",
            deal.pipeline_name, s.stage.name, s.probability
        )),
    );
    field("Status", Some(s.status.as_str().to_owned()));
    field("Amount", Some(amount(s)));
    field(
        "Weighted",
        s.weighted
            .zip(s.currency.as_deref())
            .map(|(w, c)| format!("{w} {c}")),
    );
    field("Contact", s.contact.as_ref().map(|c| c.name.clone()));
    field("Company", s.company.as_ref().map(|c| c.name.clone()));
    field("Expected close", s.expected_close.map(|d| d.to_string()));
    field("Owner", s.owner.clone());
    field("Closed", s.closed_at.map(|t| t.to_rfc3339()));
    field("Reason", s.close_reason.clone());
    field("In stage", Some(format!("{} days", s.days_in_stage)));
    field("Next activity", s.next_activity_at.map(|t| t.to_rfc3339()));
    field("Stale", Some(flags(s)));
    field("Notes", deal.notes.clone());
    if !deal.line_items.is_empty() {
        lines.push("  Line items:".into());
        let currency = s.currency.clone().unwrap_or_default();
        for item in &deal.line_items {
            lines.push(format!(
                "    {} × {} @ {} = {} {currency}",
                item.quantity, item.name, item.unit_price, item.total
            ));
        }
    }
    lines.push("  History:".into());
    for h in &deal.history {
        let name = |r: &Option<hub_core::deals::NamedRef>| {
            r.as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_else(|| "—".into())
        };
        lines.push(format!(
            "    {}  {} → {}  by {}",
            h.changed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            name(&h.from_stage),
            name(&h.to_stage),
            h.changed_by.as_deref().unwrap_or("?")
        ));
    }
    lines.join("\n")
}

fn describe_board(board: &Board) -> String {
    let mut out = vec![format!(
        "{}  (base currency: {})",
        board.pipeline.name,
        board.base_currency.as_deref().unwrap_or("not set")
    )];
    for col in &board.columns {
        let conv = match (&col.converted, col.missing_rates.is_empty()) {
            (Some(c), _) => format!("  ≈ {} {} (weighted {})", c.total, c.currency, c.weighted),
            (None, false) => format!("  (no rate for {})", col.missing_rates.join(", ")),
            _ => String::new(),
        };
        out.push(format!(
            "\n== {} ({}%) — {} deals{} — total {} — weighted {}{}",
            col.stage.name,
            col.stage.probability,
            col.count,
            if col.rotting_count > 0 {
                format!(", {} rotting", col.rotting_count)
            } else {
                String::new()
            },
            monies(&col.totals),
            monies(&col.weighted),
            conv
        ));
        for d in &col.deals {
            let stale = flags(d);
            out.push(format!(
                "  {}  {}{}{}",
                d.title,
                amount(d),
                d.expected_close
                    .map(|c| format!("  close {c}"))
                    .unwrap_or_default(),
                if stale.is_empty() {
                    String::new()
                } else {
                    format!("  [{stale}]")
                }
            ));
        }
    }
    out.join("\n")
}

fn forecast_rows(f: &Forecast) -> Vec<Vec<String>> {
    let line = |r: &ForecastRow| -> Vec<Vec<String>> {
        let conv = match &r.converted {
            Some(c) => (
                format!("{} {}", c.total, c.currency),
                format!("{} {}", c.weighted, c.currency),
            ),
            None if !r.missing_rates.is_empty() => (
                format!("no rate: {}", r.missing_rates.join(", ")),
                String::new(),
            ),
            None => (String::new(), String::new()),
        };
        if r.currencies.is_empty() {
            return vec![vec![
                r.label.clone(),
                r.deals.to_string(),
                String::new(),
                "0".into(),
                "0".into(),
                conv.0,
                conv.1,
            ]];
        }
        r.currencies
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let first = i == 0;
                vec![
                    if first {
                        r.label.clone()
                    } else {
                        String::new()
                    },
                    if first {
                        r.deals.to_string()
                    } else {
                        String::new()
                    },
                    c.currency.clone(),
                    c.total.to_string(),
                    c.weighted.to_string(),
                    if first { conv.0.clone() } else { String::new() },
                    if first { conv.1.clone() } else { String::new() },
                ]
            })
            .collect()
    };
    let mut rows: Vec<Vec<String>> = f.rows.iter().flat_map(line).collect();
    rows.extend(line(&f.total));
    rows
}

async fn find(store: &Store, deal: &str) -> anyhow::Result<Deal> {
    Ok(deals::find(store, deal).await?)
}

fn input_of(deal: &Deal) -> DealInput {
    let s = &deal.summary;
    DealInput {
        title: s.title.clone(),
        contact_id: s.contact.as_ref().map(|c| c.id),
        company_id: s.company.as_ref().map(|c| c.id),
        pipeline_id: None,
        stage_id: None,
        amount: s
            .amount
            .zip(s.currency.as_deref())
            .map(|(a, c)| money::amount_text(a, c)),
        currency: s.currency.clone(),
        expected_close: s.expected_close.map(|d| d.to_string()),
        owner: s.owner.clone(),
        notes: deal.notes.clone(),
        line_items: deal
            .line_items
            .iter()
            .map(|i| LineItemInput {
                name: i.name.clone(),
                quantity: i.quantity.to_string(),
                unit_price: i.unit_price.to_string(),
            })
            .collect(),
    }
}

pub async fn run(store: &Store, cmd: DealCommand) -> anyhow::Result<()> {
    match cmd {
        DealCommand::Add {
            title,
            contact,
            company,
            pipeline,
            stage,
            amount,
            currency,
            expected_close,
            owner,
            notes,
            items,
            json,
        } => {
            let pipeline_id = pipeline_id(store, pipeline).await?;
            let stage_id = match stage {
                Some(s) => Some(stage_id(store, pipeline_id, &s).await?),
                None => None,
            };
            let input = DealInput {
                title,
                contact_id: contact,
                company_id: company_id(store, company).await?,
                pipeline_id,
                stage_id,
                amount,
                currency,
                expected_close,
                owner,
                notes,
                line_items: items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| parse_item(i, s))
                    .collect::<anyhow::Result<_>>()?,
            };
            let deal = deals::create(store, input).await?;
            output::print(json, &deal, || deal.summary.id.to_string())
        }
        DealCommand::List {
            pipeline,
            stage,
            status,
            owner,
            contact,
            company,
            search,
            stale,
            limit,
            offset,
            json,
        } => {
            let pipeline_id = pipeline_id(store, pipeline).await?;
            let stage_id = match stage {
                Some(s) => Some(pipelines::find_stage(store, pipeline_id, &s).await?.id),
                None => None,
            };
            let query = DealQuery {
                pipeline_id,
                stage_id,
                status: status.as_deref().map(DealStatus::parse).transpose()?,
                owner,
                contact_id: contact,
                company_id: company_id(store, company).await?,
                search,
                stale,
                offset,
                limit,
            };
            let page = deals::list(store, &query).await?;
            output::print(json, &page, || {
                format!(
                    "{}\n{} of {} deals",
                    output::table(&DEAL_HEADERS, deal_rows(&page.items)),
                    page.items.len(),
                    page.total
                )
            })
        }
        DealCommand::Show { deal, json } => {
            let d = find(store, &deal).await?;
            output::print(json, &d, || describe(&d))
        }
        DealCommand::Move {
            deal,
            stage,
            pipeline,
            json,
        } => {
            let d = find(store, &deal).await?;
            let target_pipeline = pipeline_id(store, pipeline).await?;
            let stage = stage_id(
                store,
                Some(target_pipeline.unwrap_or(d.summary.pipeline_id)),
                &stage,
            )
            .await?;
            let moved = deals::move_deal(store, d.summary.id, stage, target_pipeline, None).await?;
            output::print(json, &moved, || {
                format!(
                    "{} is now in {} ({}).",
                    moved.summary.title,
                    moved.summary.stage.name,
                    moved.summary.status.as_str()
                )
            })
        }
        DealCommand::Won { deal, reason, json } => {
            close(store, &deal, DealStatus::Won, reason, json).await
        }
        DealCommand::Lost { deal, reason, json } => {
            close(store, &deal, DealStatus::Lost, reason, json).await
        }
        DealCommand::Reopen { deal, json } => {
            let d = find(store, &deal).await?;
            let r = deals::reopen(store, d.summary.id).await?;
            output::print(json, &r, || {
                format!(
                    "{} is open again, in {}.",
                    r.summary.title, r.summary.stage.name
                )
            })
        }
        DealCommand::Edit { deal, sets, json } => {
            let d = find(store, &deal).await?;
            let mut input = input_of(&d);
            for set in &sets {
                let Some((field, value)) = set.split_once('=') else {
                    anyhow::bail!("--set {set:?}: expected FIELD=VALUE");
                };
                let value = value.trim();
                let opt = || Some(value.to_owned()).filter(|v| !v.is_empty());
                match field.trim() {
                    "title" => input.title = value.to_owned(),
                    "amount" => input.amount = opt(),
                    "currency" => input.currency = opt(),
                    "close" | "expected_close" => input.expected_close = opt(),
                    "owner" => input.owner = opt(),
                    "notes" => input.notes = opt(),
                    "contact" => {
                        input.contact_id = match opt() {
                            Some(v) => Some(Uuid::parse_str(&v).map_err(|_| {
                                hub_core::Error::invalid("contact_id", format!("\"{v}\" is not a contact id"))
                            })?),
                            None => None,
                        }
                    }
                    "company" => input.company_id = company_id(store, opt()).await?,
                    other => anyhow::bail!(
                        "unknown field {other:?}; fields: title, amount, currency, close, owner, notes, contact, company"
                    ),
                }
            }
            let updated = deals::update(store, d.summary.id, input).await?;
            output::print(json, &updated, || describe(&updated))
        }
        DealCommand::Delete { deal } => {
            let d = find(store, &deal).await?;
            deals::delete(store, d.summary.id).await?;
            println!("Deleted deal {}.", d.summary.title);
            Ok(())
        }
        DealCommand::Board {
            pipeline,
            limit,
            json,
        } => {
            let id = pipeline_id(store, pipeline).await?;
            let board = deals::board(store, id, limit).await?;
            output::print(json, &board, || describe_board(&board))
        }
    }
}

async fn close(
    store: &Store,
    deal: &str,
    outcome: DealStatus,
    reason: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let d = find(store, deal).await?;
    let closed = deals::close(store, d.summary.id, outcome, reason).await?;
    output::print(json, &closed, || {
        format!(
            "{} is {} ({}).",
            closed.summary.title,
            closed.summary.status.as_str(),
            closed.summary.stage.name
        )
    })
}

pub async fn run_forecast(store: &Store, args: ForecastArgs) -> anyhow::Result<()> {
    let query = ForecastQuery {
        by: ForecastBy::parse(&args.by)?,
        pipeline_id: pipeline_id(store, args.pipeline).await?,
        owner: args.owner,
    };
    let f = forecast::forecast(store, &query).await?;
    output::print(args.json, &f, || {
        let first = match f.by {
            ForecastBy::Stage => "STAGE",
            ForecastBy::Month => "MONTH",
        };
        let base = f.base_currency.as_deref().unwrap_or("no base currency");
        let conv_total = format!("IN {base}");
        output::table(
            &[
                first,
                "DEALS",
                "CUR",
                "TOTAL",
                "WEIGHTED",
                &conv_total,
                "WEIGHTED",
            ],
            forecast_rows(&f),
        )
    })
}

pub async fn run_rate(store: &Store, cmd: RateCommand) -> anyhow::Result<()> {
    match cmd {
        RateCommand::Set {
            currency,
            rate,
            json,
        } => {
            let r = money::set_rate(store, &currency, &rate).await?;
            output::print(json, &r, || {
                format!("1 {} = {} {}", r.currency, r.rate, r.base)
            })
        }
        RateCommand::List { json } => {
            let base = money::base_currency(store).await?;
            let rates = money::rates(store).await?;
            let value = serde_json::json!({ "base_currency": base, "rates": rates });
            output::print(json, &value, || {
                let rows = rates
                    .iter()
                    .map(|r| {
                        vec![
                            r.currency.clone(),
                            format!("{} {}", r.rate, r.base),
                            r.updated_at.clone(),
                            if r.current {
                                String::new()
                            } else {
                                "not used: entered against another base".into()
                            },
                        ]
                    })
                    .collect();
                format!(
                    "Base currency: {}\n{}",
                    base.as_deref().unwrap_or("not set (hub rate base EUR)"),
                    output::table(&["CURRENCY", "1 UNIT =", "UPDATED", ""], rows)
                )
            })
        }
        RateCommand::Delete { currency } => {
            if money::delete_rate(store, &currency).await? {
                println!("Deleted the rate of {}.", currency.trim().to_uppercase());
            } else {
                println!("There was no rate for {}.", currency.trim().to_uppercase());
            }
            Ok(())
        }
        RateCommand::Base { currency } => {
            match currency {
                Some(c) => println!(
                    "base currency = {}",
                    money::set_base_currency(store, &c).await?
                ),
                None => println!(
                    "{}",
                    money::base_currency(store)
                        .await?
                        .unwrap_or_else(|| "not set".into())
                ),
            }
            Ok(())
        }
    }
}
