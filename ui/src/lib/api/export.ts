import type { CsvSummary } from "../types/CsvSummary";
import type { FileExport } from "../types/FileExport";
import type { Filter } from "../types/Filter";
import type { JsonSummary } from "../types/JsonSummary";
import type { ListEntity } from "../types/ListEntity";
import type { Sort } from "../types/Sort";
import { call } from "./ipc";

/** A list (filter, sort) or a saved view (`view`) as CSV at `path`. */
export function exportCsv(args: {
  path: string;
  entity: ListEntity;
  filter?: Filter | null;
  sort?: Sort | null;
  view?: string | null;
  excel: boolean;
}): Promise<CsvSummary> {
  return call("export_csv", {
    path: args.path,
    entity: args.entity,
    filter: args.filter ?? null,
    sort: args.sort ?? null,
    view: args.view ?? null,
    excel: args.excel,
  });
}

/** Contacts as vCard 4.0: a saved view of contacts, some by id, or all. */
export function exportVcard(path: string, view?: string | null, ids?: string[] | null): Promise<FileExport> {
  return call("export_vcard", { path, view: view ?? null, ids: ids ?? null });
}

/** Open reminders and stay-in-touch follow-ups as iCalendar. */
export function exportIcs(path: string): Promise<FileExport> {
  return call("export_ics", { path });
}

/** Everything not in the trash, as JSON. */
export function exportJson(path: string): Promise<JsonSummary> {
  return call("export_json", { path });
}

/** `fileName` in the folder exports go to by default (Downloads). */
export function defaultExportPath(fileName: string): Promise<string> {
  return call("default_export_path", { fileName });
}
