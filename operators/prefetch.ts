/**
 * prefetch: chunk requests in, fetched chunks out, with at most `concurrency` fetches in
 * flight. Unordered by default (results flow as soon as they land, which keeps IO and compute
 * busy); `ordered: true` emits in request order. Backpressure: no new fetch starts while the
 * in-flight limit is reached, and the TransformStream does not call transform while its
 * readable side is full, so memory stays bounded by concurrency + the downstream queue.
 * An abort (of `signal`, or of the stream) cancels what is in flight.
 */
import { platform } from "../src/platform/current.js";
import { asAbortError } from "../src/errors.js";
import type { ByteBudget } from "./budget.js";

export interface PrefetchOptions<I, O> {
  /** Fetches one item; receives a signal that aborts when the stage is cancelled. */
  fetch: (item: I, signal: AbortSignal) => Promise<O>;
  /** Fetches in flight at once (default 8). */
  concurrency?: number;
  /** Emit in input order (default false). */
  ordered?: boolean;
  signal?: AbortSignal;
  /**
   * Bytes fetched but not yet released downstream: no fetch starts while it is spent. The stage
   * that finishes with an item releases `sizeOf(item)`.
   */
  budget?: ByteBudget;
  /**
   * Fetched results held for a downstream that has not taken them yet (default: `concurrency`).
   * With room for a round, requests keep going while compute is busy; a stage whose items are
   * big and not counted by a byte budget (a write's chunk pieces) keeps this small.
   */
  queue?: number;
  sizeOf?: (item: O) => number;
  /** Observes the number of fetches in flight after each change (for tests and metrics). */
  onInFlight?: (inFlight: number) => void;
}

/** Requests in flight when the caller does not say (`concurrency`). */
export const DEFAULT_CONCURRENCY = 8;

export function prefetch<I, O>(options: PrefetchOptions<I, O>): TransformStream<I, O> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
  const ordered = options.ordered ?? false;
  const abort = new AbortController();
  // Every fetch in flight listens on this signal (stores add an "abort" listener per request):
  // more than Node's default of 10 is by design here, not a leak.
  platform.unlimitedListeners(abort.signal);
  const onOuterAbort = () => abort.abort(options.signal?.reason);
  // An already aborted signal fires no "abort" event: honour it here, before any fetch starts.
  if (options.signal?.aborted) onOuterAbort();
  else options.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const inFlight = new Set<Promise<void>>();
  // For ordered output: results parked until every earlier one is emitted.
  const parked = new Map<number, O>();
  let nextToEmit = 0;
  let nextSeq = 0;
  let failure: { error: unknown } | undefined;
  // The readable side was cancelled: later results are dropped, in-flight fetches aborted, and
  // flush ends quietly (a rejected flush after a cancel surfaces as an uncaught error on Node 20).
  let cancelled = false;
  // A function, not an inline check: TypeScript cannot see that awaits may set `failure`.
  const throwIfFailed = (): void => {
    if (failure) throw failure.error;
  };

  const settle = (controller: TransformStreamDefaultController<O>, seq: number, value: O) => {
    if (!ordered) {
      controller.enqueue(value);
      return;
    }
    parked.set(seq, value);
    while (parked.has(nextToEmit)) {
      controller.enqueue(parked.get(nextToEmit) as O);
      parked.delete(nextToEmit++);
    }
  };

  const fail = (controller: TransformStreamDefaultController<O>, error: unknown) => {
    if (failure || cancelled) return;
    failure = { error };
    abort.abort(error);
    try {
      controller.error(error);
    } catch {
      // already errored or closed
    }
  };

  const abortPromise = new Promise<void>((resolve) => abort.signal.addEventListener("abort", () => resolve(), { once: true }));
  const cleanup = () => options.signal?.removeEventListener("abort", onOuterAbort);

  return new TransformStream<I, O>({
    async transform(item, controller) {
      if (failure) throw failure.error;
      if (abort.signal.aborted) throw asAbortError(abort.signal.reason);
      if (options.budget?.spent) {
        // Waiting here stops the intake; items already fetched keep flowing downstream.
        await Promise.race([options.budget.room(), abortPromise]);
        if (abort.signal.aborted) throw asAbortError(abort.signal.reason);
      }
      const seq = nextSeq++;
      const task: Promise<void> = options.fetch(item, abort.signal).then(
        (value) => {
          options.budget?.add(options.sizeOf?.(value) ?? 0);
          if (failure || cancelled) return;
          try {
            settle(controller, seq, value);
          } catch (error) {
            cancelled = true;
            abort.abort(error);
          }
        },
        (error: unknown) => fail(controller, abort.signal.aborted ? asAbortError(abort.signal.reason) : error),
      );
      inFlight.add(task);
      options.onInFlight?.(inFlight.size);
      void task.finally(() => {
        inFlight.delete(task);
        options.onInFlight?.(inFlight.size);
      });
      while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight);
      throwIfFailed();
    },
    async flush() {
      await Promise.all(inFlight);
      cleanup();
      if (failure) throw failure.error;
    },
  },
  undefined,
  // Room for fetched results downstream has not taken yet (`queue`): with none, the first
  // unread result stops the intake, so a busy compute stage would hold back the next requests
  // and IO would wait on compute instead of overlapping it. Memory stays bounded by this count
  // and by the byte budget.
  { highWaterMark: Math.max(0, Math.floor(options.queue ?? concurrency)) },
  );
}
