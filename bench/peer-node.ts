/**
 * One Node peer of the side-by-side bench (bench/lib/peers.ts): zarrflow or zarrita, reading or
 * writing one array, in its own process. Started with a job (JSON argument), it prepares (opens
 * the array; for writes, generates the data), reports `{ ready }` over IPC, then times one call
 * per `"run"` message and answers `{ wallMs, cpuMs, mainCpuMs, faults }`:
 *
 * - cpuMs: user + sys of every thread of the process (process.cpuUsage, getrusage RUSAGE_SELF);
 * - mainCpuMs: the main thread alone (/proc/self/task/<pid>/stat, 10 ms ticks; Linux only);
 * - faults: minor page faults of the process during the call.
 *
 *   node --import tsx bench/peer-node.ts '{"impl":"zarrflow","op":"read","root":"…","path":"zstd-3","shape":[…]}'
 */
import { threadCpuMs } from "./lib/threads.js";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { create, openArray, type ZarrArray } from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";
import { CODECS } from "./lib/config.js";
import { generate, verify } from "./lib/data.js";
import * as zr from "./lib/zarrita.js";

export interface PeerJob {
  /** "zarrflow" (fresh result), "zarrflow-out" (into one reused output), "zarrita". */
  impl: string;
  op: "read" | "write";
  /** Source array (written by the bench with zarrflow). */
  root: string;
  path: string;
  shape: number[];
  chunks: number[];
  shards?: number[];
  codec: string;
  /** Folder for written arrays (writes). */
  out?: string;
}

export interface PeerRun {
  wallMs: number;
  cpuMs: number;
  mainCpuMs?: number;
  faults?: number;
}

const job = JSON.parse(process.argv[2]) as PeerJob;

/** The main thread's CPU ms so far (Linux; undefined elsewhere). */
const mainThreadCpuMs = (): number | undefined => threadCpuMs(process.pid);

async function prepare(): Promise<(n: number) => Promise<void>> {
  const count = job.shape.reduce((a, b) => a * b, 1);
  if (job.op === "read") {
    if (job.impl === "zarrita") {
      const arr = await zr.openArray(zr.fsStore(job.root), job.path);
      return async (n) => {
        const got = (await zr.readAll(arr)) as unknown as { data: Uint16Array; shape: number[] };
        if (n === 0) verify(got.data, got.shape, job.shape);
      };
    }
    const array = await openArray(new FileSystemStore(job.root), { path: job.path });
    const out = job.impl === "zarrflow-out" ? new Uint16Array(new SharedArrayBuffer(count * 2)) : undefined;
    return async (n) => {
      const got = await array.read(null, out ? { out } : {});
      if (n === 0) verify(got.data as Uint16Array, got.shape, job.shape);
    };
  }
  const data = generate(job.shape);
  const dir = job.out as string;
  await mkdir(dir, { recursive: true });
  if (job.impl === "zarrita") {
    if (job.shards) throw new Error("zarrita 0.7 cannot write sharded arrays");
    return async (n) => {
      const target = join(dir, `run${n}`);
      const arr = await zr.createArray(zr.fsStore(target), "a", job.shape, job.chunks, CODECS[job.codec]);
      await timed(() => zr.writeAll(arr as never, data, job.shape));
      if (n === 0) await checkWritten(target);
      await rm(target, { recursive: true, force: true });
    };
  }
  return async (n) => {
    const target = join(dir, `run${n}`);
    const array: ZarrArray = await create(new FileSystemStore(target), {
      path: "a",
      shape: job.shape,
      chunks: job.chunks,
      ...(job.shards ? { shards: job.shards } : {}),
      dtype: "uint16",
      fillValue: 0,
      codecs: CODECS[job.codec],
    });
    await timed(() => array.write(null, data));
    if (n === 0) await checkWritten(target);
    await rm(target, { recursive: true, force: true });
  };
}

async function checkWritten(target: string): Promise<void> {
  const got = await (await openArray(new FileSystemStore(target), { path: "a" })).read(null, { workers: 0 });
  verify(got.data as Uint16Array, got.shape, job.shape);
}

/** Writes time the write call alone (array creation and checks are outside the clock). */
let measured: PeerRun | undefined;
async function timed(body: () => Promise<void>): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const main = mainThreadCpuMs();
  const faults = process.resourceUsage().minorPageFault;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await body();
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const mainAfter = mainThreadCpuMs();
  measured = {
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    mainCpuMs: main === undefined || mainAfter === undefined ? undefined : mainAfter - main,
    faults: process.resourceUsage().minorPageFault - faults,
  };
}

async function main(): Promise<void> {
  const run = await prepare();
  let n = 0;
  process.send?.({ ready: true });
  process.on("message", async (message: string) => {
    if (message === "quit") process.exit(0);
    if (message !== "run") return;
    try {
      measured = undefined;
      if (job.op === "read") await timed(() => run(n));
      else await run(n);
      n++;
      process.send?.({ run: measured });
    } catch (error) {
      process.send?.({ error: (error as Error).stack ?? String(error) });
    }
  });
}

main().catch((error: unknown) => {
  process.send?.({ error: (error as Error).stack ?? String(error) });
  process.exit(1);
});
