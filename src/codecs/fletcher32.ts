/**
 * `numcodecs.fletcher32` (v2 `fletcher32`): HDF5's Fletcher-32 (big-endian 16-bit words, an odd
 * last byte as the high half of a word) appended as 4 little-endian bytes, as numcodecs does.
 */
import { Checksum32Codec } from "./checksum32.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

export function fletcher32(data: Uint8Array): number {
  let sum1 = 0;
  let sum2 = 0;
  const words = data.length >> 1;
  let p = 0;
  // Blocks of 360 words keep both sums below 2^32 before each fold.
  for (let left = words; left > 0; ) {
    const block = Math.min(left, 360);
    left -= block;
    for (let k = 0; k < block; k++, p += 2) {
      sum1 += (data[p] << 8) | data[p + 1];
      sum2 += sum1;
    }
    sum1 = (sum1 & 0xffff) + Math.floor(sum1 / 65536);
    sum2 = (sum2 & 0xffff) + Math.floor(sum2 / 65536);
  }
  if (data.length % 2) {
    sum1 += data[data.length - 1] << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + Math.floor(sum1 / 65536);
    sum2 = (sum2 & 0xffff) + Math.floor(sum2 / 65536);
  }
  sum1 = (sum1 & 0xffff) + Math.floor(sum1 / 65536);
  sum2 = (sum2 & 0xffff) + Math.floor(sum2 / 65536);
  return ((sum2 << 16) | sum1) >>> 0;
}

registerCodec("numcodecs.fletcher32", (configuration, _input, context) => {
  new ConfigReader("numcodecs.fletcher32", configuration, context, []);
  return new Checksum32Codec("numcodecs.fletcher32", fletcher32, "end", false);
});
