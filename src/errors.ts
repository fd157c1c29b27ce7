/**
 * Typed errors. Every error zarrflow raises on bad input is a ZarrflowError subclass with a
 * stable `code` tag and, where known, the array path and store key it concerns, so a caller
 * can tell "your selection is wrong" from "chunk c/0/3 is corrupt" without parsing messages.
 */

export interface ErrorContext {
  /** Path of the array or group inside the store ("" for the root). */
  path?: string;
  /** Store key of the object concerned (chunk, shard, metadata document). */
  key?: string;
  cause?: unknown;
}

export class ZarrflowError extends Error {
  readonly code: string = "ZARRFLOW_ERROR";
  readonly path: string | undefined;
  readonly key: string | undefined;
  /** The message without the array/key suffix. */
  readonly detail: string;

  constructor(message: string, context: ErrorContext = {}) {
    super(withContext(message, context), context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.detail = message;
    this.path = context.path;
    this.key = context.key;
  }
}

function withContext(message: string, { path, key }: ErrorContext): string {
  const where: string[] = [];
  if (path !== undefined) where.push(`array "${path === "" ? "/" : path}"`);
  if (key !== undefined) where.push(`key "${key}"`);
  return where.length ? `${message} (${where.join(", ")})` : message;
}

/** Metadata is malformed, inconsistent or uses something this version cannot represent. */
export class MetadataError extends ZarrflowError {
  override readonly code: string = "METADATA_ERROR";
}

/** A codec named in metadata is not registered. */
export class UnknownCodecError extends MetadataError {
  override readonly code: string = "UNKNOWN_CODEC";
  constructor(readonly codec: string, context: ErrorContext = {}) {
    super(`unknown codec "${codec}"`, context);
  }
}

/** A data type named in metadata is not supported. */
export class UnsupportedDataTypeError extends MetadataError {
  override readonly code: string = "UNSUPPORTED_DATA_TYPE";
}

/** Stored chunk bytes could not be decoded (corrupt, truncated, wrong size). */
export class CodecError extends ZarrflowError {
  override readonly code: string = "CODEC_ERROR";
}

/** A checksum stored with a chunk does not match its contents. */
export class ChecksumError extends CodecError {
  override readonly code: string = "CHECKSUM_MISMATCH";
}

/** A selection is malformed or out of bounds for the array. */
export class SelectionError extends ZarrflowError {
  override readonly code: string = "SELECTION_ERROR";
}

/** A value given to write() does not fit the selection or the data type. */
export class ValueError extends ZarrflowError {
  override readonly code: string = "VALUE_ERROR";
}

/** No array or group exists at the path. */
export class NodeNotFoundError extends ZarrflowError {
  override readonly code: string = "NODE_NOT_FOUND";
}

/** The node exists but is of another kind (a group where an array was expected, or the reverse). */
export class ContainsNodeError extends ZarrflowError {
  override readonly code: string = "NODE_EXISTS";
}

/** The store failed (IO error, permission denied, server error) — distinct from "absent". */
export class StoreError extends ZarrflowError {
  override readonly code: string = "STORE_ERROR";
}

/** The store cannot do what was asked (write to a read-only store, list where there is no listing). */
export class UnsupportedOperationError extends StoreError {
  override readonly code: string = "UNSUPPORTED_OPERATION";
}

/** An operation was cancelled through its AbortSignal. */
export class AbortError extends ZarrflowError {
  override readonly code: string = "ABORTED";
  constructor(message = "the operation was aborted", context: ErrorContext = {}) {
    super(message, context);
  }
}

/** Throws an AbortError when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, context: ErrorContext = {}): void {
  if (signal?.aborted) throw asAbortError(signal.reason, context);
}

export function asAbortError(reason: unknown, context: ErrorContext = {}): AbortError {
  if (reason instanceof AbortError) return reason;
  return new AbortError("the operation was aborted", { ...context, cause: reason });
}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof AbortError ||
    (error instanceof Error && (error.name === "AbortError" || (error as { code?: unknown }).code === "ABORT_ERR"))
  );
}

/** A plain-data form of an error, for crossing a thread boundary. */
export interface SerializedError {
  name: string;
  message: string;
  detail?: string;
  path?: string;
  key?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ZarrflowError) {
    return { name: error.name, message: error.message, detail: error.detail, path: error.path, key: error.key };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

const ERROR_CLASSES: Record<string, new (message: string, context: ErrorContext) => ZarrflowError> = {
  ZarrflowError,
  MetadataError,
  CodecError,
  ChecksumError,
  SelectionError,
  ValueError,
  StoreError,
  // Workers store chunks themselves (src/worker-write.ts): a read-only store refuses there.
  UnsupportedOperationError,
};

/** Rebuilds an error serialised in a worker, with its class where it is a zarrflow error. */
export function deserializeError(error: SerializedError): Error {
  const Ctor = ERROR_CLASSES[error.name];
  if (Ctor && error.detail !== undefined) return new Ctor(error.detail, { path: error.path, key: error.key });
  const plain = new Error(error.message);
  plain.name = error.name;
  return plain;
}
