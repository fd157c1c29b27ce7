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
import { encodeChunkKey } from "./chunk-key.js";
import {
  decodeInto,
  decodeRegion,
  extractPiece,
  mergeEncode,
  type DecodeItem,
  type MergeItem,
  type OutputTarget,
} from "./chunk-ops.js";
import { wordView, type Words } from "./copy.js";
import { DATA_TYPES, allocate, bytesOf, product, scalarArray, viewAs, type DataType, type Scalar, type TypedArray } from "./dtype.js";
import { UnsupportedOperationError, ZarrflowError, throwIfAborted, type ErrorContext } from "./errors.js";
import { acquireKey } from "./locks.js";
import type { ArrayMetadata, ZarrFormat } from "./metadata.js";
import type { NdArray } from "./ndarray.js";
import {
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
import type { ChainRef } from "./worker.js";
import { prefetch } from "../operators/prefetch.js";
import { compute } from "../operators/compute.js";
import { commit, type CommitItem } from "../operators/commit.js";
import { scatter } from "../operators/scatter.js";
import { createWriter, type WriteItem, type WriterOptions } from "./writer.js";
import { WorkerPool, sharedPool } from "../operators/pool.js";
import { ByteBudget } from "../operators/budget.js";

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
  /** Stored bytes fetched and not yet decoded, at most (default 256 MiB; plus up to `concurrency` chunks in flight). */
  prefetchBytes?: number;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface ReadOptions extends OperationOptions {}

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
type FetchedChunk = DecodeItem & { projection: ChunkProjection; stored: number };

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
  /** Shape of each stored chunk. */
  readonly chunkShape: number[];
  writeEmptyChunks: boolean;
  private readonly fillWords: Words;
  private readonly itemsize: number;
  private readonly k: number;
  private chainRefCache: ChainRef | undefined;

  constructor(
    readonly store: Store,
    readonly path: string,
    readonly metadata: ArrayMetadata,
    options: ArrayOpenOptions = {},
  ) {
    this.chunkShape = metadata.chunkShape;
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
  }

  get shape(): number[] {
    return this.metadata.shape;
  }
  /** The chunk shape a reader sees (the inner chunk shape once sharding exists). */
  get chunks(): number[] {
    return this.metadata.chunkShape;
  }
  /** The shard shape, or null for unsharded arrays. */
  get shards(): number[] | null {
    return null;
  }
  get dtype(): DataType {
    return this.metadata.dataType;
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

  /** The chain by value, for workers. */
  private get chainRef(): ChainRef {
    this.chainRefCache ??= {
      id: `${this.path}\u0000${JSON.stringify(this.chain.spec, (_, v) => (typeof v === "bigint" ? v.toString() : v))}\u0000${JSON.stringify(this.metadata.codecs)}`,
      path: this.path,
      spec: this.chain.spec,
      codecs: this.metadata.codecs,
      itemsize: this.itemsize,
      fill: bytesOf(scalarArray(this.metadata.fillValue, this.metadata.dataType)).slice(),
    };
    return this.chainRefCache;
  }

  /** True when decoding is a plain copy (no compression, checksum or transpose): not worth a worker. */
  private get chainIsTrivial(): boolean {
    return this.chain.arrayToArray.length === 0 && this.chain.bytesToBytes.length === 0;
  }

  private chunkBytes(): number {
    return product(this.chunkShape) * this.itemsize;
  }

  private *requests(sel: DimSelection[]): Generator<ChunkRequest> {
    for (const projection of projectChunks(sel, this.metadata.shape, this.chunkShape)) {
      yield { key: this.chunkKey(projection.chunkCoords), projection };
    }
  }

  /** Requests → fetched chunks, with bounded IO concurrency. */
  private fetchStream(
    sel: DimSelection[],
    options: OperationOptions & { ordered?: boolean },
    budget: ByteBudget,
  ): ReadableStream<FetchedChunk> {
    return streamFromIterator(this.requests(sel)).pipeThrough(
      prefetch<ChunkRequest, FetchedChunk>({
        concurrency: options.concurrency,
        ordered: options.ordered,
        signal: options.signal,
        budget,
        sizeOf: (item) => item.stored,
        fetch: async (request, signal) => {
          const bytes = await this.fetchChunk(request.key, signal);
          return {
            key: request.key,
            bytes,
            stored: bytes?.byteLength ?? 0,
            chunkRegion: request.projection.chunkRegion,
            outRegion: request.projection.outRegion,
            projection: request.projection,
          };
        },
      }),
    );
  }

  /**
   * Reads a selection into a new C-order array. With no selection, reads everything.
   * Missing chunks read as the fill value. With workers, the result's buffer is a SharedArrayBuffer.
   */
  async read(selection?: Selection, options: ReadOptions = {}): Promise<NdArray> {
    const sel = this.select(selection);
    const fullShape = sel.map((d) => d.count);
    const { dataType } = this.metadata;
    const total = countChunks(sel, this.chunkShape);
    const pool = resolvePool(options, total * this.chunkBytes(), this.chainIsTrivial);
    const count = product(fullShape);
    const out = pool ? viewAs(dataType, new Uint8Array(new SharedArrayBuffer(count * this.itemsize))) : allocate(dataType, count);
    const outBytes = bytesOf(out);
    const view = wordView(outBytes, this.itemsize);
    const target: OutputTarget = { words: view.words, shape: fullShape, k: view.k };
    const progress: Progress = { chunksDone: 0, chunksTotal: total, bytesDone: 0 };
    const { signal } = options;
    throwIfAborted(signal, this.context());
    const chain = this.chain;
    const fill = this.fillWords;
    const chunkBytes = this.chunkBytes();

    type Item = FetchedChunk;
    const budget = new ByteBudget(options.prefetchBytes ?? DEFAULT_PREFETCH_BYTES);
    const finished = (item: Item): Item => {
      budget.release(item.stored);
      return item;
    };
    await this.fetchStream(sel, options, budget)
      .pipeThrough(
        compute<Item, Item>({
          signal,
          pool,
          inline: (item) => {
            const done = decodeInto(chain, fill, item, target);
            return done instanceof Promise ? done.then(() => finished(item)) : finished(item);
          },
          weight: (item) => (item.bytes === undefined ? 0 : chunkBytes),
          batch: async (items, workerPool) => {
            await workerPool.run<number>(
              "decodeBatch",
              {
                chain: this.chainRef,
                out: { buffer: outBytes.buffer, byteOffset: outBytes.byteOffset, byteLength: outBytes.byteLength, shape: fullShape },
                items: items.map(({ key, bytes, chunkRegion, outRegion }) => ({ key, bytes, chunkRegion, outRegion })),
              },
              transferable(items.map((item) => item.bytes)),
            );
            // The stored bytes moved to the worker (detached here): drop them.
            return items.map((item) => finished({ ...item, bytes: undefined }));
          },
        }),
      )
      .pipeTo(
        scatter<Item>((item) => {
          progress.chunksDone++;
          progress.bytesDone += item.stored;
          options.onProgress?.({ ...progress });
        }),
        { signal },
      );
    return { data: out, shape: selectionShape(sel), dtype: dataType };
  }

  /**
   * Streams the selection chunk by chunk: each item is one chunk's selected part and its place
   * in the result. Memory stays bounded (prefetch and compute queues), whatever the selection's size.
   * The stream is also an async iterable.
   */
  readChunks(selection?: Selection, options: ReadChunksOptions = {}): ReadableStream<ChunkResult> {
    const sel = this.select(selection);
    const kept = sel.map((d, i) => (d.dropped ? -1 : i)).filter((i) => i >= 0);
    const total = countChunks(sel, this.chunkShape);
    const pool = resolvePool(options, total * this.chunkBytes(), this.chainIsTrivial);
    const { dataType } = this.metadata;
    const chain = this.chain;
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
        region: kept.map((i) => ({ ...item.outRegion[i] })),
        data: { data, shape, dtype: dataType },
      };
    };
    return this.fetchStream(sel, options, budget).pipeThrough(
      compute<Item, ChunkResult>({
        signal: options.signal,
        pool,
        inline: (item) => {
          const data = decodeRegion(chain, fill, item);
          return data instanceof Promise ? data.then((d) => result(item, d)) : result(item, data);
        },
        weight: (item) => (item.bytes === undefined ? 0 : chunkBytes),
        batch: async (items, workerPool) => {
          const buffers = await workerPool.run<ArrayBuffer[]>(
            "extractBatch",
            { chain: this.chainRef, items: items.map(({ key, bytes, chunkRegion, outRegion }) => ({ key, bytes, chunkRegion, outRegion })) },
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
      for (const request of self.requests(sel)) {
        const { chunkRegion, outRegion, complete } = request.projection;
        const piece = source.kind === "scalar" ? bytesOf(source.words) : extractPiece(source.words, fullShape, outRegion, itemsize, source.k);
        yield { key: request.key, complete, piece, scalar: source.kind === "scalar", chunkRegion };
      }
    }
    const total = countChunks(sel, this.chunkShape);
    await this.runWrite(streamFromIterator(jobs()), total, options);
  }

  private assertWritable(): void {
    if (!this.store.set || !this.store.delete) throw new UnsupportedOperationError("the store is read-only", this.context());
  }

  /**
   * The write pipeline, shared by write() and writer(): lock each chunk for its whole
   * read-modify-write, read it when partly overwritten, merge and encode (inline or on the
   * pool), then set or delete it.
   */
  async runWrite(jobs: ReadableStream<WriteJob>, total: number, options: WriteOptions = {}): Promise<void> {
    this.assertWritable();
    const store = this.store;
    const writeEmptyChunks = options.writeEmptyChunks ?? this.writeEmptyChunks;
    const { signal } = options;
    throwIfAborted(signal, this.context());
    const pool = resolvePool(options, Math.max(0, total) * this.chunkBytes(), this.chainIsTrivial);
    const progress: Progress = { chunksDone: 0, chunksTotal: total, bytesDone: 0 };
    const chain = this.chain;
    const fill = this.fillWords;
    const chunkBytes = this.chunkBytes();

    type Merge = MergeItem & { release: () => void };
    type Encoded = CommitItem & { release: () => void };
    // Locks this write holds: released as each chunk commits, and all at once when it ends.
    const held = new Set<() => void>();
    const toCommit = (item: Merge, bytes: Uint8Array | null): Encoded =>
      bytes === null ? { op: "delete", key: item.key, release: item.release } : { op: "set", key: item.key, bytes, release: item.release };

    try {
      await jobs
        .pipeThrough(
          prefetch<WriteJob, Merge>({
            concurrency: options.concurrency,
            signal,
            fetch: async (job, fetchSignal) => {
              const release = await acquireKey(store, job.key);
              held.add(release);
              const existing = job.complete ? undefined : await this.fetchChunk(job.key, fetchSignal);
              return { ...job, existing, release };
            },
          }),
        )
        .pipeThrough(
          compute<Merge, Encoded>({
            signal,
            pool,
            inline: (item) => {
              const encoded = mergeEncode(chain, fill, writeEmptyChunks, item);
              return encoded instanceof Promise ? encoded.then((bytes) => toCommit(item, bytes)) : toCommit(item, encoded);
            },
            weight: () => chunkBytes,
            batch: async (items, workerPool) => {
              const results = await workerPool.run<(Uint8Array | null)[]>(
                "encodeBatch",
                {
                  chain: this.chainRef,
                  writeEmptyChunks,
                  items: items.map(({ existing, piece, scalar, chunkRegion, mask, key }) => ({ existing, piece, scalar, chunkRegion, mask, key })),
                },
                transferable(items.flatMap((item) => [item.existing, item.scalar ? undefined : item.piece])),
              );
              return items.map((item, i) => toCommit(item, results[i]));
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
              if (item.op !== "delete") progress.bytesDone += item.bytes.byteLength;
              options.onProgress?.({ ...progress });
            },
          }),
          { signal },
        );
    } catch (error) {
      throw this.withPath(error, (error as { key?: string }).key);
    } finally {
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
 * The buffers that can move to a worker without copying: whole, unshared ArrayBuffers. A view
 * into a larger buffer is sent by copy instead (moving its buffer would detach other views).
 */
function transferable(views: (Uint8Array | undefined)[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const view of views) {
    if (!view || !(view.buffer instanceof ArrayBuffer)) continue;
    if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) out.add(view.buffer);
  }
  return [...out];
}
