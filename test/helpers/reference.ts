/**
 * An independent reference for selections: the indices one selection item picks on a dimension
 * of `size` (Python slice semantics for a positive step, integers, index arrays, boolean masks),
 * and whether the dimension is dropped from the result (an integer).
 */
import type { SelectionItem, Slice } from "../../src/index.js";

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
