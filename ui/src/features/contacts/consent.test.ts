import { describe, expect, it } from "vitest";
import type { ConsentRecord } from "../../lib/types/ConsentRecord";
import type { ContactConsent } from "../../lib/types/ContactConsent";
import { consentActions, sourceLabel, statusLabel } from "./consent";

function record(purpose: ConsentRecord["purpose"], status: ConsentRecord["status"]): ConsentRecord {
  return {
    id: `${purpose}-${status}`,
    contact_id: "c1",
    purpose,
    status,
    source: "manual",
    decided_at: "2026-11-30T10:00:00.000Z",
    recorded_by: "ana",
    evidence: null,
  };
}

function consent(current: ConsentRecord[]): ContactConsent {
  return { contact_id: "c1", current, do_not_sell: false, history: current };
}

describe("consentActions", () => {
  it("lists every purpose in order, nothing recorded meaning not asked", () => {
    const rows = consentActions(consent([]));
    expect(rows.map((r) => r.purpose)).toEqual(["email_marketing", "advertising", "analytics", "sale"]);
    expect(rows.every((r) => r.status === null && r.record === null)).toBe(true);
    expect(rows[0].actions.map((a) => a.status)).toEqual(["granted", "denied"]);
    expect(rows[3].actions.map((a) => a.label)).toEqual(["Grant", "Do not sell"]);
    expect(statusLabel(null)).toBe("Not asked");
  });

  it("offers revoke for a grant and grant for a denial or revocation", () => {
    const rows = consentActions(
      consent([record("email_marketing", "granted"), record("analytics", "denied"), record("sale", "revoked")]),
    );
    const byPurpose = Object.fromEntries(rows.map((r) => [r.purpose, r]));
    expect(byPurpose.email_marketing.actions).toEqual([{ status: "revoked", label: "Revoke" }]);
    expect(byPurpose.email_marketing.record?.recorded_by).toBe("ana");
    expect(byPurpose.analytics.actions).toEqual([{ status: "granted", label: "Grant" }]);
    expect(byPurpose.sale.actions).toEqual([{ status: "granted", label: "Grant" }]);
    expect(byPurpose.advertising.status).toBeNull();
    expect(statusLabel("revoked")).toBe("Revoked");
    expect(sourceLabel("manual")).toBe("Set by hand");
    expect(sourceLabel("tracking")).toBe("Tracking");
  });
});
