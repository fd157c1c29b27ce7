/**
 * `zstd`: bytes → bytes. Native zstd-napi (Node) where the addon loads; elsewhere (browsers)
 * decoding runs in zarrflow's own WASM build of zstd (./zstd-wasm.ts: about 2× numcodecs') and
 * encoding in numcodecs' WASM build (the runtime decides: src/platform/).
 */
import { CodecError } from "../errors.js";
import type { BytesToBytesCodec, CodecMetadata, DecodeContext, MaybePromise } from "./codec.js";
import { ConfigReader } from "./config.js";
import { numcodecsClass, own } from "./numcodecs.js";
import { loadZstdWasm, zstdWasm, zstdWasmDecode } from "./zstd-wasm.js";
import { registerCodec } from "./registry.js";
import { platform } from "../platform/current.js";
import type { NativeZstd } from "../platform/types.js";

type Binding = NativeZstd["binding"];

const native = platform.nativeZstd();
const binding = native?.binding;
/** Which implementation is in use: "native" (zstd-napi) or "wasm" (zarrflow's WASM decoder, numcodecs' encoder). */
export const ZSTD_IMPLEMENTATION: "native" | "wasm" = binding ? "native" : "wasm";

// One context per thread, reused: creating a ZSTD context costs more than a small chunk's work.
let cctx: InstanceType<Binding["CCtx"]> | undefined;
let dctx: InstanceType<Binding["DCtx"]> | undefined;
let compressScratch = new Uint8Array(0);

/** Output sizes above this are refused when the frame does not say its size and the chain does not know it. */
const UNKNOWN_SIZE_LIMIT = 2 ** 31 - 1;

export class ZstdCodec implements BytesToBytesCodec {
  readonly kind = "bytes_to_bytes";
  readonly name = "zstd";
  constructor(
    readonly level: number,
    readonly checksum: boolean,
  ) {}

  encode(bytes: Uint8Array, context?: { transient?: boolean }): MaybePromise<Uint8Array> {
    if (!binding) {
      return numcodecsClass("zstd").then(async (Zstd) => own(await Zstd.fromConfig({ id: "zstd", level: this.level }).encode(bytes)));
    }
    cctx ??= new binding.CCtx();
    cctx.reset(binding.ResetDirective.sessionAndParameters);
    cctx.setParameter(binding.CParameter.compressionLevel, this.level);
    cctx.setParameter(binding.CParameter.checksumFlag, this.checksum ? 1 : 0);
    // Compress into a reused bound-sized buffer and copy the (smaller) result out: one fresh
    // allocation per chunk instead of two, and no page faults on the big one.
    const bound = binding.compressBound(bytes.byteLength);
    if (compressScratch.byteLength < bound) compressScratch = new Uint8Array(bound);
    const n = cctx.compress2(compressScratch.subarray(0, bound), bytes);
    return context?.transient ? compressScratch.subarray(0, n) : compressScratch.slice(0, n);
  }

  decode(bytes: Uint8Array, context: DecodeContext): MaybePromise<Uint8Array> {
    if (!binding) {
      // zarrflow's WASM decoder: synchronous once this thread has instantiated it.
      const wasm = zstdWasm();
      if (wasm) return zstdWasmDecode(wasm, bytes, context.expectedSize, context.into) ?? streamingDecode(bytes, context);
      // Not yet instantiated: this decode finishes later, when other decodes may have been lent
      // the same buffer (a thread's transient scratch), so it decodes into memory of its own.
      return loadZstdWasm().then((loaded) => zstdWasmDecode(loaded, bytes, context.expectedSize, undefined) ?? streamingDecode(bytes, context));
    }
    dctx ??= new binding.DCtx();
    let size = context.expectedSize;
    if (size === undefined) {
      let declared: number | null;
      try {
        declared = binding.getFrameContentSize(bytes);
      } catch (e) {
        throw new CodecError(`zstd: not a zstd frame (${(e as Error).message})`);
      }
      if (declared === null) return native!.decompressStreaming(bytes);
      if (declared > UNKNOWN_SIZE_LIMIT) throw new CodecError(`zstd: frame claims ${declared} bytes, over the limit`);
      size = declared;
    }
    // Decompressing into a buffer of exactly the expected size makes a decompression bomb
    // fail ("destination too small") instead of allocating what the frame claims.
    const out = context.into?.byteLength === size ? context.into : new Uint8Array(size);
    const n = dctx.decompress(out, bytes);
    return n === size ? out : out.subarray(0, n);
  }

  fixedEncodedSize(): null {
    return null;
  }

  toJSON(): CodecMetadata {
    return { name: "zstd", configuration: { level: this.level, checksum: this.checksum } };
  }
}

/**
 * A frame that does not declare its size, with no size known from the chain (WASM path):
 * numcodecs' streaming decoder.
 */
async function streamingDecode(bytes: Uint8Array, context: DecodeContext): Promise<Uint8Array> {
  const Zstd = await numcodecsClass("zstd");
  let out: Uint8Array;
  try {
    out = own(await Zstd.fromConfig({ id: "zstd" }).decode(bytes));
  } catch (error) {
    throw new CodecError(`zstd: ${(error as Error).message}`);
  }
  if (context.expectedSize !== undefined && out.byteLength > context.expectedSize) {
    throw new CodecError(`zstd: decompressed ${out.byteLength} bytes, expected ${context.expectedSize}`);
  }
  return out;
}

registerCodec(["zstd", "numcodecs.zstd"], (configuration, _input, context) => {
  const config = new ConfigReader("zstd", configuration, context, ["level", "checksum"]);
  return new ZstdCodec(config.integer("level", 0, -131072, 22), config.boolean("checksum", false));
});
