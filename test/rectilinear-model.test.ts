/**
 * Selections over rectilinear chunk grids against a plain JS model of the whole array: random
 * edges (single edges, `[length, count]` runs, bare-integer dimensions, edges running past the
 * extent), random selections (integers, slices with steps, `...`, index arrays with repeats and
 * negatives), through read(), readChunks(), write() and the streaming writer, unsharded (raw,
 * compressed, transposed) and with rectilinear shard grids; inline and on a pool of 2 workers.
 * Also: every stored chunk is encoded at its full edge shape (as zarr-python does), so the
 * layout, not just the round trip, is pinned.
 */
import { afterAll, describe, expect, it } from "vitest";
import { closePools, type ChunkResult } from "../src/array.js";
import { create, openArray, slice, type SelectionItem } from "../src/index.js";
import type { CodecMetadata } from "../src/codecs/codec.js";
import type { GridSpec } from "../src/chunk-grid.js";
import { WorkerPool } from "../operators/pool.js";
import { MemoryStore } from "../stores/index.js";
import { prng } from "./helpers/prng.js";
import { selectionOffsets } from "./helpers/reference.js";
import { seedFor, withSeed } from "./helpers/seed.js";

const pool = new WorkerPool({ size: 2 });
afterAll(async () => {
  await pool.close();
  await closePools();
});

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

type Rnd = () => number;
const int = (rnd: Rnd, lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

/** Random edges covering `extent` (and sometimes running past it), each a multiple of `unit`. */
function randomEdges(rnd: Rnd, extent: number, unit: number): number[] {
  const edges: number[] = [];
  let sum = 0;
  while (sum < extent || edges.length === 0) {
    const e = unit * int(rnd, 1, rnd() < 0.3 ? 1 : 4);
    edges.push(e);
    sum += e;
  }
  if (rnd() < 0.3) for (let n = int(rnd, 1, 3); n > 0; n--) edges.push(unit * int(rnd, 1, 3));
  return edges;
}

/** The metadata form of edges: single integers and `[length, count]` runs, grouped at random. */
function encodeEdges(rnd: Rnd, edges: number[]): (number | [number, number])[] {
  const out: (number | [number, number])[] = [];
  for (let i = 0; i < edges.length; ) {
    let j = i;
    while (j < edges.length && edges[j] === edges[i]) j++;
    const n = j - i;
    if (n > 1 && rnd() < 0.7) out.push([edges[i], n]);
    else for (let k = 0; k < n; k++) out.push(edges[i]);
    i = j;
  }
  return out;
}

function randomGrid(rnd: Rnd, shape: number[], unit: number[]): { spec: GridSpec; edges: number[][] } {
  const edges: number[][] = [];
  const spec = shape.map((extent, d): number | (number | [number, number])[] => {
    if (rnd() < 0.2) {
      // A bare integer: a regular step along this dimension.
      const step = unit[d] * int(rnd, 1, 3);
      edges.push(Array.from({ length: Math.max(1, Math.ceil(extent / step)) }, () => step));
      return step;
    }
    const list = randomEdges(rnd, extent, unit[d]);
    edges.push(list);
    return encodeEdges(rnd, list);
  });
  // At least one dimension with listed edges, so the grid is rectilinear.
  if (!spec.some((s) => typeof s !== "number")) {
    edges[0] = randomEdges(rnd, shape[0], unit[0]);
    spec[0] = encodeEdges(rnd, edges[0]);
  }
  return { spec, edges };
}

function randomIndexArray(rnd: Rnd, size: number): SelectionItem {
  if (rnd() < 0.1) return Array.from({ length: size }, () => rnd() < 0.5);
  const list = Array.from({ length: int(rnd, 0, size + 2) }, () => {
    const i = int(rnd, 0, size - 1);
    return rnd() < 0.3 ? i - size : i;
  });
  return rnd() < 0.3 ? Int32Array.from(list) : list;
}

function randomSelection(rnd: Rnd, shape: number[]): SelectionItem[] {
  const items = shape.map((size): SelectionItem => {
    const r = rnd();
    if (r < 0.2) return randomIndexArray(rnd, size);
    if (r < 0.35) return int(rnd, -size, size - 1);
    if (r < 0.45) return null;
    return slice(rnd() < 0.2 ? null : int(rnd, -size, size), rnd() < 0.2 ? null : int(rnd, -size, size + 2), [null, 1, 2, 3, 5][int(rnd, 0, 4)]);
  });
  // An ellipsis standing for leading whole dimensions.
  if (rnd() < 0.15) {
    const lead = int(rnd, 0, shape.length);
    return ["...", ...items.slice(lead)];
  }
  return items;
}

/** The selection with its ellipsis expanded, for the model. */
function expand(sel: SelectionItem[], rank: number): SelectionItem[] {
  const at = sel.indexOf("...");
  if (at < 0) return sel;
  const rest = sel.filter((s) => s !== "...");
  return [...rest.slice(0, at), ...Array(rank - rest.length).fill(null), ...rest.slice(at)];
}

async function reassemble(stream: ReadableStream<ChunkResult>, shape: readonly number[]): Promise<Int16Array> {
  const out = new Int16Array(product(shape));
  const strides = shape.map((_, d) => product(shape.slice(d + 1)));
  for await (const chunk of stream as unknown as AsyncIterable<ChunkResult>) {
    const counts = chunk.data.shape;
    const values = chunk.data.data as Int16Array;
    if (counts.some((c) => c === 0)) continue;
    const counter = counts.map(() => 0);
    for (let k = 0; ; k++) {
      let p = 0;
      for (let d = 0; d < counts.length; d++) {
        const r = chunk.region[d];
        p += (r.index ? r.index[counter[d]] : r.start + counter[d] * r.step) * strides[d];
      }
      out[p] = values[k];
      let d = counts.length - 1;
      for (; d >= 0; d--) {
        if (++counter[d] < counts[d]) break;
        counter[d] = 0;
      }
      if (d < 0) break;
    }
  }
  return out;
}

const LAYOUTS: { name: string; codecs?: CodecMetadata[]; sharded?: boolean }[] = [
  { name: "raw bytes", codecs: [{ name: "bytes", configuration: { endian: "little" } }] },
  { name: "transpose + gzip", codecs: [{ name: "transpose", configuration: { order: [0] } }, { name: "bytes", configuration: { endian: "big" } }, { name: "gzip", configuration: { level: 1 } }] },
  { name: "rectilinear shards of regular inner chunks", sharded: true },
];

describe("rectilinear grids against a model", () => {
  for (const layout of LAYOUTS) {
    for (const workers of [0, 2] as const) {
      it(`${layout.name}, workers ${workers}: random grids and selections, read and written`, async () => {
        const name = `rectilinear model ${layout.name} ${workers}`;
        await withSeed(name, async () => {
          const rnd = prng(seedFor(name));
          const options = workers ? { pool } : { workers: 0 as const };
          for (let t = 0; t < 12; t++) {
            const rank = int(rnd, 1, 3);
            const shape = Array.from({ length: rank }, () => int(rnd, 1, rank === 3 ? 7 : 13));
            const inner = layout.sharded ? shape.map(() => int(rnd, 1, 3)) : shape.map(() => 1);
            const { spec, edges } = randomGrid(rnd, shape, inner);
            const fill = int(rnd, -5, 5);
            const codecs = layout.codecs?.map((c) =>
              c.name === "transpose" ? { name: "transpose", configuration: { order: [...Array(rank).keys()].reverse() } } : c,
            );
            const store = new MemoryStore();
            const label = `case ${t}: shape [${shape}], grid ${JSON.stringify(spec)}${layout.sharded ? `, inner [${inner}]` : ""}`;
            await create(store, {
              shape,
              dtype: "int16",
              fillValue: fill,
              ...(layout.sharded ? { shards: spec, chunks: inner, codecs: [{ name: "bytes", configuration: { endian: "little" } }] } : { chunks: spec, codecs }),
            });
            const array = await openArray(store);
            const model = new Int16Array(product(shape)).fill(fill);

            for (let op = 0; op < 8; op++) {
              const sel = randomSelection(rnd, shape);
              const full = expand(sel, rank);
              const { offsets, shape: outShape } = selectionOffsets(shape, full);
              const what = `${label}, selection ${JSON.stringify(sel)}`;
              if (rnd() < 0.5) {
                const values = Int16Array.from(offsets, () => int(rnd, -3000, 3000));
                if (rnd() < 0.5) await array.write(sel, values, options);
                else {
                  const w = array.writer({ ...options, bufferBytes: 1 << 12 }).getWriter();
                  await w.write({ selection: sel, data: values });
                  await w.close();
                }
                offsets.forEach((p, n) => (model[p] = values[n]));
              }
              const got = await array.read(sel, options);
              expect(got.shape, what).toEqual(outShape);
              expect(Array.from(got.data as Int16Array), what).toEqual(offsets.map((p) => model[p]));
              const streamed = await reassemble(array.readChunks(sel, options), outShape);
              expect(Array.from(streamed), `${what} (readChunks)`).toEqual(offsets.map((p) => model[p]));
            }

            // The layout: stored chunks under grid keys, each encoded at its full edge shape.
            if (layout.name === "raw bytes") {
              for (const [key, bytes] of store.map) {
                if (key === "zarr.json") continue;
                const coords = key.split("/").slice(1).map(Number);
                const chunkShape = coords.map((c, d) => edges[d][c]);
                expect(bytes.byteLength, `${label}: ${key}`).toBe(product(chunkShape) * 2);
              }
            }
          }
        });
      });
    }
  }
});
