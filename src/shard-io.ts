/**
 * Partial shard IO for the prefetch stage. A shard is fetched as: its index (one ranged
 * request: a suffix for index_location "end", a prefix for "start"), then the byte ranges of
 * the present inner chunks the operation needs, with nearby ranges coalesced into one request
 * (gap ≤ maxGap, request ≤ maxRequest). When every inner chunk is needed, the whole shard is
 * one request instead. Returns each needed inner chunk's bytes (a view into the fetched
 * buffers) or undefined when absent.
 */
import type { ShardingCodec, ShardIndex } from "./codecs/sharding.js";
import { CodecError, type ErrorContext } from "./errors.js";
import { acquireShared } from "./locks.js";
import type { ByteRange, Store } from "./store.js";

export interface CoalesceOptions {
  /** Merge two ranges when the gap between them is at most this many bytes (default 1 MiB). */
  maxGap?: number;
  /** Never merge into a request larger than this (default 16 MiB). */
  maxRequest?: number;
}

export interface ShardFetch {
  /** The shard does not exist: every inner chunk reads as the fill value. */
  absent: boolean;
  /** Bytes of each needed inner chunk (by flat inner index); missing from the map = absent. */
  pieces: Map<number, Uint8Array>;
  /** Requests made (for metrics). */
  requests: number;
  /**
   * The buffers the store answered with that span their whole memory (nothing else can use
   * them; Store.get's results belong to the caller): the pieces' buffers that may be handed on.
   */
  owned?: ArrayBufferLike[];
  /** A whole-shard read: the shard's bytes as the store answered them (a view of `into` when lent). */
  source?: Uint8Array;
}

/** The buffers of `answers` that are whole: a view of part of a buffer may share it with other data. */
function ownedBuffers(answers: (Uint8Array | undefined)[]): ArrayBufferLike[] {
  return answers.filter((b): b is Uint8Array => b !== undefined && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength).map((b) => b.buffer);
}

interface Span {
  offset: number;
  end: number;
  members: { index: number; offset: number; length: number }[];
}

/** Groups byte ranges (sorted by offset) into spans no larger than maxRequest with gaps ≤ maxGap. */
export function coalesceRanges(
  ranges: { index: number; offset: number; length: number }[],
  maxGap: number,
  maxRequest: number,
): Span[] {
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  const spans: Span[] = [];
  for (const r of sorted) {
    const last = spans[spans.length - 1];
    const end = r.offset + r.length;
    if (last && r.offset - last.end <= maxGap && Math.max(last.end, end) - last.offset <= maxRequest) {
      last.end = Math.max(last.end, end);
      last.members.push(r);
    } else {
      spans.push({ offset: r.offset, end, members: [r] });
    }
  }
  return spans;
}

function named(error: unknown, context: ErrorContext): unknown {
  if (error instanceof CodecError && error.key === undefined) {
    const Ctor = error.constructor as new (message: string, context: ErrorContext) => CodecError;
    return new Ctor(error.detail, { ...context, cause: error.cause });
  }
  return error;
}

/**
 * Holds the shard shared while fetching: a partial read is two requests (index, then ranges),
 * and a writer of this process replacing or patching the shard between them would pair the
 * old index with new bytes — another inner chunk's bytes, decoded without complaint.
 */
export async function fetchShard(
  store: Store,
  key: string,
  codec: ShardingCodec,
  needed: readonly number[],
  wholeShard: boolean,
  options: CoalesceOptions & { signal?: AbortSignal; path: string },
): Promise<ShardFetch> {
  const release = await acquireShared(store, key, options.signal);
  try {
    return await fetchShardUnlocked(store, key, codec, needed, wholeShard, options);
  } finally {
    release();
  }
}

/** fetchShard without taking the shard's lock: the caller holds it (a pool worker's read, whose main thread holds it). */
export async function fetchShardUnlocked(
  store: Store,
  key: string,
  codec: ShardingCodec,
  needed: readonly number[],
  wholeShard: boolean,
  options: CoalesceOptions & { signal?: AbortSignal; path: string; into?: Uint8Array },
): Promise<ShardFetch> {
  const context = { path: options.path, key };
  const call = { signal: options.signal };
  if (wholeShard) {
    const shard = await store.get(key, undefined, options.into ? { ...call, into: options.into } : call);
    return { ...piecesOfShard(shard, codec, needed, context), owned: ownedBuffers([shard]), source: shard };
  }
  const index = readIndexBytes(await store.get(key, indexRangeOf(codec), call), codec, context);
  if (index === undefined) return { absent: true, pieces: new Map(), requests: 1 };
  const spans = spansOf(index, needed, options);
  const requested: ByteRange[] = spans.map((s) => ({ offset: s.offset, length: s.end - s.offset }));
  let buffers: (Uint8Array | undefined)[];
  if (store.getRanges && requested.length > 1) {
    buffers = (await store.getRanges(key, requested, call)) ?? requested.map(() => undefined);
  } else {
    buffers = await Promise.all(requested.map((range) => store.get(key, range, call)));
  }
  return { absent: false, pieces: piecesOfSpans(spans, buffers, context), requests: 1 + requested.length, owned: ownedBuffers(buffers) };
}

/**
 * fetchShard on a store that reads synchronously (a pool worker's own store: see
 * Store.workerHandle), with every byte read into `scratch` when it is large enough: the pieces
 * are then views of it, valid until its next use. `scratch(n)` returns a buffer of at least n
 * bytes (grown when needed). No lock here: the caller holds it.
 */
export function fetchShardSync(
  store: Store & Required<Pick<Store, "getSync">>,
  key: string,
  codec: ShardingCodec,
  needed: readonly number[],
  wholeShard: boolean,
  options: CoalesceOptions & { path: string; scratch?: (size: number) => Uint8Array },
): ShardFetch {
  const context = { path: options.path, key };
  if (wholeShard) {
    const shard = store.getSync(key, undefined, options.scratch ? { into: options.scratch(0) } : undefined);
    // Did not fit: grow the scratch for the next shard (shards of an array have similar sizes).
    if (shard && options.scratch && shard.buffer !== options.scratch(0).buffer) options.scratch(shard.byteLength);
    return piecesOfShard(shard, codec, needed, context);
  }
  const index = readIndexBytes(store.getSync(key, indexRangeOf(codec)), codec, context);
  if (index === undefined) return { absent: true, pieces: new Map(), requests: 1 };
  const spans = spansOf(index, needed, options);
  const total = spans.reduce((n, s) => n + s.end - s.offset, 0);
  const scratch = options.scratch?.(total);
  let at = 0;
  const buffers = spans.map((span) => {
    const length = span.end - span.offset;
    const buffer = store.getSync(key, { offset: span.offset, length }, scratch ? { into: scratch.subarray(at) } : undefined);
    at += length;
    return buffer;
  });
  return { absent: false, pieces: piecesOfSpans(spans, buffers, context), requests: 1 + spans.length };
}

function indexRangeOf(codec: ShardingCodec): ByteRange {
  const length = codec.indexByteLength();
  return codec.indexLocation === "end" ? { suffixLength: length } : { offset: 0, length };
}

/** The inner chunks of a whole fetched shard (undefined: the shard is absent). */
function piecesOfShard(shard: Uint8Array | undefined, codec: ShardingCodec, needed: readonly number[], context: ErrorContext): ShardFetch {
  const pieces = new Map<number, Uint8Array>();
  if (shard === undefined) return { absent: true, pieces, requests: 1 };
  let index: ShardIndex;
  try {
    index = codec.readIndex(shard);
  } catch (error) {
    throw named(error, context);
  }
  for (const i of needed) {
    const range = index.range(i);
    if (range) pieces.set(i, shard.subarray(range.offset, range.offset + range.length));
  }
  return { absent: false, pieces, requests: 1 };
}

/** A fetched index, decoded (undefined: the shard is absent). */
function readIndexBytes(indexBytes: Uint8Array | undefined, codec: ShardingCodec, context: ErrorContext): ShardIndex | undefined {
  if (indexBytes === undefined) return undefined;
  const indexLength = codec.indexByteLength();
  if (indexBytes.byteLength !== indexLength) {
    throw new CodecError(`shard is ${indexBytes.byteLength} bytes, shorter than its ${indexLength}-byte index (truncated?)`, context);
  }
  try {
    return codec.decodeIndex(indexBytes);
  } catch (error) {
    throw named(error, context);
  }
}

/** The requests for the present needed inner chunks: nearby ranges coalesced. */
function spansOf(index: ShardIndex, needed: readonly number[], options: CoalesceOptions): Span[] {
  const ranges: { index: number; offset: number; length: number }[] = [];
  for (const i of needed) {
    const range = index.range(i);
    if (range) ranges.push({ index: i, ...range });
  }
  return coalesceRanges(ranges, options.maxGap ?? 1 << 20, options.maxRequest ?? 16 << 20);
}

/** The inner chunks' bytes out of the fetched spans; a span cut short means a broken shard. */
function piecesOfSpans(spans: Span[], buffers: (Uint8Array | undefined)[], context: ErrorContext): Map<number, Uint8Array> {
  const pieces = new Map<number, Uint8Array>();
  spans.forEach((span, s) => {
    const buffer = buffers[s];
    const expected = span.end - span.offset;
    if (buffer === undefined || buffer.byteLength !== expected) {
      // The index points past the end of the object (or it vanished between the requests).
      throw new CodecError(
        `shard index points at bytes [${span.offset}, ${span.end}) but the shard ${buffer === undefined ? "is gone" : `has only ${span.offset + buffer.byteLength}`}`,
        context,
      );
    }
    for (const m of span.members) pieces.set(m.index, buffer.subarray(m.offset - span.offset, m.offset - span.offset + m.length));
  });
  return pieces;
}
