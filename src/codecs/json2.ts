/**
 * numcodecs JSON (v2 object filter `json2`): a chunk as one JSON document, the values in C order
 * followed by the NumPy dtype and the shape (`["a","b","|O",[2]]`). zarrflow reads and writes it
 * for string arrays; other JSON values have no zarrflow data type and are a CodecError.
 */
import { CodecError } from "../errors.js";
import { product } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

export class Json2Codec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  readonly name = "numcodecs.json2";

  constructor(private readonly config: Record<string, unknown>) {}

  encode(array: NdArray): Uint8Array {
    const values = array.data as unknown as unknown[];
    // ensure_ascii as numcodecs' default: non-ASCII as \u escapes.
    const text = JSON.stringify([...values, "|O", array.shape]).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    return encoder.encode(text);
  }

  decode(bytes: Uint8Array, spec: ChunkSpec): NdArray {
    let items: unknown;
    try {
      items = JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new CodecError(`json2: chunk is not valid JSON: ${(error as Error).message}`);
    }
    const count = product(spec.shape);
    if (!Array.isArray(items) || items.length !== count + 2) throw new CodecError(`json2: chunk does not hold ${count} values, a dtype and a shape`);
    const shape = items[count + 1];
    if (!Array.isArray(shape) || product(shape as number[]) !== count) throw new CodecError(`json2: chunk shape ${JSON.stringify(shape)} does not match [${spec.shape}]`);
    const values = items.slice(0, count);
    const bad = values.findIndex((v) => typeof v !== "string");
    if (bad >= 0) throw new CodecError(`json2: value ${bad} is ${JSON.stringify(values[bad])}, not a string (only string arrays are supported)`);
    return { data: values as never, shape: spec.shape, dtype: spec.dataType };
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: this.config };
  }
}

registerCodec("numcodecs.json2", (configuration, input, context) => {
  const keys = ["allow_nan", "check_circular", "encoding", "ensure_ascii", "indent", "separators", "skipkeys", "sort_keys", "strict"];
  const config = new ConfigReader("json2", configuration, context, keys);
  if (input.dataType !== "string") config.fail(`zarrflow reads json2 for string arrays, not ${input.dataType}`);
  if (config.has("encoding") && config.raw("encoding") !== "utf-8") config.fail(`"encoding" must be "utf-8"`);
  return new Json2Codec({ ...configuration });
});
