/**
 * ZarrArray: the array facade. Reads and writes are planned here and run through the three
 * stages of the pipeline:
 *
 *   read:  chunk requests ─► prefetch (store.get, N in flight) ─► compute (decode straight into the output) ─► done
 *   write: chunk jobs ─► prefetch (lock the chunk; read it if partly overwritten) ─► compute (merge, encode) ─► commit
 *
 * The request stream is a lazy generator over the selection's chunks, so nothing proportional
 * to the number of chunks is materialised. Compute runs inline or on the worker pool; reads on
 * the pool decode into a SharedArrayBuffer output inside the workers.
 */
import "./codecs/index.js";
import { CodecChain } from "./codecs/chain.js";
import { ShardingCodec } from "./codecs/sharding.js";
import { fetchShard, type CoalesceOptions } from "./shard-io.js";
import { coalesceRanges } from "./shard-io.js";
import { innerOverlap, mergeEncodeChunk, patchShard, type PatchSlot } from "./shard-merge.js";
import { encodeChunkKey } from "./chunk-key.js";
import { dimCount, dimOffset, distinctSizes, isRegularGrid, type ChunkGrid } from "./chunk-grid.js";
import {
  compact,
  decodeInto,
  pageSharingKey,
  decodeRegion,
  extractPiece,
  BufferRecycler,
  sharedRecycler,
  type DecodeItem,
  type MergeItem,
  type OutputTarget,
} from "./chunk-ops.js";
import { copyRegion, wordView, type Words } from "./copy.js";
import { DATA_TYPES, allocate, bytesOf, product, scalarArray, viewAs, type DataType, type DataTypeInfo, type Scalar, type TypedArray } from "./dtype.js";
import { MetadataError, UnsupportedOperationError, ValueError, ZarrflowError, asAbortError, throwIfAborted, type ErrorContext } from "./errors.js";
import { acquireKey, acquireShared } from "./locks.js";
import { platform } from "./platform/current.js";
import type { ArrayMetadata, ZarrFormat } from "./metadata.js";
import type { NdArray } from "./ndarray.js";
import {
  checkReadSize,
  countChunks,
  normalizeSelection,
  projectChunks,
  selectionShape,
  type ChunkProjection,
  type DimSelection,
  type Region,
  type Selection,
} from "./selection.js";
import { joinKey, type Store } from "./store.js";
import { streamFromIterator } from "./stream-util.js";
import { valueSource, type WriteValue } from "./value.js";
import type { ChainRef, EncodeResult } from "./worker.js";
import type { ReadBatch, ReadItem } from "./worker-read.js";
import type { EncodeStoreBatch, EncodeStoreResult } from "./worker-write.js";
import { DEFAULT_CONCURRENCY, prefetch } from "../operators/prefetch.js";
import { compute } from "../operators/compute.js";
import { commit, type CommitItem } from "../operators/commit.js";
import { scatter } from "../operators/scatter.js";
import { createWriter, type WriteItem, type WriterOptions } from "./writer.js";
import { WorkerPool, sharedPool } from "../operators/pool.js";
import { ByteBudget } from "../operators/budget.js";
import { stringifyJSON } from "./json.js";

export interface Progress {
  chunksDone: number;
  /** Chunks the operation touches (unknown, -1, for streamed writes). */
  chunksTotal: number;
  /** Stored bytes read (reads) or written (writes) so far. */
  bytesDone: number;
}

export interface OperationOptions {
  /** Store requests in flight (default 8). */
  concurrency?: number;
  /**
   * Compute on a worker pool: 0 runs codecs inline on this thread; N uses a pool of N workers
   * (shared per size); "auto" (default) uses the machine-sized shared pool when the operation
   * holds enough compressed work to pay for it, inline otherwise.
   */
  workers?: number | "auto";
  /** A pool to use instead of the shared one. */
  pool?: WorkerPool;
  /** How shard byte ranges are merged into requests (sharded arrays). */
  coalesce?: CoalesceOptions;
  /** Stored bytes fetched and not yet decoded, at most (default 256 MiB; plus up to `concurrency` chunks in flight). */
  prefetchBytes?: number;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface ReadOptions extends OperationOptions {
  /**
   * Read into this array instead of a new one: the dtype's typed array with exactly as many
   * elements as the selection (C order). Reusing one output across reads saves the page faults
   * of a fresh buffer (≈ 0.4 ms per MiB). Workers write into it directly only when its buffer is
   * a SharedArrayBuffer; otherwise the read runs inline.
   */
  out?: TypedArray;
}

export interface ReadChunksOptions extends OperationOptions {
  /** Emit chunks in C order of their coordinates (default false: as they complete). */
  ordered?: boolean;
}

export interface WriteOptions extends OperationOptions {
  /** Store chunks that hold only the fill value (default: the array's setting, false by default). */
  writeEmptyChunks?: boolean;
}

export interface ArrayOpenOptions {
  writeEmptyChunks?: boolean;
}

/** A fetched chunk on its way to compute; `stored` is its stored size (kept after the bytes move to a worker). */
type FetchedChunk = DecodeItem & { projection: ChunkProjection; stored: number; /** The shard key, for an inner chunk. */ shard?: string };

/** Codec chains kept per chunk shape of a rectilinear grid (beyond this many, the cache starts over). */
const SHAPED_CHAINS = 64;

/**
 * A chunk (or shard) a pool worker fetches for itself (see Store.workerHandle): no bytes here,
 * `read` is filled in with the stored bytes the worker read.
 */
type PlannedChunk = FetchedChunk & { direct: ReadItem; read?: number };

/** One chunk of a planned read. */
export interface ChunkRequest {
  /** Full store key. */
  key: string;
  projection: ChunkProjection;
}

/** One chunk of a streamed read: its selected part, and where it sits in the selection's result. */
export interface ChunkResult {
  /** Chunk grid coordinates. */
  coords: number[];
  /** Where `data` goes in the selection's result (one entry per result dimension). */
  region: Region[];
  data: NdArray;
}

/** One chunk of a write: the new values for it and whether they cover it. */
export interface WriteJob {
  key: string;
  /** Every in-bounds element of the chunk is overwritten: no need to read the existing chunk. */
  complete: boolean;
  piece: Uint8Array;
  scalar: boolean;
  chunkRegion: Region[];
  mask?: Uint8Array;
  /** The chunk's in-bounds extent (see chunkExtent). */
  extent?: number[];
  /** The chunk's encoded shape on a rectilinear grid (absent: the array's chunk shape). */
  shape?: number[];
}

const DEFAULT_PREFETCH_BYTES = 256 << 20;

/** Below this much work per operation, the pool's start-up and message costs outweigh it. */
const AUTO_POOL_MIN_BYTES = 8 << 20;

const pools = new Map<number, WorkerPool>();

/** Resolves the `workers` option to a pool, or undefined for inline compute. */
export function resolvePool(options: OperationOptions, workBytes: number, chainIsTrivial: boolean): WorkerPool | undefined {
  if (options.pool) return options.pool;
  const workers = options.workers ?? "auto";
  if (workers === 0) return undefined;
  if (workers === "auto") return !chainIsTrivial && workBytes >= AUTO_POOL_MIN_BYTES ? sharedPool() : undefined;
  const size = Math.max(1, Math.floor(workers));
  if (size === sharedPool().size) return sharedPool();
  let pool = pools.get(size);
  if (!pool) pools.set(size, (pool = new WorkerPool({ size })));
  return pool;
}

/** Closes every pool created through the `workers` option (the shared one included). */
export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.close()));
  const { closeSharedPool } = await import("../operators/pool.js");
  await closeSharedPool();
}

export class ZarrArray {
  readonly chain: CodecChain;
  /** Shape of each stored chunk (rectilinear grids: the largest along each dimension). */
  readonly chunkShape: number[];
  /**
   * The grid of stored chunks (shards, for sharded arrays): the chunk shape itself when regular,
   * per dimension a length or edges when rectilinear (src/chunk-grid.ts).
   */
  readonly grid: ChunkGrid;
  private readonly shapedChains = new Map<string, CodecChain>();
  writeEmptyChunks: boolean;
  private readonly fillWords: Words;
  private readonly itemsize: number;
  private readonly k: number;
  private readonly chainRefs = new WeakMap<CodecChain, ChainRef>();
  /** The sharding codec, when the array→bytes codec is sharding_indexed. */
  readonly sharding: ShardingCodec | undefined;
  /**
   * Shards can be read piecewise (index, then inner chunks) when nothing wraps the sharding
   * codec; outer transpose or compression forces whole-shard IO through the full chain.
   */
  readonly partialShardIO: boolean;

  constructor(
    readonly store: Store,
    readonly path: string,
    readonly metadata: ArrayMetadata,
    options: ArrayOpenOptions = {},
  ) {
    this.chunkShape = metadata.chunkShape;
    this.grid = metadata.chunkGrid ?? metadata.chunkShape;
    this.chain = new CodecChain(
      { shape: metadata.chunkShape, dataType: metadata.dataType, fillValue: metadata.fillValue },
      metadata.codecs,
      { path },
    );
    this.itemsize = DATA_TYPES[metadata.dataType].itemsize;
    const fill = wordView(bytesOf(scalarArray(metadata.fillValue, metadata.dataType)), this.itemsize);
    this.fillWords = fill.words;
    this.k = fill.k;
    this.writeEmptyChunks = options.writeEmptyChunks ?? false;
    this.sharding = this.chain.arrayToBytes instanceof ShardingCodec ? this.chain.arrayToBytes : undefined;
    this.partialShardIO = this.sharding !== undefined && this.chain.arrayToArray.length === 0 && this.chain.bytesToBytes.length === 0;
    if (this.sharding && this.chain.arrayToArray.length === 0 && !isRegularGrid(this.grid)) {
      // The codec checked the largest shard only; every shard edge must hold whole inner chunks.
      // (Behind a transpose the shard's axes move: the chain of each shard shape checks it then.)
      const inner = this.sharding.innerChunkShape;
      this.grid.forEach((dim, d) => {
        for (const size of distinctSizes(dim)) {
          if (size % inner[d] !== 0) {
            throw new MetadataError(`shard edge ${size} (dimension ${d}) is not a multiple of the inner chunk length ${inner[d]}`, { path });
          }
        }
      });
    }
  }

  /**
   * The codec chain of a chunk of `shape` (rectilinear grids: chunks differ in shape, and so do
   * transposes and shard layouts); the array's own chain when the shape is not given.
   */
  chainFor(shape: readonly number[] | undefined): CodecChain {
    if (shape === undefined) return this.chain;
    const key = shape.join(",");
    if (key === this.chunkShape.join(",")) return this.chain;
    let chain = this.shapedChains.get(key);
    if (!chain) {
      if (this.shapedChains.size >= SHAPED_CHAINS) this.shapedChains.clear();
      chain = new CodecChain({ ...this.chain.spec, shape: [...shape] }, this.metadata.codecs, { path: this.path });
      this.shapedChains.set(key, chain);
    }
    return chain;
  }

  /** The sharding codec of a shard of `shape` (rectilinear shard grids: shards differ in shape). */
  private shardCodec(shape: readonly number[] | undefined): ShardingCodec {
    return this.chainFor(shape).arrayToBytes as ShardingCodec;
  }

  /** The chain a fetched item decodes with. */
  private readChainOf(item: { shape?: number[] }): CodecChain {
    return item.shape === undefined || this.partialShardIO ? this.readChain : this.chainFor(item.shape);
  }

  /** The grid a read decodes on: inner chunks (always regular) when shards are read piecewise. */
  private get readGrid(): ChunkGrid {
    return this.partialShardIO ? (this.sharding as ShardingCodec).innerChunkShape : this.grid;
  }

  /**
   * Per dimension, the edge lengths of the chunks (shards, when sharded) that overlap the array,
   * or null for a regular grid (then `chunks` / `shards` say it all). A dimension the metadata
   * gives as one length stays that number.
   */
  get chunkEdges(): (number | number[])[] | null {
    if (isRegularGrid(this.grid)) return null;
    return this.grid.map((dim) => (typeof dim === "number" ? dim : dim.edges()));
  }

  get shape(): number[] {
    return this.metadata.shape;
  }
  /** The chunk shape a reader sees: the inner chunk shape of a sharded array. */
  get chunks(): number[] {
    return this.sharding ? this.sharding.innerChunkShape : this.metadata.chunkShape;
  }
  /** The shard shape, or null for unsharded arrays. */
  get shards(): number[] | null {
    return this.sharding ? this.metadata.chunkShape : null;
  }
  get dtype(): DataType {
    return this.metadata.dataType;
  }
  /**
   * What the data type is: its kind, item size, in-memory form; the unit and scale factor of
   * datetimes; the field table of structs (see dtype-extended.ts).
   */
  get dtypeInfo(): DataTypeInfo {
    return DATA_TYPES[this.metadata.dataType];
  }
  /**
   * Object data types (strings, byte strings) are JS arrays in memory: their chunks are decoded
   * on this thread (measured: moving them to workers costs more in structured cloning than the
   * decode does, see README), and copied value by value.
   */
  private get objectForm(): boolean {
    return DATA_TYPES[this.metadata.dataType].form === "object";
  }
  get fillValue(): Scalar {
    return this.metadata.fillValue;
  }
  get zarrFormat(): ZarrFormat {
    return this.metadata.zarrFormat;
  }
  get attrs(): Record<string, unknown> {
    return this.metadata.attributes;
  }
  get dimensionNames(): (string | null)[] | null {
    return this.metadata.dimensionNames;
  }
  get ndim(): number {
    return this.metadata.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return product(this.metadata.shape);
  }

  /** Store key of the chunk at grid coordinates `coords`. */
  chunkKey(coords: readonly number[]): string {
    return joinKey(this.path, encodeChunkKey(this.metadata.chunkKeyEncoding, coords));
  }

  private context(key?: string): ErrorContext {
    return key === undefined ? { path: this.path } : { path: this.path, key };
  }

  /** Normalises a selection against this array (a typed SelectionError when it does not fit). */
  select(selection?: Selection): DimSelection[] {
    return normalizeSelection(selection, this.metadata.shape, this.context());
  }

  /** A chain by value, for workers. */
  private chainRef(chain: CodecChain): ChainRef {
    let ref = this.chainRefs.get(chain);
    if (!ref) {
      const codecs = chain.toJSON();
      const spec = JSON.stringify(chain.spec, (_, v) => (typeof v === "bigint" ? v.toString() : v));
      ref = {
        id: `${this.path}\u0000${spec}\u0000${stringifyJSON(codecs)}`,
        path: this.path,
        spec: chain.spec,
        codecs,
        itemsize: this.itemsize,
        fill: bytesOf(scalarArray(this.metadata.fillValue, this.metadata.dataType)).slice(),
      };
      this.chainRefs.set(chain, ref);
    }
    return ref;
  }

  /** The chain reads decode with: the inner chain when shards are read piecewise. */
  private get readChain(): CodecChain {
    return this.partialShardIO ? (this.sharding as ShardingCodec).innerChain : this.chain;
  }

  /** True when decoding is a plain copy (no compression, checksum or transpose): not worth a worker. */
  private get chainIsTrivial(): boolean {
    const chain = this.readChain;
    return chain.arrayToArray.length === 0 && chain.bytesToBytes.length === 0 && !(chain.arrayToBytes instanceof ShardingCodec);
  }

  /** Decoded bytes of one unit of compute (a chunk, or an inner chunk of a piecewise-read shard). */
  private chunkBytes(): number {
    return product(this.readChain.spec.shape) * this.itemsize;
  }

  /** The chunk requests of a selection; `dedupe` for writes (repeated indices: the last one wins). */
  private *requests(sel: DimSelection[], dedupe = false): Generator<ChunkRequest> {
    for (const projection of projectChunks(sel, this.metadata.shape, this.grid, { dedupe })) {
      yield { key: this.chunkKey(projection.chunkCoords), projection };
    }
  }

  /** Requests → fetched chunks (inner chunks for piecewise-read shards), with bounded IO concurrency. */
  private fetchStream(sel: DimSelection[], options: OperationOptions & { ordered?: boolean }, budget: ByteBudget): ReadableStream<FetchedChunk> {
    const fetchOne = this.partialShardIO
      ? (request: ChunkRequest, signal: AbortSignal) => this.fetchShardChunks(request, signal, options)
      : async (request: ChunkRequest, signal: AbortSignal): Promise<FetchedChunk[]> => {
          const bytes = await this.fetchChunk(request.key, signal);
          const { chunkRegion, outRegion } = request.projection;
          const item: FetchedChunk = { key: request.key, bytes, stored: bytes?.byteLength ?? 0, chunkRegion, outRegion, projection: request.projection };
          if (request.projection.chunkShape) item.shape = request.projection.chunkShape;
          return [item];
        };
    return streamFromIterator(this.requests(sel))
      .pipeThrough(
        prefetch<ChunkRequest, FetchedChunk[]>({
          concurrency: options.concurrency,
          ordered: options.ordered,
          signal: options.signal,
          budget,
          sizeOf: (items) => items.reduce((n, item) => n + item.stored, 0),
          fetch: fetchOne,
        }),
      )
      .pipeThrough(flatten<FetchedChunk>());
  }

  /**
   * Requests → chunks planned for workers that fetch for themselves: the fetch phase happens in
   * the worker (getSync), so here each item only says where the chunk is and where it goes. A
   * shard is one item (one task: its index and inner chunks read and decoded where they land).
   */
  private planStream(sel: DimSelection[]): ReadableStream<PlannedChunk> {
    const self = this;
    function* planned(): Generator<PlannedChunk> {
      for (const request of self.requests(sel)) {
        const { chunkRegion, outRegion } = request.projection;
        const item = { key: request.key, bytes: undefined, stored: 0, chunkRegion, outRegion, projection: request.projection };
        if (!self.partialShardIO) {
          yield { ...item, direct: { key: request.key, chunkRegion, outRegion } };
          continue;
        }
        const codec = self.sharding as ShardingCodec;
        const inner = innerProjections(request.projection, self.chunkExtent(request.projection.chunkCoords), codec.innerChunkShape);
        const whole = inner.length === self.innerChunksInBounds(request.projection.chunkCoords);
        const innerItems = inner.map((p) => ({
          index: codec.flatIndex(p.chunkCoords),
          key: `${request.key}[${p.chunkCoords.join(",")}]`,
          chunkRegion: p.chunkRegion,
          outRegion: p.outRegion,
        }));
        yield { ...item, direct: { key: request.key, chunkRegion, outRegion, inner: innerItems, whole } };
      }
    }
    return streamFromIterator(planned());
  }

  /** Inner chunks of the shard at `shardCoords` that lie (at least partly) inside the array. */
  private innerChunksInBounds(shardCoords: readonly number[]): number {
    const inner = (this.sharding as ShardingCodec).innerChunkShape;
    return this.chunkExtent(shardCoords).reduce((n, s, d) => n * Math.ceil(s / inner[d]), 1);
  }

  /** Fetches the inner chunks of one shard that a projection needs, as plain chunks. */
  private async fetchShardChunks(request: ChunkRequest, signal: AbortSignal, options: OperationOptions): Promise<FetchedChunk[]> {
    const codec = this.shardCodec(request.projection.chunkShape);
    const shardCoords = request.projection.chunkCoords;
    const origin = shardCoords.map((c, d) => dimOffset(this.grid[d], c));
    const inner = innerProjections(request.projection, this.chunkExtent(shardCoords), codec.innerChunkShape);
    const needed = inner.map((p) => codec.flatIndex(p.chunkCoords));
    const inBounds = this.innerChunksInBounds(shardCoords);
    let fetched;
    try {
      fetched = await fetchShard(this.store, request.key, codec, needed, needed.length === inBounds, {
        ...options.coalesce,
        signal,
        path: this.path,
      });
    } catch (error) {
      throw this.withPath(error, request.key);
    }
    const items = inner.map((p, n): FetchedChunk => {
      const bytes = fetched.pieces.get(needed[n]);
      // Shard edges are whole multiples of the inner chunk: the inner grid is regular across shards.
      const globalCoords = p.chunkCoords.map((c, d) => origin[d] / codec.innerChunkShape[d] + c);
      const key = `${request.key}[${p.chunkCoords.join(",")}]`;
      return {
        key,
        bytes,
        stored: bytes?.byteLength ?? 0,
        chunkRegion: p.chunkRegion,
        outRegion: p.outRegion,
        projection: { ...p, chunkCoords: globalCoords },
        shard: request.key,
      };
    });
    countViews(items.map((item) => item.bytes), fetched.owned ?? []);
    return items;
  }

  /**
   * Reads a selection into a new C-order array. With no selection, reads everything.
   * Missing chunks read as the fill value. With workers, the result's buffer is a SharedArrayBuffer.
   */
  async read(selection?: Selection, options: ReadOptions = {}): Promise<NdArray> {
    const sel = this.select(selection);
    const fullShape = sel.map((d) => d.count);
    const { dataType } = this.metadata;
    const total = countChunks(sel, this.readGrid);
    const count = product(fullShape);
    checkReadSize(count, this.itemsize, this.context());
    if (options.out !== undefined) this.checkOut(options.out, count);
    const given = options.out;
    // Workers decode straight into a SharedArrayBuffer where the runtime can share one (Node,
    // cross-origin isolated pages); elsewhere they hand each chunk's part back by transfer.
    const shared = platform.sharedMemory();
    const pool = this.objectForm || (shared && given && !(given.buffer instanceof SharedArrayBuffer)) ? undefined : resolvePool(options, total * this.chunkBytes(), this.chainIsTrivial);
    const out = given ?? (pool && shared ? viewAs(dataType, new Uint8Array(new SharedArrayBuffer(count * this.itemsize))) : allocate(dataType, count));
    const outBytes = bytesOf(out);
    const view = wordView(outBytes, this.itemsize);
    const target: OutputTarget = { words: view.words, shape: fullShape, k: view.k };
    const progress: Progress = { chunksDone: 0, chunksTotal: total, bytesDone: 0 };
    const { signal } = options;
    throwIfAborted(signal, this.context());
    const fill = this.fillWords;
    const chunkBytes = this.chunkBytes();

    type Item = FetchedChunk | PlannedChunk;
    const budget = new ByteBudget(options.prefetchBytes ?? DEFAULT_PREFETCH_BYTES);
    const chain = this.readChain;
    const finished = (item: Item): Item => {
      budget.release(item.stored);
      return item;
    };
    // Workers fetch for themselves when the store can be opened in another thread: the chunks'
    // bytes then never reach this thread (no copy, transfer or allocation per chunk here).
    // (Regular grids only: a rectilinear grid's chunks decode with per-shape chains, planned here.)
    const handle = pool && shared && outBytes.buffer instanceof SharedArrayBuffer && isRegularGrid(this.grid) ? this.store.workerHandle?.() : undefined;
    const fetching: ReadableStream<Item> = handle ? this.planStream(sel) : this.fetchStream(sel, options, budget);
    // Workers that fetch asynchronously (HTTP) keep `concurrency` requests in flight over the
    // pool's tasks: each batch carries its share of chunks, fetched at once in the worker.
    const perTask = handle?.async && pool ? Math.max(1, Math.ceil((options.concurrency ?? DEFAULT_CONCURRENCY) / pool.capacity)) : 1;
    // Their tasks stop (requests cut) when the read fails or is aborted, not only at their end.
    const tasks = new AbortController();
    const stopTasks = () => tasks.abort(signal?.reason);
    signal?.addEventListener("abort", stopTasks, { once: true });
    const reading = fetching
      .pipeThrough(
        compute<Item, Item>({
          signal,
          pool,
          inline: (item) => {
            const done = decodeInto(this.readChainOf(item), fill, item, target);
            return done instanceof Promise ? done.then(() => finished(item)) : finished(item);
          },
          weight: (item) => ("direct" in item ? chunkBytes * (item.direct.inner?.length ?? 1) : item.bytes === undefined ? 0 : chunkBytes),
          ...(perTask > 1 ? { batchWeight: perTask * chunkBytes } : {}),
          // The inner chunks of a shard go to one worker together (the shard's buffer travels
          // whole); into a fresh shared output, neighbours that share its pages do too.
          group: (item) => ("shard" in item && item.shard !== undefined ? item.shard : shared && !given ? pageSharingKey(item.outRegion, fullShape, this.itemsize) : undefined),
          ...(this.partialShardIO ? { maxGroupWeight: Math.max(16 << 20, this.chunkBytes() * product(this.sharding?.chunksPerShard ?? [1])) } : {}),
          batch: async (fetched, workerPool) => {
            if (handle) return this.readPlanned(fetched as PlannedChunk[], workerPool, handle, outBytes, fullShape, { ...options, concurrency: perTask, signal: tasks.signal });
            const items = tighten(fetched as FetchedChunk[], "bytes");
            if (!shared) {
              const parts = await workerPool.run<ArrayBuffer[]>(
                "extractBatch",
                { chain: this.chainRef(chain), items: items.map(({ key, bytes, chunkRegion, outRegion }) => ({ key, bytes, chunkRegion, outRegion })) },
                transferable(items.map((item) => item.bytes)),
              );
              items.forEach((item, i) => {
                const part = wordView(new Uint8Array(parts[i]), this.itemsize).words;
                copyRegion(target.words, target.shape, item.outRegion, part, item.chunkRegion.map((r) => r.count), compact(item.chunkRegion), target.k);
              });
              return fetched.map((item) => finished({ ...item, bytes: undefined }));
            }
            await workerPool.run<number>(
              "decodeBatch",
              {
                chain: this.chainRef(chain),
                out: { buffer: outBytes.buffer, byteOffset: outBytes.byteOffset, byteLength: outBytes.byteLength, shape: fullShape },
                items: items.map(({ key, bytes, chunkRegion, outRegion, shape }) => ({ key, bytes, chunkRegion, outRegion, shape })),
              },
              transferable(items.map((item) => item.bytes)),
            );
            // The stored bytes moved to the worker (detached here): drop them.
            return fetched.map((item) => finished({ ...item, bytes: undefined }));
          },
        }),
      )
      .pipeTo(
        scatter<Item>((item) => {
          progress.chunksDone += "direct" in item ? (item.direct.inner?.length ?? 1) : 1;
          progress.bytesDone += "direct" in item ? (item.read ?? 0) : item.stored;
          options.onProgress?.({ ...progress });
        }),
        { signal },
      );
    try {
      await reading;
    } catch (error) {
      tasks.abort(error);
      // pipeTo rejects with the signal's reason (a DOMException): report our typed AbortError.
      if (signal?.aborted) throw asAbortError(signal.reason, this.context());
      throw error;
    } finally {
      signal?.removeEventListener("abort", stopTasks);
    }
    return { data: out, shape: selectionShape(sel), dtype: dataType };
  }

  /**
   * One task of a read whose workers fetch for themselves: chunk keys and places go out, stored
   * sizes come back. Shards are held shared for the task, as fetchShard holds them (a writer of
   * this process must not replace a shard between its index and inner chunks being read).
   */
  private async readPlanned(
    items: PlannedChunk[],
    pool: WorkerPool,
    handle: NonNullable<ReturnType<NonNullable<Store["workerHandle"]>>>,
    outBytes: Uint8Array,
    shape: number[],
    options: OperationOptions,
  ): Promise<PlannedChunk[]> {
    const releases = this.partialShardIO ? await Promise.all(items.map((item) => acquireShared(this.store, item.key, options.signal))) : [];
    try {
      const batch: ReadBatch<ChainRef> = {
        chain: this.chainRef(this.readChain),
        out: { buffer: outBytes.buffer as SharedArrayBuffer, byteOffset: outBytes.byteOffset, byteLength: outBytes.byteLength, shape, itemsize: this.itemsize },
        store: handle,
        ...(this.partialShardIO ? { shard: { chain: this.chainRef(this.chain), path: this.path, coalesce: options.coalesce } } : {}),
        items: items.map((item) => item.direct),
        ...(handle.async ? { concurrency: options.concurrency } : {}),
      };
      const read = await pool.run<number[]>("readBatch", batch, [], options.signal);
      return items.map((item, i) => ({ ...item, read: read[i] }));
    } catch (error) {
      throw this.withPath(error, (error as { key?: string }).key);
    } finally {
      for (const release of releases) release();
    }
  }

  /** Rejects an `out` array of the wrong type or size before anything is read. */
  private checkOut(out: TypedArray, count: number): void {
    const expected = allocate(this.metadata.dataType, 0).constructor;
    if (out?.constructor !== expected) {
      throw new ValueError(`out must be a ${expected.name} for ${this.metadata.dataType} data, got ${out?.constructor?.name ?? typeof out}`, this.context());
    }
    // Complex types hold two slots per element in their typed array.
    const length = count * DATA_TYPES[this.metadata.dataType].slots;
    if (out.length !== length) throw new ValueError(`out has room for ${out.length} values, the selection needs ${length}`, this.context());
  }

  /**
   * Streams the selection chunk by chunk: each item is one chunk's selected part and its place
   * in the result. Memory stays bounded (prefetch and compute queues), whatever the selection's size.
   * The stream is also an async iterable.
   */
  readChunks(selection?: Selection, options: ReadChunksOptions = {}): ReadableStream<ChunkResult> {
    const sel = this.select(selection);
    const kept = sel.map((d, i) => (d.dropped ? -1 : i)).filter((i) => i >= 0);
    const total = countChunks(sel, this.readGrid);
    const pool = this.objectForm ? undefined : resolvePool(options, total * this.chunkBytes(), this.chainIsTrivial);
    const { dataType } = this.metadata;
    const chain = this.readChain;
    const fill = this.fillWords;
    const chunkBytes = this.chunkBytes();
    const progress: Progress = { chunksDone: 0, chunksTotal: total, bytesDone: 0 };
    type Item = FetchedChunk;
    const budget = new ByteBudget(options.prefetchBytes ?? DEFAULT_PREFETCH_BYTES);
    const result = (item: Item, data: TypedArray): ChunkResult => {
      budget.release(item.stored);
      progress.chunksDone++;
      progress.bytesDone += item.stored;
      options.onProgress?.({ ...progress });
      const shape = kept.map((i) => item.chunkRegion[i].count);
      return {
        coords: item.projection.chunkCoords,
        // A copy: listed regions are shared between projections.
        region: kept.map((i) => copyRegionSpec(item.outRegion[i])),
        data: { data, shape, dtype: dataType },
      };
    };
    return this.fetchStream(sel, options, budget).pipeThrough(
      compute<Item, ChunkResult>({
        signal: options.signal,
        ordered: options.ordered,
        pool,
        inline: (item) => {
          const data = decodeRegion(this.readChainOf(item), fill, item);
          return data instanceof Promise ? data.then((d) => result(item, d)) : result(item, data);
        },
        weight: (item) => (item.bytes === undefined ? 0 : chunkBytes),
        batch: async (fetched, workerPool) => {
          const items = tighten(fetched, "bytes");
          const buffers = await workerPool.run<ArrayBuffer[]>(
            "extractBatch",
            { chain: this.chainRef(chain), items: items.map(({ key, bytes, chunkRegion, outRegion, shape }) => ({ key, bytes, chunkRegion, outRegion, shape })) },
            transferable(items.map((item) => item.bytes)),
          );
          return items.map((item, i) =>
            result(item, viewAs(dataType, new Uint8Array(buffers[i]))),
          );
        },
      }),
    );
  }

  private async fetchChunk(key: string, signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    try {
      return await this.store.get(key, undefined, { signal });
    } catch (error) {
      throw this.withPath(error, key);
    }
  }

  /** Adds this array's path (and the key) to a zarrflow error raised without them. */
  private withPath(error: unknown, key: string | undefined): unknown {
    if (!(error instanceof ZarrflowError) || error.path !== undefined) return error;
    const Ctor = error.constructor as new (message: string, context: ErrorContext) => ZarrflowError;
    try {
      return new Ctor(error.detail, { path: this.path, key: error.key ?? key, cause: error.cause });
    } catch {
      return error;
    }
  }

  /**
   * Writes `value` (an NdArray or typed array shaped like the selection, or a scalar) into the
   * selection. Fully covered chunks are encoded without reading; partly covered ones are read,
   * merged and re-encoded; a chunk left holding only the fill value is deleted unless
   * `writeEmptyChunks` is set. Each chunk is replaced atomically (old or new, never torn).
   */
  async write(selection: Selection, value: WriteValue, options: WriteOptions = {}): Promise<void> {
    this.assertWritable();
    const sel = this.select(selection);
    const fullShape = sel.map((d) => d.count);
    const source = valueSource(value, this.metadata.dataType, selectionShape(sel), this.context());
    const itemsize = this.itemsize;
    const self = this;
    function* jobs(): Generator<WriteJob> {
      for (const request of self.requests(sel, true)) {
        const { chunkRegion, outRegion, complete } = request.projection;
        const piece = source.kind === "scalar" ? bytesOf(source.words) : extractPiece(source.words, fullShape, outRegion, itemsize, source.k, recycler.take);
        const extent = self.chunkExtent(request.projection.chunkCoords);
        const job: WriteJob = { key: request.key, complete, piece, scalar: source.kind === "scalar", chunkRegion, extent };
        if (request.projection.chunkShape) job.shape = request.projection.chunkShape;
        yield job;
      }
    }
    const total = countChunks(sel, this.grid);
    // Pieces of whole chunks are all one size: reuse them once encoded, in this write and the
    // next ones of the same size (at most 64 MiB of spares, dropped when writes stop).
    const { recycler, done } = sharedRecycler(product(this.chunkShape) * itemsize);
    try {
      await this.runWrite(streamFromIterator(jobs()), total, options, recycler);
    } finally {
      done();
    }
  }

  /**
   * Plans an in-place patch of a shard: reads its index (one ranged request) and, if every
   * inner chunk the write touches is stored in a slot of the fixed inner size, the slots the
   * write covers only in part. "absent" when the shard does not exist; undefined when it is
   * not laid out for patching (then the write rewrites the shard).
   */
  private async planPatch(job: WriteJob, signal: AbortSignal, options: WriteOptions): Promise<PatchSlot[] | "absent" | undefined> {
    const codec = this.shardCodec(job.shape);
    const size = codec.innerEncodedSize as number;
    const length = codec.indexByteLength();
    const indexBytes = await this.store.get(job.key, codec.indexLocation === "end" ? { suffixLength: length } : { offset: 0, length }, { signal });
    if (indexBytes === undefined) return "absent";
    if (indexBytes.byteLength !== length) return undefined; // truncated: let the rewrite path report it
    let index;
    try {
      index = codec.decodeIndex(indexBytes);
    } catch {
      return undefined; // corrupt index: the rewrite path reads the whole shard and reports it
    }
    const item = { chunkRegion: job.chunkRegion, extent: job.extent as number[] };
    const slots: PatchSlot[] = [];
    const partial: { index: number; offset: number; length: number }[] = [];
    for (let i = 0; i < codec.innerChunkCount; i++) {
      const where = innerOverlap(codec, item, i);
      if (!where.hits) continue;
      const range = index.range(i);
      if (!range || range.length !== size) return undefined;
      slots.push({ index: i, offset: range.offset, stored: undefined });
      if (!where.complete) partial.push({ index: i, ...range });
    }
    const spans = coalesceRanges(partial, options.coalesce?.maxGap ?? 1 << 20, options.coalesce?.maxRequest ?? 16 << 20);
    const buffers = await Promise.all(spans.map((span) => this.store.get(job.key, { offset: span.offset, length: span.end - span.offset }, { signal })));
    const stored = new Map<number, Uint8Array>();
    spans.forEach((span, n) => {
      const buffer = buffers[n];
      if (!buffer || buffer.byteLength !== span.end - span.offset) return;
      for (const m of span.members) stored.set(m.index, buffer.subarray(m.offset - span.offset, m.offset - span.offset + m.length));
    });
    for (const slot of slots) {
      const where = innerOverlap(codec, item, slot.index);
      if (where.hits && !where.complete) {
        slot.stored = stored.get(slot.index);
        if (!slot.stored) return undefined; // the shard changed under us or is shorter than its index says
      }
    }
    return slots;
  }

  /** The part of the stored chunk at `coords` that lies inside the array. */
  chunkExtent(coords: readonly number[]): number[] {
    const grid = this.grid;
    if (isRegularGrid(grid)) return grid.map((s, d) => Math.min(s, this.metadata.shape[d] - coords[d] * s));
    return grid.map((dim, d) => {
      const origin = dimOffset(dim, coords[d]);
      return Math.min(typeof dim === "number" ? dim : dim.size(coords[d]), this.metadata.shape[d] - origin);
    });
  }

  /** Number of stored chunks (shards) that overlap the array. */
  get storedChunkCount(): number {
    return this.grid.reduce<number>((n, dim, d) => n * dimCount(dim, this.metadata.shape[d]), 1);
  }

  private assertWritable(): void {
    if (!this.store.set || !this.store.delete) throw new UnsupportedOperationError("the store is read-only", this.context());
  }

  /**
   * The write pipeline, shared by write() and writer(): lock each chunk for its whole
   * read-modify-write, read it when partly overwritten, merge and encode (inline or on the
   * pool), then set or delete it.
   */
  async runWrite(jobs: ReadableStream<WriteJob>, total: number, options: WriteOptions = {}, recycler?: BufferRecycler): Promise<void> {
    this.assertWritable();
    const store = this.store;
    // v2 object arrays whose fill_value is null have no fill: zarr-python reads a missing chunk as
    // None there, so every chunk is stored.
    const writeEmptyChunks = (options.writeEmptyChunks ?? this.writeEmptyChunks) || (this.objectForm && this.metadata.zarrFormat === 2 && (this.metadata.v2?.fillValueNull === true || this.metadata.dataType.startsWith("vlen_array[")));
    const { signal } = options;
    throwIfAborted(signal, this.context());
    const pool = this.objectForm ? undefined : resolvePool(options, Math.max(0, total) * this.chunkBytes(), this.chainIsTrivial);
    const progress: Progress = { chunksDone: 0, chunksTotal: total, bytesDone: 0 };
    const chain = this.chain;
    const fill = this.fillWords;
    const chunkBytes = this.chunkBytes();

    type Merge = MergeItem & { release: () => void; patch?: PatchSlot[] };
    // In-place patches need fixed-size inner chunks (no compression) and a store that can setRange.
    const patchable = this.partialShardIO && this.sharding?.innerEncodedSize != null && typeof store.setRange === "function";
    type Encoded = CommitItem & { release: () => void };
    // Locks this write holds: released as each chunk commits, and all at once when it ends.
    const held = new Set<() => void>();
    // Workers store what they encode when the store can be opened in another thread: the
    // encoded bytes then never come back here. Their tasks still running when the write fails
    // are waited for before the locks go (nothing of this write may land after it ends).
    const offered = pool && isRegularGrid(this.grid) ? store.workerHandle?.() : undefined;
    // (A store that answers only asynchronously stores from this thread: workers store synchronously.)
    const storeHandle = offered?.async ? undefined : offered;
    const storing = new Set<Promise<unknown>>();
    // Set when the write has ended: a fetch still waiting for a lock then must not keep it.
    let ended = false;
    const toCommit = (item: Merge, bytes: Uint8Array | null): Encoded =>
      bytes === null ? { op: "delete", key: item.key, release: item.release } : { op: "set", key: item.key, bytes, release: item.release };

    try {
      await jobs
        .pipeThrough(
          prefetch<WriteJob, Merge>({
            concurrency: options.concurrency,
            // Each job holds its chunk's new values (a whole shard's, for sharded arrays) and
            // no byte budget counts them: queue one, not a round.
            queue: 1,
            signal,
            fetch: async (job, fetchSignal) => {
              const release = await acquireKey(store, job.key, fetchSignal);
              if (ended) {
                release();
                throw asAbortError(fetchSignal.reason, this.context(job.key));
              }
              held.add(release);
              if (job.complete) return { ...job, existing: undefined, release };
              if (patchable && !job.mask && job.extent) {
                const plan = await this.planPatch(job, fetchSignal, options);
                if (plan === "absent") return { ...job, existing: undefined, release };
                if (plan) return { ...job, existing: undefined, release, patch: plan };
              }
              return { ...job, existing: await this.fetchChunk(job.key, fetchSignal), release };
            },
          }),
        )
        .pipeThrough(
          compute<Merge, Encoded>({
            signal,
            pool,
            inline: (item) => {
              if (item.patch) {
                const ranges = patchShard(this.shardCodec(item.shape), fill, { ...item, extent: item.extent as number[] }, item.patch);
                const done = (r: { offset: number; bytes: Uint8Array }[]): Encoded => ({ op: "setRanges", key: item.key, ranges: r, release: item.release });
                return ranges instanceof Promise ? ranges.then(done) : done(ranges);
              }
              const encoded = mergeEncodeChunk(this.chainFor(item.shape), fill, writeEmptyChunks, item);
              const done = (bytes: Uint8Array | null): Encoded => {
                if (!item.scalar) recycler?.give(item.piece, bytes);
                return toCommit(item, bytes);
              };
              return encoded instanceof Promise ? encoded.then(done) : done(encoded);
            },
            // Patches are a few fixed-size (uncompressed) inner chunks: cheaper inline than a message.
            weight: (item) => (item.patch ? 0 : chunkBytes),
            batch: async (merges, workerPool) => {
              const items = tighten(merges, "existing");
              const sent = items.map(({ existing, piece, scalar, chunkRegion, mask, extent, key, shape }) => ({ existing, piece, scalar, chunkRegion, mask, extent, key, shape }));
              const transfer = transferable(items.flatMap((item) => [item.existing, item.scalar ? undefined : item.piece]));
              if (storeHandle) {
                const batch: EncodeStoreBatch<ChainRef> = { chain: this.chainRef(chain), writeEmptyChunks, store: storeHandle, items: sent };
                const task = workerPool.run<EncodeStoreResult>("encodeStoreBatch", batch, transfer);
                storing.add(task);
                const { stored, spare } = await task.finally(() => storing.delete(task));
                if (recycler) for (const buffer of spare) recycler.give(new Uint8Array(buffer));
                return items.map((item, i): Encoded => {
                  const size = stored[i];
                  return size === null ? toCommit(item, null) : { op: "stored", key: item.key, size, release: item.release };
                });
              }
              const { encoded, spare } = await workerPool.run<EncodeResult>(
                "encodeBatch",
                { chain: this.chainRef(chain), writeEmptyChunks, items: sent },
                transfer,
              );
              if (recycler) for (const buffer of spare) recycler.give(new Uint8Array(buffer));
              return items.map((item, i) => toCommit(item, encoded[i]));
            },
          }),
        )
        .pipeTo(
          commit<Encoded>(store, {
            concurrency: options.concurrency,
            signal,
            onCommitted: (item) => {
              item.release();
              held.delete(item.release);
              progress.chunksDone++;
              if (item.op === "set" || item.op === "setRange") progress.bytesDone += item.bytes.byteLength;
              else if (item.op === "stored") progress.bytesDone += item.size;
              else if (item.op === "setRanges") for (const r of item.ranges) progress.bytesDone += r.bytes.byteLength;
              options.onProgress?.({ ...progress });
            },
          }),
          { signal },
        );
    } catch (error) {
      // pipeTo rejects with the signal's reason (a DOMException): report our typed AbortError.
      if (signal?.aborted) throw asAbortError(signal.reason, this.context());
      throw this.withPath(error, (error as { key?: string }).key);
    } finally {
      ended = true;
      await Promise.allSettled(storing);
      for (const release of held) release();
    }
  }

  /**
   * A WritableStream of `{ selection, data }` items (which may overlap chunks and each other;
   * later items win). Partial chunks are combined in memory up to `bufferBytes` before any
   * read-modify-write. Closing the stream flushes everything and resolves when it is stored.
   */
  writer(options: WriterOptions = {}): WritableStream<WriteItem> {
    this.assertWritable();
    return createWriter(this, options);
  }

  toString(): string {
    return `ZarrArray(path="${this.path}", shape=[${this.shape}], chunks=[${this.chunks}], dtype=${this.dtype}, zarr_format=${this.zarrFormat})`;
  }
}

/**
 * Makes the items' byte views transferable and lists their buffers. A view into a larger
 * buffer (an inner chunk of a fetched shard) is replaced by a tight copy of just its bytes:
 * moving the whole buffer would detach its other views, and cloning it would copy all of it.
 */
function transferable(views: (Uint8Array | undefined)[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const whole = wholeBuffers(viewsPerBuffer(views));
  for (const view of views) {
    if (!view || !(view.buffer instanceof ArrayBuffer)) continue;
    if ((view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) || whole.has(view.buffer)) out.add(view.buffer);
  }
  return [...out];
}

/**
 * How many views fetchShardChunks made of each buffer it read (a shard, or a coalesced range
 * of one): when a batch holds every one of them, the buffer can travel to the worker as it is,
 * the views with it, instead of each view being copied out (tighten).
 */
const viewsMade = new WeakMap<ArrayBufferLike, number>();

function countViews(views: (Uint8Array | undefined)[], owned: readonly ArrayBufferLike[]): void {
  for (const [buffer, n] of viewsPerBuffer(views)) if (owned.includes(buffer)) viewsMade.set(buffer, n);
}

/** How many of `views` look into each buffer. */
function viewsPerBuffer(views: (Uint8Array | undefined)[]): Map<ArrayBufferLike, number> {
  const seen = new Map<ArrayBufferLike, number>();
  for (const view of views) if (view) seen.set(view.buffer, (seen.get(view.buffer) ?? 0) + 1);
  return seen;
}

/** Buffers that every view fetchShardChunks made of them is counted in `seen` (nothing else can use them). */
function wholeBuffers(seen: Map<ArrayBufferLike, number>): Set<ArrayBufferLike> {
  const out = new Set<ArrayBufferLike>();
  for (const [buffer, n] of seen) if (viewsMade.get(buffer) === n) out.add(buffer);
  return out;
}

/** Replaces views into shared buffers by tight copies (see transferable). */
function tighten<T extends { bytes?: Uint8Array | undefined }>(items: T[], field: "bytes"): T[];
function tighten<T extends { existing?: Uint8Array | undefined }>(items: T[], field: "existing"): T[];
function tighten(items: Record<string, unknown>[], field: string): Record<string, unknown>[] {
  const seen = viewsPerBuffer(items.map((item) => item[field] as Uint8Array | undefined));
  const whole = wholeBuffers(seen);
  return items.map((item) => {
    const view = item[field] as Uint8Array | undefined;
    if (!view || whole.has(view.buffer) || (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && seen.get(view.buffer) === 1)) return item;
    return { ...item, [field]: view.slice() };
  });
}

/** Flattens a stream of arrays into a stream of their items. */
function flatten<T>(): TransformStream<T[], T> {
  return new TransformStream<T[], T>({
    transform(items, controller) {
      for (const item of items) controller.enqueue(item);
    },
  });
}

/**
 * The inner chunks of a shard that a shard-level projection touches, with their regions
 * inside the inner chunk and in the output (inner coordinates relative to the shard).
 */
function innerProjections(
  shard: ChunkProjection,
  extent: readonly number[],
  innerShape: readonly number[],
): ChunkProjection[] {
  const sub: DimSelection[] = shard.chunkRegion.map((r) =>
    r.index ? { start: 0, step: 1, count: r.count, dropped: false, index: r.index } : { start: r.start, step: r.step, count: r.count, dropped: false },
  );
  const out: ChunkProjection[] = [];
  for (const p of projectChunks(sub, extent, innerShape)) {
    p.outRegion = p.outRegion.map((r, d) => composeOut(shard.outRegion[d], r));
    out.push(p);
  }
  return out;
}

/**
 * Output positions of an inner projection: `inner` selects positions of the shard's selection,
 * which `shard` places in the output. Both are unit-stride or listed (see projectChunks).
 */
function composeOut(shard: Region, inner: Region): Region {
  if (!shard.index && !inner.index) return { start: inner.start + shard.start, step: 1, count: inner.count };
  const at = (r: Region, j: number): number => (r.index ? r.index[j] : r.start + j * r.step);
  const index = new Array<number>(inner.count);
  for (let j = 0; j < inner.count; j++) index[j] = at(shard, at(inner, j));
  return { start: 0, step: 1, count: inner.count, index };
}

/** A region with its own copy of any index list. */
function copyRegionSpec(r: Region): Region {
  return r.index ? { ...r, index: r.index.slice() } : { ...r };
}
