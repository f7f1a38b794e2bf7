import { describe, expect, it } from "vitest";
import {
  condFromJson,
  describeTriggers,
  condToJson,
  describeRule,
  emptyBuilder,
  fromRule,
  isEmpty,
  newCond,
  newGroup,
  newRow,
  toRule,
  type Builder,
  type Cond,
} from "./rule";

/** The model without its editor keys, to compare. */
function shape(b: Builder | null) {
  if (!b) return null;
  return {
    match: b.match,
    items: b.items.map((i) => ("rows" in i ? { match: i.match, rows: i.rows.map((r) => r.cond) } : i.cond)),
  };
}

describe("toRule", () => {
  it("writes each condition in the documented format", () => {
    const rows: [Cond, unknown][] = [
      [{ kind: "field", field: "email", op: "contains", value: "@acme.com" }, { field: "email", op: "contains", value: "@acme.com" }],
      [{ kind: "field", field: "title", op: "is_set", value: "ignored" }, { field: "title", op: "is_set" }],
      [{ kind: "stage", stages: ["customer"] }, { lifecycle_stage: "customer" }],
      [{ kind: "stage", stages: ["lead", "prospect"] }, { lifecycle_stage: ["lead", "prospect"] }],
      [{ kind: "tag", tag: "VIP", negate: false }, { tag: "VIP" }],
      [{ kind: "tag", tag: "VIP", negate: true }, { not: { tag: "VIP" } }],
      [
        { kind: "event", event: "Order Completed", atLeast: 3, days: 30, negate: false },
        { event: "Order Completed", at_least: 3, in_last_days: 30 },
      ],
      [{ kind: "event", event: "Signed Up", atLeast: 1, days: null, negate: true }, { not: { event: "Signed Up" } }],
      [{ kind: "visited", path: "/pricing*", match: "glob", days: 7, negate: false }, { visited: "/pricing*", in_last_days: 7 }],
      [{ kind: "visited", path: "/docs/", match: "prefix", days: null, negate: false }, { visited: "/docs/", match: "prefix" }],
      [{ kind: "last_seen", days: 14 }, { last_seen_more_than_days: 14 }],
      [{ kind: "consent", purpose: "email_marketing", status: "granted" }, { consent: "email_marketing" }],
      [{ kind: "consent", purpose: "sale", status: "none" }, { consent: "sale", status: "none" }],
    ];
    for (const [cond, json] of rows) expect(condToJson(cond)).toEqual(json);
  });

  it("wraps rows and groups in the root's all/any", () => {
    const group = newGroup("any");
    group.rows = [
      { id: 1, cond: { kind: "tag", tag: "A", negate: false } },
      { id: 2, cond: { kind: "tag", tag: "B", negate: false } },
    ];
    const b: Builder = { match: "all", items: [{ id: 3, cond: { kind: "last_seen", days: 5 } }, group] };
    expect(toRule(b)).toEqual({ all: [{ last_seen_more_than_days: 5 }, { any: [{ tag: "A" }, { tag: "B" }] }] });
  });

  it("knows when there is nothing to evaluate", () => {
    expect(isEmpty({ match: "all", items: [] })).toBe(true);
    const g = newGroup();
    g.rows = [];
    expect(isEmpty({ match: "all", items: [g] })).toBe(true);
    expect(isEmpty(emptyBuilder())).toBe(false);
  });
});

describe("fromRule", () => {
  it("reads back every rule the editor writes", () => {
    const kinds = ["field", "stage", "tag", "event", "visited", "last_seen", "consent"] as const;
    const g = newGroup("any");
    g.rows = [newRow("event"), newRow("visited")];
    (g.rows[0].cond as { event: string }).event = "Order Completed";
    const b: Builder = { match: "any", items: [...kinds.map((k) => newRow(k)), g] };
    expect(shape(fromRule(toRule(b)))).toEqual(shape(b));
    expect(shape(fromRule(JSON.parse(JSON.stringify(toRule(b)))))).toEqual(shape(b));
  });

  it("accepts a single condition as the whole rule", () => {
    expect(shape(fromRule({ tag: "VIP" }))).toEqual({ match: "all", items: [{ kind: "tag", tag: "VIP", negate: false }] });
  });

  it("reads the field form of the lifecycle stage", () => {
    expect(condFromJson({ field: "lifecycle_stage", op: "in", value: ["lead", "Prospect"] })).toEqual({
      kind: "stage",
      stages: ["lead", "prospect"],
    });
    expect(condFromJson({ field: "stage", value: "customer" })).toEqual({ kind: "stage", stages: ["customer"] });
  });

  it("leaves to the JSON editor what it cannot show", () => {
    expect(fromRule({ all: [{ event: "Order Completed", where: [{ property: "total", op: "gt", value: 100 }] }] })).toBeNull();
    expect(fromRule({ all: [{ any: [{ all: [{ tag: "x" }] }] }] })).toBeNull();
    expect(fromRule({ deal: { status: "won" } })).toBeNull();
    expect(fromRule({ custom_field: "plan", value: "pro" })).toBeNull();
    expect(fromRule({ field: "email", op: "in", value: ["a@b.c"] })).toBeNull();
    expect(fromRule({ not: { last_seen_more_than_days: 3 } })).toBeNull();
    expect(fromRule({ not: { not: { tag: "x" } } })).toBeNull();
    expect(fromRule({ tag: "x", typo: 1 })).toBeNull();
    expect(fromRule({ event: "x", at_least: 1.5 })).toBeNull();
    expect(fromRule({ consent: "email_marketing", status: ["denied", "revoked"] })).toBeNull();
    expect(fromRule({ lifecycle_stage: "astronaut" })).toBeNull();
    expect(fromRule("nonsense")).toBeNull();
    expect(fromRule(null)).toBeNull();
  });

  it("gives new rows fresh keys", () => {
    const b = fromRule({ all: [{ tag: "a" }, { tag: "b" }] })!;
    expect(new Set(b.items.map((i) => i.id)).size).toBe(2);
    expect(newCond("event")).toEqual({ kind: "event", event: "", atLeast: 1, days: 30, negate: false });
  });
});

describe("describeRule", () => {
  it("says a rule in words", () => {
    expect(
      describeRule({
        all: [
          { event: "Order Completed", at_least: 2, in_last_days: 30 },
          { any: [{ tag: "VIP" }, { not: { visited: "/cancel" } }] },
        ],
      }),
    ).toBe("Did “Order Completed” at least 2 times in the last 30 days and (has tag “VIP” or did not visit /cancel)");
    expect(describeRule({ consent: "sale", status: "denied" })).toBe("Sale of data consent denied");
    expect(describeRule({ field: "created_at", op: "gte", value: "2026-01-01" })).toBe("Created on or after “2026-01-01”");
    expect(describeRule({ deal: {} })).toBe("Custom rule (JSON)");
    expect(describeRule({ visited: "/docs/", match: "prefix", in_last_days: 1 })).toBe("Visited a page under /docs/ in the last day");
  });
});

describe("describeTriggers", () => {
  it("says what happens on entry", () => {
    expect(describeTriggers({ reminder: { title: "Call {name}", due_in_days: 1 }, set_lifecycle_stage: "prospect" })).toBe(
      "On entry: a reminder “Call {name}” due in 1 day; stage set to prospect",
    );
    expect(describeTriggers({ reminder: { title: "Welcome" } })).toBe("On entry: a reminder “Welcome” due at once");
    expect(describeTriggers(null)).toBeNull();
    expect(describeTriggers({})).toBeNull();
  });
});
