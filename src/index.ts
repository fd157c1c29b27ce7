/**
 * zarrflow — read, write and convert Zarr arrays (v3 and v2) through a streaming
 * prefetch → compute → commit chunk pipeline.
 */
export {
  ZarrArray,
  closePools,
  type ReadOptions,
  type ReadChunksOptions,
  type WriteOptions,
  type OperationOptions,
  type Progress,
  type ChunkRequest,
  type ChunkResult,
} from "./array.js";
export type { WriteItem, WriterOptions } from "./writer.js";
export { ZarrGroup } from "./group.js";
export {
  open,
  openArray,
  openGroup,
  create,
  createGroup,
  setAttributes,
  defaultChunks,
  type OpenOptions,
  type CreateArrayOptions,
  type CreateGroupOptions,
} from "./hierarchy.js";
export { slice, parseSelection, normalizeSelection, type IndexArray, type Selection, type SelectionItem, type Slice } from "./selection.js";
export { RectilinearDim, type ChunkGrid, type EdgeRun, type GridDim, type GridSpec } from "./chunk-grid.js";
export {
  DATA_TYPES,
  dataTypeInfo,
  toFloat16Bits,
  fromFloat16Bits,
  HAS_FLOAT16_ARRAY,
  isObjectType,
  type DataType,
  type DataTypeInfo,
  type TypedArray,
  type Scalar,
} from "./dtype.js";
export { NAT, fixedWidthValues, packFixedWidth, structField, type StructField, type DateTimeUnit } from "./dtype-extended.js";
export { ndarray, type NdArray, type ObjectData } from "./ndarray.js";
export * from "./errors.js";
export type { Store, ByteRange, StoreCallOptions, WritableStore, GetSyncOptions, StoreHandle } from "./store.js";
export {
  CodecChain,
  registerCodec,
  registeredCodecs,
  crc32c,
  setDeflateBackend,
  ZSTD_IMPLEMENTATION,
  type CodecMetadata,
  type ChunkSpec,
  type Codec,
  type CodecFactory,
} from "./codecs/index.js";
export type { ArrayMetadata, GroupMetadata, ZarrFormat, V2CodecConfig } from "./metadata.js";
export type { WriteValue } from "./value.js";
export {
  copyArray,
  copyNode,
  verifyCopy,
  planArrayCopy,
  parseCompression,
  toV2Compressor,
  type CopyOptions,
  type CopyProgress,
  type CopySummary,
  type ArrayCopyPlan,
  type VerifyOptions,
  type VerifyResult,
} from "./convert.js";
export { parseJSON, stringifyJSON } from "./json.js";
