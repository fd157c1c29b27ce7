/**
 * Pool workers that fetch and store for themselves (Store.workerHandle + getSync / setSync,
 * src/worker-read.ts and src/worker-write.ts). Writes: a pooled write stores every encoded chunk
 * from the worker (no `set` on the main thread), deletes chunks left all fill value, reports
 * the stored bytes, and fails as inline does on a read-only store.
 *
 * Reads (src/worker-read.ts):
 * a pooled read of a FileSystemStore array sends chunk keys to the workers, which read and
 * decode where the bytes land. Pins that this path is taken (no chunk bytes are fetched on the
 * main thread), that it gives the same values as the inline path for unsharded and sharded
 * arrays, edge chunks, absent chunks and strided or listed selections, that broken chunks fail
 * with the error class, array path and chunk key of the inline path, and that stores whose
 * reads must go through their own instance (subclasses, replaced methods) keep the old path.
 */
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { create, openArray, slice, type SelectionItem } from "../src/index.js";
import { CodecError, StoreError, UnsupportedOperationError } from "../src/errors.js";
import { closePools } from "../src/array.js";
import { FileSystemStore } from "../stores/index.js";
import { writeHoledArray } from "./helpers/holed-array.js";

let dir: string;
const SHAPE = [45, 38, 20];
const values = (n: number) => Int32Array.from({ length: n }, (_, i) => ((i * 7919) % 100_003) - 50_000);
const expected = values(SHAPE[0] * SHAPE[1] * SHAPE[2]);

const LAYOUTS = {
  unsharded: { chunks: [8, 8, 20] },
  sharded: { chunks: [4, 4, 5], shards: [8, 12, 20] },
  rows: { chunks: [3, 38, 20] }, // every whole chunk is one contiguous run of a full read's output
} as Record<string, { chunks: number[]; shards?: number[] }>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "zarrflow-worker-reads-"));
  for (const [name, layout] of Object.entries(LAYOUTS)) {
    // A hole: one chunk (one shard) never written reads as the fill value.
    await writeHoledArray(new FileSystemStore(dir), name, layout, SHAPE, expected, [8, 8]);
  }
});

afterAll(async () => {
  await closePools();
  await rm(dir, { recursive: true, force: true });
});

/** The expected values of a selection, computed from `expected` (strided or listed per axis). */
function select(picks: number[][]): Int32Array {
  const out: number[] = [];
  for (const a of picks[0]) for (const b of picks[1]) for (const c of picks[2]) {
    const hole = a < 8 && b < 8;
    out.push(hole ? 7 : expected[(a * SHAPE[1] + b) * SHAPE[2] + c]);
  }
  return Int32Array.from(out);
}
const range = (start: number, stop: number, step = 1) => Array.from({ length: Math.ceil((stop - start) / step) }, (_, i) => start + i * step);

const SELECTIONS: { name: string; selection: SelectionItem[] | null; picks: number[][] }[] = [
  { name: "everything", selection: null, picks: [range(0, 45), range(0, 38), range(0, 20)] },
  { name: "a strided box", selection: [slice(3, 44, 3), slice(1, 37, 2), slice(2, 19)], picks: [range(3, 44, 3), range(1, 37, 2), range(2, 19)] },
  { name: "listed indices", selection: [[44, 0, 17, 9], slice(5, 30), [19, 0, 3]], picks: [[44, 0, 17, 9], range(5, 30), [19, 0, 3]] },
];

describe.each(Object.keys(LAYOUTS))("pooled reads of a %s FileSystemStore array", (name) => {
  it.each(SELECTIONS)("$name: the workers fetch for themselves and read what the inline path reads", async ({ selection, picks }) => {
    const array = await openArray(new FileSystemStore(dir), { path: name });
    // On the prototype (the instance keeps no `get` of its own, so it still offers workers a
    // handle): counts this thread's reads only; the workers have their own module instances.
    const get = vi.spyOn(FileSystemStore.prototype, "get");
    const getRanges = vi.spyOn(FileSystemStore.prototype, "getRanges");
    try {
      const pooled = await array.read(selection, { workers: 2 });
      expect(get).not.toHaveBeenCalled();
      expect(getRanges).not.toHaveBeenCalled();
      expect(pooled.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(Array.from(pooled.data as Int32Array)).toEqual(Array.from(select(picks)));

      const inline = await array.read(selection, { workers: 0 });
      expect(get.mock.calls.length + getRanges.mock.calls.length).toBeGreaterThan(0);
      expect(Array.from(inline.data as Int32Array)).toEqual(Array.from(pooled.data as Int32Array));
    } finally {
      get.mockRestore();
      getRanges.mockRestore();
    }
  });

  it("reports progress as the inline path does", async () => {
    const array = await openArray(new FileSystemStore(dir), { path: name });
    const seen: { pooled: number[]; inline: number[] } = { pooled: [], inline: [] };
    await array.read(null, { workers: 2, onProgress: (p) => seen.pooled.push(p.chunksDone, p.bytesDone, p.chunksTotal) });
    await array.read(null, { workers: 0, onProgress: (p) => seen.inline.push(p.chunksDone, p.bytesDone, p.chunksTotal) });
    expect(seen.pooled.slice(-3)).toEqual(seen.inline.slice(-3));
    expect(seen.pooled.at(-3)).toBe(seen.pooled.at(-1)); // every chunk counted
  });
});

describe("worker-side fetch errors", () => {
  let broken: string;
  beforeAll(async () => {
    broken = await mkdtemp(join(tmpdir(), "zarrflow-worker-reads-broken-"));
  });
  afterAll(() => rm(broken, { recursive: true, force: true }));

  async function make(path: string, layout: { chunks: number[]; shards?: number[] }) {
    const array = await create(new FileSystemStore(broken), {
      path,
      shape: [16, 16],
      chunks: layout.chunks,
      ...(layout.shards ? { shards: layout.shards } : {}),
      dtype: "int32",
      codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1, checksum: false } }],
    });
    await array.write(null, values(256));
    return array;
  }

  it("a corrupt chunk is a CodecError naming the array and the chunk key, as inline", async () => {
    await make("corrupt", { chunks: [4, 16] });
    await writeFile(join(broken, "corrupt", "c", "2", "0"), new Uint8Array([1, 2, 3, 4, 5]));
    const array = await openArray(new FileSystemStore(broken), { path: "corrupt" });
    for (const workers of [2, 0]) {
      const error = await array.read(null, { workers }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CodecError);
      expect(error).toMatchObject({ path: "corrupt", key: "corrupt/c/2/0" });
    }
  });

  it("a directory where a chunk should be is a StoreError naming the array and the key, as inline", async () => {
    await make("dir", { chunks: [4, 16] });
    await rm(join(broken, "dir", "c", "1", "0"));
    await mkdir(join(broken, "dir", "c", "1", "0"));
    const array = await openArray(new FileSystemStore(broken), { path: "dir" });
    for (const workers of [2, 0]) {
      const error = await array.read(null, { workers }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ path: "dir", key: "dir/c/1/0" });
    }
  });

  it("a truncated shard is a CodecError naming the shard, as inline", async () => {
    await make("shard", { chunks: [4, 4], shards: [8, 16] });
    await truncate(join(broken, "shard", "c", "1", "0"), 10);
    const array = await openArray(new FileSystemStore(broken), { path: "shard" });
    for (const [workers, selection] of [[2, null], [0, null], [2, [slice(8, 12), null]]] as const) {
      const error = await array.read(selection, { workers }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CodecError);
      expect(error).toMatchObject({ path: "shard", key: "shard/c/1/0" });
    }
  });
});

describe("FileSystemStore.workerHandle and getSync", () => {
  it("is offered by a plain FileSystemStore only", () => {
    class Counting extends FileSystemStore {}
    const replaced = new FileSystemStore(tmpdir());
    replaced.get = async () => undefined;
    expect(new FileSystemStore(tmpdir()).workerHandle()).toMatchObject({ export: "FileSystemStore", args: [tmpdir(), { readOnly: false, durable: false }] });
    expect(new Counting(tmpdir()).workerHandle()).toBeUndefined();
    expect(replaced.workerHandle()).toBeUndefined();
  });

  it("getSync reads ranges like get, into the caller's buffer when it fits", async () => {
    const store = new FileSystemStore(dir);
    await store.set("blob", Uint8Array.from({ length: 100 }, (_, i) => i));
    const into = new Uint8Array(64);
    const part = store.getSync("blob", { offset: 10, length: 20 }, { into });
    expect(part?.buffer).toBe(into.buffer);
    expect(Array.from(part!)).toEqual(Array.from((await store.get("blob", { offset: 10, length: 20 }))!));
    const whole = store.getSync("blob", undefined, { into });
    expect(whole?.buffer).not.toBe(into.buffer); // too big for it: a buffer of its own
    expect(Array.from(whole!)).toEqual(range(0, 100));
    expect(Array.from(store.getSync("blob", { suffixLength: 3 })!)).toEqual([97, 98, 99]);
    expect(store.getSync("absent/key")).toBeUndefined();
    expect(() => store.getSync("../escape")).toThrow(StoreError);
  });
});

describe("pooled writes to a FileSystemStore", () => {
  it.each([
    ["unsharded", { chunks: [8, 8, 20] }],
    ["sharded", { chunks: [4, 4, 5], shards: [8, 12, 20] }],
  ] as const)("%s: the workers store what they encode, the result reads back, all-fill chunks are deleted", async (_, layout) => {
    const root = await mkdtemp(join(tmpdir(), "zarrflow-worker-writes-"));
    try {
      const store = new FileSystemStore(root);
      const array = await create(store, {
        path: "w",
        shape: SHAPE,
        chunks: [...layout.chunks],
        ...("shards" in layout ? { shards: [...layout.shards] } : {}),
        dtype: "int32",
        fillValue: 7,
        codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1, checksum: false } }],
      });
      const set = vi.spyOn(FileSystemStore.prototype, "set");
      let bytesDone = 0;
      try {
        await array.write(null, expected, { workers: 2, onProgress: (p) => (bytesDone = p.bytesDone) });
        expect(set).not.toHaveBeenCalled();
        // A region of whole chunks (shards) back to the fill value: deleted, not stored.
        await array.write([slice(0, 8), slice(0, 12), null], 7, { workers: 2 });
        expect(set).not.toHaveBeenCalled();
      } finally {
        set.mockRestore();
      }
      const got = await array.read(null, { workers: 0 });
      expect(Array.from(got.data as Int32Array)).toEqual(Array.from(select([range(0, 45), range(0, 38), range(0, 20)]).map((v, i) => {
        const a = Math.floor(i / (38 * 20));
        const b = Math.floor(i / 20) % 38;
        return a < 8 && b < 12 ? 7 : a < 8 && b < 8 ? 7 : expected[i];
      })));
      const first = "shards" in layout ? ["0"] : ["0"];
      expect(await readdir(join(root, "w", "c", "0", first[0])).catch(() => [])).toEqual([]);
      let stored = 0;
      for (const entry of await readdir(join(root, "w", "c"), { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) stored += (await import("node:fs")).statSync(join(entry.parentPath, entry.name)).size;
      }
      expect(bytesDone).toBeGreaterThan(0);
      expect(stored).toBeLessThanOrEqual(bytesDone); // the first write's bytes; the second deleted some
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("a read-only store fails with the error class, array path and key of the inline path", async () => {
    const root = await mkdtemp(join(tmpdir(), "zarrflow-worker-writes-ro-"));
    try {
      await create(new FileSystemStore(root), { path: "ro", shape: [64, 64], chunks: [8, 64], dtype: "int32", codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1, checksum: false } }] });
      const array = await openArray(new FileSystemStore(root, { readOnly: true }), { path: "ro" });
      for (const workers of [2, 0]) {
        const error = await array.write(null, values(64 * 64), { workers }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnsupportedOperationError);
        expect(error).toMatchObject({ path: "ro" });
        expect((error as { key?: string }).key).toMatch(/^ro\/c\/\d+\/0$/);
      }
      expect(await readdir(join(root, "ro"))).toEqual(["zarr.json"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
