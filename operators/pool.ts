/**
 * The worker pool behind the compute stage. Workers are started with threads.js (`spawn`,
 * `Transfer`) but scheduled here, not by threads' Pool (which waits on a setTimeout per task,
 * ~0.65 ms): each worker takes at most `tasksPerWorker` tasks at once, a task goes to the
 * least-loaded worker, and a caller that finds every slot busy waits for one — there is no
 * unbounded queue. Workers are unref'ed while idle, so the pool never keeps a process alive,
 * and are started lazily on first use.
 */
import { availableParallelism } from "node:os";
import { ZarrflowError, deserializeError, type SerializedError } from "../src/errors.js";

type ThreadsModule = typeof import("threads");
type RawWorker = import("node:worker_threads").Worker;

interface Slot {
  thread: Record<string, (arg: unknown) => Promise<unknown>>;
  worker: RawWorker;
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

let threadsModule: Promise<ThreadsModule> | undefined;

/**
 * Loads threads.js once. Importing it installs SIGINT/SIGTERM handlers that terminate every
 * worker and call process.exit(0) — a library must not take over signals, so those handlers
 * are removed again right after the import.
 */
function loadThreads(): Promise<ThreadsModule> {
  threadsModule ??= (async () => {
    const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
    const mod = await import("threads");
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      for (const listener of process.listeners(signal)) {
        if (!before[signal].includes(listener)) process.removeListener(signal, listener);
      }
    }
    return mod;
  })();
  return threadsModule;
}

/**
 * The worker script: the built JS, or the tsx bootstrap when running from source. threads.js
 * resolves it relative to the calling file (this one), so the path is relative.
 */
function workerScript(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  return fromSource ? "../src/worker-bootstrap.mjs" : "../src/worker.js";
}

export class WorkerPool {
  readonly size: number;
  readonly tasksPerWorker: number;
  private slots: Promise<Slot[]> | undefined;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? Math.min(8, availableParallelism())));
    this.tasksPerWorker = Math.max(1, Math.floor(options.tasksPerWorker ?? 2));
  }

  /** Tasks the pool accepts at once. */
  get capacity(): number {
    return this.size * this.tasksPerWorker;
  }

  private start(): Promise<Slot[]> {
    this.slots ??= (async () => {
      const { spawn, Worker } = await loadThreads();
      const script = workerScript();
      return Promise.all(
        Array.from({ length: this.size }, async () => {
          const worker = new Worker(script) as unknown as RawWorker;
          const thread = (await spawn(worker as never, { timeout: 60_000 })) as unknown as Slot["thread"];
          const slot: Slot = { thread, worker, inFlight: 0, alive: true };
          worker.unref();
          worker.on("exit", () => (slot.alive = false));
          return slot;
        }),
      );
    })();
    return this.slots;
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
   * `transfer` lists buffers moved (not copied) to the worker.
   */
  async run<T>(method: string, task: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) throw new PoolClosedError("the worker pool is closed");
    const slots = await this.start();
    let slot = this.pick(slots);
    while (!slot) {
      if (!slots.some((s) => s.alive)) throw new PoolClosedError("every pool worker has exited");
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      if (this.closed) throw new PoolClosedError("the worker pool is closed");
      slot = this.pick(slots);
    }
    if (slot.inFlight++ === 0) slot.worker.ref();
    try {
      const { Transfer } = await loadThreads();
      const arg = transfer.length ? Transfer(task as never, [...new Set(transfer)]) : task;
      const result = (await slot.thread[method](arg)) as { ok: true; value: T } | { ok: false; error: SerializedError };
      if (!result.ok) throw deserializeError(result.error);
      return result.value;
    } finally {
      if (--slot.inFlight === 0) slot.worker.unref();
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
    const { Thread } = await loadThreads();
    await Promise.all((await slots).map((slot) => Thread.terminate(slot.thread as never).catch(() => undefined)));
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
