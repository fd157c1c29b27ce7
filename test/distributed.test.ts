/**
 * Without Redis: the planner a queued copy shares with the in-process one — copyTasks tiles the
 * copy in boxes on destination-object edges, and copying (and verifying) box by box in any order
 * gives the one-pass copy's bytes.
 *
 * Copies split into tasks on BullMQ + a real redis-server (test/helpers/redis.ts), run by
 * separate `zarrflow worker` processes (the built CLI):
 * - a 64 MiB v2 array → sharded v3 by 2 workers equals, file for file and byte for byte, the
 *   same conversion done in one process; each task runs once;
 * - a worker SIGKILLed mid-task: its task runs again elsewhere after the stall interval, and
 *   the copy is still exact;
 * - SIGTERM to a worker mid-task: the task is finished, then the worker exits 0;
 * - the coordinator SIGKILLed and run again resumes: finished tasks are not run again;
 * - a corrupt source chunk fails its task only (typed error with array and key in the summary,
 *   exit 1); fixed, the same command resumes and runs that task alone;
 * - Redis unreachable: a clear error, and nothing written to the destination.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closePools, copyNode, create, openArray, parseCompression } from "../src/index.js";
import { copyArrayRegion, copyTasks, createCopyNode, emptyCounters, planCopy, verifyCopy, type CopyOptions } from "../src/convert.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { CLI, ROOT, buildCli, runCli, serveFolder, type StaticServer } from "./helpers/cli-run.js";
import { skipUnlessFound } from "./helpers/external.js";
import { prng } from "./helpers/prng.js";
import { redisProblem, startRedis, type RedisServer } from "./helpers/redis.js";

const skip = skipUnlessFound("queued-copy tests (redis-server)", redisProblem());

/** The conversion every test asks for: v2 chunks of [16,256,256] → v3 shards of [32,256,256] in inner chunks of [16,128,128]. */
const CONVERT = ["--zarr-format", "3", "--chunks", "16,128,128", "--shards", "32,256,256", "--codec", "zstd:1"];

let tmp: string;
let redis: RedisServer;
const at = (...parts: string[]) => join(tmp, ...parts);

/** A uint16 v2 array, zstd, with values a copy cannot get right by accident. */
async function makeSource(dir: string, shape: number[], seed: number): Promise<void> {
  const store = new FileSystemStore(dir);
  const array = await create(store, { shape, chunks: [16, 256, 256], dtype: "uint16", zarrFormat: 2, compressor: { id: "zstd", level: 1 }, attributes: { seed } });
  const data = new Uint16Array(shape.reduce((a, b) => a * b, 1));
  const random = prng(seed);
  // Smooth runs with noise: compressible (quick to store) but different everywhere.
  for (let i = 0, v = 0; i < data.length; i++) {
    if ((i & 1023) === 0) v = Math.floor(random() * 65536);
    data[i] = (v + (i & 1023) * 3 + (random() < 0.1 ? 1 : 0)) & 0xffff;
  }
  await array.write(null, data);
}

/** Every file under a folder, by relative path. */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.set(relative(dir, full), await readFile(full));
    }
  };
  await walk(dir);
  return out;
}

async function expectSameTree(actual: string, expected: string): Promise<void> {
  const [a, b] = await Promise.all([files(actual), files(expected)]);
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  const differ = [...b].filter(([name, bytes]) => !a.get(name)?.equals(bytes)).map(([name]) => name);
  expect(differ).toEqual([]);
}

/** The same conversion in this process: what the queued copies must equal. */
async function inProcessCopy(src: string, dst: string): Promise<void> {
  const source = await openArray(new FileSystemStore(src));
  await copyNode(source, new FileSystemStore(dst), {
    zarrFormat: 3,
    chunks: [16, 128, 128],
    shards: [32, 256, 256],
    compression: [{ name: "zstd", configuration: { level: 1, checksum: false } }],
  });
}

interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
  /** Resolves when the log has a line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** The exit code, once it has exited. */
  exited: Promise<number | null>;
}

const workers: WorkerProcess[] = [];

/**
 * A `zarrflow worker` process. The stall interval is short only where a test kills a worker: a
 * worker whose event loop stalls longer than it (a loaded machine) loses its task's lock, and
 * the task runs twice — harmless, but it would upset the tests that count runs.
 */
function startWorker(queueName: string, extra: string[] = [], stallMs = 15_000): WorkerProcess {
  const child = spawn(process.execPath, [CLI, "worker", redis.url, "--queue-name", queueName, "--stall-interval", String(stallMs), "--workers", "0", ...extra], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of [...waiters]) {
      const line = output.split("\n").find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const worker: WorkerProcess = {
    child,
    log: () => output,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const line = output.split("\n").find((l) => pattern.test(l));
        if (line !== undefined) return resolve(line);
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; the log:\n${output}`)), timeoutMs);
        waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      }),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
  workers.push(worker);
  return worker;
}

/** Task ids a worker finished (copy tasks only). */
const copiesDone = (log: string) => [...log.matchAll(/^task (\S+) \(copy\) done/gm)].map((m) => m[1]);

async function stopAll(): Promise<(number | null)[]> {
  const codes = await Promise.all(workers.map((w) => w.stop()));
  workers.length = 0;
  return codes;
}

describe("the plan a queued copy shares with the in-process one (no Redis)", () => {
  const cases: [string, CopyOptions][] = [
    ["v2 → sharded v3", { zarrFormat: 3, chunks: [4, 7, 5], shards: [8, 14, 10], compression: parseCompression("zstd:1") }],
    ["re-chunked v2, a strided selection", { chunks: [3, 9, 4], selection: "1:19:2, :, 3:", compression: parseCompression("gzip:1") }],
  ];
  for (const [name, options] of cases) {
    it(`${name}: tasks tile the copy on destination-object edges; copied one by one, in reverse, they give the one-pass copy's bytes`, async () => {
      const srcStore = new MemoryStore();
      const source = await create(srcStore, { shape: [20, 30, 17], chunks: [6, 7, 5], dtype: "uint16", zarrFormat: 2, compressor: { id: "zlib", level: 1 } });
      const random = prng(3);
      await source.write(null, Uint16Array.from({ length: 20 * 30 * 17 }, () => Math.floor(random() * 65536)));
      const expected = new MemoryStore();
      await copyNode(source, expected, { ...options, workers: 0 });

      const [plan] = await planCopy(source, options);
      const array = plan.array!;
      const tasks = [...copyTasks(array, 1)];
      const shape = array.create.shape;
      const covered = new Uint8Array(shape.reduce((a, b) => a * b, 1));
      for (const t of tasks) {
        t.start.forEach((s, d) => expect(s % array.storedChunks[d]).toBe(0));
        t.end.forEach((e, d) => expect(e === shape[d] || e % array.storedChunks[d] === 0).toBe(true));
        for (let i = t.start[0]; i < t.end[0]; i++)
          for (let j = t.start[1]; j < t.end[1]; j++) for (let k = t.start[2]; k < t.end[2]; k++) covered[(i * shape[1] + j) * shape[2] + k]++;
      }
      expect(tasks.length).toBeGreaterThan(4);
      expect(covered.every((c) => c === 1)).toBe(true);
      expect(tasks.reduce((n, t) => n + t.chunks, 0)).toBe(array.chunksTotal);

      const queued = new MemoryStore();
      const dst = (await createCopyNode(plan, 0, queued, options))!;
      for (const t of [...tasks].reverse()) await copyArrayRegion(array, dst, { ...options, workers: 0 }, emptyCounters(), t);
      expect(queued.keys()).toEqual(expected.keys());
      for (const key of expected.keys()) expect(Buffer.from(queued.map.get(key)!).equals(Buffer.from(expected.map.get(key)!)), key).toBe(true);

      // Verification task by task adds up to the whole copy, and finds a changed element.
      let elements = 0;
      for (const t of tasks) elements += (await verifyCopy(source, dst, { selection: options.selection, region: t, workers: 0 })).elements;
      expect(elements).toBe(covered.length);
      const last = tasks[tasks.length - 1];
      const at = last.end.map((e) => e - 1);
      const value = (await dst.read(at.map((i) => i))).data as Uint16Array;
      await dst.write(at.map((i) => i), new Uint16Array([value[0] ^ 1]));
      expect(await verifyCopy(source, dst, { selection: options.selection, region: last, workers: 0 })).toMatchObject({ mismatches: 1, firstMismatch: at });
      expect((await verifyCopy(source, dst, { selection: options.selection, region: tasks[0], workers: 0 })).mismatches).toBe(0);
    });
  }
});

describe.skipIf(skip)("queued copies on BullMQ + Redis", () => {
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "zarrflow-distributed-"));
    [redis] = await Promise.all([startRedis(), buildCli()]);
    // 64 MiB for the comparison with an in-process copy, 16 MiB for the failure cases.
    await makeSource(at("big-v2.zarr"), [128, 512, 512], 7);
    await makeSource(at("small-v2.zarr"), [64, 512, 256], 11);
    await inProcessCopy(at("big-v2.zarr"), at("big-expected.zarr"));
    await inProcessCopy(at("small-v2.zarr"), at("small-expected.zarr"));
  }, 240_000);

  afterAll(async () => {
    await stopAll();
    await redis?.stop();
    await closePools();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("a 64 MiB v2 array → sharded v3 by 2 worker processes equals the in-process copy byte for byte; each task runs once", async () => {
    const [a, b] = [startWorker("big"), startWorker("big")];
    const result = await runCli(["copy", at("big-v2.zarr"), at("big-queued.zarr"), ...CONVERT, "--queue", redis.url, "--queue-name", "big", "--task-size", "8MiB", "--verify", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.toString());
    expect(summary).toMatchObject({ tasks: 8, tasksSkipped: 0, failed: [], resumed: false, verified: { elements: 128 * 512 * 512, mismatches: 0 } });
    await expectSameTree(at("big-queued.zarr"), at("big-expected.zarr"));
    const done = [...copiesDone(a.log()), ...copiesDone(b.log())];
    expect(done.length).toBe(8);
    expect(new Set(done).size).toBe(8);
    // Both processes took part.
    expect(copiesDone(a.log()).length).toBeGreaterThan(0);
    expect(copiesDone(b.log()).length).toBeGreaterThan(0);
    // SIGTERM: a clean stop.
    expect(await stopAll()).toEqual([0, 0]);
    expect(a.log()).toMatch(/^stopped: \d+ tasks done/m);
    // The same command again: nothing left to do, nothing written again.
    const again = await runCli(["copy", at("big-v2.zarr"), at("big-queued.zarr"), ...CONVERT, "--queue", redis.url, "--queue-name", "big", "--task-size", "8MiB", "--verify", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    // The verification too is found done, with its results.
    expect(JSON.parse(again.stdout.toString())).toMatchObject({ tasks: 8, tasksSkipped: 8, resumed: true, bytesWritten: 0, verified: { elements: 128 * 512 * 512, mismatches: 0 } });
  }, 240_000);

  it("a worker SIGKILLed mid-task: its task runs again on another worker after the stall interval, and the copy is exact", async () => {
    // Served over HTTP with a delay per request, so that a task lasts long enough to be cut.
    // The doomed worker's chunk reads hang until it has been killed, so it cannot finish its task first.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const server: StaticServer = await serveFolder(at("small-v2.zarr"), { delayMs: 150, gate });
    try {
      const doomed = startWorker("kill", ["--concurrency", "1"], 3000);
      const copy = runCli(["copy", server.url, at("small-kill.zarr"), ...CONVERT, "--queue", redis.url, "--queue-name", "kill", "--task-size", "4MiB", "--json"]);
      const started = await doomed.waitFor(/^task \S+ \(copy\) started/);
      const cut = /^task (\S+) /.exec(started)![1];
      doomed.child.kill("SIGKILL");
      await new Promise((resolve) => doomed.child.once("exit", resolve));
      openGate();
      const survivor = startWorker("kill", ["--concurrency", "4"], 3000);
      const result = await copy;
      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout.toString());
      expect(summary).toMatchObject({ tasks: 4, failed: [] });
      // The stalled task was taken again (counted as a retry) and finished by the survivor.
      expect(summary.retries).toBeGreaterThanOrEqual(1);
      expect(copiesDone(doomed.log())).not.toContain(cut);
      expect(copiesDone(survivor.log())).toContain(cut);
      await expectSameTree(at("small-kill.zarr"), at("small-expected.zarr"));
    } finally {
      await stopAll();
      await server.close();
    }
  }, 180_000);

  it("SIGTERM mid-task (codec worker pool running): the worker finishes its task, then exits 0", async () => {
    const server: StaticServer = await serveFolder(at("small-v2.zarr"), { delayMs: 150 });
    try {
      const leaving = startWorker("term", ["--concurrency", "1", "--workers", "2"]);
      const copy = runCli(["copy", server.url, at("small-term.zarr"), ...CONVERT, "--queue", redis.url, "--queue-name", "term", "--task-size", "4MiB", "--json"]);
      const started = await leaving.waitFor(/^task \S+ \(copy\) started/);
      const id = /^task (\S+) /.exec(started)![1];
      leaving.child.kill("SIGTERM");
      expect(await leaving.exited).toBe(0);
      const log = leaving.log();
      // The task it held was finished after the stop request, and no other was taken.
      expect(log.indexOf("stopping"), log).toBeGreaterThan(-1);
      expect(log.indexOf("stopping"), log).toBeLessThan(log.indexOf(`task ${id} (copy) done`));
      expect(copiesDone(log), log).toEqual([id]);
      startWorker("term", ["--concurrency", "4"]);
      const result = await copy;
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout.toString())).toMatchObject({ tasks: 4, failed: [] });
      await expectSameTree(at("small-term.zarr"), at("small-expected.zarr"));
    } finally {
      await stopAll();
      await server.close();
    }
  }, 180_000);

  it("the coordinator SIGKILLed and run again resumes without running finished tasks again", async () => {
    const args = ["copy", at("small-v2.zarr"), at("small-resume.zarr"), ...CONVERT, "--queue", redis.url, "--queue-name", "resume", "--task-size", "4MiB", "--json"];
    const worker = startWorker("resume");
    let coordinator: ChildProcess | undefined;
    const first = runCli(args, { onSpawn: (child) => (coordinator = child) });
    // Once some tasks are done (and others not), the coordinator goes away; the worker does not.
    await worker.waitFor(/^task \S+ \(copy\) done/);
    coordinator!.kill("SIGKILL");
    const killed = await first;
    expect(killed.signal).toBe("SIGKILL");
    const doneBefore = copiesDone(worker.log()).length;
    expect(doneBefore).toBeGreaterThanOrEqual(1);
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout.toString());
    expect(summary.resumed).toBe(true);
    expect(summary.tasks).toBe(4);
    expect(summary.tasksSkipped).toBeGreaterThanOrEqual(doneBefore);
    // Every task ran exactly once over both runs.
    const done = copiesDone(worker.log());
    expect(done.length).toBe(4);
    expect(new Set(done).size).toBe(4);
    await stopAll();
    await expectSameTree(at("small-resume.zarr"), at("small-expected.zarr"));
  }, 180_000);

  it("a corrupt source chunk fails its task only, with the typed error (array, key); fixed, the same command runs that task alone", async () => {
    const src = at("corrupt-v2.zarr");
    await rm(src, { recursive: true, force: true });
    await makeSource(src, [64, 512, 256], 11);
    const key = "2.1.0";
    await copyFile(join(src, key), at("saved-chunk"));
    await writeFile(join(src, key), Buffer.from("this is not a zstd frame, whatever the metadata says"));
    const worker = startWorker("corrupt", ["--tasks", "2"]);
    const args = ["copy", src, at("corrupt-copy.zarr"), ...CONVERT, "--queue", redis.url, "--queue-name", "corrupt", "--task-size", "4MiB", "--attempts", "2"];
    const failed = await runCli(args);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/1 of 4 tasks failed/);
    expect(failed.stderr).toMatch(/CodecError: .*\(array "\/", key "2\.1\.0"\)/);
    expect(worker.log()).toMatch(/failed, attempt 1 of 2 \(will retry\)/);
    expect(worker.log()).toMatch(/failed, attempt 2 of 2 \(gave up\)/);
    const doneFirst = copiesDone(worker.log());
    expect(doneFirst.length).toBe(3);
    // The cause fixed, the same command finishes the job: one task runs.
    await copyFile(at("saved-chunk"), join(src, key));
    const fixed = await runCli([...args, "--json"]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(JSON.parse(fixed.stdout.toString())).toMatchObject({ tasks: 4, tasksSkipped: 3, failed: [] });
    expect(copiesDone(worker.log()).length).toBe(4);
    await stopAll();
    await expectSameTree(at("corrupt-copy.zarr"), at("small-expected.zarr"));
  }, 180_000);

  it("Redis unreachable: a clear one-line error, and nothing is written to the destination", async () => {
    const result = await runCli(["copy", at("small-v2.zarr"), at("nowhere.zarr"), ...CONVERT, "--queue", "redis://127.0.0.1:1"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^zarrflow: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    await expect(stat(at("nowhere.zarr"))).rejects.toThrow(/ENOENT/);
    const worker = await runCli(["worker", "redis://127.0.0.1:1"]);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toMatch(/cannot reach Redis/);
  }, 60_000);
});
