// The ticket form and list as pure functions, unit-tested: what the form
// submits, what a ticket's form starts with, which statuses a tab means.
import type { Priority } from "../../lib/types/Priority";
import type { Ticket } from "../../lib/types/Ticket";
import type { TicketInput } from "../../lib/types/TicketInput";
import type { TicketQuery } from "../../lib/types/TicketQuery";
import type { TicketStatus } from "../../lib/types/TicketStatus";

export const STATUS_LABELS: Record<TicketStatus, string> = {
  open: "Open",
  pending: "Pending",
  resolved: "Resolved",
  closed: "Closed",
};

export const PRIORITY_LABELS: Record<Priority, string> = {
  low: "Low",
  normal: "Normal",
  high: "High",
  urgent: "Urgent",
};

export type Tab = "active" | "mine" | "overdue" | "done" | "all";

export const TABS: { tab: Tab; label: string }[] = [
  { tab: "active", label: "Active" },
  { tab: "mine", label: "Assigned to me" },
  { tab: "overdue", label: "Overdue" },
  { tab: "done", label: "Resolved & closed" },
  { tab: "all", label: "All" },
];

/** The list query of a tab; `me` is the current user's name. */
export function tabQuery(tab: Tab, me: string, priority: Priority | null): TicketQuery {
  const base: TicketQuery = {
    status: ["open", "pending"],
    priority,
    assignee: null,
    unassigned: false,
    contact_id: null,
    company_id: null,
    overdue: false,
    offset: 0,
    limit: 500,
  };
  switch (tab) {
    case "active":
      return base;
    case "mine":
      return { ...base, assignee: me };
    case "overdue":
      return { ...base, overdue: true };
    case "done":
      return { ...base, status: ["resolved", "closed"] };
    case "all":
      return { ...base, status: [] };
  }
}

export type TicketForm = {
  subject: string;
  description: string;
  status: TicketStatus;
  priority: Priority;
  contact: { id: string | null; name: string };
  assignee: string;
  /** `YYYY-MM-DDTHH:MM` (datetime-local, this computer's zone) or empty. */
  due: string;
};

const pad = (n: number) => String(n).padStart(2, "0");

function localInputValue(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

export function emptyTicketForm(contact: { id: string; name: string } | null = null): TicketForm {
  return {
    subject: "",
    description: "",
    status: "open",
    priority: "normal",
    contact: contact ?? { id: null, name: "" },
    assignee: "",
    due: "",
  };
}

export function ticketFormOf(t: Ticket): TicketForm {
  return {
    subject: t.subject,
    description: t.description ?? "",
    status: t.status,
    priority: t.priority,
    contact: t.contact ? { id: t.contact.id, name: t.contact.name } : { id: null, name: "" },
    assignee: t.assignee ?? "",
    due: t.due_at ? localInputValue(new Date(t.due_at)) : "",
  };
}

/**
 * What the form submits; `companyId` is kept from the ticket being edited
 * (a new ticket gets the contact's company from hub-core).
 */
export function toTicketInput(
  form: TicketForm,
  companyId: string | null = null,
): { input: TicketInput } | { errors: Record<string, string> } {
  let due: string | null = null;
  if (form.due) {
    const d = new Date(form.due);
    if (Number.isNaN(d.getTime())) return { errors: { due_at: "Pick a date and time" } };
    due = d.toISOString();
  }
  if (form.contact.name.trim() && !form.contact.id) {
    return { errors: { contact_id: "Pick a contact from the list, or clear the field" } };
  }
  return {
    input: {
      subject: form.subject,
      description: form.description.trim() ? form.description : null,
      status: form.status,
      priority: form.priority,
      contact_id: form.contact.name.trim() ? form.contact.id : null,
      company_id: companyId,
      assignee: form.assignee.trim() || null,
      due_at: due,
    },
  };
}
