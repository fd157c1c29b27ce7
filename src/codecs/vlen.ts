/**
 * The variable-length framing numcodecs and zarr-python use for object chunks (VLenUTF8,
 * VLenBytes, VLenArray; v3 `vlen-utf8` / `vlen-bytes`): a little-endian uint32 item count,
 * then per item a uint32 byte length and the bytes. Decoding trusts no number in it: the count
 * must be the chunk's element count, every length must fit in what is left, and nothing may
 * follow the last item — so a lying prefix costs nothing but the error.
 */
import { CodecError } from "../errors.js";
import type { CodecMetadata } from "./codec.js";

/**
 * Where the items of a framed chunk of `expected` items are: byte offsets and lengths into
 * `bytes` (no per-item views: 100 000 subarray objects cost more than decoding them).
 */
export function scanFramed(bytes: Uint8Array, expected: number): { starts: Uint32Array; lengths: Uint32Array; total: number } {
  if (bytes.byteLength < 4) throw new CodecError(`variable-length chunk of ${bytes.byteLength} bytes has no item count`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (count !== expected) throw new CodecError(`variable-length chunk claims ${count} items, the chunk holds ${expected}`);
  // Every item costs at least its 4-byte length: a count the bytes cannot hold is a lie, caught before allocating.
  if (count * 4 > bytes.byteLength - 4) throw new CodecError(`variable-length chunk claims ${count} items in ${bytes.byteLength} bytes`);
  const starts = new Uint32Array(count);
  const lengths = new Uint32Array(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) throw new CodecError(`variable-length chunk is truncated at item ${i} of ${count}`);
    const length = view.getUint32(at, true);
    at += 4;
    if (length > bytes.byteLength - at) throw new CodecError(`variable-length item ${i} claims ${length} bytes, ${bytes.byteLength - at} are left`);
    starts[i] = at;
    lengths[i] = length;
    at += length;
  }
  if (at !== bytes.byteLength) throw new CodecError(`variable-length chunk has ${bytes.byteLength - at} bytes after its last item`);
  return { starts, lengths, total: at - 4 - 4 * count };
}

/** The byte strings of a framed chunk of `expected` items (copies). */
export function readFramed(bytes: Uint8Array, expected: number): Uint8Array[] {
  const { starts, lengths } = scanFramed(bytes, expected);
  const items = new Array<Uint8Array>(starts.length);
  for (let i = 0; i < starts.length; i++) items[i] = bytes.slice(starts[i], starts[i] + lengths[i]);
  return items;
}

/** Frames byte strings (the inverse of readFramed). */
export function writeFramed(items: readonly Uint8Array[]): Uint8Array {
  let size = 4 + 4 * items.length;
  for (const item of items) size += item.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, items.length, true);
  let at = 4;
  for (const item of items) {
    view.setUint32(at, item.byteLength, true);
    out.set(item, at + 4);
    at += 4 + item.byteLength;
  }
  return out;
}

const VLEN_CODECS = new Set(["vlen-utf8", "vlen-bytes", "numcodecs.vlen-utf8", "numcodecs.vlen-bytes", "numcodecs.vlen-array", "numcodecs.json2"]);

/** True for the array → bytes codecs of object data types. */
export function isVlenCodec(name: string): boolean {
  return VLEN_CODECS.has(name);
}

/** The v3-form codec of a v2 object-array filter (vlen-*, categorize), or undefined for other filters. */
export function v2ObjectCodec(filter: { id: string; [key: string]: unknown }): CodecMetadata | undefined {
  const { id, ...config } = filter;
  switch (id) {
    case "vlen-utf8":
    case "vlen-bytes":
      return { name: id, configuration: {} };
    case "vlen-array":
      return { name: "numcodecs.vlen-array", configuration: { dtype: config.dtype } };
    case "categorize":
      return { name: "numcodecs.categorize", configuration: config };
    case "json2":
      return { name: "numcodecs.json2", configuration: config };
  }
  return undefined;
}
