/**
 * Pipeline parity: the same write sequence run under every execution configuration (inline or
 * on a worker pool, one or eight store calls in flight, whole-array write() calls or one
 * streamed writer) leaves exactly the same stored keys and the same stored bytes as the
 * baseline (inline, one call in flight, write()), and every read path (read() inline or on the
 * pool, readChunks ordered or not, reassembled) returns what a plain typed-array model of the
 * whole array holds after the same writes — never-written elements holding the fill value.
 *
 * In the spirit of zarr-python's codec-pipeline parity tests. gzip and zstd are deterministic
 * for the same input and level, so stored bytes are compared exactly, not decoded. Configurations
 * with several store calls in flight write to a store whose calls complete out of order.
 *
 * Also: concurrent write() calls on one array that touch the same chunks lose nothing
 * (disjoint regions), and leave each chunk equal to some serial order of the writes
 * (overlapping regions).
 */
import { afterAll, describe, expect, it } from "vitest";
import { create, slice, type CodecMetadata, type DataType, type NdArray, type Selection, type TypedArray } from "../src/index.js";
import { closePools, type ChunkResult, type ZarrArray, type WriteOptions } from "../src/array.js";
import type { WriteValue } from "../src/value.js";
import type { WriteItem } from "../src/writer.js";
import { WorkerPool } from "../operators/pool.js";
import { MemoryStore } from "../stores/memory.js";
import { CountingStore } from "../stores/wrappers.js";
import { prng } from "./helpers/prng.js";

// ---------------------------------------------------------------------------------------------
// helpers

/** FNV-1a of a string: a stable per-case seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

type NumericType = "int16" | "int32" | "uint8" | "uint16" | "float32" | "float64";
type NumericArray = Int16Array | Int32Array | Uint8Array | Uint16Array | Float32Array | Float64Array;

interface NumericCtor {
  new (length: number): NumericArray;
  new (source: ArrayLike<number> | ArrayBuffer): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
}

const CTORS: Record<NumericType, NumericCtor> = {
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};

function randomScalar(dtype: NumericType, rnd: () => number): number {
  switch (dtype) {
    case "int16":
      return Math.floor(rnd() * 65536) - 32768;
    case "int32":
      return Math.floor(rnd() * 2 ** 32) - 2 ** 31;
    case "uint8":
      return Math.floor(rnd() * 256);
    case "uint16":
      return Math.floor(rnd() * 65536);
    case "float32":
      return Math.fround((rnd() - 0.5) * 2000);
    case "float64":
      return (rnd() - 0.5) * 2000;
  }
}

/** Random values, about a fifth of them equal to the fill value (chunks mixing data and fill). */
function randomArray(dtype: NumericType, count: number, fill: number, rnd: () => number): NumericArray {
  const out = new CTORS[dtype](count);
  for (let i = 0; i < count; i++) out[i] = rnd() < 0.2 ? fill : randomScalar(dtype, rnd);
  return out;
}

function bytesOf(data: TypedArray | NumericArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Calls `visit` for every index tuple of a box of `counts`, in C order, with its running number. */
function forEachIndex(counts: readonly number[], visit: (index: number[], k: number) => void): void {
  if (counts.some((c) => c === 0)) return;
  const index = new Array<number>(counts.length).fill(0);
  for (let k = 0; ; k++) {
    visit(index, k);
    let axis = counts.length - 1;
    for (; axis >= 0; axis--) {
      if (++index[axis] < counts[axis]) break;
      index[axis] = 0;
    }
    if (axis < 0) return;
  }
}

/**
 * One dimension of a write or read: an integer index (dimension dropped), a strided range, or
 * an index array (orthogonal indexing: unsorted, repeated; non-negative here).
 */
type Dim = { index: number } | { start: number; stop: number; step: number } | { list: number[] };

function range(start: number, stop: number, step = 1): Dim {
  return { start, stop, step };
}

function toSelection(dims: readonly Dim[]): Selection {
  return dims.map((d) => ("index" in d ? d.index : "list" in d ? d.list : slice(d.start, d.stop, d.step)));
}

/** Per dimension: first index, step and count (dropped dimensions have count 1), or the listed indices. */
function normalized(dims: readonly Dim[]): { start: number; step: number; count: number; list?: number[] }[] {
  return dims.map((d) =>
    "index" in d
      ? { start: d.index, step: 1, count: 1 }
      : "list" in d
        ? { start: 0, step: 1, count: d.list.length, list: d.list }
        : { start: d.start, step: d.step, count: Math.max(0, Math.ceil((d.stop - d.start) / d.step)) },
  );
}

function describeDims(dims: readonly Dim[]): string {
  return `[${dims.map((d) => ("index" in d ? String(d.index) : "list" in d ? `[${d.list}]` : `${d.start}:${d.stop}${d.step === 1 ? "" : `:${d.step}`}`)).join(", ")}]`;
}

/** The flat positions (C order of the whole array) of a selection's elements, in the selection's C order. */
function positions(dims: readonly Dim[], shape: readonly number[]): number[] {
  const sel = normalized(dims);
  const strides = cStrides(shape);
  const out: number[] = [];
  forEachIndex(
    sel.map((d) => d.count),
    (index) => {
      let p = 0;
      for (let d = 0; d < index.length; d++) p += (sel[d].list ? sel[d].list![index[d]] : sel[d].start + index[d] * sel[d].step) * strides[d];
      out.push(p);
    },
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// the matrix

interface Chain {
  name: string;
  dtype: NumericType;
  /** Fill value as given to create(), and as a number for the model. */
  fillValue: number | "NaN";
  fill: number;
  codecs: (ndim: number) => CodecMetadata[];
}

const LE: CodecMetadata = { name: "bytes", configuration: { endian: "little" } };

const CHAINS: Chain[] = [
  { name: "bytes only", dtype: "int32", fillValue: 0, fill: 0, codecs: () => [LE] },
  { name: "gzip", dtype: "uint16", fillValue: 7, fill: 7, codecs: () => [LE, { name: "gzip", configuration: { level: 5 } }] },
  {
    name: "zstd",
    dtype: "float64",
    fillValue: "NaN",
    fill: NaN,
    codecs: () => [LE, { name: "zstd", configuration: { level: 3, checksum: false } }],
  },
  { name: "big-endian bytes", dtype: "int16", fillValue: -3, fill: -3, codecs: () => [{ name: "bytes", configuration: { endian: "big" } }] },
  { name: "crc32c", dtype: "uint8", fillValue: 255, fill: 255, codecs: () => [{ name: "bytes" }, { name: "crc32c" }] },
  {
    name: "transpose+zstd",
    dtype: "float32",
    fillValue: -1.5,
    fill: -1.5,
    codecs: (ndim) => [
      { name: "transpose", configuration: { order: [...Array(ndim).keys()].reverse() } },
      LE,
      { name: "zstd", configuration: { level: 1, checksum: true } },
    ],
  },
];

interface Layout {
  name: string;
  shape: number[];
  chunks: number[];
}

const LAYOUTS: Layout[] = [
  { name: "1-d many small chunks, ragged", shape: [200], chunks: [7] },
  { name: "1-d few large chunks, ragged", shape: [200], chunks: [128] },
  { name: "2-d many small chunks, ragged", shape: [40, 30], chunks: [3, 4] },
  { name: "2-d few large chunks, ragged", shape: [40, 30], chunks: [32, 32] },
  { name: "2-d regular grid", shape: [24, 32], chunks: [8, 8] },
];

/** One write of a sequence: random data, a scalar, or an array holding only the fill value. */
interface OpSpec {
  dims: Dim[];
  value: "random" | "fill-scalar" | "fill-array" | "random-scalar";
}

interface Sequence {
  name: string;
  ops: (layout: Layout) => OpSpec[];
}

const whole = (shape: readonly number[]): Dim[] => shape.map((n) => range(0, n));
const frac = (shape: readonly number[], a: number, b: number): Dim[] => shape.map((n) => range(Math.floor(n * a), Math.max(Math.floor(n * a) + 1, Math.floor(n * b))));

const SEQUENCES: Sequence[] = [
  { name: "full write", ops: ({ shape }) => [{ dims: whole(shape), value: "random" }] },
  { name: "partial middle", ops: ({ shape }) => [{ dims: frac(shape, 0.25, 0.75), value: "random" }] },
  { name: "single element", ops: ({ shape }) => [{ dims: shape.map((n) => ({ index: Math.floor(n * 0.37) })), value: "random-scalar" }] },
  {
    name: "overlapping writes",
    ops: ({ shape }) => [
      { dims: frac(shape, 0, 0.6), value: "random" },
      { dims: frac(shape, 0.3, 0.9), value: "random" },
      { dims: shape.map((n) => range(1, n, 3)), value: "random" },
      { dims: frac(shape, 0.45, 0.7), value: "random-scalar" },
      { dims: shape.map((n) => ({ index: n - 1 })), value: "random-scalar" },
    ],
  },
  {
    name: "ends in fill",
    // The last write sets a chunk-aligned region (about half the chunks) back to the fill value.
    ops: ({ shape, chunks }) => [
      { dims: whole(shape), value: "random" },
      { dims: frac(shape, 0.2, 0.5), value: "random" },
      {
        dims: shape.map((n, d) => range(0, Math.min(n, Math.max(1, Math.floor(Math.ceil(n / chunks[d]) / 2)) * chunks[d]))),
        value: "fill-scalar",
      },
    ],
  },
  {
    name: "permuted and repeated",
    // Index arrays: unsorted, with repeats (the last value wins), mixed with slices, and a scalar.
    ops: ({ shape }) => [
      { dims: frac(shape, 0.1, 0.8), value: "random" },
      { dims: shape.map((n) => ({ list: [n - 1, 0, Math.floor(n / 2), 1, n - 1, Math.floor(n / 3), 0] })), value: "random" },
      { dims: shape.map((n, d) => (d === 0 ? { list: [Math.floor(n / 2), 2, 2, n - 3] } : range(1, n, 3))), value: "random-scalar" },
      { dims: shape.map((n) => ({ list: [...Array(n).keys()].reverse() })), value: "random" },
    ],
  },
  {
    name: "ends in partial fill",
    // Everything but the outermost elements back to fill (an array of fill values): interior
    // chunks become empty, edge chunks keep a few elements of data.
    ops: ({ shape }) => [
      { dims: whole(shape), value: "random" },
      { dims: shape.map((n) => range(1, n - 1)), value: "fill-array" },
    ],
  },
];

/** A write with concrete data, and the model update it stands for. */
interface Op {
  dims: Dim[];
  data: WriteValue;
  /** The values in the selection's C order (length 1 for scalars: broadcast). */
  values: NumericArray;
  describe: string;
}

function buildOps(chain: Chain, layout: Layout, specs: OpSpec[], rnd: () => number): Op[] {
  return specs.map(({ dims, value }) => {
    const counts = normalized(dims).map((d) => d.count);
    const shape = dims.flatMap((d, i) => ("index" in d ? [] : [counts[i]]));
    const n = product(counts);
    const describe = `${describeDims(dims)} ← ${value}`;
    switch (value) {
      case "random": {
        const random = randomArray(chain.dtype, n, chain.fill, rnd);
        // Every form a caller may pass: an NdArray, a bare typed array, or a view at an offset
        // into a SharedArrayBuffer (what read() returns with workers, fed back into a write).
        const form = rnd();
        if (form < 1 / 3) return { dims, data: { data: random, shape, dtype: chain.dtype } as NdArray, values: random, describe };
        if (form < 2 / 3) return { dims, data: random, values: random, describe };
        const itemsize = CTORS[chain.dtype].BYTES_PER_ELEMENT;
        const shared = new CTORS[chain.dtype](new SharedArrayBuffer((n + 5) * itemsize) as unknown as ArrayBuffer);
        const view = shared.subarray(3, 3 + n);
        view.set(random);
        return { dims, data: view, values: view, describe: `${describe} (shared view)` };
      }
      case "random-scalar": {
        const v = randomScalar(chain.dtype, rnd);
        return { dims, data: v, values: new CTORS[chain.dtype](1).fill(v), describe: `${describe} ${v}` };
      }
      case "fill-scalar":
        return { dims, data: chain.fill, values: new CTORS[chain.dtype](1).fill(chain.fill), describe };
      case "fill-array": {
        const values = new CTORS[chain.dtype](n).fill(chain.fill);
        return { dims, data: { data: values, shape, dtype: chain.dtype } as NdArray, values, describe };
      }
    }
  });
}

/** The whole array after `ops`, as a plain typed array (elements never written hold the fill value). */
function model(chain: Chain, layout: Layout, ops: readonly Op[]): NumericArray {
  const out = new CTORS[chain.dtype](product(layout.shape)).fill(chain.fill);
  for (const op of ops) {
    positions(op.dims, layout.shape).forEach((p, k) => (out[p] = op.values.length === 1 ? op.values[0] : op.values[k]));
  }
  return out;
}

/** Where two byte images of typed arrays first differ, as a message (undefined when equal). */
function compareElements(actual: Uint8Array, expected: Uint8Array, itemsize: number, dtype: NumericType, label: string): string | undefined {
  if (actual.byteLength !== expected.byteLength) return `${label}: ${actual.byteLength} bytes, expected ${expected.byteLength}`;
  for (let i = 0; i < actual.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      const e = Math.floor(i / itemsize);
      const view = (b: Uint8Array) => new CTORS[dtype](b.slice(e * itemsize, (e + 1) * itemsize).buffer)[0];
      let differing = 0;
      for (let j = 0; j < actual.byteLength; j += itemsize) {
        for (let b = 0; b < itemsize; b++) {
          if (actual[j + b] !== expected[j + b]) {
            differing++;
            break;
          }
        }
      }
      return `${label}: element ${e} is ${view(actual)}, expected ${view(expected)} (${differing} elements differ)`;
    }
  }
  return undefined;
}

function itemsizeOf(dtype: NumericType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

/** Everything stored in a memory store, key → bytes. */
function snapshot(store: MemoryStore): Map<string, Uint8Array> {
  return new Map(store.keys().map((key) => [key, store.map.get(key) as Uint8Array]));
}

function compareStores(actual: Map<string, Uint8Array>, expected: Map<string, Uint8Array>, label: string): string[] {
  const problems: string[] = [];
  const a = [...actual.keys()];
  const e = [...expected.keys()];
  const missing = e.filter((k) => !actual.has(k));
  const extra = a.filter((k) => !expected.has(k));
  if (missing.length || extra.length) problems.push(`${label}: keys differ from baseline — missing [${missing.join(", ")}], extra [${extra.join(", ")}]`);
  for (const key of e) {
    const x = actual.get(key);
    const y = expected.get(key) as Uint8Array;
    if (x && (x.byteLength !== y.byteLength || !x.every((b, i) => b === y[i]))) {
      problems.push(`${label}: stored bytes of ${key} differ from baseline (${x.byteLength} vs ${y.byteLength} bytes)`);
    }
  }
  return problems;
}

/** Reassembles a readChunks stream over the whole array; checks each element arrives exactly once. */
async function reassemble(
  stream: ReadableStream<ChunkResult>,
  chain: Chain,
  layout: Layout,
  ordered: boolean,
  label: string,
  problems: string[],
): Promise<NumericArray> {
  const out = new CTORS[chain.dtype](product(layout.shape));
  const seen = new Uint8Array(out.length);
  const strides = cStrides(layout.shape);
  const coords: number[][] = [];
  for await (const chunk of stream as unknown as AsyncIterable<ChunkResult>) {
    coords.push(chunk.coords);
    const values = chunk.data.data as NumericArray;
    if (chunk.data.dtype !== chain.dtype) problems.push(`${label}: chunk ${chunk.coords} has dtype ${chunk.data.dtype}`);
    forEachIndex(chunk.data.shape, (index, k) => {
      let p = 0;
      for (let d = 0; d < index.length; d++) p += (chunk.region[d].start + index[d] * chunk.region[d].step) * strides[d];
      out[p] = values[k];
      seen[p]++;
    });
  }
  const expectedChunks = product(layout.shape.map((n, d) => Math.ceil(n / layout.chunks[d])));
  if (coords.length !== expectedChunks) problems.push(`${label}: ${coords.length} chunks streamed, expected ${expectedChunks}`);
  const twice = seen.findIndex((s) => s !== 1);
  if (twice >= 0) problems.push(`${label}: element ${twice} delivered ${seen[twice]} times`);
  if (ordered) {
    const key = (c: number[]) => c.reduce((n, x, d) => n * Math.ceil(layout.shape[d] / layout.chunks[d]) + x, 0);
    for (let i = 1; i < coords.length; i++) {
      if (key(coords[i]) <= key(coords[i - 1])) {
        problems.push(`${label}: ordered stream emitted chunk [${coords[i]}] after [${coords[i - 1]}]`);
        break;
      }
    }
  }
  return out;
}

/**
 * A memory store whose calls complete out of order (each waits a microtask, a macrotask or a
 * millisecond, chosen by a seeded PRNG): with several calls in flight, completion order no
 * longer follows issue order, as with a real remote store.
 */
class JitterStore extends MemoryStore {
  private readonly rnd: () => number;
  constructor(seed: number) {
    super();
    this.rnd = prng(seed);
  }
  private jitter(): Promise<void> {
    const r = this.rnd();
    return new Promise<void>((resolve) => (r < 0.3 ? queueMicrotask(resolve) : r < 0.7 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
  override async get(...args: Parameters<MemoryStore["get"]>): Promise<Uint8Array | undefined> {
    await this.jitter();
    return super.get(...args);
  }
  override async set(...args: Parameters<MemoryStore["set"]>): Promise<void> {
    await this.jitter();
    return super.set(...args);
  }
  override async delete(...args: Parameters<MemoryStore["delete"]>): Promise<void> {
    await this.jitter();
    return super.delete(...args);
  }
}

// ---------------------------------------------------------------------------------------------
// execution configurations

const pool = new WorkerPool({ size: 2 });

afterAll(async () => {
  await pool.close();
  await closePools();
});

interface ExecConfig {
  name: string;
  mode: "write" | "writer";
  options: WriteOptions;
}

const inline0 = { workers: 0 } as const;
const onPool = { pool } as const;

const WRITE_CONFIGS: ExecConfig[] = [
  { name: "write() workers=0 concurrency=1 (baseline)", mode: "write", options: { ...inline0, concurrency: 1 } },
  { name: "write() workers=0 concurrency=8", mode: "write", options: { ...inline0, concurrency: 8 } },
  { name: "write() workers=2 concurrency=1", mode: "write", options: { ...onPool, concurrency: 1 } },
  { name: "write() workers=2 concurrency=8", mode: "write", options: { ...onPool, concurrency: 8 } },
  { name: "writer() workers=0 concurrency=1", mode: "writer", options: { ...inline0, concurrency: 1 } },
  { name: "writer() workers=2 concurrency=8", mode: "writer", options: { ...onPool, concurrency: 8 } },
];

async function newArray(store: MemoryStore, chain: Chain, layout: Layout, writeEmptyChunks: boolean): Promise<ZarrArray> {
  return create(store, {
    shape: layout.shape,
    chunks: layout.chunks,
    dtype: chain.dtype as DataType,
    fillValue: chain.fillValue,
    codecs: chain.codecs(layout.shape.length),
    // The opposite of what each write asks for: the per-call option must win in every path.
    writeEmptyChunks: !writeEmptyChunks,
  });
}

/** Pending partial chunks the writer may hold: two chunks' worth, so some merge in memory and some flush as masked read-modify-writes. */
function smallBuffer(chain: Chain, layout: Layout): number {
  return 2 * product(layout.chunks) * (itemsizeOf(chain.dtype) + 1);
}

async function runSequence(array: ZarrArray, ops: readonly Op[], config: ExecConfig, writeEmptyChunks: boolean, bufferBytes: number): Promise<void> {
  const options = { ...config.options, writeEmptyChunks };
  if (config.mode === "write") {
    for (const op of ops) await array.write(toSelection(op.dims), op.data, options);
    return;
  }
  const items: WriteItem[] = ops.map((op) => ({ selection: toSelection(op.dims), data: op.data }));
  const writable = array.writer({ ...options, bufferBytes });
  if (config.options.workers === 0) {
    const w = writable.getWriter();
    for (const item of items) await w.write(item);
    await w.close();
  } else {
    // pipeTo from a source, as an ETL job would feed it.
    let i = 0;
    await new ReadableStream<WriteItem>({
      pull(controller) {
        if (i < items.length) controller.enqueue(items[i++]);
        else controller.close();
      },
    }).pipeTo(writable);
  }
}

// ---------------------------------------------------------------------------------------------
// the parity matrix

let casesRun = 0;

describe.each(CHAINS)("$name ($dtype, fill $fillValue)", (chain) => {
  describe.each(LAYOUTS)("$name: shape $shape chunks $chunks", (layout) => {
    const cases = SEQUENCES.flatMap((sequence) => [false, true].map((writeEmptyChunks) => ({ sequence, writeEmptyChunks })));
    it.each(cases)("$sequence.name, writeEmptyChunks=$writeEmptyChunks", async ({ sequence, writeEmptyChunks }) => {
      casesRun++;
      const seedText = `${chain.name}|${layout.name}|${sequence.name}`;
      const ops = buildOps(chain, layout, sequence.ops(layout), prng(hash(seedText)));
      const pristine = ops.map((op) => (typeof op.data === "number" ? undefined : bytesOf(op.values).slice()));
      const expected = model(chain, layout, ops);
      const itemsize = itemsizeOf(chain.dtype);
      const bufferBytes = smallBuffer(chain, layout);
      const problems: string[] = [];

      // Write under every configuration; compare keys and stored bytes with the baseline.
      let baseline: { store: MemoryStore; array: ZarrArray; stored: Map<string, Uint8Array> } | undefined;
      for (const config of WRITE_CONFIGS) {
        // With several store calls in flight, let them complete out of order.
        const store = baseline && config.options.concurrency !== 1 ? new JitterStore(hash(config.name)) : new MemoryStore();
        const array = await newArray(store, chain, layout, writeEmptyChunks);
        await runSequence(array, ops, config, writeEmptyChunks, bufferBytes);
        const stored = snapshot(store);
        if (!baseline) baseline = { store, array, stored };
        else problems.push(...compareStores(stored, baseline.stored, config.name));
      }
      // No path may detach or modify the caller's data.
      ops.forEach((op, i) => {
        const before = pristine[i];
        if (before && compareElements(bytesOf(op.values), before, itemsize, chain.dtype, "")) problems.push(`write ${i} (${op.describe}): the caller's data was modified`);
      });
      const { array, stored } = baseline!;

      // Chunks holding only the fill value are stored exactly when writeEmptyChunks is on.
      const chunkKeys = [...stored.keys()].filter((k) => k !== "zarr.json");
      if (!writeEmptyChunks) {
        for (const key of chunkKeys) {
          const data = await array.read(
            key
              .split("/")
              .slice(1)
              .map((c, d) => slice(Number(c) * layout.chunks[d], (Number(c) + 1) * layout.chunks[d])),
            { workers: 0 },
          );
          const fillOnly = new CTORS[chain.dtype](data.data.length).fill(chain.fill);
          if (!compareElements(bytesOf(data.data), bytesOf(fillOnly), itemsize, chain.dtype, "")) problems.push(`${key} holds only the fill value but is stored`);
        }
      } else {
        const touched = new Set<string>();
        for (const op of ops) {
          for (const p of positions(op.dims, layout.shape)) {
            const coords = cStrides(layout.shape).map((s, d) => Math.floor(Math.floor(p / s) % layout.shape[d] / layout.chunks[d]));
            touched.add(`c/${coords.join("/")}`);
          }
        }
        const missing = [...touched].filter((k) => !stored.has(k)).sort();
        if (missing.length) problems.push(`writeEmptyChunks=true: written chunks not stored: ${missing.join(", ")}`);
      }

      // Read back under every read configuration and compare with the model.
      const want = bytesOf(expected);
      for (const [name, options] of [
        ["read() workers=0 concurrency=1", { workers: 0, concurrency: 1 }],
        ["read() workers=0 concurrency=8", { workers: 0, concurrency: 8 }],
        ["read() workers=2 concurrency=1", { pool, concurrency: 1 }],
        ["read() workers=2 concurrency=8", { pool, concurrency: 8 }],
      ] as const) {
        const got = await array.read(undefined, options);
        expect(got.shape).toEqual(layout.shape);
        const problem = compareElements(bytesOf(got.data), want, itemsize, chain.dtype, name);
        if (problem) problems.push(problem);
      }
      for (const [name, options] of [
        ["readChunks ordered workers=0 concurrency=1", { ordered: true, workers: 0, concurrency: 1 }],
        ["readChunks unordered workers=0 concurrency=8", { ordered: false, workers: 0, concurrency: 8 }],
        ["readChunks ordered workers=2 concurrency=8", { ordered: true, pool, concurrency: 8 }],
        ["readChunks unordered workers=2 concurrency=8", { ordered: false, pool, concurrency: 8 }],
      ] as const) {
        const got = await reassemble(array.readChunks(undefined, options), chain, layout, options.ordered, name, problems);
        const problem = compareElements(bytesOf(got), want, itemsize, chain.dtype, name);
        if (problem) problems.push(problem);
      }
      // A strided sub-selection with an integer index: the selection path, not only whole reads.
      const subDims: Dim[] = layout.shape.length === 1 ? [range(3, layout.shape[0] - 1, 5)] : [range(2, layout.shape[0], 3), { index: layout.shape[1] - 2 }];
      const sub = await array.read(toSelection(subDims), { pool, concurrency: 4 });
      const subWant = new CTORS[chain.dtype](positions(subDims, layout.shape).map((p) => expected[p]));
      const subProblem = compareElements(bytesOf(sub.data), bytesOf(subWant), itemsize, chain.dtype, `read ${describeDims(subDims)} workers=2`);
      if (subProblem) problems.push(subProblem);
      const listDims: Dim[] = layout.shape.map((n) => ({ list: [n - 1, 2, 2, Math.floor(n / 2), 0] }));
      const listed = await array.read(toSelection(listDims), { pool, concurrency: 4 });
      const listWant = new CTORS[chain.dtype](positions(listDims, layout.shape).map((p) => expected[p]));
      const listProblem = compareElements(bytesOf(listed.data), bytesOf(listWant), itemsize, chain.dtype, `read ${describeDims(listDims)} workers=2`);
      if (listProblem) problems.push(listProblem);

      if (problems.length) expect.fail(`${problems.join("\n")}\n(writes: ${ops.map((op) => op.describe).join("; ")})`);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// targeted cases: the streaming writer's two paths, concurrent writes to the same chunks

describe("streaming writer paths", () => {
  it("merges partial items for one chunk in memory (one store write) and flushes past the budget as masked read-modify-writes", async () => {
    const chain = CHAINS[1];
    const layout: Layout = { name: "", shape: [64], chunks: [16] };
    const store = new CountingStore(new MemoryStore());
    const array = await create(store, { shape: layout.shape, chunks: layout.chunks, dtype: "uint16", fillValue: 7, codecs: chain.codecs(1) });
    // Generous buffer: four partial items in chunk 0 → merged, one set.
    let w = array.writer({ workers: 0 }).getWriter();
    for (let i = 0; i < 4; i++) await w.write({ selection: [slice(i * 3, i * 3 + 2)], data: new Uint16Array([i, i + 100]) });
    await w.close();
    expect(store.calls.filter((c) => c.method === "set" && c.key === "c/0")).toHaveLength(1);

    // A budget of one chunk: alternating partial items in chunks 1 and 2 flush each other out,
    // each flush a masked read-modify-write of the stored chunk; nothing is lost.
    store.reset();
    const ops: Op[] = [];
    w = array.writer({ workers: 0, bufferBytes: 1 }).getWriter();
    for (let i = 0; i < 6; i++) {
      const chunk = 1 + (i % 2);
      const dims = [range(chunk * 16 + i, chunk * 16 + i + 2)];
      const values = new Uint16Array([1000 + i, 2000 + i]);
      ops.push({ dims, data: values, values, describe: "" });
      await w.write({ selection: toSelection(dims), data: values });
    }
    await w.close();
    const gets = store.calls.filter((c) => c.method === "get" && (c.key === "c/1" || c.key === "c/2"));
    expect(gets.length).toBeGreaterThanOrEqual(5);
    const want = model(chain, layout, [
      { dims: [range(0, 2)], data: 0, values: new Uint16Array([0, 100]), describe: "" },
      { dims: [range(3, 5)], data: 0, values: new Uint16Array([1, 101]), describe: "" },
      { dims: [range(6, 8)], data: 0, values: new Uint16Array([2, 102]), describe: "" },
      { dims: [range(9, 11)], data: 0, values: new Uint16Array([3, 103]), describe: "" },
      ...ops,
    ]);
    const got = await array.read(undefined, { workers: 0 });
    expect([...(got.data as Uint16Array)]).toEqual([...want]);
  });
});

/** Chains for the concurrency cases: a trivial one and a compressing one. */
const CONCURRENT_CHAINS = [CHAINS[0], CHAINS[2], CHAINS[5]];

const CONCURRENT_CONFIGS: { name: string; options: WriteOptions }[] = [
  { name: "workers=0 concurrency=1", options: { workers: 0, concurrency: 1 } },
  { name: "workers=0 concurrency=8", options: { workers: 0, concurrency: 8 } },
  { name: "workers=2 concurrency=8", options: { pool, concurrency: 8 } },
  { name: "workers=2 (option) concurrency=4", options: { workers: 2, concurrency: 4 } },
];

describe.each(CONCURRENT_CHAINS)("concurrent writes, $name ($dtype, fill $fillValue)", (chain) => {
  const layout: Layout = { name: "2-d", shape: [24, 20], chunks: [8, 10] };

  it.each(CONCURRENT_CONFIGS)("disjoint regions of the same chunks: nothing is lost ($name)", async ({ options }) => {
    for (const jitter of [false, true]) {
      const store = jitter ? new JitterStore(hash(chain.name)) : new MemoryStore();
      const array = await create(store, {
        shape: layout.shape,
        chunks: layout.chunks,
        dtype: chain.dtype as DataType,
        fillValue: chain.fillValue,
        codecs: chain.codecs(2),
      });
      const rnd = prng(hash(`disjoint|${chain.name}|${jitter}`));
      // Six interleaved row sets (rows r ≡ k mod 6) split into column halves: every chunk is
      // touched by most writes; the last one goes through a streamed writer.
      const specs: OpSpec[] = [];
      for (let k = 0; k < 6; k++) specs.push({ dims: [range(k, 24, 6), k % 2 ? range(0, 20) : range(0, 13)], value: "random" });
      specs.push({ dims: [range(0, 24, 6), range(13, 20)], value: "random" });
      const ops = buildOps(chain, layout, specs, rnd);
      const writes: Promise<void>[] = ops.slice(0, -1).map((op, i) =>
        array.write(toSelection(op.dims), op.data, i % 2 ? options : { ...options, concurrency: 3 }),
      );
      const last = ops[ops.length - 1];
      const w = array.writer({ ...options, bufferBytes: 1 }).getWriter();
      writes.push(w.write({ selection: toSelection(last.dims), data: last.data }).then(() => w.close()));
      await Promise.all(writes);
      const want = model(chain, layout, ops);
      for (const readOptions of [{ workers: 0 }, { pool }] as const) {
        const got = await array.read(undefined, readOptions);
        const problem = compareElements(bytesOf(got.data), bytesOf(want), itemsizeOf(chain.dtype), chain.dtype, `jitter ${jitter}`);
        expect(problem).toBeUndefined();
      }
    }
  });

  it.each(CONCURRENT_CONFIGS)("overlapping regions: each chunk equals some serial order of the writes ($name)", async ({ options }) => {
    const specs: OpSpec[] = [
      { dims: [range(0, 20), range(0, 16)], value: "random" },
      { dims: [range(4, 24), range(3, 20)], value: "random" },
      { dims: [range(2, 22, 2), range(1, 19, 3)], value: "random-scalar" },
      { dims: [range(0, 16), range(0, 20)], value: "fill-scalar" },
    ];
    // All orders of the four writes, as whole-array models.
    const orders: number[][] = [];
    const permute = (prefix: number[], rest: number[]) => {
      if (!rest.length) orders.push(prefix);
      rest.forEach((x, i) => permute([...prefix, x], [...rest.slice(0, i), ...rest.slice(i + 1)]));
    };
    permute([], [0, 1, 2, 3]);
    const strides = cStrides(layout.shape);
    const chunkPositions: number[][] = [];
    forEachIndex(
      layout.shape.map((n, d) => Math.ceil(n / layout.chunks[d])),
      (c) => {
        const dims = c.map((x, d) => range(x * layout.chunks[d], Math.min(layout.shape[d], (x + 1) * layout.chunks[d])));
        chunkPositions.push(positions(dims, layout.shape));
      },
    );
    expect(strides).toEqual([20, 1]);

    for (let round = 0; round < 6; round++) {
      const store = round % 2 ? new JitterStore(round) : new MemoryStore();
      const writeEmptyChunks = round % 3 === 0;
      const array = await create(store, {
        shape: layout.shape,
        chunks: layout.chunks,
        dtype: chain.dtype as DataType,
        fillValue: chain.fillValue,
        codecs: chain.codecs(2),
      });
      const ops = buildOps(chain, layout, specs, prng(hash(`overlap|${chain.name}|${round}`)));
      const models = orders.map((order) => model(chain, layout, order.map((i) => ops[i])));
      await Promise.all(ops.map((op, i) => array.write(toSelection(op.dims), op.data, { ...options, writeEmptyChunks, concurrency: i % 2 ? 1 : options.concurrency })));
      const got = (await array.read(undefined, { workers: 0 })).data as NumericArray;
      const gotBytes = bytesOf(got);
      const itemsize = itemsizeOf(chain.dtype);
      chunkPositions.forEach((ps, c) => {
        const matches = models.some((m) => {
          const mb = bytesOf(m);
          return ps.every((p) => {
            for (let b = 0; b < itemsize; b++) if (gotBytes[p * itemsize + b] !== mb[p * itemsize + b]) return false;
            return true;
          });
        });
        expect(matches, `round ${round}: chunk ${c} matches no serial order of the writes`).toBe(true);
      });
      // A chunk left holding only the fill value is not stored (unless writeEmptyChunks).
      if (!writeEmptyChunks) {
        chunkPositions.forEach((ps, c) => {
          const fillOnly = ps.every((p) => bytesOf(new CTORS[chain.dtype](1).fill(chain.fill)).every((x, b) => gotBytes[p * itemsize + b] === x));
          const key = `c/${Math.floor(c / 2)}/${c % 2}`;
          expect(store.map.has(key), `round ${round}: ${key} stored=${store.map.has(key)} fill-only=${fillOnly}`).toBe(!fillOnly);
        });
      }
    }
  });
});

afterAll(() => {
  // The matrix size, for the record (visible with --reporter=verbose or in the console).
  console.log(`parity matrix: ${casesRun} cases × ${WRITE_CONFIGS.length} write configurations`);
});
