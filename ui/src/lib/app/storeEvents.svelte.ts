// One `store-changed` subscription for the whole window; views read `version`
// in an effect and reload what they show when it moves.
import { onStoreChanged } from "../api/store";

export const storeEvents = $state({ version: 0 });

export function watchStore(): () => void {
  let unlisten: (() => void) | undefined;
  let stopped = false;
  onStoreChanged(() => {
    storeEvents.version++;
  }).then((fn) => {
    if (stopped) fn();
    else unlisten = fn;
  });
  return () => {
    stopped = true;
    unlisten?.();
  };
}
