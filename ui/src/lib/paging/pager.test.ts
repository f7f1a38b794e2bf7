import { describe, expect, it } from "vitest";
import { Pager, type Page } from "./pager.svelte";

type Row = { n: number; rev: number };

/** A fake `list_contacts`: `total` rows, each tagged with the data revision. */
function source(total: number) {
  const state = { total, rev: 0, calls: [] as number[] };
  const fetch = async (offset: number, limit: number): Promise<Page<Row>> => {
    state.calls.push(offset);
    const items: Row[] = [];
    for (let n = offset; n < Math.min(offset + limit, state.total); n++) items.push({ n, rev: state.rev });
    return { total: state.total, items };
  };
  return { state, fetch };
}

describe("Pager", () => {
  it("loads the first page on reset and only the pages a range needs", async () => {
    const { state, fetch } = source(100_000);
    const pager = new Pager(fetch, 100);
    await pager.reset();
    expect(pager.total).toBe(100_000);
    expect(pager.item(99)?.n).toBe(99);
    expect(pager.item(100)).toBeUndefined();

    await pager.ensure(50_010, 50_130);
    expect(state.calls).toEqual([0, 50_000, 50_100]);
    expect(pager.item(50_123)?.n).toBe(50_123);

    await pager.ensure(50_010, 50_130);
    expect(state.calls).toHaveLength(3);
  });

  it("never asks past the end", async () => {
    const { state, fetch } = source(150);
    const pager = new Pager(fetch, 100);
    await pager.reset();
    await pager.ensure(0, 10_000);
    expect(state.calls).toEqual([0, 100]);
  });

  it("keeps old rows visible during a refresh, then shows the new ones", async () => {
    const { state, fetch } = source(300);
    const pager = new Pager(fetch, 100);
    await pager.reset();
    await pager.ensure(150, 160);
    state.rev = 1;
    state.total = 120;
    const refreshing = pager.refresh();
    expect(pager.item(150)?.rev).toBe(0);
    await refreshing;
    expect(pager.total).toBe(120);
    expect(pager.item(110)?.rev).toBe(1);
    expect(pager.item(150)).toBeUndefined();
  });

  it("drops answers to an older query", async () => {
    let release: (() => void) | undefined;
    let slow = true;
    const pager = new Pager<number>(async () => {
      if (slow) {
        slow = false;
        await new Promise<void>((r) => (release = r));
        return { total: 1, items: [1] };
      }
      return { total: 2, items: [20, 21] };
    });
    const first = pager.reset();
    const second = pager.reset();
    await second;
    release?.();
    await first;
    expect(pager.total).toBe(2);
    expect(pager.item(0)).toBe(20);
  });

  it("reports a failed load as a CommandError", async () => {
    const pager = new Pager<number>(async () => {
      throw { code: "locked", message: "the database is locked" };
    });
    await pager.reset();
    expect(pager.error?.code).toBe("locked");
    expect(pager.ready).toBe(true);
  });
});

describe("Pager.capped", () => {
  it("follows the server's capped flag", async () => {
    let capped = true;
    const pager = new Pager<number>(async () => ({ total: 1000, items: [1], capped }));
    await pager.reset();
    expect(pager.capped).toBe(true);
    capped = false;
    await pager.reset();
    expect(pager.capped).toBe(false);
  });
});

describe("Pager memory", () => {
  it("keeps only the pages nearest the view", async () => {
    const { fetch } = source(100_000);
    const pager = new Pager(fetch, 100, 5);
    await pager.reset();
    for (let first = 0; first < 20_000; first += 1_000) await pager.ensure(first, first + 50);
    await pager.ensure(50_000, 50_050);
    expect(pager.item(50_010)?.n).toBe(50_010);
    expect(pager.item(19_010)?.n).toBe(19_010);
    expect(pager.item(0)).toBeUndefined();
    let kept = 0;
    for (let i = 0; i < 100_000; i += 100) if (pager.item(i)) kept++;
    expect(kept).toBe(5);
  });
});
