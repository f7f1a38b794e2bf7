// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
export type Tag = { id: string; name: string; color: string | null; contact_count: number };
