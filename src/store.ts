/**
 * The store contract. A store maps string keys ("temperature/zarr.json", "temperature/c/0/1")
 * to bytes. Only `get` is required; everything else is a capability a store may have. The
 * engine plans from the capabilities (setRange enables in-place shard patches, getRanges
 * enables one-call multi-range reads) instead of checking store classes.
 *
 * "Absent" and "failed" are never confused: `get` resolves `undefined` only when the key does
 * not exist; any other failure rejects (with a StoreError, or AbortError on abort).
 */

/** A byte range: `{offset, length}` from the start, or the last `suffixLength` bytes. */
export type ByteRange = { offset: number; length: number } | { suffixLength: number };

export interface StoreCallOptions {
  signal?: AbortSignal;
  /**
   * `get` of a whole value only: memory the store may read the value into (when it is large
   * enough) and return a view of, instead of allocating. The store may transfer its buffer (a
   * browser's BYOB read does): after the call, reuse the returned bytes' buffer, never `into`.
   * Lent by the engine from its own scratch, never from a caller's data. Stores may ignore it.
   */
  into?: Uint8Array;
}

export interface Store {
  /**
   * The bytes at `key` (or the range of them), or `undefined` when the key is absent. A range
   * past the end is clipped. The caller owns the returned buffer: the engine may transfer it
   * to a worker thread (detaching it), so a store must never return its own backing memory.
   */
  get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined>;
  /** Replaces the value at `key` atomically: a concurrent reader sees the old or the new value, never a mix. */
  set?(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void>;
  /**
   * Writes `key` only if it does not exist yet, atomically on the server's side (S3's
   * `If-None-Match: *`); resolves false when it exists. Creating a node without `overwrite`
   * uses it, so two creators racing cannot both succeed.
   */
  setIfAbsent?(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<boolean>;
  /** Removes `key`; deleting an absent key is not an error. */
  delete?(key: string, options?: StoreCallOptions): Promise<void>;
  /** Every key that starts with `prefix` ("" for all), in no particular order. */
  list?(prefix: string, options?: StoreCallOptions): AsyncIterable<string>;
  /** Several ranges of one key in one call; `undefined` when the key is absent. */
  getRanges?(key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined>;
  /** Overwrites `bytes.length` bytes at `offset` inside an existing value (no growth past the end). */
  setRange?(key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void>;
  /** Size of the value at `key` in bytes, or `undefined` when absent. */
  size?(key: string, options?: StoreCallOptions): Promise<number | undefined>;
  /**
   * Synchronous variants, for stores that can answer without waiting (memory, local files).
   * With `into`, the store may read into that buffer and return a view of it (when it is large
   * enough) instead of allocating; the caller owns `into` and reuses it, so the result is only
   * valid until the caller's next use of it.
   */
  getSync?(key: string, range?: ByteRange, options?: GetSyncOptions): Uint8Array | undefined;
  setSync?(key: string, value: Uint8Array): void;
  /** Releases resources (file handles, connection pools). */
  close?(): Promise<void>;
  /**
   * How another thread opens this same store for itself: then pool workers read chunks with
   * `getSync` (or, for a handle marked `async`, by awaiting `get`) where they decode them, and
   * the bytes never cross threads. Undefined (or no such
   * method) when the store cannot be reopened elsewhere, or its reads must go through this
   * instance (wrappers that count, delay or fault requests).
   */
  workerHandle?(): StoreHandle | undefined;
}

export interface GetSyncOptions {
  into?: Uint8Array;
}

/**
 * A store by value: the module to import (a URL, or one of zarrflow's own stores by name:
 * "zarrflow:http"), the export to construct and its arguments (structured-clonable). The
 * constructed store must have `getSync`, unless the handle is `async`.
 */
export interface StoreHandle {
  module: string;
  export: string;
  args: unknown[];
  /**
   * The store answers only asynchronously (network stores): a worker reads a batch's chunks
   * with `get`, several at once, decoding each as it lands. Writes do not use such a handle.
   */
  async?: boolean;
}

/** A store that supports writes. */
export type WritableStore = Store & Required<Pick<Store, "set" | "delete">>;

/** Resolves a range against a value of `size` bytes into [start, end) clipped to the value. */
export function resolveRange(range: ByteRange | undefined, size: number): [start: number, end: number] {
  if (range === undefined) return [0, size];
  if ("suffixLength" in range) return [Math.max(0, size - range.suffixLength), size];
  const start = Math.min(range.offset, size);
  return [start, Math.min(size, range.offset + range.length)];
}

/** Checks a range's numbers (non-negative safe integers); throws RangeError otherwise. */
export function validateRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const numbers = "suffixLength" in range ? [range.suffixLength] : [range.offset, range.length];
  for (const n of numbers) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`invalid byte range ${JSON.stringify(range)}`);
  }
}

/** Joins path segments into a store key: no leading or trailing "/", empty segments dropped. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split("/"))
    .filter((p) => p !== "")
    .join("/");
}
