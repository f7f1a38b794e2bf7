import { describe, expect, it } from "vitest";
import type { FieldChoice } from "../../lib/types/FieldChoice";
import { mergeTitle, movesText, pairKey, picks, reasonText, takenFields, visibleFields } from "./duplicates";

const field = (f: Partial<FieldChoice>): FieldChoice => ({
  field: "title",
  label: "Title",
  keep: null,
  other: null,
  winner: "keep",
  differs: false,
  ...f,
});

describe("duplicates words", () => {
  it("describes each reason", () => {
    expect(reasonText({ kind: "same_email", email: "a@x.com" })).toBe("Same email a@x.com");
    expect(reasonText({ kind: "same_phone", phone: "+14155552671" })).toBe("Same phone +14155552671");
    expect(reasonText({ kind: "same_domain", domain: "x.com" })).toBe("Same domain x.com");
    expect(reasonText({ kind: "similar_name", similarity: 0.942 })).toBe("Similar name (94%)");
    expect(reasonText({ kind: "similar_name", similarity: 1 })).toBe("Same name");
  });

  it("counts what moves in words", () => {
    expect(movesText([])).toBe("");
    expect(
      movesText([
        { what: "emails", count: 1 },
        { what: "activities", count: 1 },
        { what: "deals", count: 3 },
      ]),
    ).toBe("1 email, 1 activity, 3 deals");
  });

  it("shows fields with a value and sends every differing pick", () => {
    const fields = [
      field({ field: "title", keep: null, other: "CTO", winner: "other", differs: true }),
      field({ field: "notes" }),
      field({ field: "display_name", keep: "Ann", other: "Anne", winner: "keep", differs: true }),
      field({ field: "owner", keep: "me", other: "me" }),
    ];
    expect(visibleFields(fields).map((f) => f.field)).toEqual(["title", "display_name", "owner"]);
    expect(picks(fields, { display_name: "other" })).toEqual({ title: "other", display_name: "other" });
  });

  it("names merges and pairs", () => {
    expect(mergeTitle({ loser_name: "Jon", survivor_name: "John" })).toBe("Jon → John");
    expect(mergeTitle({ loser_name: "", survivor_name: "John" })).toBe("Unnamed → John");
    expect(takenFields({ choices: { title: "other", source: "keep", company_id: "other", "custom.budget": "other" } })).toEqual([
      "title",
      "company",
      "budget",
    ]);
    expect(
      pairKey({
        kind: "contact",
        a: { id: "1", name: "", detail: null, created_at: null },
        b: { id: "2", name: "", detail: null, created_at: null },
      }),
    ).toBe("contact/1/2");
  });
});
