/**
 * The numcodecs 32-bit checksum codecs' shared frame: 4 bytes of checksum (little-endian)
 * before the data (`location: "start"`, the default and the only form numcodecs < 0.14 writes)
 * or after it (`"end"`). One codec per checksum lives in its own file (crc32, adler32, fletcher32).
 */
import { ChecksumError, CodecError } from "../errors.js";
import type { BytesToBytesCodec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

export type ChecksumLocation = "start" | "end";

export class Checksum32Codec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";

  constructor(
    readonly name: string,
    private readonly checksum: (data: Uint8Array) => number,
    readonly location: ChecksumLocation,
    /** Whether `location` appears in the JSON form (fletcher32 has no such option). */
    private readonly configurable = true,
  ) {}

  encode(bytes: Uint8Array): Uint8Array {
    const out = new Uint8Array(bytes.byteLength + 4);
    const start = this.location === "start" ? 4 : 0;
    out.set(bytes, start);
    new DataView(out.buffer).setUint32(this.location === "start" ? 0 : bytes.byteLength, this.checksum(bytes), true);
    return out;
  }

  decode(bytes: Uint8Array): Uint8Array {
    if (bytes.byteLength < 4) throw new CodecError(`${this.name}: ${bytes.byteLength} bytes is too short to hold a checksum`);
    const at = this.location === "start" ? 0 : bytes.byteLength - 4;
    const body = this.location === "start" ? bytes.subarray(4) : bytes.subarray(0, bytes.byteLength - 4);
    const stored = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
    const actual = this.checksum(body);
    if (stored !== actual) throw new ChecksumError(`${this.name} mismatch: stored 0x${hex(stored)}, computed 0x${hex(actual)}`);
    return body;
  }

  fixedEncodedSize(inputSize: number | null): number | null {
    return inputSize === null ? null : inputSize + 4;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: this.configurable && this.location !== "start" ? { location: this.location } : {} };
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** Registers a numcodecs checksum codec whose configuration is `{location?}`. */
export function registerChecksum32(name: string, checksum: (data: Uint8Array) => number): void {
  registerCodec(name, (configuration, _input, context) => {
    const config = new ConfigReader(name, configuration, context, ["location"]);
    return new Checksum32Codec(name, checksum, config.oneOf("location", ["start", "end"] as const, "start"));
  });
}
