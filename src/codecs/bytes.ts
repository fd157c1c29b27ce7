/** `bytes`: the array → bytes serializer, little- or big-endian. */
import { DATA_TYPES, bytesOf, product, viewAs, type Endian } from "../dtype.js";
import { CodecError } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class BytesCodec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  readonly name = "bytes";

  constructor(readonly endian: Endian | undefined) {}

  private swapWidth(spec: { dataType: NdArray["dtype"] }): number {
    const { itemsize, slots } = DATA_TYPES[spec.dataType];
    const width = itemsize / slots;
    const needsSwap = width > 1 && (this.endian === "big") === HOST_LITTLE_ENDIAN;
    return needsSwap ? width : 1;
  }

  encode(array: NdArray): Uint8Array {
    const bytes = bytesOf(array.data);
    const width = this.swapWidth({ dataType: array.dtype });
    return width > 1 ? byteswap(bytes, width) : bytes;
  }

  decode(bytes: Uint8Array, spec: ChunkSpec): NdArray {
    const { itemsize } = DATA_TYPES[spec.dataType];
    const expected = product(spec.shape) * itemsize;
    if (bytes.byteLength !== expected) {
      throw new CodecError(`chunk decodes to ${bytes.byteLength} bytes, expected ${expected} (shape [${spec.shape}], ${spec.dataType})`);
    }
    const width = this.swapWidth(spec);
    let aligned: Uint8Array;
    if (width > 1) aligned = byteswap(bytes, width);
    else if (bytes.byteOffset % (DATA_TYPES[spec.dataType].itemsize / DATA_TYPES[spec.dataType].slots) !== 0) aligned = bytes.slice();
    else aligned = bytes;
    return { data: viewAs(spec.dataType, aligned), shape: spec.shape, dtype: spec.dataType };
  }

  fixedEncodedSize(spec: ChunkSpec): number {
    return product(spec.shape) * DATA_TYPES[spec.dataType].itemsize;
  }

  toJSON(): CodecMetadata {
    return this.endian === undefined ? { name: "bytes" } : { name: "bytes", configuration: { endian: this.endian } };
  }
}

/** A new buffer holding `bytes` with every `width`-byte word reversed. */
export function byteswap(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  const n = bytes.byteLength;
  if (width === 2) {
    for (let i = 0; i < n; i += 2) {
      out[i] = bytes[i + 1];
      out[i + 1] = bytes[i];
    }
    return out;
  }
  for (let i = 0; i < n; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j];
  }
  return out;
}

registerCodec("bytes", (configuration, input, context) => {
  const config = new ConfigReader("bytes", configuration, context, ["endian"]);
  const multiByte = DATA_TYPES[input.dataType].itemsize / DATA_TYPES[input.dataType].slots > 1;
  const endian = config.has("endian") ? config.oneOf<Endian>("endian", ["little", "big"], undefined) : undefined;
  if (multiByte && endian === undefined) config.fail(`"endian" is required for data type ${input.dataType}`);
  return new BytesCodec(endian);
});
