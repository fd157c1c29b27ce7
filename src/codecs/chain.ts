/**
 * A codec chain: array→array*, exactly one array→bytes, bytes→bytes* — in that order
 * (anything else is a MetadataError). Decoding runs the chain backwards. Errors from inside a
 * codec come out as CodecError/ChecksumError naming the array path and the chunk key.
 */
import { DATA_TYPES, product } from "../dtype.js";
import { CodecError, MetadataError, ZarrflowError, type ErrorContext } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type {
  ArrayToArrayCodec,
  ArrayToBytesCodec,
  BytesToBytesCodec,
  ChunkSpec,
  Codec,
  CodecMetadata,
  MaybePromise,
} from "./codec.js";
import { getCodecFactory } from "./registry.js";
import { MAX_BUFFER_BYTES } from "../selection.js";
import { stringifyJSON } from "../json.js";

export class CodecChain {
  readonly arrayToArray: ArrayToArrayCodec[] = [];
  readonly arrayToBytes: ArrayToBytesCodec;
  readonly bytesToBytes: BytesToBytesCodec[] = [];
  /** specs[i] is the input spec of arrayToArray[i]; the last entry is the array→bytes input. */
  private readonly specs: ChunkSpec[];
  /** byteSizes[i] is the fixed input size of bytesToBytes[i] (null when data-dependent). */
  private readonly byteSizes: (number | null)[];
  private readonly path: string | undefined;

  constructor(readonly spec: ChunkSpec, codecs: readonly CodecMetadata[], context: ErrorContext = {}) {
    this.path = context.path;
    if (!Array.isArray(codecs) || codecs.length === 0) {
      throw new MetadataError("codecs must be a non-empty list", context);
    }
    let current = spec;
    this.specs = [spec];
    let arrayToBytes: ArrayToBytesCodec | undefined;
    for (const entry of codecs) {
      const { name, configuration } = normalizeCodecMetadata(entry, context);
      const codec: Codec = getCodecFactory(name, context)(configuration ?? {}, current, context);
      if (codec.kind === "array_to_array") {
        if (arrayToBytes) throw new MetadataError(`codec "${name}" (array → array) cannot follow an array → bytes codec`, context);
        this.arrayToArray.push(codec);
        current = codec.resolveSpec(current);
        this.specs.push(current);
      } else if (codec.kind === "array_to_bytes") {
        if (arrayToBytes) throw new MetadataError(`codec "${name}": only one array → bytes codec is allowed`, context);
        arrayToBytes = codec;
      } else {
        if (!arrayToBytes) throw new MetadataError(`codec "${name}" (bytes → bytes) must follow an array → bytes codec`, context);
        this.bytesToBytes.push(codec);
      }
    }
    if (!arrayToBytes) throw new MetadataError("codecs must include an array → bytes codec (such as \"bytes\")", context);
    this.arrayToBytes = arrayToBytes;
    // Every codec here works on whole chunks in one buffer, except a lone sharding codec (which
    // works inner chunk by inner chunk, and checks those): refuse chunks no buffer can hold now,
    // rather than fail to allocate on the first read — or on the first write.
    const piecewise = arrayToBytes.name === "sharding_indexed" && this.arrayToArray.length === 0 && this.bytesToBytes.length === 0;
    const chunkBytes = product(spec.shape) * DATA_TYPES[spec.dataType].itemsize;
    if (!piecewise && chunkBytes > MAX_BUFFER_BYTES) {
      throw new MetadataError(`chunks of shape [${spec.shape}] (${spec.dataType}) are ${chunkBytes} bytes, more than the ${MAX_BUFFER_BYTES} one buffer can hold`, context);
    }
    this.byteSizes = [];
    let size = arrayToBytes.fixedEncodedSize(current);
    for (const codec of this.bytesToBytes) {
      this.byteSizes.push(size);
      size = codec.fixedEncodedSize(size);
    }
    this.encodedSize = size;
  }

  /** The encoded size of every chunk when it does not depend on the data (no compression), else null. */
  readonly encodedSize: number | null;

  /** The spec the array→bytes codec sees. */
  get innerSpec(): ChunkSpec {
    return this.specs[this.specs.length - 1];
  }

  toJSON(): CodecMetadata[] {
    return [...this.arrayToArray, this.arrayToBytes, ...this.bytesToBytes].map((c) => c.toJSON());
  }

  /**
   * Decodes one stored chunk into a C-order array of `spec.shape`.
   *
   * With `transient`, the result may be a view of a per-thread scratch buffer that the next
   * transient decode on this thread overwrites: for callers that copy the chunk out at once
   * (decodeInto). It is used only where that is safe by construction: a single bytes→bytes
   * codec (so its step runs first, before anything can go asynchronous) feeding the plain
   * "bytes" codec (which does not hand the buffer to nested chains, as sharding would).
   * With `into` (under the same conditions, and when it is exactly the decoded size), the chunk
   * is decoded there instead: the result is then a view of `into`.
   */
  decode(bytes: Uint8Array, key?: string, options: { transient?: boolean; into?: Uint8Array } = {}): MaybePromise<NdArray> {
    const steps: Step[] = [];
    const lend = (options.transient === true || options.into !== undefined) && this.bytesToBytes.length === 1 && this.arrayToBytes.name === "bytes";
    for (let i = this.bytesToBytes.length - 1; i >= 0; i--) {
      const codec = this.bytesToBytes[i];
      const expectedSize = this.byteSizes[i] ?? undefined;
      const lendScratch = lend && expectedSize !== undefined;
      // `into` (the caller's own memory, e.g. the chunk's place in a read's output) when it fits,
      // else the scratch buffer — taken inside the step, where a failure to grow it is a
      // CodecError like any other.
      const target = (size: number) => (options.into?.byteLength === size ? options.into : options.transient ? scratch(size) : undefined);
      steps.push((b) => codec.decode(b as Uint8Array, lendScratch ? { expectedSize, into: target(expectedSize as number) } : { expectedSize }));
    }
    steps.push((b) => this.arrayToBytes.decode(b as Uint8Array, this.innerSpec));
    for (let i = this.arrayToArray.length - 1; i >= 0; i--) {
      const codec = this.arrayToArray[i];
      const spec = this.specs[i];
      steps.push((a) => codec.decode(a as NdArray, spec));
    }
    return run(bytes, steps, (error) => this.wrap(error, "decode", key)) as MaybePromise<NdArray>;
  }

  /**
   * Encodes a C-order array of `spec.shape` into stored bytes. With `transient`, the result may
   * live in the last codec's scratch memory until the next encode on this thread (see
   * BytesToBytesCodec.encode): for callers that store it at once.
   */
  encode(array: NdArray, key?: string, options: { writeEmptyChunks?: boolean; transient?: boolean } = {}): MaybePromise<Uint8Array> {
    if (array.dtype !== this.spec.dataType || product(array.shape) !== product(this.spec.shape)) {
      throw new CodecError(`cannot encode a ${array.dtype} array of shape [${array.shape}] with a chain for ${this.spec.dataType} [${this.spec.shape}]`, { path: this.path, key });
    }
    const steps: Step[] = [];
    for (const codec of this.arrayToArray) steps.push((a) => codec.encode(a as NdArray));
    steps.push((a) => this.arrayToBytes.encode(a as NdArray, options));
    const last = this.bytesToBytes.length - 1;
    this.bytesToBytes.forEach((codec, i) => steps.push((b) => codec.encode(b as Uint8Array, i === last && options.transient ? { transient: true } : undefined)));
    return run(array, steps, (error) => this.wrap(error, "encode", key)) as MaybePromise<Uint8Array>;
  }

  /** Bytes per element of the decoded array. */
  get itemsize(): number {
    return DATA_TYPES[this.spec.dataType].itemsize;
  }

  private wrap(error: unknown, what: "decode" | "encode", key: string | undefined): Error {
    const context = { path: this.path, key, cause: error };
    if (error instanceof CodecError && error.key === undefined) {
      // Re-raise the same class, now naming the array and key.
      const Ctor = error.constructor as new (message: string, context: ErrorContext) => CodecError;
      return new Ctor(error.detail, context);
    }
    if (error instanceof ZarrflowError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new CodecError(`failed to ${what} chunk: ${message}`, context);
  }
}

type Step = (value: unknown) => unknown;

let scratchBuffer = new Uint8Array(0);

/** This thread's scratch buffer, `size` bytes of it (grown, never shrunk: chunk sizes repeat). */
function scratch(size: number): Uint8Array {
  if (scratchBuffer.byteLength < size) scratchBuffer = new Uint8Array(size);
  return scratchBuffer.subarray(0, size);
}

/** Runs steps synchronously until one returns a Promise, then continues asynchronously. */
function run(value: unknown, steps: Step[], onError: (error: unknown) => Error): unknown {
  let i = 0;
  try {
    for (; i < steps.length; i++) {
      value = steps[i](value);
      if (value instanceof Promise) {
        const rest = steps.slice(i + 1);
        return value.then(
          async (v) => {
            let current: unknown = v;
            for (const step of rest) current = await step(current);
            return current;
          },
        ).catch((error: unknown) => {
          throw onError(error);
        });
      }
    }
  } catch (error) {
    throw onError(error);
  }
  return value;
}

/** Accepts `{name, configuration}` objects and bare names ("crc32c") as the v3 spec allows. */
export function normalizeCodecMetadata(entry: unknown, context: ErrorContext): CodecMetadata {
  if (typeof entry === "string") return { name: entry };
  if (typeof entry === "object" && entry !== null && typeof (entry as CodecMetadata).name === "string") {
    const { name, configuration } = entry as CodecMetadata;
    if (configuration !== undefined && (typeof configuration !== "object" || configuration === null || Array.isArray(configuration))) {
      throw new MetadataError(`codec "${name}": configuration must be an object`, context);
    }
    return configuration === undefined ? { name } : { name, configuration };
  }
  throw new MetadataError(`invalid codec entry ${stringifyJSON(entry)}`, context);
}
