/** `transpose`: permutes the dimensions of a chunk (v2 `order: "F"` becomes a full reversal). */
import { DATA_TYPES, allocate, bytesOf } from "../dtype.js";
import { cStrides, type NdArray } from "../ndarray.js";
import { wordView } from "../copy.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";
import { stringifyJSON } from "../json.js";

export class TransposeCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "transpose";
  private readonly inverse: number[];

  constructor(readonly order: number[]) {
    this.inverse = new Array<number>(order.length);
    order.forEach((axis, i) => (this.inverse[axis] = i));
  }

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { ...input, shape: this.order.map((axis) => input.shape[axis]) };
  }

  encode(array: NdArray): NdArray {
    return permute(array, this.order);
  }

  decode(array: NdArray): NdArray {
    return permute(array, this.inverse);
  }

  toJSON(): CodecMetadata {
    return { name: "transpose", configuration: { order: [...this.order] } };
  }
}

function isIdentity(order: readonly number[]): boolean {
  return order.every((axis, i) => axis === i);
}

/** A new C-order array whose dimension i is dimension order[i] of `array`. */
export function permute(array: NdArray, order: readonly number[]): NdArray {
  const ndim = order.length;
  const shape = order.map((axis) => array.shape[axis]);
  if (isIdentity(order)) return { ...array, shape };
  const { itemsize, slots } = DATA_TYPES[array.dtype];
  const out = allocate(array.dtype, (array.data.length / slots));
  const src = wordView(bytesOf(array.data), itemsize);
  const dst = wordView(bytesOf(out), itemsize).words;
  const k = src.k;
  const s = src.words;
  const inStrides = cStrides(array.shape);
  // Walk the output in C order; the input position advances by the permuted stride.
  const strides = order.map((axis) => inStrides[axis] * k);
  const total = dst.length / k;
  if (total === 0) return { data: out, shape, dtype: array.dtype };
  const inner = ndim - 1;
  const innerCount = shape[inner];
  const innerStride = strides[inner];
  const counter = new Array<number>(ndim).fill(0);
  let srcBase = 0;
  let d = 0;
  for (let done = 0; done < total; done += innerCount) {
    let p = srcBase;
    if (k === 1) {
      for (let i = 0; i < innerCount; i++, p += innerStride) dst[d++] = s[p];
    } else {
      for (let i = 0; i < innerCount; i++, p += innerStride) for (let j = 0; j < k; j++) dst[d++] = s[p + j];
    }
    // Advance the outer counters (odometer), keeping srcBase in step.
    for (let axis = inner - 1; axis >= 0; axis--) {
      srcBase += strides[axis];
      if (++counter[axis] < shape[axis]) break;
      srcBase -= strides[axis] * shape[axis];
      counter[axis] = 0;
    }
  }
  return { data: out, shape, dtype: array.dtype };
}

registerCodec("transpose", (configuration, input, context) => {
  const config = new ConfigReader("transpose", configuration, context, ["order"]);
  const ndim = input.shape.length;
  let order = config.raw("order");
  // Early v3 drafts (and some writers) used "C"/"F"; accept them as identity/reversal.
  if (order === "C") order = [...Array(ndim).keys()];
  if (order === "F") order = [...Array(ndim).keys()].reverse();
  const valid =
    Array.isArray(order) &&
    order.length === ndim &&
    order.every((a) => Number.isInteger(a) && a >= 0 && a < ndim) &&
    new Set(order).size === ndim;
  if (!valid) config.fail(`"order" must be a permutation of 0..${ndim - 1}, got ${stringifyJSON(order)}`);
  return new TransposeCodec(order as number[]);
});
