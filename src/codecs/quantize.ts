/**
 * `numcodecs.quantize` (v2 filter `quantize`): keeps `digits` decimal digits by rounding to a
 * power-of-two step (so the dropped bits compress away), then stores the result as `astype`.
 * Reading only casts back: the rounding happened when the data was written.
 */
import type { DataType } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { arithmeticOf, castScalar, castTyped, isFloatType, numpyType, numpyTypestring, roundHalfEven, toFloat64 } from "./numeric.js";
import { registerCodec } from "./registry.js";

export class QuantizeCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.quantize";
  private readonly scale: number;

  constructor(
    readonly digits: number,
    readonly dtype: DataType,
    readonly astype: DataType,
  ) {
    // numcodecs: the step is 2^-bits with bits = ceil(log2(10^-exponent)) of 10^-digits.
    const precision = 10 ** -digits;
    const raw = Math.log10(precision);
    const exponent = raw < 0 ? Math.floor(raw) : Math.ceil(raw);
    const bits = Math.ceil(Math.log2(10 ** -exponent));
    this.scale = 2 ** bits;
  }

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { ...input, dataType: this.astype, fillValue: castScalar(input.fillValue, input.dataType, this.astype) };
  }

  encode(array: NdArray): NdArray {
    const values = toFloat64(array.data, array.dtype);
    const { scale } = this;
    const rounded = castTyped(values, "float64", this.dtype) as Float64Array;
    // The product and quotient are computed in dtype (float32 data stays float32, as in NumPy).
    const narrow = arithmeticOf(this.dtype);
    for (let i = 0; i < rounded.length; i++) rounded[i] = narrow(roundHalfEven(narrow(scale * rounded[i])) / scale);
    return { data: castTyped(rounded, this.dtype, this.astype), shape: array.shape, dtype: this.astype };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    return { data: castTyped(array.data, this.astype, spec.dataType), shape: spec.shape, dtype: spec.dataType };
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { digits: this.digits, dtype: numpyTypestring(this.dtype), astype: numpyTypestring(this.astype) } };
  }
}

registerCodec("numcodecs.quantize", (configuration, input, context) => {
  const config = new ConfigReader("numcodecs.quantize", configuration, context, ["digits", "dtype", "astype"]);
  const digits = config.integer("digits", undefined, -300, 300);
  const dtype = numpyType(config, "dtype", input.dataType).dataType;
  const astype = numpyType(config, "astype", dtype).dataType;
  if (!isFloatType(dtype) || !isFloatType(astype) || !isFloatType(input.dataType)) {
    config.fail(`only float data can be quantized (dtype ${numpyTypestring(dtype)}, astype ${numpyTypestring(astype)}, data ${input.dataType})`);
  }
  return new QuantizeCodec(digits, dtype, astype);
});
