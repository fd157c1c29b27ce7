/**
 * open and create: find what is at a path (v3 `zarr.json`, else v2 `.zarray` / `.zgroup`),
 * and write new arrays and groups with their metadata.
 */
import { ZarrArray, type ArrayOpenOptions } from "./array.js";
import { CodecChain } from "./codecs/chain.js";
import type { CodecMetadata } from "./codecs/codec.js";
import {
  DATA_TYPES,
  coerceScalar,
  hasByteOrder,
  isDataType,
  toV2DataType,
  zeroScalar,
  type DataType,
  type Endian,
  type Scalar,
} from "./dtype.js";
import {
  ContainsNodeError,
  MetadataError,
  NodeNotFoundError,
  UnsupportedDataTypeError,
  UnsupportedOperationError,
  ValueError,
  type ErrorContext,
} from "./errors.js";
import { ZarrGroup } from "./group.js";
import {
  parseV2Array,
  parseV2Consolidated,
  parseV2Group,
  parseV3Node,
  toV2ArrayJSON,
  toV3ArrayJSON,
  toV3GroupJSON,
  v2Codecs,
  type ArrayMetadata,
  type ChunkKeyEncoding,
  type GroupMetadata,
  type NodeDocument,
  type V2CodecConfig,
  type V2Fields,
  type ZarrFormat,
} from "./metadata.js";
import { joinKey, type Store } from "./store.js";
import { parseJSON, stringifyJSON } from "./json.js";
import { boundingShape, isRectilinearSpec, parseChunkShapes, type GridDim, type GridSpec } from "./chunk-grid.js";

export interface OpenOptions extends ArrayOpenOptions {
  /** Path of the node inside the store ("" or omitted for the root). */
  path?: string;
  /** Only look for this format (default: v3 first, then v2). */
  zarrFormat?: ZarrFormat;
  /**
   * Use consolidated metadata (`.zmetadata`, or v3 inline consolidated metadata of the root
   * group) to open nodes without one request per node. Default: use it when present.
   */
  consolidated?: boolean;
  signal?: AbortSignal;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function getJSON(store: Store, key: string, context: ErrorContext, signal?: AbortSignal): Promise<unknown> {
  const bytes = await store.get(key, undefined, { signal });
  if (bytes === undefined) return undefined;
  try {
    return parseJSON(decoder.decode(bytes));
  } catch (error) {
    throw new MetadataError(`${key.split("/").pop()} is not valid JSON: ${(error as Error).message}`, { ...context, key, cause: error });
  }
}

async function putJSON(store: Store, key: string, value: unknown, exclusive = false): Promise<void> {
  if (!store.set) throw new UnsupportedOperationError("the store is read-only", { key });
  // ASCII only, non-ASCII characters as \uXXXX escapes (as zarr-python writes): zarr-python 2
  // decodes metadata documents as ASCII and fails on raw UTF-8 bytes.
  const json = stringifyJSON(value, 2).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  if (exclusive && store.setIfAbsent) {
    // Another writer created the node between our existence check and this write.
    if (!(await store.setIfAbsent(key, encoder.encode(json)))) throw new ContainsNodeError("a node already exists here (created concurrently; pass overwrite: true to replace it)", { key });
    return;
  }
  await store.set(key, encoder.encode(json));
}

/** Reads nodes from a store, optionally through a cache of consolidated metadata documents. */
class NodeReader {
  constructor(
    readonly store: Store,
    readonly options: OpenOptions,
    private consolidated?: Map<string, NodeDocument>,
  ) {}

  async document(path: string): Promise<NodeDocument | undefined> {
    const cached = this.consolidated?.get(path);
    if (cached) return cached;
    const context = { path };
    const { store } = this;
    const { signal, zarrFormat } = this.options;
    if (zarrFormat !== 2) {
      const json = await getJSON(store, joinKey(path, "zarr.json"), context, signal);
      if (json !== undefined) return { zarrFormat: 3, json };
    }
    if (zarrFormat !== 3) {
      const [zarray, zgroup] = await Promise.all([
        getJSON(store, joinKey(path, ".zarray"), context, signal),
        getJSON(store, joinKey(path, ".zgroup"), context, signal),
      ]);
      if (zarray !== undefined || zgroup !== undefined) {
        const zattrs = await getJSON(store, joinKey(path, ".zattrs"), context, signal);
        return { zarrFormat: 2, zarray, zgroup, zattrs };
      }
    }
    return undefined;
  }

  async open(path: string): Promise<ZarrArray | ZarrGroup> {
    // Children opened through a group arrive here joined with the group's path: check them too.
    path = normalizePath(path);
    const context = { path };
    const doc = await this.document(path);
    if (!doc) throw new NodeNotFoundError("no Zarr array or group found", context);
    if (doc.zarrFormat === 3) {
      const node = parseV3Node(doc.json, context);
      if (node.kind === "array") return new ZarrArray(this.store, path, node.metadata, this.options);
      return this.group(path, node.metadata);
    }
    if (doc.zarray !== undefined) {
      const metadata = parseV2Array(doc.zarray, doc.zattrs, context);
      return new ZarrArray(this.store, path, metadata, this.options);
    }
    return this.group(path, parseV2Group(doc.zgroup, doc.zattrs, context));
  }

  private async group(path: string, metadata: GroupMetadata): Promise<ZarrGroup> {
    const useConsolidated = this.options.consolidated !== false;
    if (!useConsolidated && metadata.consolidated) {
      // consolidated: false means ignore it (v3 inline metadata included): list the store instead.
      const { consolidated: _ignored, ...rest } = metadata;
      metadata = rest;
    } else if (useConsolidated && this.consolidated?.has(path)) {
      // Opened through an ancestor's consolidated metadata: its children are the cached documents
      // under it (zarr-python flattens descendants into the ancestor and leaves a nested group's
      // own inline metadata empty).
      const prefix = path === "" ? "" : `${path}/`;
      const docs = [...this.consolidated].filter(([child]) => child !== path && child.startsWith(prefix));
      metadata = { ...metadata, consolidated: new Map(docs.map(([child, doc]) => [child.slice(prefix.length), doc])) };
    }
    if (useConsolidated && !this.consolidated) {
      let docs = metadata.consolidated;
      if (!docs && metadata.zarrFormat === 2) {
        const zmetadata = await getJSON(this.store, joinKey(path, ".zmetadata"), { path }, this.options.signal);
        if (zmetadata !== undefined) docs = parseV2Consolidated(zmetadata, { path });
        else if (this.options.consolidated === true) throw new MetadataError("no consolidated metadata (.zmetadata)", { path });
      }
      if (docs) {
        // Cache the children by their full path so that nested opens skip the store.
        this.consolidated = new Map([...docs].map(([child, doc]) => [joinKey(path, child), doc]));
        // v2 consolidated metadata lists the group itself under "" — keep its relative view.
        metadata = { ...metadata, consolidated: new Map([...docs].filter(([child]) => child !== "")) };
      }
    }
    return new ZarrGroup(this.store, path, metadata, this);
  }
}

/** Opens the array or group at `options.path` (v3 or v2, detected). */
export function open(store: Store, options: OpenOptions = {}): Promise<ZarrArray | ZarrGroup> {
  return new NodeReader(store, options).open(normalizePath(options.path));
}

/** Opens an array; a group (or nothing) at the path is an error. */
export async function openArray(store: Store, options: OpenOptions = {}): Promise<ZarrArray> {
  const node = await open(store, options);
  if (!(node instanceof ZarrArray)) throw new ContainsNodeError("expected an array, found a group", { path: node.path });
  return node;
}

/** Opens a group; an array (or nothing) at the path is an error. */
export async function openGroup(store: Store, options: OpenOptions = {}): Promise<ZarrGroup> {
  const node = await open(store, options);
  if (!(node instanceof ZarrGroup)) throw new ContainsNodeError("expected a group, found an array", { path: node.path });
  return node;
}

/**
 * A caller's node path as a store key prefix. Leading, trailing and doubled "/" are dropped;
 * "." and ".." segments, backslashes and NUL are refused, whatever the store: on a filesystem
 * they would name keys outside the hierarchy, elsewhere they would name nodes no other Zarr
 * implementation can reach.
 */
function normalizePath(path: string | undefined): string {
  if (path !== undefined && typeof path !== "string") throw new ValueError(`a node path must be a string, got ${typeof path}`);
  const key = joinKey(path ?? "");
  for (const segment of key.split("/")) {
    if (segment === "." || segment === ".." || segment.includes("\\") || segment.includes("\0")) {
      throw new ValueError(`invalid node path ${JSON.stringify(path)}: "." and ".." segments, backslashes and NUL are not allowed`, { path: key });
    }
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// create

export interface CreateArrayOptions extends ArrayOpenOptions {
  path?: string;
  shape: number[];
  /**
   * Chunk shape (the inner chunk shape when `shards` is given). Default: about 1 MiB chunks.
   * v3 also takes a rectilinear grid: per dimension a length or a list of edge lengths, each an
   * integer or a `[length, count]` run (`[[10, 20, 5], 16]`, `[[[100, 3], 40]]`).
   */
  chunks?: GridSpec;
  /**
   * v3: shard shape. The array is stored in shards of this shape, each holding inner chunks of
   * `chunks` (sharding_indexed); `codecs` is then the chain inside each shard. Shards may form a
   * rectilinear grid (edges as for `chunks`, each a multiple of the inner chunk length); the
   * inner chunks are then a regular shape.
   */
  shards?: GridSpec;
  /** v3 sharded arrays: where each shard keeps its index (default "end"). */
  indexLocation?: "start" | "end";
  /** v3 sharded arrays: the index codecs (default bytes little-endian + crc32c). */
  indexCodecs?: CodecMetadata[];
  dtype: DataType;
  /** Default: 0 (false for bool). */
  fillValue?: Scalar | "NaN" | "Infinity" | "-Infinity" | null;
  /** Format to write (default 3). */
  zarrFormat?: ZarrFormat;
  /** v3 codec list (default: bytes little-endian + zstd, as zarr-python). */
  codecs?: CodecMetadata[];
  /** v2: compressor in .zarray form (default zstd), or null for none. */
  compressor?: V2CodecConfig | null;
  /** v2: filters in .zarray form. */
  filters?: V2CodecConfig[] | null;
  /** v2: memory order of each chunk (default "C"). */
  order?: "C" | "F";
  /** v2: byte order of the stored dtype (default little). */
  endian?: Endian;
  /** Separator in chunk keys (default "/" for v3, "." for v2). */
  dimensionSeparator?: "/" | ".";
  /** v3 chunk key encoding name (default "default"). */
  chunkKeyEncoding?: "default" | "v2";
  attributes?: Record<string, unknown>;
  dimensionNames?: (string | null)[];
  /** Replace an existing node at the path (its data is deleted). Default false. */
  overwrite?: boolean;
}

const DEFAULT_CHUNK_BYTES = 1 << 20;

/** A chunk shape of about 1 MiB: halve the largest dimension until it fits. */
export function defaultChunks(shape: readonly number[], itemsize: number): number[] {
  const chunks = shape.map((n) => Math.max(1, n));
  while (chunks.reduce((a, b) => a * b, itemsize) > DEFAULT_CHUNK_BYTES) {
    let largest = 0;
    for (let i = 1; i < chunks.length; i++) if (chunks[i] > chunks[largest]) largest = i;
    if (chunks[largest] === 1) break;
    chunks[largest] = Math.ceil(chunks[largest] / 2);
  }
  return chunks;
}

function buildArrayMetadata(options: CreateArrayOptions, context: ErrorContext): ArrayMetadata {
  const zarrFormat = options.zarrFormat ?? 3;
  if (zarrFormat !== 2 && zarrFormat !== 3) throw new MetadataError(`zarrFormat must be 2 or 3, got ${String(zarrFormat)}`, context);
  if (!isDataType(options.dtype)) throw new UnsupportedDataTypeError(`unsupported data type ${JSON.stringify(options.dtype)}`, context);
  const dataType = options.dtype;
  const shape = [...options.shape];
  if (options.shards && zarrFormat !== 3) throw new MetadataError("sharding needs Zarr format 3", context);
  if (options.shards && isRectilinearSpec(options.chunks)) {
    throw new MetadataError("with shards, chunks is the inner chunk shape: a list of lengths (the shards may be rectilinear)", context);
  }
  // A rectilinear grid (v3 only) is parsed as its metadata would be: its chunk shape is the largest chunk.
  const gridSpec = options.shards ?? options.chunks;
  let chunkGrid: GridDim[] | undefined;
  if (isRectilinearSpec(gridSpec)) {
    if (zarrFormat !== 3) throw new MetadataError("rectilinear chunk grids need Zarr format 3", context);
    chunkGrid = parseChunkShapes(gridSpec, shape, context);
  }
  const innerChunks = options.chunks ? [...(options.shards ? (options.chunks as number[]) : chunkGrid ? boundingShape(chunkGrid) : (options.chunks as number[]))] : defaultChunks(shape, DATA_TYPES[dataType].itemsize);
  const chunkShape = chunkGrid ? boundingShape(chunkGrid) : options.shards ? [...(options.shards as number[])] : innerChunks;
  const fillValueNull = options.fillValue === null;
  const fillValue = options.fillValue === undefined || options.fillValue === null ? zeroScalar(dataType) : coerceScalar(options.fillValue, dataType, context);
  const attributes = { ...(options.attributes ?? {}) };
  let metadata: ArrayMetadata;
  if (zarrFormat === 3) {
    if (options.shards && options.shards.length !== shape.length) {
      throw new MetadataError(`shards [${options.shards}] must have ${shape.length} dimensions`, context);
    }
    for (const key of ["compressor", "filters", "order", "endian"] as const) {
      if (options[key] !== undefined) throw new MetadataError(`"${key}" is a v2 option; for v3 give "codecs"`, context);
    }
    metadata = {
      zarrFormat: 3,
      shape,
      chunkShape,
      ...(chunkGrid ? { chunkGrid } : {}),
      dataType,
      fillValue,
      codecs: options.shards
        ? [
            {
              name: "sharding_indexed",
              configuration: {
                chunk_shape: innerChunks,
                codecs: options.codecs ?? defaultV3Codecs(dataType),
                index_codecs: options.indexCodecs ?? [{ name: "bytes", configuration: { endian: "little" } }, { name: "crc32c" }],
                index_location: options.indexLocation ?? "end",
              },
            },
          ]
        : (options.codecs ?? defaultV3Codecs(dataType)),
      chunkKeyEncoding: {
        name: options.chunkKeyEncoding ?? "default",
        separator: options.dimensionSeparator ?? (options.chunkKeyEncoding === "v2" ? "." : "/"),
      } as ChunkKeyEncoding,
      attributes,
      dimensionNames: options.dimensionNames ?? null,
    };
  } else {
    if (options.codecs !== undefined) throw new MetadataError(`"codecs" is a v3 option; for v2 give "compressor", "filters" and "order"`, context);
    const v2: V2Fields = {
      order: options.order ?? "C",
      compressor: options.compressor === undefined ? { id: "zstd", level: 0 } : options.compressor,
      filters: options.filters ?? defaultV2Filters(dataType),
      endian: options.endian ?? "little",
      fillValueNull,
    };
    metadata = {
      zarrFormat: 2,
      shape,
      chunkShape,
      dataType,
      fillValue,
      codecs: v2Codecs(v2, dataType, shape.length, context),
      chunkKeyEncoding: { name: "v2", separator: options.dimensionSeparator ?? "." },
      attributes,
      dimensionNames: null,
      v2,
    };
  }
  // Round-trip the metadata through the parser: create() accepts exactly what open() accepts.
  const reparsed = zarrFormat === 3
    ? parseV3Node(toV3ArrayJSON(metadata), context)
    : { kind: "array" as const, metadata: parseV2Array(toV2ArrayJSON(metadata), attributes, context) };
  if (reparsed.kind !== "array") throw new MetadataError("internal: array metadata parsed as a group", context);
  // Build the chain once to validate codec names, order and configuration, and store its
  // normalised form: every configuration spelled out (readers such as zarrita need the keys).
  const chain = new CodecChain({ shape: chunkShape, dataType, fillValue }, metadata.codecs, context);
  if (zarrFormat === 3) metadata.codecs = chain.toJSON();
  return metadata;
}

/** v2 object arrays say what they hold with their vlen filter. */
function defaultV2Filters(dataType: DataType): V2CodecConfig[] | null {
  if (dataType === "string") return [{ id: "vlen-utf8" }];
  if (dataType === "variable_length_bytes") return [{ id: "vlen-bytes" }];
  const element = DATA_TYPES[dataType].element;
  if (element) return [{ id: "vlen-array", dtype: toV2DataType(element.name, "little") }];
  return null;
}

/** The array → bytes codec of a data type: vlen-utf8 / vlen-bytes for object types, else bytes. */
export function defaultSerializer(dataType: DataType): CodecMetadata {
  if (dataType === "string") return { name: "vlen-utf8", configuration: {} };
  if (dataType === "variable_length_bytes") return { name: "vlen-bytes", configuration: {} };
  return hasByteOrder(dataType) ? { name: "bytes", configuration: { endian: "little" } } : { name: "bytes" };
}

export function defaultV3Codecs(dataType: DataType): CodecMetadata[] {
  return [
    defaultSerializer(dataType),
    { name: "zstd", configuration: { level: 0, checksum: false } },
  ];
}

async function nodeExists(store: Store, path: string, signal?: AbortSignal): Promise<boolean> {
  for (const name of ["zarr.json", ".zarray", ".zgroup"]) {
    if ((await store.get(joinKey(path, name), { offset: 0, length: 0 }, { signal })) !== undefined) return true;
  }
  return false;
}

async function deleteTree(store: Store, path: string): Promise<void> {
  if (!store.list || !store.delete) throw new UnsupportedOperationError("overwrite needs a store that can list and delete", { path });
  const prefix = path === "" ? "" : `${path}/`;
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  for (const key of keys) await store.delete(key);
}

async function prepareNode(store: Store, path: string, overwrite: boolean | undefined, zarrFormat: ZarrFormat): Promise<void> {
  if (!store.set) throw new UnsupportedOperationError("the store is read-only", { path });
  if (await nodeExists(store, path)) {
    if (!overwrite) throw new ContainsNodeError("a node already exists here (pass overwrite: true to replace it)", { path });
    await deleteTree(store, path);
  }
  await ensureParents(store, path, zarrFormat);
}

/** Writes group metadata for every ancestor that has none, so the hierarchy can be walked. */
async function ensureParents(store: Store, path: string, zarrFormat: ZarrFormat): Promise<void> {
  const parts = path === "" ? [] : path.split("/");
  for (let i = 0; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    if (!(await nodeExists(store, parent))) await writeGroupMetadata(store, parent, { zarrFormat, attributes: {} });
  }
}

async function writeGroupMetadata(store: Store, path: string, metadata: GroupMetadata, exclusive = false): Promise<void> {
  if (metadata.zarrFormat === 3) return putJSON(store, joinKey(path, "zarr.json"), toV3GroupJSON(metadata), exclusive);
  await putJSON(store, joinKey(path, ".zgroup"), { zarr_format: 2 }, exclusive);
  if (Object.keys(metadata.attributes).length) await putJSON(store, joinKey(path, ".zattrs"), metadata.attributes);
}

/** Writes an array's metadata documents. */
export async function writeArrayMetadata(store: Store, path: string, metadata: ArrayMetadata, exclusive = false): Promise<void> {
  if (metadata.zarrFormat === 3) return putJSON(store, joinKey(path, "zarr.json"), toV3ArrayJSON(metadata), exclusive);
  await putJSON(store, joinKey(path, ".zarray"), toV2ArrayJSON(metadata), exclusive);
  if (Object.keys(metadata.attributes).length) await putJSON(store, joinKey(path, ".zattrs"), metadata.attributes);
}

/** Creates an array (v3 by default) and returns it. */
export async function create(store: Store, options: CreateArrayOptions): Promise<ZarrArray> {
  const path = normalizePath(options.path);
  const context = { path };
  const metadata = buildArrayMetadata(options, context);
  await prepareNode(store, path, options.overwrite, metadata.zarrFormat);
  await writeArrayMetadata(store, path, metadata, !options.overwrite);
  return new ZarrArray(store, path, metadata, options);
}

export interface CreateGroupOptions {
  path?: string;
  zarrFormat?: ZarrFormat;
  attributes?: Record<string, unknown>;
  overwrite?: boolean;
}

/** Creates a group (v3 by default) and returns it. */
export async function createGroup(store: Store, options: CreateGroupOptions = {}): Promise<ZarrGroup> {
  const path = normalizePath(options.path);
  const metadata: GroupMetadata = { zarrFormat: options.zarrFormat ?? 3, attributes: { ...(options.attributes ?? {}) } };
  await prepareNode(store, path, options.overwrite, metadata.zarrFormat);
  await writeGroupMetadata(store, path, metadata, !options.overwrite);
  return new ZarrGroup(store, path, metadata, new NodeReader(store, {}));
}

/** Replaces an array's or group's attributes (the rest of the metadata is rewritten unchanged). */
export async function setAttributes(node: ZarrArray | ZarrGroup, attributes: Record<string, unknown>): Promise<void> {
  node.metadata.attributes = { ...attributes };
  if (node instanceof ZarrArray) await writeArrayMetadata(node.store, node.path, node.metadata);
  else await writeGroupMetadata(node.store, node.path, node.metadata);
}

