/**
 * `numcodecs.packbits` (v2 filter `packbits`): bool data packed eight to a byte, most
 * significant bit first, after one leading byte that counts the padding bits in the last byte.
 * A chunk of n bools becomes a uint8 array of 1 + ceil(n / 8).
 */
import { product } from "../dtype.js";
import { CodecError } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

export class PackBitsCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.packbits";

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { shape: [1 + Math.ceil(product(input.shape) / 8)], dataType: "uint8", fillValue: 0 };
  }

  encode(array: NdArray): NdArray {
    const bits = array.data as Uint8Array;
    const n = bits.length;
    const out = new Uint8Array(1 + Math.ceil(n / 8));
    out[0] = (8 - (n % 8)) % 8;
    for (let i = 0; i < n; i++) if (bits[i]) out[1 + (i >> 3)] |= 0x80 >> (i & 7);
    return { data: out, shape: [out.length], dtype: "uint8" };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    const packed = array.data as Uint8Array;
    const n = product(spec.shape);
    if (packed.length !== 1 + Math.ceil(n / 8) || packed[0] !== (8 - (n % 8)) % 8) {
      throw new CodecError(`packbits: ${packed.length} bytes with ${packed[0]} padding bits do not hold ${n} values`);
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (packed[1 + (i >> 3)] >> (7 - (i & 7))) & 1;
    return { data: out, shape: spec.shape, dtype: spec.dataType };
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: {} };
  }
}

registerCodec("numcodecs.packbits", (configuration, input, context) => {
  const config = new ConfigReader("numcodecs.packbits", configuration, context, []);
  if (input.dataType !== "bool") config.fail(`only bool data can be packed, not ${input.dataType}`);
  return new PackBitsCodec();
});
