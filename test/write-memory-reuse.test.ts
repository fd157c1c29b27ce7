/**
 * Memory reused by writes (issue 12): shards laid out in the thread's assembly buffer with
 * inner chunks merged in lent memory, and chunk pieces recycled from one write to the next.
 * Reuse must never let one write's bytes into another's chunks.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { create, slice } from "../src/index.js";
import { MemoryStore } from "../stores/index.js";
import "../src/codecs/index.js";
import { ShardingCodec } from "../src/codecs/sharding.js";
import { CodecChain } from "../src/codecs/chain.js";
import { sharedRecycler } from "../src/chunk-ops.js";
import { mergeEncodeShard } from "../src/shard-merge.js";
import { wordView } from "../src/copy.js";

const ZSTD = [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1, checksum: false } }];

/** The sharding codec of shards of `shape` with `codecs` inside (inner chunks of `chunk`). */
function shardingCodec(shape: number[], chunk: number[], fillValue: number): ShardingCodec {
  const chain = new CodecChain({ shape, dataType: "uint16", fillValue }, [{ name: "sharding_indexed", configuration: { chunk_shape: chunk, codecs: ZSTD } }]);
  return chain.arrayToBytes as ShardingCodec;
}

/** Every element of a stored shard, the padding beyond the array's edge included. */
async function storedShard(store: MemoryStore, key: string, codec: ShardingCodec): Promise<Uint16Array> {
  const bytes = await store.get(key);
  if (!bytes) throw new Error(`no ${key}`);
  const decoded = await codec.decode(bytes);
  return decoded.data as Uint16Array;
}

describe("shard assembly and lent inner-chunk memory", () => {
  it("an edge shard's padding holds the fill value, not what the lent memory held before", async () => {
    const store = new MemoryStore();
    // Inner chunks of 64 in shards of 128: the array ends at 100, inside the second inner chunk.
    const make = (path: string) => create(store, { path, shape: [100], chunks: [64], shards: [128], dtype: "uint16", fillValue: 7, codecs: ZSTD });
    const dirty = await create(store, { path: "dirty", shape: [256], chunks: [64], shards: [128], dtype: "uint16", fillValue: 0, codecs: ZSTD });
    await dirty.write(null, new Uint16Array(256).fill(0xabcd), { workers: 0 }); // the lent memory now holds 0xabcd
    const a = await make("a");
    await a.write(null, new Uint16Array(100).fill(3), { workers: 0 });
    const codec = shardingCodec([128], [64], 7);
    const shard = await storedShard(store, "a/c/0", codec);
    expect(Array.from(shard.subarray(0, 100)).every((v) => v === 3)).toBe(true);
    expect(Array.from(shard.subarray(100))).toEqual(new Array(28).fill(7));
  });

  it("gives byte-identical shards to a layout of separately encoded inner chunks, in Morton order", async () => {
    const codec = shardingCodec([32, 32], [8, 8], 0);
    const data = new Uint16Array(32 * 32).map((_, i) => (i * 2654435761) >>> 20);
    const region = [{ start: 0, step: 1, count: 32 }, { start: 0, step: 1, count: 32 }];
    const merged = mergeEncodeShard(codec, wordView(new Uint8Array(2), 2).words, false, { existing: undefined, piece: new Uint8Array(data.buffer), scalar: false, chunkRegion: region, extent: [32, 32], key: "k" });
    const viaLayout = await codec.encode({ data, shape: [32, 32], dtype: "uint16" });
    expect(merged).not.toBeInstanceOf(Promise);
    expect(Buffer.from(merged as Uint8Array).equals(Buffer.from(viaLayout))).toBe(true);
  });

  it("a transient result is the thread's assembly; a kept one survives the next shard", () => {
    const codec = shardingCodec([16], [8], 0);
    const fill = wordView(new Uint8Array(2), 2).words;
    const item = (value: number) => ({ existing: undefined, piece: new Uint8Array(new Uint16Array(16).fill(value).buffer), scalar: false, chunkRegion: [{ start: 0, step: 1, count: 16 }], extent: [16], key: "k" });
    const kept = (mergeEncodeShard(codec, fill, false, item(1)) as Uint8Array).slice();
    const keptRef = mergeEncodeShard(codec, fill, false, item(1)) as Uint8Array;
    const transient = mergeEncodeShard(codec, fill, false, item(2), true) as Uint8Array;
    expect(Buffer.from(keptRef).equals(Buffer.from(kept))).toBe(true); // not overwritten by the later shard
    const again = mergeEncodeShard(codec, fill, false, item(1), true) as Uint8Array;
    expect(transient.buffer).toBe(again.buffer); // the same reused memory
  });

  it("inner chains that answer with Promises still get correct, owned shards", async () => {
    // blosc (numcodecs, WASM) encodes asynchronously.
    const chain = [{ name: "bytes", configuration: { endian: "little" } }, { name: "blosc", configuration: { cname: "lz4", clevel: 5, shuffle: "shuffle", typesize: 2, blocksize: 0 } }];
    const store = new MemoryStore();
    const a = await create(store, { path: "b", shape: [48, 48], chunks: [16, 16], shards: [32, 32], dtype: "uint16", fillValue: 0, codecs: chain });
    const values = new Uint16Array(48 * 48).map((_, i) => i % 1000);
    await Promise.all([a.write(null, values, { workers: 0 }), a.write([slice(0, 48), slice(0, 48)], values, { workers: 0 })]);
    const back = await a.read(null, { workers: 0 });
    expect(Buffer.from((back.data as Uint16Array).buffer).equals(Buffer.from(values.buffer))).toBe(true);
  });
});

describe("pieces recycled between writes", () => {
  afterEach(() => vi.useRealTimers());

  it("a second write of the same piece size takes the first one's spares; they go two seconds after the last write", () => {
    vi.useFakeTimers();
    const first = sharedRecycler(4096);
    const piece = first.recycler.take(4096);
    first.recycler.give(piece);
    first.done();
    const second = sharedRecycler(4096);
    expect(second.recycler).toBe(first.recycler);
    expect(second.recycler.take(4096).buffer).toBe(piece.buffer);
    second.recycler.give(piece);
    second.done();
    vi.advanceTimersByTime(2001);
    const third = sharedRecycler(4096);
    expect(third.recycler.take(4096).buffer).not.toBe(piece.buffer);
    third.done();
  });

  it("a piece still used by its result is not kept", () => {
    const { recycler, done } = sharedRecycler(64);
    const piece = recycler.take(64);
    recycler.give(piece, piece.subarray(8));
    expect(recycler.take(64).buffer).not.toBe(piece.buffer);
    done();
  });

  it("repeated writes through recycled pieces store exactly what each write asked for", async () => {
    const store = new MemoryStore();
    const a = await create(store, { path: "r", shape: [64, 64], chunks: [16, 16], dtype: "uint16", fillValue: 0, codecs: ZSTD });
    for (let round = 1; round <= 3; round++) {
      const values = new Uint16Array(64 * 64).map((_, i) => (i * round) & 0xffff);
      await a.write(null, values, { workers: 0 });
      const back = await a.read(null, { workers: 0 });
      expect(Buffer.from((back.data as Uint16Array).buffer).equals(Buffer.from(values.buffer))).toBe(true);
    }
  });
});
