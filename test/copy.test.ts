import { describe, expect, it } from "vitest";
import { copyRegion, fillRegion, wordView, type Words } from "../src/copy.js";
import type { Region } from "../src/selection.js";
import { prng } from "./helpers/prng.js";


type Ctor = { new (length: number): Words; readonly name: string };
const CTORS: Ctor[] = [
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

function randomArray(ctor: Ctor, length: number, rand: () => number): Words {
  const a = new ctor(length);
  const big = a instanceof BigInt64Array || a instanceof BigUint64Array;
  for (let i = 0; i < length; i++) {
    const v = Math.floor(rand() * 2 ** 31);
    (a as unknown as (number | bigint)[])[i] = big ? BigInt(v) * 3n : v;
  }
  return a;
}

function* indices(shape: readonly number[]): Generator<number[]> {
  if (shape.some((n) => n === 0)) return;
  const idx = shape.map(() => 0);
  for (;;) {
    yield idx.slice();
    let a = shape.length - 1;
    for (; a >= 0; a--) {
      if (++idx[a]! < shape[a]!) break;
      idx[a] = 0;
    }
    if (a < 0) return;
  }
}

/** Flat element offset of the i-th element of a region. */
function offsetOf(shape: readonly number[], region: readonly Region[], i: readonly number[]): number {
  let off = 0;
  for (let a = 0; a < shape.length; a++) off = off * shape[a]! + region[a]!.start + i[a]! * region[a]!.step;
  return off;
}

function naiveCopy(dst: Words, dstShape: number[], dstRegion: Region[], src: Words, srcShape: number[], srcRegion: Region[], k: number): void {
  const d = dst as unknown as unknown[];
  const s = src as unknown as unknown[];
  for (const i of indices(dstRegion.map((r) => r.count))) {
    const dOff = offsetOf(dstShape, dstRegion, i) * k;
    const sOff = offsetOf(srcShape, srcRegion, i) * k;
    for (let q = 0; q < k; q++) d[dOff + q] = s[sOff + q];
  }
}

function naiveFill(dst: Words, dstShape: number[], dstRegion: Region[], value: Words, k: number): void {
  const d = dst as unknown as unknown[];
  const v = value as unknown as unknown[];
  for (const i of indices(dstRegion.map((r) => r.count))) {
    const dOff = offsetOf(dstShape, dstRegion, i) * k;
    for (let q = 0; q < k; q++) d[dOff + q] = v[q];
  }
}

/** Element-wise comparison (vitest's deep equality is slow on large typed arrays). */
function expectSame(actual: Words, expected: Words, label: string): void {
  let same = actual.length === expected.length;
  for (let i = 0; same && i < actual.length; i++) same = actual[i] === expected[i];
  if (!same) expect(actual, label).toEqual(expected);
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * A random pair of boxes with equal counts. Each dimension is either "full" (both arrays have
 * exactly `count` there and the box covers it with step 1 — mergeable) or arbitrary (random
 * extents, starts and steps on each side).
 */
function randomBoxes(rand: () => number, rank: number, maxCount: number) {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const dstShape: number[] = [];
  const srcShape: number[] = [];
  const dstRegion: Region[] = [];
  const srcRegion: Region[] = [];
  const fullBias = rand();
  for (let a = 0; a < rank; a++) {
    const count = rand() < 0.03 ? 0 : int(1, maxCount);
    if (rand() < fullBias) {
      dstShape.push(count);
      srcShape.push(count);
      dstRegion.push({ start: 0, step: 1, count });
      srcRegion.push({ start: 0, step: 1, count });
      continue;
    }
    for (const [shape, region] of [
      [dstShape, dstRegion],
      [srcShape, srcRegion],
    ] as const) {
      const step = rand() < 0.5 ? 1 : int(1, 4);
      const start = int(0, 3);
      const extent = start + (count > 0 ? step * (count - 1) + 1 : 0) + int(0, 3);
      shape.push(extent);
      region.push({ start, step, count });
    }
  }
  return { dstShape, srcShape, dstRegion, srcRegion };
}

describe("copyRegion", () => {
  it("matches a naive per-element copy for random boxes, all word types, k = 1, 2, 4", () => {
    const rand = prng(2024);
    let cases = 0;
    for (const ctor of CTORS) {
      for (const k of [1, 2, 4]) {
        for (let t = 0; t < 40; t++) {
          const rank = Math.floor(rand() * 5); // 0-d to 4-d
          const maxCount = [1, 150, 24, 9, 6][rank]!;
          const { dstShape, srcShape, dstRegion, srcRegion } = randomBoxes(rand, rank, maxCount);
          const src = randomArray(ctor, size(srcShape) * k, rand);
          const dst = randomArray(ctor, size(dstShape) * k, rand);
          const expected = dst.slice();
          naiveCopy(expected, dstShape, dstRegion, src, srcShape, srcRegion, k);
          copyRegion(dst, dstShape, dstRegion, src, srcShape, srcRegion, k);
          expectSame(dst, expected, JSON.stringify({ ctor: ctor.name, k, dstShape, srcShape, dstRegion, srcRegion }));
          cases++;
        }
      }
    }
    expect(cases).toBe(CTORS.length * 3 * 40);
  });

  it("copies 0-d arrays", () => {
    for (const k of [1, 2, 4]) {
      const src = Uint32Array.from({ length: k }, (_, i) => 7 + i);
      const dst = new Uint32Array(k);
      copyRegion(dst, [], [], src, [], [], k);
      expect(dst).toEqual(src);
    }
  });

  /** Counts `set` calls on `dst` while running `f`. */
  function countSets(dst: Words, f: () => void): number {
    let calls = 0;
    const original = dst.set;
    (dst as { set: unknown }).set = function (this: Words, ...args: unknown[]) {
      calls++;
      return (original as (...a: unknown[]) => void).apply(this, args);
    };
    try {
      f();
    } finally {
      delete (dst as { set?: unknown }).set;
    }
    return calls;
  }

  it("merges contiguous trailing dimensions into one run", () => {
    const shape = [20, 30, 40];
    const src = Uint32Array.from({ length: size(shape) * 2 }, (_, i) => i);
    const all = shape.map((n) => ({ start: 0, step: 1, count: n }));

    // Whole array, k = 2: a single memcpy.
    let dst = new Uint32Array(src.length);
    expect(countSets(dst, () => copyRegion(dst, shape, all, src, shape, all, 2))).toBe(1);
    expect(dst).toEqual(src);

    // Rows 5..9 of full planes: still one run.
    const rows: Region[] = [{ start: 5, step: 1, count: 5 }, all[1]!, all[2]!];
    dst = new Uint32Array(src.length);
    expect(countSets(dst, () => copyRegion(dst, shape, rows, src, shape, rows, 2))).toBe(1);
    const expected = new Uint32Array(src.length);
    naiveCopy(expected, shape, rows, src, shape, rows, 2);
    expect(dst).toEqual(expected);

    // Partial inner rows: one run per (plane, row).
    const box: Region[] = [{ start: 1, step: 1, count: 2 }, { start: 3, step: 2, count: 4 }, { start: 0, step: 1, count: 40 }];
    dst = new Uint32Array(src.length);
    expect(countSets(dst, () => copyRegion(dst, shape, box, src, shape, box, 2))).toBe(8);

    // A single-element-wide (dropped) dimension between full ones still merges across.
    const slab: Region[] = [all[0]!, { start: 7, step: 1, count: 1 }, all[2]!];
    const dstShape = [20, 1, 40];
    const dstAll = dstShape.map((n) => ({ start: 0, step: 1, count: n }));
    const out = new Uint32Array(size(dstShape) * 2);
    expect(countSets(out, () => copyRegion(out, dstShape, dstAll, src, shape, slab, 2))).toBe(20);
    const ref = new Uint32Array(out.length);
    naiveCopy(ref, dstShape, dstAll, src, shape, slab, 2);
    expect(out).toEqual(ref);

    // Short contiguous runs and strided inner dims use loops, not set.
    const strided: Region[] = [all[0]!, all[1]!, { start: 0, step: 2, count: 20 }];
    dst = new Uint32Array(src.length);
    expect(countSets(dst, () => copyRegion(dst, shape, strided, src, shape, strided, 1))).toBe(0);
  });

  it("preserves NaN payloads through word views", () => {
    const f = new Float64Array(8);
    const bytes = new Uint8Array(f.buffer);
    const dv = new DataView(f.buffer);
    for (let i = 0; i < 8; i++) dv.setUint32(i * 8 + 4, 0x7ff00000 | (i + 1), true); // signalling NaNs with payloads
    const srcView = wordView(bytes, 8);
    const out = new Uint8Array(64);
    const dstView = wordView(out, 8);
    const r: Region[] = [{ start: 0, step: 1, count: 8 }];
    copyRegion(dstView.words, [8], r, srcView.words, [8], r, srcView.k);
    expect(out).toEqual(bytes);
  });

  it("rejects mismatched or out-of-bounds regions", () => {
    const a = new Uint8Array(100);
    const b = new Uint8Array(100);
    const r = (start: number, step: number, count: number): Region => ({ start, step, count });
    expect(() => copyRegion(a, [10, 10], [r(0, 1, 2), r(0, 1, 3)], b, [10, 10], [r(0, 1, 2), r(0, 1, 4)])).toThrow(RangeError);
    expect(() => copyRegion(a, [10, 10], [r(0, 1, 2), r(0, 1, 3)], b, [100], [r(0, 1, 6)])).toThrow(RangeError);
    expect(() => copyRegion(a, [10], [r(5, 2, 3)], b, [10], [r(0, 1, 3)])).not.toThrow(); // 5, 7, 9
    expect(() => copyRegion(a, [10], [r(5, 2, 4)], b, [10], [r(0, 1, 4)])).toThrow(RangeError); // 11
    expect(() => copyRegion(a, [10], [r(-1, 1, 3)], b, [10], [r(0, 1, 3)])).toThrow(RangeError);
    expect(() => copyRegion(a, [10], [r(0, 0, 3)], b, [10], [r(0, 1, 3)])).toThrow(RangeError);
    expect(() => copyRegion(a, [200], [r(0, 1, 3)], b, [10], [r(0, 1, 3)])).toThrow(RangeError);
    expect(() => copyRegion(a, [10], [r(0, 1, 3)], new Uint16Array(10), [10], [r(0, 1, 3)])).toThrow(TypeError);
    expect(() => copyRegion(a, [10], [r(0, 1, 3)], b, [10], [r(0, 1, 3)], 0)).toThrow(RangeError);
  });
});

describe("fillRegion", () => {
  it("matches a naive per-element fill for random boxes, all word types, k = 1, 2, 4", () => {
    const rand = prng(777);
    for (const ctor of CTORS) {
      for (const k of [1, 2, 4]) {
        for (let t = 0; t < 40; t++) {
          const rank = Math.floor(rand() * 5);
          const maxCount = [1, 150, 24, 9, 6][rank]!;
          const { dstShape, dstRegion } = randomBoxes(rand, rank, maxCount);
          const dst = randomArray(ctor, size(dstShape) * k, rand);
          const value = randomArray(ctor, k, rand);
          const expected = dst.slice();
          naiveFill(expected, dstShape, dstRegion, value, k);
          fillRegion(dst, dstShape, dstRegion, value, k);
          expectSame(dst, expected, JSON.stringify({ ctor: ctor.name, k, dstShape, dstRegion }));
        }
      }
    }
  });

  it("fills long runs of multi-slot elements (copyWithin doubling)", () => {
    for (const k of [2, 3, 4]) {
      for (const n of [17, 32, 33, 100, 1000]) {
        const shape = [3, n];
        const region: Region[] = [{ start: 1, step: 1, count: 1 }, { start: 0, step: 1, count: n }];
        const dst = new Uint16Array(size(shape) * k);
        const value = Uint16Array.from({ length: k }, (_, i) => 1000 + i);
        fillRegion(dst, shape, region, value, k);
        const expected = new Uint16Array(dst.length);
        naiveFill(expected, shape, region, value, k);
        expect(dst).toEqual(expected);
      }
    }
  });

  it("fills 0-d arrays and rejects bad values", () => {
    const dst = new Uint32Array(4);
    fillRegion(dst, [], [], Uint32Array.of(1, 2, 3, 4), 4);
    expect([...dst]).toEqual([1, 2, 3, 4]);
    expect(() => fillRegion(dst, [], [], Uint32Array.of(1), 4)).toThrow(RangeError);
    expect(() => fillRegion(dst, [], [], Uint8Array.of(1), 1)).toThrow(TypeError);
  });
});

describe("wordView", () => {
  it("picks the widest aligned word type", () => {
    const buffer = new ArrayBuffer(64);
    const cases: [Uint8Array | ArrayBufferView, number, string, number, number][] = [
      [new Uint8Array(buffer), 8, "Uint32Array", 2, 16],
      [new Uint8Array(buffer), 16, "Uint32Array", 4, 16],
      [new Uint8Array(buffer), 4, "Uint32Array", 1, 16],
      [new Uint8Array(buffer), 2, "Uint16Array", 1, 32],
      [new Uint8Array(buffer), 1, "Uint8Array", 1, 64],
      [new Uint8Array(buffer), 3, "Uint8Array", 3, 64],
      [new Uint8Array(buffer, 2, 16), 8, "Uint16Array", 4, 8],
      [new Uint8Array(buffer, 1, 16), 8, "Uint8Array", 8, 16],
      [new Uint8Array(buffer, 0, 6), 4, "Uint16Array", 2, 3],
      [new Float64Array(buffer, 8, 4), 8, "Uint32Array", 2, 8],
      [new DataView(buffer, 4, 12), 2, "Uint16Array", 1, 6],
      [new Uint8Array(buffer, 4, 0), 8, "Uint32Array", 2, 0],
    ];
    for (const [bytes, itemsize, type, k, length] of cases) {
      const { words, k: gotK } = wordView(bytes, itemsize);
      expect(words.constructor.name).toBe(type);
      expect(gotK).toBe(k);
      expect(words.length).toBe(length);
      expect(words.buffer).toBe(buffer); // zero-copy
      expect(words.byteOffset).toBe(bytes.byteOffset);
      expect(words.byteLength).toBe(bytes.byteLength);
    }
    expect(() => wordView(new Uint8Array(4), 0)).toThrow(RangeError);
  });
});
