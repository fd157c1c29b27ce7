/**
 * An independent reference for selections: the indices one selection item picks on a dimension
 * of `size` (Python slice semantics for a positive step, integers, index arrays, boolean masks),
 * and whether the dimension is dropped from the result (an integer).
 */
import type { DataType, SelectionItem, Slice } from "../../src/index.js";

export function indicesOf(item: SelectionItem | undefined, size: number): { list: number[]; dropped: boolean } {
  if (item === null || item === undefined || item === "...") return { list: [...Array(size).keys()], dropped: false };
  if (typeof item === "number") return { list: [item < 0 ? item + size : item], dropped: true };
  if (Array.isArray(item) || ArrayBuffer.isView(item)) {
    const raw = Array.from(item as ArrayLike<number | bigint | boolean>);
    if (typeof raw[0] === "boolean") return { list: raw.flatMap((b, i) => (b ? [i] : [])), dropped: false };
    return { list: raw.map((v) => Number(v)).map((v) => (v < 0 ? v + size : v)), dropped: false };
  }
  const s = item as Slice;
  const step = s.step ?? 1;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  const start = s.start === null ? 0 : clamp(s.start);
  const stop = s.stop === null ? size : clamp(s.stop);
  const list: number[] = [];
  for (let i = start; i < stop; i += step) list.push(i);
  return { list, dropped: false };
}

/** Flat C-order element offsets a selection picks in an array of `shape` (repeats included), and the result shape. */
export function selectionOffsets(shape: readonly number[], selection: readonly (SelectionItem | undefined)[]): { offsets: number[]; shape: number[] } {
  const dims = shape.map((size, d) => indicesOf(selection[d], size));
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  let offsets = [0];
  dims.forEach((dim, d) => {
    const next: number[] = [];
    for (const base of offsets) for (const i of dim.list) next.push(base + i * strides[d]);
    offsets = next;
  });
  return { offsets, shape: dims.filter((d) => !d.dropped).map((d) => d.list.length) };
}

/** v2 typestrings without their byte-order character → zarrflow data types (the numeric ones). */
export const V2_DATA_TYPES: Record<string, DataType> = {
  b1: "bool",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
  c8: "complex64",
  c16: "complex128",
};
