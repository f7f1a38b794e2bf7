// The window's view of sync: the loop's state (from `sync-state`), the
// current round's progress (from `sync-progress`), refreshed counts after any
// store change, and a round at once when the network comes back.
import { onStoreChanged } from "../api/store";
import { onSyncProgress, onSyncState, syncNow, syncState } from "../api/sync";
import type { Progress } from "../types/Progress";
import type { SyncState } from "../types/SyncState";

export const sync = $state<{ state: SyncState | null; progress: Progress | null }>({
  state: null,
  progress: null,
});

function apply(state: SyncState): void {
  sync.state = state;
  if (state.state !== "syncing") sync.progress = null;
}

export async function refreshSync(): Promise<void> {
  try {
    apply(await syncState());
  } catch {
    // The store could not be opened: the screens say so.
  }
}

/** Fraction done (0..1) when the round knows its total, else null. */
export function progressFraction(p: Progress | null): number | null {
  if (!p || p.total === null || p.total === undefined) return null;
  const total = Number(p.total);
  if (total <= 0) return null;
  return Math.min(1, Number(p.done) / total);
}

export function progressLabel(p: Progress): string {
  const done = Number(p.done).toLocaleString();
  const total = p.total === null ? null : Number(p.total).toLocaleString();
  switch (p.phase) {
    case "pushing":
      return total ? `Sending ${done} of ${total} changes` : `Sending changes (${done})`;
    case "snapshot":
      return total ? `Downloading the workspace: ${done} of ${total} records` : `Downloading the workspace (${done} records)`;
    case "pulling":
      return `Receiving changes (${done})`;
  }
}

export function watchSync(): () => void {
  const unlisten: Array<() => void> = [];
  let stopped = false;
  const keep = (p: Promise<() => void>) =>
    p.then((fn) => (stopped ? fn() : unlisten.push(fn))).catch(() => {});
  keep(onSyncState(apply));
  keep(
    onSyncProgress((p) => {
      sync.progress = p;
    }),
  );
  // Pending and conflict counts move with every local edit.
  let timer: ReturnType<typeof setTimeout> | undefined;
  keep(
    onStoreChanged(() => {
      clearTimeout(timer);
      timer = setTimeout(() => void refreshSync(), 300);
    }),
  );
  const online = () => {
    if (sync.state && sync.state.state !== "signed_out") void syncNow().catch(() => {});
  };
  window.addEventListener("online", online);
  void refreshSync();
  return () => {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener("online", online);
    unlisten.forEach((fn) => fn());
  };
}
