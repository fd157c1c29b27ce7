/**
 * Helpers for the fault tests: a store wrapper that aborts a controller at its n-th call (an
 * abort that lands at a reproducible point of an operation), and the arrays and models the
 * fault scenarios share with their subprocess variant.
 */
import { create, slice, type CreateArrayOptions, type SelectionItem, type ZarrArray } from "../../src/index.js";
import type { ByteRange, Store, StoreCallOptions } from "../../src/store.js";
import { prng } from "./prng.js";

/** Passes every call through, and aborts `controller` when the n-th call starts. */
export class AbortAfterStore implements Store {
  calls = 0;
  constructor(
    readonly inner: Store,
    readonly controller: AbortController,
    public abortAt: number,
  ) {}

  private tick(): void {
    if (++this.calls === this.abortAt) this.controller.abort(new Error(`aborted at store call ${this.calls}`));
  }

  get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    this.tick();
    return this.inner.get(key, range, options);
  }
  getRanges = (key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined> => {
    this.tick();
    return this.inner.getRanges!(key, ranges, options);
  };
  set = (key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> => {
    this.tick();
    return this.inner.set!(key, value, options);
  };
  delete = (key: string, options?: StoreCallOptions): Promise<void> => {
    this.tick();
    return this.inner.delete!(key, options);
  };
  setRange = (key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> => {
    this.tick();
    return this.inner.setRange!(key, offset, bytes, options);
  };
  list = (prefix: string, options?: StoreCallOptions): AsyncIterable<string> => this.inner.list!(prefix, options);
}

export interface Layout {
  name: string;
  options: Omit<CreateArrayOptions, "shape" | "dtype" | "path">;
  /** The unit a failed write leaves old or new. */
  unit: number[];
}

export const FAULT_SHAPE = [40, 30];
const BYTES_LE = { name: "bytes", configuration: { endian: "little" } };

export const LAYOUTS: Layout[] = [
  { name: "unsharded zstd", options: { chunks: [8, 8] }, unit: [8, 8] },
  { name: "sharded zstd (whole-shard rewrites)", options: { chunks: [4, 4], shards: [16, 16] }, unit: [16, 16] },
  // Uncompressed inner chunks: partial writes patch slots in place, one setRange per slot.
  { name: "sharded raw (in-place patches)", options: { chunks: [4, 4], shards: [16, 16], codecs: [BYTES_LE] }, unit: [4, 4] },
];

export async function createArray(store: Store, path: string, layout: Layout): Promise<ZarrArray> {
  return create(store, { path, shape: FAULT_SHAPE, dtype: "int32", ...layout.options });
}

/** A random box inside the array, as a selection. */
export function randomBox(rnd: () => number): { box: [number, number][]; selection: SelectionItem[] } {
  const box = FAULT_SHAPE.map((n): [number, number] => {
    const a = Math.floor(rnd() * n);
    const b = Math.floor(rnd() * n);
    return [Math.min(a, b), Math.max(a, b) + 1];
  });
  return { box, selection: box.map(([a, b]) => slice(a, b)) };
}

export function fillBox(state: Int32Array, box: [number, number][], value: number): void {
  for (let r = box[0][0]; r < box[0][1]; r++) state.fill(value, r * FAULT_SHAPE[1] + box[1][0], r * FAULT_SHAPE[1] + box[1][1]);
}

export function extractBox(state: Int32Array, box: [number, number][]): number[] {
  const out: number[] = [];
  for (let r = box[0][0]; r < box[0][1]; r++) for (let c = box[1][0]; c < box[1][1]; c++) out.push(state[r * FAULT_SHAPE[1] + c]);
  return out;
}

/** The unit boxes (chunks, shards or inner chunks) of the array. */
export function unitBoxes(unit: number[]): [number, number][][] {
  const boxes: [number, number][][] = [];
  for (let r = 0; r < FAULT_SHAPE[0]; r += unit[0]) {
    for (let c = 0; c < FAULT_SHAPE[1]; c += unit[1]) boxes.push([[r, Math.min(FAULT_SHAPE[0], r + unit[0])], [c, Math.min(FAULT_SHAPE[1], c + unit[1])]]);
  }
  return boxes;
}

/**
 * After an operation that failed part way: every unit must hold its old or its new content.
 * Returns a description of the first unit that holds neither, or undefined.
 */
export function oldOrNew(actual: Int32Array, before: Int32Array, after: Int32Array, unit: number[]): string | undefined {
  for (const box of unitBoxes(unit)) {
    const got = extractBox(actual, box).join();
    if (got !== extractBox(before, box).join() && got !== extractBox(after, box).join()) return `unit [${box.map(([a, b]) => `${a}:${b}`)}]`;
  }
  return undefined;
}

export { prng };
