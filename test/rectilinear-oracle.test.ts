/**
 * Rectilinear grids against zarr-python 3 (the oracle, rectilinear chunks enabled there), both
 * ways: arrays zarrflow writes (run-length edges, edges past the extent, compressed, transposed,
 * rectilinear shard grids) read back exactly by zarr-python, whole and through a strided
 * selection; and arrays zarr-python writes with explicit edges read exactly by zarrflow.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { closePools } from "../src/array.js";
import { create, openArray } from "../src/index.js";
import type { CreateArrayOptions } from "../src/hierarchy.js";
import { FileSystemStore } from "../stores/index.js";
import { findOracle, oracleSkip, runOracle } from "./helpers/oracle.js";
import { prng } from "./helpers/prng.js";
import { selectionOffsets } from "./helpers/reference.js";
import { parseSelection } from "../src/selection.js";

const skip = oracleSkip("rectilinear interop with zarr-python 3");
const dir = mkdtempSync(path.join(tmpdir(), "zarrflow-rectilinear-"));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await closePools();
});

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bytesOf = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

const CASES: { name: string; options: CreateArrayOptions; selection: string }[] = [
  { name: "1-d edges", options: { shape: [20], dtype: "int16", chunks: [[3, 5, 2, 10]], fillValue: -1 }, selection: "1:19:4" },
  {
    name: "2-d runs, gzip",
    options: { shape: [7, 9], dtype: "float32", chunks: [[[2, 2], 3], [1, [4, 2]]], codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "gzip", configuration: { level: 1 } }] },
    selection: "1:6:2, ::3",
  },
  { name: "edges past the extent, bare-integer dimension", options: { shape: [10, 12], dtype: "int8", chunks: [4, [[5, 3], 2]] }, selection: "-7, 2:" },
  {
    name: "transposed, big-endian",
    options: { shape: [6, 5, 4], dtype: "uint16", chunks: [[1, 5], [2, 3], [[3, 2]]], codecs: [{ name: "transpose", configuration: { order: [2, 0, 1] } }, { name: "bytes", configuration: { endian: "big" } }, { name: "zstd", configuration: { level: 1, checksum: false } }] },
    selection: "::2, 1:4, 3",
  },
  { name: "rectilinear shards", options: { shape: [20, 12], dtype: "int32", chunks: [2, 3], shards: [[4, 6, 10], [[6, 2]]], fillValue: 7 }, selection: "2:18:3, 1:12:3" },
  { name: "rectilinear shards, index at start, raw inner chunks", options: { shape: [9, 8], dtype: "float64", chunks: [3, 2], shards: [[3, [6, 2]], 4], indexLocation: "start", codecs: [{ name: "bytes", configuration: { endian: "little" } }] }, selection: "-1, ::3" },
];

describe.skipIf(skip)("rectilinear grids: zarr-python 3 reads what zarrflow writes", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const oracle = findOracle()!;
      const store = path.join(dir, "zf.zarr");
      const rnd = prng(product(c.options.shape));
      const array = await create(new FileSystemStore(store), { ...c.options, path: c.name.replace(/[^a-z0-9]+/gi, "_"), overwrite: true });
      // Random values, written in two overlapping parts (partial chunks, shard merges), leaving some fill.
      const values = Array.from({ length: array.size }, () => Math.floor(rnd() * 200) - 100);
      const typed = { int16: Int16Array, int32: Int32Array, int8: Int8Array, uint16: Uint16Array, float32: Float32Array, float64: Float64Array }[array.dtype as "int16"];
      const all = typed.from(values.map((v) => (array.dtype === "uint16" ? v + 100 : v)));
      const half = Math.floor(array.shape[0] / 2);
      const lead = product(array.shape.slice(1));
      await array.write(`:${half}`, all.subarray(0, half * lead), { workers: 0 });
      await array.write(`${half}:`, all.subarray(half * lead), { workers: 2 });

      const out = path.join(dir, "out.bin");
      const described = JSON.parse(runOracle(oracle, "read.py", [store, array.path, out]).trim().split("\n").pop()!);
      expect(described.chunks ?? described.shards).toBeDefined();
      expect(bytesOf(readFileSync(out)).equals(bytesOf(all)), `${c.name}: whole array`).toBe(true);

      runOracle(oracle, "read.py", ["--selection", c.selection, store, array.path, out]);
      const { offsets } = selectionOffsets(array.shape, parseSelection(c.selection));
      const expected = typed.from(offsets.map((p) => all[p]));
      expect(bytesOf(readFileSync(out)).equals(bytesOf(expected)), `${c.name}: ${c.selection}`).toBe(true);
    });
  }
});

describe.skipIf(skip)("rectilinear grids: zarrflow reads what zarr-python 3 writes", () => {
  const WRITES: { name: string; spec: Record<string, unknown>; dtype: "int16" | "float32"; selection: string }[] = [
    { name: "2-d edges", spec: { shape: [11, 7], dtype: "<i2", chunks: [[4, 4, 3], [1, 2, 4]], fill_value: 3 }, dtype: "int16", selection: "3:11:2, -5:" },
    { name: "rectilinear shards", spec: { shape: [16, 6], dtype: "<f4", chunks: [2, 3], shards: [[4, 4, 8], [6]] }, dtype: "float32", selection: "-3, ::2" },
  ];
  for (const w of WRITES) {
    it(w.name, async () => {
      const oracle = findOracle()!;
      const store = path.join(dir, "py.zarr");
      const shape = w.spec.shape as number[];
      const rnd = prng(7);
      const numbers = Array.from({ length: product(shape) }, () => Math.floor(rnd() * 1000) - 500);
      const all = w.dtype === "int16" ? Int16Array.from(numbers) : Float32Array.from(numbers);
      const input = path.join(dir, "in.bin");
      writeFileSync(input, bytesOf(all));
      const name = w.name.replace(/[^a-z0-9]+/gi, "_");
      runOracle(oracle, "write.py", [store, name, input, "--spec", JSON.stringify(w.spec)]);
      const array = await openArray(new FileSystemStore(store), { path: name });
      expect(array.chunkEdges).toEqual(w.spec.shards ?? w.spec.chunks);
      for (const workers of [0, 2]) {
        const whole = await array.read(null, { workers });
        expect(bytesOf(whole.data).equals(bytesOf(all)), `${w.name}, workers ${workers}`).toBe(true);
        const part = await array.read(w.selection, { workers });
        const { offsets } = selectionOffsets(shape, parseSelection(w.selection));
        expect(Array.from(part.data as Int16Array), w.selection).toEqual(offsets.map((p) => all[p]));
      }
    });
  }
});
