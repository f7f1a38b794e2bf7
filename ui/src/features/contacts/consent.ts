// The consent panel's rows: each purpose's decision in force and the buttons
// that make sense from it. Pure, unit-tested.
import type { ConsentPurpose } from "../../lib/types/ConsentPurpose";
import type { ConsentRecord } from "../../lib/types/ConsentRecord";
import type { ConsentSource } from "../../lib/types/ConsentSource";
import type { ConsentStatus } from "../../lib/types/ConsentStatus";
import type { ContactConsent } from "../../lib/types/ContactConsent";

export const PURPOSE_LABELS: Record<ConsentPurpose, string> = {
  email_marketing: "Email marketing",
  advertising: "Advertising",
  analytics: "Analytics",
  sale: "Sale or sharing of data",
};

export const PURPOSE_ORDER: ConsentPurpose[] = ["email_marketing", "advertising", "analytics", "sale"];

export function statusLabel(status: ConsentStatus | null): string {
  switch (status) {
    case "granted":
      return "Granted";
    case "denied":
      return "Denied";
    case "revoked":
      return "Revoked";
    default:
      return "Not asked";
  }
}

export function sourceLabel(source: ConsentSource): string {
  switch (source) {
    case "form":
      return "Form";
    case "import":
      return "Import";
    case "tracking":
      return "Tracking";
    default:
      return "Set by hand";
  }
}

export type ConsentAction = { status: ConsentStatus; label: string };

export type ConsentRow = {
  purpose: ConsentPurpose;
  label: string;
  status: ConsentStatus | null;
  record: ConsentRecord | null;
  actions: ConsentAction[];
};

/**
 * One row per purpose, in order. Nothing recorded: grant or deny. Granted:
 * revoke (the core records a denial of a grant as revoked). Denied or revoked:
 * grant.
 */
export function consentActions(consent: ContactConsent): ConsentRow[] {
  return PURPOSE_ORDER.map((purpose) => {
    const record = consent.current.find((r) => r.purpose === purpose) ?? null;
    const status = record?.status ?? null;
    const actions: ConsentAction[] =
      status === null
        ? [
            { status: "granted", label: "Grant" },
            { status: "denied", label: purpose === "sale" ? "Do not sell" : "Deny" },
          ]
        : status === "granted"
          ? [{ status: "revoked", label: "Revoke" }]
          : [{ status: "granted", label: "Grant" }];
    return { purpose, label: PURPOSE_LABELS[purpose], status, record, actions };
  });
}
