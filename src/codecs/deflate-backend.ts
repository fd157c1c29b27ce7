/**
 * The deflate family (gzip, zlib) has two implementations: node:zlib (native, 2–3× faster)
 * and fflate (pure JS, runs anywhere). Node's is used where it exists; fflate is the portable
 * fallback and the cross-check in tests. Both produce standard streams, so either decodes
 * what the other encodes.
 */
import * as fflate from "fflate";
import { createRequire } from "node:module";

export interface DeflateBackend {
  readonly name: "node" | "fflate";
  gzip(data: Uint8Array, level: number): Uint8Array;
  gunzip(data: Uint8Array, maxOutput?: number): Uint8Array;
  zlib(data: Uint8Array, level: number): Uint8Array;
  unzlib(data: Uint8Array, maxOutput?: number): Uint8Array;
}

type ZlibLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

export const fflateBackend: DeflateBackend = {
  name: "fflate",
  gzip: (data, level) => fflate.gzipSync(data, { level: level as ZlibLevel, mtime: 0 }),
  gunzip: (data, maxOutput) => checkSize(fflate.gunzipSync(data), maxOutput),
  zlib: (data, level) => fflate.zlibSync(data, { level: level as ZlibLevel }),
  unzlib: (data, maxOutput) => checkSize(fflate.unzlibSync(data), maxOutput),
};

function checkSize(out: Uint8Array, maxOutput: number | undefined): Uint8Array {
  if (maxOutput !== undefined && out.byteLength > maxOutput) {
    throw new Error(`decompressed size ${out.byteLength} exceeds the expected ${maxOutput} bytes`);
  }
  return out;
}

function loadNodeBackend(): DeflateBackend | undefined {
  let zlib: typeof import("node:zlib");
  try {
    zlib = createRequire(import.meta.url)("node:zlib") as typeof import("node:zlib");
  } catch {
    return undefined;
  }
  // Node returns Buffers that may sit in a shared pool; callers get tight Uint8Arrays so
  // the result can be transferred to another thread.
  const tight = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const limits = (maxOutput?: number) => (maxOutput === undefined ? {} : { maxOutputLength: Math.max(1, maxOutput) });
  return {
    name: "node",
    gzip: (data, level) => tight(zlib.gzipSync(data, { level })),
    gunzip: (data, maxOutput) => tight(zlib.gunzipSync(data, limits(maxOutput))),
    zlib: (data, level) => tight(zlib.deflateSync(data, { level })),
    unzlib: (data, maxOutput) => tight(zlib.inflateSync(data, limits(maxOutput))),
  };
}

const nodeBackend = loadNodeBackend();

let current: DeflateBackend = process.env.ZARRFLOW_DEFLATE === "fflate" ? fflateBackend : nodeBackend ?? fflateBackend;

export function deflateBackend(): DeflateBackend {
  return current;
}

/** Chooses the implementation ("node" when available, else "fflate"); returns the one in use. */
export function setDeflateBackend(name: "node" | "fflate"): DeflateBackend {
  current = name === "node" && nodeBackend ? nodeBackend : fflateBackend;
  return current;
}

export function getNodeDeflateBackend(): DeflateBackend | undefined {
  return nodeBackend;
}
