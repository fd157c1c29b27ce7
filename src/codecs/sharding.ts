/**
 * `sharding_indexed`: array → bytes. A shard (one stored object) holds a grid of inner chunks,
 * each encoded with its own codec chain, plus an index of (offset, nbytes) per inner chunk.
 *
 * Binary layout (Zarr v3 sharding spec): the index is a uint64 array of shape
 * `[...chunksPerShard, 2]`, C order over inner chunk coordinates, encoded with `index_codecs`
 * (which must have a fixed encoded size, so a reader can fetch it with one ranged request).
 * It sits in the first (`index_location: "start"`) or last (`"end"`, the default) bytes of the
 * shard. Offsets are relative to the start of the shard; (2^64-1, 2^64-1) marks an absent inner
 * chunk, which reads as the fill value. Readers accept inner chunks in any order and with gaps;
 * zarrflow writes them contiguously, in Morton (Z-order) order of their coordinates.
 *
 * Besides the whole-shard encode/decode used by the chain, the class exposes the pieces the
 * array layer needs for partial IO (read the index, fetch only some inner chunks, re-lay a
 * shard): `indexByteLength`, `decodeIndex`, `encodeIndex`, `decodeInner`, `encodeInner`,
 * `layoutShard`, `innerRegion`, `mortonOrder`. All of them are pure.
 */
import { isAllFill } from "../chunk-ops.js";
import { copyRegion, fillRegion, type Words } from "../copy.js";
import { DATA_TYPES, allocate, hasByteOrder, bytesOf, product, scalarArray, type DataType, type TypedArray } from "../dtype.js";
import { CodecError, MetadataError, ZarrflowError, type ErrorContext } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type { Region } from "../selection.js";
import { BytesCodec } from "./bytes.js";
import { CodecChain } from "./chain.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata, MaybePromise } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";
import { stringifyJSON } from "../json.js";

export type IndexLocation = "start" | "end";

export interface ShardEncodeOptions {
  /**
   * Store inner chunks that hold only the fill value (default: the codec's
   * `writeEmptyChunks`, false). Applies to this level only: a nested sharding codec inside
   * the inner chain keeps its own default.
   */
  writeEmptyChunks?: boolean;
}

/** The default `index_codecs`: little-endian uint64 followed by a CRC-32C. */
export const DEFAULT_INDEX_CODECS: readonly CodecMetadata[] = Object.freeze([
  { name: "bytes", configuration: { endian: "little" } },
  { name: "crc32c" },
]);

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_U32 = 0xffffffff;
const TWO_32 = 2 ** 32;
/** The high 32-bit word of Number.MAX_SAFE_INTEGER (2^53 - 1). */
const MAX_SAFE_HI = 0x1fffff;
/** Inner chunks per shard, at most: a 1 GiB index. */
export const MAX_INNER_CHUNKS = 2 ** 26;
/** Sharding codecs nested inside each other, at most (each level is a whole codec chain). */
export const MAX_SHARDING_DEPTH = 8;
let nesting = 0;

/**
 * A decoded shard index: the byte range of every inner chunk, by flat C-order inner chunk
 * index. Absent inner chunks have offset and length -1. Offsets are relative to the start
 * of the shard. Plain typed arrays, so it is cheap to query and to send to a worker.
 */
export class ShardIndex {
  readonly offsets: Float64Array;
  readonly lengths: Float64Array;

  constructor(readonly count: number, offsets?: Float64Array, lengths?: Float64Array) {
    this.offsets = offsets ?? new Float64Array(count).fill(-1);
    this.lengths = lengths ?? new Float64Array(count).fill(-1);
  }

  /** True when inner chunk `i` is absent (reads as the fill value). */
  isAbsent(i: number): boolean {
    return this.offsets[i] < 0;
  }

  /** The byte range of inner chunk `i` inside the shard, or undefined when it is absent. */
  range(i: number): { offset: number; length: number } | undefined {
    const offset = this.offsets[i];
    return offset < 0 ? undefined : { offset, length: this.lengths[i] };
  }

  set(i: number, offset: number, length: number): void {
    this.offsets[i] = offset;
    this.lengths[i] = length;
  }

  setAbsent(i: number): void {
    this.offsets[i] = -1;
    this.lengths[i] = -1;
  }

  /** Number of present inner chunks. */
  presentCount(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.offsets[i] >= 0) n++;
    return n;
  }

  /** True when no inner chunk is present (the array layer may delete such a shard). */
  isEmpty(): boolean {
    for (let i = 0; i < this.count; i++) if (this.offsets[i] >= 0) return false;
    return true;
  }
}

/**
 * Flat C-order indices of a grid of `chunksPerShard`, sorted by Morton (Z-order) code. The
 * last dimension takes the lowest bit of each level (so a 4×4 grid runs 0,1,4,5,2,3,6,7,…).
 * Non-power-of-two and non-cubic grids use a compact code: each dimension contributes only
 * the ceil(log2(n)) bits it needs, so a dimension that runs out of bits stops interleaving
 * and out-of-range codes never exist — the order is the Z-curve of the enclosing
 * power-of-two box with the cells outside the grid skipped.
 */
export function mortonOrder(chunksPerShard: readonly number[]): number[] {
  const ndim = chunksPerShard.length;
  const n = product(chunksPerShard);
  if (n === 0) return [];
  const bits = chunksPerShard.map((size) => {
    let b = 0;
    while (2 ** b < size) b++;
    return b;
  });
  const totalBits = bits.reduce((a, b) => a + b, 0);
  if (totalBits > 52) return Array.from({ length: n }, (_, i) => i); // unreachable in practice
  const maxBits = Math.max(0, ...bits);
  // weight[d][b]: the value bit b of coordinate d adds to the code.
  const weights: number[][] = chunksPerShard.map(() => []);
  let position = 0;
  for (let b = 0; b < maxBits; b++) {
    for (let d = ndim - 1; d >= 0; d--) {
      if (b < bits[d]) weights[d][b] = 2 ** position++;
    }
  }
  // contribution[d][c]: the code bits of coordinate value c along dimension d.
  const contribution = chunksPerShard.map((size, d) => {
    const table = new Float64Array(size);
    for (let c = 0; c < size; c++) {
      let v = 0;
      for (let b = 0; b < bits[d]; b++) if (Math.floor(c / 2 ** b) % 2 === 1) v += weights[d][b];
      table[c] = v;
    }
    return table;
  });
  const codes = new Float64Array(n);
  const coords = new Array<number>(ndim).fill(0);
  for (let i = 0; i < n; i++) {
    let code = 0;
    for (let d = 0; d < ndim; d++) code += contribution[d][coords[d]];
    codes[i] = code;
    for (let d = ndim - 1; d >= 0; d--) {
      if (++coords[d] < chunksPerShard[d]) break;
      coords[d] = 0;
    }
  }
  const space = 2 ** totalBits;
  if (space <= 8 * n + 1024) {
    // Codes are distinct and dense enough: place by code, then compact (linear time).
    const slots = new Int32Array(space).fill(-1);
    for (let i = 0; i < n; i++) slots[codes[i]] = i;
    const order = new Array<number>(n);
    let j = 0;
    for (let c = 0; c < space; c++) if (slots[c] >= 0) order[j++] = slots[c];
    return order;
  }
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => codes[a] - codes[b]);
}

/** Word size used to move elements of this itemsize: the widest of 4, 2, 1 that divides it. */
function wordBytesFor(itemsize: number): 1 | 2 | 4 {
  return itemsize % 4 === 0 ? 4 : itemsize % 2 === 0 ? 2 : 1;
}

/** A view of `data`'s bytes as `wordBytes`-wide unsigned words (copying when misaligned). */
function asWords(data: ArrayBufferView, wordBytes: 1 | 2 | 4): Words {
  if (Array.isArray(data)) return data as unknown as Words; // object data types: one value per element
  let bytes = bytesOf(data);
  if (bytes.byteOffset % wordBytes !== 0) bytes = bytes.slice();
  const { buffer, byteOffset, byteLength } = bytes;
  if (wordBytes === 4) return new Uint32Array(buffer, byteOffset, byteLength / 4);
  if (wordBytes === 2) return new Uint16Array(buffer, byteOffset, byteLength / 2);
  return new Uint8Array(buffer, byteOffset, byteLength);
}

/** Re-raises a codec error with a prefix naming where it happened, keeping its class. */
function prefixed(error: unknown, prefix: string): Error {
  if (error instanceof CodecError) {
    const Ctor = error.constructor as new (message: string, context: ErrorContext) => CodecError;
    return new Ctor(`${prefix}: ${error.detail}`, { path: error.path, cause: error });
  }
  if (error instanceof ZarrflowError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CodecError(`${prefix}: ${message}`, { cause: error });
}

export interface ShardingConfiguration {
  chunkShape: number[];
  codecs: readonly CodecMetadata[];
  indexCodecs: readonly CodecMetadata[];
  indexLocation: IndexLocation;
}

export class ShardingCodec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  readonly name = "sharding_indexed";

  /** Shape of the shard (this codec's input). */
  readonly shardShape: number[];
  /** Shape of each inner chunk (`chunk_shape`). */
  readonly innerChunkShape: number[];
  /** Inner chunks per shard along each dimension. */
  readonly chunksPerShard: number[];
  /** Total number of inner chunks in a shard. */
  readonly innerChunkCount: number;
  readonly indexLocation: IndexLocation;
  /** The chain each inner chunk is encoded with (may itself contain a sharding codec). */
  readonly innerChain: CodecChain;
  /** The chain of the index (uint64 `[...chunksPerShard, 2]`); fixed encoded size. */
  readonly indexChain: CodecChain;
  /** Default for `encode`'s `writeEmptyChunks` option. */
  writeEmptyChunks = false;

  private readonly dataType: DataType;
  private readonly itemsize: number;
  private readonly wordBytes: 1 | 2 | 4;
  /** Words per element. */
  private readonly k: number;
  private readonly fillWords: Words;
  private readonly fillIsZero: boolean;
  private readonly indexSize: number;
  /** Elements per inner chunk. */
  private readonly innerSize: number;
  /**
   * True when the inner chain is a lone `bytes` codec in host byte order: an inner chunk's
   * stored bytes are its memory bytes, so encode/decode copy straight between the shard and
   * the stored bytes without going through the chain.
   */
  private readonly rawInner: boolean;
  private morton: number[] | undefined;

  constructor(config: ShardingConfiguration, readonly spec: ChunkSpec, context: ErrorContext = {}) {
    const fail = (message: string): never => {
      throw new MetadataError(`codec "sharding_indexed": ${message}`, context);
    };
    const { chunkShape, indexLocation } = config;
    if (chunkShape.length !== spec.shape.length) {
      fail(`chunk_shape [${chunkShape}] has ${chunkShape.length} dimensions, the shard [${spec.shape}] has ${spec.shape.length}`);
    }
    spec.shape.forEach((size, d) => {
      if (size % chunkShape[d] !== 0) {
        fail(`the shard shape [${spec.shape}] is not divisible by chunk_shape [${chunkShape}] (dimension ${d})`);
      }
    });
    this.shardShape = [...spec.shape];
    this.innerChunkShape = [...chunkShape];
    this.chunksPerShard = spec.shape.map((size, d) => size / chunkShape[d]);
    this.innerChunkCount = product(this.chunksPerShard);
    if (this.innerChunkCount > MAX_INNER_CHUNKS) {
      // The index alone would be 16 bytes per inner chunk: refuse before allocating any of it.
      fail(`${this.innerChunkCount} inner chunks per shard (shard [${spec.shape}], chunk_shape [${chunkShape}]); at most ${MAX_INNER_CHUNKS} are supported`);
    }
    this.indexLocation = indexLocation;
    this.dataType = spec.dataType;
    this.itemsize = DATA_TYPES[spec.dataType].itemsize;
    this.wordBytes = wordBytesFor(this.itemsize);
    this.k = this.itemsize / this.wordBytes;
    this.fillWords = asWords(scalarArray(spec.fillValue, spec.dataType), this.wordBytes);
    this.fillIsZero = this.fillWords.every((w) => w === 0);
    this.innerSize = product(chunkShape);

    this.innerChain = new CodecChain({ shape: this.innerChunkShape, dataType: spec.dataType, fillValue: spec.fillValue }, config.codecs, context);
    this.indexChain = new CodecChain({ shape: [...this.chunksPerShard, 2], dataType: "uint64", fillValue: 0n }, config.indexCodecs, context);
    const a2b = this.innerChain.arrayToBytes;
    this.rawInner =
      this.innerChain.arrayToArray.length === 0 &&
      this.innerChain.bytesToBytes.length === 0 &&
      a2b instanceof BytesCodec &&
      // Struct records can have multi-byte fields though their slots are bytes: ask the type.
      (!hasByteOrder(spec.dataType) || (a2b.endian === "big") !== HOST_LITTLE_ENDIAN);
    const indexSize = this.indexChain.encodedSize;
    if (indexSize === null) {
      fail(`index_codecs must have a fixed encoded size (no compression), got ${stringifyJSON(this.indexChain.toJSON())}`);
    }
    this.indexSize = indexSize as number;
  }

  // -------------------------------------------------------------------------------------------
  // Geometry

  /** Encoded size of the index in bytes (the first or last bytes of every shard). */
  indexByteLength(): number {
    return this.indexSize;
  }

  /** Byte range of the index in a shard of `shardByteLength` bytes. */
  indexRange(shardByteLength: number): { offset: number; length: number } {
    return { offset: this.indexLocation === "start" ? 0 : shardByteLength - this.indexSize, length: this.indexSize };
  }

  /** Encoded size of every inner chunk when it does not depend on the data, else null. */
  get innerEncodedSize(): number | null {
    return this.innerChain.encodedSize;
  }

  /** Flat C-order inner chunk indices in the order zarrflow writes them (Morton order). */
  get mortonOrder(): readonly number[] {
    return (this.morton ??= mortonOrder(this.chunksPerShard));
  }

  /** Coordinates (in the inner chunk grid) of flat inner chunk index `i`. */
  innerCoords(i: number): number[] {
    const coords = new Array<number>(this.chunksPerShard.length);
    for (let d = this.chunksPerShard.length - 1; d >= 0; d--) {
      const n = this.chunksPerShard[d];
      coords[d] = i % n;
      i = Math.floor(i / n);
    }
    return coords;
  }

  /** Flat C-order index of the inner chunk at `coords`. */
  flatIndex(coords: readonly number[]): number {
    let i = 0;
    for (let d = 0; d < coords.length; d++) i = i * this.chunksPerShard[d] + coords[d];
    return i;
  }

  /** The box inner chunk `i` covers in the shard, in element coordinates (written into `out` when given). */
  innerRegion(i: number, out?: Region[]): Region[] {
    const shape = this.innerChunkShape;
    const region = out ?? shape.map((count) => ({ start: 0, step: 1, count }));
    for (let d = shape.length - 1; d >= 0; d--) {
      const n = this.chunksPerShard[d];
      region[d].start = (i % n) * shape[d];
      i = Math.floor(i / n);
    }
    return region;
  }

  // -------------------------------------------------------------------------------------------
  // Index

  /**
   * Decodes and validates the encoded index (exactly `indexByteLength()` bytes). With
   * `shardByteLength` the entries are also checked against the shard's extent and the index
   * region; without it (the index came from a suffix request of unknown total size) only what
   * the index alone can tell is checked. Throws CodecError (ChecksumError for a checksum
   * mismatch) on a corrupt index, never a RangeError. Synchronous.
   */
  decodeIndex(indexBytes: Uint8Array, shardByteLength?: number): ShardIndex {
    if (indexBytes.byteLength !== this.indexSize) {
      throw new CodecError(`shard index is ${indexBytes.byteLength} bytes, expected ${this.indexSize}`);
    }
    let decoded: MaybePromise<NdArray>;
    try {
      decoded = this.indexChain.decode(indexBytes);
    } catch (error) {
      throw prefixed(error, "shard index");
    }
    if (decoded instanceof Promise) {
      decoded.catch(() => {});
      throw new CodecError("shard index: index_codecs must decode synchronously");
    }
    const n = this.innerChunkCount;
    const data = decoded.data;
    if (data.byteLength !== n * 16) {
      throw new CodecError(`shard index decodes to ${data.byteLength} bytes, expected ${n * 16}`);
    }
    // Read each uint64 as two 32-bit halves: no BigInt per entry, exact safe-integer checks.
    const words = asWords(data, 4) as Uint32Array;
    const offsets = new Float64Array(n);
    const lengths = new Float64Array(n);
    const indexStart = this.indexLocation === "start" ? 0 : shardByteLength === undefined ? Infinity : shardByteLength - this.indexSize;
    const indexEnd = this.indexLocation === "start" ? this.indexSize : Infinity;
    const where = (i: number) => `shard index entry ${i} (inner chunk [${this.innerCoords(i)}])`;
    const u64 = (lo: number, hi: number) => ((BigInt(hi) << 32n) | BigInt(lo)).toString();
    let sorted = true;
    let lastOffset = -1;
    for (let i = 0; i < n; i++) {
      const lo0 = words[4 * i];
      const hi0 = words[4 * i + 1];
      const lo1 = words[4 * i + 2];
      const hi1 = words[4 * i + 3];
      const offsetAbsent = lo0 === MAX_U32 && hi0 === MAX_U32;
      const lengthAbsent = lo1 === MAX_U32 && hi1 === MAX_U32;
      if (offsetAbsent || lengthAbsent) {
        if (offsetAbsent !== lengthAbsent) {
          throw new CodecError(`${where(i)}: offset ${u64(lo0, hi0)} and nbytes ${u64(lo1, hi1)}: only one is the absent marker 2^64-1`);
        }
        offsets[i] = -1;
        lengths[i] = -1;
        continue;
      }
      if (hi0 > MAX_SAFE_HI || hi1 > MAX_SAFE_HI) {
        throw new CodecError(`${where(i)}: offset ${u64(lo0, hi0)} or nbytes ${u64(lo1, hi1)} exceeds 2^53-1`);
      }
      const offset = hi0 * TWO_32 + lo0;
      const length = hi1 * TWO_32 + lo1;
      const end = offset + length;
      if (end > Number.MAX_SAFE_INTEGER) {
        // Each half fits, the sum does not: no store can hold it, and a request for it would be refused as malformed.
        throw new CodecError(`${where(i)}: bytes ${offset}..${BigInt(offset) + BigInt(length)} end past 2^53-1`);
      }
      if (shardByteLength !== undefined && end > shardByteLength) {
        throw new CodecError(`${where(i)}: bytes ${offset}..${end} lie past the end of the ${shardByteLength}-byte shard`);
      }
      if (length > 0 && offset < indexEnd && end > indexStart) {
        throw new CodecError(`${where(i)}: bytes ${offset}..${end} overlap the shard index`);
      }
      offsets[i] = offset;
      lengths[i] = length;
      if (length > 0) {
        if (offset < lastOffset) sorted = false;
        lastOffset = offset;
      }
    }
    this.checkOverlaps(offsets, lengths, sorted, where);
    return new ShardIndex(n, offsets, lengths);
  }

  /** Throws when two present (non-empty) inner chunks share bytes. */
  private checkOverlaps(offsets: Float64Array, lengths: Float64Array, sorted: boolean, where: (i: number) => string): void {
    const present: number[] = [];
    if (sorted) {
      for (let i = 0; i < offsets.length; i++) if (offsets[i] >= 0 && lengths[i] > 0) present.push(i);
    } else {
      // Shards zarrflow writes are in Morton order: check that order before paying for a sort.
      let last = -1;
      for (const i of this.mortonOrder) {
        if (offsets[i] < 0 || lengths[i] === 0) continue;
        if (offsets[i] < last) sorted = false;
        last = offsets[i];
        present.push(i);
      }
      if (!sorted) present.sort((a, b) => offsets[a] - offsets[b]);
    }
    for (let j = 1; j < present.length; j++) {
      const a = present[j - 1];
      const b = present[j];
      if (offsets[b] < offsets[a] + lengths[a]) {
        throw new CodecError(
          `${where(b)} (bytes ${offsets[b]}..${offsets[b] + lengths[b]}) overlaps inner chunk [${this.innerCoords(a)}] (bytes ${offsets[a]}..${offsets[a] + lengths[a]})`,
        );
      }
    }
  }

  /** Encodes an index (exactly `indexByteLength()` bytes). Synchronous. */
  encodeIndex(index: ShardIndex): Uint8Array {
    const n = this.innerChunkCount;
    if (index.count !== n) throw new CodecError(`shard index has ${index.count} entries, expected ${n}`);
    const data = new BigUint64Array(2 * n);
    const words = new Uint32Array(data.buffer);
    for (let i = 0; i < n; i++) {
      const offset = index.offsets[i];
      if (offset < 0) {
        words.fill(MAX_U32, 4 * i, 4 * i + 4);
        continue;
      }
      const length = index.lengths[i];
      words[4 * i] = offset % TWO_32;
      words[4 * i + 1] = Math.floor(offset / TWO_32);
      words[4 * i + 2] = length % TWO_32;
      words[4 * i + 3] = Math.floor(length / TWO_32);
    }
    const encoded = this.indexChain.encode({ data, shape: [...this.chunksPerShard, 2], dtype: "uint64" });
    if (encoded instanceof Promise) {
      encoded.catch(() => {});
      throw new CodecError("shard index: index_codecs must encode synchronously");
    }
    if (encoded.byteLength !== this.indexSize) {
      throw new CodecError(`shard index encoded to ${encoded.byteLength} bytes, expected ${this.indexSize}`);
    }
    return encoded;
  }

  /** Reads and validates the index of a whole shard. */
  readIndex(shard: Uint8Array): ShardIndex {
    if (shard.byteLength < this.indexSize) {
      throw new CodecError(`shard is ${shard.byteLength} bytes, shorter than its ${this.indexSize}-byte index (truncated?)`);
    }
    const { offset, length } = this.indexRange(shard.byteLength);
    return this.decodeIndex(shard.subarray(offset, offset + length), shard.byteLength);
  }

  // -------------------------------------------------------------------------------------------
  // Inner chunks

  /** Decodes one inner chunk's bytes into a C-order array of `innerChunkShape`. */
  decodeInner(bytes: Uint8Array, key?: string): MaybePromise<NdArray> {
    return this.innerChain.decode(bytes, key);
  }

  /** Encodes one inner chunk (a C-order array of `innerChunkShape`). */
  encodeInner(array: NdArray, key?: string): MaybePromise<Uint8Array> {
    return this.innerChain.encode(array, key);
  }

  /** True when every element of an inner chunk (or any array of this data type) is the fill value. */
  isFill(data: TypedArray): boolean {
    return isAllFill(asWords(data, this.wordBytes), this.fillWords, this.k);
  }

  /**
   * Lays out encoded inner chunks into one shard: present pieces (by flat C-order index;
   * missing or undefined = absent) are written contiguously in Morton order after (start) or
   * before (end) the index, into one output buffer. An empty map gives an index-only shard.
   */
  layoutShard(pieces: ReadonlyMap<number, Uint8Array> | readonly (Uint8Array | undefined)[]): Uint8Array {
    const get: (i: number) => Uint8Array | undefined =
      pieces instanceof Map ? (i) => pieces.get(i) : (i) => (pieces as readonly (Uint8Array | undefined)[])[i];
    const n = this.innerChunkCount;
    if (pieces instanceof Map) {
      for (const i of pieces.keys()) {
        if (!Number.isInteger(i) || i < 0 || i >= n) throw new CodecError(`layoutShard: inner chunk index ${i} is outside [0, ${n})`);
      }
    }
    let dataSize = 0;
    for (let i = 0; i < n; i++) dataSize += get(i)?.byteLength ?? 0;
    const assembler = this.assembler(dataSize);
    for (const i of this.mortonOrder) {
      const piece = get(i);
      if (piece !== undefined) assembler.add(i, piece);
    }
    return assembler.finish(false);
  }

  /**
   * A layout built inner chunk by inner chunk, for callers that add them in Morton order: each
   * encoded inner chunk is copied once, straight to its place, into this thread's reused
   * assembly buffer (see ShardAssembler). With `exactDataSize` (the inner chunks' total, known
   * beforehand), a buffer of exactly the shard's size instead, which finish() returns as it is.
   */
  assembler(exactDataSize?: number): ShardAssembler {
    const hint = exactDataSize ?? product(this.shardShape) * this.itemsize;
    return new ShardAssembler(this.innerChunkCount, this.indexSize, this.indexLocation, (index) => this.encodeIndex(index), hint, exactDataSize !== undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Whole-shard encode / decode

  encode(shard: NdArray, options: ShardEncodeOptions = {}): MaybePromise<Uint8Array> {
    const writeEmpty = options.writeEmptyChunks ?? this.writeEmptyChunks;
    if (shard.dtype !== this.dataType || shard.data.byteLength !== product(this.shardShape) * this.itemsize) {
      throw new CodecError(`sharding: cannot encode a ${shard.dtype} array of shape [${shard.shape}] as a ${this.dataType} shard [${this.shardShape}]`);
    }
    const k = this.k;
    const src = asWords(shard.data, this.wordBytes);
    if (this.rawInner && (this.indexLocation === "end" || this.indexSize % this.wordBytes === 0)) return this.encodeRaw(src, writeEmpty);
    // One scratch inner chunk, reused: an encode that returns a Promise is awaited before the
    // next chunk is copied in, and results that alias the scratch are copied out.
    const scratch = allocate(this.dataType, this.innerSize);
    const scratchWords = asWords(scratch, this.wordBytes);
    const innerShape = this.innerChunkShape;
    const whole: Region[] = innerShape.map((count) => ({ start: 0, step: 1, count }));
    const region: Region[] = innerShape.map((count) => ({ start: 0, step: 1, count }));
    const coords = new Array<number>(innerShape.length).fill(0);
    const pieces = new Array<Uint8Array | undefined>(this.innerChunkCount);
    const own = (bytes: Uint8Array) => (bytes.buffer === scratch.buffer ? bytes.slice() : bytes);
    const step = (i: number): MaybePromise<void> => {
      for (let d = 0; d < coords.length; d++) region[d].start = coords[d] * innerShape[d];
      for (let d = coords.length - 1; d >= 0; d--) {
        if (++coords[d] < this.chunksPerShard[d]) break;
        coords[d] = 0;
      }
      copyRegion(scratchWords, innerShape, whole, src, this.shardShape, region, k);
      if (!writeEmpty && isAllFill(scratchWords, this.fillWords, k)) return;
      let encoded: MaybePromise<Uint8Array>;
      try {
        encoded = this.innerChain.encode({ data: scratch, shape: innerShape, dtype: this.dataType });
      } catch (error) {
        throw prefixed(error, `inner chunk [${this.innerCoords(i)}]`);
      }
      if (encoded instanceof Promise) {
        return encoded.then(
          (bytes) => void (pieces[i] = own(bytes)),
          (error: unknown) => {
            throw prefixed(error, `inner chunk [${this.innerCoords(i)}]`);
          },
        );
      }
      pieces[i] = own(encoded);
    };
    return eachMaybeAsync(this.innerChunkCount, step, () => this.layoutShard(pieces));
  }

  /**
   * encode for a raw inner chain: copy each inner chunk straight into its slot of the output
   * (Morton order), skip the slot again when it holds only the fill value, then add the index.
   */
  private encodeRaw(src: Words, writeEmpty: boolean): Uint8Array {
    const n = this.innerChunkCount;
    const k = this.k;
    const innerBytes = this.innerSize * this.itemsize;
    const slotWords = innerBytes / this.wordBytes;
    const base = this.indexLocation === "start" ? this.indexSize : 0;
    const out = new Uint8Array(n * innerBytes + this.indexSize);
    // The data area viewed as [slot, ...innerChunkShape]; the shard as [1, ...shardShape].
    const slots = asWords(out.subarray(base, base + n * innerBytes), this.wordBytes);
    const slotsShape = [n, ...this.innerChunkShape];
    const srcShape = [1, ...this.shardShape];
    const dstRegion: Region[] = slotsShape.map((count) => ({ start: 0, step: 1, count }));
    dstRegion[0].count = 1;
    const srcRegion: Region[] = srcShape.map((count) => ({ start: 0, step: 1, count }));
    const inner = srcRegion.slice(1);
    for (let d = 0; d < inner.length; d++) inner[d].count = this.innerChunkShape[d];
    const index = new ShardIndex(n);
    let slot = 0;
    for (const i of this.mortonOrder) {
      dstRegion[0].start = slot;
      this.innerRegion(i, inner);
      copyRegion(slots, slotsShape, dstRegion, src, srcShape, srcRegion, k);
      if (!writeEmpty && isAllFill(slots.subarray(slot * slotWords, (slot + 1) * slotWords), this.fillWords, k)) continue;
      index.set(i, base + slot * innerBytes, innerBytes);
      slot++;
    }
    const dataEnd = base + slot * innerBytes;
    out.set(this.encodeIndex(index), this.indexLocation === "start" ? 0 : dataEnd);
    const total = dataEnd + (this.indexLocation === "start" ? 0 : this.indexSize);
    return total === out.byteLength ? out : out.slice(0, total);
  }

  decode(bytes: Uint8Array, spec: ChunkSpec = this.spec): MaybePromise<NdArray> {
    if (spec.dataType !== this.dataType || product(spec.shape) !== product(this.shardShape)) {
      throw new CodecError(`sharding: asked to decode a ${spec.dataType} [${spec.shape}] shard with a codec for ${this.dataType} [${this.shardShape}]`);
    }
    const index = this.readIndex(bytes);
    const k = this.k;
    const out = allocate(this.dataType, product(this.shardShape));
    const outWords = asWords(out, this.wordBytes);
    const innerShape = this.innerChunkShape;
    const whole: Region[] = innerShape.map((count) => ({ start: 0, step: 1, count }));
    const innerBytes = this.innerSize * this.itemsize;
    const n = this.innerChunkCount;
    if (!this.fillIsZero) {
      if (index.isEmpty()) {
        fillRegion(outWords, this.shardShape, this.shardShape.map((count) => ({ start: 0, step: 1, count })), this.fillWords, k);
      } else {
        const region: Region[] = innerShape.map((count) => ({ start: 0, step: 1, count }));
        for (let i = 0; i < n; i++) if (index.isAbsent(i)) fillRegion(outWords, this.shardShape, this.innerRegion(i, region), this.fillWords, k);
      }
    }
    const region: Region[] = innerShape.map((count) => ({ start: 0, step: 1, count }));
    const place = (i: number, chunk: NdArray): void => {
      if (chunk.data.byteLength !== innerBytes) {
        throw new CodecError(`inner chunk [${this.innerCoords(i)}] decoded to ${chunk.data.byteLength} bytes, expected ${innerBytes}`);
      }
      copyRegion(outWords, this.shardShape, this.innerRegion(i, region), asWords(chunk.data, this.wordBytes), innerShape, whole, k);
    };
    if (this.rawInner) {
      for (let i = 0; i < n; i++) {
        const offset = index.offsets[i];
        if (offset < 0) continue;
        const length = index.lengths[i];
        if (length !== innerBytes) {
          throw new CodecError(`inner chunk [${this.innerCoords(i)}] is ${length} bytes, expected ${innerBytes} (shape [${innerShape}], ${this.dataType})`);
        }
        const words = asWords(bytes.subarray(offset, offset + length), this.wordBytes);
        copyRegion(outWords, this.shardShape, this.innerRegion(i, region), words, innerShape, whole, k);
      }
      return { data: out, shape: [...this.shardShape], dtype: this.dataType };
    }
    const step = (i: number): MaybePromise<void> => {
      const offset = index.offsets[i];
      if (offset < 0) return;
      let decoded: MaybePromise<NdArray>;
      try {
        decoded = this.innerChain.decode(bytes.subarray(offset, offset + index.lengths[i]));
      } catch (error) {
        throw prefixed(error, `inner chunk [${this.innerCoords(i)}]`);
      }
      if (decoded instanceof Promise) {
        return decoded.then(
          (chunk) => place(i, chunk),
          (error: unknown) => {
            throw prefixed(error, `inner chunk [${this.innerCoords(i)}]`);
          },
        );
      }
      place(i, decoded);
    };
    return eachMaybeAsync(n, step, () => ({ data: out, shape: [...this.shardShape], dtype: this.dataType }));
  }

  /**
   * Always null: a shard's size depends on which inner chunks hold data (all-fill inner
   * chunks are left out), even when every inner chunk has a fixed size.
   */
  fixedEncodedSize(_spec: ChunkSpec): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return {
      name: "sharding_indexed",
      configuration: {
        chunk_shape: [...this.innerChunkShape],
        codecs: this.innerChain.toJSON(),
        index_codecs: this.indexChain.toJSON(),
        index_location: this.indexLocation,
      },
    };
  }
}

/**
 * Runs `step(0..n-1)` synchronously until one returns a Promise, then continues one step at a
 * time asynchronously (each awaited before the next, as steps share scratch state).
 */
function eachMaybeAsync<T>(n: number, step: (i: number) => MaybePromise<void>, finish: () => T): MaybePromise<T> {
  for (let i = 0; i < n; i++) {
    const pending = step(i);
    if (pending instanceof Promise) {
      return (async () => {
        await pending;
        for (let j = i + 1; j < n; j++) {
          const next = step(j);
          if (next instanceof Promise) await next;
        }
        return finish();
      })();
    }
  }
  return finish();
}

function positiveIntegers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isSafeInteger(v) && v > 0);
}

registerCodec("sharding_indexed", (configuration, input, context) => {
  const config = new ConfigReader("sharding_indexed", configuration, context, ["chunk_shape", "codecs", "index_codecs", "index_location"]);
  const chunkShape = config.raw("chunk_shape");
  if (!positiveIntegers(chunkShape)) config.fail(`"chunk_shape" must be a list of positive integers, got ${stringifyJSON(chunkShape)}`);
  const codecs = config.raw("codecs");
  if (!Array.isArray(codecs) || codecs.length === 0) config.fail(`"codecs" must be a non-empty list, got ${stringifyJSON(codecs)}`);
  const indexCodecs = config.has("index_codecs") ? config.raw("index_codecs") : DEFAULT_INDEX_CODECS;
  if (!Array.isArray(indexCodecs) || indexCodecs.length === 0) config.fail(`"index_codecs" must be a non-empty list, got ${stringifyJSON(indexCodecs)}`);
  const indexLocation = config.oneOf<IndexLocation>("index_location", ["start", "end"], "end");
  // Metadata decides how deep the inner chains nest; unbounded, it would decide the stack depth.
  if (nesting >= MAX_SHARDING_DEPTH) config.fail(`sharding codecs nest more than ${MAX_SHARDING_DEPTH} deep`);
  nesting++;
  try {
    return new ShardingCodec(
      { chunkShape: chunkShape as number[], codecs: codecs as CodecMetadata[], indexCodecs: indexCodecs as CodecMetadata[], indexLocation },
      input,
      context,
    );
  } finally {
    nesting--;
  }
});

/** This thread's assembly buffer while no assembler holds it (kept up to this size). */
let spareAssembly: Uint8Array | undefined;
const SPARE_ASSEMBLY_LIMIT = 64 << 20;

/**
 * One shard laid out as its inner chunks come: each is appended to one growing buffer and
 * entered in the index, and finish() adds the index. The buffer is lent by the thread (one
 * assembler holds it at a time; a second, concurrent one gets a fresh buffer), so a worker
 * writing shard after shard reuses warm memory instead of a fresh buffer per inner chunk and
 * another per shard, whose page faults cost more than the copy.
 */
export class ShardAssembler {
  readonly index: ShardIndex;
  private buffer: Uint8Array;
  private end: number;
  private present = 0;
  private done = false;

  constructor(
    count: number,
    private readonly indexSize: number,
    private readonly indexLocation: IndexLocation,
    private readonly encodeIndex: (index: ShardIndex) => Uint8Array,
    sizeHint: number,
    /** `sizeHint` is the exact data size: a buffer of its own, of the shard's size, not the thread's. */
    private readonly exact = false,
  ) {
    this.index = new ShardIndex(count);
    const want = sizeHint + indexSize;
    if (exact) {
      this.buffer = new Uint8Array(want);
      this.done = true; // nothing to give back
    } else {
      const spare = spareAssembly;
      spareAssembly = undefined;
      this.buffer = spare && spare.byteLength >= Math.min(want, SPARE_ASSEMBLY_LIMIT) ? spare : new Uint8Array(want);
    }
    this.end = indexLocation === "start" ? indexSize : 0;
  }

  /** True while no inner chunk has been added. */
  get empty(): boolean {
    return this.present === 0;
  }

  /** Appends inner chunk `i` (copied: `bytes` may be scratch memory). */
  add(i: number, bytes: Uint8Array): void {
    const need = this.end + bytes.byteLength + (this.indexLocation === "end" ? this.indexSize : 0);
    if (need > this.buffer.byteLength) {
      const grown = new Uint8Array(Math.max(need, this.buffer.byteLength * 2));
      grown.set(this.buffer.subarray(0, this.end));
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.end);
    this.index.set(i, this.end, bytes.byteLength);
    this.end += bytes.byteLength;
    this.present++;
  }

  /**
   * The shard's bytes. With `transient`, a view of the thread's buffer, valid until the next
   * shard is assembled on this thread (for callers that store it at once); otherwise a copy.
   */
  finish(transient: boolean): Uint8Array {
    const indexBytes = this.encodeIndex(this.index);
    const at = this.indexLocation === "start" ? 0 : this.end;
    this.buffer.set(indexBytes, at);
    const total = this.indexLocation === "start" ? this.end : this.end + this.indexSize;
    const out = transient || (this.exact && total === this.buffer.byteLength) ? this.buffer.subarray(0, total) : this.buffer.slice(0, total);
    this.release();
    return out;
  }

  /** Gives the buffer back to the thread without a result (nothing to store, or a failure). */
  release(): void {
    if (this.done) return;
    this.done = true;
    if (this.buffer.byteLength <= SPARE_ASSEMBLY_LIMIT && (!spareAssembly || spareAssembly.byteLength < this.buffer.byteLength)) spareAssembly = this.buffer;
  }
}
