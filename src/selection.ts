/**
 * Selections and their projection onto the chunk grid.
 *
 * A user selection (NumPy-like: integers, slices, `...`, or the same as text; per dimension
 * also an array of integers or a boolean mask — "orthogonal indexing") is first normalised
 * against the array shape into one `DimSelection` per dimension — an arithmetic progression
 * `start, start+step, …` of `count` indices, or an explicit list of in-bounds indices.
 * Everything downstream works on those two forms only, so the NumPy corner cases (negative
 * indices, clamping, ellipsis expansion) live in exactly one place.
 *
 * `projectChunks` then splits a normalised selection into per-chunk pieces: for each touched
 * chunk, which strided box inside the chunk is selected and where that box lands in the
 * output. It is lazy, because a selection over a large array may touch millions of chunks.
 */

import { platform } from "./platform/current.js";
import { SelectionError, type ErrorContext } from "./errors.js";
import { RectilinearDim, type ChunkGrid, type GridDim } from "./chunk-grid.js";

// ---------------------------------------------------------------------------------------------
// Selection items
// ---------------------------------------------------------------------------------------------

/** A Python-style slice. `null` bounds mean "from the beginning" / "to the end"; `null` step means 1. */
export interface Slice {
  readonly kind: "slice";
  start: number | null;
  stop: number | null;
  step: number | null;
}

/**
 * Builds a slice with Python's argument convention: `slice(10)` is `0:10` (a single argument is
 * the stop), `slice(2, 10)` is `2:10`, `slice(null, null, 2)` is `::2`, `slice()` is `:`.
 * Values are validated later, by `normalizeSelection`, where the array path is known.
 */
export function slice(start?: number | null, stop?: number | null, step?: number | null): Slice {
  // arguments.length (not `stop === undefined`) so that slice(2, undefined) still means 2: like Python.
  if (arguments.length === 1) return { kind: "slice", start: null, stop: start ?? null, step: null };
  return { kind: "slice", start: start ?? null, stop: stop ?? null, step: step ?? null };
}

export const ELLIPSIS = "...";

/**
 * An orthogonal index array: integers (negative count from the end; any order; repeats allowed)
 * or a boolean mask as long as the dimension (selects where true).
 */
export type IndexArray =
  | readonly number[]
  | readonly boolean[]
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One indexer: an integer (dimension dropped), a slice, `null` (the whole dimension), `...`,
 * or an index array (one result entry per index, in the given order).
 */
export type SelectionItem = number | Slice | null | typeof ELLIPSIS | IndexArray;

/** A selection: text (`"0:10, ::2"`), a list of items, or `null`/`undefined` for everything. */
export type Selection = string | readonly SelectionItem[] | null | undefined;

/**
 * A normalised selection along one dimension: element indices `start + i*step` for
 * `0 <= i < count`, all in bounds. `dropped` marks integer indexers, whose dimension does not
 * appear in the output shape (count is then 1).
 *
 * With `index` (an index array), the indices are `index[i]` instead (in bounds, any order,
 * repeats allowed; `count === index.length`); `start` is then 0 and `step` 1, meaningless.
 */
export interface DimSelection {
  start: number;
  step: number;
  count: number;
  dropped: boolean;
  index?: number[];
}

// ---------------------------------------------------------------------------------------------
// Text parsing
// ---------------------------------------------------------------------------------------------

const INTEGER = /^[+-]?\d+$/;

/**
 * Parses NumPy-like selection text: `"0:100, ::2, -1"`, `"..."`, `"..., 3"`, `" 2 : 8 : 3 "`.
 * Whitespace is ignored around items and slice parts; an empty string means "everything" and
 * parses to `[]`. A single trailing comma is accepted (`"1,"`), as in Python's `a[1,]`.
 * Anything else malformed raises a SelectionError quoting the text.
 */
export function parseSelection(text: string): SelectionItem[] {
  return parseText(text, {});
}

function parseText(text: string, context: ErrorContext): SelectionItem[] {
  if (typeof text !== "string") {
    throw new SelectionError(`selection text must be a string, got ${describe(text)}`, context);
  }
  const fail = (why: string): never => {
    throw new SelectionError(`invalid selection "${text}": ${why}`, context);
  };
  if (text.trim() === "") return [];

  const parts = text.split(",");
  // Python allows one trailing comma after a non-empty item ("1," is the tuple (1,)).
  if (parts.length > 1 && parts[parts.length - 1]!.trim() === "") parts.pop();

  const integer = (raw: string, what: string): number => {
    if (!INTEGER.test(raw)) fail(`${what} "${raw}" is not an integer`);
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) fail(`${what} "${raw}" is too large`);
    return value;
  };

  return parts.map((part): SelectionItem => {
    const item = part.trim();
    if (item === "") fail("empty item");
    if (item === ELLIPSIS) return ELLIPSIS;
    if (!item.includes(":")) return integer(item, "index");

    const bounds = item.split(":").map((p) => p.trim());
    if (bounds.length > 3) fail(`slice "${item}" has more than three parts`);
    const [start, stop, step] = bounds.map((p, i) =>
      p === "" ? null : integer(p, i === 0 ? "slice start" : i === 1 ? "slice stop" : "slice step"),
    );
    if (step !== undefined && step !== null && step < 1) fail(`step must be >= 1, got ${step}`);
    return { kind: "slice", start: start ?? null, stop: stop ?? null, step: step ?? null };
  });
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/**
 * Resolves a selection against an array shape, with NumPy semantics: negative integers count
 * from the end and must be in bounds; slice bounds are clamped like Python's `slice.indices`;
 * steps must be integers >= 1; one `...` expands to as many full dimensions as needed; missing
 * trailing items select whole dimensions. Errors are SelectionErrors carrying `context.path`.
 */
export function normalizeSelection(
  selection: Selection,
  shape: readonly number[],
  context: { path?: string } = {},
): DimSelection[] {
  const ctx: ErrorContext = context.path === undefined ? {} : { path: context.path };
  const fail = (message: string): never => {
    throw new SelectionError(message, ctx);
  };

  let items: readonly unknown[];
  if (selection === null || selection === undefined) items = [];
  else if (typeof selection === "string") items = parseText(selection, ctx);
  else if (Array.isArray(selection)) items = selection;
  else return fail(`a selection must be a string, an array of indexers or null, got ${describe(selection)}`);

  const rank = shape.length;
  let ellipses = 0;
  for (const item of items) if (item === ELLIPSIS) ellipses++;
  if (ellipses > 1) fail("an index can only have a single ellipsis ('...')");
  const indexed = items.length - ellipses;
  if (indexed > rank) {
    fail(`too many indices for array: array is ${rank}-dimensional, but ${indexed} were indexed`);
  }

  // Expand the ellipsis (or the implicit trailing one) into `null` = whole dimension.
  const expanded: unknown[] = [];
  for (const item of items) {
    if (item === ELLIPSIS) for (let i = 0; i < rank - indexed; i++) expanded.push(null);
    else expanded.push(item);
  }
  while (expanded.length < rank) expanded.push(null);

  const sel = expanded.map((item, axis) => normalizeItem(item, axis, shape[axis]!, fail));
  const elements = sel.reduce((n, d) => n * d.count, 1);
  if (elements > MAX_SELECTION_ELEMENTS) {
    fail(`the selection holds ${elements} elements, more than the ${MAX_SELECTION_ELEMENTS} one operation can address; select less`);
  }
  return sel;
}

/**
 * The most elements one selection may hold. Far beyond what fits in memory (reads check that
 * separately), but it keeps element counts, chunk counts and byte offsets exact in doubles.
 */
export const MAX_SELECTION_ELEMENTS = 1e15;

/** The largest buffer this runtime allocates (2^32 bytes on Node 20). */
export const MAX_BUFFER_BYTES: number = platform.maxBufferBytes;

/**
 * Throws a SelectionError when a read of `elements` elements of `itemsize` bytes cannot be held
 * in one buffer, instead of a RangeError (or an exhausted heap) from the allocation.
 */
export function checkReadSize(elements: number, itemsize: number, context: ErrorContext = {}): void {
  const bytes = elements * itemsize;
  if (bytes > MAX_BUFFER_BYTES) {
    throw new SelectionError(
      `a read of ${elements} elements (${bytes} bytes) does not fit in one buffer (at most ${MAX_BUFFER_BYTES} bytes); read it in parts, or stream it with readChunks()`,
      context,
    );
  }
}

function normalizeItem(item: unknown, axis: number, size: number, fail: (message: string) => never): DimSelection {
  if (item === null) return { start: 0, step: 1, count: size, dropped: false };
  if (Array.isArray(item) || isIntegerView(item)) {
    const { count, index } = normalizeIndexArray(item as ArrayLike<unknown>, axis, size, fail);
    return { start: 0, step: 1, count, dropped: false, index };
  }
  if (ArrayBuffer.isView(item)) fail(`an index array on axis ${axis} must hold integers, got a ${item.constructor.name}`);

  if (typeof item === "number") {
    if (!Number.isSafeInteger(item)) fail(`index ${item} on axis ${axis} is not an integer`);
    const index = item < 0 ? item + size : item;
    if (index < 0 || index >= size) fail(`index ${item} is out of bounds for axis ${axis} with size ${size}`);
    return { start: index, step: 1, count: 1, dropped: true };
  }

  if (typeof item === "object" && (item as { kind?: unknown }).kind === "slice") {
    const { start, stop, step } = item as Slice;
    const bound = (value: unknown, what: string): number | null => {
      if (value === null || value === undefined) return null;
      if (typeof value !== "number" || !Number.isSafeInteger(value)) {
        fail(`slice ${what} on axis ${axis} must be an integer or null, got ${describe(value)}`);
      }
      return value as number;
    };
    const b = bound(start, "start");
    const e = bound(stop, "stop");
    const s = bound(step, "step") ?? 1;
    if (s < 1) fail(`step must be >= 1, got ${s} on axis ${axis}`);
    // Python's slice.indices for a positive step: negative bounds count from the end, then clamp to [0, size].
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const first = b === null ? 0 : clamp(b);
    const end = e === null ? size : clamp(e);
    const count = end > first ? Math.ceil((end - first) / s) : 0;
    return { start: first, step: s, count, dropped: false };
  }

  return fail(`invalid indexer on axis ${axis}: ${describe(item)}`);
}

/** Integer typed arrays (not float ones: NumPy refuses float index arrays too). */
function isIntegerView(value: unknown): boolean {
  return (
    value instanceof Int8Array ||
    value instanceof Uint8Array ||
    value instanceof Uint8ClampedArray ||
    value instanceof Int16Array ||
    value instanceof Uint16Array ||
    value instanceof Int32Array ||
    value instanceof Uint32Array ||
    value instanceof BigInt64Array ||
    value instanceof BigUint64Array
  );
}

/**
 * An index array → its in-bounds indices. Integers follow the rules of a single integer index
 * (negatives count from the end); a boolean array is a mask, as long as the dimension. An
 * empty array selects nothing (NumPy allows it); a mix of booleans and numbers is refused.
 */
function normalizeIndexArray(
  item: ArrayLike<unknown>,
  axis: number,
  size: number,
  fail: (message: string) => never,
): { count: number; index: number[] } {
  const n = item.length;
  if (n > 0 && typeof item[0] === "boolean") {
    if (n !== size) fail(`boolean index on axis ${axis} has length ${n}, the dimension has size ${size}`);
    const index: number[] = [];
    for (let i = 0; i < n; i++) {
      const flag = item[i];
      if (typeof flag !== "boolean") fail(`boolean index on axis ${axis} holds ${describe(flag)} at position ${i}`);
      if (flag) index.push(i);
    }
    return { count: index.length, index };
  }
  const index = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const raw = item[i];
    const value = typeof raw === "bigint" && raw >= BigInt(Number.MIN_SAFE_INTEGER) && raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      fail(`index array on axis ${axis} holds ${describe(raw)} at position ${i}, not an integer`);
    }
    const at = (value as number) < 0 ? (value as number) + size : (value as number);
    if (at < 0 || at >= size) fail(`index ${value as number} is out of bounds for axis ${axis} with size ${size}`);
    index[i] = at;
  }
  return { count: n, index };
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

/** The output shape: counts of the dimensions that are not dropped by integer indexers. */
export function selectionShape(sel: readonly DimSelection[]): number[] {
  const out: number[] = [];
  for (const d of sel) if (!d.dropped) out.push(d.count);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Chunk projection
// ---------------------------------------------------------------------------------------------

/**
 * One dimension of a strided box: indices `start + i*step` for `0 <= i < count`.
 *
 * With `index`, the indices are listed instead: `index[i]` for `0 <= i < count` (count equals
 * its length; start/step are then ignored). Index arrays project to listed regions on both
 * sides — positions inside the chunk, and positions in the output — which the copy kernels walk
 * with a separate, generic loop, so strided boxes keep their fast path. A listed region may be
 * shared between projections: treat it as read-only.
 */
export interface Region {
  start: number;
  step: number;
  count: number;
  index?: number[];
}

export interface ProjectOptions {
  /**
   * For writes: when an index array repeats a position, keep only its last occurrence (NumPy
   * assignment semantics: the last value wins), so each chunk position is written once.
   */
  dedupe?: boolean;
}

export interface ChunkProjection {
  /** Grid coordinates of the chunk. */
  chunkCoords: number[];
  /** Full rank: the selected elements inside the chunk, relative to the chunk origin. */
  chunkRegion: Region[];
  /**
   * Full rank: where those elements go in the output, whose full-rank shape is
   * `sel.map(d => d.count)` (dropped dimensions included, with count 1).
   */
  outRegion: Region[];
  /** Every element of the chunk that lies inside the array is selected (so a write can skip reading it). */
  complete: boolean;
  /**
   * The chunk's encoded shape, on rectilinear grids only (chunks differ in shape there); on a
   * regular grid every chunk has the grid's chunk shape.
   */
  chunkShape?: number[];
}

/**
 * The chunks touched by one dimension's selection, enumerable by position in O(1).
 *
 * This stands in for a materialised list of (chunk, chunkRegion, outRegion) per dimension:
 * the entries follow from two closed forms, so nothing proportional to the number of chunks
 * is ever allocated — a [1e7, 1e7] array with 1×1 chunks costs as little as a tiny one.
 *
 * - step <= chunk: consecutive selected indices are at most one chunk apart, so every chunk
 *   between the first and last selected index is touched ("dense" mode, entry i = chunk first+i).
 * - step > chunk: every selected index falls in its own chunk, and the chunks in between are
 *   skipped ("sparse" mode, entry i = selected index i).
 */
interface DimProjection {
  readonly length: number;
  /** Fills dimension `axis` of a projection with entry `i`; returns whether that dimension is complete. */
  fill(i: number, axis: number, coords: number[], chunkRegion: Region[], outRegion: Region[]): boolean;
}

class DimChunks implements DimProjection {
  readonly length: number;
  private readonly sparse: boolean;
  private readonly firstChunk: number;

  constructor(
    private readonly sel: DimSelection,
    private readonly chunk: number,
    private readonly size: number,
  ) {
    const { start, step, count } = sel;
    this.sparse = step > chunk;
    this.firstChunk = Math.floor(start / chunk);
    if (count === 0) this.length = 0;
    else if (this.sparse) this.length = count;
    else this.length = Math.floor((start + step * (count - 1)) / chunk) - this.firstChunk + 1;
  }

  fill(i: number, axis: number, coords: number[], chunkRegion: Region[], outRegion: Region[]): boolean {
    const { start, step, count } = this.sel;
    const chunk = this.chunk;
    let chunkIndex: number, j0: number, j1: number;
    if (this.sparse) {
      chunkIndex = Math.floor((start + step * i) / chunk);
      j0 = j1 = i;
    } else {
      chunkIndex = this.firstChunk + i;
      const lo = chunkIndex * chunk;
      // First and last selection positions j with lo <= start + j*step < lo + chunk.
      j0 = lo <= start ? 0 : Math.ceil((lo - start) / step);
      j1 = Math.min(count - 1, Math.floor((lo + chunk - 1 - start) / step));
    }
    const origin = chunkIndex * chunk;
    const n = j1 - j0 + 1;
    coords[axis] = chunkIndex;
    chunkRegion[axis] = { start: start + j0 * step - origin, step, count: n };
    outRegion[axis] = { start: j0, step: 1, count: n };
    // n distinct in-chunk indices equal to the in-bounds extent can only be all of them.
    return n === Math.min(chunk, this.size - origin);
  }
}

/**
 * The chunks a slice touches along a rectilinear dimension. Within one run of equal edges the
 * grid is regular, so each touched run is a stretch handled with the closed forms of
 * `DimChunks` (dense or sparse); the stretches are listed once (one per touched run, so
 * bounded by the metadata, whatever its repeat counts) and entry `i` is found by bisection.
 */
class EdgeDimChunks implements DimProjection {
  readonly length: number;
  /** Per stretch: entries before it, first chunk, first element, edge, selection positions j0..j1, sparse. */
  private readonly before: number[] = [];
  private readonly stretches: { chunk: number; origin: number; edge: number; j0: number; j1: number; sparse: boolean; first: number }[] = [];

  constructor(
    private readonly sel: DimSelection,
    private readonly dim: RectilinearDim,
    private readonly size: number,
  ) {
    const { start, step, count } = sel;
    let length = 0;
    if (count > 0) {
      const last = start + step * (count - 1);
      for (let r = dim.runAt(start), end = dim.runAt(last); r <= end; r++) {
        const { chunk, element } = dim.runStart(r);
        const edge = dim.runs[r]!.size;
        const stop = element + edge * dim.runs[r]!.count;
        const j0 = element <= start ? 0 : Math.ceil((element - start) / step);
        const j1 = Math.min(count - 1, Math.floor((stop - 1 - start) / step));
        if (j0 > j1) continue;
        const sparse = step > edge;
        const first = Math.floor((start + j0 * step - element) / edge);
        const n = sparse ? j1 - j0 + 1 : Math.floor((start + j1 * step - element) / edge) - first + 1;
        this.before.push(length);
        this.stretches.push({ chunk, origin: element, edge, j0, j1, sparse, first });
        length += n;
      }
    }
    this.length = length;
  }

  fill(i: number, axis: number, coords: number[], chunkRegion: Region[], outRegion: Region[]): boolean {
    const { start, step } = this.sel;
    let lo = 0;
    let hi = this.before.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.before[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    const s = this.stretches[lo]!;
    const k = i - this.before[lo]!;
    let local: number, j0: number, j1: number;
    if (s.sparse) {
      j0 = j1 = s.j0 + k;
      local = Math.floor((start + step * j0 - s.origin) / s.edge);
    } else {
      local = s.first + k;
      const chunkStart = s.origin + local * s.edge;
      j0 = Math.max(s.j0, chunkStart <= start ? 0 : Math.ceil((chunkStart - start) / step));
      j1 = Math.min(s.j1, Math.floor((chunkStart + s.edge - 1 - start) / step));
    }
    const origin = s.origin + local * s.edge;
    const n = j1 - j0 + 1;
    coords[axis] = s.chunk + local;
    chunkRegion[axis] = { start: start + j0 * step - origin, step, count: n };
    outRegion[axis] = { start: j0, step: 1, count: n };
    return n === Math.min(s.edge, this.size - origin);
  }
}

/** The indices of an index array that fall in one chunk: where they are in the chunk, and in the output. */
interface IndexGroup {
  chunkIndex: number;
  chunk: Region;
  out: Region;
  complete: boolean;
}

/**
 * The chunks touched by an index-array dimension: its indices grouped by chunk (in chunk
 * order), so that each chunk is fetched and decoded once however the indices are ordered.
 * Built eagerly — it is proportional to the index array, which the caller holds anyway.
 */
class IndexDimChunks implements DimProjection {
  readonly length: number;
  private readonly groups: IndexGroup[];

  constructor(index: readonly number[], dim: GridDim, size: number, dedupe: boolean) {
    // Positions in the output, stably sorted by chunk: within a chunk they stay in output order.
    const chunkOf = typeof dim === "number" ? index.map((p) => Math.floor(p / dim)) : index.map((p) => dim.chunkOf(p));
    const order = Array.from(chunkOf.keys()).sort((a, b) => chunkOf[a]! - chunkOf[b]! || a - b);
    this.groups = [];
    for (let g = 0; g < order.length; ) {
      const chunkIndex = chunkOf[order[g]!]!;
      let end = g;
      while (end < order.length && chunkOf[order[end]!] === chunkIndex) end++;
      const origin = typeof dim === "number" ? chunkIndex * dim : dim.offset(chunkIndex);
      const length = typeof dim === "number" ? dim : dim.size(chunkIndex);
      this.groups.push(indexGroup(index, order.slice(g, end), chunkIndex, origin, length, size, dedupe));
      g = end;
    }
    this.length = this.groups.length;
  }

  fill(i: number, axis: number, coords: number[], chunkRegion: Region[], outRegion: Region[]): boolean {
    const group = this.groups[i]!;
    coords[axis] = group.chunkIndex;
    // Fresh region objects, as for slices; the index lists themselves are shared (read-only).
    chunkRegion[axis] = { ...group.chunk };
    outRegion[axis] = { ...group.out };
    return group.complete;
  }
}

/**
 * One chunk's share of an index array, from the output positions `outs` (ascending) whose
 * indices fall in it. Deduplicated (for writes), each chunk position keeps the last output
 * position that names it. Runs that happen to be progressions (a single index, a sorted
 * stretch) become plain strided regions and take the fast copy path.
 */
function indexGroup(
  index: readonly number[],
  outs: number[],
  chunkIndex: number,
  origin: number,
  chunk: number,
  size: number,
  dedupe: boolean,
): IndexGroup {
  let at = outs.map((o) => index[o]! - origin);
  let from = outs;
  const distinct = new Map<number, number>();
  for (let j = 0; j < at.length; j++) distinct.set(at[j]!, from[j]!); // later occurrences overwrite
  if (dedupe && distinct.size < at.length) {
    // Sorted by chunk position: neighbours in memory, and a stable order for tests.
    at = [...distinct.keys()].sort((a, b) => a - b);
    from = at.map((p) => distinct.get(p)!);
  }
  const complete = distinct.size === Math.min(chunk, size - origin);
  // Output regions stay unit-stride or listed, as for slices (readChunks consumers rely on it).
  return { chunkIndex, chunk: listedRegion(at, false), out: listedRegion(from, true), complete };
}

/** A list of positions as a region: strided when it is an increasing progression, listed otherwise. */
function listedRegion(positions: number[], unitStep: boolean): Region {
  const progression = progressionOf(positions);
  if (progression && (!unitStep || progression.step === 1)) return progression;
  return { start: 0, step: 1, count: positions.length, index: positions };
}

function progressionOf(positions: readonly number[]): Region | undefined {
  const n = positions.length;
  if (n === 0) return undefined;
  const start = positions[0]!;
  const step = n > 1 ? positions[1]! - start : 1;
  if (step < 1) return undefined;
  for (let j = 2; j < n; j++) if (positions[j]! - positions[j - 1]! !== step) return undefined;
  return { start, step, count: n };
}

function checkGrid(sel: readonly DimSelection[], grid: ChunkGrid, shape?: readonly number[]): void {
  if (sel.length !== grid.length || (shape !== undefined && shape.length !== sel.length)) {
    throw new RangeError(
      `rank mismatch: selection has ${sel.length} dimensions, chunk shape ${grid.length}` +
        (shape === undefined ? "" : `, shape ${shape.length}`),
    );
  }
  for (const c of grid) {
    if (c instanceof RectilinearDim) continue;
    if (!Number.isSafeInteger(c) || c < 1) throw new RangeError(`chunk sizes must be positive integers, got [${grid.join(", ")}]`);
  }
}

/**
 * The chunks a normalised selection touches, in C order of chunk coordinates, each with the
 * selected box inside the chunk and its destination box in the output. Lazy: nothing is
 * computed for chunks not yet pulled. Yields nothing when any dimension selects no elements.
 * The rank/chunk-shape checks run eagerly (a RangeError is thrown by this call, not on first pull).
 *
 * `grid` is the chunk shape of a regular grid, or per dimension a length or rectilinear edges
 * (src/chunk-grid.ts); projections over rectilinear grids carry their chunk's shape.
 */
export function projectChunks(
  sel: readonly DimSelection[],
  shape: readonly number[],
  grid: ChunkGrid,
  options: ProjectOptions = {},
): Generator<ChunkProjection> {
  checkGrid(sel, grid, shape);
  const dedupe = options.dedupe ?? false;
  const dims = sel.map((d, axis) => dimChunks(d, grid[axis]!, shape[axis]!, dedupe));
  return iterateChunks(dims, grid.some((g) => typeof g !== "number") ? grid : undefined);
}

function dimChunks(sel: DimSelection, dim: GridDim, size: number, dedupe: boolean): DimProjection {
  if (sel.index) return new IndexDimChunks(sel.index, dim, size, dedupe);
  return typeof dim === "number" ? new DimChunks(sel, dim, size) : new EdgeDimChunks(sel, dim, size);
}

function* iterateChunks(dims: readonly DimProjection[], irregular: ChunkGrid | undefined): Generator<ChunkProjection> {
  const rank = dims.length;
  for (const d of dims) if (d.length === 0) return;
  // Odometer over per-dimension entry positions, last dimension fastest (C order).
  const position = new Array<number>(rank).fill(0);
  for (;;) {
    // Fresh arrays per projection: consumers may keep (or mutate) what they were given.
    const chunkCoords = new Array<number>(rank);
    const chunkRegion = new Array<Region>(rank);
    const outRegion = new Array<Region>(rank);
    let complete = true;
    for (let axis = 0; axis < rank; axis++) {
      if (!dims[axis]!.fill(position[axis]!, axis, chunkCoords, chunkRegion, outRegion)) complete = false;
    }
    if (irregular) {
      const chunkShape = chunkCoords.map((c, d) => {
        const dim = irregular[d]!;
        return typeof dim === "number" ? dim : dim.size(c);
      });
      yield { chunkCoords, chunkRegion, outRegion, complete, chunkShape };
    } else yield { chunkCoords, chunkRegion, outRegion, complete };

    let axis = rank - 1;
    for (; axis >= 0; axis--) {
      if (++position[axis]! < dims[axis]!.length) break;
      position[axis] = 0;
    }
    if (axis < 0) return;
  }
}

/** How many chunks `projectChunks` yields for this selection, without iterating them. */
export function countChunks(sel: readonly DimSelection[], grid: ChunkGrid): number {
  checkGrid(sel, grid);
  let total = 1;
  for (let axis = 0; axis < sel.length; axis++) {
    // The size only matters for the `complete` flag, not for which chunks are touched.
    const d = sel[axis]!;
    const dim = grid[axis]!;
    if (d.index) total *= new Set(d.index.map((p) => (typeof dim === "number" ? Math.floor(p / dim) : dim.chunkOf(p)))).size;
    else total *= typeof dim === "number" ? new DimChunks(d, dim, Infinity).length : new EdgeDimChunks(d, dim, Infinity).length;
  }
  return total;
}
