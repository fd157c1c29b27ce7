/** `bytes`: the array → bytes serializer, little- or big-endian. */
import { DATA_TYPES, bytesOf, product, viewAs, type DataType, type Endian } from "../dtype.js";
import { CodecError } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToBytesCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class BytesCodec implements ArrayToBytesCodec {
  readonly kind = "array_to_bytes";
  readonly name = "bytes";

  /**
   * `fieldEndians` (v2 structured dtypes only, whose fields may each have their own byte
   * order): per struct field, the stored byte order; `endian` then does not apply.
   */
  constructor(
    readonly endian: Endian | undefined,
    readonly fieldEndians?: readonly Endian[],
  ) {}

  /** Where each element's bytes are reversed: [offset, width] pairs inside one element, or null for none. */
  private swapPlan(dataType: DataType): [number, number][] | null {
    const info = DATA_TYPES[dataType];
    const plan: [number, number][] = [];
    if (info.fields && info.fieldWidths) {
      let at = 0;
      let word = 0;
      info.fields.forEach((field, f) => {
        const big = (this.fieldEndians?.[f] ?? this.endian) === "big";
        for (const end = at + field.itemsize; at < end; word++) {
          const width = info.fieldWidths![word];
          if (big === HOST_LITTLE_ENDIAN && width > 1) plan.push([at, width]);
          at += width;
        }
      });
      return plan.length ? plan : null;
    }
    const width = info.swapWidth;
    return width > 1 && (this.endian === "big") === HOST_LITTLE_ENDIAN ? [[0, width]] : null;
  }

  private swap(bytes: Uint8Array, dataType: DataType, plan: [number, number][]): Uint8Array {
    const { itemsize } = DATA_TYPES[dataType];
    if (plan.length === 1 && plan[0][0] === 0 && itemsize % plan[0][1] === 0) return byteswap(bytes, plan[0][1]);
    const out = bytes.slice();
    for (let base = 0; base < out.byteLength; base += itemsize) {
      for (const [offset, width] of plan) out.subarray(base + offset, base + offset + width).reverse();
    }
    return out;
  }

  encode(array: NdArray): Uint8Array {
    const bytes = bytesOf(array.data);
    const plan = this.swapPlan(array.dtype);
    return plan ? this.swap(bytes, array.dtype, plan) : bytes;
  }

  decode(bytes: Uint8Array, spec: ChunkSpec): NdArray {
    const { itemsize, slots } = DATA_TYPES[spec.dataType];
    const expected = product(spec.shape) * itemsize;
    if (bytes.byteLength !== expected) {
      throw new CodecError(`chunk decodes to ${bytes.byteLength} bytes, expected ${expected} (shape [${spec.shape}], ${spec.dataType})`);
    }
    const plan = this.swapPlan(spec.dataType);
    let aligned: Uint8Array;
    if (plan) aligned = this.swap(bytes, spec.dataType, plan);
    else if (bytes.byteOffset % (itemsize / slots) !== 0) aligned = bytes.slice();
    else aligned = bytes;
    return { data: viewAs(spec.dataType, aligned), shape: spec.shape, dtype: spec.dataType };
  }

  fixedEncodedSize(spec: ChunkSpec): number {
    return product(spec.shape) * DATA_TYPES[spec.dataType].itemsize;
  }

  toJSON(): CodecMetadata {
    const configuration: Record<string, unknown> = {};
    if (this.endian !== undefined) configuration.endian = this.endian;
    if (this.fieldEndians) configuration.field_endians = [...this.fieldEndians];
    return Object.keys(configuration).length ? { name: "bytes", configuration } : { name: "bytes" };
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
  const config = new ConfigReader("bytes", configuration, context, ["endian", "field_endians"]);
  const info = DATA_TYPES[input.dataType];
  if (info.form === "object") config.fail(`data type ${input.dataType} has variable-length elements: use vlen-utf8 / vlen-bytes, not bytes`);
  const multiByte = info.swapWidth > 1 || (info.fieldWidths ?? []).some((w) => w > 1);
  const endian = config.has("endian") ? config.oneOf<Endian>("endian", ["little", "big"], undefined) : undefined;
  let fieldEndians: Endian[] | undefined;
  if (config.has("field_endians")) {
    const list = config.raw("field_endians");
    if (!info.fields || !Array.isArray(list) || list.length !== info.fields.length || !list.every((e) => e === "little" || e === "big")) {
      config.fail(`"field_endians" must list "little" or "big" for each field of a struct`);
    }
    fieldEndians = list as Endian[];
  }
  if (multiByte && endian === undefined && !fieldEndians) config.fail(`"endian" is required for data type ${input.dataType}`);
  return new BytesCodec(endian, fieldEndians);
});
