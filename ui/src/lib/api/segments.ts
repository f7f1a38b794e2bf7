import type { Segment } from "../types/Segment";
import type { SegmentHistoryEntry } from "../types/SegmentHistoryEntry";
import type { SegmentInput } from "../types/SegmentInput";
import type { SegmentMember } from "../types/SegmentMember";
import type { SegmentPreview } from "../types/SegmentPreview";
import { call } from "./ipc";

/** Every live segment by name, with its size. */
export function listSegments(): Promise<Segment[]> {
  return call("list_segments");
}

/** One segment by name or id. */
export function getSegment(which: string): Promise<Segment> {
  return call("get_segment", { which });
}

/** A page of a segment's members, by name. */
export function segmentMembers(which: string, limit: number, offset: number): Promise<SegmentMember[]> {
  return call("segment_members", { which, limit, offset });
}

/** A segment's latest entries and exits, newest first. */
export function segmentHistory(which: string, limit?: number): Promise<SegmentHistoryEntry[]> {
  return call("segment_history", { which, limit: limit ?? null });
}

/** Create a segment; its members are computed before it resolves. */
export function createSegment(input: SegmentInput): Promise<Segment> {
  return call("create_segment", { input });
}

/** Rename a segment and/or replace its rule; its triggers stay. */
export function updateSegment(which: string, name: string | null, rule: unknown | null): Promise<Segment> {
  return call("update_segment", { which, name, rule });
}

/** Delete a segment: its tag comes off its members; the history stays. */
export function deleteSegment(which: string): Promise<void> {
  return call("delete_segment", { which });
}

/** The count and first members of an unsaved rule; a bad rule rejects with a validation error. */
export function previewSegment(rule: unknown, limit?: number): Promise<SegmentPreview> {
  return call("preview_segment", { rule, limit: limit ?? null });
}

/** The names of the segments a contact is in now. */
export function contactSegments(contact: string): Promise<string[]> {
  return call("contact_segments", { contact });
}
