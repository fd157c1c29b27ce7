/**
 * Per-key locks, per store: two writes touching the same chunk in one process are serialised
 * across their whole read-modify-write, so neither loses the other's data.
 */
import type { Store } from "./store.js";

const lockTables = new WeakMap<Store, Map<string, Promise<void>>>();

/** Waits for every earlier holder of `key` in `store`, then returns the release function. */
export async function acquireKey(store: Store, key: string): Promise<() => void> {
  let table = lockTables.get(store);
  if (!table) lockTables.set(store, (table = new Map()));
  const previous = table.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  table.set(key, tail);
  await previous;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
    if (table.get(key) === tail) table.delete(key);
  };
}
