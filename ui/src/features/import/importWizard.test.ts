import { describe, expect, it } from "vitest";
import type { CustomField } from "../../lib/types/CustomField";
import { delimiterLabel, formatBytes, kindOf, mappingOf, progressPercent, targetGroups, targetLabel } from "./importWizard";

const field = (entity: "contact" | "company" | "deal", key: string, label: string, deleted = false): CustomField =>
  ({ id: key, entity, key, label, type: "text", options: [], position: 0, deleted }) as unknown as CustomField;

describe("the import wizard", () => {
  it("offers every import field and the live custom fields, grouped", () => {
    const groups = targetGroups([
      field("contact", "budget", "Budget"),
      field("company", "employees", "Employees"),
      field("contact", "old", "Old", true),
    ]);
    const values = groups.flatMap((g) => g.options.map((o) => o.value));
    for (const v of [
      "first_name",
      "email:home",
      "phone:mobile",
      "address:work.postal_code",
      "company",
      "company.domain",
      "deal.amount",
      "tags",
      "custom:budget",
      "company.custom:employees",
    ]) {
      expect(values).toContain(v);
    }
    expect(values).not.toContain("custom:old");
    expect(groups.some((g) => g.label === "Deal custom fields")).toBe(false);
    expect(targetLabel(groups, "email:home")).toBe("Email (home)");
    expect(targetLabel(groups, "custom:budget")).toBe("Budget");
    expect(targetLabel(groups, null)).toBe("Skip");
    expect(targetLabel(groups, "something:new")).toBe("something:new");
  });

  it("reads the file's kind, delimiter, size and progress", () => {
    expect(kindOf("/tmp/Contacts.VCF")).toBe("vcard");
    expect(kindOf("/tmp/export.csv")).toBe("csv");
    expect(kindOf("/tmp/list.txt")).toBe("csv");
    expect(delimiterLabel(";")).toBe("semicolon");
    expect(delimiterLabel("\t")).toBe("tab");
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(null)).toBe("");
    const p = { records: 10, created: 1, updated: 0, skipped: 0, errors: 0, bytes_read: 50, bytes_total: 200 };
    expect(progressPercent(p as never)).toBe(25);
    expect(progressPercent({ ...p, bytes_total: null } as never)).toBeNull();
    expect(progressPercent(null)).toBeNull();
  });

  it("sends the target of every column, skips included", () => {
    const preview = {
      file_name: "a.csv",
      encoding: "utf8" as const,
      delimiter: ",",
      rows: [],
      bytes: 10,
      columns: [
        { column: "Email", target: "email:work", example: "a@b.c" },
        { column: "Fax", target: null, example: null },
      ],
    };
    expect(mappingOf(preview)).toEqual({ Email: "email:work", Fax: null });
  });
});
