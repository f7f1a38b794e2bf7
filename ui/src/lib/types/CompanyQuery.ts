// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
export type CompanyQuery = { search: string | null; offset: number; limit: number };
