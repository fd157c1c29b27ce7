/**
 * Values of the zarrita fixtures (`expected.json`) against what zarrflow reads: the fixtures'
 * JSON encoding normalised, and element-wise comparison. Shared by the Node fixture suite and
 * the browser one.
 */
import { HAS_FLOAT16_ARRAY, fromFloat16Bits, type DataType, type TypedArray } from "../../src/index.js";
import { isCoreType } from "../../src/dtype.js";
import { fixedWidthValues } from "../../src/dtype-extended.js";
import { V2_DATA_TYPES } from "./reference.js";

/** What these helpers read of an array's entry in expected.json. */
export interface FixtureEntry {
  format: 2 | 3;
  data_type: string;
  shape: number[];
  data: unknown;
}

export function expectedDataType(entry: FixtureEntry): DataType {
  if (entry.format === 3) return entry.data_type as DataType;
  // String dtypes: |O holds strings here (vlen-utf8, json2); <U7 is 7 code points of 4 bytes.
  const text = /^[<>|]([SU])(\d+)$/.exec(entry.data_type);
  if (text) return (text[1] === "S" ? `null_terminated_bytes[${text[2]}]` : `fixed_length_utf32[${Number(text[2]) * 4}]`) as DataType;
  if (entry.data_type === "|O") return "string";
  const dataType = V2_DATA_TYPES[entry.data_type.slice(1)];
  if (!dataType) throw new Error(`no zarrflow data type for ${entry.data_type}`);
  return dataType;
}

/** Flattens nested lists in C order, checking that they are rectangular with `shape`. */
export function flatten(data: unknown, shape: readonly number[]): unknown[] {
  if (shape.length === 0) return [data];
  const out: unknown[] = [];
  const walk = (value: unknown, axis: number): void => {
    if (axis === shape.length) {
      out.push(value);
      return;
    }
    if (!Array.isArray(value) || value.length !== shape[axis]) throw new Error(`expected data is not of shape [${shape}]`);
    for (const item of value) walk(item, axis + 1);
  };
  walk(data, 0);
  return out;
}

/** A JSON value (fixtures' encoding) as a number: "NaN", "Infinity", "-Infinity" strings. */
export function jsonNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new Error(`not a number: ${JSON.stringify(value)}`);
}

/** The elements of a read result as plain JS values comparable with the fixtures' encoding. */
export function elements(data: TypedArray, dataType: DataType): unknown[] {
  if (Array.isArray(data)) return data;
  if (!isCoreType(dataType)) {
    // Fixed-width strings and bytes: as the strings the fixtures list (|S values are ASCII here).
    return fixedWidthValues({ data, dtype: dataType }).map((v) => (typeof v === "string" ? v : new TextDecoder().decode(v)));
  }
  const values = Array.from(data as ArrayLike<number | bigint>);
  switch (dataType) {
    case "bool":
      return values.map((v) => Number(v));
    case "float16":
      return HAS_FLOAT16_ARRAY ? values : values.map((v) => fromFloat16Bits(v as number));
    case "int64":
    case "uint64":
      return values.map((v) => (v as bigint).toString());
    case "complex64":
    case "complex128": {
      const pairs: [number, number][] = [];
      for (let i = 0; i < values.length; i += 2) pairs.push([values[i] as number, values[i + 1] as number]);
      return pairs;
    }
    default:
      return values;
  }
}

/** Expected elements, normalised to what `elements` returns. */
export function expectedElements(entry: FixtureEntry, dataType: DataType): unknown[] {
  return flatten(entry.data, entry.shape).map((value) => {
    switch (dataType) {
      case "bool":
        return value === true ? 1 : value === false ? 0 : value;
      case "int64":
      case "uint64":
        return String(value);
      case "complex64":
      case "complex128":
        return (value as unknown[]).map(jsonNumber);
      default:
        return typeof value === "string" && !isCoreType(dataType) ? value : jsonNumber(value);
    }
  });
}

/** Element-wise equality with Object.is for numbers (NaN equals NaN, -0 differs from 0). */
export function firstMismatch(actual: unknown[], wanted: unknown[]): string | undefined {
  if (actual.length !== wanted.length) return `${actual.length} elements, expected ${wanted.length}`;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const w = wanted[i];
    const same = Array.isArray(a) && Array.isArray(w) ? a.length === w.length && a.every((x, j) => Object.is(x, w[j])) : Object.is(a, w);
    if (!same) return `element ${i}: got ${JSON.stringify(a)}, expected ${JSON.stringify(w)}`;
  }
  return undefined;
}

