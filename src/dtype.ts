/**
 * Data types, their in-memory representation, and fill values.
 *
 * In memory an array is a flat, C-order typed array in host (little-endian) byte order:
 * bool → Uint8Array (0/1), int64/uint64 → BigInt64Array/BigUint64Array, float16 → its raw bits
 * in a Uint16Array (or Float16Array where the runtime has one), complex → interleaved
 * (re, im) Float32Array/Float64Array of twice the length.
 */
import { MetadataError, UnsupportedDataTypeError, ValueError, type ErrorContext } from "./errors.js";
import {
  extendedElementBytes,
  extendedFillToJSON,
  extendedInfo,
  extendedZero,
  fromV2DataType,
  fromV3DataType,
  parseExtendedFill,
  setCoreLookup,
  toV2ExtendedDataType,
  type DateTimeUnit,
  type ExtendedDataType,
  type ExtendedScalar,
  type StructField,
} from "./dtype-extended.js";

/** A data type: a core (numeric) name, or an extended one (strings, bytes, datetimes, structs; see dtype-extended.ts). */
export type DataType = CoreDataType | ExtendedDataType;

export type CoreDataType =
  | "bool"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float16"
  | "float32"
  | "float64"
  | "complex64"
  | "complex128";

export type TypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * A scalar value of a data type: complex values are `[re, im]`; datetimes are bigint counts;
 * fixed_length_utf32 and string values are strings; bytes types and struct records are Uint8Array.
 */
export type Scalar = number | bigint | boolean | [number, number] | string | Uint8Array;

export interface DataTypeInfo {
  readonly name: DataType;
  /** Bytes per element. */
  readonly itemsize: number;
  /**
   * NumPy kind letter: b, i, u, f, c; M / m (datetime64 / timedelta64), U (fixed_length_utf32),
   * S (null_terminated_bytes), V (raw_bytes), T (struct), O (variable-length objects).
   */
  readonly kind: "b" | "i" | "u" | "f" | "c" | "M" | "m" | "U" | "S" | "V" | "T" | "O";
  /** The typed array holding elements in memory (typed form). */
  readonly ctor: TypedArrayConstructor;
  /** Typed-array slots per element (2 for complex, the characters or bytes of fixed-width types, 1 otherwise). */
  readonly slots: number;
  /**
   * What the engine plans from: "typed" data is a flat typed array copied with the byte
   * kernels; "object" data is a JS array (string[], Uint8Array[], typed arrays) whose chunks
   * are decoded whole and copied element by element, on the calling thread.
   */
  readonly form: "typed" | "object";
  /** Bytes reversed together when the stored byte order differs (1: never). */
  readonly swapWidth: number;
  /** datetime64 / timedelta64: the unit and its multiple (`10s` is unit "s", scaleFactor 10). */
  readonly unit?: DateTimeUnit;
  readonly scaleFactor?: number;
  /** struct: the fields, packed in order, and the swap width of each word of a record. */
  readonly fields?: readonly StructField[];
  readonly fieldWidths?: readonly number[];
  /** vlen_array: the type of each element's items. */
  readonly element?: DataTypeInfo;
}

const Float16Ctor: TypedArrayConstructor | undefined = (globalThis as { Float16Array?: TypedArrayConstructor })
  .Float16Array;

function info(name: DataType, itemsize: number, kind: DataTypeInfo["kind"], ctor: TypedArrayConstructor, slots = 1): DataTypeInfo {
  return { name, itemsize, kind, ctor, slots, form: "typed", swapWidth: itemsize / slots };
}

const CORE_TYPES: Readonly<Record<CoreDataType, DataTypeInfo>> = {
  bool: info("bool", 1, "b", Uint8Array),
  int8: info("int8", 1, "i", Int8Array),
  int16: info("int16", 2, "i", Int16Array),
  int32: info("int32", 4, "i", Int32Array),
  int64: info("int64", 8, "i", BigInt64Array),
  uint8: info("uint8", 1, "u", Uint8Array),
  uint16: info("uint16", 2, "u", Uint16Array),
  uint32: info("uint32", 4, "u", Uint32Array),
  uint64: info("uint64", 8, "u", BigUint64Array),
  float16: info("float16", 2, "f", Float16Ctor ?? Uint16Array),
  float32: info("float32", 4, "f", Float32Array),
  float64: info("float64", 8, "f", Float64Array),
  complex64: info("complex64", 8, "c", Float32Array, 2),
  complex128: info("complex128", 16, "c", Float64Array, 2),
};

setCoreLookup((name) => (Object.prototype.hasOwnProperty.call(CORE_TYPES, name) ? CORE_TYPES[name as CoreDataType] : undefined));

/**
 * Every data type's info by name. The core types are own properties (the hot lookups); any
 * other name falls through to the prototype, which parses extended names (and caches them).
 */
export const DATA_TYPES: Readonly<Record<DataType, DataTypeInfo>> = Object.assign(
  Object.create(
    new Proxy(
      {},
      {
        get: (_target, name) => (typeof name === "string" ? extendedInfo(name) : undefined),
        has: (_target, name) => typeof name === "string" && extendedInfo(name) !== undefined,
      },
    ),
  ) as Record<DataType, DataTypeInfo>,
  CORE_TYPES,
);

/** True when float16 data is exposed as a real Float16Array rather than raw bits. */
export const HAS_FLOAT16_ARRAY = Float16Ctor !== undefined;

export function dataTypeInfo(dataType: DataType): DataTypeInfo {
  return DATA_TYPES[dataType];
}

export function isDataType(name: unknown): name is DataType {
  return typeof name === "string" && DATA_TYPES[name as DataType] !== undefined;
}

export function isCoreType(dataType: string): dataType is CoreDataType {
  return Object.prototype.hasOwnProperty.call(CORE_TYPES, dataType);
}

/** True when stored elements have a byte order (the bytes codec then needs an "endian"). */
export function hasByteOrder(dataType: DataType): boolean {
  const info = DATA_TYPES[dataType];
  return info.swapWidth > 1 || (info.fieldWidths ?? []).some((w) => w > 1);
}

/**
 * Bytes one element is planned to take in memory (buffer budgets, copy blocks): the item size,
 * or for object types an estimate (a short JS string or a small Uint8Array and its slot), since
 * their planning itemsize of 1 only counts slots.
 */
export function memoryItemsize(dataType: DataType): number {
  const info = DATA_TYPES[dataType];
  return info.form === "object" ? 64 : info.itemsize;
}

/** True for data types held as JS arrays of values (strings, byte strings) rather than a typed array. */
export function isObjectType(dataType: DataType): boolean {
  return DATA_TYPES[dataType].form === "object";
}

/** Parses a v3 `data_type`. */
export function parseDataType(value: unknown, context: ErrorContext = {}): DataType {
  if (typeof value === "string" && Object.prototype.hasOwnProperty.call(CORE_TYPES, value)) return value as DataType;
  const extended = fromV3DataType(value, context);
  if (extended !== undefined) return extended as DataType;
  if (typeof value === "string") throw new UnsupportedDataTypeError(`unsupported data type "${value}"`, context);
  throw new UnsupportedDataTypeError(`unsupported data type ${showValue(value)}`, context);
}

export type Endian = "little" | "big";

const V2_KINDS: Record<string, Partial<Record<number, DataType>>> = {
  b: { 1: "bool" },
  i: { 1: "int8", 2: "int16", 4: "int32", 8: "int64" },
  u: { 1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64" },
  f: { 2: "float16", 4: "float32", 8: "float64" },
  c: { 8: "complex64", 16: "complex128" },
};

/**
 * Parses a v2 NumPy typestring (`<u2`, `>f8`, `|b1`, `<c8`; `|O`, `<U3`, `|S6`, `|V4`,
 * `<M8[ns]`, structured lists) into a data type and byte order. `filters` say what an `|O` holds.
 */
export function parseV2DataType(
  value: unknown,
  context: ErrorContext = {},
  filters: readonly { id: string; [key: string]: unknown }[] | null = null,
): { dataType: DataType; endian: Endian; fieldEndians?: Endian[] } {
  const extended = fromV2DataType(value, filters, context);
  if (extended) return extended as { dataType: DataType; endian: Endian; fieldEndians?: Endian[] };
  const match = typeof value === "string" ? /^([<>|=])([biufc])(\d+)$/.exec(value) : null;
  const dataType = match ? V2_KINDS[match[2]]?.[Number(match[3])] : undefined;
  if (!match || !dataType) {
    throw new UnsupportedDataTypeError(`unsupported v2 dtype ${showValue(value)}`, context);
  }
  // "|" (not applicable) only makes sense for 1-byte types; "=" means native, which is little here.
  return { dataType, endian: match[1] === ">" ? "big" : "little" };
}

/** The v2 typestring of a data type (a list of [name, dtype] for structs). */
export function toV2DataType(dataType: DataType, endian: Endian = "little", fieldEndians?: readonly Endian[]): string {
  if (!isCoreType(dataType)) return toV2ExtendedDataType(dataType, endian, fieldEndians) as string;
  const { kind, itemsize } = DATA_TYPES[dataType];
  const order = itemsize === 1 ? "|" : endian === "big" ? ">" : "<";
  return `${order}${kind}${itemsize}`;
}

/**
 * A zero-filled typed array holding `count` elements. Object types get a JS array of their
 * zero value (typed as TypedArray: the engine passes it through the same paths, see bytesOf).
 */
export function allocate(dataType: DataType, count: number): TypedArray {
  const info = DATA_TYPES[dataType];
  if (info.form === "object") return new Array(count).fill(extendedZero(info)) as unknown as TypedArray;
  return new info.ctor(count * info.slots);
}

/** A typed-array view of `bytes` (which must be aligned to the element size); object data passes through. */
export function viewAs(dataType: DataType, bytes: Uint8Array): TypedArray {
  if (Array.isArray(bytes)) return bytes as unknown as TypedArray;
  const { ctor, itemsize, slots } = DATA_TYPES[dataType];
  return new ctor(bytes.buffer, bytes.byteOffset, (bytes.byteLength / itemsize) * slots);
}

/**
 * The bytes behind a typed array (no copy). A JS array of values (object data types) is
 * returned as it is: the copy kernels take it as words of one slot per element.
 */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  if (Array.isArray(data)) return data as unknown as Uint8Array;
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---------------------------------------------------------------------------------------------
// float16 conversion (IEEE 754 binary16), used for fill values and scalar writes.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to `value` (round to nearest even). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Fill values.

/** JSON-ish text of a value for messages; never throws (bigints, as written to write(), make JSON.stringify throw). */
function showValue(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value);
  } catch {
    return typeof value;
  }
}

const SPECIAL_FLOATS: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

function parseFloatJSON(value: unknown, itemsize: number, context: ErrorContext): number {
  if (typeof value === "number") return value;
  // An integer literal beyond 2^53 (parsed exactly as a bigint): the nearest double.
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    if (value in SPECIAL_FLOATS) return SPECIAL_FLOATS[value];
    if (/^0x[0-9a-f]+$/i.test(value) && (value.length - 2) === itemsize * 2) {
      // Hex strings carry the raw IEEE bits (e.g. a NaN with a payload).
      const bytes = new Uint8Array(itemsize);
      const dv = new DataView(bytes.buffer);
      const big = BigInt(value);
      if (itemsize === 2) return fromFloat16Bits(Number(big));
      if (itemsize === 4) {
        dv.setUint32(0, Number(big), true);
        return dv.getFloat32(0, true);
      }
      dv.setBigUint64(0, big, true);
      return dv.getFloat64(0, true);
    }
  }
  throw new MetadataError(`invalid floating-point fill value ${showValue(value)}`, context);
}

function integerRange(dataType: DataType): [bigint, bigint] {
  const { kind, itemsize } = DATA_TYPES[dataType];
  const bits = BigInt(itemsize * 8);
  return kind === "u" ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

/**
 * Parses a fill value from metadata JSON (v3 rules; v2 `null` is handled by the caller).
 * Integers are checked against the type's range; floats accept "NaN", "Infinity",
 * "-Infinity" and hex bit patterns; complex values are `[re, im]` pairs of those.
 */
export function parseFillValue(value: unknown, dataType: DataType, context: ErrorContext = {}): Scalar {
  if (!isCoreType(dataType)) {
    return parseExtendedFill(
      value,
      DATA_TYPES[dataType],
      context,
      (v, t) => parseFillValue(v, t as DataType, context),
      (v, t) => bytesOf(scalarArray(v as Scalar, t as DataType)).slice(),
    ) as Scalar;
  }
  const { kind, itemsize } = DATA_TYPES[dataType];
  const bad = (): never => {
    throw new MetadataError(`invalid fill value ${showValue(value)} for data type ${dataType}`, context);
  };
  switch (kind) {
    case "b":
      if (typeof value === "boolean") return value;
      if (value === 0 || value === 1) return value === 1;
      return bad();
    case "i":
    case "u": {
      let big: bigint;
      if (typeof value === "bigint") big = value;
      else if (typeof value === "number" && Number.isInteger(value)) big = BigInt(value);
      else if (typeof value === "string" && /^-?\d+$/.test(value)) big = BigInt(value);
      else if (typeof value === "string" && /^0x[0-9a-f]+$/i.test(value)) big = BigInt(value);
      else if (typeof value === "boolean") big = value ? 1n : 0n;
      else return bad();
      const [lo, hi] = integerRange(dataType);
      if (big < lo || big > hi) return bad();
      return itemsize === 8 ? big : Number(big);
    }
    case "f":
      return parseFloatJSON(value, itemsize, context);
    case "c": {
      if (!Array.isArray(value) || value.length !== 2) return bad();
      const half = itemsize / 2;
      return [parseFloatJSON(value[0], half, context), parseFloatJSON(value[1], half, context)];
    }
  }
  return bad();
}

function floatToJSON(x: number, hexWidth?: number): number | string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  // JSON.stringify writes -0 as 0; v3 can say it exactly as a hex bit pattern.
  if (hexWidth !== undefined && Object.is(x, -0)) return `0x8${"0".repeat(hexWidth * 2 - 1)}`;
  return x;
}

/**
 * The JSON form of a fill value (v3 and v2 agree on this form, except that v3 writes -0.0 as
 * its hex bit pattern: a v2 reader would not understand that, so v2 gets a lossy 0).
 */
export function fillValueToJSON(value: Scalar, dataType: DataType, zarrFormat: 2 | 3 = 2): unknown {
  if (!isCoreType(dataType)) {
    return extendedFillToJSON(value as ExtendedScalar, DATA_TYPES[dataType], zarrFormat, (bytes, t) =>
      fillValueToJSON(scalarFromBytes(bytes, t as DataType), t as DataType, zarrFormat),
    );
  }
  const { kind, itemsize, slots } = DATA_TYPES[dataType];
  const hexWidth = zarrFormat === 3 ? itemsize / slots : undefined;
  if (kind === "b") return Boolean(value);
  if (kind === "c") {
    const [re, im] = value as [number, number];
    return [floatToJSON(re, hexWidth), floatToJSON(im, hexWidth)];
  }
  if (typeof value === "bigint") {
    // Beyond 2^53 the bigint itself: metadata is written with stringifyJSON (src/json.ts), which
    // writes it as an exact JSON integer, as zarr-python does (the spec has no string form).
    return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  }
  if (kind === "f") return floatToJSON(value as number, hexWidth);
  return value;
}

/** The zero value of a data type (the default fill value). */
export function zeroScalar(dataType: DataType): Scalar {
  if (!isCoreType(dataType)) return extendedZero(DATA_TYPES[dataType]) as Scalar;
  const { kind, itemsize } = DATA_TYPES[dataType];
  if (kind === "b") return false;
  if (kind === "c") return [0, 0];
  if (itemsize === 8 && kind !== "f") return 0n;
  return 0;
}

/** Coerces a user scalar to the data type's scalar form, or throws a ValueError-like MetadataError. */
export function coerceScalar(value: unknown, dataType: DataType, context: ErrorContext = {}): Scalar {
  const { kind } = DATA_TYPES[dataType];
  if (kind === "M" || kind === "m") return parseFillValue(typeof value === "bigint" ? value.toString() : value, dataType, context);
  if (kind === "c" && typeof value === "number") return [value, 0];
  if (kind === "f" && typeof value === "number") return value;
  if ((kind === "i" || kind === "u") && typeof value === "bigint") return parseFillValue(value.toString(), dataType, context);
  // Metadata may carry floats as big JSON integers (parsed exactly as bigints); a value to write may not.
  if (typeof value === "bigint" || (Array.isArray(value) && value.some((v) => typeof v === "bigint"))) {
    throw new ValueError(`a bigint is not a ${dataType} value`, context);
  }
  return parseFillValue(value, dataType, context);
}

/** One element of `dataType` holding `value`, as a typed array of the data type's slots. */
export function scalarArray(value: Scalar, dataType: DataType): TypedArray {
  const info = DATA_TYPES[dataType];
  if (info.form === "object") return [value] as unknown as TypedArray;
  if (!isCoreType(dataType)) return viewAs(dataType, extendedElementBytes(value as ExtendedScalar, info));
  const { ctor, kind, name } = info;
  const out = allocate(dataType, 1);
  if (kind === "c") {
    const [re, im] = value as [number, number];
    (out as Float32Array)[0] = re;
    (out as Float32Array)[1] = im;
  } else if (ctor === BigInt64Array || ctor === BigUint64Array) {
    (out as BigInt64Array)[0] = BigInt(value as bigint | number);
  } else if (name === "float16" && !HAS_FLOAT16_ARRAY) {
    (out as Uint16Array)[0] = toFloat16Bits(value as number);
  } else if (kind === "b") {
    (out as Uint8Array)[0] = value ? 1 : 0;
  } else {
    (out as Float64Array)[0] = value as number;
  }
  return out;
}

/** The scalar one element's in-memory bytes hold (core types; struct fields). */
export function scalarFromBytes(bytes: Uint8Array, dataType: DataType): Scalar {
  const info = DATA_TYPES[dataType];
  if (!isCoreType(dataType)) return info.kind === "M" || info.kind === "m" ? new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0, true) : bytes.slice();
  const data = viewAs(dataType, bytes.slice());
  if (info.kind === "c") return [Number(data[0]), Number(data[1])];
  if (info.kind === "b") return data[0] !== 0;
  if (dataType === "float16" && !HAS_FLOAT16_ARRAY) return fromFloat16Bits(Number(data[0]));
  return data[0] as number | bigint;
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}
