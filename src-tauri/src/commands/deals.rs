//! Deals, pipelines, the forecast and exchange rates: one call into hub-core each.

use hub_core::deals::{self, Board, Deal, DealInput, DealPage, DealQuery, DealStatus, DealSummary};
use hub_core::forecast::{self, Forecast, ForecastQuery};
use hub_core::money::{self, ExchangeRate};
use hub_core::pipelines::{self, Pipeline, Stage, StageInput};
use tauri::State;
use uuid::Uuid;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_pipelines(state: State<'_, AppState>) -> CommandResult<Vec<Pipeline>> {
    Ok(pipelines::list(state.store().await?).await?)
}

#[tauri::command]
pub async fn create_pipeline(
    state: State<'_, AppState>,
    name: String,
    stages: Vec<StageInput>,
) -> CommandResult<Pipeline> {
    Ok(pipelines::create(state.store().await?, &name, stages).await?)
}

#[tauri::command]
pub async fn add_stage(
    state: State<'_, AppState>,
    pipeline_id: Uuid,
    input: StageInput,
    position: Option<usize>,
) -> CommandResult<Stage> {
    Ok(pipelines::add_stage(state.store().await?, pipeline_id, input, position).await?)
}

#[tauri::command]
pub async fn update_stage(
    state: State<'_, AppState>,
    id: Uuid,
    input: StageInput,
) -> CommandResult<Stage> {
    Ok(pipelines::update_stage(state.store().await?, id, input).await?)
}

#[tauri::command]
pub async fn delete_stage(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(pipelines::delete_stage(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn move_stage(
    state: State<'_, AppState>,
    id: Uuid,
    position: usize,
) -> CommandResult<Vec<Stage>> {
    Ok(pipelines::move_stage(state.store().await?, id, position).await?)
}

#[tauri::command]
pub async fn rename_pipeline(
    state: State<'_, AppState>,
    id: Uuid,
    name: String,
) -> CommandResult<Pipeline> {
    Ok(pipelines::rename(state.store().await?, id, &name).await?)
}

#[tauri::command]
pub async fn delete_pipeline(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(pipelines::delete(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn get_board(
    state: State<'_, AppState>,
    pipeline_id: Option<Uuid>,
    per_stage: u32,
) -> CommandResult<Board> {
    Ok(deals::board(state.store().await?, pipeline_id, per_stage).await?)
}

#[tauri::command]
pub async fn list_stage_deals(
    state: State<'_, AppState>,
    stage_id: Uuid,
    offset: u32,
    limit: u32,
) -> CommandResult<Vec<DealSummary>> {
    Ok(deals::stage_deals(state.store().await?, stage_id, offset, limit).await?)
}

#[tauri::command]
pub async fn list_deals(state: State<'_, AppState>, query: DealQuery) -> CommandResult<DealPage> {
    Ok(deals::list(state.store().await?, &query).await?)
}

#[tauri::command]
pub async fn get_deal(state: State<'_, AppState>, id: Uuid) -> CommandResult<Deal> {
    Ok(deals::get(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn create_deal(state: State<'_, AppState>, input: DealInput) -> CommandResult<Deal> {
    Ok(deals::create(state.store().await?, input).await?)
}

#[tauri::command]
pub async fn update_deal(
    state: State<'_, AppState>,
    id: Uuid,
    input: DealInput,
) -> CommandResult<Deal> {
    Ok(deals::update(state.store().await?, id, input).await?)
}

#[tauri::command]
pub async fn move_deal(
    state: State<'_, AppState>,
    id: Uuid,
    stage_id: Uuid,
    pipeline_id: Option<Uuid>,
) -> CommandResult<Deal> {
    Ok(deals::move_deal(state.store().await?, id, stage_id, pipeline_id, None).await?)
}

#[tauri::command]
pub async fn close_deal(
    state: State<'_, AppState>,
    id: Uuid,
    outcome: DealStatus,
    reason: Option<String>,
) -> CommandResult<Deal> {
    Ok(deals::close(state.store().await?, id, outcome, reason).await?)
}

#[tauri::command]
pub async fn delete_deal(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    Ok(deals::delete(state.store().await?, id).await?)
}

#[tauri::command]
pub async fn get_forecast(
    state: State<'_, AppState>,
    query: ForecastQuery,
) -> CommandResult<Forecast> {
    Ok(forecast::forecast(state.store().await?, &query).await?)
}

#[tauri::command]
pub async fn list_rates(state: State<'_, AppState>) -> CommandResult<Vec<ExchangeRate>> {
    Ok(money::rates(state.store().await?).await?)
}

#[tauri::command]
pub async fn set_rate(
    state: State<'_, AppState>,
    currency: String,
    rate: String,
) -> CommandResult<ExchangeRate> {
    Ok(money::set_rate(state.store().await?, &currency, &rate).await?)
}

#[tauri::command]
pub async fn base_currency(state: State<'_, AppState>) -> CommandResult<Option<String>> {
    Ok(money::base_currency(state.store().await?).await?)
}

#[tauri::command]
pub async fn set_base_currency(
    state: State<'_, AppState>,
    currency: String,
) -> CommandResult<String> {
    Ok(money::set_base_currency(state.store().await?, &currency).await?)
}
