// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
import type { Company } from "./Company";

export type CompanyPage = { total: number; items: Company[] };
