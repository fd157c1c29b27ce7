/** The browser runtime: Web Workers, fflate and WASM codecs, no process. */
import type { Platform } from "../types.js";
import { spawnWorker } from "./workers.js";

export const platform: Platform = {
  name: "browser",
  parallelism: () => Math.max(1, Math.min(8, globalThis.navigator?.hardwareConcurrency ?? 4)),
  spawnWorker,
  // Without cross-origin isolation SharedArrayBuffer does not exist (or cannot be posted).
  sharedMemory: () => globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === "function",
  // V8's limit for one ArrayBuffer on 64-bit hosts.
  maxBufferBytes: 2 ** 32,
  unlimitedListeners: () => undefined,
  env: () => undefined,
  nativeZstd: () => undefined,
  nativeDeflate: () => undefined,
};
