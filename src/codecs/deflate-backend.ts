/**
 * The deflate family (gzip, zlib) has two implementations: node:zlib (native, 2–3× faster)
 * and fflate (pure JS, runs anywhere). Node's is used where it exists; fflate is the portable
 * fallback and the cross-check in tests. Both produce standard streams, so either decodes
 * what the other encodes.
 */
import * as fflate from "fflate";
import { platform } from "../platform/current.js";

export interface DeflateBackend {
  readonly name: "node" | "fflate";
  gzip(data: Uint8Array, level: number): Uint8Array;
  gunzip(data: Uint8Array, maxOutput?: number): Uint8Array;
  zlib(data: Uint8Array, level: number): Uint8Array;
  unzlib(data: Uint8Array, maxOutput?: number): Uint8Array;
  /** Raw deflate (no header or trailer, as in zip members). */
  deflateRaw(data: Uint8Array, level: number): Uint8Array;
  inflateRaw(data: Uint8Array, maxOutput?: number): Uint8Array;
}

type ZlibLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/**
 * fflate with the two guarantees node:zlib gives: a bounded output (inflating into a buffer one
 * byte larger than allowed, which fflate never grows, so a bomb stops at maxOutput + 1 instead
 * of allocating what it claims), and verified trailers (fflate checks neither gzip's CRC-32 and
 * length nor zlib's Adler-32, so a corrupt stream that still inflates would pass unnoticed).
 */
export const fflateBackend: DeflateBackend = {
  name: "fflate",
  gzip: (data, level) => fflate.gzipSync(data, { level: level as ZlibLevel, mtime: 0 }),
  gunzip: (data, maxOutput) => {
    const out = bounded(maxOutput === undefined ? fflate.gunzipSync(data) : fflate.gunzipSync(data, { out: new Uint8Array(maxOutput + 1) }), maxOutput);
    const trailer = new DataView(data.buffer, data.byteOffset + data.byteLength - 8, 8);
    if (trailer.getUint32(0, true) !== crc32(out)) throw new Error("gzip CRC-32 mismatch");
    if (trailer.getUint32(4, true) !== out.byteLength % 2 ** 32) throw new Error("gzip length mismatch");
    return out;
  },
  zlib: (data, level) => fflate.zlibSync(data, { level: level as ZlibLevel }),
  unzlib: (data, maxOutput) => {
    const out = bounded(maxOutput === undefined ? fflate.unzlibSync(data) : fflate.unzlibSync(data, { out: new Uint8Array(maxOutput + 1) }), maxOutput);
    if (data.byteLength < 6) throw new Error("zlib stream too short");
    const stored = new DataView(data.buffer, data.byteOffset + data.byteLength - 4, 4).getUint32(0, false);
    if (stored !== adler32(out)) throw new Error("zlib Adler-32 mismatch");
    return out;
  },
  deflateRaw: (data, level) => fflate.deflateSync(data, { level: level as ZlibLevel }),
  inflateRaw: (data, maxOutput) =>
    bounded(maxOutput === undefined ? fflate.inflateSync(data) : fflate.inflateSync(data, { out: new Uint8Array(maxOutput + 1) }), maxOutput),
};

/** Refuses output past maxOutput; hands back a tight buffer (callers may transfer it). */
function bounded(out: Uint8Array, maxOutput: number | undefined): Uint8Array {
  if (maxOutput !== undefined && out.byteLength > maxOutput) {
    throw new Error(`decompressed size exceeds the expected ${maxOutput} bytes`);
  }
  return out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
}

let crcTable: Int32Array | undefined;

/** CRC-32 (ISO 3309, as gzip and zip use it). */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 bytes is the most that can be summed before b overflows 2^32 (zlib's NMAX).
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const nodeBackend = platform.nativeDeflate();

let current: DeflateBackend = platform.env("ZARRFLOW_DEFLATE") === "fflate" ? fflateBackend : nodeBackend ?? fflateBackend;

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
