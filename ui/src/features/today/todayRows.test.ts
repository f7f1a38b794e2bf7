import { describe, expect, it } from "vitest";
import type { DealSummary } from "../../lib/types/DealSummary";
import type { Reminder } from "../../lib/types/Reminder";
import type { Ticket } from "../../lib/types/Ticket";
import type { Today } from "../../lib/types/Today";
import { callTarget, countOf, keepSelection, openRoute, reminderOf, rowsOf } from "./todayRows";

const reminder = (id: string, extra: Partial<Reminder> = {}): Reminder =>
  ({
    id,
    title: `R ${id}`,
    contact_id: null,
    contact_name: null,
    deal_id: null,
    deal_title: null,
    ticket_id: null,
    ticket_subject: null,
    ...extra,
  }) as Reminder;

const deal = (id: string, contact: { id: string; name: string } | null): DealSummary =>
  ({ id, title: `D ${id}`, contact }) as DealSummary;

const ticket = (id: string): Ticket => ({ id, subject: `T ${id}`, contact: null }) as Ticket;

function day(extra: Partial<Today> = {}): Today {
  return {
    user: "me",
    tz: "UTC",
    now: "2026-11-29T12:00:00Z",
    day_end: "2026-11-30T00:00:00Z",
    overdue_count: 0,
    overdue: [],
    due_today_count: 0,
    due_today: [],
    stale_deal_count: 0,
    stale_deals: [],
    stay_in_touch_count: 0,
    stay_in_touch: [],
    ticket_count: 0,
    tickets: [],
    ...extra,
  };
}

describe("Today rows", () => {
  const today = day({
    overdue: [reminder("a", { contact_id: "c1", contact_name: "Ada" })],
    overdue_count: 5,
    due_today: [reminder("b", { deal_id: "d9" })],
    stale_deals: [deal("d1", { id: "c2", name: "Bo" }), deal("d2", null)],
    stay_in_touch: [
      { contact_id: "c3", display_name: "Cy", every_days: 7, last_interaction: null, next_due: "2026-11-20T00:00:00Z" },
    ],
    tickets: [ticket("t1")],
  });
  const rows = rowsOf(today);

  it("walks the sections top to bottom", () => {
    expect(rows.map((r) => r.key)).toEqual(["r:a", "r:b", "d:d1", "d:d2", "c:c3", "t:t1"]);
    expect(countOf(today, "overdue")).toBe(5);
  });

  it("d and s apply to reminders only", () => {
    expect(reminderOf(rows[0])?.id).toBe("a");
    expect(reminderOf(rows[2])).toBeNull();
    expect(reminderOf(undefined)).toBeNull();
  });

  it("c calls the row's contact, with the deal when there is one", () => {
    expect(callTarget(rows[0])).toEqual({ contactId: "c1", contactName: "Ada", dealId: null });
    expect(callTarget(rows[1])).toBeNull();
    expect(callTarget(rows[2])).toEqual({ contactId: "c2", contactName: "Bo", dealId: "d1" });
    expect(callTarget(rows[3])).toBeNull();
    expect(callTarget(rows[4])).toEqual({ contactId: "c3", contactName: "Cy", dealId: null });
    expect(callTarget(rows[5])).toBeNull();
  });

  it("Enter opens the linked record", () => {
    expect(openRoute(rows[0])).toEqual({ name: "contact", id: "c1" });
    expect(openRoute(rows[1])).toEqual({ name: "deal", id: "d9" });
    expect(openRoute(rows[3])).toEqual({ name: "deal", id: "d2" });
    expect(openRoute(rows[5])).toEqual({ name: "ticket", id: "t1" });
  });

  it("keeps the selection on the same row, or near where it was", () => {
    const after = rows.slice(1);
    expect(keepSelection(rows, after, 2)).toBe(1); // d:d1 moved up
    expect(keepSelection(rows, after, 0)).toBe(0); // r:a completed: the next row
    expect(keepSelection(rows, rows.slice(0, 2), 5)).toBe(1);
    expect(keepSelection(rows, [], 3)).toBe(-1);
  });
});
