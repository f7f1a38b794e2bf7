// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
export type CompanyInput = {
  name: string;
  domain: string | null;
  industry: string | null;
  size: string | null;
  street: string | null;
  city: string | null;
  region: string | null;
  postal_code: string | null;
  country: string | null;
};
