// Windowed access to a long server-side list (100k contacts): the view asks for
// the rows it shows, the pager fetches the pages that cover them, and keeps the
// previous rows on screen until their replacements arrive, so nothing flickers.
import { CommandError } from "../api/ipc";

/** `capped`: the server stopped counting (searches count at most 500 hits). */
export type Page<T> = { total: number; items: T[]; capped?: boolean };
export type FetchPage<T> = (offset: number, limit: number) => Promise<Page<T>>;

export class Pager<T> {
  /** Rows matching the current query (from the last page that arrived). */
  total = $state(0);
  /** True when `total` is a lower bound: the server stopped counting matches. */
  capped = $state(false);
  /** False until a first page arrived. */
  ready = $state(false);
  error = $state<CommandError | null>(null);
  /** Bumped when the first page of a new query arrives: lists scroll to the top. */
  resets = $state(0);
  /** Bumped whenever rows arrive; read by `item()` so views re-render. */
  #version = $state(0);

  readonly pageSize: number;
  #fetch: FetchPage<T>;
  #fresh = new Map<number, T[]>();
  #stale = new Map<number, T[]>();
  #inflight = new Set<number>();
  #generation = 0;
  #newQuery = false;
  #lastRange: [number, number];

  /** Pages kept in memory; the ones farthest from the view go first. */
  readonly maxPages: number;

  constructor(fetch: FetchPage<T>, pageSize = 100, maxPages = 50) {
    this.#fetch = fetch;
    this.pageSize = pageSize;
    this.maxPages = maxPages;
    this.#lastRange = [0, pageSize - 1];
  }

  /** Row at `index`, or undefined while its page is loading. */
  item(index: number): T | undefined {
    void this.#version;
    const page = Math.floor(index / this.pageSize);
    const rows = this.#fresh.get(page) ?? this.#stale.get(page);
    return rows?.[index - page * this.pageSize];
  }

  /** Make sure the rows `start..=end` are loaded or loading. */
  ensure(start: number, end: number): Promise<void> {
    this.#lastRange = [start, end];
    const first = Math.max(0, Math.floor(start / this.pageSize));
    const known = this.ready && !this.#newQuery;
    const stop = known ? Math.min(end, Math.max(this.total - 1, 0)) : end;
    const last = Math.max(first, Math.floor(stop / this.pageSize));
    const loads: Promise<void>[] = [];
    for (let page = first; page <= last; page++) {
      if (!this.#fresh.has(page) && !this.#inflight.has(page)) loads.push(this.#load(page));
    }
    return Promise.all(loads).then(() => undefined);
  }

  /** A new query: load from the top; the old rows stay until the first page arrives. */
  reset(fetch?: FetchPage<T>): Promise<void> {
    if (fetch) this.#fetch = fetch;
    this.#retire();
    this.#newQuery = true;
    return this.ensure(0, this.pageSize - 1);
  }

  /** Same query, data changed: reload what is on screen, keep old rows until then. */
  refresh(): Promise<void> {
    this.#retire();
    const [start, end] = this.#lastRange;
    return this.ensure(start, end);
  }

  #retire() {
    this.#generation++;
    for (const [page, rows] of this.#fresh) this.#stale.set(page, rows);
    this.#fresh = new Map();
    this.#inflight = new Set();
  }

  /** Scrolling through 100k rows must not keep all of them: drop far pages. */
  #evict() {
    if (this.#fresh.size + this.#stale.size <= this.maxPages) return;
    const centre = (this.#lastRange[0] + this.#lastRange[1]) / 2 / this.pageSize;
    const far = (a: number, b: number) => Math.abs(b - centre) - Math.abs(a - centre);
    for (const pages of [this.#stale, this.#fresh]) {
      for (const page of [...pages.keys()].sort(far)) {
        if (this.#fresh.size + this.#stale.size <= this.maxPages) return;
        pages.delete(page);
      }
    }
  }

  async #load(page: number): Promise<void> {
    const generation = this.#generation;
    this.#inflight.add(page);
    try {
      const result = await this.#fetch(page * this.pageSize, this.pageSize);
      if (generation !== this.#generation) return;
      if (this.#newQuery) {
        this.#newQuery = false;
        this.#stale = new Map();
        this.resets++;
      }
      this.#fresh.set(page, result.items);
      this.#evict();
      this.total = result.total;
      this.capped = result.capped ?? false;
      this.ready = true;
      this.error = null;
      // Stale pages past the new end would show rows that no longer exist.
      const lastPage = Math.max(0, Math.ceil(result.total / this.pageSize) - 1);
      for (const p of this.#stale.keys()) if (p > lastPage) this.#stale.delete(p);
      this.#version++;
    } catch (raw) {
      if (generation !== this.#generation) return;
      this.error = CommandError.from(raw);
      this.ready = true;
    } finally {
      if (generation === this.#generation) this.#inflight.delete(page);
    }
  }
}
