/** `zlib` (numcodecs.zlib in v3, `zlib` in v2): bytes → bytes, RFC 1950. */
import type { BytesToBytesCodec, CodecMetadata, DecodeContext } from "./codec.js";
import { ConfigReader } from "./config.js";
import { deflateBackend } from "./deflate-backend.js";
import { registerCodec } from "./registry.js";

export class ZlibCodec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "numcodecs.zlib";
  constructor(readonly level: number) {}

  encode(bytes: Uint8Array): Uint8Array {
    return deflateBackend().zlib(bytes, this.level);
  }

  decode(bytes: Uint8Array, context: DecodeContext): Uint8Array {
    return deflateBackend().unzlib(bytes, context.expectedSize);
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { level: this.level } };
  }
}

registerCodec(["numcodecs.zlib", "zlib"], (configuration, _input, context) => {
  const config = new ConfigReader("zlib", configuration, context, ["level"]);
  return new ZlibCodec(config.integer("level", 1, 0, 9));
});
