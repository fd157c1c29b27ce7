/**
 * How compute() cuts a stream into pool batches: by weight, and with `group`, never between
 * items of one group (reads use it for chunks that share output pages; issue 12).
 */
import { afterAll, describe, expect, it } from "vitest";
import { compute } from "../operators/compute.js";
import type { WorkerPool } from "../operators/pool.js";
import { pageSharingKey } from "../src/chunk-ops.js";
import type { Region } from "../src/selection.js";
import { create } from "../src/index.js";
import { closePools } from "../src/array.js";
import { MemoryStore } from "../stores/index.js";

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

describe("a shard's buffer goes to the worker whole, only when nothing else can use it", () => {
  const ZSTD = [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1, checksum: false } }];

  /** A store whose get answers whole buffers it hands over, or views into a larger buffer it keeps. */
  class Answering extends MemoryStore {
    answers: Uint8Array[] = [];
    constructor(readonly mode: "whole" | "view") {
      super();
    }
    override async get(key: string, range?: Parameters<MemoryStore["get"]>[1]): Promise<Uint8Array | undefined> {
      const bytes = await super.get(key, range);
      if (!bytes || !key.includes("/c/")) return bytes;
      if (this.mode === "whole") {
        this.answers.push(bytes);
        return bytes;
      }
      const big = new Uint8Array(bytes.byteLength + 16);
      big.set(bytes, 8);
      this.answers.push(big);
      return big.subarray(8, 8 + bytes.byteLength);
    }
  }

  async function readBack(mode: "whole" | "view") {
    const store = new Answering(mode);
    const a = await create(store, { path: "s", shape: [64, 64], chunks: [16, 16], shards: [32, 32], dtype: "uint16", fillValue: 0, codecs: ZSTD });
    const values = new Uint16Array(64 * 64).map((_, i) => (i * 7) & 0xffff);
    await a.write(null, values, { workers: 0 });
    store.answers = [];
    const back = await a.read(null, { workers: 2 });
    expect(Buffer.from((back.data as Uint16Array).buffer).equals(Buffer.from(values.buffer))).toBe(true);
    return store.answers;
  }

  it("whole shards answered by the store travel without a copy (their buffers are handed over)", async () => {
    const answers = await readBack("whole");
    expect(answers).toHaveLength(4);
    expect(answers.every((bytes) => bytes.buffer.byteLength === 0)).toBe(true); // transferred
  });

  it("views into a buffer the store keeps are copied, never handed over", async () => {
    const answers = await readBack("view");
    expect(answers).toHaveLength(4);
    expect(answers.every((bytes) => bytes.byteLength > 0)).toBe(true); // still the store's
  });

  afterAll(() => closePools());
});
