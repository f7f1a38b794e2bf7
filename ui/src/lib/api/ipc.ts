// The one place that talks to the Tauri shell. Every command error crosses IPC
// as `{code, message, fields}` (src-tauri/src/error.rs); here it becomes a
// typed `CommandError` so views can switch on `code` and show `fields` inline.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { CommandError as WireError } from "../types/CommandError";
import type { FieldError } from "../types/FieldError";

/** Stable error codes produced by hub-core, plus `ipc` for a broken bridge. */
export type ErrorCode =
  | "validation"
  | "not_found"
  | "locked"
  | "not_a_database"
  | "database"
  | "io"
  | "ipc";

export class CommandError extends Error {
  readonly code: ErrorCode | (string & {});
  readonly fields: FieldError[];

  constructor(code: string, message: string, fields: FieldError[] = []) {
    super(message);
    this.name = "CommandError";
    this.code = code;
    this.fields = fields;
  }

  /** The message for one field (`display_name`, `emails[0]`, ...), if any. */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.field === field)?.message;
  }

  /** Fields as a map, for forms that show each message beside its input. */
  fieldMap(): Record<string, string> {
    const map: Record<string, string> = {};
    for (const f of this.fields) map[f.field] ??= f.message;
    return map;
  }

  static from(raw: unknown): CommandError {
    if (raw instanceof CommandError) return raw;
    if (isWireError(raw)) {
      return new CommandError(raw.code, raw.message, Array.isArray(raw.fields) ? raw.fields : []);
    }
    const message = raw instanceof Error ? raw.message : String(raw);
    return new CommandError("ipc", message);
  }
}

function isWireError(raw: unknown): raw is WireError {
  if (typeof raw !== "object" || raw === null) return false;
  const r = raw as Record<string, unknown>;
  return typeof r.code === "string" && typeof r.message === "string";
}

/** Call a shell command; rejects with a `CommandError`, never a bare string. */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw CommandError.from(raw);
  }
}

/** Subscribe to a shell event without a payload; resolves to the unsubscribe function. */
export function subscribe(event: string, handler: () => void): Promise<UnlistenFn> {
  return listen(event, () => handler());
}

/** Subscribe to a shell event with a payload; resolves to the unsubscribe function. */
export function subscribeTo<T>(event: string, handler: (payload: T) => void): Promise<UnlistenFn> {
  return listen<T>(event, (e) => handler(e.payload));
}
