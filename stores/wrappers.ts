/**
 * Store wrappers for tests and benchmarks: CountingStore records every call (requests made,
 * bytes moved, calls in flight), LatencyStore delays each call to model a remote store.
 * Both pass every capability of the wrapped store through unchanged.
 */
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";
import { mirrorCapabilities, sleep } from "./util.js";

export interface CallRecord {
  method: "get" | "set" | "delete" | "getRanges" | "setRange" | "list" | "size";
  key: string;
  range?: ByteRange | ByteRange[];
  /** Bytes returned (get) or written (set, setRange). */
  bytes: number;
}

/** Wraps a store and counts what goes through it. */
export class CountingStore implements Store {
  readonly calls: CallRecord[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(readonly inner: Store) {
    mirrorCapabilities(this, inner);
  }

  /** Calls of one method (all methods when omitted). */
  count(method?: CallRecord["method"]): number {
    return method ? this.calls.filter((c) => c.method === method).length : this.calls.length;
  }

  /** Bytes moved by one method. */
  bytes(method: CallRecord["method"]): number {
    return this.calls.filter((c) => c.method === method).reduce((n, c) => n + c.bytes, 0);
  }

  reset(): void {
    this.calls.length = 0;
    this.maxInFlight = 0;
  }

  private async track<T>(record: Omit<CallRecord, "bytes">, call: () => Promise<T>, size: (result: T) => number): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const result = await call();
      this.calls.push({ ...record, bytes: size(result) });
      return result;
    } finally {
      this.inFlight--;
    }
  }

  get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    return this.track({ method: "get", key, range }, () => this.inner.get(key, range, options), (r) => r?.byteLength ?? 0);
  }

  set? = (key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> =>
    this.track({ method: "set", key }, () => this.inner.set!(key, value, options), () => value.byteLength);

  delete? = (key: string, options?: StoreCallOptions): Promise<void> =>
    this.track({ method: "delete", key }, () => this.inner.delete!(key, options), () => 0);

  getRanges? = (key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined> =>
    this.track(
      { method: "getRanges", key, range: ranges },
      () => this.inner.getRanges!(key, ranges, options),
      (r) => (r ?? []).reduce((n, b) => n + b.byteLength, 0),
    );

  setRange? = (key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> =>
    this.track({ method: "setRange", key, range: { offset, length: bytes.byteLength } }, () => this.inner.setRange!(key, offset, bytes, options), () => bytes.byteLength);

  size? = (key: string, options?: StoreCallOptions): Promise<number | undefined> =>
    this.track({ method: "size", key }, () => this.inner.size!(key, options), () => 0);

  list? = (prefix: string, options?: StoreCallOptions): AsyncIterable<string> => {
    this.calls.push({ method: "list", key: prefix, bytes: 0 });
    return this.inner.list!(prefix, options);
  };
}

/** Wraps a store and delays every call by `latencyMs` (a round trip to a remote store). */
export class LatencyStore implements Store {
  constructor(
    readonly inner: Store,
    readonly latencyMs: number,
  ) {
    if (!inner.set) this.set = undefined;
    if (!inner.delete) this.delete = undefined;
    if (!inner.list) this.list = undefined;
    if (!inner.getRanges) this.getRanges = undefined;
    if (!inner.setRange) this.setRange = undefined;
  }

  private delay(signal?: AbortSignal): Promise<void> {
    return sleep(this.latencyMs, signal);
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    await this.delay(options?.signal);
    return this.inner.get(key, range, options);
  }

  set? = async (key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> => {
    await this.delay(options?.signal);
    return this.inner.set!(key, value, options);
  };

  delete? = async (key: string, options?: StoreCallOptions): Promise<void> => {
    await this.delay(options?.signal);
    return this.inner.delete!(key, options);
  };

  getRanges? = async (key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined> => {
    await this.delay(options?.signal);
    return this.inner.getRanges!(key, ranges, options);
  };

  setRange? = async (key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> => {
    await this.delay(options?.signal);
    return this.inner.setRange!(key, offset, bytes, options);
  };

  list? = (prefix: string, options?: StoreCallOptions): AsyncIterable<string> => this.inner.list!(prefix, options);
}
