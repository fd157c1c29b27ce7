/**
 * `scale_offset` (zarr-extensions): stores `(x - offset) * scale`, reads `x / scale + offset`,
 * in the arithmetic of the array's own data type — float32 stays float32; integers must not
 * overflow and must divide exactly, or the chunk is refused (a CodecError), never wrapped.
 */
import { allocate, parseFillValue, type DataType, type Scalar, type TypedArray } from "../dtype.js";
import { CodecError, MetadataError, type ErrorContext } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { arithmeticOf, castTyped, integerBounds, isFloatType, isIntegerType, scalarFrom, toFloat64 } from "./numeric.js";
import { registerCodec } from "./registry.js";
import { stringifyJSON } from "../json.js";

export class ScaleOffsetCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "scale_offset";
  private readonly lo: bigint;
  private readonly hi: bigint;

  constructor(
    readonly dataType: DataType,
    /** As configured (JSON form, written back unchanged). */
    private readonly offsetJSON: unknown,
    private readonly scaleJSON: unknown,
    private readonly offset: Scalar,
    private readonly scale: Scalar,
    private readonly context: ErrorContext = {},
  ) {
    [this.lo, this.hi] = isIntegerType(dataType) ? integerBounds(dataType) : [0n, 0n];
  }

  resolveSpec(input: ChunkSpec): ChunkSpec {
    const fill = allocate(input.dataType, 1);
    fill[0] = typeof input.fillValue === "boolean" ? Number(input.fillValue) : (input.fillValue as number);
    return { ...input, fillValue: scalarFrom(encodeFill(() => this.run(fill, true), this.context), input.dataType) };
  }

  encode(array: NdArray): NdArray {
    return { data: this.run(array.data, true), shape: array.shape, dtype: array.dtype };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    return { data: this.run(array.data, false), shape: spec.shape, dtype: spec.dataType };
  }

  private run(data: TypedArray, encode: boolean): TypedArray {
    if (isFloatType(this.dataType)) {
      const values = toFloat64(data, this.dataType);
      const narrow = arithmeticOf(this.dataType);
      // The parameters are values of the data type too: 273.15 is the float32 nearest to it.
      const offset = narrow(this.offset as number);
      const scale = narrow(this.scale as number);
      if (encode) for (let i = 0; i < values.length; i++) values[i] = narrow(narrow(values[i] - offset) * scale);
      else for (let i = 0; i < values.length; i++) values[i] = narrow(narrow(values[i] / scale) + offset);
      return castTyped(values, "float64", this.dataType);
    }
    // Integers: exact arithmetic on bigints, checked against the type's range.
    const offset = BigInt(this.offset as number | bigint);
    const scale = BigInt(this.scale as number | bigint);
    const out = allocate(this.dataType, data.length);
    const wide = out instanceof BigInt64Array || out instanceof BigUint64Array;
    for (let i = 0; i < data.length; i++) {
      const x = BigInt(data[i] as number | bigint);
      let y: bigint;
      if (encode) {
        y = (x - offset) * scale;
      } else {
        if (x % scale !== 0n) throw new CodecError(`scale_offset: ${x} is not divisible by the scale ${scale}; the data cannot be decoded exactly`);
        y = x / scale + offset;
      }
      if (y < this.lo || y > this.hi) throw new CodecError(`scale_offset: ${y} is outside the range of ${this.dataType}`);
      out[i] = wide ? y : Number(y);
    }
    return out;
  }

  toJSON(): CodecMetadata {
    const configuration: Record<string, unknown> = {};
    if (this.offsetJSON !== undefined) configuration.offset = this.offsetJSON;
    if (this.scaleJSON !== undefined) configuration.scale = this.scaleJSON;
    return { name: this.name, configuration };
  }
}

/** The fill value goes through the codec too; one it cannot store is bad metadata, said at open. */
export function encodeFill<T>(encode: () => T, context: ErrorContext): T {
  try {
    return encode();
  } catch (error) {
    if (!(error instanceof CodecError)) throw error;
    throw new MetadataError(`the fill value cannot be encoded: ${error.detail}`, { ...context, cause: error });
  }
}

registerCodec("scale_offset", (configuration, input, context) => {
  const config = new ConfigReader("scale_offset", configuration, context, ["offset", "scale"]);
  const { dataType } = input;
  if (!isIntegerType(dataType) && !isFloatType(dataType)) config.fail(`works on integer and float data, not ${dataType}`);
  const parse = (key: string, fallback: number): Scalar => {
    const value = config.raw(key) ?? fallback;
    try {
      // The same JSON forms as a fill value of the data type ("NaN", hex bit patterns, big integers).
      return parseFillValue(value, dataType);
    } catch {
      return config.fail(`"${key}" ${stringifyJSON(value)} is not a ${dataType} value`);
    }
  };
  const offset = parse("offset", 0);
  const scale = parse("scale", 1);
  if (isIntegerType(dataType) && BigInt(scale as number | bigint) === 0n) config.fail(`"scale" must not be 0 for integer data`);
  return new ScaleOffsetCodec(dataType, config.raw("offset"), config.raw("scale"), offset, scale, context);
});
