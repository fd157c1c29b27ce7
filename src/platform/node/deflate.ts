/** gzip/zlib on node:zlib (native, 2–3× fflate): the Node deflate backend. */
import * as zlib from "node:zlib";
import type { DeflateBackend } from "../../codecs/deflate-backend.js";

// Node returns Buffers that may sit in a shared pool; callers get tight Uint8Arrays so the
// result can be transferred to another thread.
const tight = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const limits = (maxOutput?: number) => (maxOutput === undefined ? {} : { maxOutputLength: Math.max(1, maxOutput) });

export const nodeDeflateBackend: DeflateBackend = {
  name: "node",
  gzip: (data, level) => tight(zlib.gzipSync(data, { level })),
  gunzip: (data, maxOutput) => tight(zlib.gunzipSync(data, limits(maxOutput))),
  zlib: (data, level) => tight(zlib.deflateSync(data, { level })),
  unzlib: (data, maxOutput) => tight(zlib.inflateSync(data, limits(maxOutput))),
  deflateRaw: (data, level) => tight(zlib.deflateRawSync(data, { level })),
  inflateRaw: (data, maxOutput) => tight(zlib.inflateRawSync(data, limits(maxOutput))),
};
