/**
 * Data types beyond numbers: what each one is in memory, its names in v3 and v2 metadata, and
 * its fill values. src/dtype.ts resolves any name it does not know through `extendedInfo`, so
 * the engine sees one DataTypeInfo whatever the type and plans from its `form`:
 *
 * - "typed" (fixed width): datetime64 / timedelta64 (BigInt64Array of unit counts, NaT = -2^63),
 *   fixed_length_utf32 (Uint32Array of code points, NumPy `<U`), null_terminated_bytes and
 *   raw_bytes (Uint8Array, NumPy `|S` / `|V`), struct (Uint8Array of packed little-endian
 *   records, with a field table). These go through the strided copy kernels like numbers:
 *   their bytes equal NumPy's `tobytes()` on a little-endian host.
 * - "object" (variable length): `string` (string[]), `variable_length_bytes` (Uint8Array[]),
 *   `vlen_array[<type>]` (typed array per element). Chunks of these are decoded whole and
 *   copied element by element (no byte kernels), always on the calling thread.
 *
 * Canonical names (the `dtype` of arrays and NdArrays): `string`, `variable_length_bytes`,
 * `vlen_array[int32]`, `fixed_length_utf32[12]` (length in bytes, as v3 says: 3 characters),
 * `null_terminated_bytes[6]`, `raw_bytes[4]`, `numpy.datetime64[10s]`, `numpy.timedelta64[ms]`,
 * `struct[["a","int32"],["b","float64"]]` (the fields as JSON pairs).
 */
import { stringifyJSON } from "./json.js";
import { MetadataError, UnsupportedDataTypeError, type ErrorContext } from "./errors.js";
import type { DataTypeInfo, Endian } from "./dtype.js";

export type ExtendedDataType =
  | "string"
  | "variable_length_bytes"
  | `vlen_array[${string}]`
  | `fixed_length_utf32[${number}]`
  | `null_terminated_bytes[${number}]`
  | `raw_bytes[${number}]`
  | `numpy.datetime64[${string}]`
  | `numpy.timedelta64[${string}]`
  | `struct[${string}]`;

/** One field of a struct: packed, in order, each little-endian in memory. */
export interface StructField {
  name: string;
  dataType: string;
  /** Byte offset inside the record. */
  offset: number;
  itemsize: number;
}

/** NumPy's datetime units (zarr-python's list; "μs" is NumPy's alias of "us"). */
export const DATETIME_UNITS = ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as", "generic"] as const;
export type DateTimeUnit = (typeof DATETIME_UNITS)[number];

export const NAT = -(2n ** 63n);

/** The core-type lookup, supplied by dtype.ts (which imports this module) to avoid a cycle at load time. */
let coreInfo: (name: string) => DataTypeInfo | undefined = () => undefined;
export function setCoreLookup(lookup: (name: string) => DataTypeInfo | undefined): void {
  coreInfo = lookup;
}

const cache = new Map<string, DataTypeInfo | null>();

/** The info of an extended data type's canonical name, or undefined when the name is not one. */
export function extendedInfo(name: string): DataTypeInfo | undefined {
  let info = cache.get(name);
  if (info === undefined) {
    try {
      info = build(name);
    } catch {
      info = null;
    }
    // Names come from metadata too: cache only what parsed, and never grow without bound.
    if (info !== null || cache.size < 1024) cache.set(name, info);
  }
  return info ?? undefined;
}

const BRACKETED = /^([a-z_0-9.]+)\[(.*)\]$/s;

function build(name: string): DataTypeInfo | null {
  if (name === "string") return objectInfo(name, "O");
  if (name === "variable_length_bytes") return objectInfo(name, "O");
  const match = BRACKETED.exec(name);
  if (!match) return null;
  const [, base, param] = match;
  switch (base) {
    case "vlen_array": {
      const inner = coreInfo(param);
      if (!inner || inner.kind === "c" || inner.kind === "b") return null;
      return { ...objectInfo(name, "O"), element: inner };
    }
    case "fixed_length_utf32": {
      const bytes = lengthParam(param);
      if (bytes === null || bytes % 4 !== 0) return null;
      return typed(name, "U", bytes, Uint32Array, bytes / 4, 4);
    }
    case "null_terminated_bytes":
    case "raw_bytes": {
      const bytes = lengthParam(param);
      if (bytes === null) return null;
      return typed(name, base === "raw_bytes" ? "V" : "S", bytes, Uint8Array, bytes, 1);
    }
    case "numpy.datetime64":
    case "numpy.timedelta64": {
      const unit = parseUnit(param);
      if (!unit) return null;
      return { ...typed(name, base === "numpy.datetime64" ? "M" : "m", 8, BigInt64Array, 1, 8), unit: unit.unit, scaleFactor: unit.scale };
    }
    case "struct": {
      const fields = structFields(param);
      if (!fields) return null;
      const itemsize = fields.reduce((n, f) => n + f.itemsize, 0);
      const widths: number[] = [];
      for (const f of fields) {
        const info = coreInfo(f.dataType) ?? extendedInfo(f.dataType);
        const width = (info as DataTypeInfo).swapWidth;
        for (let at = 0; at < f.itemsize; at += width) widths.push(width);
      }
      return { ...typed(name, "T", itemsize, Uint8Array, itemsize, 1), fields, fieldWidths: widths };
    }
  }
  return null;
}

function objectInfo(name: string, kind: "O"): DataTypeInfo {
  // itemsize 1 is a planning figure (one slot per element): what the values weigh is only known decoded.
  return { name: name as DataTypeInfo["name"], itemsize: 1, kind, ctor: Uint8Array, slots: 1, form: "object", swapWidth: 1 };
}

function typed(
  name: string,
  kind: DataTypeInfo["kind"],
  itemsize: number,
  ctor: DataTypeInfo["ctor"],
  slots: number,
  swapWidth: number,
): DataTypeInfo {
  return { name: name as DataTypeInfo["name"], itemsize, kind, ctor, slots, form: "typed", swapWidth };
}

function lengthParam(text: string): number | null {
  if (!/^[1-9]\d{0,9}$/.test(text)) return null;
  const n = Number(text);
  return n <= 2 ** 31 ? n : null;
}

function parseUnit(text: string): { unit: DateTimeUnit; scale: number } | null {
  const match = /^(\d*)(Y|M|W|D|h|m|s|ms|us|μs|ns|ps|fs|as|generic)$/.exec(text);
  if (!match) return null;
  const scale = match[1] === "" ? 1 : Number(match[1]);
  if (!Number.isSafeInteger(scale) || scale < 1 || scale >= 2 ** 31) return null;
  return { unit: match[2] as DateTimeUnit, scale };
}

function structFields(param: string): StructField[] | null {
  let list: unknown;
  try {
    list = JSON.parse(`[${param}]`);
  } catch {
    return null;
  }
  if (!Array.isArray(list) || list.length === 0) return null;
  const fields: StructField[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || typeof entry[1] !== "string") return null;
    const [name, dataType] = entry as [string, string];
    if (name === "" || names.has(name)) return null;
    const info = coreInfo(dataType) ?? extendedInfo(dataType);
    if (!info || info.form === "object") return null;
    names.add(name);
    fields.push({ name, dataType, offset, itemsize: info.itemsize });
    offset += info.itemsize;
  }
  return fields;
}

/** The canonical struct name of these fields. */
export function structName(fields: readonly { name: string; dataType: string }[]): string {
  return `struct[${fields.map((f) => JSON.stringify([f.name, f.dataType])).join(",")}]`;
}

// ---------------------------------------------------------------------------------------------
// v3 names

/** The canonical name of a v3 `data_type` beyond the core names, or undefined. */
export function fromV3DataType(value: unknown, context: ErrorContext): string | undefined {
  if (value === "string" || value === "variable_length_bytes") return value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { name, configuration } = value as { name?: unknown; configuration?: unknown };
  const config = (typeof configuration === "object" && configuration !== null ? configuration : {}) as Record<string, unknown>;
  const bad = (why: string): never => {
    throw new UnsupportedDataTypeError(`data type ${stringifyJSON(value)}: ${why}`, context);
  };
  switch (name) {
    case "fixed_length_utf32":
    case "null_terminated_bytes":
    case "raw_bytes": {
      const n = config.length_bytes;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1 || n > 2 ** 31) bad("length_bytes must be a positive integer");
      if (name === "fixed_length_utf32" && (n as number) % 4 !== 0) bad("length_bytes must be a multiple of 4");
      return `${name}[${n}]`;
    }
    case "numpy.datetime64":
    case "numpy.timedelta64": {
      const unit = config.unit;
      const scale = config.scale_factor ?? 1;
      if (typeof unit !== "string" || !(DATETIME_UNITS as readonly string[]).includes(unit)) bad(`unknown unit ${stringifyJSON(unit)}`);
      if (typeof scale !== "number" || !Number.isSafeInteger(scale) || scale < 1 || scale >= 2 ** 31) bad("scale_factor must be an integer in [1, 2^31)");
      return `${name}[${scale === 1 ? "" : scale}${unit}]`;
    }
    case "struct": {
      const fields = config.fields;
      if (!Array.isArray(fields) || fields.length === 0) bad("fields must be a non-empty list");
      const list = (fields as unknown[]).map((f) => {
        // zarr-python writes {name, data_type}; the draft spec had [name, data_type] pairs.
        const [fname, ftype] = Array.isArray(f) ? f : [(f as { name?: unknown })?.name, (f as { data_type?: unknown })?.data_type];
        if (typeof fname !== "string") bad(`field ${stringifyJSON(f)} has no name`);
        const inner = typeof ftype === "string" && coreInfo(ftype) ? ftype : fromV3DataType(ftype, context);
        if (!inner) bad(`field ${stringifyJSON(fname)} has an unsupported data type ${stringifyJSON(ftype)}`);
        return { name: fname as string, dataType: inner as string };
      });
      const canonical = structName(list);
      if (!extendedInfo(canonical)) bad("fields must have distinct non-empty names and fixed-size data types");
      return canonical;
    }
  }
  return undefined;
}

/** The v3 `data_type` of a canonical extended name. */
export function toV3DataType(name: string): unknown {
  const info = extendedInfo(name);
  if (!info) throw new UnsupportedDataTypeError(`unsupported data type ${stringifyJSON(name)}`);
  if (name === "string" || name === "variable_length_bytes") return name;
  if (name.startsWith("vlen_array[")) throw new UnsupportedDataTypeError(`${name} has no Zarr v3 form (v2 VLenArray only)`);
  const base = name.slice(0, name.indexOf("["));
  switch (info.kind) {
    case "U":
    case "S":
    case "V":
      return { name: base, configuration: { length_bytes: info.itemsize } };
    case "M":
    case "m":
      return { name: base, configuration: { unit: info.unit, scale_factor: info.scaleFactor } };
    case "T":
      return {
        name: "struct",
        configuration: {
          fields: (info.fields as StructField[]).map((f) => ({ name: f.name, data_type: coreInfo(f.dataType) ? f.dataType : toV3DataType(f.dataType) })),
        },
      };
  }
  throw new UnsupportedDataTypeError(`unsupported data type ${stringifyJSON(name)}`);
}

// ---------------------------------------------------------------------------------------------
// v2 names

/** The v2 object-array codec ids that say what an `|O` array holds. */
const OBJECT_FILTERS: Record<string, string> = { "vlen-utf8": "string", "vlen-bytes": "variable_length_bytes" };

/**
 * The canonical name and byte order of a v2 dtype beyond the core ones (`|O`, `<U3`, `|S6`,
 * `|V4`, `<M8[10s]`, `>m8[ms]`, a structured list), or undefined. An `|O` array's type comes from
 * its filters (vlen-utf8, vlen-bytes, vlen-array, categorize); `fieldEndians` are a structured
 * dtype's per-field byte orders.
 */
export function fromV2DataType(
  value: unknown,
  filters: readonly { id: string; [key: string]: unknown }[] | null,
  context: ErrorContext,
): { dataType: string; endian: Endian; fieldEndians?: Endian[] } | undefined {
  if (Array.isArray(value)) return fromV2Structured(value, context);
  if (typeof value !== "string") return undefined;
  if (value === "|O") {
    for (const filter of filters ?? []) {
      if (filter.id in OBJECT_FILTERS) return { dataType: OBJECT_FILTERS[filter.id], endian: "little" };
      if (filter.id === "vlen-array") {
        const inner = fromV2Numeric(filter.dtype);
        if (!inner) throw new UnsupportedDataTypeError(`vlen-array filter with unsupported dtype ${stringifyJSON(filter.dtype)}`, context);
        return { dataType: `vlen_array[${inner.dataType}]`, endian: "little" };
      }
      if (filter.id === "categorize" || filter.id === "json2") return { dataType: "string", endian: "little" };
    }
    throw new UnsupportedDataTypeError(`object dtype "|O" needs a vlen-utf8, vlen-bytes, vlen-array, json2 or categorize filter, got ${stringifyJSON(filters)}`, context);
  }
  const match = /^([<>|=])([USVMm])(\d+)(?:\[(\d*)([A-Za-zμ]+)\])?$/.exec(value);
  if (!match) return undefined;
  const [, order, kind, size, scale, unit] = match;
  const endian: Endian = order === ">" ? "big" : "little";
  const n = Number(size);
  const bad = (why: string): never => {
    throw new UnsupportedDataTypeError(`v2 dtype ${stringifyJSON(value)}: ${why}`, context);
  };
  if (kind === "M" || kind === "m") {
    if (n !== 8) bad("datetimes are 8 bytes");
    if (unit === undefined) bad("a datetime needs a unit");
    const name = `numpy.${kind === "M" ? "datetime64" : "timedelta64"}[${scale ?? ""}${unit}]`;
    if (!extendedInfo(name)) bad(`unknown datetime unit "${scale ?? ""}${unit}"`);
    return { dataType: name, endian };
  }
  if (unit !== undefined || n < 1 || n > 2 ** 29) bad("invalid size");
  if (kind === "U") return { dataType: `fixed_length_utf32[${n * 4}]`, endian };
  return { dataType: kind === "S" ? `null_terminated_bytes[${n}]` : `raw_bytes[${n}]`, endian: "little" };
}

function fromV2Numeric(value: unknown): { dataType: string; endian: Endian } | undefined {
  const match = typeof value === "string" ? /^([<>|=])([biufc])(\d+)$/.exec(value) : null;
  if (!match) return undefined;
  const names: Record<string, string> = { b: "bool", i: "int", u: "uint", f: "float", c: "complex" };
  const bits = Number(match[3]) * 8;
  const name = match[2] === "b" ? "bool" : `${names[match[2]]}${bits}`;
  return coreInfo(name) ? { dataType: name, endian: match[1] === ">" ? "big" : "little" } : undefined;
}

function fromV2Structured(list: unknown[], context: ErrorContext): { dataType: string; endian: Endian; fieldEndians: Endian[] } {
  const bad = (why: string): never => {
    throw new UnsupportedDataTypeError(`v2 structured dtype ${stringifyJSON(list)}: ${why}`, context);
  };
  if (list.length === 0) bad("no fields");
  const fields: { name: string; dataType: string }[] = [];
  const endians: Endian[] = [];
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") bad(`field ${stringifyJSON(entry)} is not [name, dtype] (subarray fields are not supported)`);
    const [name, dtype] = entry as [string, unknown];
    const found = fromV2Numeric(dtype) ?? (Array.isArray(dtype) ? undefined : fromV2DataType(dtype, null, context));
    if (!found || extendedInfo(found.dataType)?.form === "object") bad(`field ${stringifyJSON(name)} has an unsupported dtype ${stringifyJSON(dtype)}`);
    fields.push({ name, dataType: (found as { dataType: string }).dataType });
    endians.push((found as { endian: Endian }).endian);
  }
  const dataType = structName(fields);
  if (!extendedInfo(dataType)) bad("field names must be distinct and non-empty");
  const endian = endians.every((e) => e === endians[0]) ? endians[0] : "little";
  return { dataType, endian, fieldEndians: endians };
}

/** The v2 dtype of an extended name (`fieldEndians` for structured dtypes). */
export function toV2ExtendedDataType(name: string, endian: Endian, fieldEndians?: readonly Endian[]): string | unknown[] {
  const info = extendedInfo(name);
  if (!info) throw new UnsupportedDataTypeError(`unsupported data type ${stringifyJSON(name)}`);
  const order = endian === "big" ? ">" : "<";
  switch (info.kind) {
    case "O":
      return "|O";
    case "U":
      return `${order}U${info.itemsize / 4}`;
    case "S":
      return `|S${info.itemsize}`;
    case "V":
      return `|V${info.itemsize}`;
    case "M":
    case "m":
      return `${order}${info.kind}8[${info.scaleFactor === 1 ? "" : info.scaleFactor}${info.unit}]`;
    case "T":
      return (info.fields as StructField[]).map((f, i) => {
        const fieldEndian = fieldEndians?.[i] ?? endian;
        const core = coreInfo(f.dataType);
        if (core) {
          const o = core.itemsize / core.slots === 1 ? "|" : fieldEndian === "big" ? ">" : "<";
          return [f.name, `${o}${core.kind}${core.itemsize}`];
        }
        return [f.name, toV2ExtendedDataType(f.dataType, fieldEndian)];
      });
  }
  throw new UnsupportedDataTypeError(`unsupported data type ${stringifyJSON(name)}`);
}

// ---------------------------------------------------------------------------------------------
// fill values and scalars

export type ExtendedScalar = string | Uint8Array | bigint | readonly unknown[];

const utf8 = new TextEncoder();

function base64Decode(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function base64Encode(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin);
}

function showValue(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v)) ?? String(value);
  } catch {
    return typeof value;
  }
}

/**
 * Parses a fill value (or a scalar to write) of an extended type. `parseCore` parses one
 * field of a struct (dtype.ts's parser for the core types).
 */
export function parseExtendedFill(
  value: unknown,
  info: DataTypeInfo,
  context: ErrorContext,
  parseCore: (value: unknown, dataType: string) => unknown,
  encodeCore: (value: unknown, dataType: string) => Uint8Array,
): ExtendedScalar {
  const bad = (): never => {
    throw new MetadataError(`invalid fill value ${showValue(value)} for data type ${info.name}`, context);
  };
  switch (info.kind) {
    case "O":
      // zarr-python 2 writes 0 as the fill value of object arrays when none was given.
      if (value === 0) return extendedZero(info);
      if (info.name === "string") return typeof value === "string" ? value : bad();
      if (info.element) {
        if (value instanceof info.element.ctor) return value as Uint8Array;
        if (Array.isArray(value) && value.length === 0) return new info.element.ctor(0) as unknown as Uint8Array;
        return bad();
      }
      if (value instanceof Uint8Array) return value;
      return typeof value === "string" ? (base64Decode(value) ?? bad()) : Array.isArray(value) ? bytesFromList(value) ?? bad() : bad();
    case "M":
    case "m":
      if (value === "NaT") return NAT;
      if (typeof value === "bigint") return value >= NAT && value < 2n ** 63n ? value : bad();
      if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) <= 2 ** 63) return value === -(2 ** 63) ? NAT : value < 2 ** 63 ? BigInt(value) : bad();
      if (typeof value === "string" && /^-?\d+$/.test(value)) {
        const big = BigInt(value);
        return big >= NAT && big < 2n ** 63n ? big : bad();
      }
      return bad();
    case "U": {
      if (typeof value !== "string") return bad();
      if ([...value].length > info.itemsize / 4) return bad();
      return value;
    }
    case "S":
    case "V": {
      let bytes: Uint8Array | undefined;
      if (value instanceof Uint8Array) bytes = value;
      else if (typeof value === "string") bytes = base64Decode(value);
      else if (Array.isArray(value)) bytes = bytesFromList(value);
      else if (value === 0) bytes = new Uint8Array(0);
      if (!bytes || bytes.length > info.itemsize) return bad();
      const out = new Uint8Array(info.itemsize);
      out.set(bytes);
      return out;
    }
    case "T": {
      if (value instanceof Uint8Array && value.length === info.itemsize) return value;
      if (typeof value === "string") {
        const bytes = base64Decode(value);
        return bytes && bytes.length === info.itemsize ? bytes : bad();
      }
      const fields = info.fields as StructField[];
      const record = new Uint8Array(info.itemsize);
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const object = value as Record<string, unknown>;
        if (Object.keys(object).some((k) => !fields.some((f) => f.name === k))) return bad();
        for (const f of fields) {
          if (!(f.name in object)) return bad();
          record.set(encodeCore(parseCore(object[f.name], f.dataType), f.dataType), f.offset);
        }
        return record;
      }
      if (Array.isArray(value) && value.length === fields.length) {
        fields.forEach((f, i) => record.set(encodeCore(parseCore(value[i], f.dataType), f.dataType), f.offset));
        return record;
      }
      return bad();
    }
  }
  return bad();
}

function bytesFromList(list: unknown[]): Uint8Array | undefined {
  if (!list.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b < 256)) return undefined;
  return Uint8Array.from(list as number[]);
}

/** The JSON form of an extended fill value (`decodeCore` turns one struct field's bytes back into its JSON). */
export function extendedFillToJSON(
  value: ExtendedScalar,
  info: DataTypeInfo,
  zarrFormat: 2 | 3,
  decodeCore: (bytes: Uint8Array, dataType: string) => unknown,
): unknown {
  switch (info.kind) {
    case "O":
      if (typeof value === "string") return value;
      if (info.element) return zarrFormat === 2 ? null : [];
      return base64Encode(value as Uint8Array);
    case "M":
    case "m": {
      const big = value as bigint;
      // "NaT" is what both zarr-python versions accept for it; -2^63 as a double would be written wrongly.
      if (big === NAT) return "NaT";
      return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
    }
    case "U":
      return value;
    case "S":
    case "V":
      return base64Encode(value as Uint8Array);
    case "T": {
      const record = value as Uint8Array;
      if (zarrFormat === 2) return base64Encode(record);
      const out: Record<string, unknown> = {};
      for (const f of info.fields as StructField[]) out[f.name] = decodeCore(record.subarray(f.offset, f.offset + f.itemsize), f.dataType);
      return out;
    }
  }
  return value;
}

/** The default fill value of an extended type. */
export function extendedZero(info: DataTypeInfo): ExtendedScalar {
  switch (info.kind) {
    case "O":
      return info.name === "string" ? "" : info.element ? (new info.element.ctor(0) as unknown as Uint8Array) : new Uint8Array(0);
    case "M":
    case "m":
      return 0n;
    case "U":
      return "";
    default:
      return new Uint8Array(info.itemsize);
  }
}

/** One element's in-memory bytes (typed forms) for a parsed scalar. */
export function extendedElementBytes(value: ExtendedScalar, info: DataTypeInfo): Uint8Array {
  const out = new Uint8Array(info.itemsize);
  switch (info.kind) {
    case "M":
    case "m":
      new DataView(out.buffer).setBigInt64(0, value as bigint, true);
      return out;
    case "U": {
      const codes = new Uint32Array(out.buffer);
      let i = 0;
      for (const ch of value as string) codes[i++] = ch.codePointAt(0) as number;
      return out;
    }
    default:
      out.set((value as Uint8Array).subarray(0, info.itemsize));
      return out;
  }
}

// ---------------------------------------------------------------------------------------------
// helpers for users: turning fixed-width values into JS values

const utf32Decoder = (codes: Uint32Array, from: number, to: number): string => {
  let end = to;
  while (end > from && codes[end - 1] === 0) end--;
  let s = "";
  for (let i = from; i < end; i++) s += String.fromCodePoint(codes[i]);
  return s;
};

/**
 * The values of a fixed_length_utf32 array as JS strings (trailing NULs stripped, as NumPy
 * does), or of null_terminated_bytes / raw_bytes as one Uint8Array per element (views; `|S`
 * values without their trailing NULs).
 */
export function fixedWidthValues(array: { data: ArrayBufferView; dtype: string }): string[] | Uint8Array[] {
  const info = extendedInfo(array.dtype);
  if (!info || (info.kind !== "U" && info.kind !== "S" && info.kind !== "V")) {
    throw new UnsupportedDataTypeError(`${array.dtype} is not a fixed-width string or bytes type`);
  }
  const bytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const n = bytes.byteLength / info.itemsize;
  if (info.kind === "U") {
    const codes = array.data instanceof Uint32Array ? array.data : new Uint32Array(bytes.slice().buffer);
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = utf32Decoder(codes, i * info.slots, (i + 1) * info.slots);
    return out;
  }
  const out: Uint8Array[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let end = (i + 1) * info.itemsize;
    if (info.kind === "S") while (end > i * info.itemsize && bytes[end - 1] === 0) end--;
    out[i] = bytes.subarray(i * info.itemsize, end);
  }
  return out;
}

/** The inverse of fixedWidthValues: JS strings (or byte strings) packed into a fixed-width typed array. */
export function packFixedWidth(dtype: string, values: readonly (string | Uint8Array)[]): Uint32Array | Uint8Array {
  const info = extendedInfo(dtype);
  if (!info || (info.kind !== "U" && info.kind !== "S" && info.kind !== "V")) {
    throw new UnsupportedDataTypeError(`${dtype} is not a fixed-width string or bytes type`);
  }
  const out = new Uint8Array(values.length * info.itemsize);
  values.forEach((v, i) => {
    const bytes = extendedElementBytes(info.kind === "U" ? String(v) : typeof v === "string" ? utf8.encode(v) : v, info);
    out.set(bytes, i * info.itemsize);
  });
  return info.kind === "U" ? new Uint32Array(out.buffer) : out;
}

/**
 * One field of a struct array as its own typed array (a copy: fields are packed, so a view
 * would be misaligned). Records are `dtypeInfo.fields[i].offset` bytes into each `itemsize`-byte record.
 */
export function structField(array: { data: ArrayBufferView; dtype: string }, field: string): ArrayBufferView {
  const info = extendedInfo(array.dtype);
  const f = info?.fields?.find((x) => x.name === field);
  if (!info || !f) throw new UnsupportedDataTypeError(`${array.dtype} has no field ${stringifyJSON(field)}`);
  const inner = coreInfo(f.dataType) ?? (extendedInfo(f.dataType) as DataTypeInfo);
  const bytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const n = bytes.byteLength / info.itemsize;
  const out = new Uint8Array(n * f.itemsize);
  for (let i = 0; i < n; i++) out.set(bytes.subarray(i * info.itemsize + f.offset, i * info.itemsize + f.offset + f.itemsize), i * f.itemsize);
  return new inner.ctor(out.buffer, 0, n * inner.slots);
}
