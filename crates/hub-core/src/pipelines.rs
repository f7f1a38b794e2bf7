//! Pipelines and their stages.
//!
//! A stage has an order (`position`), a win probability in percent (a
//! Decimal in 0..=100, so "12.5" is 12.5 %), a kind (`open`, `won`, `lost`;
//! a won stage is 100 %, a lost one 0 %) and an optional rotting limit in
//! days. The default "Sales" pipeline is made on first use with UUID v5 ids,
//! so two devices that each make it offline end up with one pipeline.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, WriteTx};
use crate::entities::{PIPELINE, PIPELINE_STAGE};
use crate::error::{Error, FieldError, Result};
use crate::money;
use crate::store::Store;

const NAMESPACE: Uuid = Uuid::from_u128(0x5d7e_20b4_c1a9_4e63_8f02_b6d4_91ae_3c57);
const MAX_NAME: usize = 100;
/// Rotting limits are at most ten years.
const MAX_ROT_DAYS: u32 = 3650;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum StageKind {
    #[default]
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Open => "open",
            StageKind::Won => "won",
            StageKind::Lost => "lost",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self> {
        match text.trim().to_lowercase().as_str() {
            "open" => Ok(StageKind::Open),
            "won" => Ok(StageKind::Won),
            "lost" => Ok(StageKind::Lost),
            _ => Err(Error::invalid(
                field,
                format!("\"{}\" is not open, won or lost", text.trim()),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Stage {
    pub id: Uuid,
    pub pipeline_id: Uuid,
    pub name: String,
    #[ts(type = "number")]
    pub position: i64,
    /// Percent, 0..=100.
    #[ts(type = "string")]
    pub probability: Decimal,
    pub kind: StageKind,
    pub rot_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Pipeline {
    pub id: Uuid,
    pub name: String,
    #[ts(type = "number")]
    pub position: i64,
    /// In order.
    pub stages: Vec<Stage>,
    /// Live deals in the pipeline.
    pub deal_count: u32,
}

/// A stage as a form or the CLI gives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StageInput {
    pub name: String,
    /// Percent 0..=100 as text ("25", "12.5"); defaults by kind: won 100,
    /// lost 0, open 0.
    #[serde(default)]
    pub probability: Option<String>,
    #[serde(default)]
    pub kind: StageKind,
    #[serde(default)]
    pub rot_days: Option<u32>,
}

impl StageInput {
    pub fn new(name: &str, probability: &str, kind: StageKind) -> Self {
        StageInput {
            name: name.into(),
            probability: Some(probability.into()),
            kind,
            rot_days: None,
        }
    }
}

/// The default pipeline's id.
pub fn default_pipeline_id() -> Uuid {
    Uuid::new_v5(&NAMESPACE, b"pipeline/sales")
}

fn default_stage_id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("pipeline/sales/{name}").as_bytes())
}

fn default_stages() -> Vec<StageInput> {
    let mut stages = vec![
        StageInput::new("Lead", "10", StageKind::Open),
        StageInput::new("Qualified", "25", StageKind::Open),
        StageInput::new("Proposal", "50", StageKind::Open),
        StageInput::new("Negotiation", "75", StageKind::Open),
        StageInput::new("Won", "100", StageKind::Won),
        StageInput::new("Lost", "0", StageKind::Lost),
    ];
    for s in &mut stages[..4] {
        s.rot_days = Some(30);
    }
    stages
}

fn check_name(field: &str, name: &str, what: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        Err(FieldError::new(field, format!("A {what} needs a name")))
    } else if name.chars().count() > MAX_NAME {
        Err(FieldError::new(
            field,
            format!("Names are at most {MAX_NAME} characters"),
        ))
    } else {
        Ok(name.to_owned())
    }
}

/// A probability in percent: 0..=100, at most 2 decimal places.
pub fn parse_probability(field: &str, text: &str) -> Result<Decimal> {
    let p = money::parse_decimal(field, text.trim().trim_end_matches('%'))?;
    if p < Decimal::ZERO {
        return Err(Error::invalid(field, "A probability cannot be negative"));
    }
    if p > Decimal::ONE_HUNDRED {
        return Err(Error::invalid(
            field,
            "A probability is a percentage from 0 to 100",
        ));
    }
    if p.scale() > 2 {
        return Err(Error::invalid(
            field,
            "A probability has at most 2 decimal places",
        ));
    }
    Ok(p)
}

/// Check a stage; returns its stored fields (without pipeline and position).
fn stage_fields(prefix: &str, input: &StageInput) -> Result<Vec<(&'static str, Value)>> {
    let mut errors = Vec::new();
    let name = check_name(&format!("{prefix}name"), &input.name, "stage")
        .map_err(|e| errors.push(e))
        .ok();
    let field = format!("{prefix}probability");
    let probability = match (&input.probability, input.kind) {
        (Some(text), kind) => match parse_probability(&field, text) {
            Ok(p) if kind == StageKind::Won && p != Decimal::ONE_HUNDRED => {
                errors.push(FieldError::new(&field, "A won stage is 100 %"));
                None
            }
            Ok(p) if kind == StageKind::Lost && !p.is_zero() => {
                errors.push(FieldError::new(&field, "A lost stage is 0 %"));
                None
            }
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e.field_errors().iter().cloned());
                None
            }
        },
        (None, StageKind::Won) => Some(Decimal::ONE_HUNDRED),
        (None, _) => Some(Decimal::ZERO),
    };
    if let Some(days) = input.rot_days {
        if days == 0 || days > MAX_ROT_DAYS {
            errors.push(FieldError::new(
                format!("{prefix}rot_days"),
                format!("A rotting limit is 1 to {MAX_ROT_DAYS} days"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(vec![
        ("name", json!(name)),
        ("probability", json!(probability.map(|p| p.to_string()))),
        ("kind", json!(input.kind.as_str())),
        ("rot_days", json!(input.rot_days)),
    ])
}

/// Create a pipeline with its stages (in the order given).
pub async fn create(store: &Store, name: &str, stages: Vec<StageInput>) -> Result<Pipeline> {
    let name = check_name("name", name, "pipeline").map_err(|e| Error::Validation(vec![e]))?;
    if stages.is_empty() {
        return Err(Error::invalid(
            "stages",
            "A pipeline needs at least one stage",
        ));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        match stage_fields(&format!("stages[{i}]."), s) {
            Ok(fields) => rows.push(fields),
            Err(e) => errors.extend(e.field_errors().iter().cloned()),
        }
    }
    check_unique_names(&stages, &mut errors);
    if !stages.iter().any(|s| s.kind == StageKind::Open) {
        errors.push(FieldError::new("stages", "A pipeline needs an open stage"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    // The first use of pipelines on this device: the default one comes first.
    ensure_default_in(&mut tx).await?;
    if live_name_taken(&mut tx, &name, None).await? {
        return Err(Error::invalid(
            "name",
            format!("There is already a pipeline named \"{name}\""),
        ));
    }
    let position = next_position(&mut tx, "pipelines", None).await?;
    tx.insert(
        &PIPELINE,
        id,
        vec![
            ("name", json!(name)),
            ("position", json!(position)),
            ("created_at", json!(now_rfc3339())),
        ],
    )
    .await?;
    let stage_rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut fields)| {
            fields.push(("pipeline_id", json!(id.to_string())));
            fields.push(("position", json!(i as i64)));
            (Uuid::now_v7(), fields)
        })
        .collect();
    tx.insert_many(&PIPELINE_STAGE, stage_rows).await?;
    tx.commit().await?;
    get(store, id).await
}

fn check_unique_names(stages: &[StageInput], errors: &mut Vec<FieldError>) {
    for (i, s) in stages.iter().enumerate() {
        let key = s.name.trim().to_lowercase();
        if stages[..i]
            .iter()
            .any(|o| o.name.trim().to_lowercase() == key)
        {
            errors.push(FieldError::new(
                format!("stages[{i}].name"),
                format!("Two stages are named \"{}\"", s.name.trim()),
            ));
        }
    }
}

async fn live_name_taken(tx: &mut WriteTx, name: &str, except: Option<Uuid>) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM pipelines WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL
            AND id IS NOT ? LIMIT 1",
    )
    .bind(name)
    .bind(except.map(|e| e.to_string()))
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

async fn next_position(tx: &mut WriteTx, table: &str, pipeline: Option<Uuid>) -> Result<i64> {
    let sql = match table {
        "pipelines" => "SELECT max(position) FROM pipelines WHERE deleted_at IS NULL",
        _ => {
            "SELECT max(position) FROM pipeline_stages WHERE deleted_at IS NULL AND pipeline_id = ?"
        }
    };
    let max: Option<i64> = sqlx::query_scalar(sql)
        .bind(pipeline.map(|p| p.to_string()))
        .fetch_one(tx.conn())
        .await?;
    Ok(max.map_or(0, |m| m + 1))
}

/// Make the default "Sales" pipeline when there is no live pipeline at all.
/// Its ids are fixed, so devices doing this offline converge on one.
pub async fn ensure_default(store: &Store) -> Result<()> {
    if has_live_pipeline(store).await? {
        return Ok(());
    }
    let mut tx = store.write().await?;
    ensure_default_in(&mut tx).await?;
    tx.commit().await
}

async fn has_live_pipeline(store: &Store) -> Result<bool> {
    let any: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM pipelines WHERE deleted_at IS NULL LIMIT 1")
            .fetch_optional(store.pool())
            .await?;
    Ok(any.is_some())
}

/// As [`ensure_default`], in a write that is under way; returns the
/// pipeline to use when none was named.
pub(crate) async fn ensure_default_in(tx: &mut WriteTx) -> Result<Uuid> {
    let first: Option<String> = sqlx::query_scalar(
        "SELECT id FROM pipelines WHERE deleted_at IS NULL ORDER BY position, rk LIMIT 1",
    )
    .fetch_optional(tx.conn())
    .await?;
    if let Some(id) = first.and_then(|id| Uuid::parse_str(&id).ok()) {
        return Ok(id);
    }
    let id = default_pipeline_id();
    let existing: Option<i64> = sqlx::query_scalar("SELECT 1 FROM pipelines WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    if existing.is_some() {
        // It was deleted and there is no other: bring it back.
        tx.update(&PIPELINE, id, vec![("deleted_at", Value::Null)])
            .await?;
    } else {
        tx.insert(
            &PIPELINE,
            id,
            vec![
                ("name", json!("Sales")),
                ("position", json!(0)),
                ("created_at", json!(now_rfc3339())),
            ],
        )
        .await?;
    }
    for (i, stage) in default_stages().iter().enumerate() {
        let stage_id = default_stage_id(&stage.name);
        let existing: Option<Option<String>> =
            sqlx::query_scalar("SELECT deleted_at FROM pipeline_stages WHERE id = ?")
                .bind(stage_id.to_string())
                .fetch_optional(tx.conn())
                .await?;
        match existing {
            Some(Some(_)) => {
                tx.update(&PIPELINE_STAGE, stage_id, vec![("deleted_at", Value::Null)])
                    .await?;
            }
            Some(None) => {}
            None => {
                let mut fields = stage_fields("", stage)?;
                fields.push(("pipeline_id", json!(id.to_string())));
                fields.push(("position", json!(i as i64)));
                tx.insert(&PIPELINE_STAGE, stage_id, fields).await?;
            }
        }
    }
    Ok(id)
}

/// Every live pipeline with its stages, in order; makes the default one on
/// first use.
pub async fn list(store: &Store) -> Result<Vec<Pipeline>> {
    ensure_default(store).await?;
    let rows: Vec<(String, Option<String>, Option<i64>, i64)> = sqlx::query_as(
        "SELECT p.id, p.name, p.position,
                (SELECT coalesce(sum(t.deals), 0) FROM deal_stage_totals t
                   JOIN pipeline_stages s ON s.id = t.stage_id
                  WHERE s.pipeline_id = p.id AND s.deleted_at IS NULL)
           FROM pipelines p WHERE p.deleted_at IS NULL ORDER BY p.position, p.rk",
    )
    .fetch_all(store.pool())
    .await?;
    let stages = all_stages(store).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, position, count)| {
            let id = Uuid::parse_str(&id).ok()?;
            Some(Pipeline {
                id,
                name: name.unwrap_or_default(),
                position: position.unwrap_or(0),
                stages: stages
                    .iter()
                    .filter(|s| s.pipeline_id == id)
                    .cloned()
                    .collect(),
                deal_count: count as u32,
            })
        })
        .collect())
}

type StageRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

const STAGE_SELECT: &str = "SELECT id, pipeline_id, name, position, probability, kind, rot_days
    FROM pipeline_stages";

fn stage_of(row: StageRow) -> Option<Stage> {
    let (id, pipeline_id, name, position, probability, kind, rot_days) = row;
    Some(Stage {
        id: Uuid::parse_str(&id).ok()?,
        pipeline_id: Uuid::parse_str(pipeline_id.as_deref()?).ok()?,
        name: name.unwrap_or_default(),
        position: position.unwrap_or(0),
        probability: money::stored(probability.as_deref()).unwrap_or_default(),
        kind: kind
            .as_deref()
            .and_then(|k| StageKind::parse("kind", k).ok())
            .unwrap_or_default(),
        rot_days: rot_days.and_then(|d| u32::try_from(d).ok()),
    })
}

/// Every live stage of every live pipeline, by pipeline then position.
pub async fn all_stages(store: &Store) -> Result<Vec<Stage>> {
    let rows: Vec<StageRow> = sqlx::query_as(&format!(
        "{STAGE_SELECT} s WHERE s.deleted_at IS NULL
            AND EXISTS (SELECT 1 FROM pipelines p WHERE p.id = s.pipeline_id AND p.deleted_at IS NULL)
          ORDER BY s.pipeline_id, s.position, s.rk"
    ))
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().filter_map(stage_of).collect())
}

/// A live stage, read in a write under way.
pub(crate) async fn stage_in(conn: &mut sqlx::SqliteConnection, id: Uuid) -> Result<Stage> {
    let row: Option<StageRow> = sqlx::query_as(&format!(
        "{STAGE_SELECT} WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.and_then(stage_of)
        .ok_or_else(|| Error::not_found("stage", id))
}

/// The live stages of a pipeline, in order.
pub(crate) async fn stages_in(
    conn: &mut sqlx::SqliteConnection,
    pipeline: Uuid,
) -> Result<Vec<Stage>> {
    let rows: Vec<StageRow> = sqlx::query_as(&format!(
        "{STAGE_SELECT} WHERE pipeline_id = ? AND deleted_at IS NULL ORDER BY position, rk"
    ))
    .bind(pipeline.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(stage_of).collect())
}

pub async fn get(store: &Store, id: Uuid) -> Result<Pipeline> {
    list(store)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::not_found("pipeline", id))
}

/// A live pipeline by id or name (any case).
pub async fn find(store: &Store, id_or_name: &str) -> Result<Pipeline> {
    let all = list(store).await?;
    let key = id_or_name.trim();
    let id = Uuid::parse_str(key).ok();
    all.into_iter()
        .find(|p| Some(p.id) == id || p.name.eq_ignore_ascii_case(key))
        .ok_or_else(|| Error::not_found("pipeline", key))
}

/// A live stage by id, or by name within `pipeline` (any case).
pub async fn find_stage(store: &Store, pipeline: Option<Uuid>, id_or_name: &str) -> Result<Stage> {
    let key = id_or_name.trim();
    let stages = all_stages(store).await?;
    if let Ok(id) = Uuid::parse_str(key) {
        return stages
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::not_found("stage", key));
    }
    let matching: Vec<Stage> = stages
        .into_iter()
        .filter(|s| s.name.eq_ignore_ascii_case(key) && pipeline.is_none_or(|p| p == s.pipeline_id))
        .collect();
    match matching.len() {
        0 => Err(Error::not_found("stage", key)),
        1 => Ok(matching
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!())),
        _ => Err(Error::invalid(
            "stage",
            format!(
                "Several pipelines have a stage \"{key}\"; name the pipeline or use the stage id"
            ),
        )),
    }
}

async fn ensure_live_pipeline(tx: &mut WriteTx, id: Uuid) -> Result<()> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM pipelines WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    live.map(|_| ())
        .ok_or_else(|| Error::not_found("pipeline", id))
}

pub async fn rename(store: &Store, id: Uuid, name: &str) -> Result<Pipeline> {
    let name = check_name("name", name, "pipeline").map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = store.write().await?;
    ensure_live_pipeline(&mut tx, id).await?;
    if live_name_taken(&mut tx, &name, Some(id)).await? {
        return Err(Error::invalid(
            "name",
            format!("There is already a pipeline named \"{name}\""),
        ));
    }
    tx.update(&PIPELINE, id, vec![("name", json!(name))])
        .await?;
    tx.commit().await?;
    get(store, id).await
}

/// Delete a pipeline with no live deals (move or delete them first).
pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    ensure_live_pipeline(&mut tx, id).await?;
    let deals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM deals WHERE pipeline_id = ? AND deleted_at IS NULL",
    )
    .bind(id.to_string())
    .fetch_one(tx.conn())
    .await?;
    if deals > 0 {
        return Err(Error::invalid(
            "pipeline",
            format!("The pipeline has {deals} deals; move or delete them first"),
        ));
    }
    for stage in stages_in(tx.conn(), id).await? {
        tx.delete(&PIPELINE_STAGE, stage.id).await?;
    }
    tx.delete(&PIPELINE, id).await?;
    tx.commit().await
}

/// Add a stage to a pipeline, at `position` (0 = first) or at the end.
pub async fn add_stage(
    store: &Store,
    pipeline: Uuid,
    input: StageInput,
    position: Option<usize>,
) -> Result<Stage> {
    let mut fields = stage_fields("", &input)?;
    let mut tx = store.write().await?;
    ensure_live_pipeline(&mut tx, pipeline).await?;
    let mut stages = stages_in(tx.conn(), pipeline).await?;
    let name = input.name.trim().to_lowercase();
    if stages.iter().any(|s| s.name.to_lowercase() == name) {
        return Err(Error::invalid(
            "name",
            format!("The pipeline already has a stage \"{}\"", input.name.trim()),
        ));
    }
    let id = Uuid::now_v7();
    fields.push(("pipeline_id", json!(pipeline.to_string())));
    fields.push(("position", json!(stages.len() as i64)));
    tx.insert(&PIPELINE_STAGE, id, fields).await?;
    let at = position.unwrap_or(stages.len()).min(stages.len());
    let new = stage_in(tx.conn(), id).await?;
    stages.insert(at, new);
    renumber(&mut tx, &stages).await?;
    tx.commit().await?;
    let mut conn = store.pool().acquire().await?;
    stage_in(&mut conn, id).await
}

/// Change a stage's name, probability, kind or rotting limit. Deals already
/// in it keep their status; the new kind applies to later moves.
pub async fn update_stage(store: &Store, id: Uuid, input: StageInput) -> Result<Stage> {
    let fields = stage_fields("", &input)?;
    let mut tx = store.write().await?;
    let stage = stage_in(tx.conn(), id).await?;
    let name = input.name.trim().to_lowercase();
    let others = stages_in(tx.conn(), stage.pipeline_id).await?;
    if others
        .iter()
        .any(|s| s.id != id && s.name.to_lowercase() == name)
    {
        return Err(Error::invalid(
            "name",
            format!("The pipeline already has a stage \"{}\"", input.name.trim()),
        ));
    }
    if input.kind != StageKind::Open
        && !others
            .iter()
            .any(|s| s.id != id && s.kind == StageKind::Open)
    {
        return Err(Error::invalid("kind", "A pipeline needs an open stage"));
    }
    tx.update(&PIPELINE_STAGE, id, fields).await?;
    let stage = stage_in(tx.conn(), id).await?;
    tx.commit().await?;
    Ok(stage)
}

/// Move a stage to `position` (0 = first) within its pipeline.
pub async fn move_stage(store: &Store, id: Uuid, position: usize) -> Result<Vec<Stage>> {
    let mut tx = store.write().await?;
    let stage = stage_in(tx.conn(), id).await?;
    let mut stages = stages_in(tx.conn(), stage.pipeline_id).await?;
    stages.retain(|s| s.id != id);
    stages.insert(position.min(stages.len()), stage.clone());
    renumber(&mut tx, &stages).await?;
    let stages = stages_in(tx.conn(), stage.pipeline_id).await?;
    tx.commit().await?;
    Ok(stages)
}

/// Delete a stage with no live deals.
pub async fn delete_stage(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    let stage = stage_in(tx.conn(), id).await?;
    let deals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM deals WHERE stage_id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_one(tx.conn())
            .await?;
    if deals > 0 {
        return Err(Error::invalid(
            "stage",
            format!("The stage has {deals} deals; move them to another stage first"),
        ));
    }
    let stages = stages_in(tx.conn(), stage.pipeline_id).await?;
    if stage.kind == StageKind::Open
        && !stages
            .iter()
            .any(|s| s.id != id && s.kind == StageKind::Open)
    {
        return Err(Error::invalid(
            "stage",
            "It is the pipeline's last open stage",
        ));
    }
    tx.delete(&PIPELINE_STAGE, id).await?;
    let rest: Vec<Stage> = stages.into_iter().filter(|s| s.id != id).collect();
    renumber(&mut tx, &rest).await?;
    tx.commit().await
}

/// Give stages the positions 0.. in the given order (only changed ones are written).
async fn renumber(tx: &mut WriteTx, stages: &[Stage]) -> Result<()> {
    for (i, s) in stages.iter().enumerate() {
        tx.update(&PIPELINE_STAGE, s.id, vec![("position", json!(i as i64))])
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_default_pipeline_is_made_once_with_fixed_ids() {
        let store = Store::open_in_memory().await.unwrap();
        let all = list(&store).await.unwrap();
        assert_eq!(all.len(), 1);
        let sales = &all[0];
        assert_eq!(sales.id, default_pipeline_id());
        assert_eq!(sales.name, "Sales");
        let names: Vec<&str> = sales.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Lead",
                "Qualified",
                "Proposal",
                "Negotiation",
                "Won",
                "Lost"
            ]
        );
        let probs: Vec<String> = sales
            .stages
            .iter()
            .map(|s| s.probability.to_string())
            .collect();
        assert_eq!(probs, ["10", "25", "50", "75", "100", "0"]);
        assert_eq!(sales.stages[4].kind, StageKind::Won);
        assert_eq!(sales.stages[5].kind, StageKind::Lost);

        // A second device computes the same ids.
        let other = Store::open_in_memory().await.unwrap();
        let theirs = list(&other).await.unwrap();
        assert_eq!(
            theirs[0].stages.iter().map(|s| s.id).collect::<Vec<_>>(),
            sales.stages.iter().map(|s| s.id).collect::<Vec<_>>()
        );
        // Listing again does not add anything.
        list(&store).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pipeline_stages")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 6);
    }

    #[tokio::test]
    async fn stages_are_validated_and_nothing_is_written_on_error() {
        let store = Store::open_in_memory().await.unwrap();
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let bad = [
            StageInput::new("A", "-5", StageKind::Open),
            StageInput::new("B", "101", StageKind::Open),
            StageInput::new("C", "50", StageKind::Won),
            StageInput::new("D", "abc", StageKind::Open),
        ];
        for stage in bad {
            let err = create(&store, "Partners", vec![stage]).await.unwrap_err();
            assert_eq!(err.code(), "validation", "{err}");
        }
        let err = create(
            &store,
            "Partners",
            vec![StageInput::new("A", "-5", StageKind::Open)],
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
        let err = create(
            &store,
            "X",
            vec![
                StageInput::new("A", "5", StageKind::Open),
                StageInput::new("a", "5", StageKind::Open),
            ],
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("Two stages"), "{err}");
        let after: i64 = sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(before, after);
    }

    #[tokio::test]
    async fn stages_are_added_moved_edited_and_deleted() {
        let store = Store::open_in_memory().await.unwrap();
        let p = create(
            &store,
            "Partners",
            vec![
                StageInput::new("Intro", "20", StageKind::Open),
                StageInput::new("Signed", "100", StageKind::Won),
            ],
        )
        .await
        .unwrap();
        assert_eq!(p.stages.len(), 2);
        assert!(create(
            &store,
            "partners",
            vec![StageInput::new("A", "1", StageKind::Open)]
        )
        .await
        .is_err());
        let pilot = add_stage(
            &store,
            p.id,
            StageInput {
                rot_days: Some(14),
                ..StageInput::new("Pilot", "12.5", StageKind::Open)
            },
            Some(1),
        )
        .await
        .unwrap();
        let names = |p: &Pipeline| p.stages.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&get(&store, p.id).await.unwrap()),
            ["Intro", "Pilot", "Signed"]
        );
        assert_eq!(pilot.probability.to_string(), "12.5");
        move_stage(&store, pilot.id, 0).await.unwrap();
        assert_eq!(
            names(&get(&store, p.id).await.unwrap()),
            ["Pilot", "Intro", "Signed"]
        );
        let edited = update_stage(
            &store,
            pilot.id,
            StageInput::new("Trial", "30", StageKind::Open),
        )
        .await
        .unwrap();
        assert_eq!(edited.name, "Trial");
        assert_eq!(edited.rot_days, None);
        delete_stage(&store, pilot.id).await.unwrap();
        let p2 = get(&store, p.id).await.unwrap();
        assert_eq!(names(&p2), ["Intro", "Signed"]);
        assert_eq!(p2.stages[0].position, 0);
        // The last open stage stays.
        let intro = p2.stages[0].id;
        assert!(delete_stage(&store, intro).await.is_err());
        assert!(update_stage(
            &store,
            intro,
            StageInput::new("Intro", "0", StageKind::Lost)
        )
        .await
        .is_err());
        let found = find_stage(&store, Some(p.id), "signed").await.unwrap();
        assert_eq!(found.kind, StageKind::Won);
        rename(&store, p.id, "Channel").await.unwrap();
        assert_eq!(find(&store, "channel").await.unwrap().id, p.id);
        delete(&store, p.id).await.unwrap();
        assert!(find(&store, "channel").await.is_err());
    }
}
