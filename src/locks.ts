/**
 * Per-key locks, per store: two writes touching the same chunk in one process are serialised
 * across their whole read-modify-write, so neither loses the other's data. Readers that need
 * more than one request to read one object (a shard's index, then its inner chunks) hold the
 * key shared, so a writer in this process cannot replace or patch the object between their
 * requests. Grants are FIFO: a writer waits for the readers before it, readers after it wait
 * for the writer.
 */
import { asAbortError } from "./errors.js";
import type { Store } from "./store.js";

interface KeyLock {
  /** Settles when the last exclusive holder queued so far has released. */
  tail: Promise<void>;
  /** Shared holders queued since that exclusive holder, each settling on release. */
  readers: Set<Promise<void>>;
}

const lockTables = new WeakMap<Store, Map<string, KeyLock>>();

function lockOf(store: Store, key: string): { table: Map<string, KeyLock>; lock: KeyLock } {
  let table = lockTables.get(store);
  if (!table) lockTables.set(store, (table = new Map()));
  let lock = table.get(key);
  if (!lock) table.set(key, (lock = { tail: Promise.resolve(), readers: new Set() }));
  return { table, lock };
}

function forget(table: Map<string, KeyLock>, key: string, lock: KeyLock, tail: Promise<void>): void {
  if (table.get(key) === lock && lock.tail === tail && lock.readers.size === 0) table.delete(key);
}

/**
 * Waits for every earlier holder of `key` in `store`, then returns the release function. With
 * a signal, an abort while waiting rejects (AbortError) and gives up the place in the queue.
 */
export async function acquireKey(store: Store, key: string, signal?: AbortSignal): Promise<() => void> {
  const { table, lock } = lockOf(store, key);
  const previous = lock.readers.size ? Promise.all([lock.tail, ...lock.readers]).then(() => undefined) : lock.tail;
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  // Later holders wait for this one to release, and (if it gives up) for its predecessors.
  const tail = previous.then(() => mine);
  lock.tail = tail;
  if (lock.readers.size) lock.readers = new Set();
  let released = false;
  const done = () => {
    if (released) return;
    released = true;
    release();
    void tail.then(() => forget(table, key, lock, tail));
  };
  await waitTurn(previous, signal, done, key);
  return done;
}

/** Holds `key` shared (alongside other shared holders, never alongside an exclusive one). */
export async function acquireShared(store: Store, key: string, signal?: AbortSignal): Promise<() => void> {
  const { table, lock } = lockOf(store, key);
  const previous = lock.tail;
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  lock.readers.add(mine);
  let released = false;
  const done = () => {
    if (released) return;
    released = true;
    release();
    lock.readers.delete(mine);
    // Only once the writer before us is done: forgetting the lock while it holds would let a
    // newcomer in beside it.
    void previous.then(() => forget(table, key, lock, previous));
  };
  await waitTurn(previous, signal, done, key);
  return done;
}

/** Waits for the holder before us; on abort gives our place back and throws AbortError naming `key`. */
async function waitTurn(previous: Promise<void>, signal: AbortSignal | undefined, giveBack: () => void, key: string): Promise<void> {
  try {
    await waitFor(previous, signal);
  } catch (error) {
    giveBack();
    throw asAbortError(signal?.reason ?? error, { key });
  }
}

function waitFor(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
