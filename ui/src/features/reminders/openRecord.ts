// A click on a reminder notification: the shell emits `open-record` and shows
// the window; here the app goes to that record (see routeForTarget).
import { onOpenRecord } from "../../lib/api/reminders";
import { navigate } from "../../lib/navigation/router.svelte";
import { routeForTarget } from "./reminderForm";

export function watchOpenRecord(): () => void {
  let unlisten: (() => void) | undefined;
  let stopped = false;
  onOpenRecord((target) => navigate(routeForTarget(target))).then((fn) => {
    if (stopped) fn();
    else unlisten = fn;
  });
  return () => {
    stopped = true;
    unlisten?.();
  };
}
