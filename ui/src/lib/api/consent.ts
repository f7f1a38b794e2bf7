import type { ConsentPurpose } from "../types/ConsentPurpose";
import type { ConsentStatus } from "../types/ConsentStatus";
import type { ContactConsent } from "../types/ContactConsent";
import { call } from "./ipc";

/** The decision in force per purpose, do-not-sell and the whole history. */
export function contactConsent(contact: string): Promise<ContactConsent> {
  return call("contact_consent", { contact });
}

/** Record a decision taken now (source: manual). Denying a granted purpose records `revoked`. */
export function setConsent(
  contact: string,
  purpose: ConsentPurpose,
  status: ConsentStatus,
  evidence?: string | null,
): Promise<ContactConsent> {
  return call("set_consent", { contact, purpose, status, evidence: evidence ?? null });
}
