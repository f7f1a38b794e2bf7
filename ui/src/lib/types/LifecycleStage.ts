// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
export type LifecycleStage = "lead" | "prospect" | "customer" | "churned";
