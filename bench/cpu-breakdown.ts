/**
 * Where the CPU of one zarrflow call goes, by thread (Linux: /proc/self/task/<tid>/stat): the
 * main thread, the pool's workers, libuv's threadpool (file IO), V8's helper threads (GC), and
 * the process's minor page faults. Threads are told apart by when they appear: libuv's pool on
 * the first file operation, the workers when the pool starts.
 *
 *   npx tsx --expose-gc bench/cpu-breakdown.ts read|write sharded|unsharded [runs] [set]
 *
 * `set` is 10 (default: 1024×1024×64, 64³ chunks, zstd-3), 11 (1 MiB chunks, zstd-1) or 12
 * (16 KiB chunks). The source arrays are the side-by-side bench's (generated if missing).
 * Add `--cpu-prof --cpu-prof-dir=DIR` to node for per-function profiles of every thread
 * (summarised by bench/lib/profile-summary.ts).
 */
import { readdirSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { create, openArray } from "../src/index.js";
import { sharedPool } from "../operators/pool.js";
import { closePools } from "../src/array.js";
import { FileSystemStore } from "../stores/index.js";
import { CACHE_DIR, datasetRoot, nbytes } from "./lib/config.js";
import { generate, prepareArray, verify } from "./lib/data.js";
import { median } from "./lib/measure.js";
import { peerSets } from "./lib/peers.js";
import { threadTimes } from "./lib/threads.js";

const [op = "read", layout = "unsharded", runsArg = "5", setArg = "10"] = process.argv.slice(2);
const runs = Number(runsArg);
const set = peerSets(false).find((s) => s.group === setArg)!;
const sharded = layout === "sharded";

const tids = () => new Set(readdirSync("/proc/self/task").map(Number));
const initial = tids();
await readFile(import.meta.filename ?? new URL(import.meta.url).pathname);
const libuv = new Set([...tids()].filter((t) => !initial.has(t)));
const beforePool = tids();
await sharedPool().run("ping", undefined);
const workers = new Set([...tids()].filter((t) => !beforePool.has(t) && !libuv.has(t)));

const spec = { shape: set.shape, chunks: set.chunks, codec: set.codec, ...(sharded ? { shards: set.shards } : {}) };
const root = datasetRoot(`peers${sharded ? `-s${set.shards.join("x")}` : ""}`, set.shape, set.chunks);
await prepareArray(root, set.codec, spec);
const bytes = nbytes(set.shape);

let call: (n: number) => Promise<void>;
if (op === "read") {
  const array = await openArray(new FileSystemStore(root), { path: set.codec });
  const reuse = process.env.OUT === "reuse" ? new Uint16Array(new SharedArrayBuffer(bytes)) : undefined;
  call = async (n) => {
    const got = await array.read(null, reuse ? { out: reuse } : {});
    if (n === 0) verify(got.data as Uint16Array, got.shape, set.shape);
  };
} else {
  const data = generate(set.shape);
  call = async (n) => {
    const dir = join(CACHE_DIR, "tmp", `breakdown-${process.pid}-${n}`);
    const array = await create(new FileSystemStore(dir), { path: "a", shape: set.shape, chunks: set.chunks, ...(sharded ? { shards: set.shards } : {}), dtype: "uint16", fillValue: 0, codecs: (await import("./lib/config.js")).CODECS[set.codec] });
    await measureCall(() => array.write(null, data));
    await rm(dir, { recursive: true, force: true });
  };
}

type Sample = { wall: number; total: number; main: number; workers: number; libuv: number; other: number; faults: number };
const samples: Sample[] = [];
async function measureCall(body: () => Promise<void>): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  const before = threadTimes();
  const faults = process.resourceUsage().minorPageFault;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await body();
  const wall = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const after = threadTimes();
  const s: Sample = { wall, total: (used.user + used.system) / 1000, main: 0, workers: 0, libuv: 0, other: 0, faults: process.resourceUsage().minorPageFault - faults };
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    if (tid === process.pid) s.main += d;
    else if (workers.has(tid)) s.workers += d;
    else if (libuv.has(tid)) s.libuv += d;
    else s.other += d;
  }
  samples.push(s);
}

for (let n = 0; n <= runs; n++) {
  if (op === "read") await measureCall(() => call(n));
  else await call(n);
}
samples.shift(); // warm-up
const m = (k: keyof Sample) => Math.round(median(samples.map((s) => s[k])));
console.log(
  JSON.stringify({
    workload: `${op} ${layout} (set ${set.group}${process.env.OUT === "reuse" ? ", out reused" : ""})`,
    mibps: Math.round(bytes / 2 ** 20 / (m("wall") / 1000)),
    wallMs: m("wall"),
    cpuMs: m("total"),
    mainMs: m("main"),
    workersMs: m("workers"),
    libuvMs: m("libuv"),
    otherMs: m("other"),
    minorFaults: m("faults"),
    runsCpu: samples.map((s) => Math.round(s.total)),
  }),
);
await closePools();
