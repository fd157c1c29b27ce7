/**
 * Deterministic, realistic test data: a smooth field (sums and products of slow sines along
 * each axis, values around 1000 like a 12-bit sensor) plus 3 bits of hashed noise per element.
 * It compresses like measurements do (zstd-1 ≈ 1.3×, zstd-3 ≈ 1.8×, gzip-1 ≈ 1.6×, blosc-lz4
 * with shuffle more), neither like zeros nor like random bytes. Any element can be recomputed
 * from its coordinates (valueAt), so reads are verified without keeping the data around.
 *
 * Also: generating the cached source arrays (with zarrflow, once; reused across runs).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { create, openArray, slice, type ZarrArray } from "../../src/index.js";
import { FileSystemStore } from "../../stores/index.js";
import { CODECS, type ArraySpec } from "./config.js";

interface Axes {
  /** Full array shape viewed as [Z, Y, X] (a 2-D array has Z = 1). */
  Z: number;
  Y: number;
  X: number;
  t0: Float64Array;
  t1: Float64Array;
  t2: Float64Array;
}

const axesCache = new Map<string, Axes>();

function axes(shape: readonly number[]): Axes {
  const key = shape.join("x");
  let a = axesCache.get(key);
  if (a) return a;
  if (shape.length !== 2 && shape.length !== 3) throw new Error(`data: 2-D or 3-D shapes only, got [${shape}]`);
  const [Z, Y, X] = shape.length === 3 ? shape : [1, shape[0], shape[1]];
  const t0 = new Float64Array(Z);
  const t1 = new Float64Array(Y);
  const t2 = new Float64Array(X);
  for (let z = 0; z < Z; z++) t0[z] = 1000 + 300 * Math.sin(z / 41);
  for (let y = 0; y < Y; y++) t1[y] = 600 * Math.sin(y / 71 + 0.5);
  for (let x = 0; x < X; x++) t2[x] = 600 * Math.cos(x / 89);
  a = { Z, Y, X, t0, t1, t2 };
  axesCache.set(key, a);
  return a;
}

/** 3 bits of noise from an element's flat index (a 32-bit integer hash). */
function noise(i: number): number {
  let h = Math.imul(i ^ (i >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return ((h ^ (h >>> 15)) >>> 29) - 4;
}

/** The value at flat index `i` given its (z, y, x): one expression, shared by fill and valueAt. */
function value(a: Axes, z: number, y: number, x: number, i: number): number {
  const row = a.t0[z] + a.t1[y];
  const gain = 1 + a.t1[y] / 8000;
  return row + a.t2[x] * gain + noise(i);
}

/** The element at these coordinates (C order, full array shape). */
export function valueAt(shape: readonly number[], coords: readonly number[]): number {
  const a = axes(shape);
  const [z, y, x] = coords.length === 3 ? coords : [0, coords[0], coords[1]];
  return value(a, z, y, x, (z * a.Y + y) * a.X + x) & 0xffff;
}

/**
 * Fills `out` with rows [start, start + count) along dimension 0 of an array of `shape`
 * (`out` holds exactly those rows, C order).
 */
export function fillRows(out: Uint16Array, shape: readonly number[], start: number, count: number): Uint16Array {
  const a = axes(shape);
  const { Y, X, t0, t1, t2 } = a;
  if (shape.length === 3) {
    let o = 0;
    for (let z = start; z < start + count; z++) {
      for (let y = 0; y < Y; y++) {
        const row = t0[z] + t1[y];
        const gain = 1 + t1[y] / 8000;
        let i = (z * Y + y) * X;
        for (let x = 0; x < X; x++, i++, o++) out[o] = row + t2[x] * gain + noise(i);
      }
    }
  } else {
    let o = 0;
    for (let y = start; y < start + count; y++) {
      const row = t0[0] + t1[y];
      const gain = 1 + t1[y] / 8000;
      let i = y * X;
      for (let x = 0; x < X; x++, i++, o++) out[o] = row + t2[x] * gain + noise(i);
    }
  }
  return out;
}

/** The whole array in memory. */
export function generate(shape: readonly number[]): Uint16Array {
  const n = shape.reduce((p, s) => p * s, 1);
  return fillRows(new Uint16Array(n), shape, 0, shape[0]);
}

/**
 * Checks `samples` pseudo-random elements of a C-order result of the full array (or of a
 * region starting at `origin`) against valueAt. Throws on the first mismatch.
 */
export function verify(data: ArrayLike<number>, shape: readonly number[], fullShape: readonly number[], origin?: readonly number[], samples = 4096): void {
  const n = shape.reduce((p, s) => p * s, 1);
  if (data.length !== n) throw new Error(`verify: got ${data.length} elements, expected ${n}`);
  const off = origin ?? shape.map(() => 0);
  for (let s = 0; s < samples; s++) {
    let flat = s === 0 ? 0 : s === 1 ? n - 1 : Math.abs(Math.imul(s, 0x9e3779b1)) % n;
    const idx = flat;
    const coords = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      coords[d] = (flat % shape[d]) + off[d];
      flat = Math.floor(flat / shape[d]);
    }
    const expected = valueAt(fullShape, coords);
    if (data[idx] !== expected) throw new Error(`verify: element [${coords}] is ${data[idx]}, expected ${expected}`);
  }
}

const MARKER = ".bench-complete";

function markerOf(spec: ArraySpec): string {
  // `shards` is left out of the JSON when undefined, so the markers of unsharded caches are unchanged.
  return JSON.stringify({ shape: spec.shape, chunks: spec.chunks, codecs: CODECS[spec.codec], shards: spec.shards });
}

/** True when the array at root/path was generated completely with this spec. */
export async function isPrepared(root: string, path: string, spec: ArraySpec): Promise<boolean> {
  const marker = join(root, path, MARKER);
  if (!existsSync(marker)) return false;
  return (await readFile(marker, "utf8")) === markerOf(spec);
}

/**
 * Generates the array at root/path with zarrflow (in slabs of about `slabBytes`, so a 2 GiB
 * array never sits in memory) unless a complete one is cached. Returns the seconds it took (0 when cached).
 */
export async function prepareArray(root: string, path: string, spec: ArraySpec, slabBytes = 128 << 20): Promise<number> {
  if (await isPrepared(root, path, spec)) return 0;
  const t = performance.now();
  await rm(join(root, path), { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const store = new FileSystemStore(root);
  const array = await create(store, {
    path,
    shape: spec.shape,
    chunks: spec.chunks,
    ...(spec.shards ? { shards: spec.shards } : {}),
    dtype: "uint16",
    fillValue: 0,
    codecs: CODECS[spec.codec],
    overwrite: true,
  });
  const rowBytes = spec.shape.slice(1).reduce((p, s) => p * s, 2);
  // Slabs of whole chunk (or shard) rows along dimension 0: no slab writes part of a stored object.
  const c0 = (spec.shards ?? spec.chunks)[0];
  const rows = Math.max(c0, Math.floor(slabBytes / rowBytes / c0) * c0);
  const slab = new Uint16Array((rows * rowBytes) / 2);
  for (let start = 0; start < spec.shape[0]; start += rows) {
    const count = Math.min(rows, spec.shape[0] - start);
    const data = count === rows ? slab : slab.subarray(0, (count * rowBytes) / 2);
    fillRows(data, spec.shape, start, count);
    await array.write([slice(start, start + count), ...spec.shape.slice(1).map(() => null)], data);
  }
  await checkSample(array, spec);
  await writeFile(join(root, path, MARKER), markerOf(spec));
  return (performance.now() - t) / 1000;
}

/** Reads back the first chunk and verifies it. */
export async function checkSample(array: ZarrArray, spec: ArraySpec): Promise<void> {
  const sel = spec.chunks.map((c, d) => slice(0, Math.min(c, spec.shape[d])));
  const got = await array.read(sel, { workers: 0 });
  verify(got.data as Uint16Array, got.shape, spec.shape);
}

/** Opens a cached array (zarrflow). */
export async function openCached(root: string, path: string): Promise<ZarrArray> {
  return openArray(new FileSystemStore(root), { path });
}
