/** `vlen-utf8` (v3) / numcodecs VLenUTF8 (v2 filter): a chunk of strings, framed (see vlen.ts). */
import { CodecError } from "../errors.js";
import { product } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";
import { readFramed, writeFramed } from "./vlen.js";

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is corrupt data, not something to paper over with U+FFFD.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class VlenUtf8Codec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  constructor(readonly name: string) {}

  encode(array: NdArray): Uint8Array {
    const values = array.data as unknown as unknown[];
    const items = new Array<Uint8Array>(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "string") throw new CodecError(`vlen-utf8: element ${i} is ${v === null ? "null" : typeof v}, not a string`);
      items[i] = encoder.encode(v);
    }
    return writeFramed(items);
  }

  decode(bytes: Uint8Array, spec: ChunkSpec): NdArray {
    const items = readFramed(bytes, product(spec.shape));
    const out = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) {
      try {
        out[i] = decoder.decode(items[i]);
      } catch {
        throw new CodecError(`vlen-utf8: item ${i} is not valid UTF-8`);
      }
    }
    return { data: out as never, shape: spec.shape, dtype: spec.dataType };
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: {} };
  }
}

registerCodec(["vlen-utf8", "numcodecs.vlen-utf8"], (configuration, input, context) => {
  const config = new ConfigReader("vlen-utf8", configuration, context, []);
  if (input.dataType !== "string") config.fail(`encodes the string data type, not ${input.dataType}`);
  return new VlenUtf8Codec("vlen-utf8");
});
