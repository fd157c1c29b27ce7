/**
 * `numcodecs.shuffle` (v2 filter `shuffle`): a byte shuffle of the chunk's bytes — byte j of
 * every element first, for j = 0 … elementsize−1 — so that similar bytes sit together for the
 * compressor. Bytes beyond the last whole element stay where they are.
 */
import type { BytesToBytesCodec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

export class ShuffleCodec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "numcodecs.shuffle";

  constructor(readonly elementsize: number) {}

  encode(bytes: Uint8Array): Uint8Array {
    return this.permute(bytes, true);
  }

  decode(bytes: Uint8Array): Uint8Array {
    return this.permute(bytes, false);
  }

  private permute(bytes: Uint8Array, forward: boolean): Uint8Array {
    const size = this.elementsize;
    if (size <= 1) return bytes;
    const count = Math.floor(bytes.length / size);
    const out = new Uint8Array(bytes.length);
    for (let j = 0; j < size; j++) {
      const plane = j * count;
      if (forward) for (let i = 0; i < count; i++) out[plane + i] = bytes[i * size + j];
      else for (let i = 0; i < count; i++) out[i * size + j] = bytes[plane + i];
    }
    out.set(bytes.subarray(count * size), count * size);
    return out;
  }

  fixedEncodedSize(inputSize: number | null): number | null {
    return inputSize;
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { elementsize: this.elementsize } };
  }
}

registerCodec("numcodecs.shuffle", (configuration, _input, context) => {
  const config = new ConfigReader("numcodecs.shuffle", configuration, context, ["elementsize"]);
  return new ShuffleCodec(config.integer("elementsize", 4, 0, 1 << 20));
});
