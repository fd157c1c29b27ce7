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
    const nbytes = checkBloscFrame(bytes, context.expectedSize);
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

/** The largest buffer c-blosc 1.x compresses (BLOSC_MAX_BUFFERSIZE). */
const BLOSC_MAX_BUFFERSIZE = 2 ** 31 - 1 - 16;
const MEMCPYED = 0x2;
const DONT_SPLIT = 0x10;

/**
 * Validates a blosc 1.x frame (format version 2) before it reaches the decompressor, and
 * returns its decompressed size. numcodecs' WASM blosc ignores blosc_decompress's return code
 * and hands back its output buffer whatever happened, so anything blosc would have refused has
 * to be refused here: a header that disagrees with the chunk (compressed size, decompressed
 * size, block size), an unknown format or compressor, and block or stream offsets that point
 * outside the frame. What cannot be checked without decompressing — a corrupt compressed
 * stream inside a well-formed frame — still decodes to garbage (blosc has no checksum).
 */
export function checkBloscFrame(bytes: Uint8Array, expectedSize: number | undefined): number {
  const fail = (why: string): never => {
    throw new CodecError(`blosc: ${why}`);
  };
  if (bytes.byteLength < 16) fail(`${bytes.byteLength} bytes is shorter than the 16-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[0];
  const flags = bytes[2];
  const typesize = bytes[3];
  const nbytes = view.getUint32(4, true);
  const blocksize = view.getUint32(8, true);
  const cbytes = view.getUint32(12, true);
  if (version < 1 || version > 2) fail(`format version ${version} is not blosc 1 (versions 1 and 2)`);
  if (cbytes !== bytes.byteLength) fail(`header says ${cbytes} compressed bytes, chunk has ${bytes.byteLength}`);
  if (expectedSize !== undefined && nbytes !== expectedSize) fail(`header says ${nbytes} bytes, expected ${expectedSize}`);
  if (nbytes > BLOSC_MAX_BUFFERSIZE) fail(`header says ${nbytes} bytes, more than blosc can hold`);
  if (flags & MEMCPYED) {
    if (cbytes !== nbytes + 16) fail(`uncompressed frame of ${nbytes} bytes is ${cbytes} bytes long, expected ${nbytes + 16}`);
    return nbytes;
  }
  if ((flags >> 5) > 4) fail(`unknown compressor code ${flags >> 5}`);
  if (typesize === 0) fail("typesize 0");
  if (nbytes === 0) return nbytes;
  if (blocksize === 0) fail(`block size 0 for ${nbytes} bytes`);
  const nblocks = Math.ceil(nbytes / blocksize);
  const dataStart = 16 + 4 * nblocks;
  if (dataStart > cbytes) fail(`${nblocks} block offsets do not fit in ${cbytes} bytes`);
  const leftover = nbytes % blocksize;
  // The end of a block's `streams` streams starting at `at`, or a reason they do not fit.
  const walk = (at: number, bsize: number, streams: number): number | string => {
    const streamSize = Math.floor(bsize / streams);
    for (let s = 0; s < streams; s++) {
      if (at + 4 > cbytes) return `stream ${s} header lies past the end of the frame`;
      const csize = view.getInt32(at, true);
      if (csize < 0 || csize > streamSize) return `stream ${s} claims ${csize} compressed bytes for ${streamSize} bytes`;
      at += 4 + csize;
      if (at > cbytes) return `stream ${s} runs past the end of the frame`;
    }
    return at;
  };
  // c-blosc writes blocks back to back (in any order when threaded), so their extents tile
  // [dataStart, cbytes) exactly: a stream size or block offset that was changed breaks the tiling.
  const blocks: { start: number; ends: number[]; error?: string }[] = [];
  for (let b = 0; b < nblocks; b++) {
    const start = view.getUint32(16 + 4 * b, true);
    if (start < dataStart || start >= cbytes) fail(`block ${b} starts at ${start}, outside [${dataStart}, ${cbytes})`);
    const last = b === nblocks - 1 && leftover > 0;
    const bsize = last ? leftover : blocksize;
    // A full block is split into one stream per byte of the type unless the header says it is
    // not; writers before c-blosc 1.14 decided that without saying, so either reading will do.
    const split = typesize > 1 && !last && !(flags & DONT_SPLIT) ? walk(start, bsize, typesize) : undefined;
    const whole = walk(start, bsize, 1);
    const ends = [split, whole].filter((end): end is number => typeof end === "number");
    if (ends.length === 0) fail(`block ${b}: ${typeof split === "string" ? split : whole}`);
    blocks.push({ start, ends });
  }
  blocks.sort((a, b) => a.start - b.start);
  if (blocks[0].start !== dataStart) fail(`the first block starts at ${blocks[0].start}, not right after the offsets (${dataStart})`);
  blocks.forEach((block, i) => {
    const next = i + 1 < blocks.length ? blocks[i + 1].start : cbytes;
    if (!block.ends.includes(next)) fail(`a block at ${block.start} ends at ${block.ends.join(" or ")}, but the next byte in use is ${next}`);
  });
  return nbytes;
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
