/**
 * Selections and their projection onto the chunk grid.
 *
 * A user selection (NumPy-like: integers, slices, `...`, or the same as text) is first
 * normalised against the array shape into one `DimSelection` per dimension — an arithmetic
 * progression `start, start+step, …` of `count` indices. Everything downstream (the read and
 * write engines, the copy kernels) works on those progressions only, so the NumPy corner cases
 * (negative indices, clamping, ellipsis expansion) live in exactly one place.
 *
 * `projectChunks` then splits a normalised selection into per-chunk pieces: for each touched
 * chunk, which strided box inside the chunk is selected and where that box lands in the
 * output. It is lazy, because a selection over a large array may touch millions of chunks.
 */

import { constants as bufferConstants } from "node:buffer";
import { SelectionError, type ErrorContext } from "./errors.js";

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

/** One indexer: an integer (dimension dropped), a slice, `null` (the whole dimension) or `...`. */
export type SelectionItem = number | Slice | null | typeof ELLIPSIS;

/** A selection: text (`"0:10, ::2"`), a list of items, or `null`/`undefined` for everything. */
export type Selection = string | readonly SelectionItem[] | null | undefined;

/**
 * A normalised selection along one dimension: element indices `start + i*step` for
 * `0 <= i < count`, all in bounds. `dropped` marks integer indexers, whose dimension does not
 * appear in the output shape (count is then 1).
 */
export interface DimSelection {
  start: number;
  step: number;
  count: number;
  dropped: boolean;
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
export const MAX_BUFFER_BYTES: number = bufferConstants.MAX_LENGTH;

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

/** One dimension of a strided box: indices `start + i*step` for `0 <= i < count`. */
export interface Region {
  start: number;
  step: number;
  count: number;
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
class DimChunks {
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

  /** Fills dimension `axis` of a projection with entry `i`; returns whether that dimension is complete. */
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

function checkGrid(sel: readonly DimSelection[], chunkShape: readonly number[], shape?: readonly number[]): void {
  if (sel.length !== chunkShape.length || (shape !== undefined && shape.length !== sel.length)) {
    throw new RangeError(
      `rank mismatch: selection has ${sel.length} dimensions, chunk shape ${chunkShape.length}` +
        (shape === undefined ? "" : `, shape ${shape.length}`),
    );
  }
  for (const c of chunkShape) {
    if (!Number.isSafeInteger(c) || c < 1) throw new RangeError(`chunk sizes must be positive integers, got [${chunkShape.join(", ")}]`);
  }
}

/**
 * The chunks a normalised selection touches, in C order of chunk coordinates, each with the
 * selected box inside the chunk and its destination box in the output. Lazy: nothing is
 * computed for chunks not yet pulled. Yields nothing when any dimension selects no elements.
 * The rank/chunk-shape checks run eagerly (a RangeError is thrown by this call, not on first pull).
 */
export function projectChunks(
  sel: readonly DimSelection[],
  shape: readonly number[],
  chunkShape: readonly number[],
): Generator<ChunkProjection> {
  checkGrid(sel, chunkShape, shape);
  return iterateChunks(sel.map((d, axis) => new DimChunks(d, chunkShape[axis]!, shape[axis]!)));
}

function* iterateChunks(dims: readonly DimChunks[]): Generator<ChunkProjection> {
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
    yield { chunkCoords, chunkRegion, outRegion, complete };

    let axis = rank - 1;
    for (; axis >= 0; axis--) {
      if (++position[axis]! < dims[axis]!.length) break;
      position[axis] = 0;
    }
    if (axis < 0) return;
  }
}

/** How many chunks `projectChunks` yields for this selection, without iterating them. */
export function countChunks(sel: readonly DimSelection[], chunkShape: readonly number[]): number {
  checkGrid(sel, chunkShape);
  let total = 1;
  for (let axis = 0; axis < sel.length; axis++) {
    // The size only matters for the `complete` flag, not for which chunks are touched.
    total *= new DimChunks(sel[axis]!, chunkShape[axis]!, Infinity).length;
  }
  return total;
}
