/**
 * Workload 10 (issue 16): the copy through BullMQ + Redis.
 *
 * - The conversion of workload 4's source (zstd-1, chunks [8,256,256]) into 16 MiB shards,
 *   zstd-3, by the built CLI: in one process (`zarrflow copy`) and as tasks (`zarrflow copy
 *   --queue`, coordinator timed from start to exit) run by 2 `zarrflow worker` processes started
 *   beforehand; the ratio is the queue's overhead on one machine.
 * - The queue alone: empty tasks (a TaskData-sized payload, the coordinator's job options, a
 *   processor that returns at once) through 2 BullMQ workers in this process: tasks per second,
 *   and per task the Redis commands, network bytes and memory kept (finished tasks stay, so a
 *   re-run can skip them).
 *
 * Redis is a redis-server of its own (test/helpers/redis.ts) on a free port.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { openArray, slice } from "../../src/index.js";
import { FileSystemStore } from "../../stores/index.js";
import type { TaskData } from "../../src/distributed/shared.js";
import { startRedis, type RedisServer } from "../../test/helpers/redis.js";
import { CACHE_DIR, MiB, nbytes, type ArraySpec, type Job } from "./config.js";
import { verify } from "./data.js";
import { result, timeRuns, type Result } from "./measure.js";

const exec = promisify(execFile);

/** Redis' own counters: commands run, network bytes, memory used. */
async function redisCounters(redis: Redis): Promise<{ calls: number; netBytes: number; memory: number }> {
  const [commands, stats, memory] = await Promise.all([redis.info("commandstats"), redis.info("stats"), redis.info("memory")]);
  const calls = [...commands.matchAll(/calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const num = (text: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { calls, netBytes: num(stats, "total_net_input_bytes") + num(stats, "total_net_output_bytes"), memory: num(memory, "used_memory") };
}

function startWorkerProcess(url: string, queueName: string): ChildProcess {
  return spawn(process.execPath, ["dist/src/cli.js", "worker", url, "--queue-name", queueName, "--quiet"], { stdio: ["ignore", "ignore", "inherit"] });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

export async function queueWorkload(job: Job, root: string, spec: ArraySpec, scratch: () => Promise<string>): Promise<Result[]> {
  const bytes = nbytes(spec.shape);
  const label = `convert ${(bytes / 2 ** 30).toFixed(2)} GiB zstd-1 → 16 MiB shards zstd-3`;
  const shards = spec.chunks.map((c, d) => (d === 0 ? c * 4 : Math.min(spec.shape[d], c * 2)));
  const convert = ["--chunks", spec.chunks.join(","), "--shards", shards.join(","), "--codec", "zstd:3", "--quiet"];
  await exec("npx", ["tsc", "-p", "tsconfig.build.json"]);
  const redisServer: RedisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const children: ChildProcess[] = [];
  try {
    const src = join(root, spec.codec);
    const check = async (dir: string) => {
      const dst = await openArray(new FileSystemStore(dir), { path: "out" });
      const mid = spec.shape.map((s, d) => Math.floor(s / 2 / spec.chunks[d]) * spec.chunks[d]);
      for (const origin of [mid, spec.shape.map((s, d) => s - spec.chunks[d])]) {
        const got = await dst.read(origin.map((o, d) => slice(o, o + spec.chunks[d])), { workers: 0 });
        verify(got.data as Uint16Array, got.shape, spec.shape, origin, 1024);
      }
    };
    // In one process, and through the queue, alternating so that both see the same machine.
    let dir = "";
    const inProcess = await timeRuns(
      job.runs,
      async () => {
        await exec(process.execPath, ["dist/src/cli.js", "copy", src, join(dir, "out"), ...convert]);
      },
      {
        setup: async () => void (dir = await scratch()),
        teardown: async (run) => {
          if (run === job.runs) await check(dir);
          await rm(dir, { recursive: true, force: true });
        },
      },
    );
    children.push(startWorkerProcess(redisServer.url, "bench"), startWorkerProcess(redisServer.url, "bench"));
    let tasks = 0;
    let before = await redisCounters(redis);
    let perTask = { calls: 0, netBytes: 0 };
    const queued = await timeRuns(
      job.runs,
      async () => {
        const { stdout } = await exec(process.execPath, ["dist/src/cli.js", "copy", src, join(dir, "out"), ...convert.filter((a) => a !== "--quiet"), "--json", "--queue", redisServer.url, "--queue-name", "bench", "--task-size", "32MiB"]);
        tasks = (JSON.parse(stdout) as { tasks: number }).tasks;
      },
      {
        setup: async () => {
          dir = await scratch();
          before = await redisCounters(redis);
        },
        teardown: async (run) => {
          const after = await redisCounters(redis);
          perTask = { calls: (after.calls - before.calls) / tasks, netBytes: (after.netBytes - before.netBytes) / tasks };
          if (run === job.runs) await check(dir);
          await rm(dir, { recursive: true, force: true });
        },
      },
    );
    await Promise.all(children.splice(0).map(stopProcess));
    const base = result("13", label, "zarrflow copy, one process (CLI, built)", inProcess, bytes, { extra: { sourceMiB: Math.round(bytes / MiB) } });
    const viaQueue = result("13", label, `zarrflow copy --queue, 2 worker processes, ${tasks} tasks of 32 MiB`, queued, bytes, {
      extra: { tasks, redisCallsPerTask: Math.round(perTask.calls), redisNetBytesPerTask: Math.round(perTask.netBytes) },
      note: "ms is the coordinator's run, start to exit; the workers were started before",
    });
    viaQueue.ratios = { "one process (time)": viaQueue.ms! / base.ms! };
    return [base, viaQueue, await emptyTasks(job, redisServer.url, redis)];
  } finally {
    await Promise.all(children.map(stopProcess));
    redis.disconnect();
    await redisServer.stop();
  }
}

/** The queue's own throughput: tasks that do nothing, with the payload and options of real ones. */
async function emptyTasks(job: Job, url: string, redis: Redis): Promise<Result> {
  const count = job.quick ? 2000 : 20000;
  const connection = { host: "127.0.0.1", port: Number(new URL(url).port), maxRetriesPerRequest: null };
  const queue = new Queue<TaskData>("empty", { connection });
  const data: TaskData = {
    copyId: "0123456789abcdef",
    kind: "copy",
    src: join(CACHE_DIR, "some-source.zarr"),
    dst: join(CACHE_DIR, "some-destination.zarr"),
    srcPath: "temperature",
    dstPath: "temperature",
    layout: { zarrFormat: 3, chunks: [8, 256, 256], shards: [32, 512, 512], compression: [{ name: "zstd", configuration: { level: 3, checksum: false } }] },
    region: { start: [1024, 0, 0], end: [1056, 512, 1024] },
  };
  let done = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const workers = [0, 1].map(
    () =>
      new Worker<TaskData>(
        "empty",
        async () => ({ chunksRead: 0, bytesRead: 0, chunksWritten: 0, bytesWritten: 0, dataBytesDone: 0 }),
        { connection, concurrency: 8 },
      ),
  );
  for (const w of workers) {
    w.on("completed", () => {
      if (++done === count) allDone();
    });
  }
  await Promise.all([queue.waitUntilReady(), ...workers.map((w) => w.waitUntilReady())]);
  const before = await redisCounters(redis);
  const t0 = performance.now();
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    await queue.addBulk(
      Array.from({ length: n }, (_, k) => ({
        name: "copy",
        data: { ...data, region: { start: [i + k, 0, 0], end: [i + k + 1, 512, 1024] } },
        opts: { jobId: `0123456789abcdef.0.${i + k}-0-0`, attempts: 3, backoff: { type: "exponential", delay: 1000 }, removeOnComplete: false, removeOnFail: false },
      })),
    );
  }
  const enqueuedMs = performance.now() - t0;
  await finished;
  const ms = performance.now() - t0;
  const after = await redisCounters(redis);
  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  const r: Result = {
    group: "13",
    workload: `queue alone: ${count} empty tasks`,
    impl: "BullMQ, 2 workers × concurrency 8 in one process",
    mibps: null,
    ms,
    runsMs: [Math.round(ms)],
    peakRssMiB: null,
    note: `${Math.round(count / (ms / 1000))} tasks/s (enqueued at ${Math.round(count / (enqueuedMs / 1000))}/s)`,
    extra: {
      tasksPerSecond: Math.round(count / (ms / 1000)),
      redisCallsPerTask: Math.round(((after.calls - before.calls) / count) * 10) / 10,
      redisNetBytesPerTask: Math.round((after.netBytes - before.netBytes) / count),
      redisMemoryPerKeptTask: Math.round((after.memory - before.memory) / count),
      payloadBytes: JSON.stringify(data).length,
    },
  };
  return r;
}
