/**
 * `numcodecs.fixedscaleoffset` (v2 filter `fixedscaleoffset`): stores
 * `round_half_even((x - offset) * scale)` as `astype`; reads `stored / scale + offset`, computed
 * in float64 (float32 when the stored type is float32, as NumPy promotes), cast to `dtype`.
 */
import type { DataType } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { arithmeticOf, castScalar, castTyped, isRealType, numpyType, numpyTypestring, roundHalfEven, toFloat64 } from "./numeric.js";
import { registerCodec } from "./registry.js";
import { stringifyJSON } from "../json.js";

export class FixedScaleOffsetCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.fixedscaleoffset";

  constructor(
    readonly offset: number,
    readonly scale: number,
    readonly dtype: DataType,
    readonly astype: DataType,
  ) {}

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { ...input, dataType: this.astype, fillValue: this.encodeValue(input.fillValue as number) };
  }

  private encodeValue(x: number): number | bigint {
    const narrow = arithmeticOf(this.dtype);
    return castScalar(roundHalfEven(narrow(narrow(Number(x) - this.offset) * this.scale)), "float64", this.astype) as number | bigint;
  }

  encode(array: NdArray): NdArray {
    const values = toFloat64(castTyped(array.data, array.dtype, this.dtype), this.dtype);
    const narrow = arithmeticOf(this.dtype);
    const { offset, scale } = this;
    for (let i = 0; i < values.length; i++) values[i] = roundHalfEven(narrow(narrow(values[i] - offset) * scale));
    return { data: castTyped(values, "float64", this.astype), shape: array.shape, dtype: this.astype };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    const values = toFloat64(array.data, this.astype);
    // Integers divided by a Python float give float64; float32 stored data stays float32.
    const narrow = arithmeticOf(this.astype);
    const { offset, scale } = this;
    for (let i = 0; i < values.length; i++) values[i] = narrow(narrow(values[i] / scale) + offset);
    const data = spec.dataType === "float64" ? values : castTyped(values, "float64", spec.dataType);
    return { data, shape: spec.shape, dtype: spec.dataType };
  }

  toJSON(): CodecMetadata {
    return {
      name: this.name,
      configuration: { offset: this.offset, scale: this.scale, dtype: numpyTypestring(this.dtype), astype: numpyTypestring(this.astype) },
    };
  }
}

registerCodec("numcodecs.fixedscaleoffset", (configuration, input, context) => {
  const config = new ConfigReader("numcodecs.fixedscaleoffset", configuration, context, ["offset", "scale", "dtype", "astype"]);
  const number = (key: string): number => {
    const raw = config.raw(key);
    // An integer beyond 2^53 arrives as a bigint; numcodecs computes with it as a double too.
    const value = typeof raw === "bigint" ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isFinite(value)) return config.fail(`"${key}" must be a finite number, got ${stringifyJSON(value)}`);
    return value;
  };
  const offset = number("offset");
  const scale = number("scale");
  if (scale === 0) config.fail(`"scale" must not be 0`);
  const dtype = numpyType(config, "dtype", input.dataType).dataType;
  const astype = numpyType(config, "astype", dtype).dataType;
  if (!isRealType(input.dataType) || dtype === "bool" || astype === "bool") config.fail(`works on integer and float data`);
  return new FixedScaleOffsetCodec(offset, scale, dtype, astype);
});
