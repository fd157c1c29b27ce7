/**
 * enqueueCopy: the coordinator of a copy run by many machines. It plans the copy once (the same
 * planner as an in-process copy: planCopy, copyTasks), writes the destination's metadata once,
 * puts one BullMQ job per task on the queue — ids made of the copy id and the task's block, so
 * enqueuing again adds nothing — and follows the jobs to the end.
 *
 * Run again with the same arguments, it finds the copy's record in Redis and resumes: metadata
 * is not written again, finished tasks are skipped, failed ones are retried.
 *
 * Redis keys: BullMQ's under `bull:<queue>:…` (one hash per task, kept after it finishes so that
 * a re-run can skip it), and one hash per copy at `zarrflow:<queue>:copy:<id>`.
 */
import { createHash } from "node:crypto";
import { Queue, QueueEvents, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { ZarrArray } from "../array.js";
import { copyTasks, createCopyNode, planCopy, type CopyRegion } from "../convert.js";
import { AbortError, ContainsNodeError, NodeNotFoundError, type SerializedError } from "../errors.js";
import { open } from "../hierarchy.js";
import type { Selection } from "../selection.js";
import { joinKey, type Store } from "../store.js";
import { openStore } from "../../stores/open.js";
import {
  DEFAULT_QUEUE_NAME,
  connectRedis,
  decodeTaskError,
  plainSelection,
  redisOptions,
  sharedLocation,
  type CopyLayout,
  type OpenStore,
  type TaskCounters,
  type TaskData,
  type VerifyTaskResult,
} from "./shared.js";

export interface EnqueueCopyOptions {
  /** Path of the copy in the destination store (default ""). */
  path?: string;
  /** The destination layout, as for copyNode (src/convert.ts). */
  zarrFormat?: CopyLayout["zarrFormat"];
  chunks?: CopyLayout["chunks"];
  shards?: CopyLayout["shards"];
  compression?: CopyLayout["compression"];
  selection?: Selection;
  /** Replace what is at the destination (only when the copy starts; a resumed copy writes no metadata). */
  overwrite?: boolean;
  /** Once every copy task is done, compare the copy with the source, also as tasks. */
  verify?: boolean;
  queueName?: string;
  /** Tries per task before it counts as failed (default 3), with exponential backoff from backoffMs (default 1000). */
  attempts?: number;
  backoffMs?: number;
  /** Tasks grow towards this much uncompressed data (default 64 MiB), in whole destination shards or chunks. */
  taskBytes?: number;
  /** Follow the tasks to the end (default true); false returns once they are enqueued. */
  wait?: boolean;
  openStore?: OpenStore;
  /** Aborting stops following the tasks (they stay queued: a re-run picks them up). */
  signal?: AbortSignal;
  onProgress?: (progress: QueueProgress) => void;
}

export interface QueueProgress {
  copyId: string;
  phase: "copy" | "verify";
  tasksTotal: number;
  tasksDone: number;
  /** Tasks found done by an earlier run (included in tasksDone). */
  tasksSkipped: number;
  tasksFailed: number;
  /** Destination objects (shards or chunks) done, of all. */
  chunksWritten: number;
  chunksTotal: number;
  chunksRead: number;
  bytesRead: number;
  bytesWritten: number;
  /** Uncompressed bytes done in this run, and to do in this run (skipped tasks excluded). */
  dataBytesDone: number;
  dataBytesTotal: number;
  /** Task attempts repeated (a failure retried, a stalled worker's task taken again) and store retries. */
  retries: number;
}

export interface FailedTask {
  id: string;
  kind: TaskData["kind"];
  /** The array copied (its path in the source) and the task's box of the copy. */
  path: string;
  region: CopyRegion;
  /** The task's last error: its class name, message and, for zarrflow errors, array path and key. */
  error: SerializedError;
}

export interface QueuedCopySummary {
  copyId: string;
  /** An earlier run of the same copy was found: its metadata and finished tasks were kept. */
  resumed: boolean;
  arrays: number;
  groups: number;
  tasks: number;
  tasksSkipped: number;
  failed: FailedTask[];
  chunksRead: number;
  bytesRead: number;
  chunksWritten: number;
  bytesWritten: number;
  /** Uncompressed bytes of all copied arrays. */
  dataBytes: number;
  retries: number;
  elapsedMs: number;
  /** With verify: the comparison (null when copy tasks failed and nothing was verified). */
  verified?: { elements: number; mismatches: number; firstMismatch?: { path: string; index: number[] } } | null;
}

const DEFAULT_TASK_BYTES = 64 << 20;
const ADD_BATCH = 500;
/** Task states are read from Redis this often besides the event stream: no event is relied on alone. */
const RESCAN_MS = 5000;

interface PlannedTask {
  id: string;
  data: TaskData;
  chunks: number;
  dataBytes: number;
}

function copyIdOf(spec: unknown): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Copies `src` to `dst` (locations every worker can reach) through the queue at `redisUrl`:
 * plans, writes the destination metadata, enqueues the tasks and, unless `wait` is false,
 * follows them until each is done or has failed all its attempts. Failed tasks are listed in
 * the summary (nothing is thrown for them); an unreachable Redis is a ZarrflowError thrown
 * before anything is written.
 */
export async function enqueueCopy(src: string, dst: string, redisUrl: string, options: EnqueueCopyOptions = {}): Promise<QueuedCopySummary> {
  const started = performance.now();
  const srcLocation = sharedLocation(src);
  const dstLocation = sharedLocation(dst);
  const redis = await connectRedis(redisUrl);
  const openAt = options.openStore ?? ((location, o) => openStore(location, o));
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  let srcStore: Store | undefined;
  let dstStore: Store | undefined;
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  try {
    srcStore = await openAt(srcLocation, { readOnly: true });
    dstStore = await openAt(dstLocation, {});
    const source = await open(srcStore, { signal: options.signal });
    const layout: CopyLayout = {
      zarrFormat: options.zarrFormat,
      chunks: options.chunks,
      shards: options.shards,
      compression: options.compression,
      selection: plainSelection(options.selection),
    };
    const copyOptions = { ...layout, selection: layout.selection as Selection, path: options.path, overwrite: options.overwrite };
    const plans = await planCopy(source, copyOptions);
    const taskBytes = Math.max(1 << 20, options.taskBytes ?? DEFAULT_TASK_BYTES);
    const copyId = copyIdOf({ src: srcLocation, dst: dstLocation, path: joinKey(options.path ?? ""), layout, taskBytes });
    const recordKey = `zarrflow:${queueName}:copy:${copyId}`;

    // Tasks: one per block of each array, ids fixed by the copy and the block.
    const tasks: PlannedTask[] = [];
    plans.forEach((plan, a) => {
      if (!plan.array) return;
      for (const t of copyTasks(plan.array, taskBytes)) {
        const data: TaskData = {
          copyId,
          kind: "copy",
          src: srcLocation,
          dst: dstLocation,
          srcPath: (plan.node as ZarrArray).path,
          dstPath: plan.dstPath,
          layout,
          region: { start: t.start, end: t.end },
        };
        tasks.push({ id: `${copyId}.${a}.${t.start.join("-")}`, data, chunks: t.chunks, dataBytes: t.dataBytes });
      }
    });

    const resumed = (await redis.exists(recordKey)) === 1;
    if (!resumed) {
      if (!options.overwrite) {
        const existing = await open(dstStore, { path: joinKey(options.path ?? ""), signal: options.signal }).catch((error: unknown) => {
          if (error instanceof NodeNotFoundError) return undefined;
          throw error;
        });
        if (existing) {
          throw new ContainsNodeError(`${dst} already holds a Zarr ${existing instanceof ZarrArray ? "array" : "group"}; pass --overwrite (overwrite: true) to replace it`);
        }
      }
      // Metadata first and once: every task then writes into arrays that exist.
      for (const [n, plan] of plans.entries()) await createCopyNode(plan, n, dstStore, copyOptions);
      await redis.hset(recordKey, { src: srcLocation, dst: dstLocation, spec: JSON.stringify({ layout, path: options.path ?? "" }), tasks: tasks.length, created: new Date().toISOString() });
    }

    const connection = redisOptions(redisUrl);
    queue = new Queue<TaskData>(queueName, { connection });
    queue.on("error", () => undefined);
    events = new QueueEvents(queueName, { connection });
    events.on("error", () => undefined);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const jobOptions: JobsOptions = {
      attempts: Math.max(1, options.attempts ?? 3),
      backoff: { type: "exponential", delay: Math.max(0, options.backoffMs ?? 1000) },
      // Kept: a re-run skips what is in the completed set.
      removeOnComplete: false,
      removeOnFail: false,
    };
    const follow = new Follower(redis, queue, events, copyId, options, jobOptions);
    const arrays = plans.filter((p) => p.array).length;
    const summary: QueuedCopySummary = {
      copyId,
      resumed,
      arrays,
      groups: plans.length - arrays,
      tasks: tasks.length,
      tasksSkipped: 0,
      failed: [],
      chunksRead: 0,
      bytesRead: 0,
      chunksWritten: 0,
      bytesWritten: 0,
      dataBytes: plans.reduce((n, p) => n + (p.array?.dataBytes ?? 0), 0),
      retries: 0,
      elapsedMs: 0,
    };
    const copy = await follow.run("copy", tasks);
    summary.tasksSkipped = copy.skipped;
    summary.failed = copy.failed;
    summary.retries = copy.progress.retries;
    summary.chunksRead = copy.progress.chunksRead;
    summary.bytesRead = copy.progress.bytesRead;
    summary.chunksWritten = copy.progress.chunksWritten;
    summary.bytesWritten = copy.progress.bytesWritten;
    if (options.verify && options.wait !== false) {
      if (copy.failed.length) summary.verified = null;
      else {
        const checks = tasks.map((t) => ({ ...t, id: `${copyId}.v.${t.id.slice(copyId.length + 1)}`, data: { ...t.data, kind: "verify" as const } }));
        const verify = await follow.run("verify", checks);
        summary.failed = verify.failed;
        summary.retries += verify.progress.retries;
        const verified: NonNullable<QueuedCopySummary["verified"]> = { elements: 0, mismatches: 0 };
        for (const t of checks) {
          const result = verify.results.get(t.id) as VerifyTaskResult | undefined;
          if (!result) continue;
          verified.elements += result.elements;
          verified.mismatches += result.mismatches;
          if (result.firstMismatch && !verified.firstMismatch) verified.firstMismatch = { path: t.data.dstPath, index: result.firstMismatch };
        }
        summary.verified = verified;
      }
    }
    summary.elapsedMs = performance.now() - started;
    return summary;
  } finally {
    await events?.close().catch(() => undefined);
    await queue?.close().catch(() => undefined);
    redis.disconnect();
    await srcStore?.close?.();
    await dstStore?.close?.();
  }
}

interface PhaseOutcome {
  skipped: number;
  failed: FailedTask[];
  results: Map<string, TaskCounters | VerifyTaskResult | null>;
  progress: QueueProgress;
}

/** Enqueues one phase's tasks and follows them to the end, from the event stream and Redis' sets. */
class Follower {
  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly copyId: string,
    private readonly options: EnqueueCopyOptions,
    private readonly jobOptions: JobsOptions,
  ) {}

  async run(phase: QueueProgress["phase"], tasks: PlannedTask[]): Promise<PhaseOutcome> {
    const { queue, events, options } = this;
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const done = new Map<string, TaskCounters | VerifyTaskResult | null>();
    const failed = new Map<string, string>();
    const partial = new Map<string, TaskCounters>();
    let eventRetries = 0;
    const ours = (jobId: string) => byId.has(jobId);
    const onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => {
      if (!ours(jobId)) return;
      failed.delete(jobId);
      partial.delete(jobId);
      done.set(jobId, (returnvalue ?? null) as TaskCounters | VerifyTaskResult | null);
    };
    const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => {
      if (ours(jobId) && !done.has(jobId)) failed.set(jobId, failedReason);
    };
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
      if (ours(jobId) && !done.has(jobId) && data && typeof data === "object") partial.set(jobId, data as TaskCounters);
    };
    const onRetry = ({ jobId }: { jobId: string }) => {
      if (ours(jobId)) eventRetries++;
    };
    events.on("completed", onCompleted);
    events.on("failed", onFailed);
    events.on("progress", onProgress);
    events.on("stalled", onRetry);
    // With a backoff, a failed attempt waits in the delayed set: one "delayed" event per retry.
    events.on("delayed", onRetry);
    try {
      // What earlier runs finished is skipped; what they gave up on is tried again.
      const before = await this.states(tasks.map((t) => t.id));
      const skipped = new Set<string>();
      for (const [id, state] of before) {
        if (state === "completed") {
          skipped.add(id);
          done.set(id, phase === "verify" ? await this.returnValue(id) : null);
        } else if (state === "failed") {
          const job = await queue.getJob(id);
          await job?.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
        }
      }
      const toAdd = tasks.filter((t) => !skipped.has(t.id));
      for (let i = 0; i < toAdd.length; i += ADD_BATCH) {
        this.throwIfAborted();
        await queue.addBulk(toAdd.slice(i, i + ADD_BATCH).map((t) => ({ name: t.data.kind, data: t.data, opts: { ...this.jobOptions, jobId: t.id } })));
      }
      const progress = (): QueueProgress => {
        const p: QueueProgress = {
          copyId: this.copyId,
          phase,
          tasksTotal: tasks.length,
          tasksDone: done.size,
          tasksSkipped: skipped.size,
          tasksFailed: failed.size,
          chunksWritten: 0,
          chunksTotal: 0,
          chunksRead: 0,
          bytesRead: 0,
          bytesWritten: 0,
          dataBytesDone: 0,
          dataBytesTotal: 0,
          retries: eventRetries,
        };
        for (const t of tasks) {
          p.chunksTotal += t.chunks;
          if (!skipped.has(t.id)) p.dataBytesTotal += t.dataBytes;
          const result = done.get(t.id);
          const counts = result && "bytesRead" in result ? result : partial.get(t.id);
          if (done.has(t.id)) p.chunksWritten += t.chunks;
          else if (counts) p.chunksWritten += counts.chunksWritten;
          if (done.has(t.id) && !skipped.has(t.id)) p.dataBytesDone += t.dataBytes;
          else if (!done.has(t.id) && counts) p.dataBytesDone += counts.dataBytesDone;
          if (counts) {
            p.chunksRead += counts.chunksRead;
            p.bytesRead += counts.bytesRead;
            p.bytesWritten += counts.bytesWritten;
            p.retries += counts.storeRetries ?? 0;
          }
        }
        return p;
      };
      let lastScan = performance.now();
      while (done.size + failed.size < tasks.length) {
        this.throwIfAborted();
        options.onProgress?.(progress());
        if (options.wait === false) break;
        await sleep(200);
        if (performance.now() - lastScan >= RESCAN_MS) {
          lastScan = performance.now();
          const open = tasks.filter((t) => !done.has(t.id) && !failed.has(t.id)).map((t) => t.id);
          for (const [id, state] of await this.states(open)) {
            if (state === "completed" && !done.has(id)) done.set(id, await this.returnValue(id));
            if (state === "failed" && !failed.has(id)) failed.set(id, (await queue.getJob(id))?.failedReason ?? "failed");
          }
        }
      }
      const final = progress();
      options.onProgress?.(final);
      return {
        skipped: skipped.size,
        failed: [...failed].map(([id, reason]) => {
          const t = byId.get(id) as PlannedTask;
          return { id, kind: t.data.kind, path: t.data.srcPath, region: t.data.region, error: decodeTaskError(reason) };
        }),
        results: done,
        progress: final,
      };
    } finally {
      events.off("completed", onCompleted);
      events.off("failed", onFailed);
      events.off("progress", onProgress);
      events.off("stalled", onRetry);
      events.off("delayed", onRetry);
    }
  }

  private throwIfAborted(): void {
    if (this.options.signal?.aborted) {
      throw new AbortError("stopped following the copy; its tasks stay queued and a re-run resumes them", { cause: this.options.signal.reason });
    }
  }

  /** Completed or failed, for each task that is either: two set look-ups per task, pipelined. */
  private async states(ids: string[]): Promise<Map<string, "completed" | "failed">> {
    const out = new Map<string, "completed" | "failed">();
    const { completed, failed } = this.queue.keys;
    for (let i = 0; i < ids.length; i += 5000) {
      const batch = ids.slice(i, i + 5000);
      const pipeline = this.redis.pipeline();
      for (const id of batch) pipeline.zscore(completed, id).zscore(failed, id);
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((id, k) => {
        const [[, inCompleted], [, inFailed]] = [replies[2 * k] ?? [null, null], replies[2 * k + 1] ?? [null, null]];
        if (inCompleted !== null && inCompleted !== undefined) out.set(id, "completed");
        else if (inFailed !== null && inFailed !== undefined) out.set(id, "failed");
      });
    }
    return out;
  }

  private async returnValue(id: string): Promise<TaskCounters | VerifyTaskResult | null> {
    const job = await this.queue.getJob(id);
    return (job?.returnvalue ?? null) as TaskCounters | VerifyTaskResult | null;
  }
}

