import type { UnlistenFn } from "@tauri-apps/api/event";
import type { Reminder } from "../types/Reminder";
import type { ReminderInput } from "../types/ReminderInput";
import type { ReminderQuery } from "../types/ReminderQuery";
import type { Target } from "../types/Target";
import { call, subscribeTo } from "./ipc";

export function listReminders(query: ReminderQuery): Promise<Reminder[]> {
  return call("list_reminders", { query });
}

export function getReminder(id: string): Promise<Reminder> {
  return call("get_reminder", { id });
}

export function createReminder(input: ReminderInput): Promise<Reminder> {
  return call("create_reminder", { input });
}

/** Done; a recurring reminder moves to its next occurrence and stays open. */
export function completeReminder(id: string): Promise<Reminder> {
  return call("complete_reminder", { id });
}

/** Ring again at `until` (RFC 3339), or in 15 minutes. */
export function snoozeReminder(id: string, until: string | null = null): Promise<Reminder> {
  return call("snooze_reminder", { id, until });
}

export function reopenReminder(id: string): Promise<Reminder> {
  return call("reopen_reminder", { id });
}

export function deleteReminder(id: string): Promise<void> {
  return call("delete_reminder", { id });
}

/** This computer's IANA time zone, the default of a new reminder. */
export function localTimeZone(): Promise<string> {
  return call("local_time_zone");
}

/**
 * A click on a reminder notification: the record to open (`null`: the due
 * reminders, from the "missed follow-ups" summary).
 */
export function onOpenRecord(handler: (target: Target | null) => void): Promise<UnlistenFn> {
  return subscribeTo<Target | null>("open-record", handler);
}
