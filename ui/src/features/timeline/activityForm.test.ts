import { describe, expect, it } from "vitest";
import type { Activity } from "../../lib/types/Activity";
import type { StageMove } from "../../lib/types/StageMove";
import type { TimelineEntry } from "../../lib/types/TimelineEntry";
import {
  activityFormOf,
  activityHeadline,
  linksOf,
  emptyActivityForm,
  entryHeadline,
  formatDuration,
  parseDuration,
  toActivityInput,
} from "./activityForm";

const links = { contactId: "c1", companyId: null, dealId: null };

describe("parseDuration", () => {
  it("reads what people type", () => {
    expect(parseDuration("90")).toBe(90);
    expect(parseDuration("45s")).toBe(45);
    expect(parseDuration("5m")).toBe(300);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("1h 30m")).toBe(5400);
    expect(parseDuration("1:30:00")).toBe(5400);
    expect(parseDuration("5:30")).toBe(330);
    expect(parseDuration("  ")).toBeNull();
  });
  it("refuses the rest", () => {
    for (const bad of ["abc", "5x", "1:75", "h", "5m x"]) expect(parseDuration(bad)).toBeNaN();
  });
  it("formats back", () => {
    expect(formatDuration(5400)).toBe("1h 30m");
    expect(formatDuration(330)).toBe("5m 30s");
    expect(formatDuration(0)).toBe("0s");
  });
});

describe("toActivityInput", () => {
  const now = new Date(2026, 10, 29, 14, 30);

  it("a call keeps its direction, duration and outcome", () => {
    const form = { ...emptyActivityForm("call", now), duration: "5m", direction: "inbound" as const, body: "Hi\n" };
    const r = toActivityInput(form, links);
    expect("input" in r).toBe(true);
    if (!("input" in r)) return;
    expect(r.input).toMatchObject({
      kind: "call",
      contact_id: "c1",
      direction: "inbound",
      duration_s: 300,
      outcome: "connected",
      body: "Hi\n",
      location: null,
    });
    // Left at "now": the core stamps the moment of saving.
    expect(r.input.occurred_at).toBeNull();
  });

  it("a time the user picked is sent in UTC", () => {
    const r = toActivityInput({ ...emptyActivityForm("email", now), at: "2026-11-02T09:15", subject: "Hi" }, links);
    if (!("input" in r)) throw new Error("expected input");
    expect(r.input.occurred_at).toBe(new Date(2026, 10, 2, 9, 15).toISOString());
  });

  it("a note drops what notes do not have", () => {
    const form = { ...emptyActivityForm("note", now), subject: "x", duration: "5m", body: "Prefers mornings" };
    const r = toActivityInput(form, links);
    if (!("input" in r)) throw new Error("expected input");
    expect(r.input.subject).toBeNull();
    expect(r.input.duration_s).toBeNull();
    expect(r.input.direction).toBeNull();
    expect(r.input.outcome).toBeNull();
  });

  it("an unreadable duration or time is the form's own error", () => {
    const r = toActivityInput({ ...emptyActivityForm("meeting", now), duration: "ages", at: "" }, links);
    expect(r).toEqual({
      errors: {
        duration_s: "Type a duration such as 5m, 1h30m or 1:30:00",
        occurred_at: "Pick a date and time",
      },
    });
  });
});

const activity: Activity = {
  id: "a1",
  kind: "call",
  contact: { id: "c1", name: "Ada" },
  company: null,
  deal: null,
  occurred_at: "2026-11-02T09:00:00Z",
  direction: "inbound",
  duration_s: 330,
  outcome: "left_voicemail",
  subject: null,
  body: "Call back",
  location: null,
  created_by: "me",
  created_at: "2026-11-02T09:00:00Z",
  updated_at: "2026-11-02T09:00:00Z",
};

describe("headlines", () => {
  it("reads an activity in one line", () => {
    expect(activityHeadline(activity)).toBe("Inbound call · Left voicemail · 5m 30s");
    expect(activityHeadline({ ...activity, kind: "note", direction: null, outcome: null, duration_s: null })).toBe(
      "Note",
    );
  });

  it("reads every entry kind", () => {
    const base = { key: "k", at: "2026-11-02T09:00:00Z" };
    const change: StageMove = {
      id: "s",
      deal: { id: "d", name: "Big one" },
      from_stage: { id: "1", name: "Qualified" },
      to_stage: { id: "2", name: "Proposal" },
      changed_by: "me",
    };
    const stage: TimelineEntry = { ...base, kind: "stage_change", detail: { type: "stage_change", change } };
    expect(entryHeadline(stage)).toBe("Big one: Qualified → Proposal");
    const created: TimelineEntry = {
      ...stage,
      detail: { type: "stage_change", change: { ...change, from_stage: null } },
    };
    expect(entryHeadline(created)).toBe("Big one created in Proposal");
    const comment: TimelineEntry = {
      ...base,
      kind: "ticket_comment",
      detail: {
        type: "comment",
        comment: { id: "c", ticket_id: "t", author: "me", body: "Looking", created_at: base.at },
        ticket_subject: "Broken",
      },
    };
    expect(entryHeadline(comment)).toBe("me commented on “Broken”");
    const event = {
      message_id: "m",
      call: "page",
      name: null,
      path: "/pricing",
      user_id: null,
      anonymous_id: "a",
      body: {},
    };
    const view: TimelineEntry = { ...base, kind: "page_view", detail: { type: "event", event } };
    expect(entryHeadline(view)).toBe("Viewed /pricing");
    const track: TimelineEntry = {
      ...base,
      kind: "event",
      detail: { type: "event", event: { ...event, call: "track", name: "Order Completed", path: null } },
    };
    expect(entryHeadline(track)).toBe("Order Completed");
    const identified: TimelineEntry = {
      ...base,
      kind: "identified",
      detail: { type: "event", event: { ...event, call: "identify", user_id: "u-1" } },
    };
    expect(entryHeadline(identified)).toBe("Identified as u-1");
    const entered: TimelineEntry = {
      ...base,
      kind: "segment_entered",
      detail: { type: "segment", segment: { segment_id: "s", name: "Engaged", deleted: false } },
    };
    expect(entryHeadline(entered)).toBe("Entered segment “Engaged”");
    expect(entryHeadline({ ...entered, kind: "segment_exited" })).toBe("Left segment “Engaged”");
  });
});

describe("editing", () => {
  it("a stored activity round-trips through the form, keeping its exact time and links", () => {
    const r = toActivityInput(activityFormOf(activity), linksOf(activity));
    if (!("input" in r)) throw new Error("expected input");
    expect(r.input).toEqual({
      kind: "call",
      contact_id: "c1",
      company_id: null,
      deal_id: null,
      occurred_at: "2026-11-02T09:00:00Z",
      direction: "inbound",
      duration_s: 330,
      outcome: "left_voicemail",
      subject: null,
      body: "Call back",
      location: null,
    });
  });

  it("a time picked in the edit is sent", () => {
    const form = { ...activityFormOf(activity), at: "2026-11-03T10:00" };
    const r = toActivityInput(form, linksOf(activity));
    if (!("input" in r)) throw new Error("expected input");
    expect(r.input.occurred_at).toBe(new Date(2026, 10, 3, 10, 0).toISOString());
  });
});
