/** Chunk key encodings: v3 "default" ("c/1/2" or "c.1.2") and "v2" ("1.2" or "1/2"). */
import type { ChunkKeyEncoding } from "./metadata.js";

/** The key of the chunk at `coords`, relative to the array's path. */
export function encodeChunkKey(encoding: ChunkKeyEncoding, coords: readonly number[]): string {
  const { name, separator } = encoding;
  if (name === "default") return coords.length === 0 ? "c" : `c${separator}${coords.join(separator)}`;
  return coords.length === 0 ? "0" : coords.join(separator);
}
