/** `numcodecs.adler32` (v2 `adler32`): the zlib Adler-32 of the bytes, in the numcodecs checksum frame. */
import { registerChecksum32 } from "./checksum32.js";

/** Adler-32 (as zlib.adler32, starting from 1) of `data`. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // Reduce every 5552 bytes (zlib NMAX), which keeps both sums small integers.
  for (let start = 0; start < data.length; start += 5552) {
    const end = Math.min(start + 5552, data.length);
    for (let i = start; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

registerChecksum32("numcodecs.adler32", adler32);
