import type { TrashItem } from "../types/TrashItem";
import { call } from "./ipc";

/** Deleted records of `entity` (or of every kind), newest delete first. */
export function listTrash(entity?: string, limit?: number): Promise<TrashItem[]> {
  return call("list_trash", { entity: entity ?? null, limit: limit ?? null });
}

/** Takes a record out of the trash with every value it has: a synced edit. */
export function restoreFromTrash(entity: string, id: string): Promise<TrashItem> {
  return call("restore_from_trash", { entity, id });
}
