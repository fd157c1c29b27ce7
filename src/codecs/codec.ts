/**
 * The codec contract. A codec is plain code plus JSON configuration, with no closures over
 * main-thread state, so the same chain can be rebuilt inside a worker from its JSON.
 *
 * Codecs declare what the planner needs (fixed encoded size, whether partial IO is possible)
 * so the engine plans from declarations rather than instanceof checks.
 *
 * encode/decode are synchronous for every codec backed by native code or plain JS. Codecs
 * wrapping a library that only offers a Promise API (numcodecs' WASM blosc and lz4) return a
 * Promise; the chain awaits only when a codec actually returns one.
 */
import type { DataType, Scalar } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ErrorContext } from "../errors.js";

export type MaybePromise<T> = T | Promise<T>;

/** The JSON form of a codec, as in zarr.json's `codecs` list. */
export interface CodecMetadata {
  name: string;
  configuration?: Record<string, unknown>;
}

/** What a codec sees on its array side: the chunk's shape, data type and fill value. */
export interface ChunkSpec {
  shape: number[];
  dataType: DataType;
  fillValue: Scalar;
}

/** Passed to decode so codecs can bound their work (decompression bombs) and name the key. */
export interface DecodeContext {
  /** Exact decoded size in bytes when the chain knows it, else undefined. */
  expectedSize?: number;
  /**
   * A buffer of exactly `expectedSize` bytes the codec may decode into and return, instead of
   * allocating. Lent by the caller for this call only (a per-thread scratch buffer): fresh
   * megabyte buffers cost page faults on every chunk. Codecs that cannot use it ignore it, and
   * so does a decode that returns a Promise: other decodes on the thread may be lent the same
   * buffer before it settles.
   */
  into?: Uint8Array;
}

interface CodecBase {
  readonly name: string;
  /** The configuration as written back to metadata. */
  toJSON(): CodecMetadata;
}

export interface ArrayToArrayCodec extends CodecBase {
  readonly kind: "array_to_array";
  /** The spec this codec produces from its input spec. */
  resolveSpec(input: ChunkSpec): ChunkSpec;
  encode(array: NdArray): NdArray;
  /** `spec` is the decoded (input-side) spec. */
  decode(array: NdArray, spec: ChunkSpec): NdArray;
}

export interface ArrayToBytesCodec extends CodecBase {
  readonly kind: "array_to_bytes";
  /** `writeEmptyChunks` reaches codecs that store sub-chunks (sharding). */
  encode(array: NdArray, options?: { writeEmptyChunks?: boolean }): MaybePromise<Uint8Array>;
  decode(bytes: Uint8Array, spec: ChunkSpec): MaybePromise<NdArray>;
  /** Encoded size for this spec when it does not depend on the data, else null. */
  fixedEncodedSize(spec: ChunkSpec): number | null;
}

export interface BytesToBytesCodec extends CodecBase {
  readonly kind: "bytes_to_bytes";
  /**
   * With `transient`, the result may be a view of per-thread scratch memory, valid until the
   * next encode on this thread: for callers that store it at once (a pool worker's setSync).
   */
  encode(bytes: Uint8Array, context?: { transient?: boolean }): MaybePromise<Uint8Array>;
  decode(bytes: Uint8Array, context: DecodeContext): MaybePromise<Uint8Array>;
  /** Encoded size given a fixed input size (null input → null), or null when data-dependent. */
  fixedEncodedSize(inputSize: number | null): number | null;
}

export type Codec = ArrayToArrayCodec | ArrayToBytesCodec | BytesToBytesCodec;

/**
 * Builds a codec from its configuration and the spec of the array it receives.
 * Throws MetadataError for an invalid configuration.
 */
export type CodecFactory = (configuration: Record<string, unknown>, input: ChunkSpec, context: ErrorContext) => Codec;
