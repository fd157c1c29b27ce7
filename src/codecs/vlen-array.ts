/**
 * numcodecs VLenArray (v2 filter `vlen-array`): a chunk whose elements are 1-d numeric arrays
 * of varying length, framed (see vlen.ts); each item holds its array's bytes in `dtype`.
 */
import { CodecError } from "../errors.js";
import { DATA_TYPES, parseV2DataType, product, toV2DataType, viewAs, type DataType, type Endian, type TypedArray } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { byteswap } from "./bytes.js";
import { registerCodec } from "./registry.js";
import { readFramed, writeFramed } from "./vlen.js";

export class VlenArrayCodec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  readonly name = "numcodecs.vlen-array";

  constructor(
    readonly element: DataType,
    readonly endian: Endian,
  ) {}

  private get width(): number {
    const { itemsize, slots } = DATA_TYPES[this.element];
    return this.endian === "big" && itemsize / slots > 1 ? itemsize / slots : 1;
  }

  encode(array: NdArray): Uint8Array {
    const values = array.data as unknown as unknown[];
    const ctor = DATA_TYPES[this.element].ctor;
    const items = values.map((v, i) => {
      if (!(v instanceof ctor)) throw new CodecError(`vlen-array: element ${i} is not a ${ctor.name}`);
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      return this.width > 1 ? byteswap(bytes, this.width) : bytes;
    });
    return writeFramed(items);
  }

  decode(bytes: Uint8Array, spec: ChunkSpec): NdArray {
    const { itemsize } = DATA_TYPES[this.element];
    const out = readFramed(bytes, product(spec.shape)).map((item, i): TypedArray => {
      if (item.byteLength % itemsize !== 0) throw new CodecError(`vlen-array: item ${i} has ${item.byteLength} bytes, not a whole number of ${this.element}`);
      return viewAs(this.element, this.width > 1 ? byteswap(item, this.width) : item);
    });
    return { data: out as never, shape: spec.shape, dtype: spec.dataType };
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { dtype: toV2DataType(this.element, this.endian) } };
  }
}

registerCodec("numcodecs.vlen-array", (configuration, input, context) => {
  const config = new ConfigReader("vlen-array", configuration, context, ["dtype"]);
  const element = DATA_TYPES[input.dataType].element;
  if (!element) config.fail(`encodes vlen_array data types, not ${input.dataType}`);
  const { dataType, endian } = parseV2DataType(config.raw("dtype"), context);
  if (dataType !== element!.name) config.fail(`dtype ${JSON.stringify(config.raw("dtype"))} does not match the array's ${input.dataType}`);
  return new VlenArrayCodec(dataType, endian);
});
