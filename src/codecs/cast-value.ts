/**
 * `cast_value` (zarr-extensions): stores the data converted to another integer or float type,
 * with an explicit rounding mode, out-of-range policy (`clamp`, `wrap`, or — when absent — an
 * error) and `scalar_map` pairs applied first (NaN → a sentinel integer, and back). Reading
 * converts back with the `decode` map. Values that cannot be converted are a CodecError.
 *
 * Float targets round to nearest even; another rounding mode is accepted for them only when
 * every value converts exactly (as zarr-python's numpy backend does).
 */
import { allocate, parseFillValue, type DataType, type TypedArray } from "../dtype.js";
import { CodecError, MetadataError, type ErrorContext } from "../errors.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { castTyped, integerBounds, isFloatType, isIntegerType, roundHalfEven, scalarFrom, toFloat64 } from "./numeric.js";
import { registerCodec } from "./registry.js";
import { encodeFill } from "./scale-offset.js";
import { stringifyJSON } from "../json.js";

const ROUNDING = ["nearest-even", "towards-zero", "towards-positive", "towards-negative", "nearest-away"] as const;
type Rounding = (typeof ROUNDING)[number];
type OutOfRange = "clamp" | "wrap" | null;
type Entry = [key: number | bigint, value: number | bigint];

const ROUND: Record<Rounding, (x: number) => number> = {
  "nearest-even": roundHalfEven,
  "towards-zero": Math.trunc,
  "towards-positive": Math.ceil,
  "towards-negative": Math.floor,
  "nearest-away": (x) => Math.sign(x) * Math.floor(Math.abs(x) + 0.5),
};

export class CastValueCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "cast_value";

  constructor(
    readonly source: DataType,
    readonly target: DataType,
    readonly rounding: Rounding,
    readonly outOfRange: OutOfRange,
    private readonly encodeMap: Entry[],
    private readonly decodeMap: Entry[],
    private readonly mapJSON: unknown,
    private readonly context: ErrorContext = {},
  ) {}

  resolveSpec(input: ChunkSpec): ChunkSpec {
    const fill = allocate(input.dataType, 1);
    fill[0] = typeof input.fillValue === "bigint" ? input.fillValue : (Number(input.fillValue) as never);
    const encoded = encodeFill(() => this.convert(fill, this.source, this.target, this.encodeMap), this.context);
    return { ...input, dataType: this.target, fillValue: scalarFrom(encoded, this.target) };
  }

  encode(array: NdArray): NdArray {
    return { data: this.convert(array.data, this.source, this.target, this.encodeMap), shape: array.shape, dtype: this.target };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    return { data: this.convert(array.data, this.target, spec.dataType, this.decodeMap), shape: spec.shape, dtype: spec.dataType };
  }

  private convert(data: TypedArray, from: DataType, to: DataType, map: Entry[]): TypedArray {
    const n = data.length;
    const out = allocate(to, n);
    const wideOut = out instanceof BigInt64Array || out instanceof BigUint64Array;
    const fromFloat = isFloatType(from);
    const values = fromFloat ? toFloat64(data, from) : data;
    const mapped = new Uint8Array(n);
    for (const [key, value] of map) {
      const nanKey = typeof key === "number" && Number.isNaN(key);
      for (let i = 0; i < n; i++) {
        if (mapped[i]) continue;
        const v = values[i];
        const hit = nanKey ? typeof v === "number" && Number.isNaN(v) : typeof key === "bigint" || typeof v === "bigint" ? BigInt(v as number) === BigInt(key) : v === key;
        if (hit) {
          out[i] = (wideOut ? BigInt(value) : Number(value)) as never;
          mapped[i] = 1;
        }
      }
    }
    if (isIntegerType(to)) {
      const [lo, hi] = integerBounds(to);
      const round = ROUND[this.rounding];
      for (let i = 0; i < n; i++) {
        if (mapped[i]) continue;
        let y: bigint;
        if (fromFloat) {
          const x = values[i] as number;
          if (!Number.isFinite(x)) throw new CodecError(`cast_value: ${x} has no ${to} value (map it with scalar_map)`);
          y = BigInt(round(x));
        } else {
          y = BigInt(values[i] as number | bigint);
        }
        if (y < lo || y > hi) {
          if (this.outOfRange === null) throw new CodecError(`cast_value: ${y} is outside the range of ${to}`);
          y = this.outOfRange === "clamp" ? (y < lo ? lo : hi) : ((((y - lo) % (hi - lo + 1n)) + (hi - lo + 1n)) % (hi - lo + 1n)) + lo;
        }
        out[i] = (wideOut ? y : Number(y)) as never;
      }
      return out;
    }
    // Float target: IEEE conversion (nearest even), overflow to ±inf refused unless clamped.
    const rest = fromFloat ? (values as Float64Array) : toFloat64(data, from);
    const converted = castTyped(rest, "float64", to);
    const back = toFloat64(converted, to);
    const max = to === "float16" ? 65504 : to === "float32" ? 3.4028234663852886e38 : Number.MAX_VALUE;
    for (let i = 0; i < n; i++) {
      if (mapped[i]) continue;
      const x = rest[i];
      let y = back[i];
      if (Number.isFinite(x) && !Number.isFinite(y)) {
        if (this.outOfRange !== "clamp") throw new CodecError(`cast_value: ${x} is outside the range of ${to}`);
        y = x > 0 ? max : -max;
      } else if (this.rounding !== "nearest-even" && Number.isFinite(x) && y !== x) {
        throw new CodecError(`cast_value: ${x} is not exactly a ${to}; rounding "${this.rounding}" to a float type is not supported`);
      }
      const cell = castTyped(Float64Array.of(y), "float64", to);
      out[i] = cell[0] as never;
    }
    return out;
  }

  toJSON(): CodecMetadata {
    const configuration: Record<string, unknown> = { data_type: this.target };
    if (this.rounding !== "nearest-even") configuration.rounding = this.rounding;
    if (this.outOfRange !== null) configuration.out_of_range = this.outOfRange;
    if (this.mapJSON !== undefined) configuration.scalar_map = this.mapJSON;
    return { name: this.name, configuration };
  }
}

function isCastType(dataType: unknown): dataType is DataType {
  return typeof dataType === "string" && (isIntegerType(dataType as DataType) || isFloatType(dataType as DataType));
}

registerCodec("cast_value", (configuration, input, context) => {
  const config = new ConfigReader("cast_value", configuration, context, ["data_type", "rounding", "out_of_range", "scalar_map"]);
  const target = config.raw("data_type") as DataType;
  if (!isCastType(target)) config.fail(`"data_type" must be an integer or float data type, got ${stringifyJSON(target)}`);
  if (!isCastType(input.dataType)) config.fail(`works on integer and float data, not ${input.dataType}`);
  const rounding = config.oneOf("rounding", ROUNDING, "nearest-even");
  const outOfRange = config.has("out_of_range") ? config.oneOf("out_of_range", ["clamp", "wrap"] as const, undefined) : null;
  if (outOfRange === "wrap" && !isIntegerType(target)) config.fail(`"out_of_range": "wrap" needs an integer data_type`);
  const map = config.raw("scalar_map");
  const entries = (direction: "encode" | "decode", keyType: DataType, valueType: DataType): Entry[] => {
    if (map === undefined || map === null) return [];
    if (typeof map !== "object" || Array.isArray(map)) config.fail(`"scalar_map" must be an object with "encode" and "decode" lists`);
    const list = (map as Record<string, unknown>)[direction];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) return config.fail(`"scalar_map.${direction}" must be a list of [from, to] pairs`);
    return list.map((pair: unknown[]): Entry => {
      if (!Array.isArray(pair) || pair.length !== 2) config.fail(`"scalar_map.${direction}" must hold [from, to] pairs, got ${stringifyJSON(pair)}`);
      const scalar = (value: unknown, type: DataType): number | bigint => {
        try {
          return parseFillValue(value, type) as number | bigint;
        } catch {
          return config.fail(`"scalar_map.${direction}": ${stringifyJSON(value)} is not a ${type} value`);
        }
      };
      return [scalar(pair[0], keyType), scalar(pair[1], valueType)];
    });
  };
  const source = input.dataType;
  return new CastValueCodec(source, target, rounding, outOfRange, entries("encode", source, target), entries("decode", target, source), map ?? undefined, context);
});

