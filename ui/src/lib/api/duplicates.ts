import type { ContactInput } from "../types/ContactInput";
import type { DuplicateMatch } from "../types/DuplicateMatch";
import type { DuplicateScan } from "../types/DuplicateScan";
import type { MergePreview } from "../types/MergePreview";
import type { MergeRecord } from "../types/MergeRecord";
import type { RecordKind } from "../types/RecordKind";
import type { UndoReport } from "../types/UndoReport";
import type { Winner } from "../types/Winner";
import { call } from "./ipc";

/** Likely duplicate pairs of `kind` (both kinds when absent), most certain first; `total` counts them all. */
export function findDuplicates(kind?: RecordKind | null, limit?: number): Promise<DuplicateScan> {
  return call("find_duplicates", { kind: kind ?? null, limit: limit ?? null });
}

/** Contacts sharing an email or phone with one about to be saved (`exclude`: the one being edited). */
export function findContactDuplicates(input: ContactInput, exclude?: string | null): Promise<DuplicateMatch[]> {
  return call("find_contact_duplicates", { input, exclude: exclude ?? null });
}

/** Each field's two values and default pick, and what would move. */
export function previewMerge(
  kind: RecordKind,
  keep: string,
  other: string,
  prefer: Record<string, Winner> = {},
): Promise<MergePreview> {
  return call("preview_merge", { kind, keep, other, prefer });
}

/** Merge `other` into `keep` with the picked values. */
export function mergeRecords(
  kind: RecordKind,
  keep: string,
  other: string,
  prefer: Record<string, Winner>,
): Promise<MergeRecord> {
  return call("merge_records", { kind, keep, other, prefer });
}

/** The merge history, newest first. */
export function listMerges(limit?: number): Promise<MergeRecord[]> {
  return call("list_merges", { limit: limit ?? null });
}

/** Undo a merge: both records and their rows as they were. */
export function undoMerge(id: string): Promise<UndoReport> {
  return call("undo_merge", { id });
}
