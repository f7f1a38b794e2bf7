import type { Conflict } from "../types/Conflict";
import { call } from "./ipc";

/** Open conflicts, newest first; with `all`, restored and superseded ones too. */
export function listConflicts(all = false): Promise<Conflict[]> {
  return call("list_conflicts", { all });
}

/** Puts the losing value back: a new edit that syncs to every device. */
export function restoreConflict(id: string): Promise<Conflict> {
  return call("restore_conflict", { id });
}
