/**
 * compute: maps the synchronous codec work (decode for reads, merge + encode for writes) over
 * the stream — inline on this thread, or in batches on a worker pool.
 *
 * With a pool, items are gathered into batches of about `batchWeight` (bytes of work) so that
 * a task's fixed cost (a postMessage round trip, tens of µs) is small next to its work; a
 * batch is sent early whenever the stage has nothing in flight, so workers never idle while
 * items wait. At most `pool.capacity` batches are in flight; while that is reached the stage
 * stops accepting input (backpressure). Output order is completion order.
 */
import type { MaybePromise } from "../src/codecs/codec.js";
import { asAbortError } from "../src/errors.js";
import type { WorkerPool } from "./pool.js";

export interface ComputeOptions<I, O> {
  /** Processes one item on this thread. */
  inline: (item: I) => MaybePromise<O>;
  /** Processes a batch on the pool; without it (or without a pool) everything runs inline. */
  batch?: (items: I[], pool: WorkerPool) => Promise<O[]>;
  pool?: WorkerPool;
  /** Bytes of work an item represents (default 1). Items of weight 0 always run inline. */
  weight?: (item: I) => number;
  /** Target work per batch (default 1 MiB). */
  batchWeight?: number;
  signal?: AbortSignal;
  /** Emit results in input order (default false: completion order). */
  ordered?: boolean;
  /** Observes batches in flight (for tests and metrics). */
  onInFlight?: (inFlight: number) => void;
}

/** Ordered mode: results held back waiting for an earlier batch, at most (then the intake waits). */
const MAX_PARKED = 64;

export function compute<I, O>(options: ComputeOptions<I, O>): TransformStream<I, O> {
  const { inline, batch: runBatch, pool, signal } = options;
  if (!pool || !runBatch) {
    return new TransformStream<I, O>({
      async transform(item, controller) {
        if (signal?.aborted) throw asAbortError(signal.reason);
        const result = inline(item);
        controller.enqueue(result instanceof Promise ? await result : result);
      },
    });
  }

  const weightOf = options.weight ?? (() => 1);
  const target = options.batchWeight ?? 1 << 20;
  const inFlight = new Set<Promise<void>>();
  let pending: I[] = [];
  let pendingWeight = 0;
  // Ordered output: batches finish out of order, so results wait here for their predecessors.
  const parked = new Map<number, O[]>();
  let nextBatch = 0;
  let nextToEmit = 0;
  const emit = (controller: TransformStreamDefaultController<O>, seq: number, results: O[]) => {
    if (!options.ordered) {
      for (const result of results) controller.enqueue(result);
      return;
    }
    parked.set(seq, results);
    while (parked.has(nextToEmit)) {
      for (const result of parked.get(nextToEmit) as O[]) controller.enqueue(result);
      parked.delete(nextToEmit++);
    }
  };
  let failure: { error: unknown } | undefined;
  // The readable side was cancelled: results are dropped and flush ends quietly (a rejected
  // flush after a cancel surfaces as an uncaught error on Node 20).
  let cancelled = false;
  const throwIfFailed = (): void => {
    if (failure) throw failure.error;
  };

  const dispatch = (controller: TransformStreamDefaultController<O>) => {
    if (pending.length === 0 || failure || cancelled) return;
    const items = pending;
    pending = [];
    pendingWeight = 0;
    const seq = nextBatch++;
    const task: Promise<void> = runBatch(items, pool).then(
      (results) => {
        if (failure || cancelled) return;
        try {
          emit(controller, seq, results);
        } catch {
          cancelled = true; // the readable side was cancelled while the batch ran
        }
      },
      (error: unknown) => {
        failure ??= { error };
        try {
          controller.error(error);
        } catch {
          // already errored
        }
      },
    );
    inFlight.add(task);
    options.onInFlight?.(inFlight.size);
    void task.finally(() => {
      inFlight.delete(task);
      options.onInFlight?.(inFlight.size);
      // Keep the workers fed: whatever gathered while this batch ran goes now.
      if (inFlight.size < pool.capacity) dispatch(controller);
    });
  };

  return new TransformStream<I, O>({
    async transform(item, controller) {
      throwIfFailed();
      if (signal?.aborted) throw asAbortError(signal.reason);
      const weight = weightOf(item);
      if (weight === 0) {
        // Weightless items (absent chunks) run here. In ordered mode they take a place in the
        // batch sequence (after whatever is pending), and their parked results are capped.
        if (!options.ordered) {
          const result = inline(item);
          controller.enqueue(result instanceof Promise ? await result : result);
          return;
        }
        dispatch(controller);
        const seq = nextBatch++;
        const result = inline(item);
        emit(controller, seq, [result instanceof Promise ? await result : result]);
        while (parked.size >= MAX_PARKED && inFlight.size && !failure) await Promise.race(inFlight);
        throwIfFailed();
        return;
      }
      pending.push(item);
      pendingWeight += weight;
      if (pendingWeight >= target || inFlight.size === 0) dispatch(controller);
      while (inFlight.size >= pool.capacity && !failure) await Promise.race(inFlight);
      throwIfFailed();
    },
    async flush(controller) {
      while ((pending.length || inFlight.size) && !cancelled) {
        dispatch(controller);
        await Promise.all(inFlight);
        throwIfFailed();
      }
    },
  });
}
