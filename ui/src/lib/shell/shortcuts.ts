// Global keyboard shortcuts: which key does what, and when keys are typing.
import type { Route } from "../navigation/routes";

/** `g` then a letter: go to a screen. */
export const GO_TO: { key: string; label: string; route: Route }[] = [
  { key: "t", label: "Today", route: { name: "today" } },
  { key: "c", label: "Contacts", route: { name: "contacts" } },
  { key: "o", label: "Companies", route: { name: "companies" } },
  { key: "d", label: "Deals", route: { name: "deals" } },
  { key: "r", label: "Reminders", route: { name: "reminders" } },
  { key: "i", label: "Tickets", route: { name: "tickets" } },
  { key: "f", label: "Conflicts", route: { name: "conflicts" } },
  { key: "x", label: "Trash", route: { name: "trash" } },
  { key: "u", label: "Duplicates", route: { name: "duplicates" } },
  { key: "e", label: "Segments", route: { name: "segments" } },
  { key: "p", label: "Reports", route: { name: "reports" } },
  { key: "m", label: "Import", route: { name: "import" } },
  { key: "s", label: "Settings", route: { name: "settings" } },
];

/** Every shortcut, as the `?` overlay and the README list them. */
export const SHORTCUTS: { group: string; keys: string; what: string }[] = [
  { group: "Anywhere", keys: "Ctrl+K / ⌘K", what: "Command palette: every screen and common action" },
  { group: "Anywhere", keys: "?", what: "This list of shortcuts" },
  { group: "Anywhere", keys: "Esc", what: "Close the palette or this list" },
  ...GO_TO.map((g) => ({ group: "Go to", keys: `g ${g.key}`, what: g.label })),
  { group: "Today", keys: "↓ ↑ / j k", what: "Move the selection" },
  { group: "Today", keys: "d", what: "Complete the selected reminder" },
  { group: "Today", keys: "s", what: "Snooze the selected reminder 1 hour" },
  { group: "Today", keys: "c", what: "Log a call with the selected row's contact" },
  { group: "Today", keys: "Enter", what: "Open the selected record" },
  { group: "Today", keys: "r", what: "Refresh" },
];

/** True when the key goes into a text field (shortcuts without Ctrl/⌘ then stay out). */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target as HTMLInputElement).type;
  return !["checkbox", "radio", "button", "submit", "reset", "range", "color"].includes(type);
}

/** Ctrl+K, or ⌘K on a Mac. */
export function isPaletteKey(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k";
}
