import { describe, expect, it } from "vitest";
import { href, parseRoute, sectionOf } from "../../lib/navigation/routes";
import type { Reminder } from "../../lib/types/Reminder";
import {
  emptyForm,
  isOverdue,
  localInputValue,
  repeatRule,
  routeForTarget,
  snoozeChoices,
  toInput,
} from "./reminderForm";

function reminder(overrides: Partial<Reminder>): Reminder {
  return {
    id: "r1",
    title: "Call Ada",
    notes: null,
    due_at: "2026-11-30T08:00:00Z",
    tz: "Europe/Berlin",
    due_local: "2026-11-30 09:00 CET",
    next_at: "2026-11-30T08:00:00Z",
    status: "open",
    contact_id: null,
    contact_name: null,
    deal_id: null,
    deal_title: null,
    ticket_id: null,
    ticket_subject: null,
    assignee: "me",
    rrule: null,
    repeat: null,
    starts_at: "2026-11-30T08:00:00Z",
    snoozed_until: null,
    done_at: null,
    created_at: "2026-11-29T08:00:00Z",
    ...overrides,
  };
}

describe("reminder form", () => {
  it("starts due at the next full hour in the given zone", () => {
    const form = emptyForm("Europe/Berlin", new Date(2026, 10, 29, 14, 37));
    expect(form.due).toBe("2026-11-29T15:00");
    expect(form.tz).toBe("Europe/Berlin");
    expect(form.repeat).toBe("none");
    expect(emptyForm("UTC", new Date(2026, 11, 31, 23, 5)).due).toBe("2027-01-01T00:00");
  });

  it("maps repeat choices to RRULEs", () => {
    expect(repeatRule("none", "")).toBeNull();
    expect(repeatRule("daily", "")).toBe("FREQ=DAILY");
    expect(repeatRule("weekdays", "")).toBe("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
    expect(repeatRule("monthly", "x")).toBe("FREQ=MONTHLY");
    expect(repeatRule("custom", "  FREQ=WEEKLY;COUNT=3 ")).toBe("FREQ=WEEKLY;COUNT=3");
    expect(repeatRule("custom", "   ")).toBeNull();
  });

  it("submits trimmed text, the local due time and the zone for hub-core to read", () => {
    const input = toInput({
      title: "  Call Ada ",
      due: "2026-12-01T09:00",
      tz: "America/New_York",
      repeat: "yearly",
      rule: "",
      notes: "  ",
      contactId: "c1",
    });
    expect(input).toEqual({
      title: "Call Ada",
      notes: null,
      due: "2026-12-01T09:00",
      tz: "America/New_York",
      contact_id: "c1",
      deal_id: null,
      ticket_id: null,
      assignee: null,
      rrule: "FREQ=YEARLY",
    });
  });

  it("formats datetime-local values", () => {
    expect(localInputValue(new Date(2026, 0, 5, 7, 3))).toBe("2026-01-05T07:03");
  });
});

describe("reminder list", () => {
  const now = new Date("2026-11-30T08:30:00Z");

  it("marks open reminders whose ringing time has passed as overdue", () => {
    expect(isOverdue(reminder({}), now)).toBe(true);
    expect(isOverdue(reminder({ status: "done" }), now)).toBe(false);
    expect(isOverdue(reminder({ next_at: "2026-11-30T09:00:00Z" }), now)).toBe(false);
  });

  it("offers snoozes from now", () => {
    const choices = snoozeChoices(now);
    expect(choices.map((c) => c.label)).toEqual(["15 minutes", "1 hour", "Tomorrow 9:00"]);
    expect(choices[0].until).toBeNull();
    expect(choices[1].until).toBe("2026-11-30T09:30:00.000Z");
    const tomorrow = new Date(choices[2].until!);
    expect(tomorrow.getHours()).toBe(9);
    expect(tomorrow.getTime()).toBeGreaterThan(now.getTime());
  });

  it("routes a notification click to the linked record, else to the reminders", () => {
    expect(routeForTarget({ kind: "contact", id: "c1" })).toEqual({ name: "contact", id: "c1" });
    expect(routeForTarget({ kind: "deal", id: "d1" })).toEqual({ name: "deal", id: "d1" });
    expect(routeForTarget({ kind: "ticket", id: "t1" })).toEqual({ name: "ticket", id: "t1" });
    expect(routeForTarget({ kind: "reminder", id: "r1" })).toEqual({ name: "reminders" });
    expect(routeForTarget(null)).toEqual({ name: "reminders" });
  });
});

describe("reminders route", () => {
  it("has its own hash and sidebar section", () => {
    expect(href({ name: "reminders" })).toBe("#/reminders");
    expect(parseRoute("#/reminders")).toEqual({ name: "reminders" });
    expect(sectionOf({ name: "reminders" })).toBe("reminders");
  });
});
