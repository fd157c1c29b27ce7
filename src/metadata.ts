/**
 * Zarr metadata, v3 (`zarr.json`) and v2 (`.zarray`, `.zgroup`, `.zattrs`, `.zmetadata`),
 * parsed and validated into one description. A v2 array becomes the codec chain a v3 array
 * would have: order "F" → transpose, filters, bytes (with the dtype's byte order), compressor.
 * The v2 fields are kept so that the metadata can be written back exactly as v2.
 */
import type { CodecMetadata } from "./codecs/codec.js";
import {
  DATA_TYPES,
  fillValueToJSON,
  hasByteOrder,
  isCoreType,
  isObjectType,
  parseDataType,
  parseFillValue,
  parseV2DataType,
  toV2DataType,
  zeroScalar,
  type DataType,
  type Endian,
  type Scalar,
} from "./dtype.js";
import { MetadataError, UnknownCodecError, type ErrorContext } from "./errors.js";
import { registeredCodecs } from "./codecs/registry.js";
import { stringifyJSON } from "./json.js";
import { toV3DataType } from "./dtype-extended.js";
import { isVlenCodec, v2ObjectCodec } from "./codecs/vlen.js";
import { boundingShape, chunkShapesJSON, gridCount, parseChunkShapes, type GridDim } from "./chunk-grid.js";

export type ZarrFormat = 2 | 3;

export interface ChunkKeyEncoding {
  name: "default" | "v2";
  separator: "/" | ".";
}

/** A v2 compressor or filter in its `.zarray` form: `{id: "blosc", cname: "lz4", ...}`. */
export type V2CodecConfig = { id: string } & Record<string, unknown>;

export interface V2Fields {
  order: "C" | "F";
  compressor: V2CodecConfig | null;
  filters: V2CodecConfig[] | null;
  /** Byte order of the stored dtype. */
  endian: Endian;
  /** True when `.zarray` says `fill_value: null`. */
  fillValueNull: boolean;
  /** Structured dtypes: each field's byte order (fields may differ). */
  fieldEndians?: Endian[];
}

export interface ArrayMetadata {
  zarrFormat: ZarrFormat;
  shape: number[];
  /**
   * Shape of each stored chunk (of each shard, for sharded arrays). For a rectilinear grid, the
   * largest chunk along each dimension (what buffers and codec limits are sized for).
   */
  chunkShape: number[];
  /** A rectilinear grid (v3 `"rectilinear"`): per dimension a regular length or edges. Absent for regular grids. */
  chunkGrid?: GridDim[];
  dataType: DataType;
  fillValue: Scalar;
  /** The codec chain in v3 form (v2 arrays converted). */
  codecs: CodecMetadata[];
  chunkKeyEncoding: ChunkKeyEncoding;
  attributes: Record<string, unknown>;
  dimensionNames: (string | null)[] | null;
  /** v2-only fields, present when zarrFormat is 2. */
  v2?: V2Fields;
}

export interface GroupMetadata {
  zarrFormat: ZarrFormat;
  attributes: Record<string, unknown>;
  /** Child metadata documents keyed by path relative to this group, when consolidated. */
  consolidated?: Map<string, NodeDocument>;
}

/** A node's metadata documents as stored: v3 `zarr.json`, or the v2 trio. */
export type NodeDocument =
  | { zarrFormat: 3; json: unknown }
  | { zarrFormat: 2; zarray?: unknown; zgroup?: unknown; zattrs?: unknown };

// ---------------------------------------------------------------------------------------------
// validation helpers

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shapeOf(value: unknown, what: string, context: ErrorContext, allowZero: boolean): number[] {
  if (!Array.isArray(value)) throw new MetadataError(`${what} must be a list of integers, got ${stringifyJSON(value)}`, context);
  for (const n of value) {
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) {
      throw new MetadataError(`${what} must hold ${allowZero ? "non-negative" : "positive"} integers, got ${stringifyJSON(value)}`, context);
    }
  }
  return value as number[];
}

/**
 * Products that must stay exact: a shape's element count, a chunk's byte size, the number of
 * chunks. A document whose numbers overflow them describes nothing this library can address.
 */
function checkGridSize(shape: number[], chunkShape: number[], dataType: DataType, context: ErrorContext, grid?: GridDim[]): void {
  const elements = shape.reduce((n, s) => n * s, 1);
  if (elements > Number.MAX_SAFE_INTEGER) {
    throw new MetadataError(`shape [${shape}] holds ${elements} elements, more than 2^53-1`, context);
  }
  const chunkBytes = chunkShape.reduce((n, s) => n * s, DATA_TYPES[dataType].itemsize);
  if (chunkBytes > Number.MAX_SAFE_INTEGER) {
    throw new MetadataError(`chunk shape [${chunkShape}] spans ${chunkBytes} bytes, more than 2^53-1`, context);
  }
  const chunks = grid ? gridCount(grid, shape) : shape.reduce((n, s, d) => n * Math.ceil(s / chunkShape[d]), 1);
  if (chunks > Number.MAX_SAFE_INTEGER) {
    throw new MetadataError(`shape [${shape}] in chunks [${chunkShape}] is ${chunks} chunks, more than 2^53-1`, context);
  }
}

/**
 * A node path found in metadata (consolidated documents name their nodes): relative, "/"-
 * separated, no "." or ".." segment, no backslash or NUL — a path that cannot name a key
 * outside the hierarchy it was found in.
 */
function checkNodePath(path: string, context: ErrorContext): string {
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === ".." || s.includes("\\") || s.includes("\0"))) {
    throw new MetadataError(`consolidated metadata names an invalid node path ${stringifyJSON(path)}`, context);
  }
  return segments.join("/");
}

function attributesOf(value: unknown, context: ErrorContext): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new MetadataError(`attributes must be an object`, context);
  return value;
}

// ---------------------------------------------------------------------------------------------
// v3

const V3_ARRAY_KEYS = new Set([
  "zarr_format",
  "node_type",
  "shape",
  "data_type",
  "chunk_grid",
  "chunk_key_encoding",
  "fill_value",
  "codecs",
  "attributes",
  "dimension_names",
  "storage_transformers",
]);

/** Parses a v3 `zarr.json` document into an array or group description. */
export function parseV3Node(
  json: unknown,
  context: ErrorContext = {},
): { kind: "array"; metadata: ArrayMetadata } | { kind: "group"; metadata: GroupMetadata } {
  if (!isObject(json)) throw new MetadataError("zarr.json must be a JSON object", context);
  if (json.zarr_format !== 3) throw new MetadataError(`zarr.json: zarr_format must be 3, got ${stringifyJSON(json.zarr_format)}`, context);
  if (json.node_type === "group") return { kind: "group", metadata: parseV3Group(json, context) };
  if (json.node_type === "array") return { kind: "array", metadata: parseV3Array(json, context) };
  throw new MetadataError(`zarr.json: node_type must be "array" or "group", got ${stringifyJSON(json.node_type)}`, context);
}

function parseV3Group(json: Record<string, unknown>, context: ErrorContext): GroupMetadata {
  const group: GroupMetadata = { zarrFormat: 3, attributes: attributesOf(json.attributes, context) };
  // zarr-python's inline consolidated metadata: {kind: "inline", metadata: {path: zarr.json}}.
  const consolidated = json.consolidated_metadata;
  if (isObject(consolidated) && consolidated.kind === "inline" && isObject(consolidated.metadata)) {
    group.consolidated = new Map(
      Object.entries(consolidated.metadata).map(([path, doc]) => [checkNodePath(path, context), { zarrFormat: 3, json: doc } as NodeDocument]),
    );
  }
  return group;
}

function parseV3Array(json: Record<string, unknown>, context: ErrorContext): ArrayMetadata {
  for (const [key, value] of Object.entries(json)) {
    if (V3_ARRAY_KEYS.has(key)) continue;
    // Extensions that may be ignored say so; anything else must be understood, and is not.
    if (isObject(value) && value.must_understand === false) continue;
    throw new MetadataError(`zarr.json: unknown field "${key}"`, context);
  }
  const shape = shapeOf(json.shape, "shape", context, true);
  const dataType = parseDataType(json.data_type, context);

  const { chunkShape, chunkGrid } = parseV3ChunkGrid(json.chunk_grid, shape, context);
  checkGridSize(shape, chunkShape, dataType, context, chunkGrid);

  const chunkKeyEncoding = parseV3ChunkKeyEncoding(json.chunk_key_encoding, context);
  if (json.fill_value === undefined) throw new MetadataError("zarr.json: fill_value is required", context);
  const fillValue = parseFillValue(json.fill_value, dataType, context);
  if (!Array.isArray(json.codecs) || json.codecs.length === 0) throw new MetadataError("codecs must be a non-empty list", context);
  const codecs = json.codecs as CodecMetadata[];

  let dimensionNames: (string | null)[] | null = null;
  if (json.dimension_names !== undefined && json.dimension_names !== null) {
    const names = json.dimension_names;
    if (!Array.isArray(names) || names.length !== shape.length || !names.every((n) => n === null || typeof n === "string")) {
      throw new MetadataError(`dimension_names must be a list of ${shape.length} strings or nulls`, context);
    }
    dimensionNames = names as (string | null)[];
  }
  const transformers = json.storage_transformers;
  if (transformers !== undefined && !(Array.isArray(transformers) && transformers.length === 0)) {
    throw new MetadataError("storage_transformers are not supported", context);
  }
  const metadata: ArrayMetadata = {
    zarrFormat: 3,
    shape,
    chunkShape,
    dataType,
    fillValue,
    codecs,
    chunkKeyEncoding,
    attributes: attributesOf(json.attributes, context),
    dimensionNames,
  };
  if (chunkGrid) metadata.chunkGrid = chunkGrid;
  return metadata;
}

/** The regular grid (`chunk_shape`) or the rectilinear one (`kind: "inline"`, `chunk_shapes`). */
function parseV3ChunkGrid(grid: unknown, shape: number[], context: ErrorContext): { chunkShape: number[]; chunkGrid?: GridDim[] } {
  if (isObject(grid) && grid.name === "rectilinear") {
    const config = grid.configuration;
    if (!isObject(config) || config.kind !== "inline") {
      throw new MetadataError(`rectilinear chunk_grid: configuration.kind must be "inline", got ${stringifyJSON(isObject(config) ? config.kind : config)}`, context);
    }
    const chunkGrid = parseChunkShapes(config.chunk_shapes, shape, context);
    return { chunkShape: boundingShape(chunkGrid), chunkGrid };
  }
  if (!isObject(grid) || grid.name !== "regular" || !isObject(grid.configuration)) {
    throw new MetadataError(`chunk_grid must be {"name": "regular", "configuration": {"chunk_shape": [...]}} or a rectilinear grid, got ${stringifyJSON(grid)}`, context);
  }
  const chunkShape = shapeOf(grid.configuration.chunk_shape, "chunk_shape", context, false);
  if (chunkShape.length !== shape.length) {
    throw new MetadataError(`chunk_shape [${chunkShape}] has ${chunkShape.length} dimensions, shape [${shape}] has ${shape.length}`, context);
  }
  return { chunkShape };
}

function parseV3ChunkKeyEncoding(value: unknown, context: ErrorContext): ChunkKeyEncoding {
  if (value === undefined) return { name: "default", separator: "/" };
  if (!isObject(value) || (value.name !== "default" && value.name !== "v2")) {
    throw new MetadataError(`chunk_key_encoding must be "default" or "v2", got ${stringifyJSON(value)}`, context);
  }
  const config = value.configuration ?? {};
  const separator = isObject(config) ? (config.separator ?? (value.name === "default" ? "/" : ".")) : undefined;
  if (separator !== "/" && separator !== ".") {
    throw new MetadataError(`chunk_key_encoding separator must be "/" or ".", got ${stringifyJSON(separator)}`, context);
  }
  return { name: value.name, separator };
}

/** The v3 `zarr.json` document of an array. */
export function toV3ArrayJSON(metadata: ArrayMetadata): Record<string, unknown> {
  const json: Record<string, unknown> = {
    zarr_format: 3,
    node_type: "array",
    shape: metadata.shape,
    data_type: isCoreType(metadata.dataType) ? metadata.dataType : toV3DataType(metadata.dataType),
    chunk_grid: metadata.chunkGrid
      ? { name: "rectilinear", configuration: { kind: "inline", chunk_shapes: chunkShapesJSON(metadata.chunkGrid) } }
      : { name: "regular", configuration: { chunk_shape: metadata.chunkShape } },
    chunk_key_encoding: {
      name: metadata.chunkKeyEncoding.name,
      configuration: { separator: metadata.chunkKeyEncoding.separator },
    },
    fill_value: fillValueToJSON(metadata.fillValue, metadata.dataType, 3),
    codecs: metadata.codecs,
    attributes: metadata.attributes,
  };
  if (metadata.dimensionNames) json.dimension_names = metadata.dimensionNames;
  return json;
}

export function toV3GroupJSON(metadata: GroupMetadata): Record<string, unknown> {
  return { zarr_format: 3, node_type: "group", attributes: metadata.attributes };
}

// ---------------------------------------------------------------------------------------------
// v2

/** Parses `.zarray` (and `.zattrs`) into an array description. */
export function parseV2Array(zarray: unknown, zattrs: unknown, context: ErrorContext = {}): ArrayMetadata {
  if (!isObject(zarray)) throw new MetadataError(".zarray must be a JSON object", context);
  if (zarray.zarr_format !== 2) throw new MetadataError(`.zarray: zarr_format must be 2, got ${stringifyJSON(zarray.zarr_format)}`, context);
  const shape = shapeOf(zarray.shape, "shape", context, true);
  const chunkShape = shapeOf(zarray.chunks, "chunks", context, false);
  if (chunkShape.length !== shape.length) {
    throw new MetadataError(`chunks [${chunkShape}] has ${chunkShape.length} dimensions, shape [${shape}] has ${shape.length}`, context);
  }
  const { dataType, endian, fieldEndians } = parseV2DataType(zarray.dtype, context, Array.isArray(zarray.filters) ? zarray.filters.filter(isV2Codec) : null);
  checkGridSize(shape, chunkShape, dataType, context);
  const order = zarray.order ?? "C";
  if (order !== "C" && order !== "F") throw new MetadataError(`.zarray: order must be "C" or "F", got ${stringifyJSON(order)}`, context);
  const separator = zarray.dimension_separator ?? ".";
  if (separator !== "." && separator !== "/") {
    throw new MetadataError(`.zarray: dimension_separator must be "." or "/", got ${stringifyJSON(separator)}`, context);
  }
  const compressor = zarray.compressor ?? null;
  if (compressor !== null && !isV2Codec(compressor)) throw new MetadataError(`.zarray: invalid compressor ${stringifyJSON(compressor)}`, context);
  const filters = zarray.filters ?? null;
  if (filters !== null && !(Array.isArray(filters) && filters.every(isV2Codec))) {
    throw new MetadataError(`.zarray: invalid filters ${stringifyJSON(filters)}`, context);
  }
  const fillValueNull = zarray.fill_value === null || zarray.fill_value === undefined;
  const fillValue = fillValueNull ? zeroScalar(dataType) : parseFillValue(zarray.fill_value, dataType, context);
  const v2: V2Fields = { order, compressor, filters, endian, fillValueNull };
  if (fieldEndians && fieldEndians.some((e) => e !== endian)) v2.fieldEndians = fieldEndians;
  return {
    zarrFormat: 2,
    shape,
    chunkShape,
    dataType,
    fillValue,
    codecs: v2Codecs(v2, dataType, shape.length, context),
    chunkKeyEncoding: { name: "v2", separator },
    attributes: attributesOf(zattrs, context),
    dimensionNames: null,
    v2,
  };
}

function isV2Codec(value: unknown): value is V2CodecConfig {
  return isObject(value) && typeof value.id === "string";
}

/** The v3 codec chain equivalent to a v2 array's order, filters and compressor. */
export function v2Codecs(v2: V2Fields, dataType: DataType, ndim: number, context: ErrorContext = {}): CodecMetadata[] {
  const codecs: CodecMetadata[] = [];
  if (v2.order === "F" && ndim > 1) {
    codecs.push({ name: "transpose", configuration: { order: [...Array(ndim).keys()].reverse() } });
  }
  // Value filters (delta, astype, …) work on the array, before its bytes are laid out; byte
  // filters (shuffle, checksums, compressors used as filters) on the bytes, after. v2 applies
  // them in list order, so a byte filter followed by a value filter has no v3 chain.
  // Object arrays end in a vlen codec, which is their array → bytes codec (categorize, which
  // maps strings to integer codes, is followed by bytes).
  const afterBytes: CodecMetadata[] = [];
  let endian = v2.endian;
  let itemType = dataType;
  let vlen = false;
  for (const filter of v2.filters ?? []) {
    const objectCodec = v2ObjectCodec(filter);
    if (objectCodec) {
      codecs.push(objectCodec);
      if (isVlenCodec(objectCodec.name)) vlen = true;
      continue;
    }
    if (V2_BYTE_FILTERS.has(filter.id) || V2_COMPRESSORS.has(filter.id)) {
      afterBytes.push(v2CompressorToV3(filter, itemType, context));
      continue;
    }
    if (afterBytes.length) {
      throw new MetadataError(`.zarray: filter "${filter.id}" works on values but follows byte filter "${afterBytes[afterBytes.length - 1].name}"; no codec chain does that`, context);
    }
    const codec = v2FilterToV3(filter, context);
    codecs.push(codec);
    // The stored type is the last filter's output type, with its byte order when it names one.
    const output = filterOutputType(filter);
    if (output) ({ dataType: itemType, endian } = { dataType: output.dataType, endian: output.endian ?? endian });
    if (filter.id === "packbits") itemType = "uint8";
  }
  if (!vlen) {
    if (v2.fieldEndians) codecs.push({ name: "bytes", configuration: { field_endians: v2.fieldEndians } });
    else if (hasByteOrder(itemType) || isObjectType(itemType)) codecs.push({ name: "bytes", configuration: { endian } });
    else codecs.push({ name: "bytes" });
  }
  codecs.push(...afterBytes);
  if (v2.compressor) codecs.push(v2CompressorToV3(v2.compressor, itemType, context));
  return codecs;
}

/** numcodecs filters that work on bytes: v3 has them as bytes → bytes codecs. */
const V2_BYTE_FILTERS = new Set(["shuffle", "crc32", "adler32", "fletcher32"]);
const V2_COMPRESSORS = new Set(["blosc", "zstd", "lz4", "zlib", "gzip"]);

/** The type a value filter stores (`astype` / `encode_dtype`), when it names one. */
function filterOutputType(filter: V2CodecConfig): { dataType: DataType; endian: Endian | undefined } | undefined {
  const name = filter.id === "astype" ? filter.encode_dtype : filter.astype;
  if (typeof name !== "string") return undefined;
  try {
    const { dataType, endian } = parseV2DataType(name);
    return { dataType, endian: /^[<>]/.test(name) ? endian : undefined };
  } catch {
    return undefined; // the codec itself reports a bad type, naming its key
  }
}

/** A v2 value filter as its v3 codec: numcodecs registers each under "numcodecs.<id>". */
function v2FilterToV3(filter: V2CodecConfig, context: ErrorContext): CodecMetadata {
  const { id, ...configuration } = filter;
  const name = `numcodecs.${id}`;
  if (!registeredCodecs().includes(name)) throw new UnknownCodecError(id, context);
  return { name, configuration };
}

const BLOSC_SHUFFLE_NAMES = ["noshuffle", "shuffle", "bitshuffle"];

function v2CompressorToV3(compressor: V2CodecConfig, dataType: DataType, context: ErrorContext): CodecMetadata {
  const { id, ...config } = compressor;
  switch (id) {
    case "blosc": {
      const { itemsize } = DATA_TYPES[dataType];
      let shuffle = config.shuffle ?? 1;
      // -1 (AUTOSHUFFLE) is what numcodecs resolves at encode time: bit shuffle for 1-byte items.
      if (shuffle === -1) shuffle = itemsize === 1 ? 2 : 1;
      return {
        name: "blosc",
        configuration: {
          cname: config.cname ?? "lz4",
          clevel: config.clevel ?? 5,
          shuffle: typeof shuffle === "number" ? (BLOSC_SHUFFLE_NAMES[shuffle] ?? shuffle) : shuffle,
          typesize: itemsize,
          blocksize: config.blocksize ?? 0,
        },
      };
    }
    case "zstd":
      return { name: "zstd", configuration: { level: config.level ?? 1, checksum: config.checksum ?? false } };
    case "lz4":
      return { name: "numcodecs.lz4", configuration: { acceleration: config.acceleration ?? 1 } };
    case "zlib":
      return { name: "numcodecs.zlib", configuration: { level: config.level ?? 1 } };
    case "gzip":
      return { name: "gzip", configuration: { level: config.level ?? 1 } };
    default:
      // The byte filters (shuffle, checksums) serve as compressors too.
      if (V2_BYTE_FILTERS.has(id)) return v2FilterToV3(compressor, context);
      throw new UnknownCodecError(id, context);
  }
}

/** The v2 `.zarray` document of an array (which must carry its v2 fields). */
export function toV2ArrayJSON(metadata: ArrayMetadata): Record<string, unknown> {
  const v2 = metadata.v2;
  if (!v2) throw new MetadataError("array has no v2 fields");
  if (metadata.chunkGrid) throw new MetadataError("Zarr v2 has regular chunk grids only; a rectilinear grid needs Zarr format 3");
  return {
    zarr_format: 2,
    shape: metadata.shape,
    chunks: metadata.chunkShape,
    dtype: toV2DataType(metadata.dataType, v2.endian, v2.fieldEndians),
    compressor: v2.compressor,
    fill_value: v2.fillValueNull ? null : fillValueToJSON(metadata.fillValue, metadata.dataType),
    order: v2.order,
    filters: v2.filters && v2.filters.length ? v2.filters : null,
    dimension_separator: metadata.chunkKeyEncoding.separator,
  };
}

/** Parses `.zgroup` (and `.zattrs`). */
export function parseV2Group(zgroup: unknown, zattrs: unknown, context: ErrorContext = {}): GroupMetadata {
  if (!isObject(zgroup) || zgroup.zarr_format !== 2) throw new MetadataError(".zgroup must be {\"zarr_format\": 2}", context);
  return { zarrFormat: 2, attributes: attributesOf(zattrs, context) };
}

/** Parses a consolidated `.zmetadata` document into per-node documents keyed by path. */
export function parseV2Consolidated(json: unknown, context: ErrorContext = {}): Map<string, NodeDocument> {
  if (!isObject(json) || !isObject(json.metadata)) throw new MetadataError(".zmetadata must have a \"metadata\" object", context);
  const nodes = new Map<string, { zarrFormat: 2; zarray?: unknown; zgroup?: unknown; zattrs?: unknown }>();
  for (const [key, doc] of Object.entries(json.metadata)) {
    const slash = key.lastIndexOf("/");
    const path = checkNodePath(slash < 0 ? "" : key.slice(0, slash), context);
    const name = key.slice(slash + 1);
    const node = nodes.get(path) ?? { zarrFormat: 2 as const };
    if (name === ".zarray") node.zarray = doc;
    else if (name === ".zgroup") node.zgroup = doc;
    else if (name === ".zattrs") node.zattrs = doc;
    else continue;
    nodes.set(path, node);
  }
  return nodes;
}
