import { href, parseRoute, type Route } from "./routes";

/** The current route, kept in step with `location.hash`. */
export const router = $state<{ route: Route }>({ route: parseRoute(location.hash) });

window.addEventListener("hashchange", () => {
  router.route = parseRoute(location.hash);
});

export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const target = href(route);
  if (options.replace) {
    history.replaceState(null, "", target);
    router.route = parseRoute(target);
  } else if (location.hash !== target) {
    location.hash = target;
  } else {
    router.route = parseRoute(target);
  }
}

/** Leave a form: back to where the user came from, or to `fallback` on a fresh window. */
export function back(fallback: Route): void {
  if (history.length > 1) history.back();
  else navigate(fallback);
}
