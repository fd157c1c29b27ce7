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
import { fillChunk, fillChunkInto, isAllFill, mergeEncode, type MergeItem } from "./chunk-ops.js";
import { DATA_TYPES, allocate, bytesOf, product, type DataType, type TypedArray } from "./dtype.js";
import type { Region } from "./selection.js";
import { CodecError, type ErrorContext } from "./errors.js";

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


/**
 * Where a region meets one inner chunk along one dimension: positions m0..m0+count-1 of the
 * region, or for a listed region (index array) the positions `picks` of the region, landing at
 * `at` inside the inner chunk; `distinct` counts the different positions hit.
 */
interface Hit {
  m0: number;
  count: number;
  picks?: number[];
  at?: number[];
  distinct: number;
}

/** Listed overlaps by region and inner-chunk origin: each is asked for once per inner chunk of the shard. */
const listedHits = new WeakMap<Region, Map<string, Hit | undefined>>();

/** Where a strided region meets the box [origin, origin + size): selected positions m0.. of the region. */
function overlap(region: Region, origin: number, size: number): Hit | undefined {
  const { start, step, count } = region;
  const m0 = Math.max(0, Math.ceil((origin - start) / step));
  if (m0 >= count) return undefined;
  const m1 = Math.min(count - 1, Math.floor((origin + size - 1 - start) / step));
  return m1 >= m0 ? { m0, count: m1 - m0 + 1, distinct: m1 - m0 + 1 } : undefined;
}

function overlapAny(region: Region, origin: number, size: number): Hit | undefined {
  if (region.index === undefined) return overlap(region, origin, size);
  let cache = listedHits.get(region);
  if (!cache) listedHits.set(region, (cache = new Map()));
  const key = `${origin}:${size}`;
  if (cache.has(key)) return cache.get(key);
  const picks: number[] = [];
  const at: number[] = [];
  region.index.forEach((p, j) => {
    if (p >= origin && p < origin + size) {
      picks.push(j);
      at.push(p - origin);
    }
  });
  const hit = picks.length ? { m0: 0, count: picks.length, picks, at, distinct: new Set(at).size } : undefined;
  cache.set(key, hit);
  return hit;
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

/** Where a write meets inner chunk `i`: its origin, in-bounds size and the overlap per dimension (undefined: untouched). */
export function innerOverlap(codec: ShardingCodec, item: Pick<ShardMergeItem, "chunkRegion" | "extent">, i: number) {
  const innerShape = codec.innerChunkShape;
  const coords = codec.innerCoords(i);
  const origin = coords.map((c, d) => c * innerShape[d]);
  const inside = origin.map((o, d) => Math.min(innerShape[d], item.extent[d] - o));
  if (inside.some((n) => n <= 0)) return { coords, origin, inside, outside: true as const, hits: undefined };
  const hits: Hit[] = [];
  for (let d = 0; d < origin.length; d++) {
    const hit = overlapAny(item.chunkRegion[d], origin[d], innerShape[d]);
    if (!hit) return { coords, origin, inside, outside: false as const, hits: undefined };
    hits.push(hit);
  }
  return { coords, origin, inside, outside: false as const, hits, complete: hits.every((h, d) => h.distinct === inside[d]) };
}

/**
 * Merges the write into inner chunk `i` (decoding `stored` unless the write covers the chunk)
 * and encodes it. Undefined when it ends up holding only the fill value and empty chunks are
 * not kept.
 */
export function mergeInner(
  codec: ShardingCodec,
  fillWords: Words,
  keepEmpty: boolean,
  item: ShardMergeItem,
  i: number,
  stored: Uint8Array | undefined,
  /**
   * An inner chunk's worth of memory the caller lends for the merge when the stored chunk is
   * not decoded (the result may then alias it, or the codec's scratch memory: see `transient`).
   */
  lent?: TypedArray,
  /** Passed to the inner chain's encode: the result may live in scratch memory until the next encode. */
  transient = false,
): MaybePromise<Uint8Array | undefined> {
  const { dataType } = codec.innerChain.spec;
  const itemsize = DATA_TYPES[dataType].itemsize;
  const innerShape = codec.innerChunkShape;
  const where = innerOverlap(codec, item, i);
  if (!where.hits) throw new Error("mergeInner: the write does not touch this inner chunk");
  const { hits, origin, coords } = where;
  const source = wordView(item.piece, itemsize).words;
  const key = `${item.key}[${coords}]`;
  const merge = (base: TypedArray): MaybePromise<Uint8Array | undefined> => {
    const view = wordView(bytesOf(base), itemsize);
    const dst: Region[] = hits.map((h, d) =>
      h.at ? { start: 0, step: 1, count: h.count, index: h.at } : { start: item.chunkRegion[d].start + h.m0 * item.chunkRegion[d].step - origin[d], step: item.chunkRegion[d].step, count: h.count },
    );
    if (item.scalar) fillRegion(view.words, innerShape, dst, source, view.k);
    else {
      const src: Region[] = hits.map((h) => (h.picks ? { start: 0, step: 1, count: h.count, index: h.picks } : { start: h.m0, step: 1, count: h.count }));
      copyRegion(view.words, innerShape, dst, source, item.chunkRegion.map((r) => r.count), src, view.k);
    }
    if (!keepEmpty && isAllFill(view.words, fillWords, view.k)) return undefined;
    return codec.innerChain.encode({ data: base, shape: innerShape, dtype: dataType }, key, { transient });
  };
  if (where.complete || !stored) {
    if (!lent) return merge(fillChunk(dataType, innerShape, fillWords));
    // Every element is overwritten when the write covers the whole inner chunk inside the
    // array; otherwise the rest must read as the fill value, not as the lent memory's past.
    if (!where.complete || where.inside.some((n, d) => n !== innerShape[d])) fillChunkInto(lent, dataType, innerShape, fillWords);
    return merge(lent);
  }
  const decoded = codec.innerChain.decode(stored, key);
  return decoded instanceof Promise ? decoded.then((d) => merge(d.data)) : merge(decoded.data);
}

/** This thread's inner-chunk memory while no merge holds it (numeric data types only). */
let spareInner: TypedArray | undefined;

function takeInner(dataType: DataType, count: number): TypedArray | undefined {
  const info = DATA_TYPES[dataType];
  if (info.form === "object") return undefined;
  const spare = spareInner;
  spareInner = undefined;
  return spare && spare.constructor === info.ctor && spare.length === count * info.slots ? spare : allocate(dataType, count);
}

/**
 * The merged, encoded shard, or null when no inner chunk remains (delete the shard). Inner
 * chunks go straight into the thread's shard assembly in Morton order (see ShardAssembler),
 * and the new values of each are merged in one lent inner chunk of memory: a shard costs no
 * fresh memory per inner chunk. With `transient` and a synchronous inner chain, the result
 * is a view of the assembly, valid until the next shard is assembled on this thread.
 */
export function mergeEncodeShard(
  codec: ShardingCodec,
  fillWords: Words,
  writeEmptyChunks: boolean,
  item: ShardMergeItem,
  transient = false,
): MaybePromise<Uint8Array | null> {
  let index: ShardIndex | undefined;
  try {
    index = item.existing ? codec.readIndex(item.existing) : undefined;
  } catch (error) {
    // readIndex runs outside a chain, which would have named the key: name the shard here.
    if (error instanceof CodecError && error.key === undefined) {
      const Ctor = error.constructor as new (message: string, context: ErrorContext) => CodecError;
      throw new Ctor(error.detail, { path: error.path, key: item.key, cause: error.cause });
    }
    throw error;
  }
  const order = codec.mortonOrder;
  const { dataType } = codec.innerChain.spec;
  const assembler = codec.assembler();
  // Both are this call's alone until it ends (a concurrent merge on this thread gets its own).
  const lent = takeInner(dataType, product(codec.innerChunkShape));
  // Until an inner encode answers with a Promise: after one, other work may run on this thread
  // between steps, so encoded bytes must not stay in a codec's scratch memory.
  let sync = true;
  const step = (j: number): MaybePromise<void> => {
    const i = order[j];
    const where = innerOverlap(codec, item, i);
    if (where.outside) return;
    const range = index?.range(i);
    const stored = range && item.existing ? item.existing.subarray(range.offset, range.offset + range.length) : undefined;
    if (!where.hits) {
      if (stored) assembler.add(i, stored); // untouched: keep the stored bytes as they are
      return;
    }
    const merged = mergeInner(codec, fillWords, writeEmptyChunks, item, i, stored, lent, sync);
    if (merged instanceof Promise) {
      sync = false;
      return merged.then((bytes) => void (bytes && assembler.add(i, bytes)));
    }
    if (merged) assembler.add(i, merged);
  };
  const end = () => {
    if (lent) spareInner = lent;
  };
  const finish = (): Uint8Array | null => {
    end();
    if (assembler.empty) {
      assembler.release();
      return null;
    }
    return assembler.finish(transient && sync);
  };
  const fail = (error: unknown): never => {
    end();
    assembler.release();
    throw error;
  };
  let done: MaybePromise<void>;
  try {
    done = eachStep(order.length, step);
  } catch (error) {
    return fail(error);
  }
  return done instanceof Promise ? done.then(finish, fail) : finish();
}

/** One inner-chunk slot of an in-place shard patch. */
export interface PatchSlot {
  index: number;
  offset: number;
  /** Current bytes of the slot, when the write covers it only in part. */
  stored: Uint8Array | undefined;
}

/**
 * The in-place patch of a densely laid-out shard with fixed-size inner chunks: the new bytes
 * of each touched slot, written over the old ones with setRange. The index does not change
 * (same offsets and sizes), so it is not rewritten. Fill-only inner chunks stay in place
 * (as fill), keeping the shard dense.
 */
export function patchShard(
  codec: ShardingCodec,
  fillWords: Words,
  item: ShardMergeItem,
  slots: PatchSlot[],
): MaybePromise<{ offset: number; bytes: Uint8Array }[]> {
  const out: { offset: number; bytes: Uint8Array }[] = [];
  const size = codec.innerEncodedSize;
  const step = (n: number): MaybePromise<void> => {
    const slot = slots[n];
    const put = (bytes: Uint8Array | undefined): void => {
      if (!bytes || bytes.byteLength !== size) {
        throw new CodecError(`patch of inner chunk [${codec.innerCoords(slot.index)}]: encoded ${bytes?.byteLength} bytes, its slot holds ${size}`, { key: item.key });
      }
      out.push({ offset: slot.offset, bytes });
    };
    const merged = mergeInner(codec, fillWords, true, item, slot.index, slot.stored);
    return merged instanceof Promise ? merged.then(put) : put(merged);
  };
  const done = eachStep(slots.length, step);
  return done instanceof Promise ? done.then(() => out) : out;
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
  /** The result may live in scratch memory until the next encode on this thread (see CodecChain.encode). */
  transient = false,
): MaybePromise<Uint8Array | null> {
  const codec = chain.arrayToBytes;
  if (codec instanceof ShardingCodec && chain.arrayToArray.length === 0 && chain.bytesToBytes.length === 0 && item.extent && !item.mask) {
    return mergeEncodeShard(codec, fillWords, writeEmptyChunks, { ...item, extent: item.extent }, transient);
  }
  return mergeEncode(chain, fillWords, writeEmptyChunks, item, transient);
}
