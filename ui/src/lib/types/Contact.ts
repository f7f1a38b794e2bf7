// Hand-written from docs/contract-foundation.md; replaced by the ts-rs output of hub-core (same names).
import type { CompanyRef } from "./CompanyRef";
import type { EmailEntry } from "./EmailEntry";
import type { LifecycleStage } from "./LifecycleStage";
import type { PhoneEntry } from "./PhoneEntry";

export type Contact = {
  id: string;
  first_name: string | null;
  last_name: string | null;
  display_name: string;
  title: string | null;
  company: CompanyRef | null;
  lifecycle_stage: LifecycleStage;
  owner: string | null;
  source: string | null;
  notes: string | null;
  emails: EmailEntry[];
  phones: PhoneEntry[];
  tags: string[];
  created_at: string;
  updated_at: string;
};
