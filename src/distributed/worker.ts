/**
 * runWorker: takes copy and verify tasks from the queue and runs each with the normal pipeline
 * (copyArrayRegion / verifyCopy of src/convert.ts), under this process's own concurrency, codec
 * workers and memory budget. A task rewrites whole destination objects, so running one twice
 * (a worker killed mid-task, its task picked up again after the stall interval) is harmless.
 */
import { Worker, type Job } from "bullmq";
import type { ZarrArray } from "../array.js";
import { copyArrayRegion, emptyCounters, planArrayCopy, verifyCopy, type CopyOptions } from "../convert.js";
import { MetadataError, serializeError } from "../errors.js";
import { openArray } from "../hierarchy.js";
import type { Selection } from "../selection.js";
import type { Store } from "../store.js";
import { openStore } from "../../stores/open.js";
import {
  DEFAULT_QUEUE_NAME,
  connectRedis,
  decodeTaskError,
  encodeTaskError,
  redisOptions,
  type OpenStore,
  type TaskCounters,
  type TaskData,
  type VerifyTaskResult,
} from "./shared.js";

export interface RunWorkerOptions {
  queueName?: string;
  /** Tasks run at once by this process (default 1): each already runs a parallel pipeline. */
  tasks?: number;
  /** Pipeline options for each task, as for a copy in one process. */
  concurrency?: number;
  workers?: number | "auto";
  memoryBytes?: number;
  /**
   * How long a task may go without this worker renewing its claim, and how often claims are
   * checked (default 30 s): a worker killed outright has its task run again after about this long.
   */
  stallIntervalMs?: number;
  openStore?: OpenStore;
  /** Aborting stops taking tasks; the tasks running finish first (see WorkerHandle.close). */
  signal?: AbortSignal;
  /** Each task's outcome, as it happens (a failed attempt that will be retried included). */
  onTask?: (event: TaskEvent) => void;
}

export interface TaskEvent {
  id: string;
  kind: TaskData["kind"];
  outcome: "started" | "done" | "failed";
  /** 1 for the first try. */
  attempt: number;
  attempts: number;
  elapsedMs: number;
  result?: TaskCounters | VerifyTaskResult;
  error?: { name: string; message: string; path?: string; key?: string };
}

export interface WorkerSummary {
  tasksDone: number;
  /** Failed attempts (retried or not). */
  tasksFailed: number;
}

export interface WorkerHandle {
  /** Stops taking tasks, lets the running ones finish, closes the connections. */
  close(): Promise<WorkerSummary>;
  /** Settles when the worker has closed (through close() or the signal). */
  readonly closed: Promise<WorkerSummary>;
}

/** Store retries, for the stores that count them (HTTP; the CLI's observed stores). */
function retriesOf(store: Store): number {
  const source = store as { retries?: unknown; stats?: { retries?: unknown } };
  const value = source.retries ?? source.stats?.retries;
  return typeof value === "number" ? value : 0;
}

/** Starts a worker on the queue at `redisUrl` (redis://host:port[/db]); an unreachable Redis is a ZarrflowError. */
export async function runWorker(redisUrl: string, options: RunWorkerOptions = {}): Promise<WorkerHandle> {
  const redis = await connectRedis(redisUrl);
  // This process's own connection was only the reachability check; BullMQ opens its own.
  redis.disconnect();
  const open = options.openStore ?? ((location, o) => openStore(location, o));
  const stores = new Map<string, Promise<Store>>();
  const storeAt = (location: string, readOnly: boolean) => {
    const key = `${readOnly ? "r" : "w"} ${location}`;
    let store = stores.get(key);
    if (!store) {
      store = open(location, { readOnly });
      stores.set(key, store);
      store.catch(() => stores.delete(key));
    }
    return store;
  };
  const pipeline: Pick<CopyOptions, "concurrency" | "workers" | "memoryBytes"> = { concurrency: options.concurrency, workers: options.workers, memoryBytes: options.memoryBytes };

  async function runTask(job: Job<TaskData>): Promise<TaskCounters | VerifyTaskResult> {
    const task = job.data;
    const [srcStore, dstStore] = await Promise.all([storeAt(task.src, true), storeAt(task.dst, false)]);
    const retriesBefore = retriesOf(srcStore) + retriesOf(dstStore);
    const source = await openArray(srcStore, { path: task.srcPath });
    const layout = { ...task.layout, selection: task.layout.selection as Selection };
    const plan = planArrayCopy(source, { ...layout, path: task.dstPath });
    const dst: ZarrArray = await openArray(dstStore, { path: task.dstPath });
    // The plan is made again here from the same inputs; a destination that no longer matches it
    // (replaced since the copy was planned) must not receive this task's objects.
    if (dst.shape.join() !== plan.create.shape.join() || dst.chunkShape.join() !== plan.storedChunks.join() || dst.dtype !== plan.create.dtype) {
      throw new MetadataError(
        `the destination is ${dst.dtype} [${dst.shape}] in objects of [${dst.chunkShape}], the copy was planned as ${plan.create.dtype} [${plan.create.shape}] in [${plan.storedChunks}]`,
        { path: task.dstPath },
      );
    }
    if (task.kind === "verify") {
      const result = await verifyCopy(source, dst, { ...pipeline, selection: layout.selection, region: task.region });
      return { elements: result.elements, mismatches: result.mismatches, ...(result.firstMismatch ? { firstMismatch: result.firstMismatch } : {}) };
    }
    const counters = emptyCounters();
    const snapshot = (): TaskCounters => ({
      chunksRead: counters.chunksRead,
      bytesRead: counters.bytesRead,
      chunksWritten: counters.chunksWritten,
      bytesWritten: counters.bytesWritten,
      dataBytesDone: counters.dataBytesDone,
      storeRetries: retriesOf(srcStore) + retriesOf(dstStore) - retriesBefore,
    });
    let reported = performance.now();
    await copyArrayRegion(
      plan,
      dst,
      {
        ...pipeline,
        onProgress: () => {
          // The coordinator's progress line between task ends; a second is plenty for one line.
          if (performance.now() - reported < 1000) return;
          reported = performance.now();
          job.updateProgress(snapshot()).catch(() => undefined);
        },
      },
      counters,
      task.region,
    );
    return snapshot();
  }

  const started = new Map<string, number>();
  const summary: WorkerSummary = { tasksDone: 0, tasksFailed: 0 };
  const stall = Math.max(1000, options.stallIntervalMs ?? 30_000);
  const worker = new Worker<TaskData, TaskCounters | VerifyTaskResult>(
    options.queueName ?? DEFAULT_QUEUE_NAME,
    async (job) => {
      started.set(job.id as string, performance.now());
      try {
        return await runTask(job);
      } catch (error) {
        // BullMQ keeps only a message: keep the typed error (name, array, key) in it.
        throw new Error(encodeTaskError(serializeError(error)));
      }
    },
    {
      connection: redisOptions(redisUrl),
      concurrency: Math.max(1, options.tasks ?? 1),
      lockDuration: stall,
      stalledInterval: stall,
      // A task whose worker died twice is run a third time before it is given up.
      maxStalledCount: 2,
    },
  );
  const event = (job: Job<TaskData>, outcome: TaskEvent["outcome"], extra: Partial<TaskEvent>): TaskEvent => {
    const t0 = started.get(job.id as string);
    started.delete(job.id as string);
    // BullMQ has counted the attempt that just ended by now.
    return {
      id: job.id as string,
      kind: job.data.kind,
      outcome,
      attempt: job.attemptsMade,
      attempts: job.opts.attempts ?? 1,
      elapsedMs: t0 === undefined ? 0 : performance.now() - t0,
      ...extra,
    };
  };
  worker.on("active", (job) => {
    options.onTask?.({ id: job.id as string, kind: job.data.kind, outcome: "started", attempt: job.attemptsMade + 1, attempts: job.opts.attempts ?? 1, elapsedMs: 0 });
  });
  worker.on("completed", (job, result) => {
    summary.tasksDone++;
    options.onTask?.(event(job, "done", { result }));
  });
  worker.on("failed", (job, error) => {
    summary.tasksFailed++;
    if (job) options.onTask?.(event(job, "failed", { error: decodeTaskError(error.message) }));
  });
  // Connection trouble: BullMQ reconnects by itself; an unhandled "error" event would end the process.
  worker.on("error", () => undefined);
  await worker.waitUntilReady();

  let closing: Promise<WorkerSummary> | undefined;
  let settle: (summary: WorkerSummary) => void = () => undefined;
  const closed = new Promise<WorkerSummary>((resolve) => (settle = resolve));
  const close = () => {
    closing ??= (async () => {
      await worker.close();
      for (const store of stores.values()) await (await store.catch(() => undefined))?.close?.();
      settle(summary);
      return summary;
    })();
    return closing;
  };
  if (options.signal?.aborted) void close();
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return { close, closed };
}
