/**
 * The read task of a pool worker that fetches for itself: the main thread sends chunk keys and
 * their places in the shared output, never bytes. The worker opens its own copy of the store
 * (Store.workerHandle: a module, an export and its arguments), reads each chunk — or each
 * shard's index and inner chunks — with `getSync` into one reused buffer, and decodes into the
 * output. The phases are those of the pipeline, in one thread: fetch (getSync) → compute
 * (decodeInto) → the output is the commit.
 *
 * A store that only answers asynchronously (an `async` handle: HTTP in a browser) is read with
 * `get`, up to the batch's `concurrency` chunks (or shards) at once, each decoded as it lands:
 * the page's main thread then never touches a response body.
 *
 * Portable: the store module is imported by the URL its handle names (a Node-only store
 * brings its own Node imports), or is one of zarrflow's own by name (BUILTIN_STORES).
 */
import type { CodecChain } from "./codecs/chain.js";
import type { ShardingCodec } from "./codecs/sharding.js";
import { decodeInto, type OutputTarget } from "./chunk-ops.js";
import { wordView, type Words } from "./copy.js";
import { StoreError, throwIfAborted } from "./errors.js";
import type { Region } from "./selection.js";
import { fetchShardSync, fetchShardUnlocked, type CoalesceOptions, type ShardFetch } from "./shard-io.js";
import type { Store, StoreHandle } from "./store.js";

/** A codec chain as the worker caches it (see worker.ts chainOf). */
export type ChainLookup<R> = (ref: R) => { chain: CodecChain; fill: Words };

export interface ReadBatch<R> {
  /** The chain chunks decode with (a sharded array's inner chain). */
  chain: R;
  out: { buffer: SharedArrayBuffer; byteOffset: number; byteLength: number; shape: number[]; itemsize: number };
  store: StoreHandle;
  /** Items are shards: the array's own chain (its sharding codec) and how ranges coalesce. */
  shard?: { chain: R; coalesce?: CoalesceOptions; path: string };
  items: ReadItem[];
  /** For an `async` store: chunks (or shards) of the batch fetched at once (default 4). */
  concurrency?: number;
}

export interface ReadItem {
  /** The chunk's (or shard's) store key. */
  key: string;
  chunkRegion: Region[];
  outRegion: Region[];
  /** For a shard: the inner chunks it needs (flat index, label for errors, regions). */
  inner?: { index: number; key: string; chunkRegion: Region[]; outRegion: Region[] }[];
  /** For a shard: every in-bounds inner chunk is needed, so it is read whole. */
  whole?: boolean;
}

type SyncStore = Store & Required<Pick<Store, "getSync">>;
const stores = new Map<string, Promise<Store>>();

/**
 * zarrflow's own stores a handle may name instead of a URL: a bundle (the browser build) moves
 * a store's code into a chunk whose URL and export names are the bundler's, not the module's.
 */
const BUILTIN_STORES: Record<string, () => Promise<unknown>> = {
  "zarrflow:http": () => import("../stores/http.js"),
};

/** This worker's own instance of the store a handle describes (opened once). */
export function storeOf(handle: StoreHandle): Promise<Store> {
  const id = JSON.stringify(handle);
  let store = stores.get(id);
  if (!store) {
    store = (async () => {
      const load = BUILTIN_STORES[handle.module];
      const module = (await (load ? load() : import(handle.module))) as Record<string, new (...args: unknown[]) => Store>;
      if (typeof module[handle.export] !== "function") throw new StoreError(`${handle.module} has no store class ${handle.export}`);
      const instance = new module[handle.export](...handle.args);
      if (!handle.async && typeof instance.getSync !== "function") throw new StoreError(`${handle.export} from ${handle.module} has no getSync`);
      return instance;
    })();
    stores.set(id, store);
    store.catch(() => stores.delete(id));
  }
  return store;
}

// One buffer for fetched bytes per worker, grown (with room) and reused: chunk after chunk
// lands in the same memory instead of a new allocation's page faults.
let io = new Uint8Array(0);
function ioScratch(size: number): Uint8Array {
  if (io.byteLength < size) io = new Uint8Array(Math.ceil(size * 1.25));
  return io;
}

// Batches run one at a time: the io buffer holds a batch's bytes across any asynchronous
// decode (a WASM codec fallback), when the worker could otherwise start its next task.
let running: Promise<unknown> = Promise.resolve();

/**
 * Fetches and decodes a batch into the shared output; answers each item's stored size.
 * `signal` (the task's cancellation) stops an asynchronous store's requests.
 */
export function readBatch<R>(batch: ReadBatch<R>, chainOf: ChainLookup<R>, signal?: AbortSignal): Promise<number[]> {
  // Asynchronous reads use no shared scratch: batches overlap (their requests are in flight together).
  if (batch.store.async) return readBatchAsync(batch, chainOf, signal);
  const result = running.then(() => readBatchNow(batch, chainOf));
  running = result.catch(() => undefined);
  return result;
}

/** Decodes one chunk's stored bytes (undefined: absent) into its place in the output. */
async function decodePlaced(chain: CodecChain, fill: Words, out: OutputTarget, key: string, bytes: Uint8Array | undefined, chunkRegion: Region[], outRegion: Region[]): Promise<void> {
  const pending = decodeInto(chain, fill, { key, bytes, chunkRegion, outRegion }, out);
  if (pending instanceof Promise) await pending;
}

/** Decodes the inner chunks of a fetched shard into the output; answers their stored size. */
async function decodeShard(chain: CodecChain, fill: Words, out: OutputTarget, item: ReadItem, fetched: ShardFetch): Promise<number> {
  let size = 0;
  for (const p of item.inner ?? []) {
    const bytes = fetched.pieces.get(p.index);
    size += bytes?.byteLength ?? 0;
    await decodePlaced(chain, fill, out, p.key, bytes, p.chunkRegion, p.outRegion);
  }
  return size;
}

/** The shared output of a batch, as decodeInto writes it. */
function outputOf(out: ReadBatch<unknown>["out"]): OutputTarget {
  const view = wordView(new Uint8Array(out.buffer, out.byteOffset, out.byteLength), out.itemsize);
  return { words: view.words, shape: out.shape, k: view.k };
}

async function readBatchNow<R>(batch: ReadBatch<R>, chainOf: ChainLookup<R>): Promise<number[]> {
  const store = (await storeOf(batch.store)) as SyncStore;
  const { chain, fill } = chainOf(batch.chain);
  const out = outputOf(batch.out);
  const sharding = batch.shard ? (chainOf(batch.shard.chain).chain.arrayToBytes as ShardingCodec) : undefined;
  const stored: number[] = [];
  for (const item of batch.items) {
    if (!sharding || !batch.shard) {
      const bytes = store.getSync(item.key, undefined, { into: ioScratch(0) });
      // Did not fit: the next chunk gets room for one this size.
      if (bytes && bytes.buffer !== io.buffer) ioScratch(bytes.byteLength);
      await decodePlaced(chain, fill, out, item.key, bytes, item.chunkRegion, item.outRegion);
      stored.push(bytes?.byteLength ?? 0);
      continue;
    }
    const fetched = fetchShardSync(store, item.key, sharding, (item.inner ?? []).map((p) => p.index), item.whole === true, {
      ...batch.shard.coalesce,
      path: batch.shard.path,
      scratch: ioScratch,
    });
    stored.push(await decodeShard(chain, fill, out, item, fetched));
  }
  return stored;
}

/** Memory the asynchronous reads of this worker lend to the store, kept between batches. */
const spareIo: Uint8Array[] = [];
/** Kept at most: one per lane in flight (a worker runs 2 tasks of a few lanes each). */
const MAX_SPARE_IO = 8;
/** Lent memory is not kept past this size (a rare huge value should not stay resident). */
const MAX_KEPT_IO = 64 << 20;

/**
 * Spare memory is dropped this long after the last read gave some back: an idle worker holds
 * none, and reads a few seconds apart (a viewer moving through slices) keep theirs.
 */
const SPARE_IO_MS = 10_000;
let dropSpareIo: ReturnType<typeof setTimeout> | undefined;

function keepIo(io: Uint8Array): void {
  if (io.byteLength > 0 && io.byteLength <= MAX_KEPT_IO && spareIo.length < MAX_SPARE_IO) spareIo.push(io);
  if (dropSpareIo !== undefined) clearTimeout(dropSpareIo);
  dropSpareIo = setTimeout(() => {
    spareIo.length = 0;
    dropSpareIo = undefined;
  }, SPARE_IO_MS);
  // (Node: the timer alone must not keep a worker's thread alive.)
  (dropSpareIo as { unref?: () => void }).unref?.();
}

/**
 * The memory to lend next, after a get that was lent `lent` and answered `got`: the store read
 * into it (its buffer, perhaps transferred, lives on in `got`), or it did not fit (room for
 * one this size next time), or it was not used.
 */
function nextIo(lent: Uint8Array, got: Uint8Array | undefined): Uint8Array {
  if (got && (got.buffer === lent.buffer || lent.buffer.byteLength === 0)) return new Uint8Array(got.buffer as ArrayBuffer);
  // Transferred without an answer (a read that failed half way): start afresh.
  if (lent.buffer.byteLength === 0) return new Uint8Array(0);
  if (got && got.byteLength > lent.byteLength) return new Uint8Array(Math.ceil(got.byteLength * 1.25));
  return lent;
}

/**
 * A batch from a store that answers asynchronously: up to `concurrency` items fetched at once,
 * each decoded into the output as its bytes land. The first failure, or the task's
 * cancellation, stops the other requests.
 */
async function readBatchAsync<R>(batch: ReadBatch<R>, chainOf: ChainLookup<R>, cancel: AbortSignal | undefined): Promise<number[]> {
  const store = await storeOf(batch.store);
  const { chain, fill } = chainOf(batch.chain);
  const out = outputOf(batch.out);
  const sharding = batch.shard ? (chainOf(batch.shard.chain).chain.arrayToBytes as ShardingCodec) : undefined;
  const stop = new AbortController();
  const onCancel = () => stop.abort(cancel?.reason);
  if (cancel?.aborted) onCancel();
  else cancel?.addEventListener("abort", onCancel, { once: true });
  const signal = stop.signal;
  // Each lane reads whole values into memory it reuses (lent to the store: see
  // StoreCallOptions.into), decoding each before the next read overwrites it.
  const readItem = async (item: ReadItem, lane: { io: Uint8Array }): Promise<number> => {
    if (!sharding || !batch.shard) {
      const lent = lane.io;
      const bytes = await store.get(item.key, undefined, { signal, into: lent });
      lane.io = nextIo(lent, bytes);
      await decodePlaced(chain, fill, out, item.key, bytes, item.chunkRegion, item.outRegion);
      return bytes?.byteLength ?? 0;
    }
    const needed = (item.inner ?? []).map((p) => p.index);
    const whole = item.whole === true;
    const lent = lane.io;
    const fetched = await fetchShardUnlocked(store, item.key, sharding, needed, whole, { ...batch.shard.coalesce, path: batch.shard.path, signal, ...(whole ? { into: lent } : {}) });
    if (whole) lane.io = nextIo(lent, fetched.source);
    return decodeShard(chain, fill, out, item, fetched);
  };
  const stored = new Array<number>(batch.items.length).fill(0);
  let next = 0;
  const lane = async (): Promise<void> => {
    const state = { io: spareIo.pop() ?? new Uint8Array(0) };
    try {
      while (next < batch.items.length && !signal.aborted) {
        const i = next++;
        stored[i] = await readItem(batch.items[i], state);
      }
    } finally {
      keepIo(state.io);
    }
  };
  const lanes = Math.max(1, Math.min(batch.concurrency ?? 4, batch.items.length));
  try {
    await Promise.all(
      Array.from({ length: lanes }, () =>
        lane().catch((error: unknown) => {
          stop.abort(error);
          throw error;
        }),
      ),
    );
    // Cancelled between items: the task fails as the read it belongs to was aborted.
    throwIfAborted(signal);
    return stored;
  } finally {
    cancel?.removeEventListener("abort", onCancel);
  }
}
