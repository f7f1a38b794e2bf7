// The reminder form and list as pure functions, unit-tested: what the form
// submits, which repeat rule a choice means, what is overdue, where a
// notification click leads.
import type { Route } from "../../lib/navigation/routes";
import type { Reminder } from "../../lib/types/Reminder";
import type { ReminderInput } from "../../lib/types/ReminderInput";
import type { Target } from "../../lib/types/Target";

export type Repeat = "none" | "daily" | "weekdays" | "weekly" | "monthly" | "yearly" | "custom";

export const REPEAT_LABELS: Record<Repeat, string> = {
  none: "Does not repeat",
  daily: "Every day",
  weekdays: "Every weekday (Mon–Fri)",
  weekly: "Every week",
  monthly: "Every month",
  yearly: "Every year",
  custom: "Custom rule (RRULE)…",
};

export type ReminderForm = {
  title: string;
  /** `YYYY-MM-DDTHH:MM` from `<input type="datetime-local">`: wall-clock time in `tz`. */
  due: string;
  /** IANA zone. */
  tz: string;
  repeat: Repeat;
  /** The RRULE when `repeat` is `custom`. */
  rule: string;
  notes: string;
  contactId: string | null;
};

const pad = (n: number) => String(n).padStart(2, "0");

/** `date` as a datetime-local value in this computer's zone. */
export function localInputValue(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A new form: due at the next full hour, in this computer's zone. */
export function emptyForm(tz: string, now: Date, contactId: string | null = null): ReminderForm {
  const due = new Date(now);
  due.setMinutes(0, 0, 0);
  due.setHours(due.getHours() + 1);
  return { title: "", due: localInputValue(due), tz, repeat: "none", rule: "", notes: "", contactId };
}

/** The RRULE a repeat choice stands for (`null`: a one-off). */
export function repeatRule(repeat: Repeat, custom: string): string | null {
  switch (repeat) {
    case "none":
      return null;
    case "daily":
      return "FREQ=DAILY";
    case "weekdays":
      return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR";
    case "weekly":
      return "FREQ=WEEKLY";
    case "monthly":
      return "FREQ=MONTHLY";
    case "yearly":
      return "FREQ=YEARLY";
    case "custom":
      return custom.trim() || null;
  }
}

/** What the form submits; hub-core validates it (zone, time, rule) and names bad fields. */
export function toInput(form: ReminderForm): ReminderInput {
  const notes = form.notes.trim();
  return {
    title: form.title.trim(),
    notes: notes ? form.notes : null,
    due: form.due,
    tz: form.tz.trim() || null,
    contact_id: form.contactId,
    deal_id: null,
    ticket_id: null,
    assignee: null,
    rrule: repeatRule(form.repeat, form.rule),
  };
}

/** Open and ringing time already passed. */
export function isOverdue(r: Reminder, now: Date): boolean {
  return r.status === "open" && new Date(r.next_at).getTime() <= now.getTime();
}

export type SnoozeChoice = { label: string; until: string | null };

/** Snooze menu: 15 minutes (the shell's default), an hour, tomorrow at 09:00 local time. */
export function snoozeChoices(now: Date): SnoozeChoice[] {
  const tomorrow = new Date(now);
  tomorrow.setDate(tomorrow.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  return [
    { label: "15 minutes", until: null },
    { label: "1 hour", until: new Date(now.getTime() + 3_600_000).toISOString() },
    { label: "Tomorrow 9:00", until: tomorrow.toISOString() },
  ];
}

/** Where a notification click leads: the linked deal, ticket or contact, else the reminders. */
export function routeForTarget(target: Target | null): Route {
  switch (target?.kind) {
    case "contact":
      return { name: "contact", id: target.id };
    case "deal":
      return { name: "deal", id: target.id };
    case "ticket":
      return { name: "ticket", id: target.id };
    default:
      return { name: "reminders" };
  }
}
