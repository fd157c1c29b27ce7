/** `numcodecs.crc32` (v2 `crc32`): the zlib CRC-32 of the bytes, in the numcodecs checksum frame. */
import { registerChecksum32 } from "./checksum32.js";
import { crcSliceBy8, crcTables } from "./crc32c.js";

const ISO_HDLC = crcTables(0xedb88320);

/** CRC-32 (ISO-HDLC, as zlib.crc32) of `data`. */
export function crc32(data: Uint8Array): number {
  return crcSliceBy8(ISO_HDLC, data);
}

registerChecksum32("numcodecs.crc32", crc32);
