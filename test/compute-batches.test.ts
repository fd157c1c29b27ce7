/**
 * How compute() cuts a stream into pool batches: by weight, and with `group`, never between
 * items of one group (reads use it for chunks that share output pages; issue 12).
 */
import { describe, expect, it } from "vitest";
import { compute } from "../operators/compute.js";
import type { WorkerPool } from "../operators/pool.js";
import { pageSharingKey } from "../src/chunk-ops.js";
import type { Region } from "../src/selection.js";

interface Item {
  id: number;
  key?: string;
  weight: number;
}

/** Runs `items` through compute on a stand-in pool of `capacity`; returns the batches (ids). */
async function batchesOf(items: Item[], options: { capacity?: number; target?: number; grouped?: boolean; delayMs?: number } = {}): Promise<number[][]> {
  const batches: number[][] = [];
  const pool = { capacity: options.capacity ?? 2 } as unknown as WorkerPool;
  const stream = new ReadableStream<Item>({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  }).pipeThrough(
    compute<Item, number>({
      pool,
      inline: (item) => item.id,
      weight: (item) => item.weight,
      batchWeight: options.target ?? 10,
      group: options.grouped ? (item) => item.key : undefined,
      batch: async (got) => {
        batches.push(got.map((item) => item.id));
        await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 1));
        return got.map((item) => item.id);
      },
    }),
  );
  const out: number[] = [];
  for await (const id of stream as unknown as AsyncIterable<number>) out.push(id);
  expect(out.sort((a, b) => a - b)).toEqual(items.map((item) => item.id).sort((a, b) => a - b));
  return batches;
}

const pairs = (n: number, weight: number): Item[] => Array.from({ length: n }, (_, id) => ({ id, key: `row ${Math.floor(id / 2)}`, weight }));

describe("compute batches", () => {
  it("without groups, each item of the target's weight is a batch of its own", async () => {
    const batches = await batchesOf(pairs(8, 10));
    expect(batches).toEqual([[0], [1], [2], [3], [4], [5], [6], [7]]);
  });

  it("with groups, the items of a group travel together even past the target weight", async () => {
    const batches = await batchesOf(pairs(8, 10), { grouped: true });
    expect(batches.every((batch) => batch.length % 2 === 0)).toBe(true);
    for (const batch of batches) for (let i = 0; i < batch.length; i += 2) expect(batch[i + 1]).toBe(batch[i] + 1);
    expect(batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("a batch finishing while a group is still arriving does not send the group half", async () => {
    // Slow batches and light items: the pool frees up between the items of a group.
    const items: Item[] = Array.from({ length: 12 }, (_, id) => ({ id, key: `g${Math.floor(id / 3)}`, weight: 1 }));
    const batches = await batchesOf(items, { grouped: true, delayMs: 5, capacity: 1 });
    const groupOf = (id: number) => Math.floor(id / 3);
    for (let g = 0; g < 4; g++) expect(batches.filter((batch) => batch.some((id) => groupOf(id) === g))).toHaveLength(1);
  });

  it("a group heavier than 16 batches' worth is cut", async () => {
    const items: Item[] = Array.from({ length: 40 }, (_, id) => ({ id, key: "one", weight: 10 }));
    const batches = await batchesOf(items, { grouped: true });
    expect(Math.max(...batches.map((batch) => batch.length))).toBe(16);
  });

  it("items without a key are batched by weight as before", async () => {
    const items: Item[] = Array.from({ length: 4 }, (_, id) => ({ id, weight: 10 }));
    expect(await batchesOf(items, { grouped: true })).toEqual([[0], [1], [2], [3]]);
  });
});

describe("pageSharingKey", () => {
  const box = (starts: number[], counts: number[]): Region[] => starts.map((start, d) => ({ start, step: 1, count: counts[d] }));

  it("[8, 256, 256] uint16 chunks of a [512, 512, 512] output: neighbours along the last axis share pages", () => {
    const shape = [512, 512, 512];
    const a = pageSharingKey(box([8, 256, 0], [8, 256, 256]), shape, 2);
    const b = pageSharingKey(box([8, 256, 256], [8, 256, 256]), shape, 2);
    const c = pageSharingKey(box([8, 0, 0], [8, 256, 256]), shape, 2);
    expect(a).toBeDefined();
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("64³ uint16 chunks of a [1024, 1024, 64] output fill whole pages: no key", () => {
    expect(pageSharingKey(box([64, 128, 0], [64, 64, 64]), [1024, 1024, 64], 2)).toBeUndefined();
  });

  it("a chunk that is the whole output has no neighbours", () => {
    expect(pageSharingKey(box([0, 0], [16, 16]), [16, 16], 4)).toBeUndefined();
  });
});
