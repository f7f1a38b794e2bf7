import { describe, expect, it } from "vitest";
import type { Ticket } from "../../lib/types/Ticket";
import { emptyTicketForm, tabQuery, ticketFormOf, toTicketInput } from "./ticketForm";

describe("tabQuery", () => {
  it("maps each tab to its filter", () => {
    expect(tabQuery("active", "me", null).status).toEqual(["open", "pending"]);
    expect(tabQuery("mine", "ann@x.com", null)).toMatchObject({ assignee: "ann@x.com", status: ["open", "pending"] });
    expect(tabQuery("overdue", "me", "urgent")).toMatchObject({ overdue: true, priority: "urgent" });
    expect(tabQuery("done", "me", null).status).toEqual(["resolved", "closed"]);
    expect(tabQuery("all", "me", null).status).toEqual([]);
  });
});

describe("toTicketInput", () => {
  it("submits trimmed optional fields as null", () => {
    const r = toTicketInput({ ...emptyTicketForm(), subject: "Broken", assignee: "  " });
    expect(r).toEqual({
      input: {
        subject: "Broken",
        description: null,
        status: "open",
        priority: "normal",
        contact_id: null,
        company_id: null,
        assignee: null,
        due_at: null,
      },
    });
  });

  it("converts the local due time to UTC and keeps the contact", () => {
    const form = { ...emptyTicketForm({ id: "c1", name: "Ada" }), subject: "x", due: "2026-12-01T09:30" };
    const r = toTicketInput(form, "co1");
    if (!("input" in r)) throw new Error("expected input");
    expect(r.input.due_at).toBe(new Date(2026, 11, 1, 9, 30).toISOString());
    expect(r.input.contact_id).toBe("c1");
    expect(r.input.company_id).toBe("co1");
  });

  it("refuses a contact typed but not picked", () => {
    const form = { ...emptyTicketForm(), subject: "x", contact: { id: null, name: "Ad" } };
    expect(toTicketInput(form)).toEqual({
      errors: { contact_id: "Pick a contact from the list, or clear the field" },
    });
  });

  it("round-trips a stored ticket through the form", () => {
    const t: Ticket = {
      id: "t1",
      subject: "Broken",
      description: "Tray 2",
      status: "pending",
      priority: "high",
      contact: { id: "c1", name: "Ada" },
      company: { id: "co1", name: "Acme" },
      assignee: "me",
      due_at: "2026-12-01T08:30:00.000Z",
      overdue: false,
      created_by: "me",
      created_at: "2026-11-01T08:30:00Z",
      closed_at: null,
      updated_at: "2026-11-01T08:30:00Z",
      comment_count: 0,
    };
    const r = toTicketInput(ticketFormOf(t), t.company?.id ?? null);
    expect(r).toEqual({
      input: {
        subject: "Broken",
        description: "Tray 2",
        status: "pending",
        priority: "high",
        contact_id: "c1",
        company_id: "co1",
        assignee: "me",
        due_at: "2026-12-01T08:30:00.000Z",
      },
    });
  });
});
