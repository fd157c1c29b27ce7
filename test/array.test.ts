/**
 * ZarrArray end to end, on MemoryStore and FileSystemStore: round trips for every data type
 * (v3 and v2), partial and strided writes and reads checked against a plain in-memory model,
 * fill-value semantics (missing chunks, empty-chunk deletion, no read for complete chunks),
 * value and selection errors, open/create/group behaviour, 0-d and zero-size arrays, abort,
 * corrupt chunks and read-only stores.
 */
import { mkdtemp, rm, writeFile, readFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AbortError,
  CodecError,
  ContainsNodeError,
  DATA_TYPES,
  MetadataError,
  NodeNotFoundError,
  SelectionError,
  UnsupportedOperationError,
  ValueError,
  ZarrArray,
  ZarrGroup,
  create,
  createGroup,
  open,
  openArray,
  openGroup,
  setAttributes,
  slice,
  type CreateArrayOptions,
  type DataType,
  type NdArray,
  type Scalar,
  type SelectionItem,
  type Store,
  type TypedArray,
} from "../src/index.js";
import { FileSystemStore, LatencyStore, MemoryStore } from "../stores/index.js";
import { prng } from "./helpers/prng.js";
import { selectionOffsets } from "./helpers/reference.js";

// ---------------------------------------------------------------------------------------------
// helpers


const ALL_TYPES = Object.keys(DATA_TYPES) as DataType[];
const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bytesOf = (data: ArrayBufferView) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
const decodeJSON = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes));

/** A typed array of `count` random elements of `dataType` (bool: 0/1; floats: any bit pattern). */
function randomData(dataType: DataType, count: number, rnd: () => number): TypedArray {
  const { ctor, itemsize, slots, kind } = DATA_TYPES[dataType];
  const bytes = new Uint8Array(count * itemsize);
  for (let i = 0; i < bytes.length; i++) bytes[i] = kind === "b" ? (rnd() < 0.5 ? 1 : 0) : Math.floor(rnd() * 256);
  return new ctor(bytes.buffer, 0, count * slots);
}

/** A plain model of an array: every element's bytes, C order. */
class Model {
  readonly bytes: Uint8Array;
  readonly itemsize: number;
  constructor(
    readonly dataType: DataType,
    readonly shape: number[],
    fill: Scalar,
  ) {
    this.itemsize = DATA_TYPES[dataType].itemsize;
    this.bytes = new Uint8Array(product(shape) * this.itemsize);
    const one = bytesOf(scalarBytes(dataType, fill));
    for (let i = 0; i < this.bytes.length; i += this.itemsize) this.bytes.set(one, i);
  }

  /** Flat element offsets of a selection in C order, and its shape. */
  positions(selection: SelectionItem[]): { offsets: number[]; shape: number[] } {
    return selectionOffsets(this.shape, selection);
  }

  write(selection: SelectionItem[], value: TypedArray | Scalar): void {
    const { offsets } = this.positions(selection);
    const k = this.itemsize;
    if (ArrayBuffer.isView(value)) {
      const src = bytesOf(value);
      offsets.forEach((offset, n) => this.bytes.set(src.subarray(n * k, n * k + k), offset * k));
    } else {
      const one = bytesOf(scalarBytes(this.dataType, value));
      for (const offset of offsets) this.bytes.set(one, offset * k);
    }
  }

  read(selection: SelectionItem[]): { bytes: Uint8Array; shape: number[] } {
    const { offsets, shape } = this.positions(selection);
    const k = this.itemsize;
    const out = new Uint8Array(offsets.length * k);
    offsets.forEach((offset, n) => out.set(this.bytes.subarray(offset * k, offset * k + k), n * k));
    return { bytes: out, shape };
  }
}

/** One element holding `value`, as the data type's typed array. */
function scalarBytes(dataType: DataType, value: Scalar): TypedArray {
  const { ctor, kind, slots, itemsize } = DATA_TYPES[dataType];
  const out = new ctor(slots);
  if (kind === "c") {
    const [re, im] = value as [number, number];
    out[0] = re;
    out[1] = im;
  } else if (kind === "b") out[0] = value ? 1 : 0;
  else if (itemsize === 8 && kind !== "f") (out as BigInt64Array)[0] = BigInt(value as bigint);
  else if (dataType === "float16") (out as Uint16Array)[0] = value === 0 ? 0 : Number.isNaN(value) ? 0x7e00 : float16Bits(value as number);
  else out[0] = value as number;
  return out;
}

function float16Bits(value: number): number {
  // Only exact small values are used in these tests.
  const known: Record<string, number> = { "1": 0x3c00, "-1": 0xbc00, "2": 0x4000, "0.5": 0x3800, "-2": 0xc000 };
  if (!(String(value) in known)) throw new Error(`test helper: no float16 bits for ${value}`);
  return known[String(value)];
}

/** A random selection of the model's shape: integers (incl. negative), full, and strided slices. */
function randomSelection(shape: number[], rnd: () => number): SelectionItem[] {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  return shape.map((size): SelectionItem => {
    const r = rnd();
    if (r < 0.15 && size > 0) return int(-size, size - 1);
    if (r < 0.25) return null;
    const start = rnd() < 0.2 ? null : int(-size - 2, size + 1);
    const stop = rnd() < 0.2 ? null : int(-size - 2, size + 2);
    const step = [null, 1, 1, 2, 3, 5][int(0, 5)];
    return slice(start, stop, step);
  });
}

/** A store that records every key read, around a MemoryStore. */
function countingStore(inner = new MemoryStore()): { store: Store; gets: string[]; inner: MemoryStore } {
  const gets: string[] = [];
  const store: Store = {
    get: (key, range, options) => {
      gets.push(key);
      return inner.get(key, range, options);
    },
    set: (key, value, options) => inner.set(key, value, options),
    delete: (key, options) => inner.delete(key, options),
    list: (prefix, options) => inner.list(prefix, options),
  };
  return { store, gets, inner };
}

function snapshot(store: MemoryStore): Map<string, Uint8Array> {
  return new Map([...store.map].map(([k, v]) => [k, v.slice()]));
}

function chunkKeys(store: MemoryStore, path: string): string[] {
  return store.keys().filter((k) => k.startsWith(`${path}/`) && !/(zarr\.json|\.zarray|\.zattrs|\.zgroup)$/.test(k));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  expect.unreachable("expected a rejection");
}

let tempRoot: string;
beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), "zarrflow-array-test-"));
});
afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});
let tempCount = 0;
const tempDir = () => join(tempRoot, `s${tempCount++}`);

// ---------------------------------------------------------------------------------------------
// round trips

describe("round trips for every data type", () => {
  for (const zarrFormat of [3, 2] as const) {
    it.each(ALL_TYPES)(`v${zarrFormat} %s: write everything, read it back (and after reopening)`, async (dataType) => {
      const store = new MemoryStore();
      const shape = [7, 5];
      const rnd = prng(ALL_TYPES.indexOf(dataType) + zarrFormat * 100);
      const data = randomData(dataType, product(shape), rnd);
      // Random bools can leave a small chunk all false (fill): make every chunk hold a true.
      if (dataType === "bool") for (const r of [0, 3, 6]) for (const c of [0, 2, 4]) data[r * 5 + c] = 1;
      const array = await create(store, { path: "a/b", shape, chunks: [3, 2], dtype: dataType, zarrFormat });
      expect(array.zarrFormat).toBe(zarrFormat);
      await array.write(null, data);
      const result = await array.read();
      expect(result.shape).toEqual(shape);
      expect(result.dtype).toBe(dataType);
      expect(result.data.constructor).toBe(DATA_TYPES[dataType].ctor);
      expect(bytesOf(result.data)).toEqual(bytesOf(data));
      // 3 × 3 chunks, all stored (random data is never all fill).
      expect(chunkKeys(store, "a/b")).toHaveLength(9);
      const reopened = await openArray(store, { path: "a/b" });
      expect(reopened.zarrFormat).toBe(zarrFormat);
      expect(reopened.dtype).toBe(dataType);
      expect(bytesOf((await reopened.read()).data)).toEqual(bytesOf(data));
    });
  }

  it("big-endian v2 data and F order round trip, and are stored as declared", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "f", zarrFormat: 2, shape: [2, 3], chunks: [2, 3], dtype: "uint16", order: "F", endian: "big", compressor: null });
    const data = Uint16Array.from([0x0102, 0x0304, 0x0506, 0x0708, 0x090a, 0x0b0c]);
    await array.write(null, data);
    // Column-major, big-endian: (0,0) (1,0) (0,1) (1,1) (0,2) (1,2).
    expect(Array.from(store.map.get("f/0.0")!)).toEqual([1, 2, 7, 8, 3, 4, 9, 10, 5, 6, 11, 12]);
    expect(Array.from((await array.read()).data as Uint16Array)).toEqual(Array.from(data));
  });
});

describe("partial writes and reads against a reference model", () => {
  const cases: { label: string; dataType: DataType; shape: number[]; chunks: number[]; fill: Scalar; options?: Partial<CreateArrayOptions>; fs?: boolean }[] = [
    { label: "1-d int32, ragged", dataType: "int32", shape: [23], chunks: [5], fill: -1 },
    { label: "2-d float64, ragged, NaN fill", dataType: "float64", shape: [11, 9], chunks: [4, 3], fill: NaN },
    { label: "3-d uint8, ragged", dataType: "uint8", shape: [5, 7, 6], chunks: [2, 3, 4], fill: 7 },
    { label: "2-d complex64 v2", dataType: "complex64", shape: [9, 8], chunks: [4, 3], fill: [1, -1], options: { zarrFormat: 2 } },
    { label: "2-d int64 with transpose + crc32c", dataType: "int64", shape: [10, 7], chunks: [3, 4], fill: 5n, options: { codecs: [{ name: "transpose", configuration: { order: [1, 0] } }, { name: "bytes", configuration: { endian: "big" } }, { name: "crc32c" }] } },
    { label: "2-d float16 on the file system", dataType: "float16", shape: [8, 13], chunks: [3, 5], fill: 0, fs: true },
    { label: "3-d bool v2 F order on the file system", dataType: "bool", shape: [4, 6, 5], chunks: [3, 4, 2], fill: false, options: { zarrFormat: 2, order: "F" }, fs: true },
  ];

  for (const c of cases) {
    it(c.label, async () => {
      const store: Store = c.fs ? new FileSystemStore(tempDir()) : new MemoryStore();
      const rnd = prng(c.label.length * 7919);
      const fillValue = c.dataType === "complex64" ? (c.fill as [number, number]) : c.fill;
      const array = await create(store, { path: "m", shape: c.shape, chunks: c.chunks, dtype: c.dataType, fillValue, ...c.options });
      const model = new Model(c.dataType, c.shape, c.fill);
      const check = async (selection: SelectionItem[] | null) => {
        const expected = model.read(selection ?? []);
        const result = await array.read(selection);
        expect(result.shape, JSON.stringify(selection)).toEqual(expected.shape);
        expect(bytesOf(result.data), JSON.stringify(selection)).toEqual(expected.bytes);
      };
      await check(null); // all fill
      for (let w = 0; w < 25; w++) {
        const selection = randomSelection(c.shape, rnd);
        const { shape } = model.positions(selection);
        const mode = rnd();
        if (mode < 0.2) {
          // Scalar broadcast.
          const scalar: Scalar =
            DATA_TYPES[c.dataType].kind === "c" ? [w, -w] : c.dataType === "bool" ? w % 2 === 0 : c.dataType === "int64" ? BigInt(w) : c.dataType === "float16" ? [1, -1, 2, 0.5][w % 4] : w;
          await array.write(selection, scalar);
          model.write(selection, scalar);
        } else {
          const data = randomData(c.dataType, product(shape), rnd);
          // Half the time as an NdArray, half as a bare typed array.
          await array.write(selection, mode < 0.6 ? data : ({ data, shape, dtype: c.dataType } as NdArray));
          model.write(selection, data);
        }
        await check(null);
      }
      for (let r = 0; r < 30; r++) await check(randomSelection(c.shape, rnd));
      // The same data is there after reopening.
      const reopened = await openArray(store, { path: "m" });
      expect(bytesOf((await reopened.read()).data)).toEqual(model.bytes);
    });
  }

  it("selection text, ellipsis, negative indices and steps agree with the item form", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "t", shape: [6, 8], chunks: [4, 3], dtype: "int16", fillValue: 0 });
    await array.write(null, Int16Array.from({ length: 48 }, (_, i) => i));
    const text = await array.read("-5:-1:2, ...");
    const items = await array.read([slice(-5, -1, 2), "..."]);
    expect(text.shape).toEqual([2, 8]);
    expect(Array.from(text.data as Int16Array)).toEqual(Array.from(items.data as Int16Array));
    expect(Array.from(text.data as Int16Array)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31]);
    const point = await array.read("-1, -1");
    expect(point.shape).toEqual([]);
    expect(Array.from(point.data as Int16Array)).toEqual([47]);
    const column = await array.read([null, 3]);
    expect(column.shape).toEqual([6]);
    expect(Array.from(column.data as Int16Array)).toEqual([3, 11, 19, 27, 35, 43]);
    await array.write("1:5:3, 7", Int16Array.from([-1, -2]));
    expect(Array.from((await array.read([null, 7])).data as Int16Array)).toEqual([7, -1, 23, 31, -2, 47]);
  });
});

// ---------------------------------------------------------------------------------------------
// fill values

describe("fill value semantics", () => {
  it("missing chunks read as the fill value (NaN, non-zero int, complex, bool, big int64, uint64 max)", async () => {
    const store = new MemoryStore();
    const cases: [DataType, Scalar | "NaN", (data: TypedArray) => void][] = [
      ["float32", NaN, (d) => expect(Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length))).toEqual(Array(6).fill(0x7fc00000))],
      ["float64", "NaN", (d) => expect(Array.from(d as Float64Array).every(Number.isNaN)).toBe(true)],
      ["int16", -1234, (d) => expect(Array.from(d as Int16Array)).toEqual(Array(6).fill(-1234))],
      ["uint8", 255, (d) => expect(Array.from(d as Uint8Array)).toEqual(Array(6).fill(255))],
      ["complex128", [1.5, -2], (d) => expect(Array.from(d as Float64Array)).toEqual(Array(6).fill([1.5, -2]).flat())],
      ["bool", true, (d) => expect(Array.from(d as Uint8Array)).toEqual(Array(6).fill(1))],
      ["int64", -(2n ** 62n) - 3n, (d) => expect(Array.from(d as BigInt64Array)).toEqual(Array(6).fill(-(2n ** 62n) - 3n))],
      ["uint64", 2n ** 64n - 1n, (d) => expect(Array.from(d as BigUint64Array)).toEqual(Array(6).fill(2n ** 64n - 1n))],
      ["float16", -Infinity, (d) => expect(Array.from(d as Uint16Array)).toEqual(Array(6).fill(0xfc00))],
    ];
    for (const [dataType, fillValue, check] of cases) {
      for (const zarrFormat of [3, 2] as const) {
        const path = `${dataType}-v${zarrFormat}`;
        await create(store, { path, shape: [2, 3], chunks: [1, 2], dtype: dataType, fillValue, zarrFormat });
        // Reopen, so the fill value comes from the stored metadata.
        const array = await openArray(store, { path });
        const result = await array.read();
        check(result.data);
        expect(chunkKeys(store, path)).toEqual([]);
      }
    }
  });

  it("a partly written array reads fill around the written part", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "p", shape: [10], chunks: [3], dtype: "int32", fillValue: -7 });
    await array.write("4:6", Int32Array.from([1, 2]));
    expect(Array.from((await array.read()).data as Int32Array)).toEqual([-7, -7, -7, -7, 1, 2, -7, -7, -7, -7]);
    expect(chunkKeys(store, "p")).toEqual(["p/c/1"]);
  });

  it("writing the fill value over a whole chunk deletes it", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "d", shape: [4, 4], chunks: [2, 2], dtype: "float32", fillValue: 1.5 });
    await array.write(null, Float32Array.from({ length: 16 }, (_, i) => i));
    expect(chunkKeys(store, "d")).toEqual(["d/c/0/0", "d/c/0/1", "d/c/1/0", "d/c/1/1"]);
    await array.write("0:2, 2:4", 1.5);
    expect(chunkKeys(store, "d")).toEqual(["d/c/0/0", "d/c/1/0", "d/c/1/1"]);
    await array.write("2:4, :", Float32Array.from(Array(8).fill(1.5)));
    expect(chunkKeys(store, "d")).toEqual(["d/c/0/0"]);
    const result = await array.read();
    expect(Array.from(result.data as Float32Array)).toEqual([0, 1, 1.5, 1.5, 4, 5, 1.5, 1.5, ...Array(8).fill(1.5)]);
  });

  it("a partial write that leaves a chunk all fill deletes it", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "d", shape: [6], chunks: [3], dtype: "int8", fillValue: 0 });
    await array.write("1", 9);
    await array.write("4:6", Int8Array.from([3, 4]));
    expect(chunkKeys(store, "d")).toEqual(["d/c/0", "d/c/1"]);
    await array.write("1", 0);
    expect(chunkKeys(store, "d")).toEqual(["d/c/1"]);
    await array.write("4", 0);
    expect(chunkKeys(store, "d")).toEqual(["d/c/1"]);
    await array.write("5", 0);
    expect(chunkKeys(store, "d")).toEqual([]);
  });

  it("NaN fill: an all-NaN chunk is deleted, a chunk of -0 with fill +0 is kept", async () => {
    const store = new MemoryStore();
    const nan = await create(store, { path: "n", shape: [4], chunks: [2], dtype: "float64", fillValue: NaN });
    await nan.write(null, Float64Array.from([1, 2, 3, 4]));
    await nan.write("0:2", NaN);
    expect(chunkKeys(store, "n")).toEqual(["n/c/1"]);
    const zero = await create(store, { path: "z", shape: [4], chunks: [2], dtype: "float32", fillValue: 0 });
    await zero.write("0:2", -0);
    expect(chunkKeys(store, "z")).toEqual(["z/c/0"]);
    const result = await zero.read("0:2");
    expect(Object.is((result.data as Float32Array)[0], -0)).toBe(true);
  });

  it("writeEmptyChunks: true keeps all-fill chunks (per write and per array)", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "e", shape: [6], chunks: [3], dtype: "uint16", fillValue: 3 });
    await array.write(null, 3, { writeEmptyChunks: true });
    expect(chunkKeys(store, "e")).toEqual(["e/c/0", "e/c/1"]);
    await array.write("0:3", 3);
    expect(chunkKeys(store, "e")).toEqual(["e/c/1"]);
    const keeping = await create(store, { path: "k", shape: [6], chunks: [3], dtype: "uint16", fillValue: 3, writeEmptyChunks: true });
    await keeping.write(null, 3);
    expect(chunkKeys(store, "k")).toEqual(["k/c/0", "k/c/1"]);
    const reopened = await openArray(store, { path: "k", writeEmptyChunks: true });
    await reopened.write("0:3", Uint16Array.from([3, 3, 3]));
    expect(chunkKeys(store, "k")).toEqual(["k/c/0", "k/c/1"]);
    expect(Array.from((await reopened.read()).data as Uint16Array)).toEqual([3, 3, 3, 3, 3, 3]);
  });

  it("a complete chunk write does not read the existing chunk; a partial one does", async () => {
    const { store, gets } = countingStore();
    const array = await create(store, { path: "w", shape: [10, 4], chunks: [4, 4], dtype: "int32", fillValue: 0 });
    await array.write(null, Int32Array.from({ length: 40 }, (_, i) => i + 1));
    gets.length = 0;
    await array.write("0:4", Int32Array.from({ length: 16 }, () => 5));
    await array.write("4:8, :", 6);
    // The ragged last chunk (rows 8–9 of 10) is complete when every in-bounds element is written.
    await array.write("8:10", Int32Array.from({ length: 8 }, () => 7));
    expect(gets).toEqual([]);
    await array.write("1:3, 1:3", 9);
    expect(gets).toEqual(["w/c/0/0"]);
    gets.length = 0;
    await array.write("9, 0", 9);
    expect(gets).toEqual(["w/c/2/0"]);
    const rows = Array.from((await array.read()).data as Int32Array);
    expect(rows.slice(0, 8)).toEqual([5, 5, 5, 5, 5, 9, 9, 5]);
    expect(rows.slice(36)).toEqual([9, 7, 7, 7]);
  });
});

// ---------------------------------------------------------------------------------------------
// values and selections

describe("write values and selections", () => {
  let array: ZarrArray;
  let store: MemoryStore;
  beforeAll(async () => {
    store = new MemoryStore();
    array = await create(store, { path: "v/arr", shape: [5, 6], chunks: [2, 4], dtype: "int32", fillValue: 0 });
  });

  it("a scalar is broadcast over the selection", async () => {
    await array.write("1:4, ::2", 8);
    const result = await array.read();
    const expected = Array.from({ length: 30 }, (_, i) => (Math.floor(i / 6) >= 1 && Math.floor(i / 6) < 4 && (i % 6) % 2 === 0 ? 8 : 0));
    expect(Array.from(result.data as Int32Array)).toEqual(expected);
    await array.write(null, 0);
  });

  it("scalars of various data types are accepted when representable", async () => {
    const s = new MemoryStore();
    const i64 = await create(s, { path: "i64", shape: [2], dtype: "int64" });
    await i64.write(null, 2n ** 62n);
    await i64.write("1", 5);
    expect(Array.from((await i64.read()).data as BigInt64Array)).toEqual([2n ** 62n, 5n]);
    const c = await create(s, { path: "c", shape: [2], dtype: "complex64" });
    await c.write("0", [1, 2]);
    await c.write("1", 3);
    expect(Array.from((await c.read()).data as Float32Array)).toEqual([1, 2, 3, 0]);
    const b = await create(s, { path: "b", shape: [2], dtype: "bool" });
    await b.write("1", true);
    expect(Array.from((await b.read()).data as Uint8Array)).toEqual([0, 1]);
    const f = await create(s, { path: "f", shape: [2], dtype: "float16" });
    await f.write(null, 1);
    expect(Array.from((await f.read()).data as Uint16Array)).toEqual([0x3c00, 0x3c00]);
  });

  it.each<[string, DataType, unknown]>([
    ["1.5 into int32", "int32", 1.5],
    ["300 into uint8", "uint8", 300],
    ["-1 into uint8", "uint8", -1],
    ['"x" into int32', "int32", "x"],
    ['"x" into float32', "float32", "x"],
    ["NaN into int16", "int16", NaN],
    ["2^70 into int64", "int64", 2n ** 70n],
    ["a bigint into float64", "float64", 3n],
    ["a bigint into bool", "bool", 1n],
    ["a bigint into complex64", "complex64", 1n],
    ["a pair of bigints into complex128", "complex128", [1n, 2n]],
    ["0.5 into bool", "bool", 0.5],
    ["[1] into complex64", "complex64", [1]],
    ["an object", "int32", { value: 1 }],
    ["undefined", "int32", undefined],
  ])("scalar %s → ValueError", async (_label, dataType, value) => {
    const s = new MemoryStore();
    const a = await create(s, { path: "x/y", shape: [3], dtype: dataType });
    const error = await rejection(a.write(null, value as Scalar));
    expect(error).toBeInstanceOf(ValueError);
    expect((error as ValueError).code).toBe("VALUE_ERROR");
    expect((error as ValueError).path).toBe("x/y");
    expect(chunkKeys(s, "x/y")).toEqual([]);
  });

  it("a typed array of the wrong type or length is a ValueError", async () => {
    for (const value of [
      new Float32Array(30),
      new Int16Array(30),
      new Uint32Array(30),
      new Int32Array(29),
      new Int32Array(31),
      { data: new Int32Array(30), shape: [6, 5], dtype: "int32" },
      { data: new Int32Array(30), shape: [5, 6], dtype: "uint32" },
    ]) {
      const error = await rejection(array.write(null, value as NdArray));
      expect(error, String(value.constructor.name)).toBeInstanceOf(ValueError);
      expect((error as ValueError).path).toBe("v/arr");
    }
    expect(chunkKeys(store, "v/arr")).toEqual([]);
  });

  it.each<[string, unknown]>([
    ["index out of bounds", [5]],
    ["negative index out of bounds", [0, -7]],
    ["too many indices", [0, 0, 0]],
    ["malformed text", "0:2:, x"],
    ["text with an empty item", "1,,2"],
    ["step 0 (text)", "::0"],
    ["step 0 (slice)", [slice(0, 4, 0)]],
    ["negative step", [slice(null, null, -1)]],
    ["non-integer index", [1.5]],
    ["two ellipses", ["...", "..."]],
    ["not a selection", 42],
  ])("selection: %s → SelectionError naming the array", async (_label, selection) => {
    for (const operation of [() => array.read(selection as never), () => array.write(selection as never, 1)]) {
      const error = await rejection(operation());
      expect(error).toBeInstanceOf(SelectionError);
      expect((error as SelectionError).code).toBe("SELECTION_ERROR");
      expect((error as SelectionError).path).toBe("v/arr");
      expect((error as Error).message).toContain('"v/arr"');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// open / create / groups

describe("open, create and groups", () => {
  it("open() detects v3 and v2 arrays and groups", async () => {
    const store = new MemoryStore();
    await create(store, { path: "v3a", shape: [2], dtype: "uint8" });
    await create(store, { path: "v2a", shape: [2], dtype: "uint8", zarrFormat: 2 });
    await createGroup(store, { path: "v3g" });
    await createGroup(store, { path: "v2g", zarrFormat: 2 });
    const kinds = await Promise.all(
      ["v3a", "v2a", "v3g", "v2g"].map(async (path) => {
        const node = await open(store, { path });
        return [node instanceof ZarrArray ? "array" : node instanceof ZarrGroup ? "group" : "?", node.zarrFormat, node.path];
      }),
    );
    expect(kinds).toEqual([
      ["array", 3, "v3a"],
      ["array", 2, "v2a"],
      ["group", 3, "v3g"],
      ["group", 2, "v2g"],
    ]);
    // zarrFormat restricts the search.
    await expect(open(store, { path: "v2a", zarrFormat: 3 })).rejects.toBeInstanceOf(NodeNotFoundError);
    expect((await open(store, { path: "/v2a/", zarrFormat: 2 })).path).toBe("v2a");
  });

  it("nothing at the path → NodeNotFoundError naming it", async () => {
    const store = new MemoryStore();
    const error = await rejection(open(store, { path: "nope/here" }));
    expect(error).toBeInstanceOf(NodeNotFoundError);
    expect((error as NodeNotFoundError).path).toBe("nope/here");
    await expect(openArray(store)).rejects.toBeInstanceOf(NodeNotFoundError);
  });

  it("bad JSON in zarr.json → MetadataError naming the key", async () => {
    const store = new MemoryStore({ "bad/zarr.json": new TextEncoder().encode("{ not json") });
    const error = await rejection(open(store, { path: "bad" }));
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).key).toBe("bad/zarr.json");
    expect((error as MetadataError).path).toBe("bad");
    expect((error as Error).message).toContain("bad/zarr.json");
    const v2 = new MemoryStore({ "b2/.zarray": new TextEncoder().encode("[") });
    expect(await rejection(open(v2, { path: "b2" }))).toMatchObject({ code: "METADATA_ERROR", key: "b2/.zarray" });
  });

  it("invalid metadata content → MetadataError naming the path", async () => {
    const store = new MemoryStore({ "m/zarr.json": new TextEncoder().encode(JSON.stringify({ zarr_format: 3, node_type: "array", shape: [-1] })) });
    expect(await rejection(open(store, { path: "m" }))).toMatchObject({ code: "METADATA_ERROR", path: "m" });
  });

  it("openArray on a group and openGroup on an array → ContainsNodeError", async () => {
    const store = new MemoryStore();
    await createGroup(store, { path: "g" });
    await create(store, { path: "g/a", shape: [1], dtype: "int8" });
    const error = await rejection(openArray(store, { path: "g" }));
    expect(error).toBeInstanceOf(ContainsNodeError);
    expect((error as ContainsNodeError).path).toBe("g");
    await expect(openGroup(store, { path: "g/a" })).rejects.toBeInstanceOf(ContainsNodeError);
    expect(await openGroup(store, { path: "g" })).toBeInstanceOf(ZarrGroup);
  });

  it("create() on an existing node → ContainsNodeError; overwrite: true replaces it and its chunks", async () => {
    const store = new MemoryStore();
    const old = await create(store, { path: "x", shape: [4], chunks: [2], dtype: "int32", attributes: { version: 1 } });
    await old.write(null, Int32Array.from([1, 2, 3, 4]));
    await create(store, { path: "x2", shape: [1], dtype: "int8" }); // a sibling sharing the prefix "x"
    const before = snapshot(store);
    const error = await rejection(create(store, { path: "x", shape: [8], dtype: "float64" }));
    expect(error).toBeInstanceOf(ContainsNodeError);
    expect((error as ContainsNodeError).path).toBe("x");
    await expect(createGroup(store, { path: "x" })).rejects.toBeInstanceOf(ContainsNodeError);
    expect(snapshot(store)).toEqual(before);

    const replaced = await create(store, { path: "x", shape: [8], chunks: [4], dtype: "float64", fillValue: -1, overwrite: true });
    expect(chunkKeys(store, "x")).toEqual([]);
    expect(store.keys()).toContain("x2/zarr.json");
    const reopened = await openArray(store, { path: "x" });
    expect(reopened.shape).toEqual([8]);
    expect(reopened.attrs).toEqual({});
    expect(Array.from((await replaced.read()).data as Float64Array)).toEqual(Array(8).fill(-1));
    // A v2 array over a v3 one: no v3 metadata left behind.
    await create(store, { path: "x", shape: [3], dtype: "uint8", zarrFormat: 2, overwrite: true });
    expect(store.keys().filter((k) => k.startsWith("x/"))).toEqual(["x/.zarray"]);
    expect((await open(store, { path: "x" })).zarrFormat).toBe(2);
  });

  it("create() validates before writing anything", async () => {
    const store = new MemoryStore();
    const bad: [Partial<CreateArrayOptions>, new (...args: never[]) => Error][] = [
      [{ chunks: [0, 2] }, MetadataError],
      [{ chunks: [2] }, MetadataError],
      [{ shape: [-1, 4] }, MetadataError],
      [{ fillValue: 1.5 }, MetadataError],
      [{ fillValue: 1e6 }, MetadataError],
      [{ codecs: [{ name: "gzip" }] }, MetadataError],
      [{ codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "nope" }] }, MetadataError],
      [{ compressor: { id: "zstd" } }, MetadataError], // a v2 option on a v3 array
      [{ dtype: "float128" as DataType }, MetadataError],
    ];
    for (const [overrides, ErrorClass] of bad) {
      const options = { path: "bad", shape: [4, 4], chunks: [2, 2], dtype: "int16", ...overrides } as CreateArrayOptions;
      const error = await rejection(create(store, options));
      expect(error, JSON.stringify(overrides)).toBeInstanceOf(ErrorClass);
      expect((error as MetadataError).path).toBe("bad");
    }
    expect(store.keys()).toEqual([]);
  });

  it("create() writes group metadata for missing parents (v3 and v2)", async () => {
    const store = new MemoryStore();
    await create(store, { path: "a/b/c", shape: [1], dtype: "uint8" });
    expect(store.keys()).toEqual(["a/b/c/zarr.json", "a/b/zarr.json", "a/zarr.json", "zarr.json"]);
    expect(decodeJSON(store.map.get("a/zarr.json"))).toEqual({ zarr_format: 3, node_type: "group", attributes: {} });
    const v2 = new MemoryStore();
    await create(v2, { path: "p/q", shape: [1], dtype: "uint8", zarrFormat: 2 });
    expect(v2.keys()).toEqual([".zgroup", "p/.zgroup", "p/q/.zarray"]);
    // An existing parent group keeps its metadata.
    const s = new MemoryStore();
    await createGroup(s, { path: "g", attributes: { keep: true } });
    await create(s, { path: "g/arr", shape: [1], dtype: "uint8" });
    expect((await openGroup(s, { path: "g" })).attrs).toEqual({ keep: true });
  });

  it("groups: children, attributes, nesting, setAttributes", async () => {
    for (const zarrFormat of [3, 2] as const) {
      const store = new MemoryStore();
      const root = await createGroup(store, { zarrFormat, attributes: { title: "root" } });
      await createGroup(store, { path: "sub", zarrFormat, attributes: { level: 1 } });
      await createGroup(store, { path: "sub/deeper", zarrFormat });
      const arr = await create(store, { path: "sub/data", shape: [3], dtype: "int16", zarrFormat, attributes: { units: "K" } });
      await arr.write(null, Int16Array.from([1, 2, 3]));
      await create(store, { path: "top", shape: [1], dtype: "uint8", zarrFormat });
      expect(await root.children()).toEqual(["sub", "top"]);
      const sub = (await root.open("sub")) as ZarrGroup;
      expect(sub).toBeInstanceOf(ZarrGroup);
      expect(sub.attrs).toEqual({ level: 1 });
      // Chunk keys ("sub/data/c/0", "sub/data/0") are not children.
      expect(await sub.children()).toEqual(["data", "deeper"]);
      const data = (await sub.open("data")) as ZarrArray;
      expect(data.attrs).toEqual({ units: "K" });
      expect(Array.from((await data.read()).data as Int16Array)).toEqual([1, 2, 3]);
      expect(await ((await root.open("sub/deeper")) as ZarrGroup).children()).toEqual([]);

      await setAttributes(sub, { level: 2, tags: ["a"] });
      await setAttributes(data, { units: "degC" });
      expect((await openGroup(store, { path: "sub" })).attrs).toEqual({ level: 2, tags: ["a"] });
      const reopened = await openArray(store, { path: "sub/data" });
      expect(reopened.attrs).toEqual({ units: "degC" });
      // Rewriting metadata kept the array intact.
      expect(reopened.shape).toEqual([3]);
      expect(Array.from((await reopened.read()).data as Int16Array)).toEqual([1, 2, 3]);
      expect((await openGroup(store)).attrs).toEqual({ title: "root" });
    }
  });

  it("groups work on the file system store too", async () => {
    const store = new FileSystemStore(tempDir());
    await createGroup(store, { attributes: { fs: true } });
    await create(store, { path: "one", shape: [2], dtype: "uint8" });
    await createGroup(store, { path: "two" });
    const root = await openGroup(store);
    expect(root.attrs).toEqual({ fs: true });
    expect(await root.children()).toEqual(["one", "two"]);
  });
});

// ---------------------------------------------------------------------------------------------
// shapes

describe("0-d and zero-size arrays", () => {
  for (const zarrFormat of [3, 2] as const) {
    it(`0-d (shape []) v${zarrFormat}: read and write`, async () => {
      const store = new MemoryStore();
      const array = await create(store, { path: "s", shape: [], dtype: "float64", fillValue: 2.5, zarrFormat });
      let result = await array.read();
      expect(result.shape).toEqual([]);
      expect(Array.from(result.data as Float64Array)).toEqual([2.5]);
      await array.write(null, 7);
      expect(chunkKeys(store, "s")).toEqual([zarrFormat === 3 ? "s/c" : "s/0"]);
      result = await array.read([]);
      expect(Array.from(result.data as Float64Array)).toEqual([7]);
      await array.write("...", Float64Array.from([-3]));
      expect(Array.from((await (await openArray(store, { path: "s" })).read("...")).data as Float64Array)).toEqual([-3]);
      await expect(array.read([0])).rejects.toBeInstanceOf(SelectionError);
      await array.write(null, 2.5);
      expect(chunkKeys(store, "s")).toEqual([]);
    });
  }

  it("zero-size (shape [0, 5]): reads are empty, writes store nothing", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "z", shape: [0, 5], chunks: [2, 2], dtype: "int32" });
    const result = await array.read();
    expect(result.shape).toEqual([0, 5]);
    expect(result.data.length).toBe(0);
    await array.write(null, new Int32Array(0));
    await array.write(null, 3);
    expect(chunkKeys(store, "z")).toEqual([]);
    expect((await array.read("0:0, 1")).shape).toEqual([0]);
    await expect(array.read("0")).rejects.toBeInstanceOf(SelectionError);
    expect((await openArray(store, { path: "z" })).shape).toEqual([0, 5]);
  });

  it("an empty selection of a non-empty array is empty and stores nothing", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "e", shape: [4, 4], chunks: [2, 2], dtype: "uint8" });
    expect((await array.read("3:1, :")).shape).toEqual([0, 4]);
    await array.write("3:1, :", new Uint8Array(0));
    await array.write("3:1, :", 9);
    expect(chunkKeys(store, "e")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// robustness

describe("robustness", () => {
  it("reads do not change stored bytes (MemoryStore, and a store handing out its own buffers)", async () => {
    for (const codecs of [
      [{ name: "bytes", configuration: { endian: "little" } }],
      [{ name: "bytes", configuration: { endian: "big" } }],
      [{ name: "transpose", configuration: { order: [1, 0] } }, { name: "bytes", configuration: { endian: "little" } }, { name: "crc32c" }],
      [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1 } }],
    ]) {
      const memory = new MemoryStore();
      // A zero-copy store: get() returns the stored buffer itself.
      const zeroCopy: Store = {
        get: async (key) => memory.map.get(key),
        set: (key, value) => memory.set(key, value),
        delete: (key) => memory.delete(key),
        list: (prefix) => memory.list(prefix),
      };
      const array = await create(zeroCopy, { path: "r", shape: [6, 5], chunks: [4, 3], dtype: "float32", fillValue: 0, codecs });
      const data = Float32Array.from({ length: 30 }, (_, i) => i - 10.25);
      await array.write(null, data);
      const before = snapshot(memory);
      const first = await array.read();
      const second = await array.read("1:5, ::2");
      const third = await array.read();
      expect(Array.from(first.data as Float32Array)).toEqual(Array.from(data));
      expect(Array.from(third.data as Float32Array)).toEqual(Array.from(data));
      expect(Array.from(second.data as Float32Array)).toEqual([5, 7, 9, 10, 12, 14, 15, 17, 19, 20, 22, 24].map((i) => i - 10.25));
      // The result does not alias stored bytes: scribbling on it changes nothing stored.
      (first.data as Float32Array).fill(123);
      expect(snapshot(memory)).toEqual(before);
      expect(Array.from((await array.read()).data as Float32Array)).toEqual(Array.from(data));
    }
  });

  it("writing does not modify the caller's data", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "c", shape: [5, 3], chunks: [2, 2], dtype: "int64", codecs: [{ name: "bytes", configuration: { endian: "big" } }] });
    const data = BigInt64Array.from({ length: 15 }, (_, i) => BigInt(i) * 1000003n);
    const copy = data.slice();
    await array.write(null, data);
    expect(data).toEqual(copy);
    await array.write("1:4, 1", data.subarray(0, 3));
    expect(data).toEqual(copy);
  });

  it("concurrent partial writes into one chunk (same or separate handles) lose no update", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "cc", shape: [60], chunks: [60], dtype: "int32", codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "gzip", configuration: { level: 1 } }] });
    const other = await openArray(store, { path: "cc" });
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? array : other).write([i], i + 1)));
    expect(Array.from((await array.read()).data as Int32Array)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it("an already-aborted signal makes read and write reject with AbortError, touching nothing", async () => {
    const { store, gets, inner } = countingStore();
    const array = await create(store, { path: "ab", shape: [4], chunks: [2], dtype: "uint8" });
    await array.write(null, Uint8Array.from([1, 2, 3, 4]));
    const before = snapshot(inner);
    gets.length = 0;
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    const readError = await rejection(array.read(null, { signal: controller.signal }));
    expect(readError).toBeInstanceOf(AbortError);
    expect((readError as AbortError).code).toBe("ABORTED");
    await expect(array.write("0:1", 9, { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    await expect(array.write(null, Uint8Array.from([9, 9, 9, 9]), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(gets).toEqual([]);
    expect(snapshot(inner)).toEqual(before);
  });

  it("a corrupt chunk makes read reject with a CodecError naming path and key; nothing in the store changes", async () => {
    for (const codecs of [
      [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1 } }],
      [{ name: "bytes", configuration: { endian: "little" } }, { name: "gzip" }],
      [{ name: "bytes", configuration: { endian: "little" } }, { name: "crc32c" }],
      [{ name: "bytes", configuration: { endian: "little" } }],
    ]) {
      const store = new MemoryStore();
      const array = await create(store, { path: "bad/arr", shape: [6], chunks: [3], dtype: "int32", codecs });
      await array.write(null, Int32Array.from([1, 2, 3, 4, 5, 6]));
      const good = store.map.get("bad/arr/c/1")!;
      const corrupt = good.slice(0, good.length - 1);
      if (codecs.length > 1) corrupt[Math.floor(corrupt.length / 2)] ^= 0x5a;
      store.setSync("bad/arr/c/1", corrupt);
      const before = snapshot(store);
      const error = await rejection(array.read());
      expect(error).toBeInstanceOf(CodecError);
      expect((error as CodecError).path).toBe("bad/arr");
      expect((error as CodecError).key).toBe("bad/arr/c/1");
      expect((error as Error).message).toContain("bad/arr/c/1");
      // The intact chunk still reads; a partial write into the corrupt chunk fails the same way.
      expect(Array.from((await array.read("0:3")).data as Int32Array)).toEqual([1, 2, 3]);
      const writeError = await rejection(array.write("4", 0));
      expect(writeError).toBeInstanceOf(CodecError);
      expect((writeError as CodecError).key).toBe("bad/arr/c/1");
      expect(snapshot(store)).toEqual(before);
      // A complete overwrite repairs it without reading.
      await array.write("3:6", Int32Array.from([7, 8, 9]));
      expect(Array.from((await array.read()).data as Int32Array)).toEqual([1, 2, 3, 7, 8, 9]);
    }
  });

  it("a read-only FileSystemStore: reads work, write rejects with UnsupportedOperationError, files unchanged", async () => {
    const dir = tempDir();
    const writable = new FileSystemStore(dir);
    const array = await create(writable, { path: "ro", shape: [4], chunks: [2], dtype: "int16" });
    await array.write(null, Int16Array.from([1, 2, 3, 4]));
    const chunkFile = join(dir, "ro", "c", "0");
    const before = await readFile(chunkFile);

    const readOnly = new FileSystemStore(dir, { readOnly: true });
    const ro = await openArray(readOnly, { path: "ro" });
    expect(Array.from((await ro.read()).data as Int16Array)).toEqual([1, 2, 3, 4]);
    for (const attempt of [() => ro.write(null, 0), () => ro.write("0:2", Int16Array.from([5, 6])), () => ro.write("1", 7)]) {
      const error = await rejection(attempt());
      expect(error).toBeInstanceOf(UnsupportedOperationError);
      expect((error as UnsupportedOperationError).code).toBe("UNSUPPORTED_OPERATION");
    }
    await expect(create(readOnly, { path: "new", shape: [1], dtype: "uint8" })).rejects.toBeInstanceOf(UnsupportedOperationError);
    expect(await readFile(chunkFile)).toEqual(before);
    expect(Array.from((await ro.read()).data as Int16Array)).toEqual([1, 2, 3, 4]);
  });

  it("chunks written outside zarrflow (on disk) are read", async () => {
    const dir = tempDir();
    const store = new FileSystemStore(dir);
    await create(store, { path: "ext", shape: [4], chunks: [2], dtype: "uint16", codecs: [{ name: "bytes", configuration: { endian: "big" } }] });
    await mkdir(join(dir, "ext", "c"), { recursive: true });
    await writeFile(join(dir, "ext", "c", "1"), Uint8Array.from([0x01, 0x02, 0xff, 0xfe]));
    const array = await openArray(store, { path: "ext" });
    expect(Array.from((await array.read()).data as Uint16Array)).toEqual([0, 0, 0x0102, 0xfffe]);
  });
});

describe("read into a caller's output (out option)", () => {
  async function sample(): Promise<{ array: ZarrArray; expected: Int32Array }> {
    const array = await create(new MemoryStore(), {
      shape: [37, 23],
      chunks: [8, 5],
      dtype: "int32",
      fillValue: -7,
      codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1 } }],
    });
    const values = Int32Array.from({ length: 20 * 23 }, (_, i) => i * 3 - 100);
    await array.write("5:25, :", values);
    return { array, expected: (await array.read()).data as Int32Array };
  }

  it.each([
    ["a plain ArrayBuffer, inline", () => new Int32Array(37 * 23), 0 as const],
    ["a plain ArrayBuffer with workers asked for (runs inline)", () => new Int32Array(37 * 23), 2 as const],
    ["a SharedArrayBuffer, on the pool", () => new Int32Array(new SharedArrayBuffer(37 * 23 * 4)), 2 as const],
  ])("%s: every element is overwritten, the same array is returned", async (_name, make, workers) => {
    const { array, expected } = await sample();
    const out = make().fill(123456);
    const result = await array.read(null, { out, workers });
    expect(result.data).toBe(out);
    expect(result.shape).toEqual([37, 23]);
    expect(Array.from(out)).toEqual(Array.from(expected));
    // A second read into the same buffer gives the same answer (nothing left from the first).
    await array.write("0, 0", 99);
    await array.read(null, { out, workers });
    expect(out[0]).toBe(99);
    expect(Array.from(out.subarray(1))).toEqual(Array.from(expected.subarray(1)));
  });

  it("a selection fills an output of the selection's size", async () => {
    const { array, expected } = await sample();
    const out = new Int32Array(3 * 4);
    await array.read("10:13, 2:6", { out });
    const want = [10, 11, 12].flatMap((r) => [2, 3, 4, 5].map((c) => expected[r * 23 + c]));
    expect(Array.from(out)).toEqual(want);
  });

  it("complex outputs hold two values per element", async () => {
    const array = await create(new MemoryStore(), { shape: [4], chunks: [3], dtype: "complex64", fillValue: [1, 2] });
    await array.write("1", [5, 6]);
    const out = new Float32Array(8);
    await array.read(null, { out });
    expect(Array.from(out)).toEqual([1, 2, 5, 6, 1, 2, 1, 2]);
    await expect(array.read(null, { out: new Float32Array(4) })).rejects.toThrow(ValueError);
  });

  it("a wrong type or size is a ValueError naming the array, before any read", async () => {
    const { array } = await sample();
    const store = new MemoryStore();
    const counted = await create(store, { path: "p", shape: [4], chunks: [2], dtype: "uint8" });
    await expect(array.read(null, { out: new Float32Array(37 * 23) })).rejects.toThrow(/out must be a Int32Array/);
    await expect(array.read(null, { out: new Int32Array(37 * 23 - 1) })).rejects.toThrow(ValueError);
    const error = await counted.read(null, { out: new Uint8Array(3) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueError);
    expect((error as ValueError).path).toBe("p");
  });
});

describe("BufferRecycler (write pieces reused across chunks)", () => {
  it("hands back a given buffer of its size, never one still used by a result, a detached one, or past its limit", async () => {
    const { BufferRecycler } = await import("../src/chunk-ops.js");
    const recycler = new BufferRecycler(16, 2);
    const a = recycler.take(16);
    const b = recycler.take(16);
    recycler.give(a, a.subarray(0, 4)); // the encoded chunk is a view of the piece: keep out
    expect(recycler.take(16).buffer).not.toBe(a.buffer);
    recycler.give(b, new Uint8Array(3));
    expect(recycler.take(16).buffer).toBe(b.buffer);
    const detached = new Uint8Array(16);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    recycler.give(detached);
    recycler.give(new Uint8Array(8)); // another size
    expect(recycler.take(16).byteLength).toBe(16);
    const [c, d, e] = [new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)];
    recycler.give(c);
    recycler.give(c); // twice: kept once
    recycler.give(d);
    recycler.give(e); // over the limit of 2
    const taken = [recycler.take(16).buffer, recycler.take(16).buffer, recycler.take(16).buffer];
    expect(taken.filter((t) => t === c.buffer || t === d.buffer)).toHaveLength(2);
    expect(taken).not.toContain(e.buffer);
  });

  it.each([0, 2] as const)("whole-array writes that reuse pieces store every chunk right (workers %s)", async (workers) => {
    for (const codecs of [undefined, [{ name: "bytes", configuration: { endian: "little" } }]]) {
      // A slow store keeps encoded chunks waiting for commit while later pieces are cut.
      const array = await create(new LatencyStore(new MemoryStore(), 1), { shape: [64, 48], chunks: [4, 48], dtype: "uint16", fillValue: 0, codecs });
      const values = Uint16Array.from({ length: 64 * 48 }, (_, i) => (i * 7919) % 65521 || 1);
      await array.write(null, values, { workers });
      expect(Array.from((await array.read(null, { workers: 0 })).data as Uint16Array)).toEqual(Array.from(values));
      const second = values.map((v) => v ^ 0x5555);
      await array.write(null, second, { workers });
      expect(Array.from((await array.read(null, { workers: 0 })).data as Uint16Array)).toEqual(Array.from(second));
    }
  });
});
