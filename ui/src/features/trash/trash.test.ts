import { describe, expect, it } from "vitest";
import { editedFields, fieldLabel, itemLabel, kindName, restoredRoute, TRASH_KINDS } from "./trash";

describe("trash", () => {
  it("names every kind hub-core can trash, and falls back for others", () => {
    expect(TRASH_KINDS.map((k) => k.entity)).toEqual(["contact", "company", "deal", "ticket", "reminder", "activity"]);
    expect(kindName("company")).toBe("Company");
    expect(kindName("activity")).toBe("Activity");
    expect(kindName("custom_thing")).toBe("Custom thing");
    expect(kindName("")).toBe("");
  });

  it("turns field names into words", () => {
    expect(fieldLabel("company_id")).toBe("Company");
    expect(fieldLabel("stay_in_touch_days")).toBe("Stay in touch days");
    expect(fieldLabel("notes")).toBe("Notes");
  });

  it("lists the fields edited after the delete, in order", () => {
    expect(editedFields({ edited_after_delete: [] })).toBe("");
    expect(editedFields({ edited_after_delete: ["title", "company_id"] })).toBe("Title, Company");
  });

  it("names a record with no name by its kind", () => {
    expect(itemLabel({ entity: "deal", label: "Renewal" })).toBe("Renewal");
    expect(itemLabel({ entity: "deal", label: "  " })).toBe("Unnamed deal");
  });

  it("links a restored record to its own screen where it has one", () => {
    expect(restoredRoute({ entity: "contact", id: "c1" })).toEqual({ name: "contact", id: "c1" });
    expect(restoredRoute({ entity: "company", id: "k1" })).toEqual({ name: "company", id: "k1" });
    expect(restoredRoute({ entity: "deal", id: "d1" })).toEqual({ name: "deal", id: "d1" });
    expect(restoredRoute({ entity: "ticket", id: "t1" })).toEqual({ name: "ticket", id: "t1" });
    expect(restoredRoute({ entity: "reminder", id: "r1" })).toEqual({ name: "reminders" });
    expect(restoredRoute({ entity: "activity", id: "a1" })).toBeNull();
  });
});
