/**
 * The streaming surface of ZarrArray and the bounds of its pipeline:
 * - readChunks covers exactly the selection (each element once, equal to read()), in C order
 *   of chunk coordinates when ordered, all chunks either way, the same with workers 2 and 0;
 *   it is an async iterable; cancelling it early stops the IO.
 * - An AbortSignal stops read, readChunks and write with an AbortError and IO stops within
 *   `concurrency` calls; an aborted write (or writer.abort()) leaves each chunk old or new.
 * - writer(): seeded random overlapping items (arrays and scalars) store exactly what the same
 *   sequence of write() calls stores, with a tiny bufferBytes (masked read-modify-write) and a
 *   large one.
 * - onProgress: chunksDone reaches chunksTotal, bytesDone only grows (read, readChunks, write).
 * - Bounds, by exact counts: store calls in flight never exceed `concurrency` (and reach it);
 *   the prefetch byte budget holds at most maxBytes + concurrency × item size.
 * No test asserts wall-clock time; latency stores only make the overlap observable.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AbortError, DATA_TYPES, create, type DataType, type Progress, type Selection, type Store, type TypedArray } from "../src/index.js";
import { ZarrArray, closePools, type ChunkResult } from "../src/array.js";
import { normalizeSelection, countChunks } from "../src/selection.js";
import type { ByteRange, StoreCallOptions } from "../src/store.js";
import type { WriteItem } from "../src/writer.js";
import type { WriteValue } from "../src/value.js";
import { ByteBudget } from "../operators/budget.js";
import { prefetch } from "../operators/prefetch.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { CountingStore, LatencyStore } from "../stores/wrappers.js";
import { prng } from "./helpers/prng.js";

// ---------------------------------------------------------------------------------------------
// helpers


const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const stream = <T>(s: ReadableStream<T>) => s as unknown as AsyncIterable<T>;

/** Random values of `dtype` (integers, never 0 so that no chunk equals the fill value). */
function randomValues(dtype: DataType, count: number, rnd: () => number): TypedArray {
  const { ctor } = DATA_TYPES[dtype];
  const out = new ctor(count) as TypedArray;
  for (let i = 0; i < count; i++) (out as Int32Array)[i] = 1 + Math.floor(rnd() * 100);
  return out;
}

/** An array with every chunk stored, holding seeded random values. */
async function filled(shape: number[], chunks: number[], options: { dtype?: DataType; seed?: number; store?: Store; shards?: number[] } = {}): Promise<ZarrArray> {
  const dtype = options.dtype ?? "int32";
  const a = await create(options.store ?? new MemoryStore(), { shape, chunks, dtype, shards: options.shards });
  await a.write(null, randomValues(dtype, product(shape), prng(options.seed ?? 1)), { workers: 0 });
  return a;
}

/** The same array seen through another store (a wrapper over the one it was created in). */
const through = (a: ZarrArray, store: Store) => new ZarrArray(store, a.path, a.metadata);

/** Lets pending IO settle: returns once `store` has had nothing in flight for a few turns. */
async function settle(store: { inFlight: number }, turns = 6): Promise<void> {
  for (let quiet = 0; quiet < turns; ) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    quiet = store.inFlight === 0 ? quiet + 1 : 0;
  }
}

/**
 * Puts chunk results back together into the selection's result; `seen` counts how often each
 * element was delivered.
 */
function reassemble(results: ChunkResult[], shape: number[], dtype: DataType): { data: TypedArray; seen: Uint8Array } {
  const data = new DATA_TYPES[dtype].ctor(product(shape)) as TypedArray;
  const seen = new Uint8Array(product(shape));
  const strides = shape.map((_, d) => product(shape.slice(d + 1)));
  for (const r of results) {
    const values = r.data.data;
    const n = product(r.data.shape);
    const index = new Array<number>(r.data.shape.length).fill(0);
    for (let k = 0; k < n; k++) {
      let p = 0;
      for (let d = 0; d < index.length; d++) p += (r.region[d].start + index[d] * r.region[d].step) * strides[d];
      (data as Int32Array)[p] = (values as Int32Array)[k];
      seen[p]++;
      for (let d = index.length - 1; d >= 0; d--) {
        if (++index[d] < r.data.shape[d]) break;
        index[d] = 0;
      }
    }
  }
  return { data, seen };
}

async function collect<T>(s: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream(s)) out.push(item);
  return out;
}

const compareCoords = (a: number[], b: number[]) => {
  for (let d = 0; d < a.length; d++) if (a[d] !== b[d]) return a[d] - b[d];
  return 0;
};

/** Every chunk's grid coordinates, C order. */
function grid(shape: number[], chunks: number[]): number[][] {
  const counts = shape.map((n, d) => Math.ceil(n / chunks[d]));
  const out: number[][] = [];
  const total = product(counts);
  for (let i = 0; i < total; i++) {
    const coords: number[] = [];
    let rest = i;
    for (let d = counts.length - 1; d >= 0; d--) {
      coords.unshift(rest % counts[d]);
      rest = Math.floor(rest / counts[d]);
    }
    out.push(coords);
  }
  return out;
}

/**
 * Checks that every chunk, decoded, holds either its old or its new content (compared over the
 * chunk's in-bounds region with the two models). Returns how many chunks are old and new.
 */
async function oldOrNew(array: ZarrArray, oldModel: TypedArray, newModel: TypedArray): Promise<{ old: number; new: number }> {
  const { shape, chunkShape } = array;
  const tally = { old: 0, new: 0 };
  for (const coords of grid(shape, chunkShape)) {
    const selection = coords.map((c, d) => ({ kind: "slice" as const, start: c * chunkShape[d], stop: Math.min(shape[d], (c + 1) * chunkShape[d]), step: 1 }));
    const got = (await array.read(selection, { workers: 0 })).data as Int32Array;
    const region = (model: TypedArray) => {
      const out: number[] = [];
      const strides = shape.map((_, d) => product(shape.slice(d + 1)));
      const sizes = selection.map((s) => s.stop - s.start);
      const index = new Array<number>(shape.length).fill(0);
      for (let k = 0; k < product(sizes); k++) {
        out.push((model as Int32Array)[index.reduce((p, i, d) => p + (selection[d].start + i) * strides[d], 0)]);
        for (let d = index.length - 1; d >= 0; d--) {
          if (++index[d] < sizes[d]) break;
          index[d] = 0;
        }
      }
      return out;
    };
    const values = Array.from(got);
    const isOld = JSON.stringify(values) === JSON.stringify(region(oldModel));
    const isNew = JSON.stringify(values) === JSON.stringify(region(newModel));
    expect(isOld || isNew, `chunk [${coords}] is neither old nor new`).toBe(true);
    if (isNew) tally.new++;
    else tally.old++;
  }
  return tally;
}

/** Wraps a store and counts calls started and in flight, per method (aborted calls included). */
class ProbeStore implements Store {
  started = { get: 0, set: 0, delete: 0 };
  inFlight = 0;
  maxInFlight = { get: 0, set: 0, delete: 0 };
  private current = { get: 0, set: 0, delete: 0 };
  constructor(readonly inner: Store) {}
  private async track<T>(method: "get" | "set" | "delete", call: () => Promise<T>): Promise<T> {
    this.started[method]++;
    this.inFlight++;
    this.maxInFlight[method] = Math.max(this.maxInFlight[method], ++this.current[method]);
    try {
      return await call();
    } finally {
      this.inFlight--;
      this.current[method]--;
    }
  }
  get(key: string, range?: ByteRange, options?: StoreCallOptions) {
    return this.track("get", () => this.inner.get(key, range, options));
  }
  set = (key: string, value: Uint8Array, options?: StoreCallOptions) => this.track("set", () => this.inner.set!(key, value, options));
  delete = (key: string, options?: StoreCallOptions) => this.track("delete", () => this.inner.delete!(key, options));
}

afterAll(async () => {
  await closePools();
});

// ---------------------------------------------------------------------------------------------

describe("readChunks covers exactly the selection", () => {
  const layouts: { label: string; shape: number[]; chunks: number[]; shards?: number[] }[] = [
    { label: "2-d", shape: [37, 29], chunks: [6, 7] },
    { label: "3-d", shape: [11, 13, 9], chunks: [4, 5, 3] },
    { label: "sharded 2-d", shape: [40, 36], chunks: [5, 6], shards: [20, 18] },
  ];
  const selections: Selection[] = [null, "3:30:2, 5:", "4, 1:28:3", "::9, ::8", "..., 6", "2:2, :"];

  for (const layout of layouts) {
    for (const selection of selections) {
      it(`${layout.label} [${selection}]: each element once, equal to read()`, async () => {
        const a = await filled(layout.shape, layout.chunks, { shards: layout.shards, seed: 3 });
        const expected = await a.read(selection);
        for (const ordered of [true, false]) {
          const results = await collect(a.readChunks(selection, { ordered, workers: 0 }));
          const { data, seen } = reassemble(results, expected.shape, "int32");
          expect(seen.every((s) => s === 1)).toBe(true);
          expect(data).toEqual(expected.data);
          const sel = normalizeSelection(selection, layout.shape);
          expect(results).toHaveLength(expected.data.length === 0 ? 0 : countChunks(sel, a.chunks));
          for (const r of results) expect(r.data.shape).toEqual(r.region.map((g) => g.count));
        }
      });
    }
  }
});

describe("readChunks order, workers, async iteration, cancellation", () => {
  /** Latency that varies by key, so completion order differs from request order. */
  class JitterStore extends LatencyStore {
    override async get(key: string, range?: ByteRange, options?: StoreCallOptions) {
      let h = 0;
      for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
      await new Promise((resolve) => setTimeout(resolve, h % 5));
      return this.inner.get(key, range, options);
    }
  }

  it("ordered: true yields the chunks in C order of coords; unordered yields the same chunks", async () => {
    const a = await filled([30, 30], [4, 5], { seed: 4 });
    const jittery = through(a, new JitterStore(a.store, 0));
    for (const workers of [0, 2] as const) {
      const ordered = await collect(jittery.readChunks("1:, :", { ordered: true, workers, concurrency: 8 }));
      const coords = ordered.map((r) => r.coords);
      expect(coords).toEqual([...coords].sort(compareCoords));
      expect(coords).toEqual(grid([30, 30], [4, 5]));
      const unordered = await collect(jittery.readChunks("1:, :", { workers, concurrency: 8 }));
      expect(unordered.map((r) => r.coords).sort(compareCoords)).toEqual(coords);
    }
  });

  it("workers: 2 and workers: 0 give the same chunk results", async () => {
    const a = await filled([64, 48], [8, 12], { seed: 5 });
    const sorted = (results: ChunkResult[]) =>
      results
        .sort((x, y) => compareCoords(x.coords, y.coords))
        .map((r) => ({ coords: r.coords, region: r.region, shape: r.data.shape, dtype: r.data.dtype, data: Array.from(r.data.data as Int32Array) }));
    const inline = sorted(await collect(a.readChunks("3:61:2, 5:", { workers: 0 })));
    const pooled = sorted(await collect(a.readChunks("3:61:2, 5:", { workers: 2 })));
    expect(pooled).toEqual(inline);
    expect(inline).toHaveLength(8 * 4);
  });

  it("the stream is an async iterable (for await)", async () => {
    const a = await filled([10, 10], [3, 3], { seed: 6 });
    const s = a.readChunks();
    expect(typeof (s as unknown as AsyncIterable<ChunkResult>)[Symbol.asyncIterator]).toBe("function");
    let n = 0;
    for await (const chunk of stream(s)) n += chunk.data.data.length;
    expect(n).toBe(100);
  });

  it("breaking out of for-await early stops the IO: far fewer gets than chunks", async () => {
    // 64 KiB chunks: a pool batch gathers at most 1 MiB of work (16 chunks), so the bound holds on a cold pool too.
    const a = await create(new MemoryStore(), { shape: [200, 16384], chunks: [1, 16384], dtype: "int32" });
    await a.write(null, 5);
    for (const workers of [0, 2] as const) {
      const counting = new CountingStore(new LatencyStore(a.store, 2));
      let seen = 0;
      for await (const _ of stream(through(a, counting).readChunks(null, { concurrency: 4, workers }))) {
        if (++seen === 1) break;
      }
      await settle(counting);
      // 200 chunks: the fetches in flight and the few queued between stages, no more.
      expect(counting.count("get")).toBeLessThanOrEqual(12);
    }
  });

  it("cancelling while a pool batch is in flight ends cleanly (no error after the cancel, the break returns)", async () => {
    // A cold pool of one worker: its first batch is still starting when the consumer breaks, and
    // tiny chunks let the whole selection gather into pending batches meanwhile.
    const { WorkerPool } = await import("../operators/pool.js");
    const pool = new WorkerPool({ size: 1 });
    try {
      const a = await filled([200, 4], [1, 4], { seed: 70 });
      for (const ordered of [false, true]) {
        let seen = 0;
        for await (const _ of stream(a.readChunks(null, { pool, ordered, concurrency: 4 }))) {
          if (++seen === 1) break;
        }
        expect(seen).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The pool is still usable afterwards.
      expect((await a.read(null, { pool })).data).toEqual((await a.read(null, { workers: 0 })).data);
    } finally {
      await pool.close();
    }
  });

  it("reader.cancel() stops the IO the same way", async () => {
    const a = await filled([200, 4], [1, 4], { seed: 8 });
    // (workers: 0 — with tiny chunks a pool batch may gather many chunks; see above)
    const counting = new CountingStore(new LatencyStore(a.store, 2));
    const reader = through(a, counting).readChunks(null, { concurrency: 4, workers: 0 }).getReader();
    await reader.read();
    await reader.cancel();
    await settle(counting);
    expect(counting.count("get")).toBeLessThanOrEqual(12);
  });
});

describe("abort", () => {
  // 120 chunks, read 3 at a time with a few ms each: the abort lands early.
  const shape = [120, 6];
  const chunks = [1, 6];

  it("read: an AbortSignal rejects with an AbortError; at most `concurrency` gets start after the abort", async () => {
    const a = await filled(shape, chunks, { seed: 9 });
    const probe = new ProbeStore(new LatencyStore(a.store, 3));
    const controller = new AbortController();
    let atAbort = -1;
    const onProgress = (p: Progress) => {
      if (p.chunksDone === 5 && atAbort < 0) {
        atAbort = probe.started.get;
        controller.abort();
      }
    };
    await expect(through(a, probe).read(null, { concurrency: 3, workers: 0, signal: controller.signal, onProgress })).rejects.toBeInstanceOf(AbortError);
    await settle(probe);
    expect(atAbort).toBeGreaterThan(0);
    expect(probe.started.get - atAbort).toBeLessThanOrEqual(3);
    expect(probe.started.get).toBeLessThan(20);
  });

  it("readChunks: an AbortSignal errors the stream with an AbortError; IO stops within `concurrency` gets", async () => {
    const a = await filled(shape, chunks, { seed: 10 });
    const probe = new ProbeStore(new LatencyStore(a.store, 3));
    const controller = new AbortController();
    let atAbort = -1;
    let received = 0;
    const error = await (async () => {
      for await (const _ of stream(through(a, probe).readChunks(null, { concurrency: 3, workers: 0, signal: controller.signal }))) {
        if (++received === 5) {
          atAbort = probe.started.get;
          controller.abort();
        }
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    await settle(probe);
    expect(probe.started.get - atAbort).toBeLessThanOrEqual(3);
  });

  it("an already aborted signal fails read, readChunks and write without store calls", async () => {
    const a = await filled([10, 10], [5, 5], { seed: 11 });
    const probe = new ProbeStore(a.store);
    const b = through(a, probe);
    const signal = AbortSignal.abort();
    await expect(b.read(null, { signal })).rejects.toBeInstanceOf(AbortError);
    await expect(collect(b.readChunks(null, { signal }))).rejects.toBeInstanceOf(AbortError);
    await expect(b.write(null, 1, { signal })).rejects.toBeInstanceOf(AbortError);
    expect(probe.started).toEqual({ get: 0, set: 0, delete: 0 });
  });

  const stores: [string, () => Promise<{ store: Store; dir?: string; cleanup: () => Promise<void> }>][] = [
    ["MemoryStore", async () => ({ store: new MemoryStore(), cleanup: async () => undefined })],
    [
      "FileSystemStore",
      async () => {
        const dir = await mkdtemp(join(tmpdir(), "zarrflow-streams-"));
        return { store: new FileSystemStore(dir), dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
      },
    ],
  ];

  for (const [label, makeStore] of stores) {
    for (const [what, selection] of [
      ["whole chunks", null],
      ["partial edge chunks (read-modify-write)", "1:-1, 1:-1"],
    ] as const) {
      it(`write (${label}, ${what}): abort rejects with an AbortError and every chunk is old or new`, async () => {
        const { store, dir, cleanup } = await makeStore();
        try {
          const wshape = [36, 30];
          const wchunks = [4, 5];
          const a = await create(store, { shape: wshape, chunks: wchunks, dtype: "int32" });
          const oldModel = randomValues("int32", product(wshape), prng(12));
          await a.write(null, oldModel, { workers: 0 });
          const sel = normalizeSelection(selection, wshape);
          const selShape = sel.map((d) => d.count);
          const fresh = randomValues("int32", product(selShape), prng(13));
          const newModel = oldModel.slice() as Int32Array;
          for (let i = 0; i < selShape[0]; i++) {
            for (let j = 0; j < selShape[1]; j++) newModel[(sel[0].start + i) * wshape[1] + sel[1].start + j] = (fresh as Int32Array)[i * selShape[1] + j];
          }
          const probe = new ProbeStore(new LatencyStore(store, 2));
          const controller = new AbortController();
          let committed = 0;
          const writing = through(a, probe).write(selection, fresh, {
            concurrency: 3,
            workers: 0,
            signal: controller.signal,
            onProgress: (p) => {
              committed = p.chunksDone;
              if (p.chunksDone === 6) controller.abort();
            },
          });
          await expect(writing).rejects.toBeInstanceOf(AbortError);
          await settle(probe);
          expect(committed).toBeLessThan(9 * 6);
          const tally = await oldOrNew(a, oldModel, newModel);
          expect(tally.new).toBeGreaterThanOrEqual(6);
          expect(tally.old).toBeGreaterThan(0);
          if (dir !== undefined) {
            // Aborted sets remove their temporary files.
            const files = await readdir(dir, { recursive: true });
            expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
          }
        } finally {
          await cleanup();
        }
      });
    }
  }
});

describe("writer()", () => {
  const shape = [23, 31];
  const chunks = [5, 6];

  /** Seeded random items: strided or plain slices, array or scalar data, some whole-array, some chunk-aligned. */
  function randomItems(seed: number, count: number, scalarsOnly = false): WriteItem[] {
    const rnd = prng(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const items: WriteItem[] = [];
    for (let i = 0; i < count; i++) {
      const kind = rnd();
      let selection: { kind: "slice"; start: number; stop: number; step: number }[];
      if (kind < 0.1) selection = shape.map((n) => ({ kind: "slice", start: 0, stop: n, step: 1 }));
      else if (kind < 0.25) {
        // Chunk-aligned block: complete chunks, written without reading.
        selection = shape.map((n, d) => {
          const c = int(Math.ceil(n / chunks[d]));
          return { kind: "slice", start: c * chunks[d], stop: Math.min(n, (c + 1 + int(2)) * chunks[d]), step: 1 };
        });
      } else {
        selection = shape.map((n) => {
          const start = int(n);
          const stop = start + 1 + int(n - start);
          return { kind: "slice", start, stop, step: rnd() < 0.3 ? 1 + int(3) : 1 };
        });
      }
      const counts = selection.map((s) => Math.ceil((s.stop - s.start) / s.step));
      const data: WriteValue = scalarsOnly || rnd() < 0.25 ? 1 + int(1000) : randomValues("int16", product(counts), rnd);
      items.push({ selection, data });
    }
    return items;
  }

  async function viaWrite(items: WriteItem[]): Promise<{ store: MemoryStore; array: ZarrArray }> {
    const store = new MemoryStore();
    const array = await create(store, { shape, chunks, dtype: "int16" });
    for (const item of items) await array.write(item.selection, item.data, { workers: 0 });
    return { store, array };
  }

  async function viaWriter(items: WriteItem[], options: { bufferBytes: number; workers?: 0 | 2; concurrency?: number }): Promise<{ store: MemoryStore; array: ZarrArray }> {
    const store = new MemoryStore();
    const array = await create(store, { shape, chunks, dtype: "int16" });
    const writer = array.writer(options).getWriter();
    for (const item of items) await writer.write(item);
    await writer.close();
    return { store, array };
  }

  const variants: [string, { bufferBytes: number; workers?: 0 | 2; concurrency?: number }][] = [
    ["tiny bufferBytes (masked read-modify-write)", { bufferBytes: 1, workers: 0 }],
    ["tiny bufferBytes, one call in flight", { bufferBytes: 1, workers: 0, concurrency: 1 }],
    ["large bufferBytes", { bufferBytes: 256 << 20, workers: 0 }],
    ["large bufferBytes on a pool", { bufferBytes: 256 << 20, workers: 2 }],
  ];

  for (const seed of [21, 22, 23]) {
    for (const [label, options] of variants) {
      it(`random overlapping items (seed ${seed}) store what the same write() calls store: ${label}`, async () => {
        const items = randomItems(seed, 40);
        const expected = await viaWrite(items);
        const got = await viaWriter(items, options);
        expect(got.store.keys()).toEqual(expected.store.keys());
        expect((await got.array.read()).data).toEqual((await expected.array.read()).data);
      });
    }
  }

  it("scalar items store what the same write() calls store", async () => {
    const items = randomItems(31, 30, true);
    expect(items.every((item) => typeof item.data === "number")).toBe(true);
    const expected = await viaWrite(items);
    for (const bufferBytes of [1, 256 << 20]) {
      const got = await viaWriter(items, { bufferBytes, workers: 0 });
      expect(got.store.keys()).toEqual(expected.store.keys());
      expect((await got.array.read()).data).toEqual((await expected.array.read()).data);
    }
  });

  it("writer.abort() leaves every chunk old or new", async () => {
    // One chunk per 4 rows; each item writes 2 rows, so every chunk is completed by two items.
    const wshape = [64, 12];
    const store = new MemoryStore();
    const a = await create(store, { shape: wshape, chunks: [4, 12], dtype: "int32" });
    const oldModel = randomValues("int32", product(wshape), prng(41));
    await a.write(null, oldModel, { workers: 0 });
    const newModel = randomValues("int32", product(wshape), prng(42));
    let committed = 0;
    const probe = new ProbeStore(new LatencyStore(store, 2));
    const writer = through(a, probe).writer({ concurrency: 2, workers: 0, onProgress: (p) => (committed = p.chunksDone) }).getWriter();
    for (let row = 0; row < wshape[0]; row += 2) {
      await writer.write({ selection: `${row}:${row + 2}, :`, data: newModel.subarray(row * 12, (row + 2) * 12) });
      if (committed >= 3) break;
    }
    await writer.abort(new Error("stop"));
    await settle(probe);
    const tally = await oldOrNew(a, oldModel, newModel);
    expect(tally.new).toBeGreaterThanOrEqual(3);
    expect(tally.old).toBeGreaterThan(0);
  });
});

describe("onProgress", () => {
  const check = (seen: Progress[], total: number) => {
    expect(seen.length).toBe(total);
    expect(seen.at(-1)?.chunksDone).toBe(total);
    for (let i = 0; i < seen.length; i++) {
      expect(seen[i].chunksTotal).toBe(total);
      expect(seen[i].chunksDone).toBe(i + 1);
      if (i > 0) expect(seen[i].bytesDone).toBeGreaterThan(seen[i - 1].bytesDone);
    }
  };

  it("read, readChunks and write: chunksDone reaches chunksTotal and bytesDone increases monotonically", async () => {
    const a = await filled([30, 20], [4, 6], { seed: 51 });
    const total = 8 * 4;
    for (const workers of [0, 2] as const) {
      const reads: Progress[] = [];
      await a.read(null, { workers, onProgress: (p) => reads.push(p) });
      check(reads, total);
      const streamed: Progress[] = [];
      await collect(a.readChunks(null, { workers, onProgress: (p) => streamed.push(p) }));
      check(streamed, total);
      const writes: Progress[] = [];
      await a.write(null, randomValues("int32", 600, prng(52 + workers)), { workers, onProgress: (p) => writes.push(p) });
      check(writes, total);
    }
  });

  it("writer: chunksTotal is unknown (-1), chunksDone counts every committed chunk", async () => {
    const a = await create(new MemoryStore(), { shape: [20, 20], chunks: [5, 5], dtype: "int32" });
    const seen: Progress[] = [];
    const writer = a.writer({ onProgress: (p) => seen.push(p) }).getWriter();
    await writer.write({ selection: "0:10, :", data: 3 });
    await writer.write({ selection: "10:, :", data: randomValues("int32", 200, prng(53)) });
    await writer.close();
    expect(seen.at(-1)?.chunksDone).toBe(16);
    expect(seen.every((p) => p.chunksTotal === -1)).toBe(true);
  });
});

describe("bounds", () => {
  it("a read with concurrency N has at most N gets in flight, and reaches N (N = 1, 3, 8)", async () => {
    const a = await filled([60, 4], [1, 4], { seed: 61 });
    for (const concurrency of [1, 3, 8]) {
      const counting = new CountingStore(new LatencyStore(a.store, 3));
      const got = await through(a, counting).read(null, { concurrency, workers: 0 });
      expect(got.data).toEqual((await a.read()).data);
      expect(counting.count("get")).toBe(60);
      expect(counting.maxInFlight).toBe(concurrency);
    }
  });

  it("readChunks with concurrency 3 has at most 3 gets in flight, and reaches 3", async () => {
    const a = await filled([60, 4], [1, 4], { seed: 62 });
    for (const workers of [0, 2] as const) {
      const counting = new CountingStore(new LatencyStore(a.store, 3));
      const results = await collect(through(a, counting).readChunks(null, { concurrency: 3, workers }));
      expect(results).toHaveLength(60);
      expect(counting.maxInFlight).toBe(3);
    }
  });

  it("a write of whole chunks with concurrency 2 has at most 2 sets in flight, and reaches 2", async () => {
    const a = await create(new MemoryStore(), { shape: [40, 4], chunks: [1, 4], dtype: "int32" });
    const counting = new CountingStore(new LatencyStore(a.store, 3));
    await through(a, counting).write(null, randomValues("int32", 160, prng(63)), { concurrency: 2, workers: 0 });
    expect(counting.count("set")).toBe(40);
    expect(counting.count("get")).toBe(0); // whole chunks: nothing read, so every call in flight is a set
    expect(counting.maxInFlight).toBe(2);
  });

  it("a partial write with concurrency 2 has at most 2 gets and 2 sets in flight", async () => {
    const a = await filled([40, 8], [2, 8], { seed: 64 });
    const probe = new ProbeStore(new LatencyStore(a.store, 3));
    await through(a, probe).write("1:39, 2:6", 7, { concurrency: 2, workers: 0 });
    expect(probe.started.get).toBe(20);
    expect(probe.started.set).toBe(20);
    expect(probe.maxInFlight.get).toBeLessThanOrEqual(2);
    expect(probe.maxInFlight.set).toBeLessThanOrEqual(2);
    expect(probe.maxInFlight.set).toBe(2);
  });

  it("prefetch with a ByteBudget and a slow consumer holds at most maxBytes + concurrency × item size", async () => {
    const itemSize = 1000;
    const maxBytes = 4500;
    const concurrency = 4;
    const items = 60;
    const budget = new ByteBudget(maxBytes);
    let inFlight = 0;
    let maxFetches = 0;
    const source = new ReadableStream<number>({
      start(controller) {
        for (let i = 0; i < items; i++) controller.enqueue(i);
        controller.close();
      },
    });
    const received: number[] = [];
    await source
      .pipeThrough(
        prefetch<number, { i: number; bytes: Uint8Array }>({
          concurrency,
          budget,
          sizeOf: (item) => item.bytes.byteLength,
          onInFlight: (n) => (maxFetches = Math.max(maxFetches, n)),
          fetch: async (i) => {
            inFlight++;
            await new Promise((resolve) => setTimeout(resolve, 1));
            inFlight--;
            return { i, bytes: new Uint8Array(itemSize) };
          },
        }),
      )
      .pipeTo(
        new WritableStream(
          {
            async write(item) {
              // A slow consumer with a deep queue: only the budget holds the fetches back.
              await new Promise((resolve) => setTimeout(resolve, 3));
              received.push(item.i);
              budget.release(item.bytes.byteLength);
            },
          },
          new CountQueuingStrategy({ highWaterMark: 1000 }),
        ),
      );
    expect(received.sort((x, y) => x - y)).toEqual([...Array(items).keys()]);
    expect(maxFetches).toBeLessThanOrEqual(concurrency);
    expect(inFlight).toBe(0);
    expect(budget.peak).toBeGreaterThanOrEqual(maxBytes); // the budget was the binding limit
    expect(budget.peak).toBeLessThanOrEqual(maxBytes + concurrency * itemSize);
    expect(budget.held).toBe(0);
  });

  it("prefetch holds up to `concurrency` unread results and starts the next request as soon as one is taken", async () => {
    // IO must overlap a busy consumer: with no room for fetched results, one unread result
    // would stop every new request until the consumer drained them all.
    const concurrency = 4;
    let started = 0;
    let maxInFlight = 0;
    const source = new ReadableStream<number>({
      start(controller) {
        for (let i = 0; i < 100; i++) controller.enqueue(i);
        controller.close();
      },
    });
    const reader = source
      .pipeThrough(
        prefetch<number, number>({
          concurrency,
          onInFlight: (n) => (maxInFlight = Math.max(maxInFlight, n)),
          fetch: async (i) => {
            started++;
            await new Promise((resolve) => setTimeout(resolve, 1));
            return i;
          },
        }),
      )
      .getReader();
    const quiet = () => new Promise((resolve) => setTimeout(resolve, 30));
    await quiet();
    // At rest: up to `concurrency` results queued (then the intake stops), plus the fetches
    // that were in flight when it did.
    // (With no room at all, nothing would be fetched until the consumer first asked.)
    const atRest = started;
    expect(atRest).toBeGreaterThan(concurrency);
    expect(atRest).toBeLessThanOrEqual(2 * concurrency);
    await reader.read();
    await quiet();
    expect(started).toBe(atRest); // still `concurrency` or more unread: no new request
    for (let i = 0; i < atRest - concurrency; i++) await reader.read();
    await quiet();
    expect(started).toBeGreaterThan(atRest); // fewer than `concurrency` unread: requests resume
    expect(maxInFlight).toBeLessThanOrEqual(concurrency);
    await reader.cancel();
  });

  it("a tiny prefetchBytes budget still completes read and readChunks with the right data", async () => {
    const a = await filled([30, 30], [4, 4], { seed: 65 });
    const expected = await a.read();
    for (const workers of [0, 2] as const) {
      expect((await a.read(null, { prefetchBytes: 1, workers })).data).toEqual(expected.data);
      const results = await collect(a.readChunks(null, { prefetchBytes: 1, workers, ordered: true }));
      expect(reassemble(results, [30, 30], "int32").data).toEqual(expected.data);
    }
  });
});

describe("many requests in flight on one caller's signal", () => {
  it("reads and writes with concurrency 32 through a slow store raise no listener-leak warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const store = new LatencyStore(new MemoryStore(), 2);
      const array = await create(store, { shape: [64, 64], chunks: [8, 8], dtype: "uint8", fillValue: 0 });
      const signal = new AbortController().signal;
      const values = Uint8Array.from({ length: 64 * 64 }, (_, i) => i % 251);
      await array.write(null, values, { concurrency: 32, signal, workers: 0 });
      await array.write("3:61, 5:59", 7, { concurrency: 32, signal, workers: 0 });
      const back = await array.read(null, { concurrency: 32, signal, workers: 0 });
      expect(back.data[0]).toBe(0);
      expect(back.data[3 * 64 + 5]).toBe(7);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
