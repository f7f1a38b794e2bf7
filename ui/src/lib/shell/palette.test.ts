import { describe, expect, it } from "vitest";
import { parseRoute } from "../navigation/routes";
import { filterEntries, fuzzyScore, moveSelection, PALETTE_ENTRIES, type PaletteEntry } from "./palette";
import { GO_TO, isPaletteKey } from "./shortcuts";

const labels = (query: string) => filterEntries(PALETTE_ENTRIES, query).map((e) => e.label);

describe("fuzzyScore", () => {
  it("matches letters in order, any case", () => {
    expect(fuzzyScore("dls", "Deals")).not.toBeNull();
    expect(fuzzyScore("DEA", "deals")).not.toBeNull();
    expect(fuzzyScore("sld", "Deals")).toBeNull();
    expect(fuzzyScore("x", "Deals")).toBeNull();
  });

  it("scores a prefix above scattered letters", () => {
    expect(fuzzyScore("con", "Contacts")!).toBeGreaterThan(fuzzyScore("con", "Sync now: connect")!);
  });

  it("an empty query matches everything equally", () => {
    expect(fuzzyScore("", "anything")).toBe(0);
    expect(fuzzyScore("   ", "anything")).toBe(0);
  });
});

describe("filterEntries", () => {
  it("keeps every entry, in order, for an empty query", () => {
    expect(labels("")).toEqual(PALETTE_ENTRIES.map((e) => e.label));
  });

  it("finds screens by a few letters, best first", () => {
    expect(labels("deal")[0]).toBe("Deals");
    expect(labels("dls")[0]).toBe("Deals");
    expect(labels("tod")[0]).toBe("Today");
    expect(labels("tick")[0]).toBe("Tickets");
    expect(labels("set")[0]).toBe("Settings");
    expect(labels("conf")[0]).toBe("Conflicts");
    expect(labels("segm")[0]).toBe("Segments");
  });

  it("finds actions by their words", () => {
    expect(labels("new dea")[0]).toBe("New deal");
    expect(labels("log")[0]).toBe("Log a call");
    expect(labels("sync")[0]).toBe("Sync now");
    expect(labels("new rem")[0]).toBe("New reminder");
    expect(labels("new seg")[0]).toBe("New segment");
  });

  it("finds entries by keywords", () => {
    expect(labels("pipeline")).toContain("Deals");
    expect(labels("kanban")[0]).toBe("Deals");
    expect(labels("help")).toContain("Keyboard shortcuts");
  });

  it("drops what does not match", () => {
    expect(labels("zzz")).toEqual([]);
    expect(labels("qx")).toEqual([]);
  });

  it("breaks ties by the original order", () => {
    const entries: PaletteEntry[] = [
      { id: "a", label: "Alpha", group: "Go to" },
      { id: "b", label: "Alpha", group: "Action" },
    ];
    expect(filterEntries(entries, "alp").map((e) => e.id)).toEqual(["a", "b"]);
  });
});

describe("the palette reaches every screen", () => {
  it("has a go-to entry for every top-level route, and each parses", () => {
    for (const g of GO_TO) {
      const entry = PALETTE_ENTRIES.find((e) => e.id === `go:${g.route.name}`);
      expect(entry, g.label).toBeDefined();
      expect(entry!.hint).toBe(`g ${g.key}`);
      expect(parseRoute(`#/${g.route.name}`)).toEqual(g.route);
    }
  });

  it("has the common actions", () => {
    for (const id of ["new-contact", "new-deal", "new-reminder", "log-call", "sync-now"]) {
      expect(PALETTE_ENTRIES.some((e) => e.id === id), id).toBe(true);
    }
  });

  it("has unique ids and go-to keys", () => {
    expect(new Set(PALETTE_ENTRIES.map((e) => e.id)).size).toBe(PALETTE_ENTRIES.length);
    expect(new Set(GO_TO.map((g) => g.key)).size).toBe(GO_TO.length);
  });
});

describe("moveSelection", () => {
  it("wraps around both ways", () => {
    expect(moveSelection(0, 3, 1)).toBe(1);
    expect(moveSelection(2, 3, 1)).toBe(0);
    expect(moveSelection(0, 3, -1)).toBe(2);
    expect(moveSelection(-1, 3, 1)).toBe(0);
    expect(moveSelection(-1, 3, -1)).toBe(2);
    expect(moveSelection(0, 0, 1)).toBe(-1);
  });
});

describe("isPaletteKey", () => {
  const key = (k: string, mods: Partial<KeyboardEvent> = {}) => ({
    key: k,
    ctrlKey: false,
    metaKey: false,
    altKey: false,
    shiftKey: false,
    ...mods,
  });
  it("is Ctrl+K or Cmd+K only", () => {
    expect(isPaletteKey(key("k", { ctrlKey: true }))).toBe(true);
    expect(isPaletteKey(key("K", { metaKey: true }))).toBe(true);
    expect(isPaletteKey(key("k"))).toBe(false);
    expect(isPaletteKey(key("k", { ctrlKey: true, shiftKey: true }))).toBe(false);
    expect(isPaletteKey(key("j", { ctrlKey: true }))).toBe(false);
  });
});
