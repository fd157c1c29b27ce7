/** `vlen-utf8` (v3) / numcodecs VLenUTF8 (v2 filter): a chunk of strings, framed (see vlen.ts). */
import { CodecError } from "../errors.js";
import { product } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";
import { scanFramed, writeFramed } from "./vlen.js";

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is corrupt data, not something to paper over with U+FFFD.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decodes a framed chunk of UTF-8 strings with one TextDecoder call: the items' bytes are
 * gathered into one buffer, decoded at once, and the result cut into the items. A decoder call
 * per item costs about a microsecond of overhead, which is most of the time on the short strings
 * typical of coordinates and labels (see bench/strings.ts).
 *
 * Validity is per item: the whole is valid UTF-8 and no item starts with a continuation byte,
 * so every item boundary is a character boundary and each item is valid on its own.
 */
function decodeStrings(bytes: Uint8Array, count: number): string[] {
  const { starts, lengths, total } = scanFramed(bytes, count);
  const joined = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const n = lengths[i];
    if (n === 0) continue;
    const s = starts[i];
    if ((bytes[s] & 0xc0) === 0x80) throw new CodecError(`vlen-utf8: item ${i} is not valid UTF-8`);
    if (n < 16) for (let j = 0; j < n; j++) joined[at + j] = bytes[s + j];
    else joined.set(bytes.subarray(s, s + n), at);
    at += n;
  }
  let text: string;
  try {
    text = decoder.decode(joined);
  } catch {
    throw new CodecError(`vlen-utf8: ${count === 1 ? "item 0" : "an item"} is not valid UTF-8`);
  }
  const out = new Array<string>(count);
  if (text.length === total) {
    // All ASCII: byte offsets are string offsets.
    for (let i = 0, p = 0; i < count; i++) {
      out[i] = text.slice(p, p + lengths[i]);
      p += lengths[i];
    }
    return out;
  }
  // Otherwise count UTF-16 units per item: one per lead byte, two for 4-byte sequences.
  let p = 0;
  let b = 0;
  for (let i = 0; i < count; i++) {
    let units = 0;
    for (const end = b + lengths[i]; b < end; b++) {
      const x = joined[b];
      if ((x & 0xc0) !== 0x80) units += x >= 0xf0 ? 2 : 1;
    }
    out[i] = text.slice(p, p + units);
    p += units;
  }
  return out;
}

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
    const out = decodeStrings(bytes, product(spec.shape));
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
