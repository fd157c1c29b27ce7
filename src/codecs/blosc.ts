/**
 * `blosc`: bytes → bytes via numcodecs' WASM build (for now). v3 names its shuffle
 * ("noshuffle" | "shuffle" | "bitshuffle") and needs `typesize`; v2 uses 0/1/2/-1.
 *
 * Note: numcodecs' WASM blosc compresses with typesize 4 whatever it is told, so the shuffle
 * is less effective for other item sizes. The stream is still valid blosc (the header carries
 * the typesize used), so any reader decodes it; only the compression ratio suffers.
 */
import { CodecError } from "../errors.js";
import type { BytesToBytesCodec, CodecMetadata, DecodeContext } from "./codec.js";
import { ConfigReader } from "./config.js";
import { numcodecsClass, own } from "./numcodecs.js";
import { registerCodec } from "./registry.js";
import { DATA_TYPES } from "../dtype.js";

export const BLOSC_SHUFFLES = ["noshuffle", "shuffle", "bitshuffle"] as const;
export type BloscShuffle = (typeof BLOSC_SHUFFLES)[number];
export const BLOSC_CNAMES = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"] as const;

export class BloscCodec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "blosc";
  constructor(
    readonly cname: string,
    readonly clevel: number,
    readonly shuffle: BloscShuffle,
    readonly typesize: number,
    readonly blocksize: number,
  ) {}

  async encode(bytes: Uint8Array): Promise<Uint8Array> {
    const Blosc = await numcodecsClass("blosc");
    const codec = Blosc.fromConfig({
      id: "blosc",
      cname: this.cname,
      clevel: this.clevel,
      shuffle: BLOSC_SHUFFLES.indexOf(this.shuffle),
      blocksize: this.blocksize,
    });
    return own(await codec.encode(bytes));
  }

  async decode(bytes: Uint8Array, context: DecodeContext): Promise<Uint8Array> {
    // The 16-byte header states the decompressed size: check it before decompressing.
    if (bytes.byteLength < 16) throw new CodecError(`blosc: ${bytes.byteLength} bytes is shorter than the header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
    const nbytes = view.getUint32(4, true);
    const cbytes = view.getUint32(12, true);
    if (cbytes !== bytes.byteLength) {
      throw new CodecError(`blosc: header says ${cbytes} compressed bytes, chunk has ${bytes.byteLength}`);
    }
    if (context.expectedSize !== undefined && nbytes !== context.expectedSize) {
      throw new CodecError(`blosc: header says ${nbytes} bytes, expected ${context.expectedSize}`);
    }
    const Blosc = await numcodecsClass("blosc");
    const out = own(await Blosc.fromConfig({ id: "blosc" }).decode(bytes));
    if (out.byteLength !== nbytes) throw new CodecError(`blosc: decompressed ${out.byteLength} bytes, header says ${nbytes}`);
    return out;
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return {
      name: "blosc",
      configuration: {
        cname: this.cname,
        clevel: this.clevel,
        shuffle: this.shuffle,
        typesize: this.typesize,
        blocksize: this.blocksize,
      },
    };
  }
}

registerCodec(["blosc", "numcodecs.blosc"], (configuration, input, context) => {
  const config = new ConfigReader("blosc", configuration, context, ["cname", "clevel", "shuffle", "typesize", "blocksize"]);
  const cname = config.oneOf("cname", BLOSC_CNAMES, "zstd");
  const clevel = config.integer("clevel", 5, 0, 9);
  let shuffle = config.raw("shuffle") ?? "noshuffle";
  // numcodecs writes numbers in v3 metadata too (numcodecs.blosc): map them onto names.
  if (typeof shuffle === "number") shuffle = BLOSC_SHUFFLES[shuffle];
  if (!BLOSC_SHUFFLES.includes(shuffle as BloscShuffle)) config.fail(`"shuffle" must be one of ${BLOSC_SHUFFLES.join(", ")}`);
  const typesize = config.integer("typesize", DATA_TYPES[input.dataType].itemsize, 1, 255);
  const blocksize = config.integer("blocksize", 0, 0);
  return new BloscCodec(cname, clevel, shuffle as BloscShuffle, typesize, blocksize);
});
