import type { Activity } from "../types/Activity";
import type { ActivityInput } from "../types/ActivityInput";
import type { DueContact } from "../types/DueContact";
import type { StayInTouch } from "../types/StayInTouch";
import type { TimelineOf } from "../types/TimelineOf";
import type { TimelinePage } from "../types/TimelinePage";
import type { TimelineQuery } from "../types/TimelineQuery";
import { call } from "./ipc";

/** Log a call, email, meeting or note; rejects with `validation` field errors. */
export function logActivity(input: ActivityInput): Promise<Activity> {
  return call("log_activity", { input });
}

export function getActivity(id: string): Promise<Activity> {
  return call("get_activity", { id });
}

export function updateActivity(id: string, input: ActivityInput): Promise<Activity> {
  return call("update_activity", { id, input });
}

export function deleteActivity(id: string): Promise<void> {
  return call("delete_activity", { id });
}

/** One page of a contact's, company's or deal's timeline, newest first. */
export function getTimeline(of: TimelineOf, query: TimelineQuery): Promise<TimelinePage> {
  return call("get_timeline", { of, query });
}

export function getStayInTouch(contactId: string): Promise<StayInTouch> {
  return call("get_stay_in_touch", { contactId });
}

/** Every `everyDays` days, or off with `null`. */
export function setStayInTouch(contactId: string, everyDays: number | null): Promise<StayInTouch> {
  return call("set_stay_in_touch", { contactId, everyDays });
}

/** Contacts due for a follow-up now, most overdue first (the Today view). */
export function stayInTouchDue(limit: number | null = null): Promise<DueContact[]> {
  return call("stay_in_touch_due", { limit });
}
