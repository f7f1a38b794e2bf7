// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
export type StoreInfo = { path: string; device_id: string };
