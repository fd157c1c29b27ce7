/**
 * Zarr v2 interoperability with zarr-python 2.13 (Debian's python3-zarr), both ways:
 *
 *  a. zarr-python writes a matrix of arrays (every numeric dtype × every compressor, C/F order,
 *     "." and "/" separators, NaN / null / numeric fill values, ragged edges, 1-3 dimensions,
 *     partly written arrays with missing chunks) and a group hierarchy with attributes and
 *     consolidated metadata; zarrflow reads every array byte-exactly, plus selections.
 *  b. zarrflow writes the same kind of matrix (plus writes of the fill value that delete chunks);
 *     zarr-python reads it and reports data, metadata and the chunk keys on disk.
 *  c. Group hierarchies with attributes, written by each side and read by the other.
 *
 * The Python work is batched into one subprocess per direction (test/python/zarr2_interop.py).
 * Without zarr-python 2 the tests fail, saying how to install it, unless ZARRFLOW_SKIP_PYTHON=1.
 * ZARRFLOW_PYTHON names the interpreter to use (default: the first of python3, /usr/bin/python3
 * that imports zarr 2.x: pyenv's python3 may shadow Debian's).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  DATA_TYPES,
  ZarrArray,
  ZarrGroup,
  create,
  createGroup,
  openArray,
  openGroup,
  toFloat16Bits,
  type DataType,
  type Scalar,
  type TypedArray,
  type V2CodecConfig,
} from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";
import { prng } from "./helpers/prng.js";
import { V2_DATA_TYPES } from "./helpers/reference.js";
import { skipUnlessFound } from "./helpers/external.js";

const SCRIPT = fileURLToPath(new URL("./python/zarr2_interop.py", import.meta.url));
const SKIP = process.env.ZARRFLOW_SKIP_PYTHON === "1";

// ---------------------------------------------------------------------------------------------
// Finding zarr-python 2

interface PythonInfo {
  python: string;
  zarr: string;
  numcodecs: string;
  numpy: string;
}

function findPython(): { info?: PythonInfo; problem?: string } {
  const candidates = process.env.ZARRFLOW_PYTHON ? [process.env.ZARRFLOW_PYTHON] : ["python3", "/usr/bin/python3"];
  const tried: string[] = [];
  for (const python of candidates) {
    try {
      const out = execFileSync(python, [SCRIPT, "version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
      const versions = JSON.parse(out) as Omit<PythonInfo, "python">;
      if (versions.zarr.startsWith("2.")) return { info: { python, ...versions } };
      tried.push(`${python}: zarr ${versions.zarr} (need 2.x)`);
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim().split("\n").pop();
      tried.push(`${python}: ${stderr || (error as Error).message}`);
    }
  }
  return {
    problem:
      `zarr-python 2 is not available (tried ${tried.join("; ")}). ` +
      `Install Debian's python3-zarr (apt-get install python3-zarr), or set ZARRFLOW_PYTHON to a Python ` +
      `with zarr 2.x, to enable them.`,
  };
}

const found = SKIP ? {} : findPython();
const python = found.info?.python;

function runPython(args: string[], input?: string): string {
  if (!python) throw new Error(found.problem);
  try {
    return execFileSync(python, [SCRIPT, ...args], {
      input,
      encoding: "utf8",
      maxBuffer: 512 << 20,
      timeout: 120_000,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "");
    throw new Error(`${python} ${path.basename(SCRIPT)} ${args[0]} failed: ${(error as Error).message}\n${stderr}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Byte helpers: C-order little-endian element bytes, strided selections, fill values

const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));
const bytesOf = (data: ArrayBufferView): Uint8Array => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A typed array of `dataType` over a copy of `bytes` (aligned). */
function typedFromBytes(dataType: DataType, bytes: Uint8Array): TypedArray {
  const { ctor, itemsize, slots } = DATA_TYPES[dataType];
  const copy = bytes.slice();
  return new ctor(copy.buffer, 0, (copy.byteLength / itemsize) * slots);
}

/** One dimension of a normalised selection: indices start + i*step, i < count. */
interface Dim {
  start: number;
  step: number;
  count: number;
  dropped: boolean;
}

/** An independent NumPy-style parser for the selection texts used here (positive steps). */
function normalize(text: string, shape: readonly number[]): Dim[] {
  const items = text.trim() === "" ? [] : text.split(",").map((s) => s.trim());
  const explicit = items.filter((s) => s !== "...").length;
  const expanded: string[] = [];
  for (const item of items) {
    if (item === "...") for (let i = 0; i < shape.length - explicit; i++) expanded.push(":");
    else expanded.push(item);
  }
  while (expanded.length < shape.length) expanded.push(":");
  return expanded.map((item, axis) => {
    const n = shape[axis];
    if (!item.includes(":")) {
      const index = Number(item) < 0 ? Number(item) + n : Number(item);
      if (!(index >= 0 && index < n)) throw new Error(`bad test selection ${text}`);
      return { start: index, step: 1, count: 1, dropped: true };
    }
    const [a, b, c] = item.split(":").map((s) => (s.trim() === "" ? null : Number(s)));
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const step = c ?? 1;
    const start = a === null || a === undefined ? 0 : clamp(a);
    const stop = b === null || b === undefined ? n : clamp(b);
    return { start, step, count: stop > start ? Math.ceil((stop - start) / step) : 0, dropped: false };
  });
}

/** Calls `visit(flatIndexInArray, flatIndexInSelection)` for every selected element, in C order. */
function forEachSelected(shape: readonly number[], dims: readonly Dim[], visit: (src: number, dst: number) => void): void {
  const total = product(dims.map((d) => d.count));
  if (total === 0) return;
  const strides = shape.map((_, i) => product(shape.slice(i + 1)));
  const counter = dims.map(() => 0);
  for (let dst = 0; dst < total; dst++) {
    let src = 0;
    for (let d = 0; d < dims.length; d++) src += (dims[d].start + counter[d] * dims[d].step) * strides[d];
    visit(src, dst);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++counter[d] < dims[d].count) break;
      counter[d] = 0;
    }
  }
}

/** The selected elements of C-order `bytes`, compacted. */
function selectBytes(bytes: Uint8Array, shape: readonly number[], itemsize: number, dims: readonly Dim[]): Uint8Array {
  const out = new Uint8Array(product(dims.map((d) => d.count)) * itemsize);
  forEachSelected(shape, dims, (src, dst) => out.set(bytes.subarray(src * itemsize, (src + 1) * itemsize), dst * itemsize));
  return out;
}

/** Writes compact `value` bytes (or one repeated element) into the selected elements of `bytes`. */
function assignBytes(bytes: Uint8Array, shape: readonly number[], itemsize: number, dims: readonly Dim[], value: Uint8Array): void {
  const scalar = value.byteLength === itemsize;
  forEachSelected(shape, dims, (src, dst) => {
    const from = scalar ? 0 : dst * itemsize;
    bytes.set(value.subarray(from, from + itemsize), src * itemsize);
  });
}

/** One element holding `value`, little-endian (independent of zarrflow's own encoder). */
function scalarBytes(dataType: DataType, value: Scalar): Uint8Array {
  const { itemsize, kind } = DATA_TYPES[dataType];
  const out = new Uint8Array(itemsize);
  const view = new DataView(out.buffer);
  const float = (offset: number, size: number, x: number): void => {
    if (size === 2) view.setUint16(offset, toFloat16Bits(x), true);
    else if (size === 4) view.setFloat32(offset, x, true);
    else view.setFloat64(offset, x, true);
  };
  if (kind === "b") out[0] = value ? 1 : 0;
  else if (kind === "c") {
    const [re, im] = value as [number, number];
    float(0, itemsize / 2, re);
    float(itemsize / 2, itemsize / 2, im);
  } else if (kind === "f") float(0, itemsize, value as number);
  else if (itemsize === 8) view.setBigUint64(0, BigInt.asUintN(64, BigInt(value as number | bigint)), true);
  else {
    const n = Number(value);
    if (itemsize === 1) view.setUint8(0, n & 0xff);
    else if (itemsize === 2) view.setUint16(0, n & 0xffff, true);
    else view.setUint32(0, n >>> 0, true);
  }
  return out;
}

/** A fill value in the JSON form the Python script prints. */
function fillJSON(value: Scalar | null, dataType: DataType): unknown {
  if (value === null) return null;
  const number = (x: number): unknown => (Number.isNaN(x) ? "NaN" : x === Infinity ? "Infinity" : x === -Infinity ? "-Infinity" : x);
  const { kind } = DATA_TYPES[dataType];
  if (kind === "b") return Boolean(value);
  if (kind === "c") return (value as [number, number]).map(number);
  if (typeof value === "bigint") return Number(value);
  return number(value as number);
}

function gridOf(shape: readonly number[], chunks: readonly number[]): number[][] {
  const counts = shape.map((n, i) => Math.ceil(n / chunks[i]));
  const out: number[][] = [];
  const walk = (prefix: number[]): void => {
    if (prefix.length === counts.length) {
      out.push(prefix);
      return;
    }
    for (let i = 0; i < counts[prefix.length]; i++) walk([...prefix, i]);
  };
  walk([]);
  return out;
}

/** The in-bounds box of a chunk, as full-step dims. */
function chunkDims(coords: readonly number[], shape: readonly number[], chunks: readonly number[]): Dim[] {
  return coords.map((c, i) => {
    const start = c * chunks[i];
    return { start, step: 1, count: Math.min(chunks[i], shape[i] - start), dropped: false };
  });
}

function intersects(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.every((d, i) => {
    // b's dims here are contiguous boxes; a's may be strided.
    for (let k = 0; k < d.count; k++) {
      const x = d.start + k * d.step;
      if (x >= b[i].start && x < b[i].start + b[i].count) return true;
    }
    return false;
  });
}

function sameBytes(actual: Uint8Array, wanted: Uint8Array): string | undefined {
  if (actual.byteLength !== wanted.byteLength) return `${actual.byteLength} bytes, expected ${wanted.byteLength}`;
  for (let i = 0; i < actual.byteLength; i++) {
    if (actual[i] !== wanted[i]) return `first difference at byte ${i}: ${actual[i]} vs ${wanted[i]}`;
  }
  return undefined;
}

/** Selections read from every array, by number of dimensions. */
const SELECTIONS: Record<number, string[]> = {
  1: ["3:30:4", "-5:", "7", "10:10", "::9"],
  2: ["1:9:2, ::3", "4, 2:", "-1, -1", "..., 5", "2:6"],
  3: ["1:, ::2, 2:6", "..., 1", "0, 1:5:3, ::2", "-2, -1:, 3", "::4, 3, ::5"],
};

// ---------------------------------------------------------------------------------------------
// Test setup: fail loudly without zarr-python 2

const tmp = python ? mkdtempSync(path.join(tmpdir(), "zarrflow-py-interop-")) : "";
afterAll(() => {
  if (tmp && existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
});

const suite = SKIP || skipUnlessFound("zarr-python 2 interop tests (Debian's python3-zarr)", found.problem) ? describe.skip : describe;

// ---------------------------------------------------------------------------------------------
// a. zarr-python writes, zarrflow reads

interface ManifestArray {
  path: string;
  dtype: string;
  codec: string;
  compressor: V2CodecConfig | null;
  order: "C" | "F";
  dimension_separator: "." | "/";
  shape: number[];
  chunks: number[];
  fill_value: unknown;
  partial: boolean;
  chunk_keys: string[];
  data: string;
}

interface Manifest {
  zarr: string;
  arrays: ManifestArray[];
  groups: Record<string, Record<string, unknown>>;
  tree: { children: string[]; leaf: { path: string; attrs: Record<string, unknown>; data: string } };
}

const ALL_V2_DTYPES = ["|b1", "|i1", "<i2", ">i2", "<i4", "<i8", "|u1", "<u2", ">u4", "<u8", "<f2", "<f4", ">f8", "<c8", "<c16"];
const ALL_CODECS = [
  "blosc-lz4-0", "blosc-lz4-1", "blosc-lz4-2",
  "blosc-zstd-0", "blosc-zstd-1", "blosc-zstd-2",
  "blosc-zlib-0", "blosc-zlib-1", "blosc-zlib-2",
  "zstd", "lz4", "zlib", "gzip", "none",
];

let manifest: Manifest | undefined;
let manifestError: unknown;
const pyRoot = python ? path.join(tmp, "written-by-python") : "";
if (python) {
  try {
    manifest = JSON.parse(runPython(["write", pyRoot])) as Manifest;
  } catch (error) {
    manifestError = error;
  }
}

suite("zarr-python 2 writes, zarrflow reads", () => {
  const store = () => new FileSystemStore(pyRoot, { readOnly: true });

  it("zarr-python wrote the whole matrix", () => {
    if (manifestError) throw manifestError;
    expect(manifest).toBeDefined();
    const arrays = manifest!.arrays;
    expect(new Set(arrays.map((a) => a.dtype))).toEqual(new Set(ALL_V2_DTYPES));
    expect(new Set(arrays.map((a) => a.codec))).toEqual(new Set(ALL_CODECS));
    // Every dtype meets every compressor.
    for (const dtype of ALL_V2_DTYPES) {
      expect(new Set(arrays.filter((a) => a.dtype === dtype).map((a) => a.codec))).toEqual(new Set(ALL_CODECS));
    }
    const combos = new Set(arrays.map((a) => `${a.order}${a.dimension_separator}${a.shape.length}`));
    expect(combos.size, "every order × separator × ndim").toBe(12);
    expect(arrays.some((a) => a.fill_value === "NaN" && a.partial)).toBe(true);
    expect(arrays.some((a) => Array.isArray(a.fill_value) && a.fill_value[0] === "NaN")).toBe(true);
    expect(arrays.some((a) => a.fill_value === null && a.partial)).toBe(true);
    expect(arrays.every((a) => a.shape.some((n, i) => n % a.chunks[i] !== 0)), "ragged edges").toBe(true);
    const missing = arrays.filter((a) => a.chunk_keys.length < gridOf(a.shape, a.chunks).length);
    expect(missing.length, "arrays with missing chunks").toBeGreaterThan(20);
  });

  describe("arrays", () => {
    // Defined from the manifest produced at collection time (one Python call for all of them).
    it.each((manifest?.arrays ?? []).map((a) => [a.path, a] as const))("%s", async (arrayPath, entry) => {
      const dataType = V2_DATA_TYPES[entry.dtype.slice(1)];
      const { itemsize } = DATA_TYPES[dataType];
      const array = await openArray(store(), { path: arrayPath });
      expect(array.zarrFormat).toBe(2);
      expect(array.dtype).toBe(dataType);
      expect(array.shape).toEqual(entry.shape);
      expect(array.chunks).toEqual(entry.chunks);
      const v2 = array.metadata.v2!;
      expect(v2.order).toBe(entry.order);
      expect(v2.endian).toBe(entry.dtype[0] === ">" ? "big" : "little");
      expect(v2.compressor).toEqual(entry.compressor);
      expect(array.metadata.chunkKeyEncoding.separator).toBe(entry.dimension_separator);
      expect(v2.fillValueNull).toBe(entry.fill_value === null);
      if (entry.fill_value !== null) expect(fillJSON(array.fillValue, dataType)).toEqual(entry.fill_value);

      // zarrflow names chunks as zarr-python does.
      const keys = new Set(gridOf(entry.shape, entry.chunks).map((c) => array.chunkKey(c).slice(arrayPath.length + 1)));
      for (const key of entry.chunk_keys) expect(keys.has(key), `chunk key ${key}`).toBe(true);

      const expectedBytes = fromBase64(entry.data);
      const full = await array.read();
      expect(full.shape).toEqual(entry.shape);
      const diff = sameBytes(bytesOf(full.data), expectedBytes);
      expect(diff, `full read of ${arrayPath}: ${diff}`).toBeUndefined();

      for (const selection of SELECTIONS[entry.shape.length]) {
        const dims = normalize(selection, entry.shape);
        const result = await array.read(selection);
        expect(result.shape, `shape of [${selection}]`).toEqual(dims.filter((d) => !d.dropped).map((d) => d.count));
        const wanted = selectBytes(expectedBytes, entry.shape, itemsize, dims);
        const selDiff = sameBytes(bytesOf(result.data), wanted);
        expect(selDiff, `[${selection}] of ${arrayPath}: ${selDiff}`).toBeUndefined();
      }
    });
  });

  it("reads the group hierarchy, its attributes and its consolidated metadata", async () => {
    if (manifestError) throw manifestError;
    const m = manifest!;
    for (const [groupPath, attributes] of Object.entries(m.groups)) {
      const group = await openGroup(store(), { path: groupPath });
      expect(group.zarrFormat).toBe(2);
      expect(group.attrs, `attributes of "${groupPath}"`).toEqual(attributes);
    }
    const root = await openGroup(store());
    expect(await root.children()).toEqual(["matrix", "tree"]);

    // "tree" has a .zmetadata written by zarr.consolidate_metadata.
    const tree = await openGroup(store(), { path: "tree", consolidated: true });
    expect(tree.metadata.consolidated).toBeDefined();
    expect(await tree.children()).toEqual(m.tree.children);
    const sub = await tree.open("sub group");
    expect(sub).toBeInstanceOf(ZarrGroup);
    expect((sub as ZarrGroup).attrs).toEqual(m.groups["tree/sub group"]);
    expect(await (sub as ZarrGroup).children()).toEqual(["leaf"]);
    const leaf = await (sub as ZarrGroup).open("leaf");
    expect(leaf).toBeInstanceOf(ZarrArray);
    expect((leaf as ZarrArray).attrs).toEqual(m.tree.leaf.attrs);
    expect(bytesOf((await (leaf as ZarrArray).read()).data)).toEqual(fromBase64(m.tree.leaf.data));
    // Listing instead of consolidated metadata finds the same children.
    const listed = await openGroup(store(), { path: "tree", consolidated: false });
    expect(await listed.children()).toEqual(m.tree.children);
  });
});

// ---------------------------------------------------------------------------------------------
// b. zarrflow writes, zarr-python reads

type Mode = "full" | "partial" | "delete";

interface WriteCase {
  path: string;
  dataType: DataType;
  v2dtype: string;
  codec: string;
  compressor: V2CodecConfig | null;
  order: "C" | "F";
  separator: "." | "/";
  shape: number[];
  chunks: number[];
  fill: Scalar | null;
  mode: Mode;
  attributes: Record<string, unknown>;
}

const SHAPES: Record<number, [number[], number[]]> = {
  1: [[37], [8]],
  2: [[11, 7], [4, 3]],
  3: [[5, 6, 7], [2, 4, 3]],
};

function compressorFor(codec: string): V2CodecConfig | null {
  const blosc = /^blosc-(\w+)-(\d)$/.exec(codec);
  if (blosc) return { id: "blosc", cname: blosc[1], clevel: 5, shuffle: Number(blosc[2]), blocksize: 0 };
  switch (codec) {
    case "zstd":
      return { id: "zstd", level: 3 };
    case "lz4":
      return { id: "lz4", acceleration: 1 };
    case "zlib":
      return { id: "zlib", level: 5 };
    case "gzip":
      return { id: "gzip", level: 5 };
    default:
      return null;
  }
}

function fillOptions(dataType: DataType): (Scalar | null)[] {
  switch (DATA_TYPES[dataType].kind) {
    case "b":
      return [null, false, true];
    case "i":
    case "u":
      return [null, 0, 7];
    case "f":
      return [NaN, null, -1.5];
    default:
      return [[NaN, 0], null, [1.5, -2]];
  }
}

function writeCases(): WriteCase[] {
  const cases: WriteCase[] = [];
  const add = (v2dtype: string, codec: string, ndim: number, order: "C" | "F", separator: "." | "/", fill: Scalar | null, mode: Mode): void => {
    const dataType = V2_DATA_TYPES[v2dtype.slice(1)];
    const [shape, chunks] = SHAPES[ndim];
    const index = cases.length;
    const name = `${String(index).padStart(3, "0")}_${v2dtype.replace("<", "le").replace(">", "be").replace("|", "")}_${codec}_${ndim}d_${order}_${mode}`;
    cases.push({
      path: `matrix/${name}`,
      dataType,
      v2dtype,
      codec,
      compressor: compressorFor(codec),
      order,
      separator,
      shape,
      chunks,
      fill,
      mode,
      attributes: { index, codec, note: "written by zarrflow" },
    });
  };
  let i = 0;
  for (const v2dtype of ALL_V2_DTYPES) {
    const options = fillOptions(V2_DATA_TYPES[v2dtype.slice(1)]);
    for (const codec of ALL_CODECS) {
      const mode: Mode = i % 5 === 0 ? "partial" : i % 5 === 1 ? "delete" : "full";
      let fill = options[(Math.floor(i / 12) + i) % 3];
      // A null fill value reads as uninitialised memory in zarr-python: keep it to full writes.
      if (fill === null && mode !== "full") fill = options[2];
      add(v2dtype, codec, 1 + (i % 3), "CF"[i % 2] as "C" | "F", "./"[Math.floor(i / 2) % 2] as "." | "/", fill, mode);
      i++;
    }
  }
  // Corner cases on top of the rotating matrix.
  add("<f4", "blosc-lz4-1", 2, "F", "/", NaN, "partial");
  add(">f8", "zstd", 3, "C", ".", NaN, "delete");
  add("<f2", "none", 3, "F", "/", NaN, "delete");
  add("<c8", "gzip", 2, "F", ".", [NaN, 0], "delete");
  add("<i2", "none", 3, "F", "/", null, "full");
  add(">u4", "zlib", 1, "C", "/", null, "full");
  add("|b1", "lz4", 2, "F", "/", true, "delete");
  add("<u8", "blosc-zstd-2", 3, "C", "/", 7, "partial");
  return cases;
}


/** Random C-order little-endian element bytes, with NaN, ±Infinity and -0 among the floats. */
function sampleBytes(dataType: DataType, count: number, seed: number): Uint8Array {
  const random = prng(seed);
  const { itemsize, kind } = DATA_TYPES[dataType];
  const out = new Uint8Array(count * itemsize);
  const view = new DataView(out.buffer);
  const specials = [NaN, Infinity, -Infinity, -0];
  const floatAt = (i: number): number => (i % 2 === 1 && i < 8 ? specials[(i - 1) / 2] : (random() - 0.5) * 2000);
  for (let i = 0; i < count; i++) {
    const o = i * itemsize;
    if (kind === "b") out[o] = random() < 0.5 ? 1 : 0;
    else if (kind === "i" || kind === "u") for (let b = 0; b < itemsize; b++) out[o + b] = Math.floor(random() * 256);
    else if (kind === "f") out.set(scalarBytes(dataType, floatAt(i)), o);
    else {
      const half = itemsize / 2;
      const re = floatAt(i);
      const im = i === 4 ? -Infinity : (random() - 0.5) * 200;
      if (half === 4) {
        view.setFloat32(o, re, true);
        view.setFloat32(o + 4, im, true);
      } else {
        view.setFloat64(o, re, true);
        view.setFloat64(o + 8, im, true);
      }
    }
  }
  return out;
}

interface WriteOutcome {
  expectedBytes: Uint8Array;
  expectedKeys: string[];
}

/** Creates and writes one case with zarrflow; returns the expected contents and chunk keys. */
async function writeCase(store: FileSystemStore, c: WriteCase, seed: number): Promise<WriteOutcome> {
  const { itemsize } = DATA_TYPES[c.dataType];
  const array = await create(store, {
    path: c.path,
    shape: c.shape,
    chunks: c.chunks,
    dtype: c.dataType,
    zarrFormat: 2,
    compressor: c.compressor,
    filters: null,
    order: c.order,
    endian: c.v2dtype[0] === ">" ? "big" : "little",
    dimensionSeparator: c.separator,
    fillValue: c.fill,
    attributes: c.attributes,
  });
  const count = product(c.shape);
  const data = sampleBytes(c.dataType, count, seed);
  const fillBytes = scalarBytes(c.dataType, c.fill ?? (DATA_TYPES[c.dataType].kind === "c" ? [0, 0] : DATA_TYPES[c.dataType].kind === "b" ? false : 0));
  const expected = new Uint8Array(count * itemsize);
  assignBytes(expected, c.shape, itemsize, c.shape.map((n) => ({ start: 0, step: 1, count: n, dropped: false })), fillBytes);
  const touched: Dim[][] = [];

  if (c.mode === "partial") {
    // Not chunk-aligned, and leaves whole chunks unwritten (the same region as the Python side).
    const text = c.shape.map((n) => `1:${Math.max(2, Math.floor(n / 2))}`).join(", ");
    const dims = normalize(text, c.shape);
    const piece = selectBytes(data, c.shape, itemsize, dims);
    await array.write(text, typedFromBytes(c.dataType, piece));
    assignBytes(expected, c.shape, itemsize, dims, piece);
    touched.push(dims);
  } else {
    const all = normalize("", c.shape);
    await array.write(null, typedFromBytes(c.dataType, data));
    expected.set(data);
    touched.push(all);
    if (c.mode === "delete") {
      // The fill value over whole chunks: those chunks are deleted (writeEmptyChunks is off).
      const text = c.chunks.map((n, i) => (i === 0 ? `0:${Math.min(2 * n, c.shape[0])}` : `0:${n}`)).join(", ");
      const dims = normalize(text, c.shape);
      await array.write(text, c.fill!);
      assignBytes(expected, c.shape, itemsize, dims, fillBytes);
    }
  }

  const expectedKeys: string[] = [];
  for (const coords of gridOf(c.shape, c.chunks)) {
    const box = chunkDims(coords, c.shape, c.chunks);
    if (!touched.some((dims) => intersects(dims, box))) continue;
    const content = selectBytes(expected, c.shape, itemsize, box);
    let allFill = true;
    for (let i = 0; i < content.byteLength && allFill; i++) if (content[i] !== fillBytes[i % itemsize]) allFill = false;
    if (!allFill) expectedKeys.push(coords.join(c.separator));
  }
  return { expectedBytes: expected, expectedKeys: expectedKeys.sort() };
}

interface PythonArray {
  error?: string;
  dtype: string;
  shape: number[];
  chunks: number[];
  fill_value: unknown;
  order: string;
  compressor: Record<string, unknown> | null;
  filters: unknown;
  dimension_separator: string;
  chunk_keys: string[];
  attrs: Record<string, unknown>;
  data: string;
}

interface PythonGroup {
  error?: string;
  attrs: Record<string, unknown>;
  groups: string[];
  arrays: string[];
}

interface PythonRead {
  arrays: Record<string, PythonArray>;
  groups: Record<string, PythonGroup>;
}

/** The hierarchy zarrflow writes for zarr-python (c). */
const HIERARCHY = {
  groups: {
    "": { title: "zarrflow root", version: 1 },
    hier: { description: "a group written by zarrflow", nested: { list: [1, 2.5, "three", null, true], empty: {} } },
    "hier/a": { unicode: "ñ✓ – 日本 🚀", number: -0.125 },
    "hier/a/b c": {},
    "hier/empty": { only: "attributes" },
  } as Record<string, Record<string, unknown>>,
  array: { path: "hier/a/values", attrs: { units: "K", scale: [1, 0.5], missing: null } },
};

const CASES = writeCases();
const zfRoot = python ? path.join(tmp, "written-by-zarrflow") : "";
const outcomes = new Map<string, WriteOutcome>();
let pythonRead: PythonRead | undefined;

suite("zarrflow writes, zarr-python 2 reads", () => {
  beforeAll(async () => {
    // Never write anywhere but the fresh temporary folder.
    if (!tmp || !zfRoot.startsWith(tmp)) throw new Error("internal: no temporary folder to write into");
    const store = new FileSystemStore(zfRoot);
    // The root and the groups first (each with its attributes), then the arrays, a few at a time.
    for (const [groupPath, attributes] of Object.entries(HIERARCHY.groups)) {
      await createGroup(store, { path: groupPath, zarrFormat: 2, attributes });
    }
    const leaf = await create(store, {
      path: HIERARCHY.array.path,
      shape: [4, 3],
      chunks: [3, 2],
      dtype: "int32",
      zarrFormat: 2,
      compressor: null,
      attributes: HIERARCHY.array.attrs,
    });
    await leaf.write(null, Int32Array.from({ length: 12 }, (_, i) => i * 10 - 50));
    const batch = 16;
    for (let i = 0; i < CASES.length; i += batch) {
      await Promise.all(
        CASES.slice(i, i + batch).map(async (c, j) => outcomes.set(c.path, await writeCase(store, c, 5000 + i + j))),
      );
    }
    const request = { arrays: [...CASES.map((c) => c.path), HIERARCHY.array.path], groups: [...Object.keys(HIERARCHY.groups), "matrix"] };
    pythonRead = JSON.parse(runPython(["read", zfRoot], JSON.stringify(request))) as PythonRead;
  });

  it("covers the matrix", () => {
    expect(new Set(CASES.map((c) => c.v2dtype))).toEqual(new Set(ALL_V2_DTYPES));
    for (const dtype of ALL_V2_DTYPES) {
      expect(new Set(CASES.filter((c) => c.v2dtype === dtype).map((c) => c.codec))).toEqual(new Set(ALL_CODECS));
    }
    expect(new Set(CASES.map((c) => `${c.order}${c.separator}${c.shape.length}`)).size).toBe(12);
    for (const mode of ["full", "partial", "delete"] as const) expect(CASES.some((c) => c.mode === mode)).toBe(true);
    expect(CASES.some((c) => c.fill === null)).toBe(true);
    expect(CASES.some((c) => typeof c.fill === "number" && Number.isNaN(c.fill) && c.mode === "delete")).toBe(true);
    expect(CASES.some((c) => typeof c.fill === "number" && Number.isNaN(c.fill) && c.mode === "partial")).toBe(true);
  });

  it.each(CASES.map((c) => [c.path, c] as const))("%s", (arrayPath, c) => {
    const outcome = outcomes.get(arrayPath)!;
    const seen = pythonRead!.arrays[arrayPath];
    expect(seen.error, `zarr-python could not read ${arrayPath}`).toBeUndefined();
    expect(seen.dtype).toBe(c.v2dtype);
    expect(seen.shape).toEqual(c.shape);
    expect(seen.chunks).toEqual(c.chunks);
    expect(seen.order).toBe(c.order);
    expect(seen.compressor).toEqual(c.compressor);
    expect(seen.filters).toBeNull();
    expect(seen.dimension_separator).toBe(c.separator);
    expect(seen.fill_value).toEqual(fillJSON(c.fill, c.dataType));
    expect(seen.attrs).toEqual(c.attributes);
    if (c.fill === null) {
      // Every chunk must be stored, or zarr-python would read uninitialised memory.
      expect(outcome.expectedKeys.length, "test data: a null-fill array must keep all its chunks").toBe(gridOf(c.shape, c.chunks).length);
    }
    expect(seen.chunk_keys).toEqual(outcome.expectedKeys);
    if (c.mode !== "full") {
      // Partial writes leave chunks missing; writing the fill value deletes chunks.
      expect(outcome.expectedKeys.length, "chunks missing on disk").toBeLessThan(gridOf(c.shape, c.chunks).length);
    }
    const diff = sameBytes(fromBase64(seen.data), outcome.expectedBytes);
    expect(diff, `${arrayPath} as read by zarr-python: ${diff}`).toBeUndefined();
  });

  it("zarr-python reads the group hierarchy and its attributes", () => {
    const groups = pythonRead!.groups;
    for (const [groupPath, attributes] of Object.entries(HIERARCHY.groups)) {
      expect(groups[groupPath].error, `group "${groupPath}"`).toBeUndefined();
      expect(groups[groupPath].attrs, `attributes of "${groupPath}"`).toEqual(attributes);
    }
    expect(groups[""].groups).toEqual(["hier", "matrix"]);
    expect(groups.hier.groups).toEqual(["a", "empty"]);
    expect(groups["hier/a"].groups).toEqual(["b c"]);
    expect(groups["hier/a"].arrays).toEqual(["values"]);
    expect(groups.matrix.arrays).toHaveLength(CASES.length);
    const leaf = pythonRead!.arrays[HIERARCHY.array.path];
    expect(leaf.error).toBeUndefined();
    expect(leaf.attrs).toEqual(HIERARCHY.array.attrs);
    expect(leaf.chunk_keys).toEqual(["0.0", "0.1", "1.0", "1.1"]);
    expect(fromBase64(leaf.data)).toEqual(bytesOf(Int32Array.from({ length: 12 }, (_, i) => i * 10 - 50)));
  });

  it("zarrflow reads back what it wrote, with the same result as zarr-python", async () => {
    const store = new FileSystemStore(zfRoot, { readOnly: true });
    for (const c of CASES.filter((_, i) => i % 7 === 0)) {
      const array = await openArray(store, { path: c.path });
      const diff = sameBytes(bytesOf((await array.read()).data), outcomes.get(c.path)!.expectedBytes);
      expect(diff, `${c.path}: ${diff}`).toBeUndefined();
    }
  });
});
