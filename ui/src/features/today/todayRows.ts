// The Today view as one list of selectable rows (keyboard selection walks
// it top to bottom across the sections) and what each row can do.
import type { Route } from "../../lib/navigation/routes";
import type { DealSummary } from "../../lib/types/DealSummary";
import type { DueContact } from "../../lib/types/DueContact";
import type { Reminder } from "../../lib/types/Reminder";
import type { Ticket } from "../../lib/types/Ticket";
import type { Today } from "../../lib/types/Today";

export type SectionKey = "overdue" | "due_today" | "stale_deals" | "stay_in_touch" | "tickets";

export type TodayRow =
  | { key: string; section: "overdue" | "due_today"; reminder: Reminder }
  | { key: string; section: "stale_deals"; deal: DealSummary }
  | { key: string; section: "stay_in_touch"; contact: DueContact }
  | { key: string; section: "tickets"; ticket: Ticket };

/** Who a call from this row is with, if anyone. */
export type CallTarget = { contactId: string; contactName: string; dealId: string | null };

export const SECTIONS: { key: SectionKey; title: string; empty: string }[] = [
  { key: "overdue", title: "Overdue", empty: "Nothing overdue." },
  { key: "due_today", title: "Due today", empty: "Nothing else due today." },
  { key: "stale_deals", title: "Stale deals", empty: "Every open deal of yours has a next step." },
  { key: "stay_in_touch", title: "Stay in touch", empty: "Nobody is waiting to hear from you." },
  { key: "tickets", title: "My open tickets", empty: "No open tickets assigned to you." },
];

export function rowsOf(today: Today): TodayRow[] {
  return [
    ...today.overdue.map((r) => ({ key: `r:${r.id}`, section: "overdue" as const, reminder: r })),
    ...today.due_today.map((r) => ({ key: `r:${r.id}`, section: "due_today" as const, reminder: r })),
    ...today.stale_deals.map((d) => ({ key: `d:${d.id}`, section: "stale_deals" as const, deal: d })),
    ...today.stay_in_touch.map((c) => ({ key: `c:${c.contact_id}`, section: "stay_in_touch" as const, contact: c })),
    ...today.tickets.map((t) => ({ key: `t:${t.id}`, section: "tickets" as const, ticket: t })),
  ];
}

export function countOf(today: Today, section: SectionKey): number {
  switch (section) {
    case "overdue":
      return today.overdue_count;
    case "due_today":
      return today.due_today_count;
    case "stale_deals":
      return today.stale_deal_count;
    case "stay_in_touch":
      return today.stay_in_touch_count;
    case "tickets":
      return today.ticket_count;
  }
}

/** Where the full list of a section lives. */
export function moreRoute(section: SectionKey): Route {
  switch (section) {
    case "overdue":
    case "due_today":
      return { name: "reminders" };
    case "stale_deals":
      return { name: "deals" };
    case "stay_in_touch":
      return { name: "contacts" };
    case "tickets":
      return { name: "tickets" };
  }
}

/** The record a row opens (Enter or a click on its title). */
export function openRoute(row: TodayRow): Route | null {
  switch (row.section) {
    case "overdue":
    case "due_today": {
      const r = row.reminder;
      if (r.deal_id) return { name: "deal", id: r.deal_id };
      if (r.ticket_id) return { name: "ticket", id: r.ticket_id };
      if (r.contact_id) return { name: "contact", id: r.contact_id };
      return { name: "reminders" };
    }
    case "stale_deals":
      return { name: "deal", id: row.deal.id };
    case "stay_in_touch":
      return { name: "contact", id: row.contact.contact_id };
    case "tickets":
      return { name: "ticket", id: row.ticket.id };
  }
}

/** A row's reminder, when `d` (done) and `s` (snooze) apply to it. */
export function reminderOf(row: TodayRow | undefined): Reminder | null {
  return row && (row.section === "overdue" || row.section === "due_today") ? row.reminder : null;
}

/** Who `c` (log a call) calls from this row; null when the row has no contact. */
export function callTarget(row: TodayRow | undefined): CallTarget | null {
  if (!row) return null;
  switch (row.section) {
    case "overdue":
    case "due_today": {
      const r = row.reminder;
      return r.contact_id ? { contactId: r.contact_id, contactName: r.contact_name ?? "", dealId: r.deal_id } : null;
    }
    case "stale_deals": {
      const c = row.deal.contact;
      return c ? { contactId: c.id, contactName: c.name, dealId: row.deal.id } : null;
    }
    case "stay_in_touch":
      return { contactId: row.contact.contact_id, contactName: row.contact.display_name, dealId: null };
    case "tickets": {
      const c = row.ticket.contact;
      return c ? { contactId: c.id, contactName: c.name, dealId: null } : null;
    }
  }
}

/** After the rows change (a reminder completed), keep the selection near where it was. */
export function keepSelection(before: TodayRow[], after: TodayRow[], selected: number): number {
  if (after.length === 0) return -1;
  const key = before[selected]?.key;
  const same = key ? after.findIndex((r) => r.key === key) : -1;
  if (same >= 0) return same;
  return Math.min(Math.max(selected, 0), after.length - 1);
}
