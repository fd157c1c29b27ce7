/**
 * `numcodecs.lz4` (v2 `lz4`): an LZ4 block prefixed with its uncompressed size as a 4-byte
 * little-endian integer, as numcodecs writes it. Via numcodecs' WASM build for now.
 */
import { CodecError } from "../errors.js";
import type { BytesToBytesCodec, CodecMetadata, DecodeContext } from "./codec.js";
import { ConfigReader } from "./config.js";
import { numcodecsClass, own } from "./numcodecs.js";
import { registerCodec } from "./registry.js";

export class Lz4Codec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "numcodecs.lz4";
  constructor(readonly acceleration: number) {}

  async encode(bytes: Uint8Array): Promise<Uint8Array> {
    const LZ4 = await numcodecsClass("lz4");
    return own(await LZ4.fromConfig({ id: "lz4", acceleration: this.acceleration }).encode(bytes));
  }

  async decode(bytes: Uint8Array, context: DecodeContext): Promise<Uint8Array> {
    if (bytes.byteLength < 4) throw new CodecError(`lz4: ${bytes.byteLength} bytes is shorter than the size header`);
    const declared = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    if (context.expectedSize !== undefined && declared !== context.expectedSize) {
      throw new CodecError(`lz4: header says ${declared} bytes, expected ${context.expectedSize}`);
    }
    const LZ4 = await numcodecsClass("lz4");
    const out = own(await LZ4.fromConfig({ id: "lz4" }).decode(bytes));
    if (out.byteLength !== declared) throw new CodecError(`lz4: decompressed ${out.byteLength} bytes, header says ${declared}`);
    return out;
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { acceleration: this.acceleration } };
  }
}

registerCodec(["numcodecs.lz4", "lz4"], (configuration, _input, context) => {
  const config = new ConfigReader("lz4", configuration, context, ["acceleration"]);
  return new Lz4Codec(config.integer("acceleration", 1, 0));
});
