/** The Node runtime: worker_threads, node:zlib, zstd-napi, process settings. */
import { constants as bufferConstants } from "node:buffer";
import { setMaxListeners } from "node:events";
import { availableParallelism } from "node:os";
import type { Platform } from "../types.js";
import { nodeDeflateBackend } from "./deflate.js";
import { spawnWorker } from "./workers.js";
import { nativeZstd } from "./zstd.js";

export const platform: Platform = {
  name: "node",
  parallelism: () => Math.min(8, availableParallelism()),
  spawnWorker,
  sharedMemory: () => true,
  maxBufferBytes: bufferConstants.MAX_LENGTH,
  unlimitedListeners: (signal) => setMaxListeners(0, signal),
  env: (name) => process.env[name],
  nativeZstd,
  nativeDeflate: () => nodeDeflateBackend,
};
