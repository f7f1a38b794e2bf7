// Pure parts of the import wizard: the fields a column can go to, how the
// detected file format reads, counts, progress, and the mapping sent to
// the import. Unit-tested; the component only wires them up.
import type { CustomField } from "../../lib/types/CustomField";
import type { ImportPreview } from "../../lib/types/ImportPreview";
import type { ImportProgress } from "../../lib/types/ImportProgress";
import type { TextEncoding } from "../../lib/types/TextEncoding";

export type TargetOption = { value: string; label: string };
export type TargetGroup = { label: string; options: TargetOption[] };

const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).replace(/_/g, " ");

const CONTACT: TargetOption[] = [
  { value: "display_name", label: "Full name" },
  { value: "first_name", label: "First name" },
  { value: "last_name", label: "Last name" },
  { value: "title", label: "Job title" },
  { value: "lifecycle_stage", label: "Lifecycle stage" },
  { value: "owner", label: "Owner" },
  { value: "source", label: "Source" },
  { value: "notes", label: "Notes" },
  { value: "birthday", label: "Birthday" },
  { value: "website", label: "Website" },
  { value: "photo", label: "Photo" },
  { value: "tags", label: "Tags" },
];

const EMAIL_KINDS = ["work", "home", "other"];
const PHONE_KINDS = ["mobile", "work", "home", "other"];
const ADDRESS_KINDS = ["home", "work", "other"];
const ADDRESS_PARTS = ["street", "city", "region", "postal_code", "country"];
const COMPANY = ["domain", "industry", "size", "street", "city", "region", "postal_code", "country"];
const DEAL = ["title", "amount", "currency", "stage", "pipeline", "expected_close", "owner", "notes"];

/** Every field a column can be imported into, grouped for a `<select>`. */
export function targetGroups(custom: CustomField[]): TargetGroup[] {
  const customOf = (entity: string, prefix: string): TargetOption[] =>
    custom
      .filter((f) => f.entity === entity && !f.deleted)
      .map((f) => ({ value: `${prefix}${f.key}`, label: f.label }));
  const groups: TargetGroup[] = [
    { label: "Contact", options: CONTACT },
    {
      label: "Email and phone",
      options: [
        ...EMAIL_KINDS.map((k) => ({ value: `email:${k}`, label: `Email (${k})` })),
        ...PHONE_KINDS.map((k) => ({ value: `phone:${k}`, label: `Phone (${k})` })),
      ],
    },
    {
      label: "Address",
      options: ADDRESS_KINDS.flatMap((k) =>
        ADDRESS_PARTS.map((p) => ({ value: `address:${k}.${p}`, label: `${title(k)} address: ${title(p).toLowerCase()}` })),
      ),
    },
    {
      label: "Company",
      options: [
        { value: "company", label: "Company name" },
        ...COMPANY.map((f) => ({ value: `company.${f}`, label: `Company ${title(f).toLowerCase()}` })),
      ],
    },
    {
      label: "Deal",
      options: DEAL.map((f) => ({ value: `deal.${f}`, label: `Deal ${title(f).toLowerCase()}` })),
    },
    { label: "Contact custom fields", options: customOf("contact", "custom:") },
    { label: "Company custom fields", options: customOf("company", "company.custom:") },
    { label: "Deal custom fields", options: customOf("deal", "deal.custom:") },
  ];
  return groups.filter((g) => g.options.length > 0);
}

/** The label of a target text, or the text itself when it is not in the groups. */
export function targetLabel(groups: TargetGroup[], value: string | null): string {
  if (!value) return "Skip";
  for (const g of groups) {
    const o = g.options.find((o) => o.value === value);
    if (o) return o.label;
  }
  return value;
}

export const ENCODING_LABELS: Record<TextEncoding, string> = {
  utf8: "UTF-8",
  "utf8-bom": "UTF-8 with BOM",
  "utf16-le": "UTF-16 (little endian)",
  "utf16-be": "UTF-16 (big endian)",
  windows1252: "Windows-1252 (Latin-1)",
};

export function delimiterLabel(delimiter: string): string {
  switch (delimiter) {
    case ",":
      return "comma";
    case ";":
      return "semicolon";
    case "\t":
      return "tab";
    default:
      return JSON.stringify(delimiter);
  }
}

/** `csv` or `vcard` from the file's extension. */
export function kindOf(path: string): "csv" | "vcard" {
  return /\.(vcf|vcard)$/i.test(path.trim()) ? "vcard" : "csv";
}

/** The mapping of every column of the preview: the wizard sends all of them. */
export function mappingOf(preview: ImportPreview): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const c of preview.columns) out[c.column] = c.target;
  return out;
}

/** 0..100 for the progress bar: bytes when the size is known, else null (indeterminate). */
export function progressPercent(p: ImportProgress | null): number | null {
  if (!p || p.bytes_total === null) return null;
  const total = Number(p.bytes_total);
  if (total <= 0) return null;
  return Math.min(100, Math.round((Number(p.bytes_read) / total) * 100));
}

/** `1.2 MB`. */
export function formatBytes(n: number | null): string {
  if (n === null) return "";
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** u64 counts cross IPC as JSON numbers (the generated types say bigint). */
export function n(value: bigint | number | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}
