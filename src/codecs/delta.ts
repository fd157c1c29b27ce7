/**
 * `numcodecs.delta` (v2 filter `delta`): stores the first element, then each difference from the
 * previous one (in `dtype`, wrapping as NumPy integers do), cast to `astype`. Decoding is the
 * running sum, accumulated in `dtype`. The chunk is treated as one flat C-order sequence.
 */
import { DATA_TYPES, HAS_FLOAT16_ARRAY, allocate, fromFloat16Bits, toFloat16Bits, type DataType } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { castScalar, castTyped, isRealType, numpyType, numpyTypestring, toFloat64 } from "./numeric.js";
import { registerCodec } from "./registry.js";

export class DeltaCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.delta";

  constructor(
    readonly dtype: DataType,
    readonly astype: DataType,
  ) {}

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { ...input, dataType: this.astype, fillValue: castScalar(input.fillValue, input.dataType, this.astype) };
  }

  encode(array: NdArray): NdArray {
    const src = array.data;
    const diff = allocate(this.dtype, src.length);
    if (diff instanceof BigInt64Array || diff instanceof BigUint64Array) {
      const s = src as BigInt64Array;
      const d = diff as BigInt64Array;
      let previous = 0n;
      for (let i = 0; i < s.length; i++) {
        d[i] = s[i] - previous; // the typed array wraps it to 64 bits
        previous = s[i];
      }
    } else if (this.dtype === "float16" && !HAS_FLOAT16_ARRAY) {
      // float16 as raw bits: subtract the values, rounding each difference to half precision.
      const s = toFloat64(src, this.dtype);
      for (let i = 0; i < s.length; i++) diff[i] = toFloat16Bits(s[i] - (i ? s[i - 1] : 0));
    } else {
      // Typed-array stores wrap integer differences and round float32 ones, as NumPy's diff does.
      const s = src as Float64Array;
      const d = diff as Float64Array;
      let previous = 0;
      for (let i = 0; i < s.length; i++) {
        d[i] = s[i] - previous;
        previous = s[i];
      }
    }
    return { data: this.astype === this.dtype ? diff : castTyped(diff, this.dtype, this.astype), shape: array.shape, dtype: this.astype };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    const enc = this.astype === this.dtype ? array.data : castTyped(array.data, this.astype, this.dtype);
    const out = allocate(this.dtype, enc.length);
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
      const e = enc as BigInt64Array;
      const o = out as BigInt64Array;
      let sum = 0n;
      for (let i = 0; i < e.length; i++) {
        sum = BigInt.asIntN(64, sum + e[i]);
        o[i] = sum;
      }
    } else if (this.dtype === "float16" && !HAS_FLOAT16_ARRAY) {
      const e = toFloat64(enc, this.dtype);
      let sum = 0;
      for (let i = 0; i < e.length; i++) {
        sum = fromFloat16Bits(toFloat16Bits(sum + e[i]));
        out[i] = toFloat16Bits(sum);
      }
    } else {
      const e = enc as Float64Array;
      const o = out as Float64Array;
      const cell = allocate(this.dtype, 1) as Float64Array;
      for (let i = 0; i < e.length; i++) {
        // The sum lives in a one-element array of `dtype`, so it wraps (or rounds) like NumPy's.
        cell[0] = (i === 0 ? 0 : cell[0]) + e[i];
        o[i] = cell[0];
      }
    }
    const data = this.dtype === spec.dataType ? out : castTyped(out, this.dtype, spec.dataType);
    return { data, shape: spec.shape, dtype: spec.dataType };
  }

  toJSON(): CodecMetadata {
    const configuration: Record<string, unknown> = { dtype: numpyTypestring(this.dtype) };
    if (this.astype !== this.dtype) configuration.astype = numpyTypestring(this.astype);
    return { name: this.name, configuration };
  }
}

registerCodec("numcodecs.delta", (configuration, input, context) => {
  const config = new ConfigReader("numcodecs.delta", configuration, context, ["dtype", "astype"]);
  const dtype = numpyType(config, "dtype", input.dataType).dataType;
  const astype = numpyType(config, "astype", dtype).dataType;
  if (!isRealType(input.dataType)) config.fail(`works on integer and float data, not ${input.dataType}`);
  if (dtype === "bool" || astype === "bool") config.fail(`cannot take differences of bool`);
  if (DATA_TYPES[dtype].itemsize !== DATA_TYPES[input.dataType].itemsize || DATA_TYPES[dtype].kind !== DATA_TYPES[input.dataType].kind) {
    config.fail(`"dtype" ${numpyTypestring(dtype)} does not match the data it receives (${input.dataType})`);
  }
  return new DeltaCodec(dtype, astype);
});
