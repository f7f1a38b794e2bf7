// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
export type ContactQuery = {
  search: string | null;
  tag: string | null;
  company_id: string | null;
  offset: number;
  limit: number;
};
