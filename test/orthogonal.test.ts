/**
 * Orthogonal index arrays (NumPy/zarr-python "oindex"), end to end: random shapes and chunk
 * grids, random mixes of slices, integers and index arrays (permuted, repeated, negative, typed,
 * boolean masks), read through read() and readChunks() and written through write() and the
 * streaming writer, all checked against a plain JS model of the whole array — on unsharded and
 * sharded layouts (1-d shards of 10 and 50, 2-d, nested; index at start and end; codecs around
 * the sharding codec), inline and on a pool of 2 workers. Repeated indices in a write: the last
 * occurrence wins. Also the listed-region copy kernels against a brute-force loop.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyRegion, fillRegion } from "../src/copy.js";
import { markRegion } from "../src/chunk-ops.js";
import { innerOverlap } from "../src/shard-merge.js";
import type { ShardingCodec } from "../src/codecs/sharding.js";
import { closePools, type ChunkResult } from "../src/array.js";
import { SelectionError, copyArray, create, openArray, slice, type CreateArrayOptions, type DataType, type NdArray, type SelectionItem, type Slice, type TypedArray } from "../src/index.js";
import type { CodecMetadata } from "../src/codecs/codec.js";
import type { Region } from "../src/selection.js";
import { WorkerPool } from "../operators/pool.js";
import { CountingStore, FileSystemStore, MemoryStore } from "../stores/index.js";
import { fromNodeReadable, planSlabs, toNodeReadable } from "../operators/node.js";
import { prng } from "./helpers/prng.js";
import { selectionOffsets } from "./helpers/reference.js";

const pool = new WorkerPool({ size: 2 });
afterAll(async () => {
  await pool.close();
  await closePools();
});

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bytesOf = (data: ArrayBufferView) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

type DType = "int32" | "uint16" | "uint8" | "float64" | "int16";
const CTORS = { int32: Int32Array, uint16: Uint16Array, uint8: Uint8Array, float64: Float64Array, int16: Int16Array } as const;
type Values = Int32Array | Uint16Array | Uint8Array | Float64Array | Int16Array;

function randomValues(dtype: DType, count: number, rnd: () => number): Values {
  const out = new CTORS[dtype](count);
  for (let i = 0; i < count; i++) out[i] = dtype === "float64" ? Math.round((rnd() - 0.5) * 1e6) / 8 : Math.floor(rnd() * 60000) % (dtype === "uint8" ? 256 : 30000);
  return out;
}

/** A plain model: the whole array as a flat C-order typed array. */
class Model {
  readonly data: Values;
  constructor(
    readonly dtype: DType,
    readonly shape: number[],
    fill: number,
  ) {
    this.data = new CTORS[dtype](product(shape)).fill(fill);
  }

  /** Flat offsets of a selection in its C order (repeats included), and the result shape. */
  positions(selection: readonly SelectionItem[]): { offsets: number[]; shape: number[] } {
    return selectionOffsets(this.shape, selection);
  }

  /** Assignment in C order of the selection: a repeated position ends with its last value. */
  write(selection: readonly SelectionItem[], value: Values | number): void {
    this.positions(selection).offsets.forEach((p, n) => (this.data[p] = typeof value === "number" ? value : value[n]));
  }

  read(selection: readonly SelectionItem[]): { data: Values; shape: number[] } {
    const { offsets, shape } = this.positions(selection);
    const out = new CTORS[this.dtype](offsets.length);
    offsets.forEach((p, n) => (out[n] = this.data[p]));
    return { data: out, shape };
  }
}

/** An index array for a dimension of `size`: permuted, repeated and negative entries, in one of several forms. */
function randomIndexArray(size: number, rnd: () => number): SelectionItem {
  const form = rnd();
  if (form < 0.1) return Array.from({ length: size }, () => rnd() < 0.5); // boolean mask
  const length = Math.floor(rnd() * (size * 1.5 + 1));
  const list = Array.from({ length }, () => {
    const i = Math.floor(rnd() * size);
    return rnd() < 0.3 ? i - size : i; // negative: counted from the end
  });
  if (form < 0.25 && size < 100) return Int8Array.from(list);
  if (form < 0.35) return Int32Array.from(list);
  if (form < 0.4) return BigInt64Array.from(list.map(BigInt));
  return list;
}

function randomSelection(shape: readonly number[], rnd: () => number): SelectionItem[] {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const items = shape.map((size): SelectionItem => {
    const r = rnd();
    if (r < 0.45) return randomIndexArray(size, rnd);
    if (r < 0.55 && size > 0) return int(-size, size - 1);
    if (r < 0.65) return null;
    return slice(rnd() < 0.2 ? null : int(-size, size), rnd() < 0.2 ? null : int(-size, size + 2), [null, 1, 2, 3, 7][int(0, 4)]);
  });
  // At least one index array in most selections.
  if (!items.some((i) => Array.isArray(i) || ArrayBuffer.isView(i)) && rnd() < 0.8) {
    const d = int(0, shape.length - 1);
    items[d] = randomIndexArray(shape[d], rnd);
  }
  return items;
}

const describeSelection = (sel: readonly SelectionItem[]) =>
  JSON.stringify(sel, (_, v) => (typeof v === "bigint" ? `${v}n` : ArrayBuffer.isView(v) ? `${v.constructor.name}[${Array.from(v as unknown as ArrayLike<unknown>, String)}]` : v));

/** Reassembles a readChunks stream of a selection: each result element exactly once, through `region` (listed or strided). */
async function reassemble(stream: ReadableStream<ChunkResult>, dtype: DType, shape: readonly number[], label: string): Promise<Values> {
  const out = new CTORS[dtype](product(shape));
  const seen = new Uint8Array(out.length);
  const strides = shape.map((_, d) => product(shape.slice(d + 1)));
  for await (const chunk of stream as unknown as AsyncIterable<ChunkResult>) {
    const counts = chunk.data.shape;
    expect(chunk.region.map((r) => r.count), label).toEqual(counts);
    const values = chunk.data.data as Values;
    if (counts.some((c) => c === 0)) continue;
    const counter = counts.map(() => 0);
    for (let k = 0; ; k++) {
      let p = 0;
      for (let d = 0; d < counts.length; d++) {
        const r = chunk.region[d];
        p += (r.index ? r.index[counter[d]] : r.start + counter[d] * r.step) * strides[d];
      }
      out[p] = values[k];
      seen[p]++;
      let d = counts.length - 1;
      for (; d >= 0; d--) {
        if (++counter[d] < counts[d]) break;
        counter[d] = 0;
      }
      if (d < 0) break;
    }
  }
  const wrong = seen.findIndex((n) => n !== 1);
  expect(wrong, `${label}: result element ${wrong} delivered ${seen[wrong]} times`).toBe(-1);
  return out;
}

function expectSame(got: ArrayBufferView, want: ArrayBufferView, label: string): void {
  const a = bytesOf(got);
  const b = bytesOf(want);
  if (a.byteLength === b.byteLength && Buffer.from(a).equals(Buffer.from(b))) return;
  expect.fail(`${label}: ${a.byteLength} bytes vs ${b.byteLength} expected, or the contents differ`);
}

// ---------------------------------------------------------------------------------------------
// the listed-region kernels

describe("copy kernels with listed regions", () => {
  const pos = (r: Region, j: number) => (r.index ? r.index[j] : r.start + j * r.step);
  const flatOf = (shape: readonly number[], idx: readonly number[]) => idx.reduce((n, v, d) => n * shape[d] + v, 0);
  function* tuples(counts: readonly number[]): Generator<number[]> {
    if (counts.some((c) => c === 0)) return;
    const i = counts.map(() => 0);
    for (;;) {
      yield i.slice();
      let d = counts.length - 1;
      for (; d >= 0; d--) {
        if (++i[d] < counts[d]) break;
        i[d] = 0;
      }
      if (d < 0) return;
    }
  }
  const randomRegion = (size: number, count: number, rnd: () => number): Region => {
    if (rnd() < 0.5 && count <= size) {
      const step = Math.max(1, Math.floor(rnd() * (count > 1 ? (size - 1) / (count - 1) : 1)) || 1);
      const start = Math.floor(rnd() * (size - (count - 1) * step));
      return { start, step, count };
    }
    return { start: 0, step: 1, count, index: Array.from({ length: count }, () => Math.floor(rnd() * size)) };
  };

  it("copyRegion, fillRegion and markRegion visit exactly the listed positions (k = 1 and 2)", () => {
    const rnd = prng(99);
    for (let t = 0; t < 200; t++) {
      const rank = 1 + Math.floor(rnd() * 3);
      const k = rnd() < 0.5 ? 1 : 2;
      const srcShape = Array.from({ length: rank }, () => 1 + Math.floor(rnd() * 6));
      const dstShape = Array.from({ length: rank }, () => 1 + Math.floor(rnd() * 6));
      const counts = srcShape.map((n, d) => 1 + Math.floor(rnd() * Math.min(n, dstShape[d]) * 1.5));
      const srcRegion = counts.map((c, d) => randomRegion(srcShape[d], c, rnd));
      // Destination positions distinct per dimension, so the result does not depend on visiting order.
      const dstRegion = counts.map((c, d): Region => {
        if (c > dstShape[d]) return { start: 0, step: 1, count: c, index: Array.from({ length: c }, (_, j) => j % dstShape[d]) };
        const perm = [...Array(dstShape[d]).keys()].sort(() => rnd() - 0.5).slice(0, c);
        return { start: 0, step: 1, count: c, index: perm };
      });
      const distinct = dstRegion.every((r) => new Set(r.index).size === r.count);
      const src = Uint16Array.from({ length: product(srcShape) * k }, () => Math.floor(rnd() * 65536));
      const dst = new Uint16Array(product(dstShape) * k);
      const want = new Uint16Array(dst.length);
      for (const i of tuples(counts)) {
        const s = flatOf(srcShape, i.map((j, d) => pos(srcRegion[d], j)));
        const p = flatOf(dstShape, i.map((j, d) => pos(dstRegion[d], j)));
        for (let q = 0; q < k; q++) want[p * k + q] = src[s * k + q];
      }
      copyRegion(dst, dstShape, dstRegion, src, srcShape, srcRegion, k);
      if (distinct) expect(Array.from(dst)).toEqual(Array.from(want));
      // A listed source into a compact block (a write's piece).
      const compact = counts.map((count) => ({ start: 0, step: 1, count }));
      const block = new Uint16Array(product(counts) * k);
      copyRegion(block, counts, compact, src, srcShape, srcRegion, k);
      let n = 0;
      for (const i of tuples(counts)) {
        const s = flatOf(srcShape, i.map((j, d) => pos(srcRegion[d], j)));
        for (let q = 0; q < k; q++) expect(block[n * k + q]).toBe(src[s * k + q]);
        n++;
      }
      // fill and mark: exactly the distinct listed positions.
      const filled = new Uint16Array(product(dstShape) * k);
      fillRegion(filled, dstShape, dstRegion, Uint16Array.from({ length: k }, (_, q) => 7 + q), k);
      const mask = new Uint8Array(product(dstShape));
      const fresh = markRegion(mask, dstShape, dstRegion);
      const hit = new Set<number>();
      for (const i of tuples(counts)) hit.add(flatOf(dstShape, i.map((j, d) => pos(dstRegion[d], j))));
      expect(fresh).toBe(hit.size);
      for (let p = 0; p < mask.length; p++) {
        expect(mask[p]).toBe(hit.has(p) ? 1 : 0);
        for (let q = 0; q < k; q++) expect(filled[p * k + q]).toBe(hit.has(p) ? 7 + q : 0);
      }
      expect(markRegion(mask, dstShape, dstRegion)).toBe(0);
    }
  });

  it("refuse listed positions outside the shape with a RangeError", () => {
    const dst = new Uint8Array(4);
    expect(() => copyRegion(dst, [4], [{ start: 0, step: 1, count: 2, index: [1, 4] }], new Uint8Array(2), [2], [{ start: 0, step: 1, count: 2 }])).toThrow(RangeError);
    expect(() => fillRegion(dst, [4], [{ start: 0, step: 1, count: 1, index: [-1] }], new Uint8Array(1))).toThrow(RangeError);
    expect(() => copyRegion(dst, [4], [{ start: 0, step: 1, count: 3, index: [1] }], new Uint8Array(3), [3], [{ start: 0, step: 1, count: 3 }])).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// the reference model, end to end

interface Case {
  label: string;
  dtype: DType;
  shape: number[];
  chunks: number[];
  fill: number;
  options?: Partial<CreateArrayOptions>;
}

const BYTES: CodecMetadata = { name: "bytes", configuration: { endian: "little" } };
const ZSTD: CodecMetadata = { name: "zstd", configuration: { level: 1, checksum: false } };
const nested = (chunk: number[], location: "start" | "end"): CodecMetadata[] => [
  { name: "sharding_indexed", configuration: { chunk_shape: chunk, codecs: [BYTES, ZSTD], index_location: location } },
];

const CASES: Case[] = [
  { label: "1-d int32, ragged", dtype: "int32", shape: [23], chunks: [5], fill: -1 },
  { label: "2-d float64, ragged", dtype: "float64", shape: [11, 9], chunks: [4, 3], fill: 0.5 },
  { label: "3-d uint8, ragged", dtype: "uint8", shape: [5, 7, 6], chunks: [2, 3, 4], fill: 7 },
  { label: "2-d int16 v2, F order, zlib", dtype: "int16", shape: [9, 8], chunks: [4, 3], fill: 3, options: { zarrFormat: 2, order: "F", compressor: { id: "zlib", level: 1 } } },
  { label: "2-d uint16, transpose + gzip", dtype: "uint16", shape: [10, 7], chunks: [3, 4], fill: 0, options: { codecs: [{ name: "transpose", configuration: { order: [1, 0] } }, BYTES, { name: "gzip", configuration: { level: 1 } }] } },
  ...(["end", "start"] as const).flatMap((location): Case[] => [
    { label: `1-d shards of 10, inner 5, bytes (patchable), index at ${location}`, dtype: "uint16", shape: [47], chunks: [5], fill: 9, options: { shards: [10], codecs: [BYTES], indexLocation: location } },
    { label: `1-d shards of 50, inner 10, zstd, index at ${location}`, dtype: "int32", shape: [123], chunks: [10], fill: -1, options: { shards: [50], codecs: [BYTES, ZSTD], indexLocation: location } },
    { label: `2-d shards [8,12], inner [4,3], bytes, index at ${location}`, dtype: "uint16", shape: [19, 29], chunks: [4, 3], fill: 7, options: { shards: [8, 12], codecs: [BYTES], indexLocation: location } },
    { label: `nested shards [16,16] → [8,8] → [4,4], index at ${location}`, dtype: "float64", shape: [37, 21], chunks: [8, 8], fill: 0.5, options: { shards: [16, 16], codecs: nested([4, 4], location), indexLocation: location } },
  ]),
];

describe("orthogonal selections against a reference model", () => {
  for (const c of CASES) {
    it.each([0, 2])(`${c.label}, workers %i`, async (workers) => {
      const exec = workers === 0 ? { workers: 0 } : { pool };
      const store = new MemoryStore();
      const rnd = prng(c.label.length * 7919 + workers);
      const array = await create(store, { path: "m", shape: c.shape, chunks: c.chunks, dtype: c.dtype as DataType, fillValue: c.fill, ...c.options });
      const model = new Model(c.dtype, c.shape, c.fill);
      const check = async (selection: SelectionItem[] | null, what: string) => {
        const expected = model.read(selection ?? []);
        const label = `${what} ${selection ? describeSelection(selection) : "everything"}`;
        const result = await array.read(selection, exec);
        expect(result.shape, label).toEqual(expected.shape);
        expectSame(result.data, expected.data, `read ${label}`);
        if (selection) expectSame(await reassemble(array.readChunks(selection, exec), c.dtype, expected.shape, label), expected.data, `readChunks ${label}`);
      };
      for (let w = 0; w < 14; w++) {
        const selection = randomSelection(c.shape, rnd);
        const { shape } = model.positions(selection);
        const mode = rnd();
        const what = `after write ${w} (${describeSelection(selection)})`;
        if (mode < 0.2) {
          const scalar = w + 1;
          await array.write(selection, scalar, exec);
          model.write(selection, scalar);
        } else if (mode < 0.4) {
          // The streaming writer, two items (the second wins where they overlap).
          const second = randomSelection(c.shape, rnd);
          const a = randomValues(c.dtype, product(shape), rnd);
          const b = randomValues(c.dtype, product(model.positions(second).shape), rnd);
          const writer = array.writer({ ...exec, bufferBytes: rnd() < 0.5 ? 1 : undefined }).getWriter();
          await writer.write({ selection, data: a.slice() });
          await writer.write({ selection: second, data: b.slice() });
          await writer.close();
          model.write(selection, a);
          model.write(second, b);
        } else {
          const data = randomValues(c.dtype, product(shape), rnd);
          await array.write(selection, mode < 0.7 ? data.slice() : ({ data: data.slice(), shape, dtype: c.dtype } as NdArray), exec);
          model.write(selection, data);
        }
        await check(null, what);
      }
      for (let r = 0; r < 12; r++) await check(randomSelection(c.shape, rnd), `read ${r}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// specific behaviour

describe("orthogonal selections: behaviour", () => {
  it("reads repeat values for repeated indices, in the given order, per dimension", async () => {
    const array = await create(new MemoryStore(), { shape: [4, 5], chunks: [2, 2], dtype: "int16", fillValue: 0 });
    await array.write(null, Int16Array.from({ length: 20 }, (_, i) => i));
    const got = await array.read([[3, 0, 3, -4], [4, 1]]);
    expect(got.shape).toEqual([4, 2]);
    expect(Array.from(got.data as Int16Array)).toEqual([19, 16, 4, 1, 19, 16, 4, 1]);
    const column = await array.read([[true, false, true, true], 2]);
    expect(column.shape).toEqual([3]);
    expect(Array.from(column.data as Int16Array)).toEqual([2, 12, 17]);
  });

  it("a write with repeated indices keeps the last value, inline, on the pool and through the writer", async () => {
    for (const mode of ["inline", "pool", "writer"] as const) {
      const array = await create(new MemoryStore(), { shape: [6], chunks: [4], dtype: "int32", fillValue: -1 });
      const selection: SelectionItem[] = [[5, 1, 5, -1, 1, 0]];
      const data = Int32Array.from([10, 11, 12, 13, 14, 15]);
      if (mode === "writer") {
        const writer = array.writer().getWriter();
        await writer.write({ selection, data });
        await writer.close();
      } else await array.write(selection, data, mode === "pool" ? { pool } : { workers: 0 });
      // 5 ← 10, 12, 13 (last); 1 ← 11, 14 (last); 0 ← 15.
      expect(Array.from((await array.read()).data as Int32Array), mode).toEqual([15, 14, -1, -1, -1, 13]);
    }
  });

  it("a chunk covered by permuted indices is written without reading it; one hit twice is not covered", async () => {
    const mem = new MemoryStore();
    const store = new CountingStore(mem);
    const array = await create(store, { shape: [8], chunks: [4], dtype: "uint8", fillValue: 0 });
    await array.write(null, 1);
    store.reset();
    await array.write([[3, 1, 0, 2]], Uint8Array.from([4, 5, 6, 7]), { workers: 0 });
    expect(store.calls.filter((c) => c.method === "get").map((c) => c.key)).toEqual([]);
    await array.write([[4, 4, 5]], Uint8Array.from([8, 9, 10]), { workers: 0 });
    expect(store.calls.filter((c) => c.method === "get").map((c) => c.key)).toEqual(["c/1"]);
    expect(Array.from((await array.read()).data as Uint8Array)).toEqual([6, 5, 7, 4, 9, 10, 1, 1]);
  });

  it("an inner chunk of a shard counts as covered by listed positions only when each in-bounds position is hit", async () => {
    const array = await create(new MemoryStore(), { shape: [8], chunks: [4], shards: [8], dtype: "uint8", fillValue: 0, codecs: [BYTES] });
    const codec = array.sharding as ShardingCodec;
    const where = (index: number[]) => innerOverlap(codec, { chunkRegion: [{ start: 0, step: 1, count: index.length, index }], extent: [8] }, 0);
    expect(where([3, 1, 0, 2]).complete).toBe(true);
    // Four entries, three positions: a repeat does not cover position 3.
    expect(where([0, 1, 1, 2]).complete).toBe(false);
    expect(where([0, 1, 1, 2]).hits?.[0]).toMatchObject({ picks: [0, 1, 2, 3], at: [0, 1, 1, 2], distinct: 3 });
    expect(where([5, 6]).hits).toBeUndefined();
  });

  it("reads each chunk once, however the indices are ordered", async () => {
    const store = new CountingStore(new MemoryStore());
    const array = await create(store, { shape: [30], chunks: [10], dtype: "uint16", fillValue: 0 });
    await array.write(null, Uint16Array.from({ length: 30 }, (_, i) => i));
    store.reset();
    const got = await array.read([[25, 3, 27, 4, 25, 0, 11]], { workers: 0 });
    expect(Array.from(got.data as Uint16Array)).toEqual([25, 3, 27, 4, 25, 0, 11]);
    expect(store.calls.filter((c) => c.method === "get").map((c) => c.key).sort()).toEqual(["c/0", "c/1", "c/2"]);
  });

  it("a sharded partial read with permuted indices fetches the index and only the inner chunks it needs", async () => {
    const store = new CountingStore(new MemoryStore());
    const array = await create(store, { shape: [40], chunks: [5], shards: [20], dtype: "int16", fillValue: 0, codecs: [BYTES] });
    await array.write(null, Int16Array.from({ length: 40 }, (_, i) => i));
    store.reset();
    const got = await array.read([[17, 2, 16, 2]], { workers: 0, coalesce: { maxGap: 0 } });
    expect(Array.from(got.data as Int16Array)).toEqual([17, 2, 16, 2]);
    // One shard: its index, then inner chunks 0 and 3 (not adjacent: two ranges).
    const ranges = store.calls.filter((c) => c.method === "get" || c.method === "getRanges");
    expect(new Set(ranges.map((c) => c.key))).toEqual(new Set(["c/0"]));
    const asked = ranges.reduce((n, c) => n + (c.method === "getRanges" ? (c.range as unknown[]).length : 1), 0);
    expect(asked).toBe(3);
  });

  it("a value of the wrong shape for an index-array selection is refused; bad indices are SelectionErrors naming the array", async () => {
    const array = await create(new MemoryStore(), { path: "grid/x", shape: [5, 4], chunks: [2, 2], dtype: "uint8", fillValue: 0 });
    await expect(array.write([[1, 1, 2], null], new Uint8Array(8))).rejects.toThrow(/selection \[3,4\] has 12/);
    for (const selection of [[[0, 5]], [[1.5]], [new Float32Array([1])], [[true, false]]] as SelectionItem[][]) {
      const error = await array.read(selection).catch((e: unknown) => e);
      expect(error, describeSelection(selection)).toBeInstanceOf(SelectionError);
      expect((error as SelectionError).path).toBe("grid/x");
    }
    expect(() => array.readChunks([[9]])).toThrow(SelectionError);
    const writer = array.writer().getWriter();
    await expect(writer.write({ selection: [[-6]], data: 1 })).rejects.toThrow(SelectionError);
  });
});

describe("orthogonal selections through the adapters and the copy engine", () => {
  async function source() {
    const array = await create(new MemoryStore(), { shape: [12, 10], chunks: [5, 4], dtype: "int32", fillValue: 0 });
    await array.write(null, Int32Array.from({ length: 120 }, (_, i) => i));
    return array;
  }
  const rows = [11, 0, 7, 7, -12, 3];
  const cols = [9, 2, 2, 5];

  it("toNodeReadable streams the same bytes as read(), across slabs", async () => {
    const array = await source();
    const want = bytesOf((await array.read([rows, cols])).data);
    // Slabs of one row: every slab is its own read of a slice of the index array (no chunk alignment).
    const slabs = [...planSlabs(array.select([rows, cols]), array.chunkShape, 4, 4)];
    expect(slabs.map((slab) => slab.selection[0])).toEqual(rows.map((r) => [r < 0 ? r + 12 : r]));
    expect(slabs.every((slab) => slab.selection[1] !== cols && JSON.stringify(slab.selection[1]) === JSON.stringify(cols))).toBe(true);
    const parts: Buffer[] = [];
    for await (const part of toNodeReadable(array, [rows, cols], { slabBytes: 4 })) parts.push(part as Buffer);
    expectSame(Buffer.concat(parts), want, "node readable");
  });

  it("fromNodeReadable writes into an index-array selection, the last repeat winning", async () => {
    const array = await source();
    const model = new Model("int32", [12, 10], 0);
    model.write([], Int32Array.from({ length: 120 }, (_, i) => i));
    const values = Int32Array.from({ length: rows.length * cols.length }, (_, i) => -1 - i);
    const bytes = Buffer.from(bytesOf(values));
    // Fed in uneven pieces: slabs do not line up with what the source yields.
    const pieces = (async function* () {
      for (let at = 0; at < bytes.length; at += 36) yield bytes.subarray(at, at + 36);
    })();
    await fromNodeReadable(pieces, array, [rows, cols], { slabBytes: 4 });
    model.write([rows, cols], values);
    expectSame((await array.read()).data, model.data, "after fromNodeReadable");
  });

  it("copyArray copies an index-array selection (and a boolean mask)", async () => {
    const array = await source();
    for (const selection of [[rows, cols], [null, [true, false, false, true, true, false, false, false, false, true]]] as SelectionItem[][]) {
      const dst = new MemoryStore();
      await copyArray(array, dst, { selection, chunks: [2, 3], memoryBytes: 1 << 12 });
      const copy = await openArray(dst);
      const want = await array.read(selection);
      expect(copy.shape).toEqual(want.shape);
      expectSame((await copy.read()).data, want.data, `copy of ${describeSelection(selection)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// zarr-python 2 (optional cross-check, as in python-interop.test.ts)

const PYTHON = process.env.ZARRFLOW_PYTHON ?? "/usr/bin/python3";

function hasZarr2(): boolean {
  if (process.env.ZARRFLOW_SKIP_PYTHON === "1") return false;
  try {
    return execFileSync(PYTHON, ["-c", "import zarr; print(zarr.__version__)"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 }).startsWith("2.");
  } catch {
    return false;
  }
}

/** Reads the array with zarr-python: its orthogonal selections, the whole array, and NumPy's result of the same write. */
const PY_SCRIPT = `
import json, sys
import numpy as np
import zarr
job = json.load(sys.stdin)
z = zarr.open(job["path"], mode="r")
def item(i):
    return slice(None) if i is None else (np.array(i) if isinstance(i, list) else i)
out = {"oindex": [], "whole": z[:].ravel().tolist()}
for sel in job["selections"]:
    got = z.get_orthogonal_selection(tuple(item(i) for i in sel))
    out["oindex"].append({"shape": list(np.shape(got)), "values": np.ravel(got).tolist()})
ref = np.arange(int(np.prod(z.shape)), dtype=z.dtype).reshape(z.shape)
w = job["write"]
ref[np.ix_(np.array(w["rows"]), np.array(w["cols"]))] = np.array(w["values"], dtype=z.dtype).reshape(len(w["rows"]), len(w["cols"]))
out["numpy"] = ref.ravel().tolist()
print(json.dumps(out))
`;

(hasZarr2() ? describe : describe.skip)("orthogonal selections agree with zarr-python 2 (get_orthogonal_selection, NumPy assignment)", () => {
  it("reads match get_orthogonal_selection; a write with repeats matches NumPy's a[np.ix_(rows, cols)] = v", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zarrflow-oindex-"));
    try {
      const array = await create(new FileSystemStore(dir), { shape: [13, 9], chunks: [4, 4], dtype: "int32", fillValue: 0, zarrFormat: 2, compressor: { id: "zlib", level: 1 } });
      await array.write(null, Int32Array.from({ length: 117 }, (_, i) => i));
      const write = { rows: [11, 2, 2, -1, 5], cols: [8, 0, 3, 0], values: Array.from({ length: 20 }, (_, i) => -100 - i) };
      await array.write([write.rows, write.cols], Int32Array.from(write.values));
      const selections: (number[] | boolean[] | number | null)[][] = [
        [[12, 0, 5, 5, -2], [3, -1, 0]],
        [[7], null],
        [4, [8, 8, 1, 0]],
        [[true, false, true, false, false, false, false, false, false, false, false, true, true], [2, 6]],
        [[-13, 12], [5, 5, 5]],
      ];
      const answer = JSON.parse(
        execFileSync(PYTHON, ["-c", PY_SCRIPT], { input: JSON.stringify({ path: dir, selections, write }), encoding: "utf8", timeout: 120_000 }),
      ) as { oindex: { shape: number[]; values: number[] }[]; whole: number[]; numpy: number[] };
      const whole = Array.from((await array.read()).data as Int32Array);
      expect(answer.whole).toEqual(whole);
      expect(whole).toEqual(answer.numpy);
      for (const [i, selection] of selections.entries()) {
        const got = await array.read(selection as SelectionItem[]);
        expect(got.shape, JSON.stringify(selection)).toEqual(answer.oindex[i].shape);
        expect(Array.from(got.data as Int32Array), JSON.stringify(selection)).toEqual(answer.oindex[i].values);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
