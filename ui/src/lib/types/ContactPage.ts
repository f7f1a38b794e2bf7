// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
import type { ContactSummary } from "./ContactSummary";

export type ContactPage = { total: number; items: ContactSummary[] };
