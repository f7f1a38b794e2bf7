// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
import type { LifecycleStage } from "./LifecycleStage";

export type ContactSummary = {
  id: string;
  display_name: string;
  title: string | null;
  company_name: string | null;
  email: string | null;
  phone: string | null;
  lifecycle_stage: LifecycleStage;
  tags: string[];
};
