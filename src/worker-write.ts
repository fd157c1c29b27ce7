/**
 * The write task of a pool worker that stores for itself: merge and encode each chunk (as
 * encodeBatch does), then set it with the worker's own copy of the store (Store.workerHandle,
 * `setSync`), so encoded bytes never travel back to the main thread. Chunks that hold only the
 * fill value are left for the main thread to delete (null), where deletions already happen.
 * The main thread holds each chunk's lock until the task answers.
 */
import type { MergeItem } from "./chunk-ops.js";
import { StoreError } from "./errors.js";
import { mergeEncodeChunk } from "./shard-merge.js";
import type { StoreHandle } from "./store.js";
import { storeOf, type ChainLookup } from "./worker-read.js";

export interface EncodeStoreBatch<R> {
  chain: R;
  writeEmptyChunks: boolean;
  store: StoreHandle;
  items: MergeItem[];
}

export interface EncodeStoreResult {
  /** Per item: the stored size, or null when the chunk holds only the fill value (not stored: delete it). */
  stored: (number | null)[];
  /** The items' piece buffers, returned for reuse (every chunk is stored already). */
  spare: ArrayBuffer[];
}

export async function encodeStoreBatch<R>(batch: EncodeStoreBatch<R>, chainOf: ChainLookup<R>): Promise<EncodeStoreResult> {
  const store = await storeOf(batch.store);
  if (typeof store.setSync !== "function") throw new StoreError(`${batch.store.export} has no setSync`);
  const { chain, fill } = chainOf(batch.chain);
  const stored: (number | null)[] = [];
  for (const item of batch.items) {
    // Transient: stored at once, so the encoded bytes may stay in the codec's scratch memory.
    const result = mergeEncodeChunk(chain, fill, batch.writeEmptyChunks, item, true);
    const bytes = result instanceof Promise ? await result : result;
    if (bytes !== null) store.setSync(item.key, bytes);
    stored.push(bytes === null ? null : bytes.byteLength);
  }
  const spare = [...new Set(batch.items.filter((item) => !item.scalar).map((item) => item.piece.buffer as ArrayBuffer))];
  return { stored, spare };
}
