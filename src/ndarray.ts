/**
 * A C-order n-dimensional array: a flat typed array plus its shape and data type. For object
 * data types (`string`, `variable_length_bytes`, `vlen_array[...]`) `data` is at run time a
 * plain JS array (string[], Uint8Array[], typed arrays): see `ObjectData`.
 */
import { DATA_TYPES, type DataType, type TypedArray } from "./dtype.js";

export interface NdArray<T extends TypedArray = TypedArray> {
  readonly data: T;
  readonly shape: number[];
  readonly dtype: DataType;
}

/** The in-memory form of object data types: one JS value per element, C order. */
export type ObjectData = string[] | Uint8Array[] | ArrayBufferView[];

export function ndarray<T extends TypedArray>(dtype: DataType, shape: number[], data: T): NdArray<T> {
  return { data, shape, dtype };
}

/** Elements per step along each dimension of a C-order array of `shape`. */
export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function isNdArray(value: unknown): value is NdArray {
  return (
    typeof value === "object" &&
    value !== null &&
    "data" in value &&
    "shape" in value &&
    "dtype" in value &&
    (ArrayBuffer.isView((value as NdArray).data) || Array.isArray((value as NdArray).data)) &&
    Array.isArray((value as NdArray).shape) &&
    (value as NdArray).dtype in DATA_TYPES
  );
}
