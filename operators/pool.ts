/**
 * The worker pool behind the compute stage. Workers are started by the runtime (Node:
 * worker_threads through threads.js; browsers: module Web Workers) but scheduled
 * here, not by threads' Pool (which waits on a setTimeout per task, ~0.65 ms). Each worker is handed a MessagePort at start and tasks travel on it as plain
 * messages with transfer lists (warm, threads' own call path costs ≈ 20 µs of main-thread time
 * per call, the port ≈ 8 µs). Each worker takes at most `tasksPerWorker` tasks at once, a task goes to the
 * least-loaded worker, and a caller that finds every slot busy waits for one — there is no
 * unbounded queue. Workers are unref'ed while idle (Node), so the pool never keeps a process alive,
 * and are started lazily on first use.
 */
import { ZarrflowError, deserializeError, type SerializedError } from "../src/errors.js";
import { platform } from "../src/platform/current.js";
import type { WorkerHandle } from "../src/platform/types.js";
import type { CancelMessage, TaskMessage, TaskReply } from "../src/worker.js";

interface Slot {
  /** The worker (started by the runtime's spawnWorker, src/platform/) and its task channel. */
  handle: WorkerHandle;
  /** The callers waiting on the task channel, by task id. */
  replies: Map<number, { resolve: (result: TaskReply["result"]) => void; reject: (error: Error) => void }>;
  nextId: number;
  inFlight: number;
  alive: boolean;
}

export interface WorkerPoolOptions {
  /** Number of workers (default: the machine's available parallelism, at most 8). */
  size?: number;
  /** Tasks in flight per worker (default 2: one running, one queued in the worker's inbox). */
  tasksPerWorker?: number;
}

export class PoolClosedError extends ZarrflowError {
  override readonly code: string = "POOL_CLOSED";
}

/** A worker died (crashed, ran out of memory, was terminated) with the task in flight. The pool replaces it. */
export class WorkerExitedError extends ZarrflowError {
  override readonly code: string = "WORKER_EXITED";
}

export class WorkerPool {
  readonly size: number;
  readonly tasksPerWorker: number;
  private slots: Promise<Slot[]> | undefined;
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  /** Replacements for exited workers being started. */
  private respawning = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? platform.parallelism()));
    this.tasksPerWorker = Math.max(1, Math.floor(options.tasksPerWorker ?? 2));
  }

  /** Tasks the pool accepts at once. */
  get capacity(): number {
    return this.size * this.tasksPerWorker;
  }

  private start(): Promise<Slot[]> {
    this.slots ??= (async () => {
      const slots: Slot[] = [];
      await Promise.all(Array.from({ length: this.size }, async (_, i) => (slots[i] = await this.spawnSlot(slots, i))));
      return slots;
    })();
    return this.slots;
  }

  /** Starts the worker for `slots[i]`; when it exits while the pool is open, a replacement takes its place. */
  private async spawnSlot(slots: Slot[], i: number): Promise<Slot> {
    const handle = await platform.spawnWorker();
    const replies: Slot["replies"] = new Map();
    handle.port.onmessage = (event) => {
      const reply = event.data as TaskReply;
      replies.get(reply.id)?.resolve(reply.result);
    };
    // Listening refs the port again (Node): idle until a task is sent.
    handle.unref();
    // Tasks in flight on a worker that exits would never be answered: fail them. (Not by racing
    // each reply against a never-settling "exited" promise: every race leaves a reaction on it
    // that keeps the task's result alive for the worker's lifetime.)
    const onExit = (code: number) => {
      const message = `pool worker exited (code ${code}) with a task in flight`;
      for (const waiting of replies.values()) {
        waiting.reject(this.closed ? new PoolClosedError("the worker pool was closed with a task in flight") : new WorkerExitedError(message));
      }
      replies.clear();
    };
    const slot: Slot = { handle, replies, nextId: 0, inFlight: 0, alive: true };
    handle.onExit((code) => {
      slot.alive = false;
      handle.port.close();
      onExit(code);
      if (this.closed || slots[i] !== slot) return;
      this.respawning++;
      this.spawnSlot(slots, i).then(
        (next) => {
          if (this.closed) void next.handle.terminate();
          else slots[i] = next;
        },
        () => undefined, // the slot stays dead; run() gives up once no worker is left
      ).finally(() => {
        this.respawning--;
        this.waiters.shift()?.();
      });
    });
    return slot;
  }

  private pick(slots: Slot[]): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of slots) {
      if (!slot.alive || slot.inFlight >= this.tasksPerWorker) continue;
      if (!best || slot.inFlight < best.inFlight) best = slot;
    }
    return best;
  }

  /**
   * Runs `method` on the least-loaded worker, waiting for a free slot if all are busy.
   * `transfer` lists buffers moved (not copied) to the worker. When `signal` aborts, the worker
   * is asked to cancel the task (tasks that wait on IO stop early); the slot stays taken until
   * the worker answers.
   */
  async run<T>(method: string, task: unknown, transfer: ArrayBuffer[] = [], signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new PoolClosedError("the worker pool is closed");
    const slots = await this.start();
    let slot = this.pick(slots);
    while (!slot) {
      if (!slots.some((s) => s.alive) && this.respawning === 0) throw new PoolClosedError("every pool worker has exited");
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      if (this.closed) throw new PoolClosedError("the worker pool is closed");
      slot = this.pick(slots);
    }
    if (slot.inFlight++ === 0) slot.handle.ref();
    const id = slot.nextId++;
    const cancel = () => {
      const message: CancelMessage = { cancel: id };
      if (slot.alive) slot.handle.port.postMessage(message, []);
    };
    try {
      if (!slot.alive) throw new WorkerExitedError("pool worker exited before the task was sent");
      const reply = new Promise<TaskReply["result"]>((resolve, reject) => slot.replies.set(id, { resolve, reject }));
      const message: TaskMessage = { id, method, task };
      slot.handle.port.postMessage(message, [...new Set(transfer)]);
      if (signal?.aborted) cancel();
      else signal?.addEventListener("abort", cancel, { once: true });
      const result = (await reply) as { ok: true; value: T } | { ok: false; error: SerializedError };
      if (!result.ok) throw deserializeError(result.error);
      return result.value;
    } finally {
      signal?.removeEventListener("abort", cancel);
      slot.replies.delete(id);
      if (--slot.inFlight === 0) slot.handle.unref();
      this.waiters.shift()?.();
    }
  }

  /** Terminates the workers. Tasks in flight reject; later run() calls reject with PoolClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    const slots = this.slots;
    this.slots = undefined;
    if (!slots) return;
    await Promise.all((await slots).map((slot) => slot.handle.terminate()));
  }
}

let shared: WorkerPool | undefined;

/** The process-wide pool, created on first use and sized to the machine. */
export function sharedPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}

/** Closes the shared pool (a later sharedPool() call creates a new one). */
export async function closeSharedPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
