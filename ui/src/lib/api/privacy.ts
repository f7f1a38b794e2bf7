import type { ErasureSummary } from "../types/ErasureSummary";
import type { SubjectExportSummary } from "../types/SubjectExportSummary";
import { call } from "./ipc";

/** Everything held about a contact (subject-access request), as JSON at `path`. */
export function exportSubject(contact: string, path: string): Promise<SubjectExportSummary> {
  return call("export_subject", { contact, path });
}

/** Erase a contact and everything about them, on every device, for good. */
export function eraseContact(contact: string): Promise<ErasureSummary> {
  return call("erase_contact", { contact });
}
