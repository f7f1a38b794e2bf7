// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
import type { EmailEntry } from "./EmailEntry";
import type { LifecycleStage } from "./LifecycleStage";
import type { PhoneEntry } from "./PhoneEntry";

export type ContactInput = {
  first_name: string | null;
  last_name: string | null;
  display_name: string | null;
  title: string | null;
  company_id: string | null;
  company_name: string | null;
  lifecycle_stage: LifecycleStage;
  owner: string | null;
  source: string | null;
  notes: string | null;
  emails: EmailEntry[];
  phones: PhoneEntry[];
  tags: string[];
};
