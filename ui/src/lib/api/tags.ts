import type { Tag } from "../types/Tag";
import { call } from "./ipc";

export function listTags(): Promise<Tag[]> {
  return call("list_tags");
}
