//! Deals: an opportunity with a contact and/or company, an amount in a
//! currency, in a stage of a pipeline.
//!
//! - Every stage move is a `deal_stage_change` row (from -> to, when, who);
//!   a deal's creation is one too, from no stage. Moving into a won or lost
//!   stage closes the deal (status, `closed_at`); moving back to an open
//!   stage reopens it.
//! - Line items are optional. When a deal has line items and no amount is
//!   given, its amount is the sum of the line totals, each line total being
//!   `quantity × unit_price` rounded half away from zero to the currency's
//!   minor units (as an invoice does). A given amount wins (a discount).
//! - A deal is stale when it is open and either idle in its stage longer
//!   than the stage's rotting limit (since `stage_entered_at`), or has no
//!   open reminder linked to it ("no next activity").
//! - Nothing is written when an input is invalid: every check happens before
//!   the write or inside its transaction, which an error rolls back.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, Fields, WriteTx};
use crate::companies::{parse_time, text};
use crate::entities::{DEAL, DEAL_LINE_ITEM, DEAL_STAGE_CHANGE};
use crate::error::{Error, FieldError, Result};
use crate::money::{self, Money};
use crate::pipelines::{self, Pipeline, Stage, StageKind};
use crate::store::Store;
use crate::users;

const MAX_TITLE: usize = 200;
const MAX_NOTES: usize = 100_000;
const MAX_LINE_ITEMS: usize = 200;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum DealStatus {
    #[default]
    Open,
    Won,
    Lost,
}

impl DealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DealStatus::Open => "open",
            DealStatus::Won => "won",
            DealStatus::Lost => "lost",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_lowercase().as_str() {
            "open" => Ok(DealStatus::Open),
            "won" => Ok(DealStatus::Won),
            "lost" => Ok(DealStatus::Lost),
            _ => Err(Error::invalid(
                "status",
                format!("\"{}\" is not open, won or lost", text.trim()),
            )),
        }
    }

    fn of_kind(kind: StageKind) -> Self {
        match kind {
            StageKind::Open => DealStatus::Open,
            StageKind::Won => DealStatus::Won,
            StageKind::Lost => DealStatus::Lost,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NamedRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LineItem {
    pub id: Uuid,
    pub name: String,
    #[ts(type = "string")]
    pub quantity: Decimal,
    #[ts(type = "string")]
    pub unit_price: Decimal,
    /// quantity × unit_price, rounded to the currency's minor units.
    #[ts(type = "string")]
    pub total: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LineItemInput {
    pub name: String,
    /// A decimal as text, e.g. "3" or "1.5".
    pub quantity: String,
    /// A decimal as text in the deal's currency, e.g. "99.90".
    pub unit_price: String,
}

/// One stage move of a deal, with the stages' names as they are now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StageChange {
    pub id: Uuid,
    pub deal_id: Uuid,
    /// None for the deal's creation.
    pub from_stage: Option<NamedRef>,
    pub to_stage: Option<NamedRef>,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<String>,
}

/// A deal as lists and Kanban cards show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DealSummary {
    pub id: Uuid,
    pub title: String,
    pub contact: Option<NamedRef>,
    pub company: Option<NamedRef>,
    pub pipeline_id: Uuid,
    pub stage: NamedRef,
    pub stage_kind: StageKind,
    /// The stage's win probability, percent.
    #[ts(type = "string")]
    pub probability: Decimal,
    #[ts(type = "string | null")]
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// amount × probability / 100, exact.
    #[ts(type = "string | null")]
    pub weighted: Option<Decimal>,
    pub expected_close: Option<NaiveDate>,
    pub owner: Option<String>,
    pub status: DealStatus,
    pub close_reason: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub stage_entered_at: DateTime<Utc>,
    /// Whole days since the deal entered its stage.
    #[ts(type = "number")]
    pub days_in_stage: i64,
    /// Open and idle in its stage past the stage's rotting limit.
    pub rotting: bool,
    /// The earliest open reminder linked to the deal (due or snoozed-until).
    pub next_activity_at: Option<DateTime<Utc>>,
    /// Open with no open reminder linked to it.
    pub no_next_activity: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DealSummary {
    /// Either stale flag.
    pub fn stale(&self) -> bool {
        self.rotting || self.no_next_activity
    }
}

/// A deal with its line items, notes and stage history (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Deal {
    #[serde(flatten)]
    #[ts(flatten)]
    pub summary: DealSummary,
    pub pipeline_name: String,
    pub notes: Option<String>,
    pub line_items: Vec<LineItem>,
    pub history: Vec<StageChange>,
}

/// What a form or the CLI submits to create or (fully) replace a deal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DealInput {
    pub title: String,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    /// Defaults to the contact's company.
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// Defaults to the stage's pipeline, else the first pipeline.
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    /// Defaults to the pipeline's first open stage (create) or the current
    /// stage (update; another stage is a move and recorded as one).
    #[serde(default)]
    pub stage_id: Option<Uuid>,
    /// A decimal as text ("12500", "99.90"); defaults to the line items' sum.
    #[serde(default)]
    pub amount: Option<String>,
    /// ISO 4217; defaults to the team's base currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub expected_close: Option<String>,
    /// Defaults to the current user (create).
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineItemInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DealQuery {
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    #[serde(default)]
    pub stage_id: Option<Uuid>,
    #[serde(default)]
    pub status: Option<DealStatus>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// Words of the title (substring, any case).
    #[serde(default)]
    pub search: Option<String>,
    /// Only stale deals (rotting or no next activity).
    #[serde(default)]
    pub stale: bool,
    #[serde(default)]
    pub offset: u32,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DealPage {
    pub total: u32,
    pub items: Vec<DealSummary>,
}

/// Totals converted into the base currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Converted {
    pub currency: String,
    #[ts(type = "string")]
    pub total: Decimal,
    #[ts(type = "string")]
    pub weighted: Decimal,
}

/// One Kanban column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BoardColumn {
    pub stage: Stage,
    /// Live deals in the stage.
    pub count: u32,
    /// Open deals idle in the stage past its rotting limit.
    pub rotting_count: u32,
    /// Sum of amounts per currency (deals without an amount add nothing).
    pub totals: Vec<Money>,
    /// totals × the stage's probability, per currency.
    pub weighted: Vec<Money>,
    /// Into the base currency; None without a base or when a rate is missing.
    pub converted: Option<Converted>,
    /// Currencies in the column with no usable rate into the base currency.
    pub missing_rates: Vec<String>,
    /// The first page of the column, by expected close date (undated last).
    pub deals: Vec<DealSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Board {
    pub pipeline: Pipeline,
    pub base_currency: Option<String>,
    pub columns: Vec<BoardColumn>,
}

// ---- validation -------------------------------------------------------------

/// Checked scalar fields of an input; stage and links are checked in the write.
struct Checked {
    title: String,
    amount: Option<Decimal>,
    currency: Option<String>,
    expected_close: Option<NaiveDate>,
    owner: Option<String>,
    notes: Option<String>,
    line_items: Vec<(String, Decimal, Decimal)>,
}

pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            field,
            format!("\"{}\" is not a date such as 2026-12-31", text.trim()),
        )
    })
}

/// quantity × unit_price rounded to the currency's minor units.
pub fn line_total(quantity: Decimal, unit_price: Decimal, currency: &str) -> Result<Decimal> {
    let digits = money::minor_units(currency).unwrap_or(2);
    Ok(money::mul(quantity, unit_price)?
        .round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero)
        .normalize())
}

fn check(base: Option<&str>, input: &DealInput) -> Result<Checked> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut collect = |e: Error| errors.extend(e.field_errors().iter().cloned());
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        collect(Error::invalid("title", "A deal needs a title"));
    } else if title.chars().count() > MAX_TITLE {
        collect(Error::invalid(
            "title",
            format!("Titles are at most {MAX_TITLE} characters"),
        ));
    }
    let currency = match text(&input.currency) {
        Some(c) => money::parse_currency("currency", &c)
            .map_err(&mut collect)
            .ok(),
        None => base.map(str::to_owned),
    };
    let needs_currency = text(&input.amount).is_some() || !input.line_items.is_empty();
    if needs_currency && currency.is_none() && text(&input.currency).is_none() {
        collect(Error::invalid(
            "currency",
            "Give the amount's currency (or set a base currency: hub rate base EUR)",
        ));
    }
    let mut line_items = Vec::new();
    if input.line_items.len() > MAX_LINE_ITEMS {
        collect(Error::invalid(
            "line_items",
            format!("A deal has at most {MAX_LINE_ITEMS} line items"),
        ));
    }
    for (i, item) in input.line_items.iter().enumerate() {
        let name = item.name.trim();
        if name.is_empty() {
            collect(Error::invalid(
                format!("line_items[{i}].name"),
                "A line item needs a name",
            ));
        }
        let qty = money::parse_decimal(&format!("line_items[{i}].quantity"), &item.quantity)
            .and_then(|q| {
                if q <= Decimal::ZERO || q >= Decimal::from(1_000_000_000) || q.scale() > 4 {
                    Err(Error::invalid(
                        format!("line_items[{i}].quantity"),
                        "A quantity is above 0, below a billion, with at most 4 decimals",
                    ))
                } else {
                    Ok(q)
                }
            })
            .map_err(&mut collect)
            .ok();
        let price = money::parse_decimal(&format!("line_items[{i}].unit_price"), &item.unit_price)
            .and_then(|p| {
                if p.is_sign_negative() && !p.is_zero() {
                    Err(Error::invalid(
                        format!("line_items[{i}].unit_price"),
                        "A unit price cannot be negative",
                    ))
                } else if p >= Decimal::from(money::MAX_AMOUNT) || p.scale() > 6 {
                    Err(Error::invalid(
                        format!("line_items[{i}].unit_price"),
                        "A unit price is below a trillion with at most 6 decimals",
                    ))
                } else {
                    Ok(p)
                }
            })
            .map_err(&mut collect)
            .ok();
        if let (Some(q), Some(p)) = (qty, price) {
            line_items.push((name.to_owned(), q, p));
        }
    }
    let amount = match (text(&input.amount), &currency) {
        (Some(a), Some(c)) => money::parse_decimal("amount", &a)
            .and_then(|a| money::check_amount("amount", a, c))
            .map_err(&mut collect)
            .ok(),
        (Some(a), None) => money::parse_decimal("amount", &a)
            .map_err(&mut collect)
            .ok(),
        (None, Some(c)) if !line_items.is_empty() => {
            let mut sum = Decimal::ZERO;
            let mut ok = true;
            for (_, q, p) in &line_items {
                match line_total(*q, *p, c).and_then(|t| money::add(sum, t)) {
                    Ok(s) => sum = s,
                    Err(e) => {
                        ok = false;
                        collect(e)
                    }
                }
            }
            if ok {
                money::check_amount("amount", sum, c)
                    .map_err(&mut collect)
                    .ok()
            } else {
                None
            }
        }
        (None, _) => None,
    };
    let expected_close = text(&input.expected_close)
        .and_then(|d| parse_date("expected_close", &d).map_err(&mut collect).ok());
    let notes = text(&input.notes);
    if notes.as_ref().is_some_and(|n| n.len() > MAX_NOTES) {
        collect(Error::invalid(
            "notes",
            "Notes are at most 100,000 characters",
        ));
    }
    let owner = text(&input.owner);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(Checked {
        title,
        // A deal with no amount has no currency either, unless one was given.
        currency: if amount.is_some() || text(&input.currency).is_some() {
            currency
        } else {
            None
        },
        amount,
        expected_close,
        owner,
        notes,
        line_items,
    })
}

impl Checked {
    fn fields(&self) -> Fields {
        vec![
            ("title", json!(self.title)),
            (
                "amount",
                json!(self
                    .amount
                    .zip(self.currency.as_deref())
                    .map(|(a, c)| money::amount_text(a, c))),
            ),
            ("currency", json!(self.currency)),
            (
                "expected_close",
                json!(self.expected_close.map(|d| d.to_string())),
            ),
            ("notes", json!(self.notes)),
        ]
    }
}

async fn live_name(
    conn: &mut SqliteConnection,
    table: &str,
    column: &str,
    id: Uuid,
) -> Result<Option<String>> {
    let name: Option<Option<String>> = sqlx::query_scalar(&format!(
        "SELECT {column} FROM {table} WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(name.map(Option::unwrap_or_default))
}

/// Check contact and company links; returns the company to store.
async fn check_links(
    tx: &mut WriteTx,
    contact: Option<Uuid>,
    company: Option<Uuid>,
) -> Result<Option<Uuid>> {
    let mut errors = Vec::new();
    if let Some(c) = contact {
        if live_name(tx.conn(), "contacts", "display_name", c)
            .await?
            .is_none()
        {
            errors.push(FieldError::new(
                "contact_id",
                format!("No contact with id {c}"),
            ));
        }
    }
    if let Some(c) = company {
        if live_name(tx.conn(), "companies", "name", c)
            .await?
            .is_none()
        {
            errors.push(FieldError::new(
                "company_id",
                format!("No company with id {c}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if company.is_some() {
        return Ok(company);
    }
    let Some(contact) = contact else {
        return Ok(None);
    };
    let of_contact: Option<Option<String>> =
        sqlx::query_scalar("SELECT company_id FROM contacts WHERE id = ?")
            .bind(contact.to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(of_contact.flatten().and_then(|c| Uuid::parse_str(&c).ok()))
}

/// The stage a deal goes to: `stage` (which must be in `pipeline` when both
/// are given), else the first open stage of `pipeline`, else of the first
/// pipeline (the default one is made on first use).
async fn target_stage(
    tx: &mut WriteTx,
    pipeline: Option<Uuid>,
    stage: Option<Uuid>,
) -> Result<Stage> {
    if let Some(stage_id) = stage {
        let stage = pipelines::stage_in(tx.conn(), stage_id)
            .await
            .map_err(|_| Error::invalid("stage_id", format!("No stage with id {stage_id}")))?;
        if let Some(p) = pipeline {
            if p != stage.pipeline_id {
                let wanted = pipeline_name(tx, p).await?;
                let actual = pipeline_name(tx, stage.pipeline_id).await?;
                return Err(Error::invalid(
                    "stage_id",
                    format!(
                        "The stage \"{}\" belongs to the pipeline \"{actual}\", not \"{wanted}\"",
                        stage.name
                    ),
                ));
            }
        }
        if live_name(tx.conn(), "pipelines", "name", stage.pipeline_id)
            .await?
            .is_none()
        {
            return Err(Error::invalid(
                "stage_id",
                "The stage's pipeline was deleted",
            ));
        }
        return Ok(stage);
    }
    let pipeline = match pipeline {
        Some(p) => p,
        None => pipelines::ensure_default_in(tx).await?,
    };
    if live_name(tx.conn(), "pipelines", "name", pipeline)
        .await?
        .is_none()
    {
        return Err(Error::invalid(
            "pipeline_id",
            format!("No pipeline with id {pipeline}"),
        ));
    }
    pipelines::stages_in(tx.conn(), pipeline)
        .await?
        .into_iter()
        .find(|s| s.kind == StageKind::Open)
        .ok_or_else(|| Error::invalid("pipeline_id", "The pipeline has no open stage"))
}

async fn pipeline_name(tx: &mut WriteTx, id: Uuid) -> Result<String> {
    Ok(live_name(tx.conn(), "pipelines", "name", id)
        .await?
        .unwrap_or_else(|| id.to_string()))
}

// ---- writes -----------------------------------------------------------------

/// Record a stage move (or the creation, from None).
async fn record_change(
    tx: &mut WriteTx,
    deal: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    at: &str,
    by: &str,
) -> Result<()> {
    tx.insert(
        &DEAL_STAGE_CHANGE,
        Uuid::now_v7(),
        vec![
            ("deal_id", json!(deal.to_string())),
            ("from_stage_id", json!(from.map(|f| f.to_string()))),
            ("to_stage_id", json!(to.to_string())),
            ("changed_at", json!(at)),
            ("changed_by", json!(by)),
        ],
    )
    .await
}

/// Make the deal's live line items exactly `items`, reusing rows by position.
async fn set_line_items(
    tx: &mut WriteTx,
    deal: Uuid,
    items: &[(String, Decimal, Decimal)],
) -> Result<()> {
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM deal_line_items WHERE deal_id = ? AND deleted_at IS NULL
          ORDER BY position, rk",
    )
    .bind(deal.to_string())
    .fetch_all(tx.conn())
    .await?;
    let existing: Vec<Uuid> = existing
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    let mut new_rows = Vec::new();
    for (i, (name, qty, price)) in items.iter().enumerate() {
        let fields: Fields = vec![
            ("deal_id", json!(deal.to_string())),
            ("name", json!(name)),
            ("quantity", json!(qty.to_string())),
            ("unit_price", json!(price.to_string())),
            ("position", json!(i as i64)),
        ];
        match existing.get(i) {
            Some(id) => {
                tx.update(&DEAL_LINE_ITEM, *id, fields).await?;
            }
            None => new_rows.push((Uuid::now_v7(), fields)),
        }
    }
    for id in existing.iter().skip(items.len()) {
        tx.delete(&DEAL_LINE_ITEM, *id).await?;
    }
    tx.insert_many(&DEAL_LINE_ITEM, new_rows).await
}

/// Create a deal; its creation is recorded as a stage change from no stage.
pub async fn create(store: &Store, input: DealInput) -> Result<Deal> {
    let checked = check(money::base_currency(store).await?.as_deref(), &input)?;
    let me = users::current(store).await?;
    let now = now_rfc3339();
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    let company = check_links(&mut tx, input.contact_id, input.company_id).await?;
    let stage = target_stage(&mut tx, input.pipeline_id, input.stage_id).await?;
    let status = DealStatus::of_kind(stage.kind);
    let mut fields = checked.fields();
    fields.extend([
        ("contact_id", json!(input.contact_id.map(|c| c.to_string()))),
        ("company_id", json!(company.map(|c| c.to_string()))),
        ("pipeline_id", json!(stage.pipeline_id.to_string())),
        ("stage_id", json!(stage.id.to_string())),
        ("owner", json!(checked.owner.clone().unwrap_or(me.clone()))),
        ("status", json!(status.as_str())),
        (
            "closed_at",
            json!((status != DealStatus::Open).then(|| now.clone())),
        ),
        ("stage_entered_at", json!(now)),
        ("created_at", json!(now)),
    ]);
    tx.insert(&DEAL, id, fields).await?;
    record_change(&mut tx, id, None, stage.id, &now, &me).await?;
    set_line_items(&mut tx, id, &checked.line_items).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Create many deals in one transaction (imports, demo data, benchmarks):
/// the same checks as [`create`] for each; one bad input writes nothing.
/// Line items are not taken here (an import gives amounts). Returns the ids.
pub async fn create_many(store: &Store, inputs: Vec<DealInput>) -> Result<Vec<Uuid>> {
    let base = money::base_currency(store).await?;
    let mut checked = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        if !input.line_items.is_empty() {
            return Err(Error::invalid(
                format!("deals[{i}].line_items"),
                "Bulk creation takes amounts, not line items",
            ));
        }
        checked.push(check(base.as_deref(), input).map_err(|e| {
            match e {
                Error::Validation(list) => Error::Validation(
                    list.into_iter()
                        .map(|f| FieldError::new(format!("deals[{i}].{}", f.field), f.message))
                        .collect(),
                ),
                other => other,
            }
        })?);
    }
    let me = users::current(store).await?;
    let now = now_rfc3339();
    let mut tx = store.write().await?;
    let mut stages: std::collections::HashMap<(Option<Uuid>, Option<Uuid>), Stage> =
        std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(inputs.len());
    let mut changes = Vec::with_capacity(inputs.len());
    for (input, checked) in inputs.iter().zip(&checked) {
        let company = check_links(&mut tx, input.contact_id, input.company_id).await?;
        let key = (input.pipeline_id, input.stage_id);
        let stage = match stages.get(&key) {
            Some(s) => s.clone(),
            None => {
                let s = target_stage(&mut tx, input.pipeline_id, input.stage_id).await?;
                stages.insert(key, s.clone());
                s
            }
        };
        let status = DealStatus::of_kind(stage.kind);
        let id = Uuid::now_v7();
        let mut fields = checked.fields();
        fields.extend([
            ("contact_id", json!(input.contact_id.map(|c| c.to_string()))),
            ("company_id", json!(company.map(|c| c.to_string()))),
            ("pipeline_id", json!(stage.pipeline_id.to_string())),
            ("stage_id", json!(stage.id.to_string())),
            ("owner", json!(checked.owner.clone().unwrap_or(me.clone()))),
            ("status", json!(status.as_str())),
            (
                "closed_at",
                json!((status != DealStatus::Open).then(|| now.clone())),
            ),
            ("stage_entered_at", json!(now)),
            ("created_at", json!(now)),
        ]);
        rows.push((id, fields));
        changes.push((
            Uuid::now_v7(),
            vec![
                ("deal_id", json!(id.to_string())),
                ("from_stage_id", Value::Null),
                ("to_stage_id", json!(stage.id.to_string())),
                ("changed_at", json!(now)),
                ("changed_by", json!(me)),
            ],
        ));
    }
    let ids = rows.iter().map(|(id, _)| *id).collect();
    tx.insert_many(&DEAL, rows).await?;
    tx.insert_many(&DEAL_STAGE_CHANGE, changes).await?;
    tx.commit().await?;
    Ok(ids)
}

/// Replace a deal's fields. A different `stage_id` is a move (recorded);
/// `pipeline_id`, when given, must be that stage's pipeline.
pub async fn update(store: &Store, id: Uuid, input: DealInput) -> Result<Deal> {
    let checked = check(money::base_currency(store).await?.as_deref(), &input)?;
    let me = users::current(store).await?;
    let mut tx = store.write().await?;
    let current = current_stage(&mut tx, id).await?;
    let company = check_links(&mut tx, input.contact_id, input.company_id).await?;
    let mut fields = checked.fields();
    fields.extend([
        ("contact_id", json!(input.contact_id.map(|c| c.to_string()))),
        ("company_id", json!(company.map(|c| c.to_string()))),
    ]);
    if let Some(owner) = &checked.owner {
        fields.push(("owner", json!(owner)));
    }
    tx.update(&DEAL, id, fields).await?;
    set_line_items(&mut tx, id, &checked.line_items).await?;
    let wanted = input.stage_id.unwrap_or(current.1);
    if wanted != current.1 || input.pipeline_id.is_some_and(|p| p != current.0) {
        move_in(&mut tx, id, wanted, input.pipeline_id, None, &me).await?;
    }
    tx.commit().await?;
    get(store, id).await
}

/// The live deal's (pipeline, stage).
async fn current_stage(tx: &mut WriteTx, id: Uuid) -> Result<(Uuid, Uuid)> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT pipeline_id, stage_id FROM deals WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let (p, s) = row.ok_or_else(|| Error::not_found("deal", id))?;
    let parse = |v: Option<String>| v.and_then(|v| Uuid::parse_str(&v).ok()).unwrap_or_default();
    Ok((parse(p), parse(s)))
}

/// Move a deal to `stage`. A stage of another pipeline is refused unless
/// `pipeline` names that pipeline (moving the deal between pipelines on
/// purpose). Entering a won/lost stage closes the deal (with `reason`),
/// entering an open one reopens it. Moving to the current stage changes
/// nothing and records nothing.
pub async fn move_deal(
    store: &Store,
    id: Uuid,
    stage: Uuid,
    pipeline: Option<Uuid>,
    reason: Option<String>,
) -> Result<Deal> {
    let me = users::current(store).await?;
    let mut tx = store.write().await?;
    move_in(&mut tx, id, stage, pipeline, text(&reason), &me).await?;
    tx.commit().await?;
    get(store, id).await
}

async fn move_in(
    tx: &mut WriteTx,
    id: Uuid,
    stage: Uuid,
    pipeline: Option<Uuid>,
    reason: Option<String>,
    me: &str,
) -> Result<()> {
    let (current_pipeline, current_stage) = current_stage(tx, id).await?;
    let target = target_stage(tx, Some(pipeline.unwrap_or(current_pipeline)), Some(stage)).await?;
    if target.id == current_stage {
        return Ok(());
    }
    let now = now_rfc3339();
    let status = DealStatus::of_kind(target.kind);
    let mut fields: Fields = vec![
        ("pipeline_id", json!(target.pipeline_id.to_string())),
        ("stage_id", json!(target.id.to_string())),
        ("stage_entered_at", json!(now)),
        ("status", json!(status.as_str())),
    ];
    let was: Option<Option<String>> = sqlx::query_scalar("SELECT status FROM deals WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    let was_status = was.flatten().unwrap_or_default();
    match status {
        DealStatus::Open => {
            fields.push(("closed_at", Value::Null));
            fields.push(("close_reason", Value::Null));
        }
        _ => {
            if was_status != status.as_str() {
                fields.push(("closed_at", json!(now)));
            }
            if reason.is_some() || was_status != status.as_str() {
                fields.push(("close_reason", json!(reason)));
            }
        }
    }
    tx.update(&DEAL, id, fields).await?;
    record_change(tx, id, Some(current_stage), target.id, &now, me).await
}

/// Close a deal as won or lost with an optional reason: it moves to its
/// pipeline's first won (lost) stage; a pipeline without one keeps the
/// stage and only the status changes.
pub async fn close(
    store: &Store,
    id: Uuid,
    outcome: DealStatus,
    reason: Option<String>,
) -> Result<Deal> {
    let kind = match outcome {
        DealStatus::Won => StageKind::Won,
        DealStatus::Lost => StageKind::Lost,
        DealStatus::Open => return reopen(store, id).await,
    };
    let reason = text(&reason);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(Error::invalid(
            "reason",
            "A reason is at most 1,000 characters",
        ));
    }
    let me = users::current(store).await?;
    let mut tx = store.write().await?;
    let (pipeline, _) = current_stage(&mut tx, id).await?;
    let stages = pipelines::stages_in(tx.conn(), pipeline).await?;
    match stages.iter().find(|s| s.kind == kind) {
        Some(stage) => move_in(&mut tx, id, stage.id, None, reason, &me).await?,
        None => {
            tx.update(
                &DEAL,
                id,
                vec![
                    ("status", json!(outcome.as_str())),
                    ("closed_at", json!(now_rfc3339())),
                    ("close_reason", json!(reason)),
                ],
            )
            .await?;
        }
    }
    tx.commit().await?;
    get(store, id).await
}

/// Reopen a won or lost deal: back to the last open stage it was in (else
/// the pipeline's first open stage).
pub async fn reopen(store: &Store, id: Uuid) -> Result<Deal> {
    let me = users::current(store).await?;
    let mut tx = store.write().await?;
    let (pipeline, current) = current_stage(&mut tx, id).await?;
    let stages = pipelines::stages_in(tx.conn(), pipeline).await?;
    let previous: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT to_stage_id FROM deal_stage_changes WHERE deal_id = ? AND deleted_at IS NULL
          ORDER BY changed_at DESC, rk DESC",
    )
    .bind(id.to_string())
    .fetch_all(tx.conn())
    .await?;
    let open = |sid: Uuid| {
        stages
            .iter()
            .find(|s| s.id == sid && s.kind == StageKind::Open)
    };
    let target = previous
        .iter()
        .flatten()
        .filter_map(|s| Uuid::parse_str(s).ok())
        .find_map(open)
        .or_else(|| stages.iter().find(|s| s.kind == StageKind::Open))
        .ok_or_else(|| Error::invalid("stage", "The pipeline has no open stage"))?
        .clone();
    if target.id == current {
        tx.update(
            &DEAL,
            id,
            vec![
                ("status", json!("open")),
                ("closed_at", Value::Null),
                ("close_reason", Value::Null),
            ],
        )
        .await?;
    } else {
        move_in(&mut tx, id, target.id, None, None, &me).await?;
    }
    tx.commit().await?;
    get(store, id).await
}

/// Delete a deal with its line items (its stage history stays, for the record).
pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    current_stage(&mut tx, id).await?;
    set_line_items(&mut tx, id, &[]).await?;
    tx.delete(&DEAL, id).await?;
    tx.commit().await
}

// ---- reads ------------------------------------------------------------------

const SUMMARY_SELECT: &str = "SELECT d.id, d.title, d.contact_id, c.display_name AS contact_name,
        d.company_id, co.name AS company_name, d.pipeline_id, d.stage_id, s.name AS stage_name,
        s.kind AS stage_kind, s.probability, s.rot_days, d.amount, d.currency, d.expected_close,
        d.owner, d.status, d.close_reason, d.closed_at, d.stage_entered_at, d.created_at,
        d.updated_ms, d.rk,
        (SELECT min(coalesce(r.snoozed_until, r.due_at)) FROM reminders r
          WHERE r.deal_id = d.id AND r.deleted_at IS NULL AND r.done_at IS NULL) AS next_activity_at
   FROM deals d
   LEFT JOIN contacts c ON c.id = d.contact_id AND c.deleted_at IS NULL
   LEFT JOIN companies co ON co.id = d.company_id AND co.deleted_at IS NULL
   LEFT JOIN pipeline_stages s ON s.id = d.stage_id";

/// id, name, quantity, unit_price.
type LineRow = (String, Option<String>, Option<String>, Option<String>);

#[derive(sqlx::FromRow, serde::Deserialize)]
struct SummaryRow {
    id: String,
    title: Option<String>,
    contact_id: Option<String>,
    contact_name: Option<String>,
    company_id: Option<String>,
    company_name: Option<String>,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    stage_name: Option<String>,
    stage_kind: Option<String>,
    probability: Option<String>,
    rot_days: Option<i64>,
    amount: Option<String>,
    currency: Option<String>,
    expected_close: Option<String>,
    owner: Option<String>,
    status: Option<String>,
    close_reason: Option<String>,
    closed_at: Option<String>,
    stage_entered_at: Option<String>,
    created_at: Option<String>,
    updated_ms: i64,
    rk: i64,
    next_activity_at: Option<String>,
}

/// The columns of [`SUMMARY_SELECT`], for [`summaries`].
const SUMMARY_COLUMNS: [&str; 24] = [
    "id",
    "title",
    "contact_id",
    "contact_name",
    "company_id",
    "company_name",
    "pipeline_id",
    "stage_id",
    "stage_name",
    "stage_kind",
    "probability",
    "rot_days",
    "amount",
    "currency",
    "expected_close",
    "owner",
    "status",
    "close_reason",
    "closed_at",
    "stage_entered_at",
    "created_at",
    "updated_ms",
    "rk",
    "next_activity_at",
];

/// A page of summaries as ONE row: SQLite folds the page into a JSON array.
/// sqlx hands every row of a result from its SQLite worker thread to the
/// caller on its own, which costs more than the query for a Kanban page
/// (50 cards: ~3 ms as rows, ~0.3 ms as one JSON text). `tail` is the
/// WHERE/ORDER/LIMIT of [`SUMMARY_SELECT`]; the array keeps its order.
fn summaries_sql(tail: &str) -> String {
    let pairs: Vec<String> = SUMMARY_COLUMNS
        .iter()
        .map(|c| format!("'{c}', {c}"))
        .collect();
    format!(
        "SELECT coalesce(json_group_array(json_object({})), '[]') FROM ({SUMMARY_SELECT} {tail})",
        pairs.join(", ")
    )
}

/// How a page is ordered (json_group_array keeps SQLite's row order, which
/// follows the subquery's ORDER BY; the order is restated here to be sure).
#[derive(Clone, Copy)]
enum PageOrder {
    /// Newest first: `rk` descending.
    Newest,
    /// The Kanban column: expected close date, undated last, then `rk`.
    Board,
}

fn parse_summaries(json: &str, now: DateTime<Utc>, order: PageOrder) -> Result<Vec<DealSummary>> {
    let mut rows: Vec<SummaryRow> = serde_json::from_str(json).map_err(|e| Error::Open {
        path: String::new(),
        message: format!("unreadable deal page: {e}"),
    })?;
    match order {
        PageOrder::Newest => rows.sort_by_key(|r| std::cmp::Reverse(r.rk)),
        PageOrder::Board => rows.sort_by(|a, b| {
            let key = |r: &SummaryRow| {
                r.expected_close
                    .clone()
                    .unwrap_or_else(|| "9999-12-31".into())
            };
            key(a).cmp(&key(b)).then(a.rk.cmp(&b.rk))
        }),
    }
    Ok(rows.into_iter().map(|r| r.into_summary(now)).collect())
}

fn uuid(text: Option<&str>) -> Option<Uuid> {
    text.and_then(|t| Uuid::parse_str(t).ok())
}

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl SummaryRow {
    fn into_summary(self, now: DateTime<Utc>) -> DealSummary {
        let status = self
            .status
            .as_deref()
            .and_then(|s| DealStatus::parse(s).ok())
            .unwrap_or_default();
        let stage_kind = self
            .stage_kind
            .as_deref()
            .and_then(|k| StageKind::parse("kind", k).ok())
            .unwrap_or_default();
        let probability = money::stored(self.probability.as_deref()).unwrap_or_default();
        let amount = money::stored(self.amount.as_deref());
        let created_at = parse_time(self.created_at.as_deref());
        let entered = time(self.stage_entered_at.as_deref()).unwrap_or(created_at);
        let idle_ms = (now - entered).num_milliseconds();
        let open = status == DealStatus::Open;
        let next_activity_at = time(self.next_activity_at.as_deref());
        let named = |id: Option<String>, name: Option<String>| {
            Some(NamedRef {
                id: uuid(id.as_deref())?,
                name: name?,
            })
        };
        DealSummary {
            id: Uuid::parse_str(&self.id).unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            contact: named(self.contact_id, self.contact_name),
            company: named(self.company_id, self.company_name),
            pipeline_id: uuid(self.pipeline_id.as_deref()).unwrap_or_default(),
            stage: NamedRef {
                id: uuid(self.stage_id.as_deref()).unwrap_or_default(),
                name: self.stage_name.unwrap_or_default(),
            },
            stage_kind,
            probability,
            weighted: amount.and_then(|a| money::weighted(a, probability).ok()),
            amount,
            currency: self.currency,
            expected_close: self
                .expected_close
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            owner: self.owner,
            status,
            close_reason: self.close_reason,
            closed_at: time(self.closed_at.as_deref()),
            stage_entered_at: entered,
            days_in_stage: idle_ms.div_euclid(DAY_MS),
            rotting: open && self.rot_days.is_some_and(|d| idle_ms > d * DAY_MS),
            no_next_activity: open && next_activity_at.is_none(),
            next_activity_at,
            created_at,
            updated_at: DateTime::from_timestamp_millis(self.updated_ms).unwrap_or(created_at),
        }
    }
}

pub async fn get(store: &Store, id: Uuid) -> Result<Deal> {
    let row = sqlx::query_as::<_, SummaryRow>(&format!(
        "{SUMMARY_SELECT} WHERE d.id = ? AND d.deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| Error::not_found("deal", id))?;
    let summary = row.into_summary(store_now(store));
    let extra: (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT d.notes, p.name FROM deals d LEFT JOIN pipelines p ON p.id = d.pipeline_id
          WHERE d.id = ?",
    )
    .bind(id.to_string())
    .fetch_one(store.pool())
    .await?;
    let currency = summary.currency.clone().unwrap_or_default();
    let items: Vec<LineRow> = sqlx::query_as(
        "SELECT id, name, quantity, unit_price FROM deal_line_items
          WHERE deal_id = ? AND deleted_at IS NULL ORDER BY position, rk",
    )
    .bind(id.to_string())
    .fetch_all(store.pool())
    .await?;
    let line_items = items
        .into_iter()
        .filter_map(|(id, name, q, p)| {
            let quantity = money::stored(q.as_deref())?;
            let unit_price = money::stored(p.as_deref())?;
            Some(LineItem {
                id: Uuid::parse_str(&id).ok()?,
                name: name.unwrap_or_default(),
                total: line_total(quantity, unit_price, &currency).ok()?,
                quantity,
                unit_price,
            })
        })
        .collect();
    let mut conn = store.pool().acquire().await?;
    let history = history_in(&mut conn, id).await?;
    Ok(Deal {
        summary,
        pipeline_name: extra.1.unwrap_or_default(),
        notes: extra.0,
        line_items,
        history,
    })
}

/// "Now" for stale flags: the store's corrected wall clock.
fn store_now(store: &Store) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(store.wall_ms() as i64).unwrap_or_else(Utc::now)
}

/// A deal's stage moves, oldest first, with stage names (deleted stages too).
pub async fn history(store: &Store, id: Uuid) -> Result<Vec<StageChange>> {
    let mut conn = store.pool().acquire().await?;
    history_in(&mut conn, id).await
}

async fn history_in(conn: &mut SqliteConnection, id: Uuid) -> Result<Vec<StageChange>> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT h.id, h.from_stage_id, f.name, h.to_stage_id, t.name, h.changed_at, h.changed_by
           FROM deal_stage_changes h
           LEFT JOIN pipeline_stages f ON f.id = h.from_stage_id
           LEFT JOIN pipeline_stages t ON t.id = h.to_stage_id
          WHERE h.deal_id = ? AND h.deleted_at IS NULL
          ORDER BY h.changed_at, h.rk",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(hid, from, from_name, to, to_name, at, by)| {
            let named = |id: Option<String>, name: Option<String>| {
                uuid(id.as_deref()).map(|id| NamedRef {
                    id,
                    name: name.unwrap_or_else(|| "(deleted stage)".into()),
                })
            };
            Some(StageChange {
                id: Uuid::parse_str(&hid).ok()?,
                deal_id: id,
                from_stage: named(from, from_name),
                to_stage: named(to, to_name),
                changed_at: time(at.as_deref())?,
                changed_by: by,
            })
        })
        .collect())
}

/// Look up a live deal by id, or by exact title (any case) when unique.
pub async fn find(store: &Store, id_or_title: &str) -> Result<Deal> {
    let key = id_or_title.trim();
    if let Ok(id) = Uuid::parse_str(key) {
        return get(store, id).await;
    }
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM deals WHERE title = ? COLLATE NOCASE AND deleted_at IS NULL LIMIT 2",
    )
    .bind(key)
    .fetch_all(store.pool())
    .await?;
    match ids.as_slice() {
        [one] => get(store, Uuid::parse_str(one).unwrap_or_default()).await,
        [] => Err(Error::not_found("deal", key)),
        _ => Err(Error::invalid(
            "deal",
            format!("Several deals are titled \"{key}\"; use the id"),
        )),
    }
}

/// Live deals, newest first, filtered.
pub async fn list(store: &Store, query: &DealQuery) -> Result<DealPage> {
    let search = text(&query.search).map(|s| {
        format!(
            "%{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let filter = "d.deleted_at IS NULL
        AND (?1 IS NULL OR d.pipeline_id = ?1)
        AND (?2 IS NULL OR d.stage_id = ?2)
        AND (?3 IS NULL OR d.status = ?3)
        AND (?4 IS NULL OR d.owner = ?4)
        AND (?5 IS NULL OR d.contact_id = ?5)
        AND (?6 IS NULL OR d.company_id = ?6)
        AND (?7 IS NULL OR d.title LIKE ?7 ESCAPE '\\')";
    let id = |u: Option<Uuid>| u.map(|u| u.to_string());
    let now = store_now(store);
    if query.stale {
        // Staleness depends on now and on reminders: filter in Rust.
        let json: String = sqlx::query_scalar(&summaries_sql(&format!(
            "WHERE {filter} ORDER BY d.rk DESC"
        )))
        .bind(id(query.pipeline_id))
        .bind(id(query.stage_id))
        .bind(query.status.map(|s| s.as_str()))
        .bind(text(&query.owner))
        .bind(id(query.contact_id))
        .bind(id(query.company_id))
        .bind(search.clone())
        .fetch_one(store.pool())
        .await?;
        let mut all = parse_summaries(&json, now, PageOrder::Newest)?;
        all.retain(DealSummary::stale);
        let total = all.len() as u32;
        let items = all
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit.min(1000) as usize)
            .collect();
        return Ok(DealPage { total, items });
    }
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM deals d WHERE {filter}"))
        .bind(id(query.pipeline_id))
        .bind(id(query.stage_id))
        .bind(query.status.map(|s| s.as_str()))
        .bind(text(&query.owner))
        .bind(id(query.contact_id))
        .bind(id(query.company_id))
        .bind(search.clone())
        .fetch_one(store.pool())
        .await?;
    let json: String = sqlx::query_scalar(&summaries_sql(&format!(
        "WHERE {filter} ORDER BY d.rk DESC LIMIT ?8 OFFSET ?9"
    )))
    .bind(id(query.pipeline_id))
    .bind(id(query.stage_id))
    .bind(query.status.map(|s| s.as_str()))
    .bind(text(&query.owner))
    .bind(id(query.contact_id))
    .bind(id(query.company_id))
    .bind(search)
    .bind(query.limit.min(1000) as i64)
    .bind(query.offset as i64)
    .fetch_one(store.pool())
    .await?;
    let items = parse_summaries(&json, now, PageOrder::Newest)?;
    Ok(DealPage {
        total: total as u32,
        items,
    })
}

/// One page of a Kanban column: by expected close date, undated last.
pub async fn stage_deals(
    store: &Store,
    stage: Uuid,
    offset: u32,
    limit: u32,
) -> Result<Vec<DealSummary>> {
    let now = store_now(store);
    let json: String = sqlx::query_scalar(&summaries_sql(
        "WHERE d.stage_id = ? AND d.deleted_at IS NULL
          ORDER BY coalesce(d.expected_close, '9999-12-31'), d.rk LIMIT ? OFFSET ?",
    ))
    .bind(stage.to_string())
    .bind(limit.min(1000) as i64)
    .bind(offset as i64)
    .fetch_one(store.pool())
    .await?;
    parse_summaries(&json, now, PageOrder::Board)
}

/// A Kanban column's reads: its rotting count (open deals in the stage
/// longer than its limit, a range of the rotting index) and first page.
async fn column_reads(
    store: &Store,
    stage: &Stage,
    now: DateTime<Utc>,
    per_stage: u32,
) -> Result<(u32, Vec<DealSummary>)> {
    let mut rotting = 0;
    if let (Some(days), StageKind::Open) = (stage.rot_days, stage.kind) {
        let cutoff = (now - chrono::Duration::days(i64::from(days)))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM deals INDEXED BY deals_rotting
              WHERE stage_id = ? AND stage_entered_at < ?
                AND deleted_at IS NULL AND status = 'open'",
        )
        .bind(stage.id.to_string())
        .bind(cutoff)
        .fetch_one(store.pool())
        .await?;
        rotting = n as u32;
    }
    let deals = if per_stage == 0 {
        Vec::new()
    } else {
        stage_deals(store, stage.id, 0, per_stage).await?
    };
    Ok((rotting, deals))
}

/// The Kanban board of a pipeline (the first one when None): per stage the
/// first `per_stage` deals, the count, rotting count, and exact totals and
/// weighted totals per currency, converted into the base currency when
/// every rate is known.
pub async fn board(store: &Store, pipeline: Option<Uuid>, per_stage: u32) -> Result<Board> {
    let pipeline = match pipeline {
        Some(id) => pipelines::get(store, id).await?,
        None => pipelines::list(store)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("pipeline", "(first)"))?,
    };
    let base = money::base_currency(store).await?;
    let rates = match &base {
        Some(b) => money::usable_rates(b, &money::rates(store).await?),
        None => Vec::new(),
    };
    let now = store_now(store);

    // Counts and exact sums per stage and currency: a few rows of the
    // trigger-kept totals (migration 0007), not a pass over the deals.
    type TotalRow = (String, String, i64, i64, i64, i64);
    let groups: Vec<TotalRow> = sqlx::query_as(
        "SELECT t.stage_id, t.currency, t.deals, t.with_amount, t.amount_units, t.amount_micro
           FROM deal_stage_totals t JOIN pipeline_stages s ON s.id = t.stage_id
          WHERE s.pipeline_id = ? AND t.deals > 0
          ORDER BY t.currency",
    )
    .bind(pipeline.id.to_string())
    .fetch_all(store.pool())
    .await?;

    // Each column's rotting count and first page are independent reads: on
    // a file store they run side by side on the pool's connections.
    let mut reads = tokio::task::JoinSet::new();
    for (i, stage) in pipeline.stages.iter().enumerate() {
        let (store, stage) = (store.clone(), stage.clone());
        reads.spawn(async move {
            let read = column_reads(&store, &stage, now, per_stage).await;
            (i, read)
        });
    }
    let mut column_reads: Vec<Option<(u32, Vec<DealSummary>)>> = vec![None; pipeline.stages.len()];
    while let Some(done) = reads.join_next().await {
        // A read that panicked panics here, as it would have inline.
        let (i, read) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        column_reads[i] = Some(read?);
    }

    let mut columns = Vec::with_capacity(pipeline.stages.len());
    for (stage, read) in pipeline.stages.iter().zip(column_reads) {
        let (rotting, deals) = read.unwrap_or_default();
        let sid = stage.id.to_string();
        let mut count = 0u32;
        let mut totals = Vec::new();
        let mut weighted = Vec::new();
        for (g_stage, currency, n, with_amount, units, micro) in &groups {
            if *g_stage != sid {
                continue;
            }
            count += *n as u32;
            if currency.is_empty() || *with_amount == 0 {
                continue;
            }
            let total = money::add(Decimal::from(*units), Decimal::new(*micro, 6))?.normalize();
            weighted.push(Money {
                amount: money::weighted(total, stage.probability)?,
                currency: currency.clone(),
            });
            totals.push(Money {
                amount: total,
                currency: currency.clone(),
            });
        }
        let (converted, missing_rates) = convert(base.as_deref(), &rates, &totals, &weighted)?;
        columns.push(BoardColumn {
            stage: stage.clone(),
            count,
            rotting_count: rotting,
            totals,
            weighted,
            converted,
            missing_rates,
            deals,
        });
    }
    Ok(Board {
        pipeline,
        base_currency: base,
        columns,
    })
}

/// Convert per-currency totals into `base`; None (and the missing
/// currencies) when a rate is missing.
pub(crate) fn convert(
    base: Option<&str>,
    rates: &[(String, Decimal)],
    totals: &[Money],
    weighted: &[Money],
) -> Result<(Option<Converted>, Vec<String>)> {
    let Some(base) = base else {
        return Ok((None, Vec::new()));
    };
    let rate = |c: &str| rates.iter().find(|(rc, _)| rc == c).map(|(_, r)| *r);
    let mut missing: Vec<String> = totals
        .iter()
        .filter(|m| rate(&m.currency).is_none())
        .map(|m| m.currency.clone())
        .collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        return Ok((None, missing));
    }
    let sum = |list: &[Money]| -> Result<Decimal> {
        let mut s = Decimal::ZERO;
        for m in list {
            s = money::add(
                s,
                money::mul(m.amount, rate(&m.currency).unwrap_or_default())?,
            )?;
        }
        Ok(s.normalize())
    };
    Ok((
        Some(Converted {
            currency: base.to_owned(),
            total: sum(totals)?,
            weighted: sum(weighted)?,
        }),
        missing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};
    use crate::pipelines::StageInput;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    async fn log_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// The trigger-kept column totals equal a recount of the deals.
    async fn assert_totals_match(store: &Store) {
        let kept: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT stage_id, currency, deals, with_amount, amount_units, amount_micro
               FROM deal_stage_totals WHERE deals > 0 OR with_amount > 0
                 OR amount_units > 0 OR amount_micro > 0 ORDER BY 1, 2",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let recount: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT stage_id, coalesce(currency, ''), count(*), count(amount),
                    coalesce(sum(amount_units), 0), coalesce(sum(amount_micro), 0)
               FROM deals WHERE deleted_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(kept, recount);
    }

    fn input(title: &str, amount: &str, currency: &str) -> DealInput {
        DealInput {
            title: title.into(),
            amount: Some(amount.into()),
            currency: Some(currency.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_deal_is_created_moved_won_and_reopened_with_its_history() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contacts::create(
            &store,
            ContactInput {
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                company_name: Some("Engines Ltd".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let deal = create(
            &store,
            DealInput {
                contact_id: Some(ada.id),
                expected_close: Some("2026-12-31".into()),
                ..input("Analytical engine", "12,500.5", "eur")
            },
        )
        .await
        .unwrap();
        let s = &deal.summary;
        assert_eq!(s.amount, Some(dec("12500.5")));
        assert_eq!(s.currency.as_deref(), Some("EUR"));
        assert_eq!(s.stage.name, "Lead");
        assert_eq!(s.weighted, Some(dec("1250.05")));
        assert_eq!(s.owner.as_deref(), Some("me"));
        assert_eq!(s.company.as_ref().unwrap().name, "Engines Ltd");
        assert_eq!(s.contact.as_ref().unwrap().name, "Ada Lovelace");
        assert!(s.no_next_activity);
        assert!(!s.rotting);
        assert_eq!(deal.history.len(), 1);
        assert_eq!(deal.history[0].from_stage, None);
        let stored: String = sqlx::query_scalar("SELECT amount FROM deals")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, "12500.50");

        let sales = pipelines::list(&store).await.unwrap().remove(0);
        let proposal = sales.stages[2].id;
        let moved = move_deal(&store, deal.summary.id, proposal, None, None)
            .await
            .unwrap();
        assert_eq!(moved.summary.stage.name, "Proposal");
        assert_eq!(moved.history.len(), 2);
        let last = &moved.history[1];
        assert_eq!(last.from_stage.as_ref().unwrap().name, "Lead");
        assert_eq!(last.to_stage.as_ref().unwrap().name, "Proposal");
        assert_eq!(last.changed_by.as_deref(), Some("me"));
        // The same stage again records nothing.
        let same = move_deal(&store, deal.summary.id, proposal, None, None)
            .await
            .unwrap();
        assert_eq!(same.history.len(), 2);

        let won = close(
            &store,
            deal.summary.id,
            DealStatus::Won,
            Some("Best offer".into()),
        )
        .await
        .unwrap();
        assert_eq!(won.summary.status, DealStatus::Won);
        assert_eq!(won.summary.stage.name, "Won");
        assert_eq!(won.summary.close_reason.as_deref(), Some("Best offer"));
        assert!(won.summary.closed_at.is_some());
        assert!(
            !won.summary.no_next_activity,
            "closed deals are never stale"
        );

        let back = reopen(&store, deal.summary.id).await.unwrap();
        assert_eq!(back.summary.status, DealStatus::Open);
        assert_eq!(back.summary.stage.name, "Proposal");
        assert_eq!(back.summary.closed_at, None);
        assert_eq!(back.summary.close_reason, None);
        assert_eq!(back.history.len(), 4);

        let lost = close(
            &store,
            deal.summary.id,
            DealStatus::Lost,
            Some("Budget".into()),
        )
        .await
        .unwrap();
        assert_eq!(lost.summary.stage.name, "Lost");
        assert_eq!(lost.summary.weighted, Some(Decimal::ZERO));

        let page = list(
            &store,
            &DealQuery {
                status: Some(DealStatus::Lost),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(page.total, 1);
        assert_totals_match(&store).await;
        delete(&store, deal.summary.id).await.unwrap();
        assert!(get(&store, deal.summary.id).await.is_err());
        assert_totals_match(&store).await;
    }

    #[tokio::test]
    async fn bad_input_is_refused_and_writes_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        let partners = pipelines::create(
            &store,
            "Partners",
            vec![StageInput::new("Intro", "20", StageKind::Open)],
        )
        .await
        .unwrap();
        let sales = pipelines::find(&store, "Sales").await.unwrap();
        let before = log_len(&store).await;
        let cases: Vec<(DealInput, &str)> = vec![
            (input("X", "10", "EUX"), "currency"),
            (input("X", "-10", "EUR"), "amount"),
            (input("X", "10.001", "EUR"), "amount"),
            (input("X", "ten", "EUR"), "amount"),
            (input("", "10", "EUR"), "title"),
            (
                DealInput {
                    expected_close: Some("31/12/2026".into()),
                    ..input("X", "10", "EUR")
                },
                "expected_close",
            ),
            (
                DealInput {
                    pipeline_id: Some(sales.id),
                    stage_id: Some(partners.stages[0].id),
                    ..input("X", "10", "EUR")
                },
                "stage_id",
            ),
            (
                DealInput {
                    contact_id: Some(Uuid::now_v7()),
                    ..input("X", "10", "EUR")
                },
                "contact_id",
            ),
            // An amount needs a currency when there is no base currency.
            (
                DealInput {
                    title: "X".into(),
                    amount: Some("10".into()),
                    ..Default::default()
                },
                "currency",
            ),
        ];
        for (case, field) in cases {
            let err = create(&store, case.clone()).await.unwrap_err();
            assert_eq!(err.code(), "validation", "{case:?}: {err}");
            assert!(
                err.field_errors().iter().any(|f| f.field == field),
                "{case:?}: {err}"
            );
        }
        let err = create(
            &store,
            DealInput {
                pipeline_id: Some(sales.id),
                stage_id: Some(partners.stages[0].id),
                ..input("X", "10", "EUR")
            },
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("belongs to the pipeline \"Partners\""),
            "{err}"
        );
        assert_eq!(log_len(&store).await, before, "nothing written");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deals")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 0);

        // A move to another pipeline's stage is refused unless asked for.
        let deal = create(&store, input("Y", "10", "EUR")).await.unwrap();
        let before = log_len(&store).await;
        let err = move_deal(&store, deal.summary.id, partners.stages[0].id, None, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("belongs to the pipeline"), "{err}");
        assert_eq!(log_len(&store).await, before);
        let moved = move_deal(
            &store,
            deal.summary.id,
            partners.stages[0].id,
            Some(partners.id),
            None,
        )
        .await
        .unwrap();
        assert_eq!(moved.summary.pipeline_id, partners.id);
    }

    #[tokio::test]
    async fn the_amount_is_derived_from_line_items() {
        let store = Store::open_in_memory().await.unwrap();
        money::set_base_currency(&store, "EUR").await.unwrap();
        let deal = create(
            &store,
            DealInput {
                title: "Licences".into(),
                line_items: vec![
                    LineItemInput {
                        name: "Seat".into(),
                        quantity: "3".into(),
                        unit_price: "19.99".into(),
                    },
                    LineItemInput {
                        name: "SMS".into(),
                        quantity: "1001".into(),
                        unit_price: "0.0125".into(),
                    },
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // 59.97 + 12.5125 -> 12.51 (half away from zero at 2 digits)
        assert_eq!(deal.summary.currency.as_deref(), Some("EUR"));
        assert_eq!(deal.line_items.len(), 2);
        assert_eq!(deal.line_items[1].total, dec("12.51"));
        assert_eq!(deal.summary.amount, Some(dec("72.48")));

        // Editing: one item left, an explicit amount wins.
        let mut edit = DealInput {
            title: "Licences".into(),
            amount: Some("50".into()),
            line_items: vec![LineItemInput {
                name: "Seat".into(),
                quantity: "2".into(),
                unit_price: "30".into(),
            }],
            ..Default::default()
        };
        let edited = update(&store, deal.summary.id, edit.clone()).await.unwrap();
        assert_eq!(edited.line_items.len(), 1);
        assert_eq!(edited.summary.amount, Some(dec("50")));
        assert_eq!(edited.history.len(), 1);
        // An update naming another stage is a recorded move.
        let sales = pipelines::find(&store, "Sales").await.unwrap();
        edit.stage_id = Some(sales.stages[1].id);
        let moved = update(&store, deal.summary.id, edit).await.unwrap();
        assert_eq!(moved.summary.stage.name, "Qualified");
        assert_eq!(moved.history.len(), 2);
        assert_totals_match(&store).await;
    }

    /// Apply every change `from` logged to `to`, as sync would.
    async fn ship(from: &Store, to: &Store) {
        let changes = crate::changes::outbox(from, u32::MAX).await.unwrap();
        let mut tx = to.write().await.unwrap();
        for change in &changes {
            let applied = tx.apply_remote(change).await.unwrap();
            assert!(applied.unknown.is_empty(), "{:?}", applied.unknown);
        }
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn two_offline_devices_converge_on_one_pipeline_and_one_rate() {
        let a = Store::open_in_memory().await.unwrap();
        let b = Store::open_in_memory().await.unwrap();
        for store in [&a, &b] {
            money::set_base_currency(store, "EUR").await.unwrap();
            create(store, input("Deal", "100", "USD")).await.unwrap();
        }
        money::set_rate(&a, "USD", "0.9").await.unwrap();
        money::set_rate(&b, "USD", "0.95").await.unwrap();
        ship(&a, &b).await;
        ship(&b, &a).await;
        for store in [&a, &b] {
            let all = pipelines::list(store).await.unwrap();
            assert_eq!(all.len(), 1, "one Sales pipeline");
            assert_eq!(all[0].stages.len(), 6);
            assert_eq!(all[0].deal_count, 2);
            let rates = money::rates(store).await.unwrap();
            assert_eq!(rates.len(), 1, "one USD rate");
            // The board of each device counts both deals in Lead, exactly.
            let board = board(store, None, 10).await.unwrap();
            assert_eq!(board.columns[0].count, 2);
            assert_eq!(board.columns[0].totals[0].amount, Decimal::from(200));
            assert_totals_match(store).await;
        }
        // Both devices agree on the rate (the later write wins everywhere).
        assert_eq!(
            money::rates(&a).await.unwrap()[0].rate,
            money::rates(&b).await.unwrap()[0].rate
        );
    }

    #[tokio::test]
    async fn pages_keep_their_order() {
        let store = Store::open_in_memory().await.unwrap();
        for (title, close) in [
            ("March", Some("2027-03-01")),
            ("Undated", None),
            ("December", Some("2026-12-01")),
        ] {
            create(
                &store,
                DealInput {
                    expected_close: close.map(str::to_owned),
                    ..input(title, "1", "EUR")
                },
            )
            .await
            .unwrap();
        }
        let lead = pipelines::find(&store, "Sales").await.unwrap().stages[0].id;
        let column: Vec<String> = stage_deals(&store, lead, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.title)
            .collect();
        assert_eq!(column, ["December", "March", "Undated"]);
        let second: Vec<String> = stage_deals(&store, lead, 1, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.title)
            .collect();
        assert_eq!(second, ["March"]);
        let newest: Vec<String> = list(
            &store,
            &DealQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|d| d.title)
        .collect();
        assert_eq!(newest, ["December", "Undated"]);
    }

    #[tokio::test]
    async fn column_totals_follow_every_kind_of_write() {
        use rand::{Rng, SeedableRng};
        let store = Store::open_in_memory().await.unwrap();
        let sales = pipelines::find(&store, "Sales").await.unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut ids: Vec<Uuid> = Vec::new();
        let currencies = ["EUR", "USD", "JPY", "KWD"];
        for step in 0..300 {
            match rng.random_range(0..6) {
                0 | 1 => {
                    let c = currencies[rng.random_range(0..currencies.len())];
                    let digits = money::minor_units(c).unwrap();
                    let amount = Decimal::new(rng.random_range(0..10_000_000), digits);
                    let with_amount = rng.random_bool(0.8);
                    let d = create(
                        &store,
                        DealInput {
                            title: format!("D{step}"),
                            amount: with_amount.then(|| amount.to_string()),
                            currency: with_amount.then(|| c.to_string()),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                    ids.push(d.summary.id);
                }
                2 if !ids.is_empty() => {
                    let id = ids[rng.random_range(0..ids.len())];
                    let stage = &sales.stages[rng.random_range(0..sales.stages.len())];
                    move_deal(&store, id, stage.id, None, None).await.unwrap();
                }
                3 if !ids.is_empty() => {
                    let id = ids[rng.random_range(0..ids.len())];
                    let c = currencies[rng.random_range(0..currencies.len())];
                    let amount = Decimal::new(rng.random_range(0..1_000_000), 0);
                    update(&store, id, input("E", &amount.to_string(), c))
                        .await
                        .unwrap();
                }
                4 if !ids.is_empty() => {
                    let id = ids.swap_remove(rng.random_range(0..ids.len()));
                    delete(&store, id).await.unwrap();
                }
                _ if !ids.is_empty() => {
                    let id = ids[rng.random_range(0..ids.len())];
                    let outcome = if rng.random_bool(0.5) {
                        DealStatus::Won
                    } else {
                        DealStatus::Lost
                    };
                    close(&store, id, outcome, None).await.unwrap();
                }
                _ => {}
            }
        }
        assert_totals_match(&store).await;
        let board = board(&store, None, 0).await.unwrap();
        let count: u32 = board.columns.iter().map(|c| c.count).sum();
        assert_eq!(count as usize, ids.len());
    }

    #[tokio::test]
    async fn the_board_totals_per_stage_and_currency_with_stale_flags() {
        let store = Store::open_in_memory().await.unwrap();
        money::set_base_currency(&store, "EUR").await.unwrap();
        let sales = pipelines::find(&store, "Sales").await.unwrap();
        let lead = sales.stages[0].id;
        let proposal = sales.stages[2].id;
        for (amount, currency) in [("100.10", "EUR"), ("0.05", "EUR"), ("200", "USD")] {
            create(&store, input("A", amount, currency)).await.unwrap();
        }
        create(
            &store,
            DealInput {
                title: "No amount".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let p = create(&store, input("P", "1000", "JPY")).await.unwrap();
        move_deal(&store, p.summary.id, proposal, None, None)
            .await
            .unwrap();
        // An old deal: entered Lead 40 days ago (rot limit 30).
        let old = create(&store, input("Old", "1", "EUR")).await.unwrap();
        let long_ago = (Utc::now() - chrono::Duration::days(40))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query("UPDATE deals SET stage_entered_at = ? WHERE id = ?")
            .bind(&long_ago)
            .bind(old.summary.id.to_string())
            .execute(store.pool())
            .await
            .unwrap();

        assert_totals_match(&store).await;
        let board = board(&store, None, 50).await.unwrap();
        let col = &board.columns[0];
        assert_eq!(col.stage.id, lead);
        assert_eq!(col.count, 5);
        assert_eq!(col.rotting_count, 1);
        assert_eq!(
            col.totals,
            vec![
                Money {
                    amount: dec("101.15"),
                    currency: "EUR".into()
                },
                Money {
                    amount: dec("200"),
                    currency: "USD".into()
                },
            ]
        );
        assert_eq!(col.weighted[0].amount, dec("10.115"));
        assert_eq!(col.weighted[1].amount, dec("20"));
        assert_eq!(col.converted, None);
        assert_eq!(col.missing_rates, vec!["USD".to_string()]);
        assert_eq!(col.deals.len(), 5);
        let old_card = col.deals.iter().find(|d| d.title == "Old").unwrap();
        assert!(old_card.rotting);
        assert_eq!(old_card.days_in_stage, 40);
        assert!(col
            .deals
            .iter()
            .filter(|d| d.title != "Old")
            .all(|d| !d.rotting));

        money::set_rate(&store, "USD", "0.9").await.unwrap();
        let board2 = super::board(&store, Some(sales.id), 0).await.unwrap();
        let conv = board2.columns[0].converted.clone().unwrap();
        assert_eq!(conv.total, dec("281.15"));
        assert_eq!(conv.weighted, dec("28.115"));
        assert!(board2.columns[0].deals.is_empty());
        assert_eq!(board2.columns[2].totals[0].currency, "JPY");
        assert_eq!(board2.columns[2].weighted[0].amount, dec("500"));

        // A reminder linked to the deal is its next activity.
        sqlx::query(
            "INSERT INTO reminders (id, title, due_at, deal_id) VALUES ('r1', 'Call', '2030-01-01T09:00:00.000Z', ?)",
        )
        .bind(old.summary.id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
        let d = get(&store, old.summary.id).await.unwrap();
        assert!(!d.summary.no_next_activity);
        assert!(d.summary.next_activity_at.is_some());
        let stale = list(
            &store,
            &DealQuery {
                stale: true,
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // Old is still rotting; the others have no next activity.
        assert_eq!(stale.total, 6);
    }
}
