import type { AudienceDestination } from "../types/AudienceDestination";
import type { AudienceExport } from "../types/AudienceExport";
import type { AudienceExportReport } from "../types/AudienceExportReport";
import type { AudienceRemoval } from "../types/AudienceRemoval";
import type { AudienceRemovalFile } from "../types/AudienceRemovalFile";
import { call } from "./ipc";

/** A segment (id or name) to Meta, Google Ads or an email tool's CSV at `path`, consent-gated and recorded. */
export function exportAudience(
  segment: string,
  destination: AudienceDestination,
  seed: boolean,
  path: string,
): Promise<AudienceExportReport> {
  return call("export_audience", { segment, destination, seed, path });
}

/** Every audience export, newest first, with its pending removals. */
export function audienceHistory(): Promise<AudienceExport[]> {
  return call("audience_history");
}

/** The people to remove from one export's audience (erased or consent withdrawn since). */
export function audienceRemovals(exportId: string): Promise<AudienceRemoval[]> {
  return call("audience_removals", { export: exportId });
}

/** Write one export's removal file at `path`. */
export function writeAudienceRemovals(exportId: string, path: string): Promise<AudienceRemovalFile> {
  return call("write_audience_removals", { export: exportId, path });
}
