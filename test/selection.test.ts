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
    const bad: unknown[] = [1.5, NaN, Infinity, "1", "..", true, {}, [1], 1n, undefined, { kind: "slice", start: 0.5, stop: null, step: null }, { kind: "slice", start: null, stop: "3", step: null }];
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
