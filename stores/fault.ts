/**
 * FaultStore: a store wrapper for reliability tests that injects failures on a seeded schedule:
 * errors (before the call, or after it took effect — a write whose reply was lost), delays, and
 * hangs that end only through the call's AbortSignal. Every decision is a pure function of
 * (seed, method, key, how many times that method was called on that key), so a schedule does
 * not depend on how concurrent calls interleave and a failing seed replays exactly.
 */
import { StoreError, asAbortError } from "../src/errors.js";
import { prng } from "../src/prng.js";
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";
import { mirrorCapabilities, sleep } from "./util.js";

export type FaultMethod = "get" | "getRanges" | "set" | "delete" | "setRange" | "list" | "size";

/**
 * - `error`: the call rejects with a StoreError naming the key, and does nothing.
 * - `lost`: writes only — the call takes effect, then rejects as if its reply were lost.
 * - `delay`: the call waits up to `maxDelayMs`, then proceeds.
 * - `hang`: the call never settles unless its signal aborts (then it rejects with AbortError).
 */
export type FaultKind = "error" | "lost" | "delay" | "hang";

export interface InjectedFault {
  method: FaultMethod;
  key: string;
  kind: FaultKind;
}

export interface FaultStoreOptions {
  seed: number;
  /** Probability that a call is faulted (default 0.1). */
  rate?: number;
  /** Relative weights of the kinds (default: error 3, lost 1, delay 3, hang 0). */
  kinds?: Partial<Record<FaultKind, number>>;
  /** Methods that may fault (default: all). */
  methods?: readonly FaultMethod[];
  /** Only keys this accepts may fault (default: all). */
  keys?: (key: string) => boolean;
  /** Upper bound of a `delay` fault (default 5 ms). */
  maxDelayMs?: number;
}

const WRITES: ReadonlySet<FaultMethod> = new Set(["set", "delete", "setRange"]);

/** The error an `error` or `lost` fault raises; a StoreError, so callers see a typed failure. */
export class InjectedFaultError extends StoreError {
  override readonly code: string = "INJECTED_FAULT";
}

export class FaultStore implements Store {
  /** Every fault injected so far, in the order injected. */
  readonly injected: InjectedFault[] = [];
  /** Calls that are hanging right now (ended only by their signal). */
  hanging = 0;
  /** Turns injection off (and back on) without unwrapping the store. */
  enabled = true;

  readonly #options: Required<Omit<FaultStoreOptions, "keys">> & Pick<FaultStoreOptions, "keys">;
  readonly #calls = new Map<string, number>();
  readonly #kinds: [FaultKind, number][];

  constructor(
    readonly inner: Store,
    options: FaultStoreOptions,
  ) {
    this.#options = {
      seed: options.seed,
      rate: options.rate ?? 0.1,
      kinds: options.kinds ?? { error: 3, lost: 1, delay: 3, hang: 0 },
      methods: options.methods ?? ["get", "getRanges", "set", "delete", "setRange", "list", "size"],
      keys: options.keys,
      maxDelayMs: options.maxDelayMs ?? 5,
    };
    this.#kinds = (Object.entries(this.#options.kinds) as [FaultKind, number][]).filter(([, w]) => w > 0);
    mirrorCapabilities(this, inner);
  }

  /** Faults of one kind (all kinds when omitted). */
  count(kind?: FaultKind): number {
    return kind ? this.injected.filter((f) => f.kind === kind).length : this.injected.length;
  }

  /** The fault (if any) for this call: deterministic in (seed, method, key, call number). */
  #decide(method: FaultMethod, key: string): { kind: FaultKind; delayMs: number } | undefined {
    const id = `${method}\u0000${key}`;
    const n = this.#calls.get(id) ?? 0;
    this.#calls.set(id, n + 1);
    const o = this.#options;
    if (!this.enabled || !o.methods.includes(method) || (o.keys && !o.keys(key))) return undefined;
    const random = prng(hash(`${o.seed}\u0000${id}\u0000${n}`));
    if (random() >= o.rate) return undefined;
    const kinds = this.#kinds.filter(([kind]) => kind !== "lost" || WRITES.has(method));
    const total = kinds.reduce((s, [, w]) => s + w, 0);
    if (total === 0) return undefined;
    let pick = random() * total;
    let kind = kinds[kinds.length - 1][0];
    for (const [k, w] of kinds) {
      if ((pick -= w) < 0) {
        kind = k;
        break;
      }
    }
    this.injected.push({ method, key, kind });
    return { kind, delayMs: random() * o.maxDelayMs };
  }

  /** Runs `call` under the fault chosen for it. */
  async #run<T>(method: FaultMethod, key: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const fault = this.#decide(method, key);
    if (!fault) return call();
    switch (fault.kind) {
      case "error":
        throw new InjectedFaultError(`injected ${method} failure`, { key });
      case "lost":
        await call();
        throw new InjectedFaultError(`injected ${method} failure after the write took effect`, { key });
      case "delay":
        await sleep(fault.delayMs, signal, key);
        return call();
      case "hang":
        this.hanging++;
        try {
          return await hang(signal, key);
        } finally {
          this.hanging--;
        }
    }
  }

  get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    return this.#run("get", key, options?.signal, () => this.inner.get(key, range, options));
  }

  getRanges? = (key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined> =>
    this.#run("getRanges", key, options?.signal, () => this.inner.getRanges!(key, ranges, options));

  set? = (key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> =>
    this.#run("set", key, options?.signal, () => this.inner.set!(key, value, options));

  delete? = (key: string, options?: StoreCallOptions): Promise<void> =>
    this.#run("delete", key, options?.signal, () => this.inner.delete!(key, options));

  setRange? = (key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> =>
    this.#run("setRange", key, options?.signal, () => this.inner.setRange!(key, offset, bytes, options));

  size? = (key: string, options?: StoreCallOptions): Promise<number | undefined> =>
    this.#run("size", key, options?.signal, () => this.inner.size!(key, options));

  list? = (prefix: string, options?: StoreCallOptions): AsyncIterable<string> => {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        // The listing's fault strikes before its first key: a listing that fails half way
        // would look to a caller exactly like one that fails at once.
        const keys: string[] = [];
        await self.#run("list", prefix, options?.signal, async () => {
          for await (const key of self.inner.list!(prefix, options)) keys.push(key);
        });
        yield* keys;
      },
    };
  };
}

/** Never settles, except by rejecting when `signal` aborts. Holds no timer: a hang must not keep a process alive. */
function hang(signal: AbortSignal | undefined, key: string): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) return reject(asAbortError(signal.reason, { key }));
    signal?.addEventListener("abort", () => reject(asAbortError(signal.reason, { key })), { once: true });
  });
}

/** FNV-1a, 32-bit. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

