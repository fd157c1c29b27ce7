/**
 * Copy and convert arrays and groups between stores: change the format (v2 ↔ v3), the chunk
 * and shard shapes and the compression, optionally of a selection only, through the streaming
 * pipeline (src.readChunks() → dst.writer()) in bounded memory.
 *
 * The copy runs block by block. A block is a box of the result whose edges fall on destination
 * stored-chunk edges (so every destination chunk is completed inside one block and written once,
 * with no read-modify-write) and, where a small common multiple exists, on source chunk edges
 * too (so every source chunk is read once). Blocks are grown towards a share of the memory
 * budget so that each readChunks stream keeps the pipeline busy.
 */
import { ZarrArray, type OperationOptions } from "./array.js";
import { CodecChain } from "./codecs/chain.js";
import type { ChunkSpec, CodecMetadata } from "./codecs/codec.js";
import { getCodecFactory } from "./codecs/registry.js";
import { DATA_TYPES, bytesOf, memoryItemsize, product, type DataType } from "./dtype.js";
import { MetadataError, SelectionError, UnknownCodecError, ValueError, asAbortError, type ErrorContext } from "./errors.js";
import { ZarrGroup } from "./group.js";
import { create, createGroup, defaultSerializer, type CreateArrayOptions } from "./hierarchy.js";
import type { V2CodecConfig, ZarrFormat } from "./metadata.js";
import { slice, type DimSelection, type Selection, type SelectionItem } from "./selection.js";
import { boundingShape, chunkShapesJSON, gridCount, isRectilinearSpec, isRegularGrid, parseChunkShapes, type ChunkGrid, type GridDim, type GridSpec } from "./chunk-grid.js";
import { joinKey, type Store } from "./store.js";
import type { WriteItem } from "./writer.js";
import { sharedPool } from "../operators/pool.js";

export interface CopyOptions extends Omit<OperationOptions, "onProgress" | "prefetchBytes" | "pool"> {
  /** Path of the copy in the destination store (default ""). */
  path?: string;
  /** Copy only this part of the source array (arrays only): the copy has the selection's shape. */
  selection?: Selection;
  /** Format of the copy (default: the source's). */
  zarrFormat?: ZarrFormat;
  /**
   * Chunk shape of the copy (inner chunks when sharded), or (v3) a rectilinear grid as `create`
   * takes it. Default: the source's, clipped to the copy's shape; a copy of a whole rectilinear
   * array keeps its grid.
   */
  chunks?: GridSpec;
  /**
   * Shard shape (v3; may be rectilinear), or null for no sharding. Default: the source's shards
   * when the copy is v3 and `chunks` is not given; else none.
   */
  shards?: GridSpec | null;
  /**
   * Compression as bytes → bytes codecs in v3 form (see parseCompression); `[]` for none.
   * Default: the source's compression (a checksum is dropped when the copy is v2).
   */
  compression?: CodecMetadata[];
  /**
   * Value filters as array → array codecs in v3 form (numcodecs.delta, scale_offset, …); `[]` to
   * store plain values. Default: the source's (its v2 filters or v3 array → array codecs, a
   * transpose excepted). A v2 copy takes numcodecs filters only.
   */
  filters?: CodecMetadata[];
  /** Replace what is at the destination path. Default false: an existing node is a ContainsNodeError. */
  overwrite?: boolean;
  /**
   * Memory for the data in flight (default 256 MiB): a quarter for stored bytes fetched ahead
   * (split between the block being read and the next), half for destination chunks being
   * assembled; blocks are up to a quarter (at most 32 MiB).
   */
  memoryBytes?: number;
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyProgress {
  /** Path (in the source) of the array being copied. */
  path: string;
  arraysDone: number;
  arraysTotal: number;
  /** Source chunks (inner chunks of read shards) read, and their stored bytes. */
  chunksRead: number;
  bytesRead: number;
  /** Destination stored chunks (shards) committed — written, or deleted as fill-only — of the total. */
  chunksWritten: number;
  chunksTotal: number;
  bytesWritten: number;
  /** Uncompressed bytes handed to the writer (at most one block ahead of those stored), and in all. */
  dataBytesDone: number;
  dataBytesTotal: number;
}

export interface CopySummary {
  arrays: number;
  groups: number;
  chunksRead: number;
  bytesRead: number;
  chunksWritten: number;
  bytesWritten: number;
  /** Uncompressed bytes of all copied arrays. */
  dataBytes: number;
  elapsedMs: number;
}

const DEFAULT_MEMORY = 256 << 20;
/** Blocks aim at this size (or a quarter of the memory budget): large enough to keep the pipeline busy, small enough for even progress. */
const BLOCK_BYTES = 32 << 20;
/** Below this much data, codecs run inline: a pool costs more than it saves. */
const AUTO_POOL_MIN_BYTES = 8 << 20;

// ---------------------------------------------------------------------------------------------
// compression specs

const COMPRESSION_FORMS = "zstd[:level], gzip[:level], zlib[:level], lz4[:acceleration], blosc[:cname[:clevel[:shuffle]]] or none";

/**
 * Parses a compression spec such as "zstd:3", "gzip:6", "blosc:lz4:5:shuffle" or "none" into
 * v3 bytes → bytes codecs. Unknown names are an UnknownCodecError, bad parameters a MetadataError.
 */
export function parseCompression(text: string): CodecMetadata[] {
  const [name, ...params] = text.trim().split(":").map((p) => p.trim());
  const int = (value: string | undefined, fallback: number, what: string): number => {
    if (value === undefined || value === "") return fallback;
    if (!/^[+-]?\d+$/.test(value)) throw new MetadataError(`compression "${text}": ${what} must be an integer, got "${value}"`);
    return Number(value);
  };
  const maxParams = { none: 0, zstd: 1, gzip: 1, zlib: 1, lz4: 1, blosc: 3 }[name.toLowerCase()];
  if (maxParams === undefined) throw new UnknownCodecError(name, {});
  if (params.length > maxParams) throw new MetadataError(`compression "${text}": too many parameters (forms: ${COMPRESSION_FORMS})`);
  let codecs: CodecMetadata[];
  switch (name.toLowerCase()) {
    case "none":
      codecs = [];
      break;
    case "zstd":
      codecs = [{ name: "zstd", configuration: { level: int(params[0], 3, "the level"), checksum: false } }];
      break;
    case "gzip":
      codecs = [{ name: "gzip", configuration: { level: int(params[0], 5, "the level") } }];
      break;
    case "zlib":
      codecs = [{ name: "numcodecs.zlib", configuration: { level: int(params[0], 5, "the level") } }];
      break;
    case "lz4":
      codecs = [{ name: "numcodecs.lz4", configuration: { acceleration: int(params[0], 1, "the acceleration") } }];
      break;
    default: {
      const shuffle = params[2] === undefined || params[2] === "" ? "shuffle" : params[2];
      codecs = [{ name: "blosc", configuration: { cname: params[0] || "lz4", clevel: int(params[1], 5, "clevel"), shuffle, blocksize: 0 } }];
    }
  }
  // Validate the configuration now (levels, cnames, shuffles) rather than halfway into a copy.
  new CodecChain({ shape: [1], dataType: "uint16", fillValue: 0 }, [{ name: "bytes", configuration: { endian: "little" } }, ...codecs]);
  return codecs;
}

/** The v2 compressor equivalent to bytes → bytes codecs (checksums dropped: v2 has none). */
export function toV2Compressor(codecs: readonly CodecMetadata[], context: ErrorContext = {}): V2CodecConfig | null {
  const kept = codecs.filter((c) => c.name !== "crc32c");
  if (kept.length > 1) {
    throw new MetadataError(`Zarr v2 takes one compressor, the chain has ${kept.map((c) => c.name).join(" + ")}; choose a compression`, context);
  }
  if (kept.length === 0) return null;
  const { name } = kept[0];
  const config = (kept[0].configuration ?? {}) as Record<string, unknown>;
  switch (name) {
    case "zstd":
      return { id: "zstd", level: config.level ?? 0, ...(config.checksum ? { checksum: true } : {}) };
    case "gzip":
      return { id: "gzip", level: config.level ?? 5 };
    case "zlib":
    case "numcodecs.zlib":
      return { id: "zlib", level: config.level ?? 1 };
    case "numcodecs.lz4":
    case "lz4":
      return { id: "lz4", acceleration: config.acceleration ?? 1 };
    case "blosc":
    case "numcodecs.blosc": {
      const shuffle = typeof config.shuffle === "number" ? config.shuffle : ["noshuffle", "shuffle", "bitshuffle"].indexOf(String(config.shuffle ?? "noshuffle"));
      return { id: "blosc", cname: config.cname ?? "lz4", clevel: config.clevel ?? 5, shuffle, blocksize: config.blocksize ?? 0 };
    }
    default:
      throw new MetadataError(`codec "${name}" has no Zarr v2 equivalent; choose a compression`, context);
  }
}

/** numcodecs codecs on bytes: ahead of a compressor they are v2 filters; checksums after it have no v2 place. */
const V2_BYTE_FILTERS = new Set(["numcodecs.shuffle", "numcodecs.crc32", "numcodecs.adler32", "numcodecs.fletcher32"]);
const CHECKSUMS = new Set(["crc32c", "numcodecs.crc32", "numcodecs.adler32", "numcodecs.fletcher32"]);

/** A numcodecs codec in v3 form as its `.zarray` filter form (`{id, ...configuration}`). */
function toV2Filter(codec: CodecMetadata, context: ErrorContext): V2CodecConfig {
  if (!codec.name.startsWith("numcodecs.")) {
    throw new MetadataError(`codec "${codec.name}" has no Zarr v2 filter equivalent; copy with filters: [] (CLI: --filters none) to store plain values`, context);
  }
  return { id: codec.name.slice("numcodecs.".length), ...(codec.configuration ?? {}) };
}

/**
 * The v2 filters and compressor equivalent to v3 value filters and bytes → bytes codecs: byte
 * filters (shuffle, checksums) ahead of the compressor join the filters; checksums after it
 * are dropped, as v2 has no place for them.
 */
export function toV2FiltersAndCompressor(
  filters: readonly CodecMetadata[],
  compression: readonly CodecMetadata[],
  context: ErrorContext = {},
): { filters: V2CodecConfig[] | null; compressor: V2CodecConfig | null } {
  const v2Filters = filters.map((f) => toV2Filter(f, context));
  let i = 0;
  for (; i < compression.length && V2_BYTE_FILTERS.has(compression[i].name); i++) v2Filters.push(toV2Filter(compression[i], context));
  const rest = compression.slice(i).filter((c, j) => !(CHECKSUMS.has(c.name) && j > 0));
  return { filters: v2Filters.length ? v2Filters : null, compressor: toV2Compressor(rest, context) };
}

/** The data type the array → bytes codec sees after `filters` (packbits stores uint8, astype its type). */
function filteredType(spec: ChunkSpec, filters: readonly CodecMetadata[], context: ErrorContext): DataType {
  let current = spec;
  for (const filter of filters) {
    const codec = getCodecFactory(filter.name, context)(filter.configuration ?? {}, current, context);
    if (codec.kind !== "array_to_array") throw new MetadataError(`filter "${filter.name}" is not an array → array codec`, context);
    current = codec.resolveSpec(current);
  }
  return current.dataType;
}

/**
 * The value filters of an array (array → array codecs but transpose), in v3 form. Categorize
 * (v2 object strings stored as integer codes) is left out: the copy stores the strings as v3
 * `string`, which zarr-python 3 reads (it cannot read categorize).
 */
function sourceFilters(array: ZarrArray): CodecMetadata[] {
  const chain = array.sharding ? array.sharding.innerChain : array.chain;
  return chain.arrayToArray.filter((c) => c.name !== "transpose" && c.name !== "numcodecs.categorize").map((c) => c.toJSON());
}

/** Bytes → bytes codecs of an array as its (inner) chunks are compressed, in v3 form. */
function sourceCompression(array: ZarrArray): CodecMetadata[] {
  const chain = array.sharding ? array.sharding.innerChain : array.chain;
  return chain.bytesToBytes.map((c) => c.toJSON());
}

// ---------------------------------------------------------------------------------------------
// planning

/** What a copy of one array will create and how it reads the source. */
export interface ArrayCopyPlan extends Projection {
  create: CreateArrayOptions;
  /** Stored chunk (shard) shape of the copy (rectilinear grids: the largest along each dimension). */
  storedChunks: number[];
  /** The copy's grid of stored chunks (shards): `storedChunks` itself when regular. */
  storedGrid: ChunkGrid;
  chunksTotal: number;
  dataBytes: number;
}

/** Works out the destination layout of one array copy (nothing is written). */
export function planArrayCopy(source: ZarrArray, options: CopyOptions = {}): ArrayCopyPlan {
  const context = { path: source.path };
  const projection = project(source, options.selection);
  const { kept } = projection;
  const shape = resultShape(projection);
  const zarrFormat = options.zarrFormat ?? source.zarrFormat;
  const clip = (n: number, d: number) => Math.max(1, Math.min(n, shape[d]));
  // A whole rectilinear array copied to v3 keeps its grid (the edges still fit the shape).
  const whole = projection.selection.every((d, i) => !d.index && !d.dropped && d.start === 0 && d.step === 1 && d.count === source.shape[i]);
  const keepGrid = !isRegularGrid(source.grid) && zarrFormat === 3 && whole && options.chunks === undefined && options.shards === undefined;
  let chunksSpec: GridSpec;
  let shardsSpec: GridSpec | undefined;
  if (keepGrid) {
    chunksSpec = source.shards ? source.chunks : chunkShapesJSON(source.grid);
    if (source.shards) shardsSpec = chunkShapesJSON(source.grid);
  } else {
    chunksSpec = options.chunks ? [...options.chunks] : kept.map((i, d) => clip(source.chunks[i], d));
  }
  if (chunksSpec.length !== shape.length) {
    const text = isRectilinearSpec(chunksSpec) ? JSON.stringify(chunksSpec) : `[${chunksSpec}]`;
    throw new MetadataError(`chunks ${text} must have ${shape.length} dimensions, as the copy's shape [${shape}]`, context);
  }
  if (!keepGrid && options.shards) shardsSpec = [...options.shards];
  else if (!keepGrid && options.shards === undefined && zarrFormat === 3 && source.shards && !options.chunks) {
    // Clip the source's shards to the copy, keeping them whole multiples of the inner chunks.
    const inner = chunksSpec as number[];
    shardsSpec = kept.map((i, d) => Math.max(inner[d], Math.ceil(clip((source.shards as number[])[i], d) / inner[d]) * inner[d]));
  }
  if (shardsSpec && zarrFormat !== 3) throw new MetadataError("sharding needs Zarr format 3", context);
  if (shardsSpec && isRectilinearSpec(chunksSpec)) throw new MetadataError("with shards, chunks is the inner chunk shape: a list of lengths", context);
  const gridSpec = shardsSpec ?? chunksSpec;
  if (isRectilinearSpec(gridSpec) && zarrFormat !== 3) throw new MetadataError("rectilinear chunk grids need Zarr format 3", context);
  // Parsed now, as create() will: a grid that does not fit the copy's shape fails before anything is written.
  const storedGrid: ChunkGrid = isRectilinearSpec(gridSpec) ? parseChunkShapes(gridSpec, shape, context) : (gridSpec as number[]);
  const chunks = chunksSpec;
  const shards = shardsSpec;
  if (shards && !isRectilinearSpec(shards)) {
    if (shards.length !== shape.length) throw new MetadataError(`shards [${shards}] must have ${shape.length} dimensions`, context);
    (shards as number[]).forEach((s, d) => {
      if (s % (chunks as number[])[d] !== 0) throw new MetadataError(`shards [${shards}] must be multiples of the chunks [${chunks}]`, context);
    });
  }
  const compression = (options.compression ?? sourceCompression(source)).map((c) => ({ ...c }));
  const filters = (options.filters ?? sourceFilters(source)).map((c) => ({ ...c }));
  const dataType = source.dtype;
  const storedType = filteredType({ shape: chunks as number[], dataType, fillValue: source.fillValue }, filters, context);
  const create: CreateArrayOptions = {
    path: options.path ?? "",
    shape,
    chunks,
    dtype: dataType,
    zarrFormat,
    attributes: { ...source.attrs },
    overwrite: options.overwrite,
  };
  // Dimension names: v3 metadata has a field for them, v2 has xarray's _ARRAY_DIMENSIONS attribute.
  const attributes = create.attributes as Record<string, unknown>;
  const xarrayNames = attributes._ARRAY_DIMENSIONS;
  const names =
    source.dimensionNames ??
    (Array.isArray(xarrayNames) && xarrayNames.length === source.ndim && xarrayNames.every((n) => typeof n === "string") ? (xarrayNames as string[]) : null);
  if (zarrFormat === 3) {
    create.fillValue = source.fillValue;
    create.shards = shards;
    // v2 object strings become v3 `string` with vlen-utf8 (categorize is decoded away: see sourceFilters).
    create.codecs = [...filters, defaultSerializer(storedType), ...compression];
    if (names) {
      create.dimensionNames = kept.map((i) => names[i]);
      delete attributes._ARRAY_DIMENSIONS;
    }
  } else {
    if (names && names.every((n) => n !== null)) attributes._ARRAY_DIMENSIONS = kept.map((i) => names[i]);
    // v2 says "no fill value" with null; keep that when copying v2 to v2.
    create.fillValue = source.metadata.v2?.fillValueNull ? null : source.fillValue;
    const v2 = toV2FiltersAndCompressor(filters, compression, context);
    create.filters = v2.filters;
    create.compressor = v2.compressor;
  }
  return {
    ...projection,
    create,
    storedChunks: boundingShape(storedGrid),
    storedGrid,
    chunksTotal: gridCount(storedGrid, shape),
    dataBytes: product(shape) * DATA_TYPES[dataType].itemsize,
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A selection normalised against the source, and the source dimension of each dimension of the result. */
export interface Projection {
  source: ZarrArray;
  selection: DimSelection[];
  kept: number[];
}

function project(source: ZarrArray, selection: Selection): Projection {
  const sel = source.select(selection);
  return { source, selection: sel, kept: sel.map((d, i) => (d.dropped ? -1 : i)).filter((i) => i >= 0) };
}

function resultShape({ selection, kept }: Projection): number[] {
  return kept.map((i) => selection[i].count);
}

/**
 * The block shape of a copy: per dimension a multiple of the destination stored chunk, and of
 * the source read unit where their least common multiple stays small; then grown along the
 * last dimensions first, up to `targetBytes`.
 */
export function copyBlockShape(projection: Projection, storedChunks: readonly number[], targetBytes: number): number[] {
  const { source, selection, kept } = projection;
  const shape = resultShape(projection);
  // The grid reads are decoded on: inner chunks when shards are read piecewise.
  const readUnit = source.partialShardIO ? source.chunks : source.chunkShape;
  const unit = kept.map((i, d) => {
    const dst = storedChunks[d];
    const { step, start } = selection[i];
    // Source chunk edges line up with the copy's only for unit steps starting on a chunk edge.
    if (step !== 1 || start % readUnit[i] !== 0 || selection[i].index) return Math.max(1, Math.min(dst, shape[d]));
    const lcm = (dst / gcd(dst, readUnit[i])) * readUnit[i];
    return Math.max(1, Math.min(lcm <= 4 * Math.max(dst, readUnit[i]) ? lcm : dst, shape[d]));
  });
  const itemsize = memoryItemsize(source.dtype);
  const block = [...unit];
  for (let d = block.length - 1; d >= 0; d--) {
    const others = (product(block) / block[d]) * itemsize;
    const fits = Math.floor(targetBytes / others / unit[d]);
    block[d] = Math.max(1, Math.min(shape[d], Math.max(1, fits) * unit[d]));
    if (block[d] < shape[d]) break;
  }
  return block;
}

/** A box of a copy, in the copy's coordinates: `start` inclusive, `end` exclusive. */
export interface CopyRegion {
  start: number[];
  end: number[];
}

/** A block of the copy: where it starts and how large it is. */
interface Block {
  origin: number[];
  size: number[];
}

/**
 * Block starts along a rectilinear dimension of the copy's grid, within [start, end): on its chunk
 * edges, a block closing once it holds at least `block` elements (so each chunk is completed in
 * one block). `start` and `end` lie on chunk edges (or the extent).
 */
function blockCuts(dim: GridDim, start: number, end: number, block: number): number[] | undefined {
  if (typeof dim === "number") return undefined;
  const cuts = [start];
  for (let c = 0; c < dim.count; c++) {
    const edge = dim.offset(c) + dim.size(c);
    if (edge <= start) continue;
    if (edge >= end) break;
    if (edge - cuts[cuts.length - 1] >= block) cuts.push(edge);
  }
  return cuts;
}

/**
 * The blocks of a box of the copy (all of it by default) in C order, lazily. Along regular
 * dimensions blocks are `block` long; along rectilinear dimensions of `grid` they end on its
 * chunk edges.
 */
function* blocksOf(shape: readonly number[], block: readonly number[], grid?: ChunkGrid, region?: CopyRegion): Generator<Block> {
  const start = region?.start ?? shape.map(() => 0);
  const end = region?.end ?? shape;
  if (end.some((e, d) => e <= start[d])) return;
  const cuts = shape.map((_, d) => (grid ? blockCuts(grid[d], start[d], end[d], block[d]) : undefined));
  const counts = shape.map((_, d) => cuts[d]?.length ?? Math.ceil((end[d] - start[d]) / block[d]));
  const segment = (d: number, k: number): [number, number] => {
    const c = cuts[d];
    if (!c) {
      const origin = start[d] + k * block[d];
      return [origin, Math.min(block[d], end[d] - origin)];
    }
    const stop = k + 1 < c.length ? c[k + 1] : end[d];
    return [c[k], stop - c[k]];
  };
  const position = shape.map(() => 0);
  for (;;) {
    const parts = position.map((k, d) => segment(d, k));
    yield { origin: parts.map((p) => p[0]), size: parts.map((p) => p[1]) };
    let d = shape.length - 1;
    for (; d >= 0; d--) {
      if (++position[d] < counts[d]) break;
      position[d] = 0;
    }
    if (d < 0) return;
  }
}

/** The source selection that a block of the copy reads. */
function sourceSelection(projection: Projection, { origin, size }: Block): SelectionItem[] {
  return projection.selection.map((d, i) => {
    if (d.dropped) return d.start;
    const k = projection.kept.indexOf(i);
    const first = origin[k];
    const count = size[k];
    if (d.index) return d.index.slice(first, first + count);
    return slice(d.start + first * d.step, d.start + (first + count - 1) * d.step + 1, d.step);
  });
}

/**
 * The tasks of an array copy: boxes of the copy whose edges fall on destination stored-chunk
 * (shard) edges, and on source read-unit edges where a small common multiple exists, grown
 * towards `taskBytes`. Each destination object is then written by one task only, whole, and
 * each source chunk read by one task only — which is what lets tasks run anywhere, in any order,
 * more than once. A process that copies a task splits it again into memory-sized blocks.
 */
export function* copyTasks(plan: ArrayCopyPlan, taskBytes: number): Generator<CopyRegion & { chunks: number; dataBytes: number }> {
  const shape = resultShape(plan);
  const block = copyBlockShape(plan, plan.storedChunks, taskBytes);
  const itemsize = DATA_TYPES[plan.source.dtype].itemsize;
  for (const { origin, size } of blocksOf(shape, block, plan.storedGrid)) {
    yield {
      start: origin,
      end: origin.map((o, d) => o + size[d]),
      chunks: size.reduce((n, e, d) => n * chunksIn(plan.storedGrid[d], origin[d], e), 1),
      dataBytes: product(size) * itemsize,
    };
  }
}

/** How many stored chunks of one grid dimension start in [origin, origin + size) (origin on a chunk edge). */
function chunksIn(dim: GridDim, origin: number, size: number): number {
  if (typeof dim === "number") return Math.ceil(size / dim);
  let n = 0;
  for (let c = 0; c < dim.count; c++) {
    const at = dim.offset(c);
    if (at >= origin + size) break;
    if (at >= origin) n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// copying

/** The running totals behind CopyProgress events. */
export type CopyCounters = Omit<CopyProgress, "path">;

function resolveWorkers(options: CopyOptions, dataBytes: number): number | "auto" {
  const workers = options.workers ?? "auto";
  if (workers !== "auto") return workers;
  // The writer's "auto" cannot see the size of a streamed write: decide here, once per copy.
  return dataBytes >= AUTO_POOL_MIN_BYTES ? sharedPool().size : 0;
}

/** Counters at zero, for an array copy or a task. */
export function emptyCounters(arraysTotal = 1, chunksTotal = 0, dataBytesTotal = 0): CopyCounters {
  return { arraysDone: 0, arraysTotal, chunksRead: 0, bytesRead: 0, chunksWritten: 0, chunksTotal, bytesWritten: 0, dataBytesDone: 0, dataBytesTotal };
}

/**
 * Copies a box of a planned array copy (all of it by default) into `dst`, the array created from
 * `plan.create`. The box must be one of copyTasks' (or the whole copy): its destination objects
 * are then written whole, and writing them again writes the same bytes. Counts into `counters`;
 * `arraysDone` grows only when the whole array was copied.
 */
export async function copyArrayRegion(plan: ArrayCopyPlan, dst: ZarrArray, options: CopyOptions, counters: CopyCounters, region?: CopyRegion): Promise<void> {
  const { source } = plan;
  const memory = Math.max(1 << 20, options.memoryBytes ?? DEFAULT_MEMORY);
  const shape = resultShape(plan);
  const block = copyBlockShape(plan, plan.storedChunks, Math.min(BLOCK_BYTES, Math.floor(memory / 4)));
  const regionBytes = region ? product(region.end.map((e, d) => e - region.start[d])) * DATA_TYPES[source.dtype].itemsize : plan.dataBytes;
  const workers = resolveWorkers(options, regionBytes);
  const { signal } = options;
  const startData = counters.dataBytesDone;
  let lastWrite = { chunksDone: 0, bytesDone: 0 };
  const writer = dst
    .writer({
      concurrency: options.concurrency,
      workers,
      signal,
      bufferBytes: Math.floor(memory / 2),
      coalesce: options.coalesce,
      onProgress: (p) => {
        counters.chunksWritten += p.chunksDone - lastWrite.chunksDone;
        counters.bytesWritten += p.bytesDone - lastWrite.bytesDone;
        lastWrite = p;
        options.onProgress?.({ path: source.path, ...counters });
      },
    })
    .getWriter();
  // One block ahead: the next block's reads start while this one's last chunks decode, so the
  // pipeline does not drain at block edges. Each of the two holds half the prefetch budget.
  const open = (b: Block) => {
    const { origin } = b;
    let last = { chunksDone: 0, bytesDone: 0 };
    const stream = source.readChunks(sourceSelection(plan, b), {
      concurrency: options.concurrency,
      workers,
      signal,
      coalesce: options.coalesce,
      prefetchBytes: Math.floor(memory / 8),
      onProgress: (p) => {
        counters.chunksRead += p.chunksDone - last.chunksDone;
        counters.bytesRead += p.bytesDone - last.bytesDone;
        last = p;
        options.onProgress?.({ path: source.path, ...counters });
      },
    });
    return { origin, reader: stream.getReader() };
  };
  const origins = blocksOf(shape, block, plan.storedGrid, region);
  const take = () => {
    const next = origins.next();
    return next.done ? undefined : open(next.value);
  };
  let next = take();
  let current: typeof next;
  try {
    while (next) {
      current = next;
      const { origin, reader } = current;
      next = take();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // Data counts as done once handed to the writer: the chunks assembled there are
        // stored within the block, so this runs at most a block ahead of the store.
        counters.dataBytesDone += value.data.data.byteLength;
        const item: WriteItem = {
          // A listed region (the source selection has an index array) is written as an index array.
          selection: value.region.map((r, d) => (r.index ? r.index.map((p) => origin[d] + p) : slice(origin[d] + r.start, origin[d] + r.start + r.count))),
          data: value.data,
        };
        await writer.write(item);
      }
    }
    await writer.close();
  } catch (error) {
    for (const open of [current, next]) await open?.reader.cancel(error).catch(() => undefined);
    await writer.abort(error).catch(() => undefined);
    if (signal?.aborted) throw asAbortError(signal.reason, { path: source.path });
    throw error;
  }
  // Exact at the end, whatever was counted on the way.
  counters.dataBytesDone = startData + regionBytes;
  if (!region) counters.arraysDone++;
  options.onProgress?.({ path: source.path, ...counters });
}

/** One node of a copy: where it goes and, for an array, its plan. */
export interface NodePlan {
  node: ZarrArray | ZarrGroup;
  dstPath: string;
  array?: ArrayCopyPlan;
}

/** Every node under `node` (itself first, parents before children). */
async function walk(node: ZarrArray | ZarrGroup, dstPath: string, options: CopyOptions, out: NodePlan[]): Promise<void> {
  if (node instanceof ZarrArray) {
    out.push({ node, dstPath, array: planArrayCopy(node, { ...options, path: dstPath }) });
    return;
  }
  out.push({ node, dstPath });
  for (const name of await node.children()) {
    await walk(await node.open(name), joinKey(dstPath, name), options, out);
  }
}

/**
 * Copies an array (or, with copyNode, a whole group) into `dstStore` at `options.path`,
 * converting format, chunks, shards and compression as asked. Attributes go along; dimension
 * names move between v3's `dimension_names` and v2's xarray-style `_ARRAY_DIMENSIONS` attribute.
 * Cancelled through `options.signal`, it rejects with an AbortError once the writes in flight
 * have settled: every destination chunk is then whole, old or new.
 */
export async function copyArray(source: ZarrArray, dstStore: Store, options: CopyOptions = {}): Promise<CopySummary> {
  return copyNode(source, dstStore, options);
}

/**
 * Plans a copy of an array or a group with everything under it: every node, parents before
 * children, each array with its destination layout. Nothing is written.
 */
export async function planCopy(source: ZarrArray | ZarrGroup, options: CopyOptions = {}): Promise<NodePlan[]> {
  if (source instanceof ZarrGroup && options.selection !== undefined && options.selection !== null) {
    throw new SelectionError("a selection applies to an array, not to a group", { path: source.path });
  }
  const plans: NodePlan[] = [];
  await walk(source, joinKey(options.path ?? ""), options, plans);
  return plans;
}

/**
 * Writes the metadata of one planned node (the `index`-th of planCopy's list): an array is
 * created empty, a group with its attributes. Returns the array created, if any.
 */
export async function createCopyNode(plan: NodePlan, index: number, dstStore: Store, options: CopyOptions = {}): Promise<ZarrArray | undefined> {
  // Only the top node replaces what is there; below it the tree was just cleared.
  const overwrite = index === 0 ? options.overwrite : false;
  if (plan.array) return create(dstStore, { ...plan.array.create, overwrite });
  const group = plan.node as ZarrGroup;
  await createGroup(dstStore, { path: plan.dstPath, zarrFormat: options.zarrFormat ?? group.zarrFormat, attributes: { ...group.attrs }, overwrite });
  return undefined;
}

/** Copies an array or a group with everything under it (see copyArray). */
export async function copyNode(source: ZarrArray | ZarrGroup, dstStore: Store, options: CopyOptions = {}): Promise<CopySummary> {
  const started = performance.now();
  const plans = await planCopy(source, options);
  const arrays = plans.filter((p) => p.array);
  const counters = emptyCounters(
    arrays.length,
    arrays.reduce((n, p) => n + (p.array as ArrayCopyPlan).chunksTotal, 0),
    arrays.reduce((n, p) => n + (p.array as ArrayCopyPlan).dataBytes, 0),
  );
  for (const [n, plan] of plans.entries()) {
    const dst = await createCopyNode(plan, n, dstStore, options);
    if (plan.array && dst) await copyArrayRegion(plan.array, dst, options, counters);
  }
  return {
    arrays: arrays.length,
    groups: plans.length - arrays.length,
    chunksRead: counters.chunksRead,
    bytesRead: counters.bytesRead,
    chunksWritten: counters.chunksWritten,
    bytesWritten: counters.bytesWritten,
    dataBytes: counters.dataBytesTotal,
    elapsedMs: performance.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------
// verification

export interface VerifyOptions extends Omit<OperationOptions, "onProgress" | "pool"> {
  /** The selection of the source that was copied. */
  selection?: Selection;
  /** Compare only this box of the copy (one of copyTasks'); default all of it. */
  region?: CopyRegion;
  memoryBytes?: number;
  onProgress?: (progress: { elementsDone: number; elementsTotal: number }) => void;
}

export interface VerifyResult {
  elements: number;
  /** Elements whose stored bits differ (0 when the copy is exact). */
  mismatches: number;
  /** Index (in the copy) of the first differing element. */
  firstMismatch?: number[];
}

/**
 * Compares a copy with its source element by element (bit for bit, so NaN equals NaN), block
 * by block in bounded memory. Shapes or data types that differ are a ValueError.
 */
export async function verifyCopy(source: ZarrArray, copy: ZarrArray, options: VerifyOptions = {}): Promise<VerifyResult> {
  const projection = project(source, options.selection);
  const shape = resultShape(projection);
  if (shape.join() !== copy.shape.join() || source.dtype !== copy.dtype) {
    throw new ValueError(`the copy is ${copy.dtype} [${copy.shape}], the source selection ${source.dtype} [${shape}]`, { path: copy.path });
  }
  // Two reads of a block are held at once.
  const block = copyBlockShape(projection, copy.chunkShape, Math.floor((options.memoryBytes ?? DEFAULT_MEMORY) / 8));
  const itemsize = DATA_TYPES[source.dtype].itemsize;
  const { memoryBytes: _memory, selection: _selection, region, onProgress, ...readOptions } = options;
  const result: VerifyResult = { elements: region ? product(region.end.map((e, d) => e - region.start[d])) : product(shape), mismatches: 0 };
  let done = 0;
  for (const part of blocksOf(shape, block, undefined, region)) {
    const { origin } = part;
    const dstSel = origin.map((o, d) => slice(o, o + part.size[d]));
    const [a, b] = await Promise.all([source.read(sourceSelection(projection, part), readOptions), copy.read(dstSel, readOptions)]);
    if (Array.isArray(a.data)) {
      // Object data types: value by value (byte strings by content).
      done += countObjectMismatches(a.data as unknown[], b.data as unknown as unknown[], b.shape, origin, result);
      onProgress?.({ elementsDone: done, elementsTotal: result.elements });
      continue;
    }
    const x = bytesOf(a.data);
    const y = bytesOf(b.data);
    if (!sameBytes(x, y)) {
      const blockShape = b.shape;
      for (let e = 0; e < x.byteLength / itemsize; e++) {
        let same = true;
        for (let k = 0; k < itemsize; k++) if (x[e * itemsize + k] !== y[e * itemsize + k]) same = false;
        if (same) continue;
        if (result.mismatches++ === 0) result.firstMismatch = elementIndex(e, blockShape, origin);
      }
    }
    done += x.byteLength / itemsize;
    onProgress?.({ elementsDone: done, elementsTotal: result.elements });
  }
  return result;
}

/** Byte equality without node:buffer (the copy engine runs in browsers too). */
function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.byteLength !== y.byteLength) return false;
  // Word compares where both views are 4-byte aligned (most chunks): a quarter of the steps.
  const aligned = x.byteOffset % 4 === 0 && y.byteOffset % 4 === 0;
  const words = aligned ? x.byteLength >>> 2 : 0;
  if (words) {
    const a = new Uint32Array(x.buffer, x.byteOffset, words);
    const b = new Uint32Array(y.buffer, y.byteOffset, words);
    for (let i = 0; i < words; i++) if (a[i] !== b[i]) return false;
  }
  for (let i = words * 4; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

function countObjectMismatches(x: unknown[], y: unknown[], blockShape: number[], origin: number[], result: VerifyResult): number {
  const same = (p: unknown, q: unknown): boolean =>
    p === q ||
    (ArrayBuffer.isView(p) &&
      ArrayBuffer.isView(q) &&
      p.constructor === q.constructor &&
      sameBytes(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), new Uint8Array(q.buffer, q.byteOffset, q.byteLength)));
  for (let e = 0; e < x.length; e++) {
    if (same(x[e], y[e])) continue;
    if (result.mismatches++ === 0) result.firstMismatch = elementIndex(e, blockShape, origin);
  }
  return x.length;
}

/** The copy's index of the `e`-th element (C order) of a block at `origin`. */
function elementIndex(e: number, blockShape: readonly number[], origin: readonly number[]): number[] {
  const index: number[] = [];
  let rest = e;
  for (let d = blockShape.length - 1; d >= 0; d--) {
    index.unshift(origin[d] + (rest % blockShape[d]));
    rest = Math.floor(rest / blockShape[d]);
  }
  return index;
}
