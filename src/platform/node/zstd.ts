/** zstd-napi, the native zstd (about 5× the WASM build), when its addon loads. */
import { createRequire } from "node:module";
import type { NativeZstd } from "../types.js";

function load(): NativeZstd | undefined {
  const require = createRequire(import.meta.url);
  try {
    const binding = require("zstd-napi/binding") as NativeZstd["binding"];
    return {
      binding,
      decompressStreaming(bytes) {
        const out = (require("zstd-napi") as typeof import("zstd-napi")).decompress(bytes);
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
      },
    };
  } catch {
    return undefined;
  }
}

let native: NativeZstd | undefined | null = null;

export function nativeZstd(): NativeZstd | undefined {
  if (native === null) native = process.env.ZARRFLOW_ZSTD === "wasm" ? undefined : load();
  return native;
}
