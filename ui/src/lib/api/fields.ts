import type { CustomField } from "../types/CustomField";
import type { FieldEntity } from "../types/FieldEntity";
import type { FieldInput } from "../types/FieldInput";
import type { FieldPatch } from "../types/FieldPatch";
import type { FieldValue } from "../types/FieldValue";
import { call } from "./ipc";

export function listCustomFields(entity: FieldEntity | null, includeDeleted = false): Promise<CustomField[]> {
  return call("list_custom_fields", { entity, includeDeleted });
}

export function createCustomField(input: FieldInput): Promise<CustomField> {
  return call("create_custom_field", { input });
}

export function updateCustomField(entity: FieldEntity, key: string, patch: FieldPatch): Promise<CustomField> {
  return call("update_custom_field", { entity, key, patch });
}

/** Hidden everywhere; its values are kept for `restoreCustomField`. */
export function deleteCustomField(entity: FieldEntity, key: string): Promise<CustomField> {
  return call("delete_custom_field", { entity, key });
}

export function restoreCustomField(entity: FieldEntity, key: string): Promise<CustomField> {
  return call("restore_custom_field", { entity, key });
}

export function getCustomValues(entity: FieldEntity, id: string): Promise<FieldValue[]> {
  return call("get_custom_values", { entity, id });
}

/** `[key, text]` pairs; an empty text clears. All checked first: a `validation`
 * error names each bad field (by key) and nothing is written. */
export function setCustomValues(entity: FieldEntity, id: string, values: [string, string][]): Promise<FieldValue[]> {
  return call("set_custom_values", { entity, id, values });
}
