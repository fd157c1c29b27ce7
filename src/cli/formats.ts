/**
 * Output formats of `zarrflow get`, produced incrementally from the C-order little-endian bytes
 * of a selection so that large selections stream:
 *  - npy: NumPy's format v1.0 (header, then the raw bytes) — `numpy.load` reads it;
 *  - json: nested lists like NumPy's `tolist()`. 64-bit integers are written with all their
 *    digits (valid JSON; parsers with arbitrary-precision integers, such as Python's, keep them
 *    exact). NaN and ±Infinity, which JSON cannot say, are the strings "NaN", "Infinity" and
 *    "-Infinity" (as Zarr writes fill values). Complex numbers are [re, im] pairs; float16 is
 *    written as its value.
 */
import { DATA_TYPES, fromFloat16Bits, isCoreType, product, toV2DataType, type DataType } from "../dtype.js";
import { NAT, base64Encode, fixedWidthValues, type DateTimeUnit } from "../dtype-extended.js";
import { UsageError } from "./args.js";

/** The NumPy `descr` of a data type: "<u2", "|b1", "<f2", "<c8", "<U3", "<M8[ns]", a struct's field list ... */
export function npyDescr(dtype: DataType): string {
  if (DATA_TYPES[dtype].form === "object") throw new UsageError(`${dtype} data has no npy form (NumPy keeps it as Python objects): use --format json`);
  const descr = toV2DataType(dtype, "little") as string | [string, string][];
  // A structured descr is a Python list of (name, dtype) tuples.
  return typeof descr === "string" ? descr : `[${descr.map(([name, t]) => `(${JSON.stringify(name)}, '${t}')`).join(", ")}]`;
}

/** A .npy v1.0 header: magic, version, length, then the header dict padded to a multiple of 64 bytes. */
export function npyHeader(dtype: DataType, shape: readonly number[]): Uint8Array {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const descr = npyDescr(dtype);
  let dict = `{'descr': ${descr.startsWith("[") ? descr : `'${descr}'`}, 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const header = new Uint8Array(10 + dict.length);
  header.set([0x93, ...Buffer.from("NUMPY", "latin1"), 1, 0]);
  new DataView(header.buffer).setUint16(8, dict.length, true);
  header.set(Buffer.from(dict, "latin1"), 10);
  return header;
}

function jsonNumber(x: number): string {
  if (Number.isFinite(x)) return String(x);
  return Number.isNaN(x) ? '"NaN"' : x > 0 ? '"Infinity"' : '"-Infinity"';
}

type Reader = (view: DataView, offset: number) => string;

function elementReader(dtype: DataType): Reader {
  switch (dtype) {
    case "bool":
      return (v, o) => (v.getUint8(o) ? "true" : "false");
    case "int8":
      return (v, o) => String(v.getInt8(o));
    case "uint8":
      return (v, o) => String(v.getUint8(o));
    case "int16":
      return (v, o) => String(v.getInt16(o, true));
    case "uint16":
      return (v, o) => String(v.getUint16(o, true));
    case "int32":
      return (v, o) => String(v.getInt32(o, true));
    case "uint32":
      return (v, o) => String(v.getUint32(o, true));
    case "int64":
      return (v, o) => v.getBigInt64(o, true).toString();
    case "uint64":
      return (v, o) => v.getBigUint64(o, true).toString();
    case "float16":
      return (v, o) => jsonNumber(fromFloat16Bits(v.getUint16(o, true)));
    case "float32":
      return (v, o) => jsonNumber(v.getFloat32(o, true));
    case "float64":
      return (v, o) => jsonNumber(v.getFloat64(o, true));
    case "complex64":
      return (v, o) => `[${jsonNumber(v.getFloat32(o, true))},${jsonNumber(v.getFloat32(o + 4, true))}]`;
    case "complex128":
      return (v, o) => `[${jsonNumber(v.getFloat64(o, true))},${jsonNumber(v.getFloat64(o + 8, true))}]`;
    default:
      return extendedReader(dtype);
  }
}

const SUBSECOND_DIGITS: Partial<Record<DateTimeUnit, number>> = { s: 0, ms: 3, us: 6, μs: 6, ns: 9, ps: 12, fs: 15, as: 18 };

/**
 * A datetime64 count as ISO 8601 text at the unit's precision ("2020-01-01", "2020-01-01T12:00:00.250"),
 * "NaT" for NaT; a timedelta64 count as "<n> <unit>" ("30 ms").
 */
export function formatTime(count: bigint, kind: "M" | "m", unit: DateTimeUnit, scale: number): string {
  if (count === NAT) return "NaT";
  const n = count * BigInt(scale);
  if (kind === "m" || unit === "generic") return `${n} ${unit}`;
  if (unit === "Y") return String(1970n + n);
  if (unit === "M") {
    const months = Number(n) + 1970 * 12;
    const year = Math.floor(months / 12);
    return `${year}-${String(months - year * 12 + 1).padStart(2, "0")}`;
  }
  const dayMs = 86_400_000n;
  if (unit === "W" || unit === "D") {
    const ms = n * (unit === "W" ? 7n : 1n) * dayMs;
    return isoDate(ms)?.split("T")[0] ?? `${n} ${unit}`;
  }
  if (unit === "h" || unit === "m") {
    const ms = n * (unit === "h" ? 3_600_000n : 60_000n);
    const iso = isoDate(ms);
    return iso === undefined ? `${n} ${unit}` : iso.slice(0, iso.indexOf("T") + (unit === "h" ? 3 : 6));
  }
  const digits = SUBSECOND_DIGITS[unit] as number;
  const perSecond = 10n ** BigInt(digits);
  let seconds = n / perSecond;
  let fraction = n % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  const date = isoDate(seconds * 1000n);
  if (date === undefined) return `${n} ${unit}`;
  return date.replace(/\.\d{3}Z$/, "") + (digits ? `.${fraction.toString().padStart(digits, "0")}` : "");
}

function isoDate(ms: bigint): string | undefined {
  if (ms > 8_640_000_000_000_000n || ms < -8_640_000_000_000_000n) return undefined;
  return new Date(Number(ms)).toISOString();
}

/** JSON readers of the fixed-width extended types: strings as strings, bytes as base64, times as ISO text, structs as objects. */
function extendedReader(dtype: DataType): Reader {
  const info = DATA_TYPES[dtype];
  switch (info.kind) {
    case "M":
    case "m":
      return (v, o) => JSON.stringify(formatTime(v.getBigInt64(o, true), info.kind as "M" | "m", info.unit as DateTimeUnit, info.scaleFactor as number));
    case "U":
    case "S":
    case "V":
      return (v, o) => {
        const element = new Uint8Array(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + info.itemsize));
        const [value] = fixedWidthValues({ data: element, dtype });
        return JSON.stringify(typeof value === "string" ? value : base64Encode(value));
      };
    case "T": {
      const fields = (info.fields ?? []).map((f) => ({ name: JSON.stringify(f.name), offset: f.offset, read: isCoreType(f.dataType) ? elementReader(f.dataType) : extendedReader(f.dataType as DataType) }));
      return (v, o) => `{${fields.map((f) => `${f.name}:${f.read(v, o + f.offset)}`).join(",")}}`;
    }
  }
  throw new UsageError(`${dtype} data cannot be written as JSON this way`);
}

/** One value of an object data type as JSON: strings as strings, byte strings as base64, vlen arrays as lists. */
export function objectValueJson(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) return JSON.stringify(base64Encode(value));
  if (ArrayBuffer.isView(value)) return `[${Array.from(value as unknown as ArrayLike<number | bigint>, (x) => (typeof x === "bigint" ? x.toString() : jsonNumber(x))).join(",")}]`;
  return "null";
}

/** Nested-list JSON of an object array's values (C order). */
export function objectArrayJson(values: readonly unknown[], shape: readonly number[]): string {
  if (shape.length === 0) return objectValueJson(values[0]) + "\n";
  const walk = (d: number, at: number): string => {
    const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    const parts: string[] = [];
    for (let i = 0; i < shape[d]; i++) parts.push(d === shape.length - 1 ? objectValueJson(values[at + i]) : walk(d + 1, at + i * stride));
    return `[${parts.join(",")}]`;
  };
  return walk(0, 0) + "\n";
}

function emptyNested(shape: readonly number[]): string {
  if (shape.length === 0) return "";
  if (shape[0] === 0) return "[]";
  return `[${Array.from({ length: shape[0] }, () => emptyNested(shape.slice(1))).join(",")}]`;
}

/** Turns a selection's bytes, fed in pieces of any size, into its nested-list JSON text. */
export class JsonEncoder {
  private readonly itemsize: number;
  private readonly read: Reader;
  private readonly index: number[];
  private readonly total: number;
  private emitted = 0;
  private carry = new Uint8Array(0);

  constructor(
    readonly dtype: DataType,
    readonly shape: readonly number[],
  ) {
    this.itemsize = DATA_TYPES[dtype].itemsize;
    this.read = elementReader(dtype);
    this.index = shape.map(() => 0);
    this.total = product(shape);
  }

  start(): string {
    if (this.total === 0) return emptyNested(this.shape);
    return "[".repeat(this.shape.length);
  }

  push(bytes: Uint8Array): string {
    let data = bytes;
    if (this.carry.byteLength) {
      data = new Uint8Array(this.carry.byteLength + bytes.byteLength);
      data.set(this.carry);
      data.set(bytes, this.carry.byteLength);
    }
    const whole = data.byteLength - (data.byteLength % this.itemsize);
    this.carry = data.slice(whole);
    const view = new DataView(data.buffer, data.byteOffset, whole);
    const parts: string[] = [];
    const n = this.shape.length;
    for (let offset = 0; offset < whole; offset += this.itemsize) {
      if (this.emitted > 0) {
        // Advance the index; each dimension that wraps closes one list and opens the next.
        let d = n - 1;
        let wrapped = 0;
        this.index[d]++;
        while (d > 0 && this.index[d] === this.shape[d]) {
          this.index[d] = 0;
          this.index[--d]++;
          wrapped++;
        }
        parts.push(wrapped ? `${"]".repeat(wrapped)},${"[".repeat(wrapped)}` : ",");
      }
      parts.push(this.read(view, offset));
      this.emitted++;
    }
    return parts.join("");
  }

  end(): string {
    return (this.total === 0 ? "" : "]".repeat(this.shape.length)) + "\n";
  }
}
