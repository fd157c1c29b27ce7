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
import { DATA_TYPES, fromFloat16Bits, product, toV2DataType, type DataType } from "../dtype.js";

/** The NumPy `descr` of a data type: "<u2", "|b1", "<f2", "<c8", ... */
export function npyDescr(dtype: DataType): string {
  return toV2DataType(dtype, "little");
}

/** A .npy v1.0 header: magic, version, length, then the header dict padded to a multiple of 64 bytes. */
export function npyHeader(dtype: DataType, shape: readonly number[]): Uint8Array {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${npyDescr(dtype)}', 'fortran_order': False, 'shape': ${tuple}, }`;
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
