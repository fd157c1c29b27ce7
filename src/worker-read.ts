/**
 * The read task of a pool worker that fetches for itself: the main thread sends chunk keys and
 * their places in the shared output, never bytes. The worker opens its own copy of the store
 * (Store.workerHandle: a module, an export and its arguments), reads each chunk — or each
 * shard's index and inner chunks — with `getSync` into one reused buffer, and decodes into the
 * output. The phases are those of the pipeline, in one thread: fetch (getSync) → compute
 * (decodeInto) → the output is the commit.
 *
 * Portable: the store module is imported by the URL its handle names (a Node-only store
 * brings its own Node imports).
 */
import type { CodecChain } from "./codecs/chain.js";
import type { ShardingCodec } from "./codecs/sharding.js";
import { decodeInto, type OutputTarget } from "./chunk-ops.js";
import { wordView, type Words } from "./copy.js";
import { StoreError } from "./errors.js";
import type { Region } from "./selection.js";
import { fetchShardSync, type CoalesceOptions } from "./shard-io.js";
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
const stores = new Map<string, Promise<SyncStore>>();

/** This worker's own instance of the store a handle describes (opened once). */
export function storeOf(handle: StoreHandle): Promise<SyncStore> {
  const id = JSON.stringify(handle);
  let store = stores.get(id);
  if (!store) {
    store = (async () => {
      const module = (await import(handle.module)) as Record<string, new (...args: unknown[]) => Store>;
      const instance = new module[handle.export](...handle.args);
      if (typeof instance.getSync !== "function") throw new StoreError(`${handle.export} from ${handle.module} has no getSync`);
      return instance as SyncStore;
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

/** Fetches and decodes a batch into the shared output; answers each item's stored size. */
export function readBatch<R>(batch: ReadBatch<R>, chainOf: ChainLookup<R>): Promise<number[]> {
  const result = running.then(() => readBatchNow(batch, chainOf));
  running = result.catch(() => undefined);
  return result;
}

async function readBatchNow<R>(batch: ReadBatch<R>, chainOf: ChainLookup<R>): Promise<number[]> {
  const store = await storeOf(batch.store);
  const { chain, fill } = chainOf(batch.chain);
  const view = wordView(new Uint8Array(batch.out.buffer, batch.out.byteOffset, batch.out.byteLength), batch.out.itemsize);
  const out: OutputTarget = { words: view.words, shape: batch.out.shape, k: view.k };
  const sharding = batch.shard ? (chainOf(batch.shard.chain).chain.arrayToBytes as ShardingCodec) : undefined;
  const stored: number[] = [];
  for (const item of batch.items) {
    if (!sharding || !batch.shard) {
      const bytes = store.getSync(item.key, undefined, { into: ioScratch(0) });
      // Did not fit: the next chunk gets room for one this size.
      if (bytes && bytes.buffer !== io.buffer) ioScratch(bytes.byteLength);
      const pending = decodeInto(chain, fill, { key: item.key, bytes, chunkRegion: item.chunkRegion, outRegion: item.outRegion }, out);
      if (pending instanceof Promise) await pending;
      stored.push(bytes?.byteLength ?? 0);
      continue;
    }
    const inner = item.inner ?? [];
    const fetched = fetchShardSync(store, item.key, sharding, inner.map((p) => p.index), item.whole === true, {
      ...batch.shard.coalesce,
      path: batch.shard.path,
      scratch: ioScratch,
    });
    let size = 0;
    for (const p of inner) {
      const bytes = fetched.pieces.get(p.index);
      size += bytes?.byteLength ?? 0;
      const pending = decodeInto(chain, fill, { key: p.key, bytes, chunkRegion: p.chunkRegion, outRegion: p.outRegion }, out);
      if (pending instanceof Promise) await pending;
    }
    stored.push(size);
  }
  return stored;
}
