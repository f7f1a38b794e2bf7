import type { FieldEntity } from "../types/FieldEntity";
import type { Filter } from "../types/Filter";
import type { RecordPage } from "../types/RecordPage";
import type { SavedView } from "../types/SavedView";
import type { Sort } from "../types/Sort";
import type { ViewInput } from "../types/ViewInput";
import type { ViewResult } from "../types/ViewResult";
import { call } from "./ipc";

/** A filtered, sorted page of contacts, companies, deals or tickets. */
export function queryRecords(
  entity: FieldEntity,
  filter: Filter,
  sort: Sort | null,
  offset = 0,
  limit = 100,
): Promise<RecordPage> {
  return call("query_records", { entity, filter, sort, offset, limit });
}

export function listViews(): Promise<SavedView[]> {
  return call("list_views");
}

/** Saves under `input.name`, replacing a view of that name. */
export function saveView(input: ViewInput): Promise<SavedView> {
  return call("save_view", { input });
}

export function runView(name: string, offset = 0, limit = 100): Promise<ViewResult> {
  return call("run_view", { name, offset, limit });
}

export function deleteView(name: string): Promise<void> {
  return call("delete_view", { name });
}
