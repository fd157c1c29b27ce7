/**
 * An in-memory store. Useful for tests, scratch arrays and as the reference implementation of
 * the store contract: every other store should behave like this one.
 *
 * Values are copied on the way in and on the way out. Callers routinely hand chunk buffers to
 * workers (transferring, and thereby detaching, the ArrayBuffer) or reuse them as scratch
 * space; sharing storage with the map would let either corrupt the stored value.
 */

import { StoreError, throwIfAborted } from "../src/errors.js";
import { resolveRange, validateRange } from "../src/store.js";
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";

export class MemoryStore implements Store {
  readonly #data = new Map<string, Uint8Array>();

  constructor(initial?: Map<string, Uint8Array> | Record<string, Uint8Array>) {
    if (initial === undefined) return;
    const entries = initial instanceof Map ? initial.entries() : Object.entries(initial);
    for (const [key, value] of entries) this.#data.set(key, copy(value));
  }

  /** The backing map, for tests that want to inspect (not modify) what was stored. */
  get map(): ReadonlyMap<string, Uint8Array> {
    return this.#data;
  }

  /** Every key, sorted, so tests can compare listings directly. */
  keys(): string[] {
    return [...this.#data.keys()].sort();
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    throwIfAborted(options?.signal, { key });
    return this.getSync(key, range);
  }

  getSync(key: string, range?: ByteRange): Uint8Array | undefined {
    checkRange(key, range);
    const value = this.#data.get(key);
    if (value === undefined) return undefined;
    const [start, end] = resolveRange(range, value.length);
    return value.slice(start, end);
  }

  async getRanges(key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined> {
    throwIfAborted(options?.signal, { key });
    // Validate everything first so a bad range fails the call even when the key is absent,
    // just as it does for get().
    for (const range of ranges) checkRange(key, range);
    const value = this.#data.get(key);
    if (value === undefined) return undefined;
    return ranges.map((range) => {
      const [start, end] = resolveRange(range, value.length);
      return value.slice(start, end);
    });
  }

  async set(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> {
    throwIfAborted(options?.signal, { key });
    this.setSync(key, value);
  }

  setSync(key: string, value: Uint8Array): void {
    this.#data.set(key, copy(value));
  }

  async delete(key: string, options?: StoreCallOptions): Promise<void> {
    throwIfAborted(options?.signal, { key });
    this.#data.delete(key);
  }

  async *list(prefix: string, options?: StoreCallOptions): AsyncGenerator<string> {
    throwIfAborted(options?.signal);
    // Snapshot first: a consumer that writes while iterating must not see keys appear or vanish
    // mid-listing (Map iteration is live).
    const keys = [...this.#data.keys()].filter((key) => key.startsWith(prefix));
    for (const key of keys) {
      throwIfAborted(options?.signal);
      yield key;
    }
  }

  async setRange(key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> {
    throwIfAborted(options?.signal, { key });
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new StoreError(`invalid setRange offset ${offset}`, { key });
    }
    const value = this.#data.get(key);
    if (value === undefined) throw new StoreError("setRange on an absent key", { key });
    if (offset + bytes.length > value.length) {
      throw new StoreError(
        `setRange of ${bytes.length} bytes at offset ${offset} goes past the end of a ${value.length}-byte value`,
        { key },
      );
    }
    // In place is safe: no caller holds a view of the stored value (get returns copies), and
    // the write is synchronous, so no reader can observe it half done.
    value.set(bytes, offset);
  }

  async size(key: string, options?: StoreCallOptions): Promise<number | undefined> {
    throwIfAborted(options?.signal, { key });
    return this.#data.get(key)?.length;
  }
}

/** A standalone plain Uint8Array copy (Buffer#slice would return a view, so avoid it). */
function copy(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

function checkRange(key: string, range: ByteRange | undefined): void {
  try {
    validateRange(range);
  } catch (error) {
    throw new StoreError(error instanceof Error ? error.message : String(error), { key, cause: error });
  }
}
