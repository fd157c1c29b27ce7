/**
 * ZarrArray: the array facade. Reads and writes are planned here and run through the three
 * stages of the pipeline:
 *
 *   read:  chunk requests ─► prefetch (store.get, N in flight) ─► compute (decode) ─► scatter into the output
 *   write: chunk requests ─► prefetch (existing bytes of partly covered chunks) ─► compute (merge, encode) ─► commit
 *
 * The request stream is a lazy generator over the selection's chunks, so nothing proportional
 * to the number of chunks is materialised.
 */
import "./codecs/index.js";
import { CodecChain } from "./codecs/chain.js";
import { encodeChunkKey } from "./chunk-key.js";
import { copyRegion, fillRegion, wordView, type Words } from "./copy.js";
import {
  DATA_TYPES,
  allocate,
  bytesOf,
  fromFloat16Bits,
  product,
  scalarArray,
  HAS_FLOAT16_ARRAY,
  type DataType,
  type Scalar,
  type TypedArray,
} from "./dtype.js";
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
  type Selection,
} from "./selection.js";
import { joinKey, type Store } from "./store.js";
import { streamFromIterator } from "./stream-util.js";
import { valueSource, type ValueSource, type WriteValue } from "./value.js";
import { prefetch } from "../operators/prefetch.js";
import { compute } from "../operators/compute.js";
import { commit, type CommitItem } from "../operators/commit.js";
import { scatter } from "../operators/scatter.js";

export interface Progress {
  chunksDone: number;
  chunksTotal: number;
  /** Stored bytes read (reads) or written (writes) so far. */
  bytesDone: number;
}

export interface OperationOptions {
  /** Store requests in flight (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface ReadOptions extends OperationOptions {}

export interface WriteOptions extends OperationOptions {
  /** Store chunks that hold only the fill value (default: the array's setting, false by default). */
  writeEmptyChunks?: boolean;
}

export interface ArrayOpenOptions {
  writeEmptyChunks?: boolean;
}

/** One chunk of a planned operation. */
export interface ChunkRequest {
  /** Full store key. */
  key: string;
  projection: ChunkProjection;
}

/** A commit item that also releases the chunk's write lock once applied. */
type Encoded = CommitItem & { release: () => void };

export class ZarrArray {
  readonly chain: CodecChain;
  /** Shape of each stored chunk. */
  readonly chunkShape: number[];
  writeEmptyChunks: boolean;
  private readonly fillWords: Words;
  private readonly k: number;

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
    const fill = wordView(bytesOf(scalarArray(metadata.fillValue, metadata.dataType)), DATA_TYPES[metadata.dataType].itemsize);
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

  private *requests(sel: DimSelection[]): Generator<ChunkRequest> {
    for (const projection of projectChunks(sel, this.metadata.shape, this.chunkShape)) {
      yield { key: this.chunkKey(projection.chunkCoords), projection };
    }
  }

  /**
   * Reads a selection into a new C-order array. With no selection, reads everything.
   * Missing chunks read as the fill value.
   */
  async read(selection?: Selection, options: ReadOptions = {}): Promise<NdArray> {
    const sel = this.select(selection);
    const fullShape = sel.map((d) => d.count);
    const { dataType } = this.metadata;
    const out = allocate(dataType, product(fullShape));
    const outWords = wordView(bytesOf(out), DATA_TYPES[dataType].itemsize).words;
    const total = countChunks(sel, this.chunkShape);
    const progress: Progress = { chunksDone: 0, chunksTotal: total, bytesDone: 0 };
    const { signal } = options;
    throwIfAborted(signal, this.context());

    type Fetched = { request: ChunkRequest; bytes: Uint8Array | undefined };
    type Decoded = { request: ChunkRequest; chunk: NdArray | undefined; stored: number };

    await streamFromIterator(this.requests(sel))
      .pipeThrough(
        prefetch<ChunkRequest, Fetched>({
          concurrency: options.concurrency,
          signal,
          fetch: async (request, fetchSignal) => ({
            request,
            bytes: await this.fetchChunk(request.key, fetchSignal),
          }),
        }),
      )
      .pipeThrough(
        compute<Fetched, Decoded>(({ request, bytes }) => {
          if (bytes === undefined) return { request, chunk: undefined, stored: 0 };
          const decoded = this.chain.decode(bytes, request.key);
          return decoded instanceof Promise
            ? decoded.then((chunk) => ({ request, chunk, stored: bytes.byteLength }))
            : { request, chunk: decoded, stored: bytes.byteLength };
        }, { signal }),
      )
      .pipeTo(
        scatter<Decoded>(({ request, chunk, stored }) => {
          const { outRegion, chunkRegion } = request.projection;
          if (chunk === undefined) {
            fillRegion(outWords, fullShape, outRegion, this.fillWords, this.k);
          } else {
            const chunkWords = wordView(bytesOf(chunk.data), DATA_TYPES[dataType].itemsize).words;
            copyRegion(outWords, fullShape, outRegion, chunkWords, this.chunkShape, chunkRegion, this.k);
          }
          progress.chunksDone++;
          progress.bytesDone += stored;
          options.onProgress?.({ ...progress });
        }),
        { signal },
      );
    return { data: out, shape: selectionShape(sel), dtype: dataType };
  }

  private async fetchChunk(key: string, signal: AbortSignal): Promise<Uint8Array | undefined> {
    try {
      return await this.store.get(key, undefined, { signal });
    } catch (error) {
      throw this.storeError(error, key);
    }
  }

  private storeError(error: unknown, key: string): unknown {
    if (error instanceof ZarrflowError) {
      if (error.path !== undefined) return error;
      const Ctor = error.constructor as new (message: string, context: ErrorContext) => ZarrflowError;
      try {
        return new Ctor(error.detail, { path: this.path, key: error.key ?? key, cause: error.cause });
      } catch {
        return error;
      }
    }
    return error;
  }

  /**
   * Writes `value` (an NdArray or typed array shaped like the selection, or a scalar) into the
   * selection. Fully covered chunks are encoded without reading; partly covered ones are read,
   * merged and re-encoded; a chunk left holding only the fill value is deleted unless
   * `writeEmptyChunks` is set.
   */
  async write(selection: Selection, value: WriteValue, options: WriteOptions = {}): Promise<void> {
    const store = this.store;
    if (!store.set || !store.delete) throw new UnsupportedOperationError("the store is read-only", this.context());
    const sel = this.select(selection);
    const fullShape = sel.map((d) => d.count);
    const source = valueSource(value, this.metadata.dataType, selectionShape(sel), this.context());
    const writeEmpty = options.writeEmptyChunks ?? this.writeEmptyChunks;
    const { signal } = options;
    throwIfAborted(signal, this.context());
    const progress: Progress = { chunksDone: 0, chunksTotal: countChunks(sel, this.chunkShape), bytesDone: 0 };

    type Fetched = { request: ChunkRequest; existing: Uint8Array | undefined; release: () => void };
    // Locks held by this write; released as each chunk commits, and all at once on failure.
    const held = new Set<() => void>();

    try {
      await streamFromIterator(this.requests(sel))
        .pipeThrough(
          prefetch<ChunkRequest, Fetched>({
            concurrency: options.concurrency,
            signal,
            fetch: async (request, fetchSignal) => {
              const release = await acquireKey(store, request.key);
              held.add(release);
              const existing = request.projection.complete ? undefined : await this.fetchChunk(request.key, fetchSignal);
              return { request, existing, release };
            },
          }),
        )
        .pipeThrough(
          compute<Fetched, Encoded>(
            ({ request, existing, release }) => this.mergeAndEncode(request, existing, source, fullShape, writeEmpty, release),
            { signal },
          ),
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
      throw typeof error === "object" && error !== null && "key" in error ? this.storeError(error, String((error as { key?: unknown }).key)) : error;
    } finally {
      for (const release of held) release();
    }
  }

  private mergeAndEncode(
    request: ChunkRequest,
    existing: Uint8Array | undefined,
    source: ValueSource,
    fullShape: number[],
    writeEmpty: boolean,
    release: () => void,
  ): Encoded | Promise<Encoded> {
    const { dataType } = this.metadata;
    const { itemsize } = DATA_TYPES[dataType];
    const build = (base: NdArray | undefined): Encoded | Promise<Encoded> => {
      const data = base ? base.data : this.fillChunk();
      const words = wordView(bytesOf(data), itemsize).words;
      const { chunkRegion, outRegion } = request.projection;
      if (source.kind === "scalar") fillRegion(words, this.chunkShape, chunkRegion, source.words, this.k);
      else copyRegion(words, this.chunkShape, chunkRegion, source.words, fullShape, outRegion, this.k);
      if (!writeEmpty && this.isAllFill(words)) return { op: "delete", key: request.key, release };
      const encoded = this.chain.encode({ data, shape: this.chunkShape, dtype: dataType }, request.key);
      return encoded instanceof Promise
        ? encoded.then((bytes) => ({ op: "set" as const, key: request.key, bytes, release }))
        : { op: "set", key: request.key, bytes: encoded, release };
    };
    if (existing === undefined) return build(undefined);
    const decoded = this.chain.decode(existing, request.key);
    return decoded instanceof Promise ? decoded.then(build) : build(decoded);
  }

  /** A new chunk holding the fill value everywhere. */
  private fillChunk(): TypedArray {
    const { dataType } = this.metadata;
    const data = allocate(dataType, product(this.chunkShape));
    if (!this.fillIsZero()) {
      const words = wordView(bytesOf(data), DATA_TYPES[dataType].itemsize).words;
      fillRegion(words, this.chunkShape, this.chunkShape.map((count) => ({ start: 0, step: 1, count })), this.fillWords, this.k);
    }
    return data;
  }

  private fillIsZero(): boolean {
    for (let i = 0; i < this.fillWords.length; i++) if (this.fillWords[i] !== 0) return false;
    return true;
  }

  /** True when every element's bytes equal the fill value's. */
  private isAllFill(words: Words): boolean {
    const fill = this.fillWords;
    const k = this.k;
    if (k === 1) {
      const f = fill[0];
      for (let i = 0; i < words.length; i++) if (words[i] !== f) return false;
      return true;
    }
    for (let i = 0; i < words.length; i += k) {
      for (let j = 0; j < k; j++) if (words[i + j] !== fill[j]) return false;
    }
    return true;
  }

  toString(): string {
    return `ZarrArray(path="${this.path}", shape=[${this.shape}], chunks=[${this.chunks}], dtype=${this.dtype}, zarr_format=${this.zarrFormat})`;
  }
}

/** Converts raw float16 bits to numbers (for display and comparison where there is no Float16Array). */
export function float16ToNumbers(data: TypedArray): Float64Array {
  if (HAS_FLOAT16_ARRAY) return Float64Array.from(data as unknown as ArrayLike<number>);
  return Float64Array.from(data as Uint16Array, fromFloat16Bits);
}
