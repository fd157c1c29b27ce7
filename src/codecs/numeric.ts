/**
 * Element-wise numeric conversions the value codecs share (numcodecs' delta, astype,
 * fixedscaleoffset, quantize; scale_offset, cast_value): reading elements as numbers, writing
 * them with NumPy's `astype` rules, rounding half to even as `np.around` does, and the NumPy
 * typestrings numcodecs configurations name their types with.
 */
import { DATA_TYPES, HAS_FLOAT16_ARRAY, allocate, fromFloat16Bits, parseV2DataType, toFloat16Bits, type DataType, type Endian, type Scalar, type TypedArray } from "../dtype.js";
import type { ConfigReader } from "./config.js";
import { stringifyJSON } from "../json.js";

/** Integer, float or bool types these codecs work on (complex and anything else is refused). */
export function isRealType(dataType: DataType): boolean {
  const info = DATA_TYPES[dataType] as (typeof DATA_TYPES)[DataType] | undefined;
  return info !== undefined && (info.kind === "b" || info.kind === "i" || info.kind === "u" || info.kind === "f");
}

export function isIntegerType(dataType: DataType): boolean {
  const kind = DATA_TYPES[dataType]?.kind;
  return kind === "i" || kind === "u";
}

export function isFloatType(dataType: DataType): boolean {
  return DATA_TYPES[dataType]?.kind === "f";
}

export function isWideInteger(dataType: DataType): boolean {
  return isIntegerType(dataType) && DATA_TYPES[dataType].itemsize === 8;
}

/**
 * A NumPy typestring from a numcodecs configuration (`"<i2"`, `"|u1"`, `">f8"`), or its
 * fallback when absent; bad or non-real types fail the configuration.
 */
export function numpyType(config: ConfigReader, key: string, fallback?: DataType): { dataType: DataType; endian: Endian | undefined } {
  const value = config.raw(key);
  if (value === undefined || value === null) {
    if (fallback === undefined) config.fail(`"${key}" is required`);
    return { dataType: fallback, endian: undefined };
  }
  let parsed: { dataType: DataType; endian: Endian };
  try {
    // NumPy also accepts bare names ("int16", "f8"); numcodecs writes typestrings, but users type names.
    const text = typeof value === "string" && !/^[<>|=]/.test(value) ? NUMPY_NAMES[value] ?? value : value;
    parsed = parseV2DataType(text);
  } catch {
    return config.fail(`"${key}" must be a NumPy integer, float or bool type, got ${stringifyJSON(value)}`);
  }
  if (!isRealType(parsed.dataType)) config.fail(`"${key}" must be a NumPy integer, float or bool type, got ${stringifyJSON(value)}`);
  return { dataType: parsed.dataType, endian: typeof value === "string" && /^[<>]/.test(value) ? parsed.endian : undefined };
}

const NUMPY_NAMES: Record<string, string> = {
  bool: "|b1", int8: "|i1", uint8: "|u1", int16: "<i2", uint16: "<u2", int32: "<i4", uint32: "<u4", int64: "<i8", uint64: "<u8",
  float16: "<f2", float32: "<f4", float64: "<f8", i1: "|i1", u1: "|u1", i2: "<i2", u2: "<u2", i4: "<i4", u4: "<u4", i8: "<i8", u8: "<u8",
  f2: "<f2", f4: "<f4", f8: "<f8",
};

/** The typestring numcodecs writes for a type (little-endian, `|` for one byte). */
export function numpyTypestring(dataType: DataType, endian: Endian = "little"): string {
  const { kind, itemsize } = DATA_TYPES[dataType];
  return `${itemsize === 1 ? "|" : endian === "big" ? ">" : "<"}${kind}${itemsize}`;
}

/**
 * Elements as float64 numbers (64-bit integers rounded to the nearest double, float16 bits
 * decoded): the form float arithmetic in these codecs starts from.
 */
export function toFloat64(data: TypedArray, dataType: DataType): Float64Array {
  const out = new Float64Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  } else if (dataType === "float16" && !HAS_FLOAT16_ARRAY) {
    for (let i = 0; i < data.length; i++) out[i] = fromFloat16Bits(data[i] as number);
  } else {
    out.set(data as Exclude<TypedArray, BigInt64Array | BigUint64Array>);
  }
  return out;
}

const INT64_MIN = -(2n ** 63n);

/**
 * `source.astype(target)` as NumPy does it: integers wrap modulo 2^bits, floats truncate toward
 * zero when cast to integers (NaN, ±inf and values beyond int64 become INT64_MIN for 64-bit
 * targets, as x86 NumPy gives), floats round to nearest even when narrowed, bool is `x != 0`.
 */
export function castTyped(data: TypedArray, from: DataType, to: DataType): TypedArray {
  const n = data.length;
  const out = allocate(to, n);
  const wideIn = data instanceof BigInt64Array || data instanceof BigUint64Array;
  if (to === "bool") {
    const o = out as Uint8Array;
    const values = wideIn ? data : toFloat64(data, from);
    // x != 0, so NaN is true (truthiness would make it false).
    for (let i = 0; i < n; i++) o[i] = values[i] !== 0 && values[i] !== 0n ? 1 : 0;
    return out;
  }
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    if (wideIn) {
      (out as BigInt64Array).set(data as BigInt64Array);
    } else if (isIntegerType(from) || from === "bool") {
      for (let i = 0; i < n; i++) out[i] = BigInt(data[i] as number);
    } else {
      const values = toFloat64(data, from);
      const unsigned = out instanceof BigUint64Array;
      for (let i = 0; i < n; i++) {
        const v = Math.trunc(values[i]);
        const inRange = unsigned ? v > -(2 ** 64) && v < 2 ** 64 : v >= -(2 ** 63) && v < 2 ** 63;
        out[i] = inRange ? (unsigned ? BigInt.asUintN(64, BigInt(v)) : BigInt(v)) : unsigned ? BigInt.asUintN(64, INT64_MIN) : INT64_MIN;
      }
    }
    return out;
  }
  if (to === "float16" && !HAS_FLOAT16_ARRAY) {
    const values = wideIn ? Array.from(data as BigInt64Array, Number) : toFloat64(data, from);
    for (let i = 0; i < n; i++) out[i] = toFloat16Bits(values[i]);
    return out;
  }
  if (wideIn) {
    const bits = DATA_TYPES[to].itemsize * 8;
    const o = out as Float64Array;
    const src = data as BigInt64Array;
    if (isIntegerType(to)) for (let i = 0; i < n; i++) o[i] = Number(BigInt.asIntN(bits, src[i]));
    else for (let i = 0; i < n; i++) o[i] = Number(src[i]);
    return out;
  }
  // Typed-array conversion is ToNumber then the target's own rule: truncate and wrap for
  // integers, round to nearest even for float32 — NumPy's casts for every in-range value.
  (out as Float64Array).set(from === "float16" && !HAS_FLOAT16_ARRAY ? toFloat64(data, from) : (data as Float64Array));
  return out;
}

/** One scalar cast with `castTyped`'s rules, in the target's scalar form. */
export function castScalar(value: Scalar, from: DataType, to: DataType): Scalar {
  const src = allocate(from, 1);
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) src[0] = BigInt(value as bigint | number | boolean);
  else if (from === "float16" && !HAS_FLOAT16_ARRAY) src[0] = toFloat16Bits(Number(value));
  else src[0] = Number(value);
  return scalarFrom(castTyped(src, from, to), to);
}

/** Element 0 of a typed array as the data type's scalar form. */
export function scalarFrom(data: TypedArray, dataType: DataType): Scalar {
  if (dataType === "bool") return data[0] !== 0;
  if (dataType === "float16" && !HAS_FLOAT16_ARRAY) return fromFloat16Bits(data[0] as number);
  return data[0];
}

/** `np.rint` / `np.around(x)`: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends halves up; a half whose upward neighbour is odd belongs to the even one below.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The smallest and largest value of an integer type, exactly. */
export function integerBounds(dataType: DataType): [bigint, bigint] {
  const { kind, itemsize } = DATA_TYPES[dataType];
  const bits = BigInt(itemsize * 8);
  return kind === "u" ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

const roundToFloat16 = (x: number): number => fromFloat16Bits(toFloat16Bits(x));
const exact = (x: number): number => x;

/**
 * Rounding to the arithmetic of a type, applied after each operation: NumPy computes float32
 * data in float32 and float16 in float16; anything else here in float64.
 */
export function arithmeticOf(dataType: DataType): (x: number) => number {
  if (dataType === "float32") return Math.fround;
  if (dataType === "float16") return roundToFloat16;
  return exact;
}
