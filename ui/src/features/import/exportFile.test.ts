import { describe, expect, it } from "vitest";
import { exportFileName, listExport, withExtension } from "./exportFile";

describe("export file names", () => {
  const day = new Date(2026, 10, 9);

  it("names the file after what is exported and the day", () => {
    expect(exportFileName("contacts", "csv", day)).toBe("contacts-2026-11-09.csv");
    expect(exportFileName("Hot leads (Q4)!", "excel", day)).toBe("hot-leads-q4-2026-11-09.csv");
    expect(exportFileName("Zoë's Kunden", "vcard", day)).toBe("zoë-s-kunden-2026-11-09.vcf");
    expect(exportFileName("  ", "json", day)).toBe("export-2026-11-09.json");
  });

  it("switches a known extension and adds a missing one", () => {
    expect(withExtension("/home/a/Downloads/contacts.csv", "vcard")).toBe("/home/a/Downloads/contacts.vcf");
    expect(withExtension("/tmp/list.VCF", "csv")).toBe("/tmp/list.csv");
    expect(withExtension("/tmp/list", "ics")).toBe("/tmp/list.ics");
    expect(withExtension("/tmp/notes.txt", "csv")).toBe("/tmp/notes.txt.csv");
    expect(withExtension("  ", "csv")).toBe("");
  });
});


describe("what a list's export writes", () => {
  it("prefers the field filter, then the tag, then everything", () => {
    const f = { filter: { conditions: [{ field: "budget", op: "gt" as const, value: "10" }] }, sort: null };
    expect(listExport("contacts", f, "VIP", "", 3).filter).toEqual(f.filter);
    const tagged = listExport("contacts", null, "VIP", "", 3);
    expect(tagged.filter).toEqual({ conditions: [{ field: "tag", op: "has_tag", value: "VIP" }] });
    expect(tagged.description).toContain("the tag VIP");
    const all = listExport("contacts", null, "", "", 1234);
    expect(all.filter).toBeNull();
    expect(all.description).toContain("All contacts (1,234)");
    expect(listExport("contacts", null, "", " ada ", 2).description).toContain("search “ada” is not applied");
  });
});
