/** `crc32c`: appends a CRC-32C (Castagnoli) of the bytes, little-endian; verified on decode. */
import { ChecksumError, CodecError } from "../errors.js";
import type { BytesToBytesCodec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

/** Slice-by-8 tables for a reflected CRC-32 polynomial: eight lookups per 8 input bytes instead of one per byte. */
export function crcTables(polynomial: number): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1;
    tables[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[0][n];
    for (let t = 1; t < 8; t++) {
      c = tables[0][c & 0xff] ^ (c >>> 8);
      tables[t][n] = c >>> 0;
    }
  }
  return tables;
}

/** The CRC-32 of `data` with the given tables (optionally continuing from a previous value). */
export function crcSliceBy8(tables: Uint32Array[], data: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables;
  let crc = ~previous >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const lo = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc;
    crc =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[data[i + 4]] ^
      t2[data[i + 5]] ^
      t1[data[i + 6]] ^
      t0[data[i + 7]];
  }
  for (; i < n; i++) crc = t0[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const CASTAGNOLI = crcTables(0x82f63b78);

/** CRC-32C of `data` (optionally continuing from a previous value). */
export function crc32c(data: Uint8Array, previous = 0): number {
  return crcSliceBy8(CASTAGNOLI, data, previous);
}

export class Crc32cCodec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "crc32c";

  encode(bytes: Uint8Array): Uint8Array {
    const out = new Uint8Array(bytes.byteLength + 4);
    out.set(bytes);
    new DataView(out.buffer).setUint32(bytes.byteLength, crc32c(bytes), true);
    return out;
  }

  decode(bytes: Uint8Array): Uint8Array {
    if (bytes.byteLength < 4) throw new CodecError(`crc32c: ${bytes.byteLength} bytes is too short to hold a checksum`);
    const body = bytes.subarray(0, bytes.byteLength - 4);
    const stored = new DataView(bytes.buffer, bytes.byteOffset + body.byteLength, 4).getUint32(0, true);
    const actual = crc32c(body);
    if (stored !== actual) {
      throw new ChecksumError(`crc32c mismatch: stored 0x${hex(stored)}, computed 0x${hex(actual)}`);
    }
    return body;
  }

  fixedEncodedSize(inputSize: number | null): number | null {
    return inputSize === null ? null : inputSize + 4;
  }

  toJSON(): CodecMetadata {
    return { name: "crc32c" };
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}

registerCodec("crc32c", (configuration, _input, context) => {
  new ConfigReader("crc32c", configuration, context, []);
  return new Crc32cCodec();
});
