// The duplicates screen's and merge dialog's words: pure, unit-tested.
import type { DuplicatePair } from "../../lib/types/DuplicatePair";
import type { FieldChoice } from "../../lib/types/FieldChoice";
import type { MergeRecord } from "../../lib/types/MergeRecord";
import type { MoveCount } from "../../lib/types/MoveCount";
import type { Reason } from "../../lib/types/Reason";
import type { Winner } from "../../lib/types/Winner";

/** "Same email ada@example.com", "Similar name (94%)". */
export function reasonText(r: Reason): string {
  switch (r.kind) {
    case "same_email":
      return `Same email ${r.email}`;
    case "same_phone":
      return `Same phone ${r.phone}`;
    case "same_domain":
      return `Same domain ${r.domain}`;
    case "similar_name":
      return r.similarity >= 1 ? "Same name" : `Similar name (${Math.round(r.similarity * 100)}%)`;
  }
}

/** A stable key for a pair. */
export function pairKey(p: Pick<DuplicatePair, "kind" | "a" | "b">): string {
  return `${p.kind}/${p.a.id}/${p.b.id}`;
}

/** "2 emails, 1 deal, 3 activities"; "" when nothing moves. */
export function movesText(moves: MoveCount[]): string {
  return moves
    .map((m) => {
      const one = m.what === "activities" ? "activity" : m.what.replace(/s$/, "");
      return `${m.count} ${m.count === 1 ? one : m.what}`;
    })
    .join(", ");
}

/** The fields worth showing: the ones where either side has a value. */
export function visibleFields(fields: FieldChoice[]): FieldChoice[] {
  return fields.filter((f) => f.keep !== null || f.other !== null);
}

/** What the dialog sends: every differing field's pick (explicit, so the preview and the merge agree). */
export function picks(fields: FieldChoice[], chosen: Record<string, Winner>): Record<string, Winner> {
  const out: Record<string, Winner> = {};
  for (const f of fields) {
    if (f.differs) out[f.field] = chosen[f.field] ?? f.winner;
  }
  return out;
}

/** "Jon Smith → John Smith". */
export function mergeTitle(m: Pick<MergeRecord, "loser_name" | "survivor_name">): string {
  return `${m.loser_name || "Unnamed"} → ${m.survivor_name || "Unnamed"}`;
}

/** The fields taken from the merged-away record, for the history line. */
export function takenFields(m: Pick<MergeRecord, "choices">): string[] {
  return Object.entries(m.choices)
    .filter(([, w]) => w === "other")
    .map(([f]) => f.replace(/^custom\./, "").replace(/_id$/, "").replace(/_/g, " "));
}
