/** `gzip`: bytes → bytes, RFC 1952. */
import type { BytesToBytesCodec, CodecMetadata, DecodeContext } from "./codec.js";
import { ConfigReader } from "./config.js";
import { deflateBackend } from "./deflate-backend.js";
import { registerCodec } from "./registry.js";

export class GzipCodec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "gzip";
  constructor(readonly level: number) {}

  encode(bytes: Uint8Array): Uint8Array {
    return deflateBackend().gzip(bytes, this.level);
  }

  decode(bytes: Uint8Array, context: DecodeContext): Uint8Array {
    return deflateBackend().gunzip(bytes, context.expectedSize);
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: "gzip", configuration: { level: this.level } };
  }
}

registerCodec(["gzip", "numcodecs.gzip"], (configuration, _input, context) => {
  const config = new ConfigReader("gzip", configuration, context, ["level"]);
  return new GzipCodec(config.integer("level", 5, 0, 9));
});
