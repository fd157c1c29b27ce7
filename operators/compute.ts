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
  /**
   * Consecutive items with the same (defined) key go to the same batch, whatever its weight
   * (up to 16 × `batchWeight`): a read uses it for chunks whose places in the output share
   * memory pages, so that two workers do not first-touch the same fresh pages at once (each
   * would take the page fault), and for the inner chunks of one shard, so the shard's buffer
   * can be handed to the worker whole instead of copied apart.
   */
  group?: (item: I) => string | undefined;
  /** A group is cut into batches past this much weight (default 16 × `batchWeight`). */
  maxGroupWeight?: number;
}

/** A group of items is cut into batches once it reaches this many times `batchWeight`. */
const MAX_GROUP_BATCHES = 16;

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
  const maxGroup = options.maxGroupWeight ?? MAX_GROUP_BATCHES * target;
  const inFlight = new Set<Promise<void>>();
  let pending: I[] = [];
  let pendingWeight = 0;
  // With `group`: the pending items from `openFrom` on are the group still arriving (the next
  // item may belong to it), so a batch sent before the group ends leaves them pending.
  let openFrom = 0;
  let lastKey: string | undefined;
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

  // A group left open with nothing in flight is sent after a timer turn unless its next item
  // comes first: the intake may be waiting on this stage (a byte budget released only as
  // items finish), and then the next item never comes. Grouping is best effort; progress is not.
  let valve: ReturnType<typeof setTimeout> | undefined;
  const openGroupValve = (controller: TransformStreamDefaultController<O>) => {
    if (valve !== undefined || inFlight.size > 0 || pending.length === 0) return;
    valve = setTimeout(() => {
      valve = undefined;
      if (inFlight.size === 0) dispatch(controller);
    }, 0);
  };

  const dispatch = (controller: TransformStreamDefaultController<O>, closedOnly = false) => {
    const cut = closedOnly && options.group ? openFrom : pending.length;
    if (cut === 0 || failure || cancelled) return;
    const items = cut === pending.length ? pending : pending.slice(0, cut);
    pending = cut === pending.length ? [] : pending.slice(cut);
    pendingWeight = 0;
    for (const item of pending) pendingWeight += weightOf(item);
    openFrom = 0;
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
      // Keep the workers fed: whatever gathered while this batch ran goes now (but not a group
      // whose next items may still come).
      if (inFlight.size < pool.capacity) dispatch(controller, true);
      openGroupValve(controller);
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
      const key = options.group?.(item);
      if (key === undefined) {
        openFrom = pending.length + 1;
        pending.push(item);
        pendingWeight += weight;
        if (pendingWeight >= target || inFlight.size === 0) dispatch(controller);
      } else {
        if (pending.length === 0 || key !== lastKey) {
          // A new group begins: what is pending before it is complete.
          openFrom = pending.length;
          if (pending.length && (pendingWeight >= target || inFlight.size === 0)) dispatch(controller, true);
        }
        pending.push(item);
        pendingWeight += weight;
        if (pendingWeight >= maxGroup) dispatch(controller);
        openGroupValve(controller);
      }
      lastKey = key;
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
