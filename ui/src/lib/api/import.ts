import type { ImportPreview } from "../types/ImportPreview";
import type { ImportProgress } from "../types/ImportProgress";
import type { ImportReport } from "../types/ImportReport";
import type { ImportSummary } from "../types/ImportSummary";
import type { RevertReport } from "../types/RevertReport";
import type { SavedMapping } from "../types/SavedMapping";
import { call, subscribeTo } from "./ipc";

/** Column → target field text (`first_name`, `email:home`, `custom:budget`), or null to skip. */
export type ColumnMapping = Record<string, string | null>;

export type ImportKind = "csv" | "vcard";

/**
 * A CSV file's encoding, delimiter, first rows and the proposed mapping
 * (the automatic one, then a saved mapping, then `mapping` over it).
 */
export function previewImport(
  path: string,
  options: { mapping?: ColumnMapping | null; savedMapping?: string | null; rows?: number } = {},
): Promise<ImportPreview> {
  return call("preview_import", {
    path,
    mapping: options.mapping ?? null,
    savedMapping: options.savedMapping ?? null,
    rows: options.rows ?? null,
  });
}

/**
 * Run an import, or with `dryRun` only count what it would do. Progress
 * comes as `import-progress` events tagged with `runId`; `cancelImport(runId)`
 * stops it and nothing is written.
 */
export function runImport(args: {
  runId: string;
  path: string;
  kind: ImportKind;
  mapping: ColumnMapping | null;
  dryRun: boolean;
}): Promise<ImportReport> {
  return call("run_import", {
    runId: args.runId,
    path: args.path,
    kind: args.kind,
    mapping: args.mapping,
    dryRun: args.dryRun,
  });
}

/** Stop a running import (it rolls back); false when it is not running. */
export function cancelImport(runId: string): Promise<boolean> {
  return call("cancel_import", { runId });
}

/** Progress of the imports running now; resolves to the unsubscribe function. */
export function onImportProgress(handler: (runId: string, progress: ImportProgress) => void) {
  return subscribeTo<{ run_id: string; progress: ImportProgress }>("import-progress", (p) =>
    handler(p.run_id, p.progress),
  );
}

/** Every recorded import (the team's too), newest first. */
export function listImports(): Promise<ImportSummary[]> {
  return call("list_imports");
}

/** Undo an import: rows it created deleted, fields it changed restored. */
export function revertImport(id: string): Promise<RevertReport> {
  return call("revert_import", { id });
}

export function listImportMappings(): Promise<SavedMapping[]> {
  return call("list_import_mappings");
}

/** Save (or replace) a mapping under a name. */
export function saveImportMapping(name: string, columns: ColumnMapping): Promise<SavedMapping> {
  return call("save_import_mapping", { name, columns });
}
