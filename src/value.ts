/**
 * What write() accepts — an NdArray, a typed array in C order, or a scalar — turned into a
 * word view the copy kernels can read from.
 */
import { DATA_TYPES, bytesOf, coerceScalar, product, scalarArray, type DataType, type Scalar, type TypedArray } from "./dtype.js";
import { ValueError, ZarrflowError, type ErrorContext } from "./errors.js";
import { isNdArray, type NdArray, type ObjectData } from "./ndarray.js";
import { wordView, type Words } from "./copy.js";

export type WriteValue = NdArray | TypedArray | Scalar | ObjectData;

export type ValueSource =
  | { kind: "scalar"; words: Words; k: number }
  | { kind: "array"; words: Words; k: number };

export function valueSource(value: WriteValue, dataType: DataType, selectionShape: readonly number[], context: ErrorContext): ValueSource {
  const { ctor, itemsize, slots, form } = DATA_TYPES[dataType];
  if (form === "object") return objectSource(value, dataType, selectionShape, context);
  if (isNdArray(value) || ArrayBuffer.isView(value)) {
    const data: TypedArray = isNdArray(value) ? value.data : (value as TypedArray);
    if (isNdArray(value) && value.dtype !== dataType) {
      throw new ValueError(`cannot write ${value.dtype} data into a ${dataType} array`, context);
    }
    if (data.constructor !== ctor && !(dataType === "bool" && data instanceof Uint8Array)) {
      throw new ValueError(`a ${dataType} array takes a ${ctor.name}, got ${data.constructor.name}`, context);
    }
    const expected = product(selectionShape);
    if (data.length !== expected * slots) {
      throw new ValueError(`value has ${data.length / slots} elements, the selection [${selectionShape}] has ${expected}`, context);
    }
    if (isNdArray(value) && product(value.shape) !== expected) {
      throw new ValueError(`value shape [${value.shape}] does not match the selection shape [${selectionShape}]`, context);
    }
    if (isNdArray(value) && !sameShapeIgnoringOnes(value.shape, selectionShape)) {
      throw new ValueError(`value shape [${value.shape}] does not match the selection shape [${selectionShape}]`, context);
    }
    const { words, k } = wordView(bytesOf(data), itemsize);
    return { kind: "array", words, k };
  }
  let scalar: Scalar;
  try {
    scalar = coerceScalar(value, dataType, context);
  } catch (error) {
    if (error instanceof ZarrflowError) throw new ValueError(`cannot write ${String(value)} into a ${dataType} array`, context);
    throw error;
  }
  const { words, k } = wordView(bytesOf(scalarArray(scalar, dataType)), itemsize);
  return { kind: "scalar", words, k };
}

function sameShapeIgnoringOnes(a: readonly number[], b: readonly number[]): boolean {
  const x = a.filter((n) => n !== 1);
  const y = b.filter((n) => n !== 1);
  return x.length === y.length && x.every((n, i) => n === y[i]);
}

/**
 * Object data types: a JS array (or an NdArray holding one) of the selection's size, or one
 * value for every element. Element types are checked by the codec when the chunk is encoded.
 */
function objectSource(value: WriteValue, dataType: DataType, selectionShape: readonly number[], context: ErrorContext): ValueSource {
  const data = isNdArray(value) ? (value.data as unknown) : value;
  if (isNdArray(value) && value.dtype !== dataType) throw new ValueError(`cannot write ${value.dtype} data into a ${dataType} array`, context);
  if (Array.isArray(data)) {
    const expected = product(selectionShape);
    if (data.length !== expected) throw new ValueError(`value has ${data.length} elements, the selection [${selectionShape}] has ${expected}`, context);
    if (isNdArray(value) && !sameShapeIgnoringOnes(value.shape, selectionShape)) {
      throw new ValueError(`value shape [${value.shape}] does not match the selection shape [${selectionShape}]`, context);
    }
    return { kind: "array", words: data as unknown as Words, k: 1 };
  }
  const one = dataType === "string" ? typeof data === "string" : ArrayBuffer.isView(data);
  if (!one) throw new ValueError(`a ${dataType} array takes ${dataType === "string" ? "strings" : "byte arrays"} (one, or an array of them), got ${typeof data}`, context);
  return { kind: "scalar", words: [data] as unknown as Words, k: 1 };
}
