/**
 * The per-chunk compute work, as pure functions of plain data: the same code runs inline on
 * the calling thread and inside pool workers (src/worker.ts).
 *
 * - decodeInto: decode a stored chunk and copy the selected region straight into the output.
 * - mergeEncode: start from the existing chunk (decoded) or the fill value, copy the new
 *   values in, and encode — or report that the chunk holds only the fill value (delete it).
 */
import type { CodecChain } from "./codecs/chain.js";
import type { MaybePromise } from "./codecs/codec.js";
import { copyRegion, fillRegion, isListed, offsetTables, wordView, type Words } from "./copy.js";
import { DATA_TYPES, allocate, bytesOf, product, viewAs, type DataType, type TypedArray } from "./dtype.js";
import type { NdArray } from "./ndarray.js";
import type { Region } from "./selection.js";

/** Where decoded chunks go: a flat C-order output (full rank) viewed as words. */
export interface OutputTarget {
  words: Words;
  shape: number[];
  k: number;
}

export interface DecodeItem {
  /** Stored bytes, or undefined for an absent chunk (filled with the fill value). */
  bytes: Uint8Array | undefined;
  chunkRegion: Region[];
  outRegion: Region[];
  key: string;
  /** The chunk's shape where it is not the chain's (rectilinear grids): pick the chain for it. */
  shape?: number[];
}

/** Decodes one chunk into `out`. Returns the stored size (for progress). */
export function decodeInto(
  chain: CodecChain,
  fillWords: Words,
  item: DecodeItem,
  out: OutputTarget,
): MaybePromise<void> {
  if (item.bytes === undefined) {
    fillRegion(out.words, out.shape, item.outRegion, fillWords, out.k);
    return;
  }
  // Transient: the chunk is copied out right away, so it may live in scratch memory. Where the
  // whole chunk is one contiguous run of the output, it is decoded straight into it (no copy).
  const into = contiguousPlace(out, item, chain.spec.shape);
  const decoded = chain.decode(item.bytes, item.key, { transient: true, into });
  const place = (chunk: NdArray) => {
    const bytes = bytesOf(chunk.data);
    if (into && bytes.buffer === into.buffer && bytes.byteOffset === into.byteOffset) return;
    const words = wordView(bytes, DATA_TYPES[chunk.dtype].itemsize).words;
    copyRegion(out.words, out.shape, item.outRegion, words, chain.spec.shape, item.chunkRegion, out.k);
  };
  if (decoded instanceof Promise) return decoded.then(place);
  place(decoded);
}

/**
 * The bytes of `out` that a whole chunk fills when its place there is one contiguous run (the
 * chunk is read whole, and every output dimension after its first of extent > 1 is taken
 * whole): a chunk of rows [8, 256, 256] in a [512, 256, 256] output is; a [64, 64, 64] chunk in
 * a [1024, 1024, 64] output is not. Undefined otherwise.
 */
function contiguousPlace(out: OutputTarget, item: DecodeItem, chunkShape: readonly number[]): Uint8Array | undefined {
  const { chunkRegion, outRegion } = item;
  const ndim = chunkShape.length;
  if (outRegion.length !== ndim || out.shape.length !== ndim) return undefined;
  let offset = 0;
  let stride = 1;
  let outer = false;
  for (let d = ndim - 1; d >= 0; d--) {
    const c = chunkRegion[d];
    const o = outRegion[d];
    if (c.index || o.index || c.start !== 0 || c.count !== chunkShape[d]) return undefined;
    if (outer && c.count > 1) return undefined;
    if (c.count > 1 && o.step !== 1) return undefined;
    if (o.count !== out.shape[d]) outer = true;
    offset += o.start * stride;
    stride *= out.shape[d];
  }
  const elementBytes = out.k * out.words.BYTES_PER_ELEMENT;
  const length = product(chunkShape) * elementBytes;
  return new Uint8Array(out.words.buffer, out.words.byteOffset + offset * elementBytes, length);
}

export interface MergeItem {
  /** Existing stored bytes of a partly overwritten chunk (undefined: start from the fill value). */
  existing: Uint8Array | undefined;
  /** New values: a compact C-order block of the region's counts, or a single element (scalar). */
  piece: Uint8Array;
  scalar: boolean;
  chunkRegion: Region[];
  /**
   * With a mask, `piece` is chunk-shaped and only elements whose mask byte is set are new
   * (the streaming writer's partly filled chunks); chunkRegion is then ignored.
   */
  mask?: Uint8Array;
  /** The chunk's in-bounds extent (edge chunks are cut by the array's shape); used by shard merges. */
  extent?: number[];
  key: string;
  /** The chunk's shape where it is not the chain's (rectilinear grids): pick the chain for it. */
  shape?: number[];
}

/** The encoded chunk, or null when it holds only the fill value and empty chunks are not written. */
export function mergeEncode(
  chain: CodecChain,
  fillWords: Words,
  writeEmptyChunks: boolean,
  item: MergeItem,
  transient = false,
): MaybePromise<Uint8Array | null> {
  const { dataType, shape } = chain.spec;
  const { itemsize } = DATA_TYPES[dataType];
  const build = (base: TypedArray): MaybePromise<Uint8Array | null> => {
    const view = wordView(bytesOf(base), itemsize);
    const piece = wordView(item.piece, itemsize).words;
    if (item.mask) maskedMerge(view.words, piece, item.mask, view.k);
    else if (item.scalar) fillRegion(view.words, shape, item.chunkRegion, piece, view.k);
    else copyRegion(view.words, shape, item.chunkRegion, piece, item.chunkRegion.map((r) => r.count), compact(item.chunkRegion), view.k);
    if (!writeEmptyChunks && isAllFill(view.words, fillWords, view.k)) return null;
    return chain.encode({ data: base, shape, dtype: dataType }, item.key, { writeEmptyChunks, transient });
  };
  if (item.existing === undefined) {
    // A piece covering the whole chunk already is the chunk, in C order: encode it as it is
    // (the piece is ours — extracted for this write or transferred to this worker).
    if (!item.mask && !item.scalar && coversChunk(item.chunkRegion, shape) && (Array.isArray(item.piece) || item.piece.byteOffset % itemsize === 0)) {
      const view = wordView(item.piece, itemsize);
      if (!writeEmptyChunks && isAllFill(view.words, fillWords, view.k)) return null;
      return chain.encode({ data: viewAs(dataType, item.piece), shape, dtype: dataType }, item.key, { writeEmptyChunks, transient });
    }
    return build(fillChunk(dataType, shape, fillWords));
  }
  const decoded = chain.decode(item.existing, item.key);
  return decoded instanceof Promise ? decoded.then((d) => build(d.data)) : build(decoded.data);
}

/** True when `region` is every element of a chunk of `shape`, in order. */
function coversChunk(region: readonly Region[], shape: readonly number[]): boolean {
  // A listed region (index array) may hold every position, but not in order: never "covers".
  return region.length === shape.length && region.every((r, d) => r.index === undefined && r.start === 0 && r.step === 1 && r.count === shape[d]);
}

/** The region covering a whole compact block of these counts. */
export function compact(regions: readonly Region[]): Region[] {
  return regions.map((r) => ({ start: 0, step: 1, count: r.count }));
}

/** A new chunk holding the fill value everywhere. */
export function fillChunk(dataType: DataType, shape: number[], fillWords: Words): TypedArray {
  return fillChunkInto(allocate(dataType, product(shape)), dataType, shape, fillWords, true);
}

/** Sets every element of `data` (a chunk of `shape`) to the fill value; `fresh` memory is zero already. */
export function fillChunkInto(data: TypedArray, dataType: DataType, shape: number[], fillWords: Words, fresh = false): TypedArray {
  let zero = true;
  for (let i = 0; i < fillWords.length; i++) if (fillWords[i] !== 0) zero = false;
  if (zero) {
    if (!fresh) bytesOf(data).fill(0);
    return data;
  }
  const view = wordView(bytesOf(data), DATA_TYPES[dataType].itemsize);
  fillRegion(view.words, shape, compact(shape.map((count) => ({ start: 0, step: 1, count }))), fillWords, view.k);
  return data;
}

/** True when every element's bytes equal the fill value's. */
export function isAllFill(words: Words, fill: Words, k: number): boolean {
  if (Array.isArray(words)) return (words as unknown as unknown[]).every((v) => sameValue(v, (fill as unknown as unknown[])[0]));
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

/** Equality of object-type elements: strings by value, byte strings and typed arrays by content. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Decodes one chunk and returns the selected region as a compact C-order block. */
export function decodeRegion(chain: CodecChain, fillWords: Words, item: DecodeItem): MaybePromise<TypedArray> {
  const { dataType } = chain.spec;
  const counts = item.chunkRegion.map((r) => r.count);
  const data = allocate(dataType, product(counts));
  const view = wordView(bytesOf(data), DATA_TYPES[dataType].itemsize);
  const done = decodeInto(chain, fillWords, { ...item, outRegion: compact(item.chunkRegion) }, { words: view.words, shape: counts, k: view.k });
  return done instanceof Promise ? done.then(() => data) : data;
}

/**
 * Copies the selected region of `src` (shape `srcShape`) into a compact block: a write's
 * per-chunk piece. `allocate` supplies the block (a recycled buffer, or a new one).
 */
export function extractPiece(
  src: Words,
  srcShape: number[],
  region: Region[],
  itemsize: number,
  k: number,
  allocate: (byteLength: number) => Uint8Array = (n) => new Uint8Array(n),
): Uint8Array {
  const counts = region.map((r) => r.count);
  // Object data types: the piece is a JS array of the values (see dtype.bytesOf).
  const piece = Array.isArray(src) ? (new Array(product(counts)) as unknown as Uint8Array) : allocate(product(counts) * itemsize);
  copyRegion(wordView(piece, itemsize).words, counts, compact(region), src, srcShape, region, k);
  return piece;
}

/** Overwrites the elements of `base` whose mask byte is set with those of `values` (same shape). */
export function maskedMerge(base: Words, values: Words, mask: Uint8Array, k: number): void {
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const at = i * k;
    for (let j = 0; j < k; j++) base[at + j] = values[at + j];
  }
}

/**
 * Sets the mask bytes of a strided region (mask has the chunk's C-order shape) and returns
 * how many were newly set, so that a writer can tell when a chunk is fully covered without
 * rescanning it.
 */
export function markRegion(mask: Uint8Array, shape: readonly number[], region: readonly Region[]): number {
  const ndim = shape.length;
  if (region.some((r) => r.count === 0)) return 0;
  if (isListed(region)) return markListed(mask, shape, region);
  if (ndim === 0) {
    const fresh = mask[0] === 0 ? 1 : 0;
    mask[0] = 1;
    return fresh;
  }
  const strides = new Array<number>(ndim);
  for (let i = ndim - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const inner = ndim - 1;
  const innerCount = region[inner].count;
  const innerStep = region[inner].step * strides[inner];
  const counter = new Array<number>(ndim).fill(0);
  let base = 0;
  for (let d = 0; d < ndim; d++) base += region[d].start * strides[d];
  let fresh = 0;
  for (;;) {
    for (let i = 0, p = base; i < innerCount; i++, p += innerStep) {
      if (mask[p] === 0) {
        mask[p] = 1;
        fresh++;
      }
    }
    let axis = inner - 1;
    for (; axis >= 0; axis--) {
      base += region[axis].step * strides[axis];
      if (++counter[axis] < region[axis].count) break;
      base -= region[axis].step * strides[axis] * region[axis].count;
      counter[axis] = 0;
    }
    if (axis < 0) return fresh;
  }
}

/** markRegion for a region with listed (index-array) dimensions: repeated positions count once. */
function markListed(mask: Uint8Array, shape: readonly number[], region: readonly Region[]): number {
  const tables = offsetTables("mask", shape, region, mask.length, 1);
  const rank = tables.length;
  const last = rank - 1;
  const counter = new Array<number>(rank).fill(0);
  let fresh = 0;
  for (;;) {
    let base = 0;
    for (let axis = 0; axis < last; axis++) base += tables[axis]![counter[axis]!]!;
    const inner = tables[last]!;
    for (let j = 0; j < inner.length; j++) {
      const p = base + inner[j]!;
      if (mask[p] === 0) {
        mask[p] = 1;
        fresh++;
      }
    }
    let axis = last - 1;
    for (; axis >= 0; axis--) {
      if (++counter[axis]! < tables[axis]!.length) break;
      counter[axis] = 0;
    }
    if (axis < 0) return fresh;
  }
}

/**
 * Spare buffers of one size, handed back after use and taken again: a write cuts every chunk
 * into a fresh piece, and a fresh megabyte costs page faults that are a large part of the
 * main thread's work per chunk. Bounded; buffers of other sizes are not kept.
 */
export class BufferRecycler {
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    readonly byteLength: number,
    private readonly limit = 32,
  ) {}

  take = (byteLength: number): Uint8Array => {
    const buffer = byteLength === this.byteLength ? this.spare.pop() : undefined;
    return buffer ? new Uint8Array(buffer) : new Uint8Array(byteLength);
  };

  /** Keeps `view`'s buffer for reuse, unless `result` (what was made from it) still uses it. */
  give(view: Uint8Array | undefined, result?: Uint8Array | null): void {
    if (!view || !(view.buffer instanceof ArrayBuffer) || view.buffer.byteLength !== this.byteLength) return;
    if (result && result.buffer === view.buffer) return;
    if (this.spare.length < this.limit && !this.spare.includes(view.buffer)) this.spare.push(view.buffer);
  }

  /** Drops every spare buffer (the garbage collector frees them). */
  clear(): void {
    this.spare.length = 0;
  }
}

/** Spares kept between writes: at most this many bytes per piece size, for this long after the last write. */
const KEEP_BYTES = 64 << 20;
const KEEP_MS = 2000;
const kept = new Map<number, { recycler: BufferRecycler; users: number; timer?: ReturnType<typeof setTimeout> }>();

/**
 * The recycler for pieces of `byteLength` bytes, shared by the writes of this thread: a loop
 * of writes of the same chunk (or shard) size reuses the pieces the previous write returned
 * instead of faulting fresh memory in each time. Call the returned `done()` when the write
 * ends; the spares are dropped once no write has used them for two seconds. Two piece sizes
 * are kept at most.
 */
export function sharedRecycler(byteLength: number): { recycler: BufferRecycler; done: () => void } {
  let entry = kept.get(byteLength);
  if (!entry) {
    for (const [size, other] of kept) {
      if (kept.size < 2) break;
      if (other.users === 0) {
        if (other.timer !== undefined) clearTimeout(other.timer);
        kept.delete(size);
      }
    }
    entry = { recycler: new BufferRecycler(byteLength, Math.max(1, Math.min(32, Math.floor(KEEP_BYTES / byteLength)))), users: 0 };
    kept.set(byteLength, entry);
  }
  const held = entry;
  if (held.timer !== undefined) clearTimeout(held.timer);
  held.timer = undefined;
  held.users++;
  let ended = false;
  return {
    recycler: held.recycler,
    done() {
      if (ended) return;
      ended = true;
      if (--held.users > 0) return;
      const timer = setTimeout(() => {
        held.recycler.clear();
        if (kept.get(byteLength) === held && held.users === 0) kept.delete(byteLength);
      }, KEEP_MS);
      // Node: a pending drop must not keep the process alive.
      (timer as { unref?: () => void }).unref?.();
      held.timer = timer;
    },
  };
}

/** Bytes of a memory page here (4 KiB: the page size of x86-64 and most arm64 Linux hosts). */
const PAGE_BYTES = 4096;

/**
 * Chunks whose places in a C-order output share memory pages get the same key (undefined:
 * the place shares none with its neighbours). The place is a run of the output along its
 * innermost dimension that the chunk does not span (all later dimensions taken whole); when
 * such runs are not whole pages, the chunks next to each other along that dimension meet
 * inside pages, and they are keyed by their position in every other dimension. Example: a
 * [8, 256, 256] uint16 chunk of a [512, 512, 512] output fills runs of 512 bytes, so chunks
 * (i, j, 0) and (i, j, 1) share every page of theirs. Two workers writing such neighbours into
 * fresh memory at the same time each take the page fault: about twice the faults, measured.
 */
export function pageSharingKey(outRegion: readonly Region[], outShape: readonly number[], itemsize: number): string | undefined {
  let inner = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const r = outRegion[d];
    if (r.count === outShape[d] && r.step === 1 && !r.index) {
      inner *= outShape[d];
      continue;
    }
    const runBytes = r.count * inner * itemsize;
    const startBytes = r.start * inner * itemsize;
    if (r.step === 1 && !r.index && runBytes % PAGE_BYTES === 0 && startBytes % PAGE_BYTES === 0) return undefined;
    let key = "";
    for (let e = 0; e < outShape.length; e++) if (e !== d) key += `${outRegion[e].start},`;
    return key;
  }
  return undefined;
}
