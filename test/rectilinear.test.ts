/**
 * Rectilinear chunk grids (zarr-extensions "rectilinear", written by zarr-python 3 behind
 * `array.rectilinear_chunks`): the `grid/*` fixtures read exactly (whole, both manifest
 * selections, streamed chunk by chunk; inline and on workers), metadata round trips in its
 * run-length form, create() with edges, writes and copies between grids.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closePools, type ChunkResult } from "../src/array.js";
import { MetadataError, copyArray, create, openArray, slice, verifyCopy, type NdArray } from "../src/index.js";
import { RectilinearDim, parseChunkShapes } from "../src/chunk-grid.js";
import { WorkerPool } from "../operators/pool.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { buildCli, runCli } from "./helpers/cli-run.js";
import { formatsExpected, formatsStoreDir, loadFormatsManifest, rawBytes, sha256 } from "./helpers/formats.js";

const pool = new WorkerPool({ size: 2 });
afterAll(async () => {
  await pool.close();
  await closePools();
});

const grids = loadFormatsManifest().arrays.filter((a) => a.path.startsWith("grid/"));
const bytes = (a: NdArray) => rawBytes(a.data);

describe("rectilinear fixtures (zarr-python 3)", () => {
  it("the manifest lists the grid arrays this suite covers", () => {
    expect(grids.map((g) => g.path).sort()).toEqual(["grid/rectilinear_1d", "grid/rectilinear_2d_rle", "grid/rectilinear_edges_beyond_extent", "grid/rectilinear_sharded"]);
  });

  for (const entry of grids) {
    describe(entry.path, () => {
      const open = () => openArray(new FileSystemStore(formatsStoreDir(entry)), { path: entry.path });

      for (const workers of [0, 2] as const) {
        it(`reads whole and both selections exactly (workers ${workers})`, async () => {
          const array = await open();
          const options = workers ? { pool } : { workers: 0 as const };
          const whole = await array.read(null, options);
          expect(whole.shape).toEqual(entry.shape);
          expect(sha256(bytes(whole))).toBe(entry.sha256);
          expect(Buffer.from(bytes(whole)).equals(Buffer.from(formatsExpected(entry)))).toBe(true);
          for (const s of entry.selections) {
            const part = await array.read(s.selection, options);
            expect(part.shape, s.selection).toEqual(s.shape);
            expect(sha256(bytes(part)), s.selection).toBe(s.expected_sha256);
          }
        });
      }

      it("streams the same values chunk by chunk (readChunks), each chunk once", async () => {
        const array = await open();
        const expected = formatsExpected(entry);
        const itemsize = expected.byteLength / entry.shape.reduce((a, b) => a * b, 1);
        const out = new Uint8Array(expected.byteLength);
        const seen = new Set<string>();
        for await (const c of array.readChunks(null, { pool }) as unknown as AsyncIterable<ChunkResult>) {
          expect(seen.has(c.coords.join()), c.coords.join()).toBe(false);
          seen.add(c.coords.join());
          // Place the chunk's C-order block at its region.
          const data = bytes(c.data);
          const shape = c.region.map((r) => r.count);
          const strides = entry.shape.map((_, d) => entry.shape.slice(d + 1).reduce((a, b) => a * b, 1));
          const n = shape.reduce((a, b) => a * b, 1);
          for (let e = 0; e < n; e++) {
            let rest = e;
            let at = 0;
            for (let d = shape.length - 1; d >= 0; d--) {
              at += (c.region[d].start + (rest % shape[d])) * strides[d];
              rest = Math.floor(rest / shape[d]);
            }
            out.set(data.subarray(e * itemsize, (e + 1) * itemsize), at * itemsize);
          }
        }
        expect(Buffer.from(out).equals(Buffer.from(expected))).toBe(true);
        // Unsharded: one item per stored chunk; sharded: per inner chunk (regular inside the shards).
        const units = array.shards ? entry.shape.reduce((n, s, d) => n * Math.ceil(s / array.chunks[d]), 1) : array.storedChunkCount;
        expect(seen.size).toBe(units);
      });

      it("exposes the grid: chunkEdges as the manifest expands it, and the metadata's own form on write-back", async () => {
        const array = await open();
        expect(array.chunkEdges).toEqual(entry.shards ?? entry.chunks);
        if (entry.shards) expect(array.chunks).toEqual(entry.chunks);
        const copy = new MemoryStore();
        const written = (entry.chunk_grid as { configuration: { chunk_shapes: never } }).configuration.chunk_shapes;
        await create(copy, { shape: array.shape, dtype: array.dtype, ...(array.shards ? { chunks: array.chunks, shards: written } : { chunks: written }) });
        const doc = JSON.parse(new TextDecoder().decode(copy.map.get("zarr.json")));
        expect(doc.chunk_grid).toEqual(entry.chunk_grid);
      });
    });
  }
});

describe("rectilinear grid model", () => {
  it("runs locate chunks and elements without expanding repeats", () => {
    const [dim] = parseChunkShapes([[3, [2, 4], 7, [1, 2 ** 40]]], [20], {}) as [RectilinearDim];
    expect(dim.count).toBe(8); // 3 | 2 2 2 2 | 7 | 1 1 (…): the chunks overlapping [0, 20)
    expect(dim.total).toBe(3 + 8 + 7 + 2 ** 40);
    expect([0, 2, 3, 4, 5, 10, 11, 17, 18, 19].map((i) => dim.chunkOf(i))).toEqual([0, 0, 1, 1, 2, 4, 5, 5, 6, 7]);
    expect([0, 1, 4, 5, 6, 7].map((c) => dim.offset(c))).toEqual([0, 3, 9, 11, 18, 19]);
    expect(dim.edges()).toEqual([3, 2, 2, 2, 2, 7, 1, 1]);
    expect(dim.toJSON()).toEqual([3, [2, 4], 7, [1, 2 ** 40]]);
    expect(dim.maxSize).toBe(7);
  });
});

describe("rectilinear shard grids behind other codecs", () => {
  it("a transpose before sharding_indexed and gzip after it: whole-shard IO per shard shape, inline and on workers", async () => {
    const doc = {
      zarr_format: 3, node_type: "array", shape: [7, 5], data_type: "int16", fill_value: -1,
      chunk_grid: { name: "rectilinear", configuration: { kind: "inline", chunk_shapes: [[2, [4, 2]], [[3, 2]]] } },
      codecs: [
        { name: "transpose", configuration: { order: [1, 0] } },
        // The shards are transposed before the sharding codec sees them: [3, 2|4], inner [3, 2].
        { name: "sharding_indexed", configuration: { chunk_shape: [3, 2], codecs: [{ name: "bytes", configuration: { endian: "little" } }] } },
        { name: "gzip", configuration: { level: 1 } },
      ],
    };
    const store = new MemoryStore({ "zarr.json": new TextEncoder().encode(JSON.stringify(doc)) });
    const array = await openArray(store);
    expect(array.partialShardIO).toBe(false);
    const values = Int16Array.from({ length: 35 }, (_, i) => i);
    await array.write("1:7, 0:5", values.subarray(5), { workers: 0 });
    await array.write([0, slice(null, null, 2)], Int16Array.from([100, 101, 102]), { pool });
    const expected = [100, -1, 101, -1, 102, ...values.subarray(5)];
    for (const options of [{ workers: 0 as const }, { pool }]) {
      expect(Array.from((await array.read(null, options)).data as Int16Array)).toEqual(expected);
      expect(Array.from((await array.read("2:6, 1::3", options)).data as Int16Array)).toEqual([11, 14, 16, 19, 21, 24, 26, 29]);
    }
    // A shard edge that does not hold whole inner chunks (after the transpose) fails typed, naming the array.
    const bad = { ...doc, chunk_grid: { name: "rectilinear", configuration: { kind: "inline", chunk_shapes: [[2, 5], [[3, 2]]] } } };
    const broken = await openArray(new MemoryStore({ "a/zarr.json": new TextEncoder().encode(JSON.stringify(bad)) }), { path: "a" }).catch((e: unknown) => e);
    const error = broken instanceof MetadataError ? broken : await (broken as Awaited<ReturnType<typeof openArray>>).read(null, { workers: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).path).toBe("a");
  });
});

describe("copies between grids", () => {
  const fixture = grids.find((g) => g.path === "grid/rectilinear_2d_rle")!;
  const sharded = grids.find((g) => g.path === "grid/rectilinear_sharded")!;
  const source = (entry: typeof fixture) => openArray(new FileSystemStore(formatsStoreDir(entry)), { path: entry.path });

  it("a whole rectilinear array keeps its grid; into a regular grid and back, the values stay exact", async () => {
    for (const entry of [fixture, sharded]) {
      const src = await source(entry);
      const store = new MemoryStore();
      await copyArray(src, store, { path: "same", workers: 0 });
      const same = await openArray(store, { path: "same" });
      expect(same.chunkEdges, entry.path).toEqual(src.chunkEdges);
      expect(same.shards === null, entry.path).toBe(src.shards === null);
      expect((await verifyCopy(src, same)).mismatches).toBe(0);

      await copyArray(src, store, { path: "regular", chunks: [3, 4], shards: null, workers: 2 });
      const regular = await openArray(store, { path: "regular" });
      expect(regular.chunkEdges).toBeNull();
      expect(regular.chunks).toEqual([3, 4]);
      expect((await verifyCopy(src, regular)).mismatches).toBe(0);

      // Back into edges of our own (and into a rectilinear shard grid), through small blocks.
      const back = entry.shape[0] === 7 ? [[1, [3, 2]], [[2, 4], 1]] : [[[5, 3], 5], [[4, 3]]];
      await copyArray(regular, store, { path: "back", chunks: back as never, memoryBytes: 1 << 20, workers: 0 });
      const rect = await openArray(store, { path: "back" });
      expect(sha256(bytes(await rect.read(null, { workers: 0 })))).toBe(entry.sha256);
      const backShards = entry.shape[0] === 7 ? { chunks: [1, 2], shards: [[2, [2, 3]], [4, 6]] } : { chunks: [2, 3], shards: [[[4, 3], 8], [6, 6]] };
      await copyArray(regular, store, { path: "back-sharded", chunks: backShards.chunks, shards: backShards.shards as never, workers: 0 });
      expect((await openArray(store, { path: "back-sharded" })).chunkEdges).toEqual(entry.shape[0] === 7 ? [[2, 2, 2, 2], [4, 6]] : [[4, 4, 4, 8], [6, 6]]);
      expect(sha256(bytes(await (await openArray(store, { path: "back-sharded" })).read(null, { workers: 0 })))).toBe(entry.sha256);
    }
  });

  it("a selection of a rectilinear array copies into a regular grid; v2 refuses edges", async () => {
    const src = await source(fixture);
    const store = new MemoryStore();
    await copyArray(src, store, { path: "part", selection: "1:6, ::2", workers: 0 });
    const part = await openArray(store, { path: "part" });
    expect(part.chunkEdges).toBeNull();
    expect((await verifyCopy(src, part, { selection: "1:6, ::2" })).mismatches).toBe(0);
    await copyArray(src, store, { path: "v2", zarrFormat: 2, workers: 0 });
    const v2 = await openArray(store, { path: "v2" });
    expect(v2.zarrFormat).toBe(2);
    expect((await verifyCopy(src, v2)).mismatches).toBe(0);
    await expect(copyArray(src, store, { path: "v2-edges", zarrFormat: 2, chunks: [[3, 4], 9] as never })).rejects.toBeInstanceOf(MetadataError);
  });

  it("create({ chunks: edges }) writes what zarr-python writes: the grid, keys and full-edge chunks", async () => {
    const store = new MemoryStore();
    const a = await create(store, { shape: [5], dtype: "uint8", chunks: [[2, [4, 2]]], codecs: [{ name: "bytes" }] });
    await a.write([slice(0, 5)], Uint8Array.from([1, 2, 3, 4, 5]), { workers: 0 });
    const doc = JSON.parse(new TextDecoder().decode(store.map.get("zarr.json")));
    expect(doc.chunk_grid).toEqual({ name: "rectilinear", configuration: { kind: "inline", chunk_shapes: [[2, [4, 2]]] } });
    // The second chunk holds elements 2..4 in a 4-long buffer; the third lies wholly past the extent and is never written.
    expect([...store.map.keys()].sort()).toEqual(["c/0", "c/1", "zarr.json"]);
    expect(Array.from(store.map.get("c/1")!)).toEqual([3, 4, 5, 0]);
    expect(a.chunks).toEqual([4]);
    expect(a.chunkEdges).toEqual([[2, 4]]);
  });
});

describe("the command line", () => {
  const fixture = grids.find((g) => g.path === "grid/rectilinear_2d_rle")!;
  const location = path.join(formatsStoreDir(fixture), fixture.path);
  let tmp: string;
  beforeAll(async () => {
    await buildCli();
    tmp = await mkdtemp(path.join(tmpdir(), "zarrflow-rectilinear-cli-"));
  }, 120_000);
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it("info shows the edges as runs (text and --json); get prints a selection", async () => {
    const text = await runCli(["info", location]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.toString()).toMatch(/chunks +rectilinear \[\[2×2, 3\], \[1, 4×2\]\] +\(9 chunks, 8 stored\)/);
    const json = JSON.parse((await runCli(["info", location, "--json"])).stdout.toString());
    expect(json.grid).toEqual({ kind: "rectilinear", chunkShapes: [[[2, 2], 3], [1, [4, 2]]] });
    expect(json.chunkCount).toBe(9);
    const got = await runCli(["get", location, `--select=${fixture.selections[1].selection}`, "--format", "raw"]);
    expect(sha256(new Uint8Array(got.stdout))).toBe(fixture.selections[1].expected_sha256);
  });

  it("copy --chunks takes JSON edges; a regular copy and a rectilinear one verify", async () => {
    const dst = path.join(tmp, "edges.zarr");
    const run = await runCli(["copy", location, dst, "--chunks", "[[3,[2,2]],[[5,2]]]", "--verify"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.toString()).toMatch(/all 63 elements equal the source/);
    const copy = await openArray(new FileSystemStore(dst));
    expect(copy.chunkEdges).toEqual([[3, 2, 2], [5, 5]]);
    const regular = await runCli(["copy", location, path.join(tmp, "regular.zarr"), "--chunks", "4,4", "--verify", "--quiet"]);
    expect(regular.code, regular.stderr).toBe(0);
    const bad = await runCli(["copy", location, path.join(tmp, "bad.zarr"), "--chunks", "[[3,3],9]"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^zarrflow: rectilinear chunk_grid: dimension 0: the edges sum to 6, less than the extent 7/);
  });
});
