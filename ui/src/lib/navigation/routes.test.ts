import { describe, expect, it } from "vitest";
import { href, parseRoute, sectionOf, type Route } from "./routes";

describe("routes", () => {
  const routes: Route[] = [
    { name: "today" },
    { name: "contacts" },
    { name: "contact", id: "0190a1b2-0000-7000-8000-000000000001" },
    { name: "contact-new", companyId: null },
    { name: "contact-new", companyId: "c1" },
    { name: "contact-edit", id: "x" },
    { name: "companies" },
    { name: "company", id: "c1" },
    { name: "company-new" },
    { name: "company-edit", id: "c1" },
    { name: "conflicts" },
    { name: "trash" },
    { name: "import" },
    { name: "deals" },
    { name: "deal", id: "0190a1b2-0000-7000-8000-0000000000dd" },
    { name: "tickets" },
    { name: "ticket", id: "0190a1b2-0000-7000-8000-0000000000aa" },
    { name: "segments" },
    { name: "segment", id: "0190a1b2-0000-7000-8000-0000000000ee" },
    { name: "segment", id: "Big spenders / EU" },
    { name: "segment-new" },
    { name: "segment-edit", id: "0190a1b2-0000-7000-8000-0000000000ee" },
    { name: "reports" },
    { name: "audiences" },
    { name: "settings" },
  ];

  it("round-trips every route through its hash", () => {
    for (const route of routes) expect(parseRoute(href(route))).toEqual(route);
  });

  it("falls back to the contact list for unknown or empty hashes", () => {
    expect(parseRoute("")).toEqual({ name: "today" });
    expect(parseRoute("#/")).toEqual({ name: "today" });
    expect(parseRoute("#/today")).toEqual({ name: "today" });
    expect(parseRoute("#/nowhere/else")).toEqual({ name: "contacts" });
  });

  it("knows which sidebar section a route belongs to", () => {
    expect(sectionOf({ name: "company-edit", id: "c" })).toBe("companies");
    expect(sectionOf({ name: "contact", id: "c" })).toBe("contacts");
    expect(sectionOf({ name: "ticket", id: "t" })).toBe("tickets");
    expect(sectionOf({ name: "deal", id: "d" })).toBe("deals");
    expect(sectionOf({ name: "conflicts" })).toBe("conflicts");
    expect(sectionOf({ name: "trash" })).toBe("trash");
    expect(sectionOf({ name: "settings" })).toBe("settings");
    expect(sectionOf({ name: "segment-edit", id: "s" })).toBe("segments");
    expect(sectionOf({ name: "segments" })).toBe("segments");
  });
});
