// Audience export wording and file names (pure, unit-tested).
import type { AudienceDestination } from "../../lib/types/AudienceDestination";
import type { AudienceLeftOut } from "../../lib/types/AudienceLeftOut";

export const DESTINATION_LABELS: Record<AudienceDestination, string> = {
  meta: "Meta Custom Audiences",
  google: "Google Ads Customer Match",
  csv: "Email tool (CSV)",
};

/** "3 without consent · 1 do-not-sell · 2 without an email or phone"; "None" when nobody. */
export function leftOutText(l: AudienceLeftOut): string {
  const parts: string[] = [];
  if (Number(l.no_consent) > 0) parts.push(`${l.no_consent} without consent`);
  if (Number(l.do_not_sell) > 0) parts.push(`${l.do_not_sell} do-not-sell`);
  if (Number(l.no_identifier) > 0) parts.push(`${l.no_identifier} without an email or phone`);
  return parts.length ? parts.join(" · ") : "None";
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "segment"
  );
}

function stamp(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function ext(destination: string): string {
  return destination === "meta" ? "json" : "csv";
}

/** `big-spenders-meta-2026-11-30.json` */
export function audienceFileName(segment: string, destination: AudienceDestination, seed: boolean, d: Date): string {
  return `${slug(segment)}-${destination}${seed ? "-seed" : ""}-${stamp(d)}.${ext(destination)}`;
}

/** `big-spenders-meta-removals-2026-11-30.json` */
export function removalFileName(segment: string, destination: string, d: Date): string {
  return `${slug(segment)}-${destination}-removals-${stamp(d)}.${ext(destination)}`;
}

/** Switch the extension when the destination changes, keeping the folder and name. */
export function withDestinationExt(path: string, destination: AudienceDestination): string {
  return path.replace(/\.(json|csv)$/i, "") + "." + ext(destination);
}
