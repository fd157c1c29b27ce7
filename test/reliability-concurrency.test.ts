/**
 * Concurrency in one process: many write() calls and writers on one array at once, overlapping
 * or not, unsharded and sharded (whole-shard rewrites and in-place patches), on a MemoryStore
 * and a FileSystemStore.
 *
 *  - Every write fills its box with a value of its own, so the final content of a chunk tells,
 *    element by element, which write came last there. The writes touching a chunk must then be
 *    orderable — some serial order per chunk explains every element — and nothing is lost: an
 *    element covered by writes holds the value of one of them.
 *  - Reads running during the writes see each chunk old or new, never a mix: writes store
 *    patterns that identify the write element by element (and compress to different sizes, so
 *    a shard rewritten between a reader's index and data requests would move its inner chunks).
 */
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { create, slice, type CreateArrayOptions, type Store, type ZarrArray } from "../src/index.js";
import { acquireKey, acquireShared } from "../src/locks.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { prng } from "./helpers/prng.js";
import { fcParams } from "./helpers/seed.js";

const SHAPE = [48, 40];
const N = SHAPE[0] * SHAPE[1];
const BYTES_LE = { name: "bytes", configuration: { endian: "little" } };

interface Layout {
  name: string;
  options: Omit<CreateArrayOptions, "shape" | "dtype">;
  /** The unit writes are serialised on: the stored chunk (a whole shard when sharded). */
  unit: number[];
  /** The unit a reader sees whole: a chunk, or an inner chunk of a shard. */
  readUnit: number[];
}

const LAYOUTS: Layout[] = [
  { name: "unsharded", options: { chunks: [8, 8] }, unit: [8, 8], readUnit: [8, 8] },
  { name: "sharded, compressed (rewrites)", options: { chunks: [8, 8], shards: [16, 24], codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }] }, unit: [16, 24], readUnit: [8, 8] },
  { name: "sharded, raw (patches)", options: { chunks: [8, 8], shards: [16, 24], codecs: [BYTES_LE] }, unit: [16, 24], readUnit: [8, 8] },
];

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function storeOf(kind: "memory" | "filesystem"): Promise<Store> {
  if (kind === "memory") return new MemoryStore();
  const dir = await mkdtemp(join(tmpdir(), "zarrflow-concurrency-"));
  dirs.push(dir);
  return new FileSystemStore(dir);
}

type Box = [number, number][];

function randomBox(rnd: () => number, align = [1, 1]): Box {
  return SHAPE.map((n, d): [number, number] => {
    const cells = Math.ceil(n / align[d]);
    const a = Math.floor(rnd() * cells);
    const b = Math.floor(rnd() * cells);
    return [Math.min(a, b) * align[d], Math.min(n, (Math.max(a, b) + 1) * align[d])];
  });
}

const selectionOf = (box: Box) => box.map(([a, b]) => slice(a, b));
const inBox = (box: Box, r: number, c: number) => r >= box[0][0] && r < box[0][1] && c >= box[1][0] && c < box[1][1];
const overlaps = (a: Box, b: Box) => a.every(([lo, hi], d) => lo < b[d][1] && b[d][0] < hi);

function unitBoxes(unit: number[]): Box[] {
  const out: Box[] = [];
  for (let r = 0; r < SHAPE[0]; r += unit[0]) for (let c = 0; c < SHAPE[1]; c += unit[1]) out.push([[r, Math.min(SHAPE[0], r + unit[0])], [c, Math.min(SHAPE[1], c + unit[1])]]);
  return out;
}

/**
 * Whether the writes touching `unit` can be put in an order that explains the final values:
 * each element covered by writes holds the value of the last of them in that order; the items
 * of one writer keep their order. Returns a description of the contradiction, or undefined.
 */
function serialOrderExplains(unit: Box, writes: { box: Box; value: number; writer: number; item: number }[], final: Int32Array, initial: number): string | undefined {
  const touching = writes.filter((w) => overlaps(w.box, unit));
  const byValue = new Map(touching.map((w) => [w.value, w]));
  const before = new Map<number, Set<number>>(touching.map((w) => [w.value, new Set<number>()]));
  for (const a of touching) for (const b of touching) if (a.writer === b.writer && a.item < b.item) before.get(b.value)!.add(a.value);
  for (let r = unit[0][0]; r < unit[0][1]; r++) {
    for (let c = unit[1][0]; c < unit[1][1]; c++) {
      const got = final[r * SHAPE[1] + c];
      const covering = touching.filter((w) => inBox(w.box, r, c));
      if (covering.length === 0) {
        if (got !== initial) return `(${r}, ${c}) = ${got}, but no write covers it`;
        continue;
      }
      const last = byValue.get(got);
      if (!last || !inBox(last.box, r, c)) return `(${r}, ${c}) = ${got}: not the value of any write covering it (lost)`;
      for (const w of covering) if (w !== last) before.get(last.value)!.add(w.value);
    }
  }
  // Topological sort: a cycle means no serial order explains the unit.
  const done = new Set<number>();
  let progress = true;
  while (done.size < before.size && progress) {
    progress = false;
    for (const [value, preds] of before) {
      if (done.has(value) || [...preds].some((p) => !done.has(p))) continue;
      done.add(value);
      progress = true;
    }
  }
  return done.size === before.size ? undefined : `writes ${[...before.keys()].filter((v) => !done.has(v))} cannot be ordered`;
}

describe.each(["memory", "filesystem"] as const)("concurrent writes on a %sStore", (storeKind) => {
  describe.each(LAYOUTS)("$name", (layout) => {
    it("every chunk equals some serial order of the writes touching it; nothing is lost", async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), async (seed) => {
          const rnd = prng(seed);
          const store = await storeOf(storeKind);
          const array = await create(store, { shape: SHAPE, dtype: "int32", fillValue: 0, ...layout.options });
          const initial = -1;
          await array.write(null, initial, { workers: 0 });
          // 8 write() calls and 4 writers of 2 items each, all at once.
          const writes: { box: Box; value: number; writer: number; item: number }[] = [];
          let value = 0;
          for (let w = 0; w < 8; w++) writes.push({ box: randomBox(rnd), value: ++value, writer: w, item: 0 });
          for (let w = 8; w < 12; w++) for (let item = 0; item < 2; item++) writes.push({ box: randomBox(rnd), value: ++value, writer: w, item });
          const concurrency = 1 + Math.floor(rnd() * 8);
          await Promise.all([
            ...writes.filter((w) => w.writer < 8).map((w) => array.write(selectionOf(w.box), w.value, { workers: 0, concurrency })),
            ...[8, 9, 10, 11].map(async (writer) => {
              const stream = array.writer({ workers: 0, concurrency }).getWriter();
              for (const w of writes.filter((x) => x.writer === writer)) await stream.write({ selection: selectionOf(w.box), data: w.value });
              await stream.close();
            }),
          ]);
          const final = (await array.read(null, { workers: 0 })).data as Int32Array;
          for (const unit of unitBoxes(layout.unit)) {
            const problem = serialOrderExplains(unit, writes, final, initial);
            expect(problem, `chunk [${unit.map(([a, b]) => `${a}:${b}`)}]: ${problem}`).toBeUndefined();
          }
        }),
        fcParams(`concurrency: serial ${storeKind} ${layout.name}`, storeKind === "memory" ? 30 : 10),
      );
    });

    it("reads during the writes see every chunk old or new, never a mix", async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), async (seed) => {
          const rnd = prng(seed);
          const store = await storeOf(storeKind);
          const array: ZarrArray = await create(store, { shape: SHAPE, dtype: "int32", fillValue: 0, ...layout.options });
          // Element i of write v holds v·10^6 + a pattern of (i, v): the value tells the write, the
          // pattern checks the element, and different writes compress to different sizes.
          const pattern = (v: number) => Int32Array.from({ length: N }, (_, i) => v * 1_000_000 + ((i * (v % 13 + 1)) % 997));
          const decode = (x: number, i: number) => {
            const v = Math.floor(x / 1_000_000);
            return x === v * 1_000_000 + ((i * (v % 13 + 1)) % 997) ? v : -1;
          };
          await array.write(null, pattern(0), { workers: 0 });
          const boxes = Array.from({ length: 16 }, () => randomBox(rnd, layout.readUnit));
          const allowed = (unit: Box) => new Set([0, ...boxes.flatMap((box, k) => (overlaps(box, unit) ? [k + 1] : []))]);
          let writing = true;
          const writers = Promise.all(
            boxes.map((box, k) => {
              const data = pattern(k + 1);
              const block = Int32Array.from({ length: (box[0][1] - box[0][0]) * (box[1][1] - box[1][0]) }, (_, j) => {
                const w = box[1][1] - box[1][0];
                return data[(box[0][0] + Math.floor(j / w)) * SHAPE[1] + box[1][0] + (j % w)];
              });
              return array.write(selectionOf(box), block, { workers: 0, concurrency: 4 });
            }),
          ).finally(() => (writing = false));
          let reads = 0;
          const readers = [0, 1, 2].map(async () => {
            while (writing || reads < 6) {
              const box = randomBox(rnd);
              const got = (await array.read(selectionOf(box), { workers: 0 })).data as Int32Array;
              reads++;
              const width = box[1][1] - box[1][0];
              for (const unit of unitBoxes(layout.readUnit)) {
                if (!overlaps(unit, box)) continue;
                const seen = new Set<number>();
                for (let r = Math.max(unit[0][0], box[0][0]); r < Math.min(unit[0][1], box[0][1]); r++) {
                  for (let c = Math.max(unit[1][0], box[1][0]); c < Math.min(unit[1][1], box[1][1]); c++) {
                    seen.add(decode(got[(r - box[0][0]) * width + (c - box[1][0])], r * SHAPE[1] + c));
                  }
                }
                const where = `chunk [${unit.map(([a, b]) => `${a}:${b}`)}]`;
                expect(seen.size, `${where} mixes writes ${[...seen]}`).toBe(1);
                const [v] = seen;
                expect(allowed(unit).has(v), `${where} holds write ${v}, which never touched it`).toBe(true);
              }
            }
          });
          await Promise.all([writers, ...readers]);
          expect(reads).toBeGreaterThan(0);
        }),
        fcParams(`concurrency: readers ${storeKind} ${layout.name}`, storeKind === "memory" ? 20 : 8),
      );
    });
  });
});

describe("chunk locks", () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

  it("readers share, a writer waits for the readers before it, later readers wait for the writer (FIFO)", async () => {
    const store = new MemoryStore();
    const log: string[] = [];
    const r1 = await acquireShared(store, "k");
    const r2 = await acquireShared(store, "k");
    const writer = acquireKey(store, "k").then((release) => (log.push("writer"), release));
    const r3 = acquireShared(store, "k").then((release) => (log.push("r3"), release));
    await tick();
    expect(log).toEqual([]);
    r1();
    await tick();
    expect(log).toEqual([]);
    r2();
    const releaseWriter = await writer;
    await tick();
    expect(log).toEqual(["writer"]);
    releaseWriter();
    (await r3)();
    expect(log).toEqual(["writer", "r3"]);
  });

  it("a waiter that aborts gives up its place without letting a newcomer in beside the holder", async () => {
    const store = new MemoryStore();
    const holder = await acquireKey(store, "k");
    for (const acquire of [acquireShared, acquireKey]) {
      const controller = new AbortController();
      const waiting = acquire(store, "k", controller.signal);
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ code: "ABORTED", key: "k" });
    }
    let entered = false;
    const newcomer = acquireKey(store, "k").then((release) => ((entered = true), release));
    await tick();
    expect(entered).toBe(false);
    holder();
    (await newcomer)();
    expect(entered).toBe(true);
  });
});
