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

async function fetchShardUnlocked(
  store: Store,
  key: string,
  codec: ShardingCodec,
  needed: readonly number[],
  wholeShard: boolean,
  options: CoalesceOptions & { signal?: AbortSignal; path: string },
): Promise<ShardFetch> {
  const context = { path: options.path, key };
  const call = { signal: options.signal };
  const pieces = new Map<number, Uint8Array>();
  if (wholeShard) {
    const shard = await store.get(key, undefined, call);
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

  const indexLength = codec.indexByteLength();
  const indexRange: ByteRange = codec.indexLocation === "end" ? { suffixLength: indexLength } : { offset: 0, length: indexLength };
  const indexBytes = await store.get(key, indexRange, call);
  if (indexBytes === undefined) return { absent: true, pieces, requests: 1 };
  if (indexBytes.byteLength !== indexLength) {
    throw new CodecError(`shard is ${indexBytes.byteLength} bytes, shorter than its ${indexLength}-byte index (truncated?)`, context);
  }
  let index: ShardIndex;
  try {
    index = codec.decodeIndex(indexBytes);
  } catch (error) {
    throw named(error, context);
  }
  const ranges: { index: number; offset: number; length: number }[] = [];
  for (const i of needed) {
    const range = index.range(i);
    if (range) ranges.push({ index: i, ...range });
  }
  const spans = coalesceRanges(ranges, options.maxGap ?? 1 << 20, options.maxRequest ?? 16 << 20);
  const requested: ByteRange[] = spans.map((s) => ({ offset: s.offset, length: s.end - s.offset }));
  let buffers: (Uint8Array | undefined)[];
  if (store.getRanges && requested.length > 1) {
    buffers = (await store.getRanges(key, requested, call)) ?? requested.map(() => undefined);
  } else {
    buffers = await Promise.all(requested.map((range) => store.get(key, range, call)));
  }
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
  return { absent: false, pieces, requests: 1 + requested.length };
}
