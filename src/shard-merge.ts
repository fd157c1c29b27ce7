/**
 * Partial shard writes. Instead of decoding and re-encoding every inner chunk of a shard:
 * inner chunks the write does not touch keep their stored bytes as they are, inner chunks it
 * covers completely are encoded from the new values without decoding, and only the inner
 * chunks it overwrites in part are decoded, merged and re-encoded. Then the shard is laid out
 * again (Morton order, new index). Runs inline or in a pool worker.
 */
import type { MaybePromise } from "./codecs/codec.js";
import { ShardingCodec, type ShardIndex } from "./codecs/sharding.js";
import type { CodecChain } from "./codecs/chain.js";
import { copyRegion, fillRegion, wordView, type Words } from "./copy.js";
import { fillChunk, isAllFill, mergeEncode, type MergeItem } from "./chunk-ops.js";
import { DATA_TYPES, bytesOf, type TypedArray } from "./dtype.js";
import type { Region } from "./selection.js";

export interface ShardMergeItem {
  existing: Uint8Array | undefined;
  piece: Uint8Array;
  scalar: boolean;
  /** The written box, in shard coordinates. */
  chunkRegion: Region[];
  /** The in-bounds extent of this shard (edge shards are cut by the array's shape). */
  extent: number[];
  key: string;
}

/** Where a strided region meets the box [origin, origin + size): selected positions m0.. of the region. */
function overlap(region: Region, origin: number, size: number): { m0: number; count: number } | undefined {
  const { start, step, count } = region;
  const m0 = Math.max(0, Math.ceil((origin - start) / step));
  if (m0 >= count) return undefined;
  const m1 = Math.min(count - 1, Math.floor((origin + size - 1 - start) / step));
  return m1 >= m0 ? { m0, count: m1 - m0 + 1 } : undefined;
}

/** Runs step(0..n-1) in order, synchronously until one returns a Promise. */
function eachStep(n: number, step: (i: number) => MaybePromise<void>): MaybePromise<void> {
  for (let i = 0; i < n; i++) {
    const pending = step(i);
    if (pending instanceof Promise) {
      return (async () => {
        await pending;
        for (let j = i + 1; j < n; j++) await step(j);
      })();
    }
  }
}

/** The merged, encoded shard, or null when no inner chunk remains (delete the shard). */
export function mergeEncodeShard(
  codec: ShardingCodec,
  fillWords: Words,
  writeEmptyChunks: boolean,
  item: ShardMergeItem,
): MaybePromise<Uint8Array | null> {
  const { dataType } = codec.innerChain.spec;
  const itemsize = DATA_TYPES[dataType].itemsize;
  const innerShape = codec.innerChunkShape;
  const index: ShardIndex | undefined = item.existing ? codec.readIndex(item.existing) : undefined;
  const pieces = new Array<Uint8Array | undefined>(codec.innerChunkCount);
  const pieceShape = item.chunkRegion.map((r) => r.count);
  const source = wordView(item.piece, itemsize).words;

  const step = (i: number): MaybePromise<void> => {
    const coords = codec.innerCoords(i);
    const origin = coords.map((c, d) => c * innerShape[d]);
    const inside = origin.map((o, d) => Math.min(innerShape[d], item.extent[d] - o));
    if (inside.some((n) => n <= 0)) return; // wholly outside the array
    const stored = index?.range(i);
    const hits: { m0: number; count: number }[] = [];
    for (let d = 0; d < origin.length; d++) {
      const hit = overlap(item.chunkRegion[d], origin[d], innerShape[d]);
      if (!hit) {
        if (stored && item.existing) pieces[i] = item.existing.subarray(stored.offset, stored.offset + stored.length);
        return;
      }
      hits.push(hit);
    }
    const complete = hits.every((h, d) => h.count === inside[d]);
    const merge = (base: TypedArray): MaybePromise<void> => {
      const view = wordView(bytesOf(base), itemsize);
      const dst = hits.map((h, d) => ({ start: item.chunkRegion[d].start + h.m0 * item.chunkRegion[d].step - origin[d], step: item.chunkRegion[d].step, count: h.count }));
      if (item.scalar) fillRegion(view.words, innerShape, dst, source, view.k);
      else copyRegion(view.words, innerShape, dst, source, pieceShape, hits.map((h) => ({ start: h.m0, step: 1, count: h.count })), view.k);
      if (!writeEmptyChunks && isAllFill(view.words, fillWords, view.k)) return;
      const encoded = codec.innerChain.encode({ data: base, shape: innerShape, dtype: dataType }, `${item.key}[${coords}]`);
      if (encoded instanceof Promise) return encoded.then((bytes) => void (pieces[i] = bytes));
      pieces[i] = encoded;
    };
    if (complete || !stored || !item.existing) return merge(fillChunk(dataType, innerShape, fillWords));
    const decoded = codec.innerChain.decode(item.existing.subarray(stored.offset, stored.offset + stored.length), `${item.key}[${coords}]`);
    return decoded instanceof Promise ? decoded.then((d) => merge(d.data)) : merge(decoded.data);
  };

  const finish = (): Uint8Array | null => (pieces.some((p) => p !== undefined) ? codec.layoutShard(pieces) : null);
  const done = eachStep(codec.innerChunkCount, step);
  return done instanceof Promise ? done.then(finish) : finish();
}

/**
 * mergeEncode for any chain: a shard whose codec is nothing but sharding_indexed gets the
 * piecewise merge above; everything else (including the streaming writer's masked items)
 * decodes, merges and re-encodes the whole chunk.
 */
export function mergeEncodeChunk(
  chain: CodecChain,
  fillWords: Words,
  writeEmptyChunks: boolean,
  item: MergeItem,
): MaybePromise<Uint8Array | null> {
  const codec = chain.arrayToBytes;
  if (codec instanceof ShardingCodec && chain.arrayToArray.length === 0 && chain.bytesToBytes.length === 0 && item.extent && !item.mask) {
    return mergeEncodeShard(codec, fillWords, writeEmptyChunks, { ...item, extent: item.extent });
  }
  return mergeEncode(chain, fillWords, writeEmptyChunks, item);
}
