/**
 * Crash safety. A child process rewrites or copies an array on a FileSystemStore (unsharded and
 * sharded; rectangle writes that read-modify-write chunks, whole-shard rewrites, in-place shard
 * patches, streamed copies through the writer) and is killed with SIGKILL after a seeded random
 * delay, many times over. After every kill, with `c` the last operation the child reported done:
 *
 *  - every stored chunk and shard decodes cleanly;
 *  - every unit a crash must leave whole — a chunk, a rewritten shard, or an inner chunk of an
 *    in-place-patched shard — holds exactly its content after operation c or after c + 1;
 *  - the metadata parses, and its attributes are those of an operation up to c + 1;
 *  - temporary files left by the kill are never listed or read as chunks, and removeTempFiles
 *    deletes them all.
 *
 * The next child resumes at operation c + 1 (re-running it is harmless: writes are idempotent).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { ChecksumError, create, openArray, parseSelection, type ZarrArray } from "../src/index.js";
import type { ShardingCodec } from "../src/codecs/sharding.js";
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";
import { CountingStore, FileSystemStore, MemoryStore } from "../stores/index.js";
import {
  ATTRIBUTE_EVERY,
  SCENARIOS,
  SHAPE,
  applyOperation,
  initialContent,
  runOperation,
  setUp,
  type ScenarioName,
} from "./helpers/crash-scenarios.js";
import { prng } from "./helpers/prng.js";
import { withSeed } from "./helpers/seed.js";

// ZARRFLOW_CRASH_CHILD swaps in another child (a deliberately non-atomic store, to see the test fail).
const CHILD = process.env.ZARRFLOW_CRASH_CHILD ?? fileURLToPath(new URL("./helpers/crash-child.ts", import.meta.url));
const REPO = fileURLToPath(new URL("..", import.meta.url));

/** Kills per scenario: 24 per layout (unsharded: 2 scenarios, sharded: 3), times ZARRFLOW_RUNS_SCALE. */
const SCALE = Number(process.env.ZARRFLOW_RUNS_SCALE ?? 1);
const KILLS: Record<ScenarioName, number> = Object.fromEntries(
  Object.entries({ "unsharded-rewrite": 12, "unsharded-copy": 12, "sharded-rewrite": 8, "sharded-patch": 8, "sharded-copy": 8 }).map(([name, n]) => [name, Math.max(1, Math.round(n * SCALE))]),
) as Record<ScenarioName, number>;
/** The longest a child runs before its kill. */
const MAX_DELAY_MS = 200;

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Starts the child at operation `first`, kills it `delayMs` after it is ready; resolves with the last operation it reported done. */
function runAndKill(dir: string, name: ScenarioName, seed: number, first: number, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, name, String(seed), String(first)], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    // A child that never becomes ready is a failure, not a hang of the suite.
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      const wasReady = stdout.includes("ready\n");
      stdout += text;
      if (!wasReady && stdout.includes("ready\n")) {
        setTimeout(() => {
          killed = true;
          child.kill("SIGKILL");
        }, delayMs);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(guard);
      if (!killed || signal !== "SIGKILL") {
        reject(new Error(`child ${name} ended by itself (code ${code}, signal ${signal}): ${stderr || stdout}`));
        return;
      }
      const done = [...stdout.matchAll(/^done (\d+)$/gm)].map((m) => Number(m[1]));
      resolve(done.length ? done[done.length - 1] : first - 1);
    });
  });
}

async function tempFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && /^\..+\.[0-9a-f]{8,}\.tmp$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

/** The boxes (in array coordinates) of every unit a crash must leave old or new. */
function units(unit: number[]): [number, number][][] {
  const boxes: [number, number][][] = [];
  for (let r = 0; r < SHAPE[0]; r += unit[0]) {
    for (let c = 0; c < SHAPE[1]; c += unit[1]) boxes.push([[r, Math.min(SHAPE[0], r + unit[0])], [c, Math.min(SHAPE[1], c + unit[1])]]);
  }
  return boxes;
}

function sameBox(a: Int32Array, b: Int32Array, box: [number, number][]): boolean {
  for (let r = box[0][0]; r < box[0][1]; r++) {
    for (let c = box[1][0]; c < box[1][1]; c++) if (a[r * SHAPE[1] + c] !== b[r * SHAPE[1] + c]) return false;
  }
  return true;
}

interface Tally {
  kills: number;
  operations: number;
  /** Kills that left some unit at c + 1's content while others were at c's: mid-operation. */
  midOperation: number;
  tempFilesLeft: number;
}

/** Checks the destination after a kill (`before`: the content after operation `done`), and counts what the kill left. */
async function verify(dir: string, name: ScenarioName, seed: number, before: Int32Array, done: number, tally: Tally): Promise<void> {
  const after = before.slice();
  applyOperation(after, name, seed, done + 1);
  const store = new FileSystemStore(dir);
  let destination: ZarrArray;
  try {
    destination = await openArray(store, { path: "dst" });
  } catch (error) {
    throw new Error(`after the kill following operation ${done}, the metadata does not open: ${String(error)}`);
  }
  // Attributes come from the last metadata rewrite at or before operation c + 1.
  const attribute = destination.attrs.operation as number | undefined;
  const lastBefore = done < 0 ? undefined : done - (done % ATTRIBUTE_EVERY);
  const allowed = new Set([lastBefore, (done + 1) % ATTRIBUTE_EVERY === 0 ? done + 1 : lastBefore]);
  expect(allowed.has(attribute), `attributes say operation ${attribute} after ${done}`).toBe(true);

  // Every stored object decodes through the full chain (whole shards, index included).
  const keys: string[] = [];
  for await (const key of store.list("dst/")) keys.push(key);
  expect(keys.filter((k) => k.endsWith(".tmp"))).toEqual([]);
  for (const key of keys.filter((k) => !k.endsWith("zarr.json"))) {
    const bytes = await store.get(key);
    await destination.chain.decode(bytes as Uint8Array, key);
  }

  const data = (await destination.read(null, { workers: 0 })).data as Int32Array;
  let advanced = 0;
  let behind = 0;
  for (const box of units(SCENARIOS[name].unit)) {
    const isBefore = sameBox(data, before, box);
    const isAfter = sameBox(data, after, box);
    expect(isBefore || isAfter, `unit [${box.map(([a, b]) => `${a}:${b}`)}] is neither operation ${done}'s nor ${done + 1}'s content`).toBe(true);
    if (isAfter && !isBefore) advanced++;
    if (isBefore && !isAfter) behind++;
  }
  if (advanced > 0 && behind > 0) tally.midOperation++;

  // What the kill left behind is invisible to readers (checked above) and cleaned on request.
  const left = await tempFiles(dir);
  tally.tempFilesLeft += left.length;
  const removed = await store.removeTempFiles("", { olderThanMs: 0 });
  expect(removed.length).toBe(left.length);
  expect(await tempFiles(dir)).toEqual([]);
}

async function runScenario(name: ScenarioName): Promise<Tally> {
  return withSeed(`crash: ${name}`, async (seed) => {
    const dir = await mkdtemp(join(tmpdir(), `zarrflow-crash-${name}-`));
    dirs.push(dir);
    await setUp(dir, name);
    const rnd = prng(seed);
    const tally: Tally = { kills: 0, operations: 0, midOperation: 0, tempFilesLeft: 0 };
    const state = initialContent(name);
    let done = -1;
    for (let kill = 0; kill < KILLS[name]; kill++) {
      const delay = Math.floor(rnd() * MAX_DELAY_MS);
      const last = await runAndKill(dir, name, seed, done + 1, delay);
      for (let i = done + 1; i <= last; i++) applyOperation(state, name, seed, i);
      tally.operations += Math.max(0, last - done);
      done = Math.max(done, last);
      await verify(dir, name, seed, state, done, tally);
      tally.kills++;
    }
    return tally;
  });
}

describe("crash safety: SIGKILL at random moments leaves every chunk old or new", () => {
  it("sharded-patch really patches in place (setRange), and the others rewrite whole objects", async () => {
    for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
      const dir = await mkdtemp(join(tmpdir(), `zarrflow-crash-probe-`));
      dirs.push(dir);
      await setUp(dir, name);
      const store = new CountingStore(new FileSystemStore(dir));
      const destination = await openArray(store, { path: "dst" });
      await runOperation(store.inner as FileSystemStore, destination, name, 1, 0);
      // A write through the counting store: one partial rectangle.
      store.reset();
      await destination.write(parseSelection("3:5, 2:9"), 77, { workers: 0 });
      expect(store.count("setRange") > 0, name).toBe(name === "sharded-patch");
    }
  });

  const tallies: Partial<Record<ScenarioName, Tally>> = {};
  it(
    "unsharded and sharded layouts, rewrites, patches and streamed copies survive every kill",
    async () => {
      const names = Object.keys(SCENARIOS) as ScenarioName[];
      // Two children at a time: one per core.
      const queue = [...names];
      await Promise.all(
        [0, 1].map(async () => {
          for (let name = queue.shift(); name; name = queue.shift()) tallies[name] = await runScenario(name);
        }),
      );
      const total = Object.values(tallies).reduce((n, t) => n + (t?.kills ?? 0), 0);
      expect(total).toBe(Object.values(KILLS).reduce((a, b) => a + b, 0));
      // Operations ran between the kills (otherwise nothing was tested).
      for (const name of names) expect(tallies[name]!.operations, name).toBeGreaterThan(0);
      console.log(`crash summary: ${JSON.stringify(tallies)}`);
    },
    240_000,
  );
});

/**
 * A crash in the middle of one setRange: the first `keep` bytes of the patch land, then the
 * process is gone. (SIGKILL can do this to a pwrite that spans a page boundary; power loss to
 * any in-place write.)
 */
class TornPatchStore implements Store {
  torn = 0;
  constructor(
    readonly inner: MemoryStore,
    readonly keep: number,
  ) {}
  get(key: string, range?: ByteRange, options?: StoreCallOptions) {
    return this.inner.get(key, range, options);
  }
  getRanges = (key: string, ranges: ByteRange[], options?: StoreCallOptions) => this.inner.getRanges(key, ranges, options);
  set = (key: string, value: Uint8Array, options?: StoreCallOptions) => this.inner.set(key, value, options);
  delete = (key: string, options?: StoreCallOptions) => this.inner.delete(key, options);
  setRange = async (key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> => {
    this.torn++;
    await this.inner.setRange(key, offset, bytes.subarray(0, this.keep), options);
    throw new Error("simulated crash in the middle of a patch");
  };
}

describe("what an in-place shard patch guarantees", () => {
  const shape = [8, 8];
  async function patchedShard(codecs: { name: string; configuration?: Record<string, unknown> }[], indexLocation: "start" | "end") {
    const memory = new MemoryStore();
    const array = await create(memory, { shape, chunks: [4, 4], shards: [8, 8], dtype: "int32", codecs, indexLocation });
    await array.write(null, Int32Array.from({ length: 64 }, (_, i) => i), { workers: 0 });
    const codec = array.sharding as ShardingCodec;
    const shard = memory.map.get("c/0/0")!.slice();
    const indexRange = codec.indexRange(shard.length);
    return { memory, array, codec, shard, indexRange };
  }

  it("patches only inner-chunk slots, never the index: a reader sees each inner chunk old or new", async () => {
    for (const indexLocation of ["start", "end"] as const) {
      const { memory, array, shard, indexRange } = await patchedShard([{ name: "bytes", configuration: { endian: "little" } }], indexLocation);
      const counting = new CountingStore(memory);
      const again = await openArray(counting, {});
      // Two inner chunks in part: two slots patched, one setRange each, none touching the index.
      await again.write("1:3, 2:6", -1, { workers: 0 });
      const patches = counting.calls.filter((c) => c.method === "setRange");
      expect(patches.length).toBe(2);
      for (const p of patches) {
        const { offset, length } = p.range as { offset: number; length: number };
        expect(offset + length <= indexRange.offset || offset >= indexRange.offset + indexRange.length).toBe(true);
      }
      const after = memory.map.get("c/0/0")!;
      expect(after.subarray(indexRange.offset, indexRange.offset + indexRange.length)).toEqual(shard.subarray(indexRange.offset, indexRange.offset + indexRange.length));
      void array;
    }
  });

  it("a patch torn inside a slot is a ChecksumError when the inner chain has crc32c, and the other inner chunks read fine", async () => {
    const { memory } = await patchedShard([{ name: "bytes", configuration: { endian: "little" } }, { name: "crc32c" }], "end");
    const torn = new TornPatchStore(memory, 20);
    const array = await openArray(torn, {});
    await expect(array.write("0:2, 0:2", -1, { workers: 0 })).rejects.toThrow();
    expect(torn.torn).toBe(1);
    const clean = await openArray(memory, {});
    const error = await clean.read("0:4, 0:4", { workers: 0 }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumError);
    expect((error as ChecksumError).key).toBe("c/0/0[0,0]");
    const rest = (await clean.read("4:8, :", { workers: 0 })).data as Int32Array;
    expect(Array.from(rest)).toEqual(Array.from({ length: 32 }, (_, i) => 32 + i));
  });

  it("without a checksum, a slot torn by a crash reads as part new, part old: the documented limit of in-place patches", async () => {
    const { memory } = await patchedShard([{ name: "bytes", configuration: { endian: "little" } }], "end");
    const torn = new TornPatchStore(memory, 20); // five of the sixteen int32 of inner chunk (0, 0)
    await expect((await openArray(torn, {})).write("0:4, 0:4", -1, { workers: 0 })).rejects.toThrow();
    // Inner chunk (0, 0) is rows 0..3, columns 0..3; its first five elements got the new value.
    const got = Array.from((await (await openArray(memory, {})).read("0:4, 0:4", { workers: 0 })).data as Int32Array);
    const old = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
    expect(got).toEqual(old.map((v, i) => (i < 5 ? -1 : v)));
  });
});

describe("temporary files", () => {
  it("are never listed or read as chunks, and removeTempFiles deletes only stale ones", async () => {
    const dir = await mkdtemp(join(tmpdir(), "zarrflow-temp-"));
    dirs.push(dir);
    const store = new FileSystemStore(dir);
    const array = await create(store, { path: "a", shape: [4], chunks: [2], dtype: "uint8" });
    await array.write(null, 5, { workers: 0 });
    await mkdir(join(dir, "a", "c"), { recursive: true });
    // What a write killed before its rename leaves: a hidden temp file next to the chunk.
    await writeFile(join(dir, "a", "c", ".0.0123456789ab.tmp"), new Uint8Array([1, 2, 3]));
    await writeFile(join(dir, "a", "c", ".1.ba9876543210.tmp"), new Uint8Array([9]));
    await writeFile(join(dir, "a", ".keep.tmp"), new Uint8Array([7])); // a dotfile, not one of ours
    const old = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, "a", "c", ".0.0123456789ab.tmp"), old, old);
    const keys: string[] = [];
    for await (const key of store.list("")) keys.push(key);
    expect(keys.sort()).toEqual(["a/.keep.tmp", "a/c/0", "a/c/1", "a/zarr.json", "zarr.json"]);
    expect(Array.from((await array.read(null, { workers: 0 })).data as Uint8Array)).toEqual([5, 5, 5, 5]);
    // Default age: only the hour-old one goes; the fresh one may belong to a write in progress.
    expect(await store.removeTempFiles()).toEqual(["a/c/.0.0123456789ab.tmp"]);
    expect(await store.removeTempFiles("a/", { olderThanMs: 0 })).toEqual(["a/c/.1.ba9876543210.tmp"]);
    expect(await tempFiles(dir)).toEqual([]);
    expect(await store.get("a/.keep.tmp")).toEqual(new Uint8Array([7]));
  });
});
