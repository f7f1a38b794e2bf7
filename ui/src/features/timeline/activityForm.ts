// The "Log call / email / meeting / note" form and the timeline's lines as
// pure functions, unit-tested: what the form submits, how a duration is
// read, how each entry reads in one line.
import type { Activity } from "../../lib/types/Activity";
import type { BehaviourEvent } from "../../lib/types/BehaviourEvent";
import type { ActivityInput } from "../../lib/types/ActivityInput";
import type { ActivityKind } from "../../lib/types/ActivityKind";
import type { CallOutcome } from "../../lib/types/CallOutcome";
import type { Direction } from "../../lib/types/Direction";
import type { EntryKind } from "../../lib/types/EntryKind";
import type { TimelineEntry } from "../../lib/types/TimelineEntry";

export const KIND_LABELS: Record<ActivityKind, string> = {
  call: "Call",
  email: "Email",
  meeting: "Meeting",
  note: "Note",
};

export const OUTCOME_LABELS: Record<CallOutcome, string> = {
  connected: "Connected",
  no_answer: "No answer",
  left_voicemail: "Left voicemail",
  busy: "Busy",
  wrong_number: "Wrong number",
};

/** The timeline's filter chips: each a set of entry kinds (empty: all). */
export const FILTERS: { label: string; kinds: EntryKind[] }[] = [
  { label: "All", kinds: [] },
  { label: "Calls", kinds: ["call"] },
  { label: "Emails", kinds: ["email"] },
  { label: "Meetings", kinds: ["meeting"] },
  { label: "Notes", kinds: ["note"] },
  { label: "Tickets", kinds: ["ticket_opened", "ticket_closed", "ticket_comment"] },
  { label: "Deals", kinds: ["stage_change"] },
  { label: "Behaviour", kinds: ["page_view", "screen_view", "event", "identified", "group", "alias"] },
  { label: "Segments", kinds: ["segment_entered", "segment_exited"] },
];

export type ActivityForm = {
  kind: ActivityKind;
  /** `YYYY-MM-DDTHH:MM` from `<input type="datetime-local">`, this computer's zone. */
  at: string;
  /** `at` as the form opened: left alone, `keepAt` is sent instead. */
  initialAt: string;
  /** The exact time to send when `at` is left alone: an edited activity's own; null (now) for a new one. */
  keepAt: string | null;
  direction: Direction;
  /** As typed: `5m`, `1h30m`, `1:30:00`, `90` (seconds); empty for none. */
  duration: string;
  outcome: CallOutcome | "";
  subject: string;
  body: string;
  location: string;
};

const pad = (n: number) => String(n).padStart(2, "0");

/** `date` as a datetime-local value in this computer's zone. */
export function localInputValue(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

export function emptyActivityForm(kind: ActivityKind, now: Date): ActivityForm {
  return {
    kind,
    at: localInputValue(now),
    initialAt: localInputValue(now),
    keepAt: null,
    direction: "outbound",
    duration: "",
    outcome: kind === "call" ? "connected" : "",
    subject: "",
    body: "",
    location: "",
  };
}

/** The form for editing a logged activity; saving keeps its links. */
export function activityFormOf(a: Activity): ActivityForm {
  const at = localInputValue(new Date(a.occurred_at));
  return {
    kind: a.kind,
    at,
    initialAt: at,
    keepAt: a.occurred_at,
    direction: a.direction ?? "outbound",
    duration: a.duration_s === null ? "" : formatDuration(a.duration_s).replace(/ /g, ""),
    outcome: a.outcome ?? "",
    subject: a.subject ?? "",
    body: a.body ?? "",
    location: a.location ?? "",
  };
}

export function linksOf(a: Activity): Links {
  return { contactId: a.contact?.id ?? null, companyId: a.company?.id ?? null, dealId: a.deal?.id ?? null };
}

/**
 * Seconds from what people type: `90`, `45s`, `5m`, `1h30m`, `1h 30m`,
 * `1:30:00`, `5:30`. `null` for blank; `NaN` when it cannot be read.
 */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (!t) return null;
  if (/^\d+$/.test(t)) return Number(t);
  if (/^\d+(:[0-5]?\d){1,2}$/.test(t)) {
    return t.split(":").reduce((acc, part) => acc * 60 + Number(part), 0);
  }
  const re = /(\d+)\s*([hms])\s*/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
    consumed = re.lastIndex;
  }
  return consumed === t.length && consumed > 0 ? total : NaN;
}

/** `1h 30m`, `5m 30s`, `45s`. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(" ");
}

export type Links = { contactId: string | null; companyId: string | null; dealId: string | null };

/**
 * What the form submits, or the form's own field errors (a duration that
 * cannot be read, a time that is not one). hub-core checks the rest.
 */
export function toActivityInput(
  form: ActivityForm,
  links: Links,
): { input: ActivityInput } | { errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const takesDirection = form.kind === "call" || form.kind === "email";
  const takesDuration = form.kind === "call" || form.kind === "meeting";
  const duration = takesDuration ? parseDuration(form.duration) : null;
  if (duration !== null && Number.isNaN(duration)) {
    errors.duration_s = "Type a duration such as 5m, 1h30m or 1:30:00";
  }
  const at = new Date(form.at);
  if (!form.at || Number.isNaN(at.getTime())) errors.occurred_at = "Pick a date and time";
  if (Object.keys(errors).length) return { errors };
  // The input has minutes only: an untouched time is sent as it was (a new
  // activity's "now" as none, so the core stamps the real moment and the entry
  // sorts after what came before it; an edited one's own time to the millisecond).
  const occurredAt = form.at === form.initialAt ? form.keepAt : at.toISOString();
  const text = (s: string) => (s.trim() ? s.trim() : null);
  return {
    input: {
      kind: form.kind,
      contact_id: links.contactId,
      company_id: links.companyId,
      deal_id: links.dealId,
      occurred_at: occurredAt,
      direction: takesDirection ? form.direction : null,
      duration_s: duration,
      outcome: form.kind === "call" && form.outcome ? form.outcome : null,
      subject: form.kind === "note" ? null : text(form.subject),
      body: form.body.trim() ? form.body : null,
      location: form.kind === "meeting" ? text(form.location) : null,
    },
  };
}

/** "Outbound call · Connected · 5m 30s": an activity's headline. */
export function activityHeadline(a: Activity): string {
  const parts: string[] = [];
  const kind = KIND_LABELS[a.kind];
  parts.push(a.direction ? `${a.direction === "inbound" ? "Inbound" : "Outbound"} ${kind.toLowerCase()}` : kind);
  if (a.outcome) parts.push(OUTCOME_LABELS[a.outcome]);
  if (a.duration_s !== null) parts.push(formatDuration(a.duration_s));
  if (a.subject) parts.push(a.subject);
  if (a.location) parts.push(`at ${a.location}`);
  return parts.join(" · ");
}

/** One line for any timeline entry. */
export function entryHeadline(e: TimelineEntry): string {
  const d = e.detail;
  switch (d.type) {
    case "activity":
      return activityHeadline(d.activity);
    case "ticket":
      return e.kind === "ticket_closed"
        ? `Ticket ${d.ticket.status}: ${d.ticket.subject}`
        : `Ticket opened: ${d.ticket.subject}`;
    case "comment":
      return `${d.comment.author ?? "Someone"} commented on “${d.ticket_subject}”`;
    case "stage_change": {
      const to = d.change.to_stage?.name ?? "?";
      return d.change.from_stage
        ? `${d.change.deal.name}: ${d.change.from_stage.name} → ${to}`
        : `${d.change.deal.name} created in ${to}`;
    }
    case "event":
      return behaviourHeadline(e.kind, d.event);
    case "segment":
      return `${e.kind === "segment_entered" ? "Entered" : "Left"} segment “${d.segment.name}”${
        d.segment.deleted ? " (deleted)" : ""
      }`;
  }
}

/** "Viewed /pricing", "Order Completed", "Identified as u-123": a tracked event's line. */
function behaviourHeadline(kind: EntryKind, ev: BehaviourEvent): string {
  switch (kind) {
    case "page_view":
      return `Viewed ${ev.name ?? ev.path ?? "a page"}${ev.name && ev.path ? ` (${ev.path})` : ""}`;
    case "screen_view":
      return `Opened screen ${ev.name ?? ""}`.trim();
    case "identified":
      return `Identified${ev.user_id ? ` as ${ev.user_id}` : ""}`;
    case "group":
      return "Joined a group";
    case "alias":
      return "Profiles linked (alias)";
    default:
      return ev.name ?? ev.call;
  }
}

/** The entry's longer text, if any (a call's notes, a comment). */
export function entryBody(e: TimelineEntry): string | null {
  const d = e.detail;
  if (d.type === "activity") return d.activity.body;
  if (d.type === "comment") return d.comment.body;
  if (d.type === "ticket" && e.kind === "ticket_opened") return d.ticket.description;
  return null;
}
