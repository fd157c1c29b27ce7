/**
 * Node stream and RxJS adapters (operators/node.ts, operators/rx.ts):
 * toNodeReadable emits exactly read()'s bytes slab by slab for any selection (2-d, 3-d,
 * strided, dropped dimensions, 0-d, empty), pipes through gzip into a file, reads each chunk
 * once, and respects byte backpressure (a consumer that does not read stops the reads after
 * about two slabs); destroy() and an AbortSignal stop it. fromNodeReadable round-trips between
 * arrays of different chunking, pulls the source only as the store keeps up, and rejects a byte
 * count that does not fill the selection with a ValueError naming the array. chunksToNodeReadable
 * feeds chunk results to Node transforms. toObservable delivers every chunk, cancels the read on
 * unsubscribe, and propagates errors.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gunzipSync } from "node:zlib";
import { lastValueFrom, take, toArray } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, CodecError, DATA_TYPES, ValueError, create, type DataType, type Selection, type TypedArray } from "../src/index.js";
import { ZarrArray, closePools, type ChunkResult } from "../src/array.js";
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";
import { chunksToNodeReadable, fromNodeReadable, planSlabs, toNodeReadable } from "../operators/node.js";
import { readChunks$, toObservable } from "../operators/rx.js";
import { MemoryStore } from "../stores/memory.js";
import { CountingStore, LatencyStore } from "../stores/wrappers.js";
import { prng } from "./helpers/prng.js";

// ---------------------------------------------------------------------------------------------
// helpers


const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bytesOf = (data: ArrayBufferView) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** An array filled with seeded random bytes (every chunk stored). */
async function filled(shape: number[], chunks: number[], dtype: DataType = "int32", seed = 1, store: Store = new MemoryStore()): Promise<ZarrArray> {
  const a = await create(store, { shape, chunks, dtype });
  const rnd = prng(seed);
  const { itemsize, ctor } = DATA_TYPES[dtype];
  const raw = new Uint8Array(product(shape) * itemsize);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(rnd() * 256);
  if (dtype === "float32" || dtype === "float64") {
    // Finite values only, so NaN payloads cannot muddy comparisons.
    const view = dtype === "float32" ? new Float32Array(raw.buffer) : new Float64Array(raw.buffer);
    for (let i = 0; i < view.length; i++) view[i] = Math.floor(rnd() * 2000) - 1000 + 0.5;
  }
  await a.write(null, new ctor(raw.buffer) as TypedArray, { workers: 0 });
  return a;
}

/** The same array seen through another store (a wrapper over the one it was created in). */
const through = (a: ZarrArray, store: Store) => new ZarrArray(store, a.path, a.metadata);

async function collect(readable: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of readable) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Lets pending IO and stream ticks settle: returns once `store` has had nothing in flight for a few turns. */
async function settle(store: { inFlight: number }, turns = 5): Promise<void> {
  for (let quiet = 0; quiet < turns; ) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    quiet = store.inFlight === 0 ? quiet + 1 : 0;
  }
}

/** Polls `value` until it has not changed for a few turns (IO and stream ticks settled); returns it. */
async function stable<T>(value: () => T, turns = 8): Promise<T> {
  let last = value();
  for (let quiet = 0; quiet < turns; ) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const now = value();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

/** Chunks of the grid a selection of whole chunk rows touches: rows × chunks per row. */
const chunksPerRow = (shape: number[], chunks: number[]) => product(shape.slice(1).map((n, d) => Math.ceil(n / chunks[d + 1])));

afterAll(async () => {
  await closePools();
});

// ---------------------------------------------------------------------------------------------

describe("planSlabs", () => {
  it("cuts along the first dimension with more than one index, at chunk boundaries, covering every index once", () => {
    const sel = [
      { start: 3, step: 1, count: 1, dropped: true },
      { start: 1, step: 3, count: 30, dropped: false },
      { start: 0, step: 1, count: 4, dropped: false },
    ];
    const slabs = [...planSlabs(sel, [2, 10, 4], 4, 1)];
    // Every slab is one chunk row along axis 1: indices 1..88 step 3, chunks of 10.
    const firsts = slabs.map((s) => (s.selection[1] as { start: number }).start);
    const rows = firsts.map((f) => Math.floor(f / 10));
    expect(new Set(rows).size).toBe(rows.length);
    expect(slabs.reduce((n, s) => n + s.count, 0)).toBe(30 * 4);
    expect(slabs.every((s) => s.selection[0] === 3 && s.shape.length === 2)).toBe(true);
  });

  it("groups small chunk rows until a slab reaches slabBytes", () => {
    const sel = [{ start: 0, step: 1, count: 100, dropped: false }, { start: 0, step: 1, count: 8, dropped: false }];
    const slabs = [...planSlabs(sel, [5, 8], 1, 64)];
    // 8 bytes a row, at least 64 bytes a slab → 8 rows, extended to the chunk boundary (10).
    expect(slabs.map((s) => s.shape[0])).toEqual(Array(10).fill(10));
  });

  it("yields one slab for 0-d and single-element selections and none for empty ones", () => {
    expect([...planSlabs([], [], 4)]).toHaveLength(1);
    expect([...planSlabs([{ start: 2, step: 1, count: 1, dropped: true }], [3], 4)]).toHaveLength(1);
    expect([...planSlabs([{ start: 2, step: 1, count: 0, dropped: false }], [3], 4)]).toHaveLength(0);
  });
});

describe("toNodeReadable", () => {
  let a2: ZarrArray;
  let a3: ZarrArray;
  beforeAll(async () => {
    a2 = await filled([50, 37], [7, 5], "uint16", 2);
    a3 = await filled([12, 9, 10], [5, 4, 3], "float32", 3);
  });

  const cases: [string, () => ZarrArray, Selection][] = [
    ["2-d whole", () => a2, null],
    ["2-d strided", () => a2, "1:45:3, ::2"],
    ["2-d row (dropped first dim)", () => a2, "13, 4:30"],
    ["2-d column (dropped last dim)", () => a2, ":, 11"],
    ["2-d single element", () => a2, "4, 5"],
    ["3-d whole", () => a3, null],
    ["3-d dropped middle", () => a3, "2:11:2, 7, 1:"],
    ["3-d leading count-1 dim", () => a3, "3:4, ::2, 5:9"],
    ["3-d strided step > chunk", () => a3, "::6, ::5, ::4"],
    ["3-d empty", () => a3, "5:5, :, :"],
  ];

  for (const [label, array, selection] of cases) {
    it(`emits read()'s bytes: ${label}`, async () => {
      const expected = bytesOf((await array().read(selection)).data);
      for (const slabBytes of [1, 64, undefined]) {
        const bytes = await collect(toNodeReadable(array(), selection, { slabBytes }));
        expect(bytes.equals(expected)).toBe(true);
      }
    });
  }

  it("emits read()'s bytes for a 0-d array", async () => {
    const a = await create(new MemoryStore(), { shape: [], chunks: [], dtype: "float64", fillValue: 0 });
    await a.write(null, 2.5);
    const bytes = await collect(toNodeReadable(a));
    expect(bytes.equals(bytesOf((await a.read()).data))).toBe(true);
    expect(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 8))[0]).toBe(2.5);
  });

  it("reads every chunk exactly once (slabs are chunk-aligned), with workers too", async () => {
    const counting = new CountingStore(a2.store);
    for (const workers of [0, 2] as const) {
      counting.reset();
      const bytes = await collect(toNodeReadable(through(a2, counting), null, { slabBytes: 1, workers }));
      expect(bytes.equals(bytesOf((await a2.read()).data))).toBe(true);
      const keys = counting.calls.filter((c) => c.method === "get").map((c) => c.key);
      expect(keys.length).toBe(Math.ceil(50 / 7) * Math.ceil(37 / 5));
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it("pipes through zlib.createGzip() into a file with stream/promises pipeline; the file gunzips to the same bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "zarrflow-adapters-"));
    try {
      const file = join(dir, "a3.bin.gz");
      await pipeline(toNodeReadable(a3, "1:, ::2", { slabBytes: 256 }), createGzip(), createWriteStream(file));
      const expected = bytesOf((await a3.read("1:, ::2")).data);
      expect(gunzipSync(await readFile(file)).equals(expected)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reports progress over the whole selection: chunksDone reaches chunksTotal, bytesDone only grows", async () => {
    const seen: { chunksDone: number; chunksTotal: number; bytesDone: number }[] = [];
    await collect(toNodeReadable(a2, "3:, 2:", { slabBytes: 1, onProgress: (p) => seen.push(p) }));
    const total = Math.ceil(50 / 7) * Math.ceil(37 / 5);
    expect(seen.at(-1)?.chunksDone).toBe(total);
    expect(seen.every((p) => p.chunksTotal === total)).toBe(true);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].chunksDone).toBe(seen[i - 1].chunksDone + 1);
      expect(seen[i].bytesDone).toBeGreaterThan(seen[i - 1].bytesDone);
    }
  });

  describe("byte backpressure", () => {
    // 40 chunk rows of 8 chunks; each slab is one chunk row (slabBytes: 1).
    const shape = [80, 64];
    const chunks = [2, 8];
    let a: ZarrArray;
    beforeAll(async () => {
      a = await filled(shape, chunks, "int32", 4);
    });
    const row = chunksPerRow(shape, chunks);

    // highWaterMark 1: every slab fills the stream's buffer (as a 1 MiB slab does Node's default 16 KiB).
    it("a consumer that never reads stops the reads after two slabs; reading on delivers everything", async () => {
      const counting = new CountingStore(a.store);
      const readable = toNodeReadable(through(a, counting), null, { slabBytes: 1, highWaterMark: 1 });
      readable.read(0); // ask once, then read nothing
      await new Promise((resolve) => readable.once("readable", resolve));
      await settle(counting);
      // The slab in the buffer and the one read ahead.
      expect(counting.count("get")).toBe(2 * row);
      const bytes = await collect(readable);
      expect(bytes.equals(bytesOf((await a.read()).data))).toBe(true);
      expect(counting.count("get")).toBe(40 * row);
    });

    it("a stalled pipeline destination stops the reads after about three slabs; destroy() stops them for good", async () => {
      const counting = new CountingStore(a.store);
      const readable = toNodeReadable(through(a, counting), null, { slabBytes: 1, highWaterMark: 1 });
      let writes = 0;
      const stalled = new Writable({
        highWaterMark: 1,
        write(_chunk, _encoding, _callback) {
          writes++; // never calls back
        },
      });
      readable.pipe(stalled);
      await settle(counting, 10);
      // One slab held by the destination, one in the readable's buffer, one read ahead.
      expect(writes).toBe(1);
      expect(counting.count("get")).toBeLessThanOrEqual(3 * row);
      const before = counting.count("get");
      readable.destroy();
      await settle(counting);
      expect(counting.count("get")).toBe(before);
      stalled.destroy();
    });

    it("with default options (1 MiB slabs, Node's buffer), a paused consumer holds the reads at two slabs", async () => {
      // 8 MiB: 64 rows of 4 chunks of 32 KiB; a 1 MiB slab is 8 rows = 32 chunks.
      const big = await filled([2048, 1024], [32, 256], "int32", 14);
      const counting = new CountingStore(big.store);
      const readable = toNodeReadable(through(big, counting));
      readable.read(0);
      await new Promise((resolve) => readable.once("readable", resolve));
      await settle(counting);
      expect(counting.count("get")).toBe(2 * 32);
      expect(readable.readableLength).toBe(1 << 20);
      const bytes = await collect(readable);
      expect(bytes.equals(bytesOf((await big.read()).data))).toBe(true);
      expect(counting.count("get")).toBe(256);
    });

    it("destroy() during a slow slab read stops the IO", async () => {
      const counting = new CountingStore(new LatencyStore(a.store, 3));
      const readable = toNodeReadable(through(a, counting), null, { slabBytes: 1, concurrency: 2 });
      const closed = new Promise((resolve) => readable.once("close", resolve));
      readable.once("data", () => readable.destroy());
      readable.resume();
      await closed;
      await settle(counting);
      // Slab 0 (delivered) and at most the started part of slab 1.
      expect(counting.count("get")).toBeLessThanOrEqual(2 * row);
    });

    it("an AbortSignal destroys the stream with an AbortError naming the array, and the reads stop", async () => {
      const counting = new CountingStore(new LatencyStore(a.store, 3));
      const controller = new AbortController();
      const readable = toNodeReadable(through(a, counting), null, { slabBytes: 1, concurrency: 2, signal: controller.signal });
      readable.once("data", () => controller.abort());
      const error = await collect(readable).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AbortError);
      await settle(counting);
      expect(counting.count("get")).toBeLessThanOrEqual(2 * row);
    });

    it("an already aborted signal errors the stream without any read", async () => {
      const counting = new CountingStore(a.store);
      const readable = toNodeReadable(through(a, counting), null, { signal: AbortSignal.abort() });
      await expect(collect(readable)).rejects.toBeInstanceOf(AbortError);
      expect(counting.count("get")).toBe(0);
    });
  });

  it("a failing read errors the stream with the array's error", async () => {
    const a = await filled([20, 20], [5, 5], "int32", 5);
    await a.store.set!("c/1/1", new Uint8Array([1, 2, 3, 4, 5]));
    await expect(collect(toNodeReadable(a, null, { slabBytes: 1 }))).rejects.toBeInstanceOf(CodecError);
  });
});

describe("fromNodeReadable", () => {
  it("round trip: toNodeReadable of A into fromNodeReadable of B (other chunking) makes B equal A", async () => {
    const a = await filled([40, 30, 20], [7, 8, 5], "int32", 6);
    const b = await create(new MemoryStore(), { shape: [40, 30, 20], chunks: [10, 6, 20], dtype: "int32" });
    await fromNodeReadable(toNodeReadable(a, null, { slabBytes: 4096 }), b, null, { slabBytes: 4096 });
    expect(bytesOf((await b.read()).data)).toEqual(bytesOf((await a.read()).data));
  });

  it("round trip through stream/promises pipeline and a gzip/gunzip file, into a sub-selection", async () => {
    const a = await filled([24, 18], [5, 4], "float64", 7);
    const b = await create(new MemoryStore(), { shape: [30, 40], chunks: [8, 8], dtype: "float64", fillValue: -1 });
    const dir = await mkdtemp(join(tmpdir(), "zarrflow-adapters-"));
    try {
      const file = join(dir, "a.bin.gz");
      await pipeline(toNodeReadable(a, "::2, 3:15"), createGzip(), createWriteStream(file));
      const { createGunzip } = await import("node:zlib");
      await fromNodeReadable(createReadStream(file).pipe(createGunzip()), b, "4:16, 20:32:1", { slabBytes: 64 });
      expect(bytesOf((await b.read("4:16, 20:32")).data)).toEqual(bytesOf((await a.read("::2, 3:15")).data));
      // Outside the selection: untouched fill value.
      const rest = (await b.read("0:4, :")).data as Float64Array;
      expect(rest.every((v) => v === -1)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("accepts any async iterable of odd-sized pieces, including pieces spanning slabs", async () => {
    const a = await filled([33, 17], [4, 6], "uint16", 8);
    const expected = bytesOf((await a.read()).data);
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < expected.length; i += 7) yield expected.slice(i, i + 7);
    }
    const b = await create(new MemoryStore(), { shape: [33, 17], chunks: [5, 5], dtype: "uint16" });
    await fromNodeReadable(pieces(), b, null, { slabBytes: 100 });
    expect(bytesOf((await b.read()).data)).toEqual(expected);
  });

  it("writes 0-d arrays and accepts an empty source for an empty selection", async () => {
    const a = await create(new MemoryStore(), { shape: [], chunks: [], dtype: "int32" });
    await fromNodeReadable(Readable.from([Buffer.from(new Int32Array([-7]).buffer)]), a);
    expect(Array.from((await a.read()).data as Int32Array)).toEqual([-7]);
    const b = await create(new MemoryStore(), { shape: [5, 5], chunks: [2, 2], dtype: "int32" });
    await fromNodeReadable(Readable.from([]), b, "3:3, :");
    await expect(fromNodeReadable(Readable.from([Buffer.alloc(1)]), b, "3:3, :")).rejects.toBeInstanceOf(ValueError);
  });

  it("too few bytes → ValueError naming the array path", async () => {
    const b = await create(new MemoryStore(), { path: "dst/arr", shape: [10, 10], chunks: [3, 3], dtype: "int32" });
    const error = await fromNodeReadable(Readable.from([Buffer.alloc(399)]), b).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueError);
    expect((error as ValueError).path).toBe("dst/arr");
    expect((error as Error).message).toContain("dst/arr");
    expect((error as Error).message).toContain("399");
  });

  it("too many bytes → ValueError naming the array path", async () => {
    const b = await create(new MemoryStore(), { path: "dst/arr", shape: [10, 10], chunks: [3, 3], dtype: "int32" });
    const error = await fromNodeReadable(Readable.from([Buffer.alloc(400), Buffer.alloc(1)]), b).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueError);
    expect((error as Error).message).toContain("dst/arr");
  });

  it("a source yielding strings (not bytes) → ValueError", async () => {
    const b = await create(new MemoryStore(), { shape: [4], chunks: [2], dtype: "uint8" });
    await expect(fromNodeReadable(Readable.from(["abcd"]), b)).rejects.toBeInstanceOf(ValueError);
  });

  it("a slow store slows the source: with sets blocked, the source is pulled only a bounded amount ahead", async () => {
    // 200 chunk rows of 4 KiB (one chunk each); the source is pulled in 1 KiB pieces.
    const b = await create(new MemoryStore(), { shape: [200, 1024], chunks: [1, 1024], dtype: "int32" });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const blocked = new GatedStore(b.store, gate);
    const counting = new CountingStore(blocked);
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let row = 0; row < 200; row++) {
        for (let k = 0; k < 4; k++) {
          pulled += 1024;
          yield new Uint8Array(1024).fill((row % 250) + 1); // never the fill value: every row is a set
        }
      }
    }
    const done = fromNodeReadable(source(), through(b, counting), null, { slabBytes: 1, concurrency: 2, workers: 0 });
    await stable(() => `${pulled}/${blocked.waiting}`);
    // Slabs are single rows: 2 sets in flight, plus the pipeline's bounded queues (a dozen rows, not 200).
    expect(blocked.waiting).toBe(2);
    expect(counting.count("set")).toBe(0);
    expect(pulled).toBeLessThanOrEqual(24 * 4096);
    open();
    await done;
    const data = (await b.read()).data as Int32Array;
    const rows = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (const row of [0, 77, 199]) expect(rows[row * 4096 + 5]).toBe((row % 250) + 1);
    expect(counting.count("set")).toBe(200);
  });

  it("an AbortSignal rejects with an AbortError while the source stalls", async () => {
    const b = await create(new MemoryStore(), { shape: [10], chunks: [5], dtype: "uint8" });
    const controller = new AbortController();
    async function* stalling(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(3);
      controller.abort();
      await new Promise(() => undefined);
    }
    await expect(fromNodeReadable(stalling(), b, null, { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
  });
});

/** A store whose set/delete wait for a gate to open (a store that cannot keep up). */
class GatedStore implements Store {
  waiting = 0;
  constructor(
    readonly inner: Store,
    readonly gate: Promise<void>,
  ) {}
  get(key: string, range?: ByteRange, options?: StoreCallOptions) {
    return this.inner.get(key, range, options);
  }
  set = async (key: string, value: Uint8Array, options?: StoreCallOptions) => {
    this.waiting++;
    await this.gate;
    this.waiting--;
    return this.inner.set!(key, value, options);
  };
  delete = async (key: string, options?: StoreCallOptions) => {
    this.waiting++;
    await this.gate;
    this.waiting--;
    return this.inner.delete!(key, options);
  };
}

describe("chunksToNodeReadable", () => {
  it("pipes chunk results through an object-mode Node transform", async () => {
    const a = await filled([21, 13], [4, 5], "int32", 9);
    let sum = 0n;
    let chunks = 0;
    await pipeline(
      chunksToNodeReadable(a.readChunks("1:, :")),
      new Transform({
        objectMode: true,
        transform(chunk: ChunkResult, _encoding, callback) {
          callback(null, (chunk.data.data as Int32Array).reduce((n, v) => n + BigInt(v), 0n));
        },
      }),
      new Writable({
        objectMode: true,
        write(partial: bigint, _encoding, callback) {
          sum += partial;
          chunks++;
          callback();
        },
      }),
    );
    const all = (await a.read("1:, :")).data as Int32Array;
    expect(sum).toBe(all.reduce((n, v) => n + BigInt(v), 0n));
    expect(chunks).toBe(Math.ceil(21 / 4) * Math.ceil(13 / 5));
  });
});

describe("toObservable / readChunks$", () => {
  it("subscribing collects every chunk; reassembled they equal read()", async () => {
    const a = await filled([30, 22], [4, 6], "int32", 10);
    const results = await lastValueFrom(toObservable(a.readChunks("2:, 1:21")).pipe(toArray()));
    expect(results).toHaveLength(Math.ceil(30 / 4) * Math.ceil(22 / 6));
    const expected = await a.read("2:, 1:21");
    const out = new Int32Array(expected.data.length);
    const width = expected.shape[1];
    for (const r of results) {
      const values = r.data.data as Int32Array;
      for (let i = 0; i < r.region[0].count; i++) {
        for (let j = 0; j < r.region[1].count; j++) {
          out[(r.region[0].start + i * r.region[0].step) * width + r.region[1].start + j * r.region[1].step] = values[i * r.data.shape[1] + j];
        }
      }
    }
    expect(out).toEqual(expected.data);
  });

  it("readChunks$ is cold: each subscription runs its own read", async () => {
    const a = await filled([12, 12], [4, 4], "int32", 11);
    const counting = new CountingStore(a.store);
    const chunks$ = readChunks$(through(a, counting), null, { ordered: true });
    const first = await lastValueFrom(chunks$.pipe(toArray()));
    const second = await lastValueFrom(chunks$.pipe(toArray()));
    expect(first.map((c) => c.coords)).toEqual(second.map((c) => c.coords));
    expect(counting.count("get")).toBe(2 * 9);
  });

  it("unsubscribing after the first emission cancels the read: store gets stay bounded", async () => {
    const a = await filled([200, 8], [1, 8], "int32", 12);
    const counting = new CountingStore(new LatencyStore(a.store, 2));
    const first = await lastValueFrom(readChunks$(through(a, counting), null, { concurrency: 2, workers: 0 }).pipe(take(1)));
    expect(first.data.shape).toEqual([1, 8]);
    await settle(counting, 10);
    // 200 chunks; a cancelled read stops after what was in flight and queued (a handful).
    expect(counting.count("get")).toBeLessThanOrEqual(10);
  });

  it("errors propagate as Observable errors", async () => {
    const a = await filled([20, 20], [5, 5], "int32", 13);
    await a.store.set!("c/2/3", new Uint8Array([9, 9, 9]));
    await expect(lastValueFrom(readChunks$(a))).rejects.toBeInstanceOf(CodecError);
    let pulls = 0;
    const failing = new ReadableStream<number>(
      {
        pull(controller) {
          if (pulls++ === 0) controller.enqueue(1);
          else controller.error(new Error("boom"));
        },
      },
      { highWaterMark: 0 },
    );
    const seen: number[] = [];
    await expect(
      new Promise((resolve, reject) => toObservable(failing).subscribe({ next: (v) => seen.push(v), error: reject, complete: () => resolve(undefined) })),
    ).rejects.toThrow("boom");
    expect(seen).toEqual([1]);
  });
});
