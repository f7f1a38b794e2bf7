// The segment builder's visual model of a rule (docs/segments.md) and its two
// translations: to the JSON rule the core evaluates, and back from a stored
// rule when every part of it has a row in the visual editor (otherwise the
// builder edits the JSON). Pure, unit-tested; the core validates.
import type { ConsentPurpose } from "../../lib/types/ConsentPurpose";
import type { LifecycleStage } from "../../lib/types/LifecycleStage";

export type Match = "all" | "any";

export type FieldOp = "eq" | "ne" | "contains" | "starts_with" | "is_set" | "not_set" | "gt" | "gte" | "lt" | "lte";

export type ConsentState = "granted" | "denied" | "revoked" | "none";

export type PathMatch = "glob" | "prefix" | "exact";

export type Cond =
  | { kind: "field"; field: string; op: FieldOp; value: string }
  | { kind: "stage"; stages: LifecycleStage[] }
  | { kind: "tag"; tag: string; negate: boolean }
  | { kind: "event"; event: string; atLeast: number; days: number | null; negate: boolean }
  | { kind: "visited"; path: string; match: PathMatch; days: number | null; negate: boolean }
  | { kind: "last_seen"; days: number }
  | { kind: "consent"; purpose: ConsentPurpose; status: ConsentState };

export type CondKind = Cond["kind"];

export type Row = { id: number; cond: Cond };
export type SubGroup = { id: number; match: Match; rows: Row[] };
export type Item = Row | SubGroup;
export type Builder = { match: Match; items: Item[] };

export const KINDS: { kind: CondKind; label: string }[] = [
  { kind: "field", label: "Contact field" },
  { kind: "stage", label: "Lifecycle stage" },
  { kind: "tag", label: "Tag" },
  { kind: "event", label: "Did an event" },
  { kind: "visited", label: "Visited a page" },
  { kind: "last_seen", label: "Last seen" },
  { kind: "consent", label: "Consent" },
];

export const FIELDS: { key: string; label: string }[] = [
  { key: "name", label: "Name" },
  { key: "first_name", label: "First name" },
  { key: "last_name", label: "Last name" },
  { key: "email", label: "Email" },
  { key: "phone", label: "Phone" },
  { key: "company", label: "Company" },
  { key: "title", label: "Title" },
  { key: "owner", label: "Owner" },
  { key: "source", label: "Source" },
  { key: "created_at", label: "Created" },
];

export const TEXT_OPS: { op: FieldOp; label: string }[] = [
  { op: "eq", label: "is" },
  { op: "ne", label: "is not" },
  { op: "contains", label: "contains" },
  { op: "starts_with", label: "starts with" },
  { op: "is_set", label: "is set" },
  { op: "not_set", label: "is empty" },
];

export const DATE_OPS: { op: FieldOp; label: string }[] = [
  { op: "gte", label: "on or after" },
  { op: "gt", label: "after" },
  { op: "lt", label: "before" },
  { op: "lte", label: "on or before" },
  { op: "is_set", label: "is set" },
  { op: "not_set", label: "is empty" },
];

export const STAGES: LifecycleStage[] = ["lead", "prospect", "customer", "churned"];

export const PURPOSES: { purpose: ConsentPurpose; label: string }[] = [
  { purpose: "email_marketing", label: "Email marketing" },
  { purpose: "advertising", label: "Advertising" },
  { purpose: "analytics", label: "Analytics" },
  { purpose: "sale", label: "Sale of data" },
];

export const CONSENT_STATES: { status: ConsentState; label: string }[] = [
  { status: "granted", label: "granted" },
  { status: "denied", label: "denied" },
  { status: "revoked", label: "revoked" },
  { status: "none", label: "not asked" },
];

let nextId = 1;
/** A fresh key for a row or group (the editor's `#each` keys). */
export function newId(): number {
  return nextId++;
}

export function opsFor(field: string): { op: FieldOp; label: string }[] {
  return field === "created_at" ? DATE_OPS : TEXT_OPS;
}

export function needsValue(op: FieldOp): boolean {
  return op !== "is_set" && op !== "not_set";
}

/** A new condition of `kind` with sensible defaults. */
export function newCond(kind: CondKind): Cond {
  switch (kind) {
    case "field":
      return { kind, field: "email", op: "contains", value: "" };
    case "stage":
      return { kind, stages: ["customer"] };
    case "tag":
      return { kind, tag: "", negate: false };
    case "event":
      return { kind, event: "", atLeast: 1, days: 30, negate: false };
    case "visited":
      return { kind, path: "", match: "glob", days: 30, negate: false };
    case "last_seen":
      return { kind, days: 30 };
    case "consent":
      return { kind, purpose: "email_marketing", status: "granted" };
  }
}

export function newRow(kind: CondKind = "field"): Row {
  return { id: newId(), cond: newCond(kind) };
}

export function newGroup(match: Match = "any"): SubGroup {
  return { id: newId(), match, rows: [newRow()] };
}

export function emptyBuilder(): Builder {
  return { match: "all", items: [newRow()] };
}

export function isGroup(item: Item): item is SubGroup {
  return "rows" in item;
}

// ---- to the JSON rule ----------------------------------------------------------

export function condToJson(c: Cond): Record<string, unknown> {
  switch (c.kind) {
    case "field": {
      const out: Record<string, unknown> = { field: c.field, op: c.op };
      if (needsValue(c.op)) out.value = c.value;
      return out;
    }
    case "stage":
      return { lifecycle_stage: c.stages.length === 1 ? c.stages[0] : [...c.stages] };
    case "tag":
      return negated({ tag: c.tag }, c.negate);
    case "event": {
      const out: Record<string, unknown> = { event: c.event };
      if (c.atLeast !== 1) out.at_least = c.atLeast;
      if (c.days !== null) out.in_last_days = c.days;
      return negated(out, c.negate);
    }
    case "visited": {
      const out: Record<string, unknown> = { visited: c.path };
      if (c.match !== "glob") out.match = c.match;
      if (c.days !== null) out.in_last_days = c.days;
      return negated(out, c.negate);
    }
    case "last_seen":
      return { last_seen_more_than_days: c.days };
    case "consent":
      return c.status === "granted" ? { consent: c.purpose } : { consent: c.purpose, status: c.status };
  }
}

function negated(node: Record<string, unknown>, negate: boolean): Record<string, unknown> {
  return negate ? { not: node } : node;
}

/** The rule the core stores and evaluates. */
export function toRule(b: Builder): Record<string, unknown> {
  return {
    [b.match]: b.items.map((item) =>
      isGroup(item) ? { [item.match]: item.rows.map((r) => condToJson(r.cond)) } : condToJson(item.cond),
    ),
  };
}

/** True when there is nothing to evaluate yet (no row, or an empty group). */
export function isEmpty(b: Builder): boolean {
  return b.items.length === 0 || b.items.some((i) => isGroup(i) && i.rows.length === 0);
}

// ---- back from a stored rule --------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Obj, allowed: string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k));
}

function whole(v: unknown): number | null | undefined {
  if (v === undefined) return null;
  return typeof v === "number" && Number.isInteger(v) ? v : undefined;
}

const ALL_OPS: FieldOp[] = ["eq", "ne", "contains", "starts_with", "is_set", "not_set", "gt", "gte", "lt", "lte"];

/** One condition the visual editor has a row for, else null. */
export function condFromJson(v: unknown): Cond | null {
  if (!isObj(v)) return null;
  if ("not" in v) {
    if (!onlyKeys(v, ["not"])) return null;
    const inner = condFromJson(v.not);
    if (!inner || !("negate" in inner) || inner.negate) return null;
    return { ...inner, negate: true };
  }
  if ("field" in v) {
    if (!onlyKeys(v, ["field", "op", "value"]) || typeof v.field !== "string") return null;
    const field = v.field;
    if (field === "lifecycle_stage" || field === "stage") {
      const op = v.op ?? "eq";
      if (op === "eq" && typeof v.value === "string") return stageCond([v.value]);
      if (op === "in" && Array.isArray(v.value)) return stageCond(v.value);
      return null;
    }
    if (!FIELDS.some((f) => f.key === field)) return null;
    const op = (v.op ?? "eq") as FieldOp;
    if (!opsFor(field).some((o) => o.op === op) || !ALL_OPS.includes(op)) return null;
    if (needsValue(op)) {
      if (typeof v.value !== "string" && typeof v.value !== "number") return null;
      return { kind: "field", field, op, value: String(v.value) };
    }
    if ("value" in v) return null;
    return { kind: "field", field, op, value: "" };
  }
  if ("lifecycle_stage" in v) {
    if (!onlyKeys(v, ["lifecycle_stage"])) return null;
    const s = v.lifecycle_stage;
    return stageCond(typeof s === "string" ? [s] : Array.isArray(s) ? s : []);
  }
  if ("tag" in v) {
    if (!onlyKeys(v, ["tag"]) || typeof v.tag !== "string") return null;
    return { kind: "tag", tag: v.tag, negate: false };
  }
  if ("event" in v) {
    if (!onlyKeys(v, ["event", "at_least", "in_last_days"]) || typeof v.event !== "string") return null;
    const atLeast = v.at_least === undefined ? 1 : whole(v.at_least);
    const days = whole(v.in_last_days);
    if (atLeast === undefined || atLeast === null || days === undefined) return null;
    return { kind: "event", event: v.event, atLeast, days, negate: false };
  }
  if ("visited" in v) {
    if (!onlyKeys(v, ["visited", "match", "in_last_days", "at_least"]) || typeof v.visited !== "string") return null;
    if (v.at_least !== undefined && v.at_least !== 1) return null;
    const match = (v.match ?? "glob") as PathMatch;
    if (!["glob", "prefix", "exact"].includes(match)) return null;
    const days = whole(v.in_last_days);
    if (days === undefined) return null;
    return { kind: "visited", path: v.visited, match, days, negate: false };
  }
  if ("last_seen_more_than_days" in v) {
    if (!onlyKeys(v, ["last_seen_more_than_days"])) return null;
    const days = whole(v.last_seen_more_than_days);
    if (days === undefined || days === null) return null;
    return { kind: "last_seen", days };
  }
  if ("consent" in v) {
    if (!onlyKeys(v, ["consent", "status"])) return null;
    const purpose = PURPOSES.find((p) => p.purpose === v.consent)?.purpose;
    const status = (v.status ?? "granted") as ConsentState;
    if (!purpose || !CONSENT_STATES.some((s) => s.status === status)) return null;
    return { kind: "consent", purpose, status };
  }
  return null;
}

function stageCond(list: unknown[]): Cond | null {
  const stages = list.map((s) => (typeof s === "string" ? s.toLowerCase() : ""));
  if (!stages.length || !stages.every((s) => (STAGES as string[]).includes(s))) return null;
  return { kind: "stage", stages: stages as LifecycleStage[] };
}

function groupOf(v: unknown): { match: Match; list: unknown[] } | null {
  if (!isObj(v) || Object.keys(v).length !== 1) return null;
  if (Array.isArray(v.all)) return { match: "all", list: v.all };
  if (Array.isArray(v.any)) return { match: "any", list: v.any };
  return null;
}

/**
 * The visual model of a stored rule, or null when some part of it has no row
 * in the visual editor (nested deeper than one group, `where` on events,
 * deals, custom fields, …): the builder then edits the JSON.
 */
export function fromRule(rule: unknown): Builder | null {
  const root = groupOf(rule);
  if (!root) {
    const cond = condFromJson(rule);
    return cond ? { match: "all", items: [{ id: newId(), cond }] } : null;
  }
  const items: Item[] = [];
  for (const entry of root.list) {
    const sub = groupOf(entry);
    if (sub) {
      const rows: Row[] = [];
      for (const c of sub.list) {
        const cond = condFromJson(c);
        if (!cond) return null;
        rows.push({ id: newId(), cond });
      }
      items.push({ id: newId(), match: sub.match, rows });
    } else {
      const cond = condFromJson(entry);
      if (!cond) return null;
      items.push({ id: newId(), cond });
    }
  }
  return { match: root.match, items };
}

// ---- in words ------------------------------------------------------------------------

function days(n: number | null): string {
  if (n === null) return "";
  return n === 1 ? "in the last day" : `in the last ${n} days`;
}

/** One condition in words: "did Order Completed at least 3 times in the last 30 days". */
export function describeCond(c: Cond): string {
  switch (c.kind) {
    case "field": {
      const label = FIELDS.find((f) => f.key === c.field)?.label ?? c.field;
      const op = opsFor(c.field).find((o) => o.op === c.op)?.label ?? c.op;
      return needsValue(c.op) ? `${label} ${op} “${c.value}”` : `${label} ${op}`;
    }
    case "stage":
      return `stage is ${c.stages.join(" or ")}`;
    case "tag":
      return `${c.negate ? "has no tag" : "has tag"} “${c.tag}”`;
    case "event": {
      const times = c.atLeast === 1 ? "" : ` at least ${c.atLeast} times`;
      return `${c.negate ? "did not do" : "did"} “${c.event}”${times} ${days(c.days)}`.trim();
    }
    case "visited": {
      const page = c.match === "prefix" ? `a page under ${c.path}` : c.match === "exact" ? `exactly ${c.path}` : c.path;
      return `${c.negate ? "did not visit" : "visited"} ${page} ${days(c.days)}`.trim();
    }
    case "last_seen":
      return `last seen more than ${c.days} days ago`;
    case "consent": {
      const p = PURPOSES.find((x) => x.purpose === c.purpose)?.label ?? c.purpose;
      const s = CONSENT_STATES.find((x) => x.status === c.status)?.label ?? c.status;
      return `${p} consent ${s}`;
    }
  }
}

/** A stored rule in words, for the list; rules the editor cannot show are summarised as JSON. */
export function describeRule(rule: unknown): string {
  const b = fromRule(rule);
  if (!b) return "Custom rule (JSON)";
  const join = (match: Match, parts: string[]) => parts.join(match === "all" ? " and " : " or ");
  const parts = b.items.map((item) =>
    isGroup(item) ? `(${join(item.match, item.rows.map((r) => describeCond(r.cond)))})` : describeCond(item.cond),
  );
  const text = join(b.match, parts);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A segment's entry triggers in words ("On entry: a reminder “Call {name}” due in 1 day; stage set to prospect"), or null. */
export function describeTriggers(triggers: unknown): string | null {
  if (!isObj(triggers)) return null;
  const parts: string[] = [];
  const r = triggers.reminder;
  if (isObj(r) && typeof r.title === "string") {
    const d = typeof r.due_in_days === "number" ? r.due_in_days : 0;
    parts.push(`a reminder “${r.title}” due ${d === 0 ? "at once" : d === 1 ? "in 1 day" : `in ${d} days`}`);
  }
  if (typeof triggers.set_lifecycle_stage === "string") parts.push(`stage set to ${triggers.set_lifecycle_stage}`);
  return parts.length ? `On entry: ${parts.join("; ")}` : null;
}
