import type { Board } from "../types/Board";
import type { Deal } from "../types/Deal";
import type { DealInput } from "../types/DealInput";
import type { DealPage } from "../types/DealPage";
import type { DealQuery } from "../types/DealQuery";
import type { DealStatus } from "../types/DealStatus";
import type { DealSummary } from "../types/DealSummary";
import type { ExchangeRate } from "../types/ExchangeRate";
import type { Forecast } from "../types/Forecast";
import type { ForecastQuery } from "../types/ForecastQuery";
import type { Pipeline } from "../types/Pipeline";
import type { Stage } from "../types/Stage";
import type { StageInput } from "../types/StageInput";
import { call } from "./ipc";

export function listPipelines(): Promise<Pipeline[]> {
  return call("list_pipelines");
}

export function createPipeline(name: string, stages: StageInput[]): Promise<Pipeline> {
  return call("create_pipeline", { name, stages });
}

export function addStage(pipelineId: string, input: StageInput, position: number | null = null): Promise<Stage> {
  return call("add_stage", { pipelineId, input, position });
}

export function updateStage(id: string, input: StageInput): Promise<Stage> {
  return call("update_stage", { id, input });
}

export function getBoard(pipelineId: string | null, perStage: number): Promise<Board> {
  return call("get_board", { pipelineId, perStage });
}

export function listStageDeals(stageId: string, offset: number, limit: number): Promise<DealSummary[]> {
  return call("list_stage_deals", { stageId, offset, limit });
}

export function listDeals(query: DealQuery): Promise<DealPage> {
  return call("list_deals", { query });
}

export function getDeal(id: string): Promise<Deal> {
  return call("get_deal", { id });
}

export function createDeal(input: DealInput): Promise<Deal> {
  return call("create_deal", { input });
}

export function updateDeal(id: string, input: DealInput): Promise<Deal> {
  return call("update_deal", { id, input });
}

export function moveDeal(id: string, stageId: string, pipelineId: string | null = null): Promise<Deal> {
  return call("move_deal", { id, stageId, pipelineId });
}

export function closeDeal(id: string, outcome: DealStatus, reason: string | null): Promise<Deal> {
  return call("close_deal", { id, outcome, reason });
}

export function deleteDeal(id: string): Promise<void> {
  return call("delete_deal", { id });
}

export function getForecast(query: ForecastQuery): Promise<Forecast> {
  return call("get_forecast", { query });
}

export function listRates(): Promise<ExchangeRate[]> {
  return call("list_rates");
}

export function setRate(currency: string, rate: string): Promise<ExchangeRate> {
  return call("set_rate", { currency, rate });
}

export function baseCurrency(): Promise<string | null> {
  return call("base_currency");
}

export function setBaseCurrency(currency: string): Promise<string> {
  return call("set_base_currency", { currency });
}

export function deleteStage(id: string): Promise<void> {
  return call("delete_stage", { id });
}

export function moveStage(id: string, position: number): Promise<Stage[]> {
  return call("move_stage", { id, position });
}

export function renamePipeline(id: string, name: string): Promise<Pipeline> {
  return call("rename_pipeline", { id, name });
}

export function deletePipeline(id: string): Promise<void> {
  return call("delete_pipeline", { id });
}
