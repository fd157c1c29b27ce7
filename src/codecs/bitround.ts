/**
 * `numcodecs.bitround` (v2 filter `bitround`): keeps the `keepbits` leading mantissa bits of
 * each float, rounding half to even on the bit pattern, so the rest compresses away. Reading
 * is the identity: the stored values are the rounded floats.
 */
import { DATA_TYPES } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

const MANTISSA_BITS: Record<number, number> = { 2: 10, 4: 23, 8: 52 };

export class BitRoundCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.bitround";

  constructor(readonly keepbits: number) {}

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return input;
  }

  encode(array: NdArray): NdArray {
    const { itemsize } = DATA_TYPES[array.dtype];
    const drop = MANTISSA_BITS[itemsize] - this.keepbits;
    if (drop <= 0) return array;
    const data = array.data.slice();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (itemsize === 8) {
      const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, data.byteLength / 8);
      const d = BigInt(drop);
      const mask = BigInt.asUintN(64, -1n << d);
      const half = (1n << (d - 1n)) - 1n;
      for (let i = 0; i < words.length; i++) {
        const b = words[i];
        words[i] = BigInt.asUintN(64, b + ((b >> d) & 1n) + half) & mask;
      }
    } else {
      // Unsigned 32-bit arithmetic equals NumPy's wrapping signed arithmetic modulo 2^32.
      const words = itemsize === 4 ? new Uint32Array(bytes.buffer, bytes.byteOffset, data.byteLength / 4) : new Uint16Array(bytes.buffer, bytes.byteOffset, data.byteLength / 2);
      const width = itemsize * 8;
      const fullMask = width === 32 ? (-1 << drop) >>> 0 : (0xffff << drop) & 0xffff;
      const half = (1 << (drop - 1)) - 1;
      for (let i = 0; i < words.length; i++) {
        const b = words[i];
        words[i] = ((b + ((b >>> drop) & 1) + half) & fullMask) >>> 0;
      }
    }
    return { data, shape: array.shape, dtype: array.dtype };
  }

  decode(array: NdArray): NdArray {
    return array;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { keepbits: this.keepbits } };
  }
}

registerCodec("numcodecs.bitround", (configuration, input, context) => {
  const config = new ConfigReader("numcodecs.bitround", configuration, context, ["keepbits"]);
  const { kind, itemsize } = DATA_TYPES[input.dataType] ?? {};
  if (kind !== "f") config.fail(`only float data can be bit-rounded, not ${input.dataType}`);
  return new BitRoundCodec(config.integer("keepbits", undefined, 0, MANTISSA_BITS[itemsize]));
});
