/**
 * One benchmark workload in its own process (so peak RSS and JIT state belong to it alone).
 * Started by bench/run.ts as `node --import tsx bench/workload.ts '<job JSON>'`; reports its
 * Result[] over the IPC channel (or prints them as JSON when run by hand).
 *
 *   npx tsx bench/workload.ts '{"kind":"read","impl":"zarrflow-auto","codec":"zstd-1","quick":true,"runs":1,"copyGiB":2}'
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { create, openArray, slice, type ZarrArray } from "../src/index.js";
import { FileSystemStore, LatencyStore } from "../stores/index.js";
import { closePools } from "../src/array.js";
import { sharedPool } from "../operators/pool.js";
import { decodeInto, type DecodeItem } from "../src/chunk-ops.js";
import { wordView } from "../src/copy.js";
import { bytesOf, scalarArray } from "../src/dtype.js";
import { normalizeSelection, projectChunks, type Region } from "../src/selection.js";
import type { WriteItem } from "../src/writer.js";
import type { ChunkResult } from "../src/array.js";
import {
  CACHE_DIR,
  CODECS,
  CODEC_NAMES,
  LATENCY_CONCURRENCY,
  LATENCY_MS,
  MiB,
  datasetRoot,
  nbytes,
  sizes,
  type ArraySpec,
  type Job,
  type Sizes,
} from "./lib/config.js";
import { checkSample, generate, openCached, prepareArray, verify } from "./lib/data.js";
import { notAvailable, peakRssMiB, result, timeRuns, type Result, type Timing } from "./lib/measure.js";
import * as zr from "./lib/zarrita.js";
import { prepareSharded, shardLatency, shardPatch, shardedRead } from "./lib/sharded.js";

/** RSS once the modules are loaded, before any work: the floor every row's peak sits on. */
const baseRssMiB = Math.round(process.memoryUsage().rss / MiB);

type Dataset = { root: string; spec: (codec: string) => ArraySpec };

const exec = promisify(execFile);

function datasets(s: Sizes): Record<"full" | "latency" | "small" | "copy", Dataset> {
  const make = (name: string, shape: number[], chunks: number[]): Dataset => ({
    root: datasetRoot(name, shape, chunks),
    spec: (codec) => ({ shape, chunks, codec }),
  });
  return {
    full: make("full", s.full.shape, s.full.chunks),
    latency: make("latency", s.latency.shape, s.latency.chunks),
    small: make("small", s.small.shape, s.small.chunks),
    copy: make("copy", s.copy.shape, s.copy.chunks),
  };
}

/** A fresh folder for written output, under the cache (removed after each run). */
async function scratch(): Promise<string> {
  const dir = join(CACHE_DIR, "tmp", String(process.pid), randomBytes(4).toString("hex"));
  await mkdir(dir, { recursive: true });
  return dir;
}

async function storedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && !entry.name.endsWith(".json") && !entry.name.startsWith(".")) {
      total += (await stat(join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name))).size;
    }
  }
  return total;
}

const workersOf = (impl: string): 0 | 2 | "auto" => (impl === "zarrflow-inline" ? 0 : impl === "zarrflow-pool2" ? 2 : "auto");

const implLabel: Record<string, string> = {
  "zarrflow-inline": "zarrflow workers:0",
  "zarrflow-auto": "zarrflow workers:auto",
  "zarrflow-pool2": "zarrflow workers:2",
  zarrita: "zarrita",
};

// ---------------------------------------------------------------------------------------------
// 1 (and 3): full read and full write

async function fullRead(job: Job, ds: Dataset, group: string, label: string): Promise<Result> {
  const spec = ds.spec(job.codec ?? "zstd-1");
  const bytes = nbytes(spec.shape);
  const extra = { storedMiB: Math.round(((await storedBytes(join(ds.root, spec.codec))) / MiB) * 10) / 10 };
  if (job.impl === "zarrita") {
    const arr = await zr.openArray(zr.fsStore(ds.root), spec.codec);
    let last: { data: ArrayLike<number>; shape: number[] } | undefined;
    try {
      const times = await timeRuns(job.runs, async () => (last = (await zr.readAll(arr)) as never));
      verify(last!.data, last!.shape, spec.shape);
      return result(group, label, implLabel[job.impl], times, bytes, { extra });
    } catch (error) {
      return notAvailable(group, label, implLabel[job.impl], `zarrita: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  const array = await openCached(ds.root, spec.codec);
  const workers = workersOf(job.impl);
  let last: Awaited<ReturnType<ZarrArray["read"]>> | undefined;
  const times = await timeRuns(job.runs, async () => {
    last = undefined;
    last = await array.read(null, { workers });
  });
  verify(last!.data as Uint16Array, last!.shape, spec.shape);
  const shared = last!.data.buffer instanceof SharedArrayBuffer;
  return result(group, label, implLabel[job.impl], times, bytes, { extra: { ...extra, ranOn: shared ? "pool" : "inline" } });
}

async function fullWrite(job: Job, ds: Dataset, group: string, label: string): Promise<Result> {
  const spec = ds.spec(job.codec ?? "zstd-1");
  const bytes = nbytes(spec.shape);
  const data = generate(spec.shape);
  let dir = "";
  const path = "out";
  if (job.impl === "zarrita") {
    let arr: Awaited<ReturnType<typeof zr.createArray>> | undefined;
    try {
      const times = await timeRuns(
        job.runs,
        async () => zr.writeAll(arr as never, data, spec.shape),
        {
          setup: async () => {
            dir = await scratch();
            arr = await zr.createArray(zr.fsStore(dir), path, spec.shape, spec.chunks, CODECS[spec.codec]);
          },
          teardown: async (run) => {
            if (run === job.runs) await checkWritten(dir, path, spec);
            await rm(dir, { recursive: true, force: true });
          },
        },
      );
      return result(group, label, implLabel[job.impl], times, bytes);
    } catch (error) {
      if (dir) await rm(dir, { recursive: true, force: true });
      return notAvailable(group, label, implLabel[job.impl], `zarrita: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  const workers = workersOf(job.impl);
  let array: ZarrArray | undefined;
  let stored = 0;
  const times = await timeRuns(job.runs, async () => array!.write(null, data, { workers }), {
    setup: async () => {
      dir = await scratch();
      array = await create(new FileSystemStore(dir), { path, shape: spec.shape, chunks: spec.chunks, dtype: "uint16", fillValue: 0, codecs: CODECS[spec.codec] });
    },
    teardown: async (run) => {
      if (run === job.runs) {
        await checkWritten(dir, path, spec);
        stored = await storedBytes(join(dir, path));
      }
      await rm(dir, { recursive: true, force: true });
    },
  });
  return result(group, label, implLabel[job.impl], times, bytes, { extra: { storedMiB: Math.round((stored / MiB) * 10) / 10 } });
}

/** Reads the first chunk of a written array back with zarrflow and checks it. */
async function checkWritten(dir: string, path: string, spec: ArraySpec): Promise<void> {
  await checkSample(await openArray(new FileSystemStore(dir), { path }), spec);
}

// ---------------------------------------------------------------------------------------------
// 2: read through a store with 10 ms latency per request

async function latencyRead(job: Job, ds: Dataset): Promise<Result> {
  const spec = ds.spec("zstd-1");
  const bytes = nbytes(spec.shape);
  const chunks = spec.shape.reduce((n, s, d) => n * Math.ceil(s / spec.chunks[d]), 1);
  const concurrency = job.impl.endsWith("-c64") ? 64 : job.impl.endsWith("-default") ? Infinity : LATENCY_CONCURRENCY;
  const ideal = Math.max(1, Math.ceil(chunks / concurrency)) * LATENCY_MS;
  const label = `read ${chunks} chunks, +${LATENCY_MS} ms/request`;
  const impl = `${job.impl.startsWith("zarrita") ? "zarrita" : "zarrflow"} concurrency ${concurrency === Infinity ? "unbounded (default)" : concurrency}`;
  const extra = { idealMs: ideal, chunks };
  let times: Timing;
  if (job.impl.startsWith("zarrita")) {
    const arr = await zr.openArray(zr.withLatency(zr.fsStore(ds.root), LATENCY_MS), spec.codec);
    let last: { data: ArrayLike<number>; shape: number[] } | undefined;
    times = await timeRuns(job.runs, async () => (last = (await zr.readAll(arr, concurrency === Infinity ? undefined : concurrency)) as never));
    verify(last!.data, last!.shape, spec.shape);
  } else {
    const array = await openArray(new LatencyStore(new FileSystemStore(ds.root), LATENCY_MS), { path: spec.codec });
    let last: Awaited<ReturnType<ZarrArray["read"]>> | undefined;
    times = await timeRuns(job.runs, async () => (last = await array.read(null, { concurrency })));
    verify(last!.data as Uint16Array, last!.shape, spec.shape);
  }
  const r = result("2", label, impl, times, bytes, { extra });
  r.ratios = { [`time / ideal ${ideal} ms`]: r.ms! / ideal };
  return r;
}

// ---------------------------------------------------------------------------------------------
// 4: streamed copy readChunks → writer

async function streamedCopy(job: Job, ds: Dataset): Promise<Result[]> {
  const spec = ds.spec("zstd-1");
  const bytes = nbytes(spec.shape);
  const label = `copy ${(bytes / 2 ** 30).toFixed(2)} GiB zstd-1`;
  const src = await openCached(ds.root, spec.codec);
  if (job.impl.startsWith("zarrflow-convert")) return [await convertCopy(job, ds.root, spec, bytes, label, job.impl.includes("-shards"), job.impl.endsWith("-mmap"))];
  const prefetchBytes = job.impl === "zarrflow-prefetch32" ? 32 * MiB : undefined;
  const options = prefetchBytes === undefined ? {} : { prefetchBytes };
  let dir = "";
  let dst: ZarrArray | undefined;
  const times = await timeRuns(
    job.runs,
    async () => {
      const toItem = new TransformStream<ChunkResult, WriteItem>({
        transform(chunk, controller) {
          controller.enqueue({ selection: chunk.region.map((r: Region) => slice(r.start, r.start + r.count * r.step, r.step)), data: chunk.data });
        },
      });
      await src.readChunks(null, options).pipeThrough(toItem).pipeTo(dst!.writer());
    },
    {
      setup: async () => {
        dir = await scratch();
        dst = await create(new FileSystemStore(dir), { path: "out", shape: spec.shape, chunks: spec.chunks, dtype: "uint16", fillValue: 0, codecs: CODECS[spec.codec] });
      },
      teardown: async (run) => {
        if (run === job.runs) {
          // Spot-check a chunk in the middle and the last one.
          const mid = spec.shape.map((s, d) => Math.floor(s / 2 / spec.chunks[d]) * spec.chunks[d]);
          for (const origin of [mid, spec.shape.map((s, d) => s - spec.chunks[d])]) {
            const got = await dst!.read(origin.map((o, d) => slice(o, o + spec.chunks[d])), { workers: 0 });
            verify(got.data as Uint16Array, got.shape, spec.shape, origin, 1024);
          }
        }
        await rm(dir, { recursive: true, force: true });
      },
    },
  );
  const impl = prefetchBytes === undefined ? "zarrflow (defaults)" : "zarrflow prefetchBytes 32 MiB";
  return [
    result("4", label, impl, times, bytes, { extra: { sourceMiB: Math.round(bytes / MiB) } }),
  ];
}

/**
 * `zarrflow copy` itself: the built CLI (dist/, rebuilt first, untimed) in a child process under
 * /usr/bin/time, recompressing to zstd-3 with its default 256 MiB memory budget — into the same
 * chunks, or (`sharded`) into 16 MiB shards of 4 × 2 × 2 source chunks. Peak RSS is the
 * child's (time's %M).
 */
async function convertCopy(job: Job, root: string, spec: ReturnType<Dataset["spec"]>, bytes: number, label: string, sharded: boolean, mmap: boolean): Promise<Result> {
  // glibc raises its mmap threshold as big blocks are freed, and then keeps freed worker-thread
  // memory in its arenas; a fixed threshold returns it at once (see the README, Command line).
  const env = mmap ? { ...process.env, MALLOC_MMAP_THRESHOLD_: "131072" } : process.env;
  const shards = sharded ? spec.chunks.map((c, d) => (d === 0 ? c * 4 : Math.min(spec.shape[d], c * 2))) : undefined;
  await exec("npx", ["tsc", "-p", "tsconfig.build.json"]);
  let dir = "";
  let peakKiB = 0;
  const times = await timeRuns(
    job.runs,
    async () => {
      const args = ["-f", "%M", process.execPath, "dist/src/cli.js", "copy", join(root, spec.codec), join(dir, "out")];
      if (shards) args.push("--shards", shards.join(","));
      args.push("--chunks", spec.chunks.join(","), "--codec", "zstd:3", "--memory", "256MiB", "--quiet");
      const { stderr } = await exec("/usr/bin/time", args, { env });
      peakKiB = Math.max(peakKiB, Number(stderr.trim().split("\n").pop()));
    },
    {
      setup: async () => {
        dir = await scratch();
      },
      teardown: async (run) => {
        if (run === job.runs) {
          const dst = await openArray(new FileSystemStore(dir), { path: "out" });
          const mid = spec.shape.map((s, d) => Math.floor(s / 2 / spec.chunks[d]) * spec.chunks[d]);
          for (const origin of [mid, spec.shape.map((s, d) => s - spec.chunks[d])]) {
            const got = await dst.read(origin.map((o, d) => slice(o, o + spec.chunks[d])), { workers: 0 });
            verify(got.data as Uint16Array, got.shape, spec.shape, origin, 1024);
          }
        }
        await rm(dir, { recursive: true, force: true });
      },
    },
  );
  const layout = shards ? `shards [${shards}] of chunks [${spec.chunks}]` : `chunks [${spec.chunks}]`;
  const r = result("4", label, `zarrflow copy (CLI, built) → ${layout}, zstd-3, --memory 256MiB${mmap ? ", MALLOC_MMAP_THRESHOLD_=131072" : ""}`, times, bytes, { extra: { sourceMiB: Math.round(bytes / MiB) } });
  r.peakRssMiB = Math.round(peakKiB / 1024);
  r.note = `peak RSS of the CLI process; ${r.peakRssMiB < 400 ? "RSS target met" : "RSS target missed"}`;
  return r;
}

// ---------------------------------------------------------------------------------------------
// 5: the ceiling — single-thread decode + copy into a warm output, × workers

async function ceiling(job: Job, ds: Dataset): Promise<Result[]> {
  const spec = ds.spec("zstd-1");
  const bytes = nbytes(spec.shape);
  const array = await openCached(ds.root, spec.codec);
  const store = new FileSystemStore(ds.root);
  // Every stored chunk in memory first: this measures compute only.
  const sel = normalizeSelection(null, spec.shape);
  const outShape = sel.map((d) => d.count);
  const items: DecodeItem[] = [];
  for (const p of projectChunks(sel, spec.shape, array.chunkShape)) {
    const key = array.chunkKey(p.chunkCoords);
    const stored = await store.get(key);
    items.push({ key, bytes: stored, chunkRegion: p.chunkRegion, outRegion: p.outRegion });
  }
  const fill = wordView(bytesOf(scalarArray(0, "uint16")), 2).words;
  const out = new Uint16Array(bytes / 2).fill(1); // touched: no page faults inside the timed loop
  const target = { words: wordView(bytesOf(out), 2).words, shape: outShape, k: wordView(bytesOf(out), 2).k };
  const chain = array.chain;

  const decodeOnly = await timeRuns(job.runs, async () => {
    for (const item of items) {
      const d = chain.decode(item.bytes!, item.key);
      if (d instanceof Promise) await d;
    }
  });
  const decodeCopy = await timeRuns(job.runs, async () => {
    for (const item of items) {
      const done = decodeInto(chain, fill, item, target);
      if (done instanceof Promise) await done;
    }
  });
  verify(out, outShape, spec.shape);
  const workers = sharedPool().size;
  const label = `zstd-1 ${Math.round(bytes / MiB)} MiB`;
  const rows: Result[] = [];
  rows.push(result("5", label, "decode only, 1 thread", decodeOnly, bytes));
  const one = result("5", label, "decode + copy, 1 thread, warm output", decodeCopy, bytes);
  rows.push(one);
  const ceilingMiBps = one.mibps! * workers;
  rows.push({ ...one, impl: `ceiling = decode + copy × ${workers} workers`, mibps: ceilingMiBps, ms: one.ms! / workers, runsMs: [], note: "computed", extra: {} });

  // The cost the pooled read pays for a fresh SharedArrayBuffer output (page faults on first touch).
  const sabTimes = await timeRuns(job.runs, async () => {
    const sab = new Uint8Array(new SharedArrayBuffer(bytes));
    for (let i = 0; i < sab.length; i += 4096) sab[i] = 1;
  });
  const abTimes = await timeRuns(job.runs, async () => {
    const ab = new Uint8Array(new ArrayBuffer(bytes));
    for (let i = 0; i < ab.length; i += 4096) ab[i] = 1;
  });
  rows.push({ ...result("5", label, "fresh SharedArrayBuffer output: allocate + touch", sabTimes, bytes), note: "time the pooled read spends in page faults" });
  rows.push({ ...result("5", label, "fresh ArrayBuffer output: allocate + touch", abTimes, bytes), note: "same for the inline read" });

  for (const workersOpt of ["auto", 0] as const) {
    let last: Awaited<ReturnType<ZarrArray["read"]>> | undefined;
    const times = await timeRuns(job.runs, async () => {
      last = undefined;
      last = await array.read(null, { workers: workersOpt });
    });
    verify(last!.data as Uint16Array, last!.shape, spec.shape);
    const r = result("5", label, `zarrflow full read, workers:${workersOpt}`, times, bytes);
    r.ratios = { "of ceiling": r.mibps! / ceilingMiBps };
    rows.push(r);
  }
  // The same read into one reused output (read(sel, { out })): no page faults for a fresh buffer.
  const reusedOut = new Uint16Array(new SharedArrayBuffer(bytes));
  const reused = await timeRuns(job.runs, async () => {
    await array.read(null, { workers: "auto", out: reusedOut });
  });
  verify(reusedOut, spec.shape, spec.shape);
  const r = result("5", label, "zarrflow full read, workers:auto, into a reused SharedArrayBuffer (out)", reused, bytes);
  r.ratios = { "of ceiling": r.mibps! / ceilingMiBps };
  rows.push(r);
  rows[0].extra = { ...rows[0].extra, workers };
  return rows;
}

// ---------------------------------------------------------------------------------------------

/** The floor under the copy's peak RSS: node + tsx + zarrflow loaded, the shared pool started. */
async function idle(s: Sizes): Promise<Result> {
  await sharedPool().run("ping", {});
  const label = `copy ${(nbytes(s.copy.shape) / 2 ** 30).toFixed(2)} GiB zstd-1`;
  return { ...notAvailable("4", label, `idle process: node + tsx + ${sharedPool().size} pool workers started`, "no work: the floor under the rows above"), peakRssMiB: peakRssMiB() };
}

async function prepare(job: Job, s: Sizes): Promise<Result[]> {
  const ds = datasets(s);
  const out: Result[] = [];
  const want = new Set(job.datasets ?? ["full", "latency", "small", "copy"]);
  const todo: [Dataset, string][] = [];
  if (want.has("full")) for (const codec of CODEC_NAMES) todo.push([ds.full, codec]);
  if (want.has("latency")) todo.push([ds.latency, "zstd-1"]);
  if (want.has("small")) todo.push([ds.small, "zstd-1"]);
  if (want.has("copy")) todo.push([ds.copy, "zstd-1"]);
  if (want.has("full-zstd-1") && !want.has("full")) todo.push([ds.full, "zstd-1"]);
  for (const [d, codec] of todo) {
    const seconds = await prepareArray(d.root, codec, d.spec(codec));
    if (seconds > 0) {
      const spec = d.spec(codec);
      process.stderr.write(`  generated ${d.root}/${codec} [${spec.shape}] in ${seconds.toFixed(1)} s\n`);
    }
  }
  await prepareSharded(s, (["sharded", "patch"] as const).filter((name) => want.has(name)));
  out.push({ group: "prepare", workload: "prepare", impl: "zarrflow", mibps: null, ms: null, runsMs: [], peakRssMiB: peakRssMiB() });
  return out;
}

async function runJob(job: Job): Promise<Result[]> {
  const s = sizes(job.quick, job.copyGiB);
  const ds = datasets(s);
  switch (job.kind) {
    case "prepare":
      return prepare(job, s);
    case "read":
      return [await fullRead(job, ds.full, "1", `read ${job.codec}`)];
    case "write":
      return [await fullWrite(job, ds.full, "1", `write ${job.codec}`)];
    case "latency":
      return [await latencyRead(job, ds.latency)];
    case "small": {
      const label = `${job.op} 16 KiB chunks [${s.small.chunks}] of [${s.small.shape}] zstd-1`;
      return [job.op === "write" ? await fullWrite({ ...job, codec: "zstd-1" }, ds.small, "3", label) : await fullRead({ ...job, codec: "zstd-1" }, ds.small, "3", label)];
    }
    case "copy":
      if (job.impl === "idle") return [await idle(s)];
      if (job.impl === "zarrita") return [notAvailable("4", `copy ${(nbytes(s.copy.shape) / 2 ** 30).toFixed(2)} GiB zstd-1`, "zarrita", "no streaming read/write API")];
      return streamedCopy(job, ds.copy);
    case "ceiling":
      return ceiling(job, ds.full);
    case "sharded-read":
      return [await shardedRead(job, s)];
    case "shard-latency":
      return [await shardLatency(job, s)];
    case "shard-patch":
      return [await shardPatch(job, s)];
    case "http":
      // Loaded only here: it starts nginx and a proxy process, which no other workload needs.
      return [await (await import("./lib/http.js")).httpRead(job, s)];
    case "queue":
      // Loaded only here: it starts redis-server and worker processes.
      return (await import("./lib/queue.js")).queueWorkload(job, ds.copy.root, ds.copy.spec("zstd-1"), scratch);
    case "s3":
      // Loaded only here: it starts s3rver and a proxy process.
      return [await (await import("./lib/s3.js")).s3Read(job, s)];
    case "browser":
      // Loaded only here: it starts Chromium.
      return (await import("./lib/browser.js")).browserRead(job, s);
  }
}

/** Sends a message to the orchestrator and waits until it is flushed. */
function send(message: unknown): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, undefined, () => resolve()));
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
let exitCode = 0;
try {
  const results = await runJob(job);
  for (const r of results) r.extra = { ...r.extra, baseRssMiB };
  if (process.send) await send({ results });
  else console.log(JSON.stringify(results, null, 2));
} catch (error) {
  exitCode = 1;
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (process.send) await send({ error: message });
  else console.error(message);
} finally {
  await closePools().catch(() => undefined);
  await rm(join(CACHE_DIR, "tmp", String(process.pid)), { recursive: true, force: true }).catch(() => undefined);
}
if (process.send) process.disconnect();
process.exitCode = exitCode;
