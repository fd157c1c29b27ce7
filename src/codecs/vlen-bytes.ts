/** `vlen-bytes` (v3) / numcodecs VLenBytes (v2 filter): a chunk of byte strings, framed (see vlen.ts). */
import { CodecError } from "../errors.js";
import { product } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";
import { readFramed, writeFramed } from "./vlen.js";

export class VlenBytesCodec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  readonly name = "vlen-bytes";

  encode(array: NdArray): Uint8Array {
    const values = array.data as unknown as unknown[];
    for (let i = 0; i < values.length; i++) {
      if (!(values[i] instanceof Uint8Array)) throw new CodecError(`vlen-bytes: element ${i} is not a Uint8Array`);
    }
    return writeFramed(values as Uint8Array[]);
  }

  decode(bytes: Uint8Array, spec: ChunkSpec): NdArray {
    // Copies, not views: a view would pin the whole fetched buffer (a shard, say) for each value.
    const out = readFramed(bytes, product(spec.shape));
    return { data: out as never, shape: spec.shape, dtype: spec.dataType };
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: {} };
  }
}

registerCodec(["vlen-bytes", "numcodecs.vlen-bytes"], (configuration, input, context) => {
  const config = new ConfigReader("vlen-bytes", configuration, context, []);
  if (input.dataType !== "variable_length_bytes") config.fail(`encodes the variable_length_bytes data type, not ${input.dataType}`);
  return new VlenBytesCodec();
});
