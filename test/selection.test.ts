import { describe, expect, it } from "vitest";
import { SelectionError } from "../src/errors.js";
import {
  countChunks,
  ELLIPSIS,
  normalizeSelection,
  parseSelection,
  projectChunks,
  selectionShape,
  slice,
  type ChunkProjection,
  type DimSelection,
  type SelectionItem,
} from "../src/selection.js";
import { prng } from "./helpers/prng.js";


const s = (start: number | null, stop: number | null, step: number | null = null) => ({ kind: "slice" as const, start, stop, step });

describe("slice()", () => {
  it("follows Python's argument convention", () => {
    expect(slice(10)).toEqual(s(null, 10));
    expect(slice(2, 10)).toEqual(s(2, 10));
    expect(slice(null, null, 2)).toEqual(s(null, null, 2));
    expect(slice()).toEqual(s(null, null));
    expect(slice(2, undefined)).toEqual(s(2, null));
    expect(slice(null)).toEqual(s(null, null));
  });
});

describe("parseSelection", () => {
  it.each<[string, SelectionItem[]]>([
    ["", []],
    ["   ", []],
    ["5", [5]],
    ["-1", [-1]],
    ["+3", [3]],
    [":", [s(null, null)]],
    ["::", [s(null, null)]],
    ["...", [ELLIPSIS]],
    ["..., 3", [ELLIPSIS, 3]],
    ["1:-1", [s(1, -1)]],
    [" 2 : 8 : 3 ", [s(2, 8, 3)]],
    ["0:100, ::2, -1", [s(0, 100), s(null, null, 2), -1]],
    [":5", [s(null, 5)]],
    ["5:", [s(5, null)]],
    ["::3", [s(null, null, 3)]],
    ["1:2:", [s(1, 2)]],
    ["1,", [1]],
    ["1, ..., :", [1, ELLIPSIS, s(null, null)]],
    ["\t0 ,\n1", [0, 1]],
  ])("parses %j", (text, expected) => {
    expect(parseSelection(text)).toEqual(expected);
  });

  it.each(["1:2:3:4", "a", "1..2", ",,", ",", "[1]", "1.5", "::0", "::-1", "1e3", "1 2", ", 1", "1,,2", "x:1", "1:y", "..:", "99999999999999999999"])(
    "rejects %j with a SelectionError quoting the text",
    (text) => {
      let error: unknown;
      try {
        parseSelection(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SelectionError);
      expect((error as Error).message).toContain(`"${text}"`);
    },
  );

  it("reports step >= 1", () => {
    expect(() => parseSelection("::0")).toThrow(/step must be >= 1/);
  });
});

describe("normalizeSelection", () => {
  const full = (n: number): DimSelection => ({ start: 0, step: 1, count: n, dropped: false });

  it("selects everything for null, undefined, [], ''", () => {
    for (const sel of [null, undefined, [], "", "..."] as const) {
      expect(normalizeSelection(sel, [3, 4])).toEqual([full(3), full(4)]);
    }
  });

  it("handles integers, including negative ones", () => {
    expect(normalizeSelection([2, -1], [5, 7])).toEqual([
      { start: 2, step: 1, count: 1, dropped: true },
      { start: 6, step: 1, count: 1, dropped: true },
    ]);
    expect(normalizeSelection("-5", [5])).toEqual([{ start: 0, step: 1, count: 1, dropped: true }]);
  });

  it("rejects out-of-bounds integers with NumPy's message", () => {
    expect(() => normalizeSelection([10], [10])).toThrow("index 10 is out of bounds for axis 0 with size 10");
    expect(() => normalizeSelection([0, -4], [1, 3])).toThrow("index -4 is out of bounds for axis 1 with size 3");
    expect(() => normalizeSelection([0], [0])).toThrow(SelectionError);
  });

  it("follows Python slice semantics (clamping, negatives)", () => {
    // Expected values are Python's range(*slice(...).indices(n)).
    const cases: [Parameters<typeof slice>, number, number[]][] = [
      [[2, 8], 10, [2, 3, 4, 5, 6, 7]],
      [[-3, null], 10, [7, 8, 9]],
      [[null, -3], 10, [0, 1, 2, 3, 4, 5, 6]],
      [[-100, 100], 5, [0, 1, 2, 3, 4]],
      [[3, 1], 10, []],
      [[1, -1, 3], 10, [1, 4, 7]],
      [[null, null, 4], 10, [0, 4, 8]],
      [[20, null], 10, []],
      [[0, 0], 10, []],
      [[-1, null, 5], 10, [9]],
      [[2, 9, 7], 10, [2]],
      [[2, 10, 7], 10, [2, 9]],
    ];
    for (const [args, n, expected] of cases) {
      const [d] = normalizeSelection([slice(...args)], [n]);
      const got = Array.from({ length: d!.count }, (_, i) => d!.start + i * d!.step);
      expect(got, JSON.stringify(args)).toEqual(expected);
      expect(d!.dropped).toBe(false);
    }
  });

  it("expands an ellipsis anywhere", () => {
    const shape = [2, 3, 4, 5];
    expect(normalizeSelection([1, ELLIPSIS, 2], shape)).toEqual([
      { start: 1, step: 1, count: 1, dropped: true },
      full(3),
      full(4),
      { start: 2, step: 1, count: 1, dropped: true },
    ]);
    expect(normalizeSelection("..., 0", shape)[3]).toEqual({ start: 0, step: 1, count: 1, dropped: true });
    expect(normalizeSelection([ELLIPSIS, 0, 1, 2, 3], shape)).toHaveLength(4); // ellipsis expands to nothing
    expect(normalizeSelection([0, null], shape)).toEqual([{ start: 0, step: 1, count: 1, dropped: true }, full(3), full(4), full(5)]);
  });

  it("rejects too many indices and multiple ellipses", () => {
    expect(() => normalizeSelection([0, 0, 0], [2, 2])).toThrow(/too many indices for array: array is 2-dimensional, but 3 were indexed/);
    expect(() => normalizeSelection("0, 0, 0", [2, 2])).toThrow(SelectionError);
    expect(() => normalizeSelection([ELLIPSIS, ELLIPSIS], [2, 2])).toThrow(/single ellipsis/);
  });

  it("rejects bad steps, non-integers and wrong types", () => {
    expect(() => normalizeSelection([slice(null, null, 0)], [5])).toThrow(/step must be >= 1/);
    expect(() => normalizeSelection([slice(null, null, -1)], [5])).toThrow(/step must be >= 1/);
    const bad: unknown[] = [1.5, NaN, Infinity, "1", "..", true, {}, [1.5], 1n, undefined, { kind: "slice", start: 0.5, stop: null, step: null }, { kind: "slice", start: null, stop: "3", step: null }];
    for (const item of bad) {
      expect(() => normalizeSelection([item] as never, [5]), String(item)).toThrow(SelectionError);
    }
    expect(() => normalizeSelection(5 as never, [5])).toThrow(SelectionError);
    expect(() => normalizeSelection({} as never, [5])).toThrow(SelectionError);
  });

  it("attaches the array path to errors", () => {
    try {
      normalizeSelection("1:2:3:4", [5], { path: "temperature" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SelectionError);
      expect((e as SelectionError).path).toBe("temperature");
      expect((e as Error).message).toContain("temperature");
    }
    expect(() => normalizeSelection([7], [5], { path: "a/b" })).toThrow(/array "a\/b"/);
  });

  it("supports 0-d arrays", () => {
    for (const sel of [[], "...", "", null, undefined, [ELLIPSIS]] as const) {
      expect(normalizeSelection(sel, [])).toEqual([]);
    }
    expect(() => normalizeSelection([0], [])).toThrow(/too many indices/);
    expect(() => normalizeSelection(":", [])).toThrow(SelectionError);
  });

  it("allows empty selections", () => {
    expect(normalizeSelection("5:5, :", [10, 0])).toEqual([
      { start: 5, step: 1, count: 0, dropped: false },
      { start: 0, step: 1, count: 0, dropped: false },
    ]);
  });

  it("selectionShape drops integer-indexed dimensions", () => {
    expect(selectionShape(normalizeSelection("1, ::2, ...", [4, 10, 3]))).toEqual([5, 3]);
    expect(selectionShape(normalizeSelection("1, 2", [4, 10]))).toEqual([]);
    expect(selectionShape([])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// projectChunks against a brute-force reference
// ---------------------------------------------------------------------------------------------

/** Iterates all index tuples of a shape in C order. */
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

const flat = (idx: readonly number[], shape: readonly number[]) => idx.reduce((acc, v, i) => acc * shape[i]! + v, 0);
const key = (idx: readonly number[]) => idx.join(",");

interface Reference {
  /** global flat index → output flat index */
  mapping: Map<number, number>;
  /** touched chunk keys, C-ordered */
  chunks: string[];
  complete: Map<string, boolean>;
}

function reference(sel: readonly DimSelection[], shape: readonly number[], chunkShape: readonly number[]): Reference {
  const outShape = sel.map((d) => d.count);
  const mapping = new Map<number, number>();
  const selectedPerChunk = new Map<string, number>();
  for (const o of indices(outShape)) {
    const g = o.map((j, a) => sel[a]!.start + j * sel[a]!.step);
    mapping.set(flat(g, shape), flat(o, outShape));
    const c = key(g.map((v, a) => Math.floor(v / chunkShape[a]!)));
    selectedPerChunk.set(c, (selectedPerChunk.get(c) ?? 0) + 1);
  }
  const grid = shape.map((n, a) => Math.ceil(n / chunkShape[a]!));
  const chunks: string[] = [];
  const complete = new Map<string, boolean>();
  for (const c of indices(grid)) {
    const k = key(c);
    if (!selectedPerChunk.has(k)) continue;
    chunks.push(k);
    const inBounds = c.reduce((acc, ci, a) => acc * Math.min(chunkShape[a]!, shape[a]! - ci * chunkShape[a]!), 1);
    complete.set(k, inBounds === selectedPerChunk.get(k));
  }
  return { mapping, chunks, complete };
}

function actual(sel: readonly DimSelection[], shape: readonly number[], chunkShape: readonly number[]): Reference & { projections: ChunkProjection[] } {
  const outShape = sel.map((d) => d.count);
  const mapping = new Map<number, number>();
  const chunks: string[] = [];
  const complete = new Map<string, boolean>();
  const projections = [...projectChunks(sel, shape, chunkShape)];
  for (const p of projections) {
    const k = key(p.chunkCoords);
    chunks.push(k);
    complete.set(k, p.complete);
    expect(p.chunkRegion).toHaveLength(shape.length);
    expect(p.outRegion).toHaveLength(shape.length);
    const counts = p.chunkRegion.map((r) => r.count);
    expect(p.outRegion.map((r) => r.count)).toEqual(counts);
    for (const i of indices(counts)) {
      const g = i.map((j, a) => {
        const r = p.chunkRegion[a]!;
        const local = r.start + j * r.step;
        expect(local).toBeGreaterThanOrEqual(0);
        expect(local).toBeLessThan(chunkShape[a]!);
        return p.chunkCoords[a]! * chunkShape[a]! + local;
      });
      const o = i.map((j, a) => p.outRegion[a]!.start + j * p.outRegion[a]!.step);
      const gf = flat(g, shape);
      expect(mapping.has(gf)).toBe(false); // no element delivered twice
      mapping.set(gf, flat(o, outShape));
    }
  }
  return { mapping, chunks, complete, projections };
}

function randomItem(rand: () => number, n: number): SelectionItem {
  const r = rand();
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  if (r < 0.15 && n > 0) return int(-n, n - 1);
  if (r < 0.25) return null;
  const step = rand() < 0.35 ? null : rand() < 0.7 ? int(1, 4) : int(5, 12);
  if (rand() < 0.2) {
    // Anything goes: out-of-range, reversed (empty) and negative bounds.
    const bound = () => (rand() < 0.25 ? null : int(-n - 3, n + 3));
    return slice(bound(), bound(), step);
  }
  // Mostly non-empty, sometimes written with negative or overshooting bounds.
  const a = int(0, Math.max(0, n - 1));
  const b = int(a + 1, n + 2);
  const start = rand() < 0.2 ? null : rand() < 0.3 ? a - n : a;
  const stop = rand() < 0.2 ? null : rand() < 0.3 && b < n ? b - n : b;
  return slice(start, stop, step);
}

describe("projectChunks", () => {
  it("matches a brute-force reference on random cases", () => {
    const rand = prng(12345);
    let cases = 0;
    let nonEmpty = 0;
    for (let t = 0; t < 600; t++) {
      const rank = 1 + Math.floor(rand() * 4);
      const maxSide = [0, 40, 14, 8, 6][rank]!;
      const shape = Array.from({ length: rank }, () => (rand() < 0.05 ? 0 : 1 + Math.floor(rand() * maxSide)));
      const chunkShape = shape.map((n) => 1 + Math.floor(rand() * Math.max(1, n + 1)));
      const items: SelectionItem[] = shape.map((n) => randomItem(rand, n));
      if (rand() < 0.2) items.splice(Math.floor(rand() * (items.length + 1)), Math.floor(rand() * 2), ELLIPSIS);
      const sel = normalizeSelection(items, shape);
      cases++;

      const ref = reference(sel, shape, chunkShape);
      const got = actual(sel, shape, chunkShape);
      const label = JSON.stringify({ shape, chunkShape, items });
      expect(got.mapping, label).toEqual(ref.mapping);
      expect(got.chunks, label).toEqual(ref.chunks); // same chunks, C order
      expect(got.complete, label).toEqual(ref.complete);
      expect(countChunks(sel, chunkShape), label).toBe(got.projections.length);
      if (got.projections.length > 0) nonEmpty++;
    }
    expect(cases).toBe(600);
    expect(nonEmpty).toBeGreaterThan(350);
  });

  it("skips chunks between strided indices (step 7 over chunks of 3)", () => {
    const sel = normalizeSelection([slice(null, null, 7)], [30]);
    const got = [...projectChunks(sel, [30], [3])];
    // indices 0, 7, 14, 21, 28 → chunks 0, 2, 4, 7, 9
    expect(got.map((p) => p.chunkCoords[0])).toEqual([0, 2, 4, 7, 9]);
    expect(got.map((p) => p.chunkRegion[0])).toEqual([0, 1, 2, 0, 1].map((start) => ({ start, step: 7, count: 1 })));
    expect(got.map((p) => p.outRegion[0]!.start)).toEqual([0, 1, 2, 3, 4]);
    expect(countChunks(sel, [3])).toBe(5);
  });

  it("flags complete chunks, including ragged edge chunks", () => {
    const sel = normalizeSelection("2:", [10]);
    const got = [...projectChunks(sel, [10], [4])];
    expect(got.map((p) => [p.chunkCoords[0], p.complete])).toEqual([
      [0, false],
      [1, true],
      [2, true], // edge chunk holds only indices 8, 9
    ]);
    // A dropped dimension is complete only when its chunk holds one element.
    const d = normalizeSelection("3, :", [4, 2]);
    expect([...projectChunks(d, [4, 2], [1, 2])].map((p) => p.complete)).toEqual([true]);
    expect([...projectChunks(d, [4, 2], [2, 2])].map((p) => p.complete)).toEqual([false]);
  });

  it("yields nothing for empty selections", () => {
    const sel = normalizeSelection("5:5, :", [10, 10]);
    expect([...projectChunks(sel, [10, 10], [3, 3])]).toEqual([]);
    expect(countChunks(sel, [3, 3])).toBe(0);
  });

  it("handles 0-d arrays", () => {
    const got = [...projectChunks([], [], [])];
    expect(got).toEqual([{ chunkCoords: [], chunkRegion: [], outRegion: [], complete: true }]);
    expect(countChunks([], [])).toBe(1);
  });

  it("is lazy over huge grids", () => {
    const shape = [1e7, 1e7];
    const sel = normalizeSelection(null, shape);
    const start = performance.now();
    const it = projectChunks(sel, shape, [1, 1]);
    const first = [it.next().value, it.next().value, it.next().value] as ChunkProjection[];
    expect(performance.now() - start).toBeLessThan(50);
    expect(first.map((p) => p.chunkCoords)).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ]);
    expect(first.every((p) => p.complete)).toBe(true);
    expect(countChunks(sel, [1, 1])).toBe(1e14);
  });

  it("validates ranks and chunk sizes eagerly", () => {
    expect(() => projectChunks([], [1], [1])).toThrow(RangeError);
    expect(() => projectChunks(normalizeSelection(null, [4]), [4], [0])).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Orthogonal index arrays
// ---------------------------------------------------------------------------------------------

describe("index arrays (orthogonal indexing)", () => {
  const list = (index: number[]): DimSelection => ({ start: 0, step: 1, count: index.length, dropped: false, index });

  it("normalise negatives, keep order and repeats, per dimension", () => {
    expect(normalizeSelection([[3, -1, 0, 3], slice(1, 3)], [5, 4])).toEqual([list([3, 4, 0, 3]), { start: 1, step: 1, count: 2, dropped: false }]);
    expect(selectionShape(normalizeSelection([[2, 2, 2], 1, [-4]], [3, 4, 4]))).toEqual([3, 1]);
  });

  it("accept every integer typed array, including 64-bit ones", () => {
    const want = [list([1, 4, 0])];
    const arrays = [
      Int8Array.from([1, -1, 0]),
      Uint8Array.from([1, 4, 0]),
      Uint8ClampedArray.from([1, 4, 0]),
      Int16Array.from([1, -1, 0]),
      Uint16Array.from([1, 4, 0]),
      Int32Array.from([1, -1, 0]),
      Uint32Array.from([1, 4, 0]),
    ];
    for (const array of arrays) expect(normalizeSelection([array], [5]), array.constructor.name).toEqual(want);
    expect(normalizeSelection([BigInt64Array.from([1n, -1n, 0n])], [5])).toEqual(want);
    expect(normalizeSelection([BigUint64Array.from([1n, 4n, 0n])], [5])).toEqual(want);
  });

  it("take a boolean mask as long as the dimension", () => {
    expect(normalizeSelection([[true, false, false, true, true]], [5])).toEqual([list([0, 3, 4])]);
    expect(normalizeSelection([[false, false]], [2])).toEqual([list([])]);
  });

  it("allow an empty index array (nothing selected)", () => {
    const sel = normalizeSelection([[], null], [5, 3]);
    expect(sel[0]).toEqual(list([]));
    expect(selectionShape(sel)).toEqual([0, 3]);
    expect([...projectChunks(sel, [5, 3], [2, 2])]).toEqual([]);
    expect(countChunks(sel, [2, 2])).toBe(0);
  });

  it("refuse out-of-bounds, non-integer and mixed entries, float arrays and bad masks with a SelectionError naming the array", () => {
    const bad: [unknown, RegExp][] = [
      [[0, 5], /index 5 is out of bounds for axis 0 with size 5/],
      [[-6], /index -6 is out of bounds for axis 0 with size 5/],
      [[1, 1.5], /holds 1.5 at position 1, not an integer/],
      [[1, "2"], /holds "2" at position 1/],
      [[1, null], /holds null at position 1/],
      [[NaN], /not an integer/],
      [[2 ** 53], /not an integer/],
      [[true, 1, false, true, true], /boolean index on axis 0 holds 1 at position 1/],
      [[true, false], /boolean index on axis 0 has length 2, the dimension has size 5/],
      [[1, true], /holds true at position 1/],
      [new Float64Array([1, 2]), /must hold integers, got a Float64Array/],
      [new Float32Array([1]), /must hold integers/],
      [BigInt64Array.from([5n]), /index 5 is out of bounds/],
      [BigInt64Array.from([2n ** 60n]), /not an integer/],
    ];
    for (const [item, pattern] of bad) {
      let error: unknown;
      try {
        normalizeSelection([item] as never, [5], { path: "grid/t" });
      } catch (e) {
        error = e;
      }
      expect(error, String(item)).toBeInstanceOf(SelectionError);
      expect((error as SelectionError).path).toBe("grid/t");
      expect((error as Error).message, String(item)).toMatch(pattern);
    }
  });

  it("count towards the selection size limit", () => {
    const big = Array.from({ length: 1000 }, (_, i) => i);
    // 1000 × 1e6 × 1e6 = 1e15 elements is the limit; one more index goes over it.
    expect(() => normalizeSelection([big, null, null], [1000, 1e6, 1e6])).not.toThrow();
    expect(() => normalizeSelection([[...big, 0], null, null], [1000, 1e6, 1e6])).toThrow(/more than the 1000000000000000/);
  });

  it("project permuted indices chunk by chunk, in chunk order, each chunk once", () => {
    // Chunks of 3 over [10]: 7 → chunk 2, 1 → chunk 0, 8 → chunk 2, 0 → chunk 0, 4 → chunk 1.
    const sel = normalizeSelection([[7, 1, 8, 0, 4]], [10]);
    const got = [...projectChunks(sel, [10], [3])];
    expect(got.map((p) => p.chunkCoords)).toEqual([[0], [1], [2]]);
    expect(got.map((p) => p.chunkRegion[0])).toEqual([
      { start: 0, step: 1, count: 2, index: [1, 0] }, // descending in the chunk: listed
      { start: 1, step: 1, count: 1 }, // one index: a plain region
      { start: 1, step: 1, count: 2 }, // 7, 8 ascending: a progression
    ]);
    expect(got.map((p) => p.outRegion[0])).toEqual([
      { start: 0, step: 1, count: 2, index: [1, 3] },
      { start: 4, step: 1, count: 1 },
      { start: 0, step: 1, count: 2, index: [0, 2] }, // outputs 0 and 2: not unit-stride, listed
    ]);
    expect(countChunks(sel, [3])).toBe(3);
  });

  it("keep repeats for reads and only the last occurrence for writes (dedupe)", () => {
    const sel = normalizeSelection([[2, 0, 2, 1, 0]], [3]);
    const read = [...projectChunks(sel, [3], [3])];
    expect(read).toHaveLength(1);
    expect(read[0].chunkRegion[0]).toEqual({ start: 0, step: 1, count: 5, index: [2, 0, 2, 1, 0] });
    expect(read[0].outRegion[0]).toEqual({ start: 0, step: 1, count: 5 });
    expect(read[0].complete).toBe(true); // all three positions are hit
    const write = [...projectChunks(sel, [3], [3], { dedupe: true })];
    // Positions 0, 1, 2 take outputs 4, 3, 2: the last occurrence of each.
    expect(write[0].chunkRegion[0]).toEqual({ start: 0, step: 1, count: 3 });
    expect(write[0].outRegion[0]).toEqual({ start: 0, step: 1, count: 3, index: [4, 3, 2] });
    expect(write[0].complete).toBe(true);
    // A repeated index does not make a chunk complete.
    const twice = normalizeSelection([[0, 0, 1]], [6]);
    expect([...projectChunks(twice, [6], [3], { dedupe: true })].map((p) => p.complete)).toEqual([false]);
    expect([...projectChunks(twice, [6], [3])].map((p) => p.complete)).toEqual([false]);
  });

  it("match a brute-force reference with repeats, negatives and mixed slices (reads and deduplicated writes)", () => {
    const rand = prng(777);
    const pos = (r: { start: number; step: number; index?: number[] }, j: number) => (r.index ? r.index[j] : r.start + j * r.step);
    for (let t = 0; t < 300; t++) {
      const rank = 1 + Math.floor(rand() * 3);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(rand() * 12));
      const chunkShape = shape.map((n) => 1 + Math.floor(rand() * (n + 1)));
      const items: SelectionItem[] = shape.map((n) => {
        if (rand() < 0.5) return randomItem(rand, n);
        const length = Math.floor(rand() * 2 * n);
        return Array.from({ length }, () => Math.floor(rand() * 2 * n) - n);
      });
      const sel = normalizeSelection(items, shape);
      const outShape = sel.map((d) => d.count);
      const label = JSON.stringify({ shape, chunkShape, items });
      // Reference: every (array element, output element) pair, and per array element its last output.
      const pairs: string[] = [];
      const last = new Map<number, number>();
      const chunkOf = new Map<string, Set<number>>();
      for (const o of indices(outShape)) {
        const g = o.map((j, a) => pos(sel[a]!, j));
        pairs.push(`${flat(g, shape)}>${flat(o, outShape)}`);
        last.set(flat(g, shape), flat(o, outShape));
        const c = key(g.map((v, a) => Math.floor(v / chunkShape[a]!)));
        if (!chunkOf.has(c)) chunkOf.set(c, new Set());
        chunkOf.get(c)!.add(flat(g, shape));
      }
      const grid = shape.map((n, a) => Math.ceil(n / chunkShape[a]!));
      const chunks = [...indices(grid)].map(key).filter((k) => chunkOf.has(k));

      for (const dedupe of [false, true]) {
        const got: string[] = [];
        const gotLast = new Map<number, number>();
        const projections = [...projectChunks(sel, shape, chunkShape, { dedupe })];
        expect(projections.map((p) => key(p.chunkCoords)), label).toEqual(chunks);
        for (const p of projections) {
          const counts = p.chunkRegion.map((r) => r.count);
          expect(p.outRegion.map((r) => r.count), label).toEqual(counts);
          // Output regions are unit-stride or listed (readChunks consumers rely on it).
          for (const r of p.outRegion) expect(r.index !== undefined || r.step === 1, label).toBe(true);
          const inBounds = p.chunkCoords.reduce((n, c, a) => n * Math.min(chunkShape[a]!, shape[a]! - c * chunkShape[a]!), 1);
          expect(p.complete, label).toBe(chunkOf.get(key(p.chunkCoords))!.size === inBounds);
          for (const i of indices(counts)) {
            const g = i.map((j, a) => {
              const local = pos(p.chunkRegion[a]!, j);
              expect(local >= 0 && local < chunkShape[a]!, label).toBe(true);
              return p.chunkCoords[a]! * chunkShape[a]! + local;
            });
            const o = i.map((j, a) => pos(p.outRegion[a]!, j));
            got.push(`${flat(g, shape)}>${flat(o, outShape)}`);
            if (dedupe) {
              expect(gotLast.has(flat(g, shape)), `${label}: written twice`).toBe(false);
              gotLast.set(flat(g, shape), flat(o, outShape));
            }
          }
        }
        if (dedupe) expect(gotLast, label).toEqual(last);
        else expect(got.sort(), label).toEqual([...pairs].sort());
      }
      expect(countChunks(sel, chunkShape), label).toBe(chunks.length);
    }
  });
});
