/**
 * commit: the write end of the pipeline. Each item sets a key, patches a byte range inside it,
 * or deletes it, with at most `concurrency` store calls in flight. Items for the same key are
 * applied in arrival order (serialised); different keys go in parallel.
 */
import { platform } from "../src/platform/current.js";
import type { Store } from "../src/store.js";
import { UnsupportedOperationError, asAbortError } from "../src/errors.js";

export type CommitItem =
  | { op: "set"; key: string; bytes: Uint8Array }
  | { op: "setRange"; key: string; offset: number; bytes: Uint8Array }
  /** Several in-place patches of one value, applied in order (a shard's changed inner-chunk slots). */
  | { op: "setRanges"; key: string; ranges: { offset: number; bytes: Uint8Array }[] }
  | { op: "delete"; key: string }
  /** Already set by the pool worker that encoded it (see src/worker-write.ts): `size` bytes. */
  | { op: "stored"; key: string; size: number };

export interface CommitOptions<T extends CommitItem> {
  concurrency?: number;
  signal?: AbortSignal;
  /** Called after each item is durably applied. */
  onCommitted?: (item: T) => void;
}

export function commit<T extends CommitItem>(store: Store, options: CommitOptions<T> = {}): WritableStream<T> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  const inFlight = new Set<Promise<void>>();
  const tails = new Map<string, Promise<void>>();
  let failure: { error: unknown } | undefined;

  // Each store call in flight may add an "abort" listener: give them a signal of our own that
  // follows the caller's, so `concurrency` above 10 does not trip Node's leak warning on it.
  const signal = options.signal && AbortSignal.any([options.signal]);
  if (signal) platform.unlimitedListeners(signal);
  const call = { signal };

  const apply = async (item: T): Promise<void> => {
    switch (item.op) {
      case "set":
        if (!store.set) throw new UnsupportedOperationError("store is read-only", { key: item.key });
        return store.set(item.key, item.bytes, call);
      case "delete":
        if (!store.delete) throw new UnsupportedOperationError("store cannot delete", { key: item.key });
        return store.delete(item.key, call);
      case "setRange":
        if (!store.setRange) throw new UnsupportedOperationError("store cannot patch byte ranges", { key: item.key });
        return store.setRange(item.key, item.offset, item.bytes, call);
      case "stored":
        return;
      case "setRanges": {
        const setRange = store.setRange?.bind(store);
        if (!setRange) throw new UnsupportedOperationError("store cannot patch byte ranges", { key: item.key });
        for (const range of item.ranges) await setRange(item.key, range.offset, range.bytes, call);
        return;
      }
    }
  };

  // Whoever sees this stage fail releases the chunk locks and may read the chunks back at once:
  // no store call of ours may still land after that, so a failure waits for the calls in flight.
  const settleThenThrow = async (error: unknown): Promise<never> => {
    await Promise.allSettled(inFlight);
    throw error;
  };

  return new WritableStream<T>({
    async write(item) {
      if (failure) return settleThenThrow(failure.error);
      if (options.signal?.aborted) return settleThenThrow(asAbortError(options.signal.reason, { key: item.key }));
      const previous = tails.get(item.key) ?? Promise.resolve();
      const task = previous.then(() => apply(item)).then(
        () => options.onCommitted?.(item),
        (error: unknown) => {
          failure ??= { error };
        },
      );
      tails.set(item.key, task);
      inFlight.add(task);
      void task.finally(() => {
        inFlight.delete(task);
        if (tails.get(item.key) === task) tails.delete(item.key);
      });
      while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight);
      if (failure) return settleThenThrow(failure.error);
    },
    async close() {
      await Promise.all(inFlight);
      if (failure) throw failure.error;
    },
    async abort() {
      await Promise.allSettled(inFlight);
    },
  });
}
