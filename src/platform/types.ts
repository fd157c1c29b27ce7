/**
 * What zarrflow needs from its runtime, in one interface. Portable code (format, codecs,
 * operators, the array facade) asks `platform` (./current.ts) and never imports a runtime
 * module itself; src/platform/node/ and src/platform/browser/ each implement it.
 */
import type { DeflateBackend } from "../codecs/deflate-backend.js";

/** The native zstd binding (zstd-napi), where one loads. */
export interface NativeZstd {
  binding: typeof import("zstd-napi/binding.js");
  /** Frames that do not state their size (streaming encoders) need the growing decoder. */
  decompressStreaming(bytes: Uint8Array): Uint8Array;
}

/** A message endpoint shared by Node's worker_threads ports and the DOM's MessagePort. */
export interface TaskPort {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** A started compute worker: its task channel, and what the pool needs to manage it. */
export interface WorkerHandle {
  port: TaskPort;
  /** Called once when the worker is gone (exited, crashed, or failed to run its script). */
  onExit(listener: (code: number) => void): void;
  /** Keep the process alive while tasks are in flight (a no-op where processes do not exist). */
  ref(): void;
  unref(): void;
  terminate(): Promise<void>;
}

export interface Platform {
  readonly name: "node" | "browser";
  /** Workers a machine-sized pool starts. */
  parallelism(): number;
  /** Starts one compute worker running src/worker.ts and connected through a fresh port. */
  spawnWorker(): Promise<WorkerHandle>;
  /**
   * Whether a SharedArrayBuffer can be handed to workers (Node; cross-origin isolated pages).
   * Reads on a pool decode straight into one when it can, and transfer chunks back otherwise.
   */
  sharedMemory(): boolean;
  /** The largest single buffer the runtime allocates. */
  readonly maxBufferBytes: number;
  /** Lifts the listener-count warning on a signal many stages listen to (Node warns at 10). */
  unlimitedListeners(signal: AbortSignal): void;
  /** An environment setting (ZARRFLOW_ZSTD, ZARRFLOW_DEFLATE); undefined where there is no environment. */
  env(name: string): string | undefined;
  /** zstd-napi when it loads (Node), else undefined: the WASM build is used. */
  nativeZstd(): NativeZstd | undefined;
  /** node:zlib when present, else undefined: fflate is used. */
  nativeDeflate(): DeflateBackend | undefined;
}
