// The command palette's entries and its fuzzy filter: pure, unit-tested.

export type PaletteEntry = {
  id: string;
  label: string;
  /** "Go to" for screens, "Action" for actions. */
  group: "Go to" | "Action";
  /** Other words that find it ("pipeline" finds Deals). */
  keywords?: string[];
  /** The shortcut shown beside it, e.g. "g d". */
  hint?: string;
};

/**
 * How well `query` matches `text` as a subsequence (case-insensitive):
 * null when it does not; higher is better. Consecutive letters, letters at
 * the start of a word and an early first match score higher.
 */
export function fuzzyScore(query: string, text: string): number | null {
  const q = query.trim().toLowerCase();
  if (!q) return 0;
  const t = text.toLowerCase();
  let score = 0;
  let from = 0;
  let last = -2;
  for (const ch of q) {
    if (ch === " ") continue;
    const at = t.indexOf(ch, from);
    if (at < 0) return null;
    const wordStart = at === 0 || /[\s\-_/]/.test(t[at - 1]);
    score += 1;
    if (at === last + 1) score += 3;
    if (wordStart) score += 4;
    if (at === 0) score += 2;
    last = at;
    from = at + 1;
  }
  // Prefer short texts and early matches.
  return score - t.length * 0.01 - t.indexOf(q[0]) * 0.05;
}

/** Entries matching `query`, best first; every entry (in order) for an empty query. */
export function filterEntries<E extends PaletteEntry>(entries: E[], query: string): E[] {
  if (!query.trim()) return entries.slice();
  const scored: { entry: E; score: number; index: number }[] = [];
  entries.forEach((entry, index) => {
    let best = fuzzyScore(query, entry.label);
    for (const word of entry.keywords ?? []) {
      const s = fuzzyScore(query, word);
      // A keyword hit counts a little less than the label itself.
      if (s !== null && (best === null || s - 1 > best)) best = s - 1;
    }
    if (best !== null) scored.push({ entry, score: best, index });
  });
  scored.sort((a, b) => b.score - a.score || a.index - b.index);
  return scored.map((s) => s.entry);
}

/** The selection after a key press in a list of `length` rows (wraps around). */
export function moveSelection(current: number, length: number, step: number): number {
  if (length <= 0) return -1;
  if (current < 0) return step > 0 ? 0 : length - 1;
  return (((current + step) % length) + length) % length;
}

/** Every screen (`go:<route name>`) and common action the palette offers. */
export const PALETTE_ENTRIES: PaletteEntry[] = [
  { id: "go:today", label: "Today", group: "Go to", keywords: ["home", "agenda", "due"], hint: "g t" },
  { id: "go:contacts", label: "Contacts", group: "Go to", keywords: ["people", "persons"], hint: "g c" },
  { id: "go:companies", label: "Companies", group: "Go to", keywords: ["organisations", "accounts"], hint: "g o" },
  { id: "go:deals", label: "Deals", group: "Go to", keywords: ["pipeline", "kanban", "forecast", "opportunities"], hint: "g d" },
  { id: "go:reminders", label: "Reminders", group: "Go to", keywords: ["tasks", "follow-ups"], hint: "g r" },
  { id: "go:tickets", label: "Tickets", group: "Go to", keywords: ["support", "issues"], hint: "g i" },
  { id: "go:conflicts", label: "Conflicts", group: "Go to", keywords: ["sync"], hint: "g f" },
  { id: "go:trash", label: "Trash", group: "Go to", keywords: ["deleted", "restore", "undelete", "bin"], hint: "g x" },
  { id: "go:duplicates", label: "Duplicates", group: "Go to", keywords: ["merge", "dedupe", "same", "twice"], hint: "g u" },
  { id: "go:segments", label: "Segments", group: "Go to", keywords: ["audiences", "lists", "cdp", "rules"], hint: "g e" },
  { id: "go:reports", label: "Reports", group: "Go to", keywords: ["charts", "dashboard", "funnel", "revenue", "analytics", "audience exports"], hint: "g p" },
  { id: "go:import", label: "Import", group: "Go to", keywords: ["csv", "vcard", "upload", "revert", "hubspot", "spreadsheet"], hint: "g m" },
  { id: "go:settings", label: "Settings", group: "Go to", keywords: ["custom fields", "preferences", "account", "sign in"], hint: "g s" },
  { id: "new-contact", label: "New contact", group: "Action", keywords: ["add person", "create contact"] },
  { id: "new-company", label: "New company", group: "Action", keywords: ["add company", "create company"] },
  { id: "new-deal", label: "New deal", group: "Action", keywords: ["add deal", "create opportunity"] },
  { id: "new-reminder", label: "New reminder", group: "Action", keywords: ["add task", "follow up"] },
  { id: "new-segment", label: "New segment", group: "Action", keywords: ["add segment", "build audience"] },
  { id: "new-ticket", label: "New ticket", group: "Action", keywords: ["add ticket", "support request"] },
  { id: "log-call", label: "Log a call", group: "Action", keywords: ["phone", "call", "activity"], hint: "c" },
  { id: "sync-now", label: "Sync now", group: "Action", keywords: ["send", "receive", "server"] },
  { id: "shortcuts", label: "Keyboard shortcuts", group: "Action", keywords: ["help", "keys"], hint: "?" },
];
