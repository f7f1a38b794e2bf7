import type { Today } from "../types/Today";
import { call } from "./ipc";

/**
 * The Today view now: my overdue and due-today reminders, my stale deals,
 * stay-in-touch due, my open tickets (counts plus the first `limit` of each).
 * `tz`: the IANA zone "today" is read in; default this computer's.
 */
export function getToday(tz: string | null = null, limit: number | null = null): Promise<Today> {
  return call("get_today", { tz, limit });
}
