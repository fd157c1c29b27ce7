/**
 * Chunk grids: where each chunk of a dimension starts and how long it is.
 *
 * A grid is one `GridDim` per dimension. A number is a regular dimension (every chunk that
 * long; a regular grid is simply its chunk shape, so the regular path never pays for this
 * abstraction). A `RectilinearDim` is a dimension of the "rectilinear" grid of zarr-extensions:
 * explicit edge lengths, kept as runs of equal edges. Runs rather than expanded edges, because
 * a run-length entry may repeat an edge 2^40 times: nothing here grows with a repeat count, only
 * with the length of the metadata document.
 *
 * As in zarr-python, the edges may run past the array (the last chunks then lie partly or wholly
 * outside it); chunks are encoded at their full edge lengths, and chunks that start at or past
 * the array's extent are never addressed.
 */
import { MetadataError, ValueError, type ErrorContext } from "./errors.js";
import { stringifyJSON } from "./json.js";

/** A run of `count` chunks of edge length `size`. */
export interface EdgeRun {
  size: number;
  count: number;
}

/** One dimension of a grid: a regular chunk length, or rectilinear edges. */
export type GridDim = number | RectilinearDim;

/** A chunk grid, one entry per dimension. A regular grid is its chunk shape. */
export type ChunkGrid = readonly GridDim[];

export class RectilinearDim {
  /** Runs of equal edges (adjacent runs of one size merged). */
  readonly runs: readonly EdgeRun[];
  /** Sum of all edges (at least the extent). */
  readonly total: number;
  /** Number of chunks that overlap `[0, extent)`: the grid's length along this dimension. */
  readonly count: number;
  /** The longest edge among those chunks (the first edge when the extent is 0). */
  readonly maxSize: number;
  /** Per run: its first chunk index and its first element. */
  private readonly firstChunk: number[];
  private readonly firstElement: number[];

  constructor(
    runs: readonly EdgeRun[],
    readonly extent: number,
  ) {
    const merged: EdgeRun[] = [];
    for (const run of runs) {
      const last = merged[merged.length - 1];
      if (last && last.size === run.size) last.count += run.count;
      else merged.push({ size: run.size, count: run.count });
    }
    this.runs = merged;
    this.firstChunk = [];
    this.firstElement = [];
    let chunk = 0;
    let element = 0;
    let count = 0;
    let maxSize = 0;
    for (const run of merged) {
      this.firstChunk.push(chunk);
      this.firstElement.push(element);
      if (element < extent) {
        count += Math.min(run.count, Math.ceil((extent - element) / run.size));
        maxSize = Math.max(maxSize, run.size);
      }
      chunk += run.count;
      element += run.size * run.count;
    }
    this.total = element;
    this.count = count;
    this.maxSize = maxSize || (merged[0]?.size ?? 1);
  }

  /** The run holding element `i` (0 <= i < total). */
  runAt(i: number): number {
    return upperBound(this.firstElement, i) - 1;
  }

  /** The run holding chunk `c`. */
  runOfChunk(c: number): number {
    return upperBound(this.firstChunk, c) - 1;
  }

  /** The chunk holding element `i`. */
  chunkOf(i: number): number {
    const r = this.runAt(i);
    return this.firstChunk[r] + Math.floor((i - this.firstElement[r]) / this.runs[r].size);
  }

  /** First element of chunk `c`. */
  offset(c: number): number {
    const r = this.runOfChunk(c);
    return this.firstElement[r] + (c - this.firstChunk[r]) * this.runs[r].size;
  }

  /** Edge length of chunk `c` (its encoded length, also where it runs past the extent). */
  size(c: number): number {
    return this.runs[this.runOfChunk(c)].size;
  }

  /** First chunk and first element of run `r`. */
  runStart(r: number): { chunk: number; element: number } {
    return { chunk: this.firstChunk[r], element: this.firstElement[r] };
  }

  /** The run-length form of the metadata: bare integers for single edges, `[size, count]` for repeats. */
  toJSON(): (number | [number, number])[] {
    return this.runs.map((r) => (r.count === 1 ? r.size : [r.size, r.count]));
  }

  /**
   * The edges of the chunks that overlap the array, expanded. Refused past `limit` edges (a
   * run can repeat an edge 2^40 times): use `runs` there.
   */
  edges(limit = 1 << 24): number[] {
    if (this.count > limit) throw new ValueError(`${this.count} chunk edges are too many to list; read them as runs (grid)`);
    const out: number[] = [];
    for (let r = 0; r < this.runs.length && out.length < this.count; r++) {
      const n = Math.min(this.runs[r].count, this.count - out.length);
      for (let j = 0; j < n; j++) out.push(this.runs[r].size);
    }
    return out;
  }
}

/** The first position whose value is greater than `x` in an ascending list. */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function isRegularGrid(grid: ChunkGrid): grid is readonly number[] {
  return grid.every((d) => typeof d === "number");
}

/** Chunks along one dimension (those that overlap the array). */
export function dimCount(dim: GridDim, extent: number): number {
  return typeof dim === "number" ? Math.ceil(extent / dim) : dim.count;
}

/** First element of chunk `c` along a dimension. */
export function dimOffset(dim: GridDim, c: number): number {
  return typeof dim === "number" ? c * dim : dim.offset(c);
}

/** Encoded length of chunk `c` along a dimension. */
export function dimSize(dim: GridDim, c: number): number {
  return typeof dim === "number" ? dim : dim.size(c);
}

/** The chunk holding element `i` along a dimension. */
export function dimChunkOf(dim: GridDim, i: number): number {
  return typeof dim === "number" ? Math.floor(i / dim) : dim.chunkOf(i);
}

/** The encoded shape of the chunk at `coords`. */
export function chunkShapeAt(grid: ChunkGrid, coords: readonly number[]): number[] {
  return grid.map((dim, d) => dimSize(dim, coords[d]));
}

/** The largest chunk per dimension: what buffers and codec limits are sized for. */
export function boundingShape(grid: ChunkGrid): number[] {
  return grid.map((dim) => (typeof dim === "number" ? dim : dim.maxSize));
}

/** Chunks in the grid (those that overlap the array). */
export function gridCount(grid: ChunkGrid, shape: readonly number[]): number {
  return grid.reduce<number>((n, dim, d) => n * dimCount(dim, shape[d]), 1);
}

/** The metadata form of a rectilinear grid's `chunk_shapes`. */
export function chunkShapesJSON(grid: ChunkGrid): (number | (number | [number, number])[])[] {
  return grid.map((dim) => (typeof dim === "number" ? dim : dim.toJSON()));
}

/** Distinct edge lengths along a dimension (one per run at most). */
export function distinctSizes(dim: GridDim): number[] {
  return typeof dim === "number" ? [dim] : [...new Set(dim.runs.map((r) => r.size))];
}

/**
 * Parses `chunk_shapes` of a rectilinear grid against the array shape. Per dimension: a bare
 * integer (a regular step) or a list of edges, each an integer or a `[size, count]` run. Edges
 * and counts must be positive integers, the sum of the edges must cover the extent and stay an
 * exact double (below 2^53). Memory is bounded by the document, whatever the counts say.
 */
export function parseChunkShapes(value: unknown, shape: readonly number[], context: ErrorContext): GridDim[] {
  const fail = (why: string): never => {
    throw new MetadataError(`rectilinear chunk_grid: ${why}`, context);
  };
  if (!Array.isArray(value)) return fail(`chunk_shapes must be a list, got ${brief(value)}`);
  if (value.length !== shape.length) fail(`chunk_shapes has ${value.length} dimensions, shape [${shape}] has ${shape.length}`);
  const positive = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 1;
  return value.map((spec: unknown, d): GridDim => {
    if (typeof spec === "number") {
      if (!positive(spec)) fail(`dimension ${d}: an edge length must be a positive integer, got ${brief(spec)}`);
      return spec;
    }
    if (!Array.isArray(spec)) return fail(`dimension ${d}: expected an integer or a list of edges, got ${brief(spec)}`);
    if (spec.length === 0) fail(`dimension ${d} has no edges`);
    const runs: EdgeRun[] = [];
    let total = 0;
    for (const entry of spec as unknown[]) {
      let run: EdgeRun;
      if (Array.isArray(entry)) {
        if (entry.length !== 2) fail(`dimension ${d}: a run must be [size, count], got ${brief(entry)}`);
        const [size, count] = entry as unknown[];
        if (!positive(size)) fail(`dimension ${d}: an edge length must be a positive integer, got ${brief(size)}`);
        if (!positive(count)) fail(`dimension ${d}: a run's repeat count must be a positive integer, got ${brief(count)}`);
        run = { size: size as number, count: count as number };
      } else {
        if (!positive(entry)) fail(`dimension ${d}: an edge length must be a positive integer, got ${brief(entry)}`);
        run = { size: entry as number, count: 1 };
      }
      total += run.size * run.count;
      // Checked as we go: a sum past 2^53 is no longer exact, and no array that large exists.
      if (!Number.isSafeInteger(total)) fail(`dimension ${d}: the edges sum to more than 2^53-1`);
      runs.push(run);
    }
    if (total < shape[d]) fail(`dimension ${d}: the edges sum to ${total}, less than the extent ${shape[d]}`);
    return new RectilinearDim(runs, shape[d]);
  });
}

/**
 * A grid as the API takes it (`create({ chunks })`): per dimension a length, or a list of edges
 * in the metadata's form (integers and `[length, count]` runs). All lengths: a regular grid.
 */
export type GridSpec = readonly (number | readonly (number | readonly [number, number])[])[];

/** True when a grid spec lists edges for some dimension (a rectilinear grid). */
export function isRectilinearSpec(chunks: unknown): boolean {
  return Array.isArray(chunks) && chunks.some((c) => Array.isArray(c));
}

function brief(value: unknown): string {
  const text = stringifyJSON(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
