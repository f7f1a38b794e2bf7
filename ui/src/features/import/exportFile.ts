// Pure helpers of the export dialog: file names and extensions per format,
// and what a list screen's export covers.
import { formatCount } from "../../lib/format/display";
import type { Filter } from "../../lib/types/Filter";
import type { Sort } from "../../lib/types/Sort";

export type ExportFormat = "csv" | "excel" | "vcard" | "ics" | "json";

export const FORMAT_LABELS: Record<ExportFormat, string> = {
  csv: "CSV",
  excel: "CSV for Excel",
  vcard: "vCard (.vcf)",
  ics: "iCalendar (.ics)",
  json: "JSON (everything)",
};

export function extensionOf(format: ExportFormat): string {
  switch (format) {
    case "vcard":
      return "vcf";
    case "ics":
      return "ics";
    case "json":
      return "json";
    default:
      return "csv";
  }
}

/** `contacts-2026-11-29.csv`; a view's name is made file-safe. */
export function exportFileName(what: string, format: ExportFormat, today: Date): string {
  const day = [
    today.getFullYear(),
    String(today.getMonth() + 1).padStart(2, "0"),
    String(today.getDate()).padStart(2, "0"),
  ].join("-");
  const base =
    what
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, "-")
      .replace(/^-+|-+$/g, "") || "export";
  return `${base}-${day}.${extensionOf(format)}`;
}

/** The same path with the format's extension (a known one replaced, else added). */
export function withExtension(path: string, format: ExportFormat): string {
  const ext = extensionOf(format);
  const trimmed = path.trim();
  if (!trimmed) return trimmed;
  const known = /\.(csv|vcf|ics|json)$/i;
  return known.test(trimmed) ? trimmed.replace(known, `.${ext}`) : `${trimmed}.${ext}`;
}


/** What a list screen's Export writes, and how the dialog says it. */
export type ListExportSpec = { filter: Filter | null; sort: Sort | null; description: string };

/**
 * A list screen's export: its field filter or saved view if one shows,
 * else its tag filter, else everything. The search box is not a filter
 * the export knows (it matches word prefixes across fields): say so.
 */
export function listExport(
  plural: string,
  fieldFilter: { filter: Filter; sort: Sort | null } | null,
  tag: string,
  search: string,
  total: number | null,
): ListExportSpec {
  const searchNote = search.trim() ? ` The search “${search.trim()}” is not applied to exports.` : "";
  if (fieldFilter) {
    return {
      filter: fieldFilter.filter,
      sort: fieldFilter.sort,
      description: `The ${plural} of the filter or view on screen, in its order, with every field.${searchNote}`,
    };
  }
  if (tag) {
    return {
      filter: { conditions: [{ field: "tag", op: "has_tag", value: tag }] },
      sort: null,
      description: `The ${plural} with the tag ${tag}, with every field.${searchNote}`,
    };
  }
  const all = total === null ? `All ${plural}` : `All ${plural} (${formatCount(total)})`;
  return { filter: null, sort: null, description: `${all}, with every field.${searchNote}` };
}
