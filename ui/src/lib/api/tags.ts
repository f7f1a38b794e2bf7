import type { MergeReport } from "../types/MergeReport";
import type { Tag } from "../types/Tag";
import type { Taggable } from "../types/Taggable";
import { call } from "./ipc";

/** A record a tag goes on: `["contact", id]`, `["company", id]`, `["deal", id]`. */
export type TagTarget = [Taggable, string];

export function listTags(): Promise<Tag[]> {
  return call("list_tags");
}

/** Create a tag (or recolour it) and put it on `records`, all or nothing. */
export function addTag(name: string, color: string | null, records: TagTarget[] = []): Promise<Tag> {
  return call("add_tag", { name, color, records });
}

export function removeTag(name: string, records: TagTarget[]): Promise<Tag> {
  return call("remove_tag", { name, records });
}

export function setTagColor(name: string, color: string): Promise<Tag> {
  return call("set_tag_color", { name, color });
}

export function renameTag(name: string, newName: string): Promise<Tag> {
  return call("rename_tag", { name, newName });
}

export function mergeTags(from: string, into: string): Promise<MergeReport> {
  return call("merge_tags", { from, into });
}

export function deleteTag(name: string): Promise<void> {
  return call("delete_tag", { name });
}
