/**
 * zstd decompression in WebAssembly, for runtimes without the native addon (browsers, and Node
 * where zstd-napi cannot load): zstd 1.5.7 compiled by scripts/build-zstd-wasm.mjs (-O3, SIMD),
 * about 2× numcodecs' WASM build per thread here (`npx tsx bench/zstd-wasm.ts`).
 *
 * Each thread instantiates the module once (asynchronously: browsers refuse synchronous
 * compilation on a page's main thread) and then decodes synchronously. A chunk is copied into
 * the module's memory, decompressed there into a region reused chunk after chunk, and copied
 * out once — into the caller's buffer when it lends one of the right size — so no chunk costs a
 * fresh allocation's page faults. The module's memory grows to the largest chunk seen (a
 * WebAssembly memory never shrinks).
 */
import { CodecError } from "../errors.js";
import { ZSTD_WASM_BASE64 } from "./zstd-wasm-binary.js";

interface Exports {
  memory: WebAssembly.Memory;
  zf_malloc(size: number): number;
  zf_free(pointer: number): void;
  zf_decompress(dst: number, capacity: number, src: number, length: number): bigint;
  zf_content_size(src: number, length: number): bigint;
  zf_error_string(code: number): number;
}

let module: Exports | undefined;
let loading: Promise<Exports> | undefined;

/** The decoder once this thread has instantiated it (undefined before: call loadZstdWasm). */
export function zstdWasm(): Exports | undefined {
  return module;
}

/** Instantiates the decoder on this thread (once). */
export function loadZstdWasm(): Promise<Exports> {
  loading ??= (async () => {
    const binary = Uint8Array.from(atob(ZSTD_WASM_BASE64), (c) => c.charCodeAt(0));
    const { instance } = await WebAssembly.instantiate(binary);
    module = instance.exports as unknown as Exports;
    return module;
  })();
  return loading;
}

/** A region of the module's memory reused from call to call, grown (never shrunk) as needed. */
class Region {
  pointer = 0;
  capacity = 0;
  take(wasm: Exports, size: number): number {
    if (size > this.capacity) {
      if (this.pointer) wasm.zf_free(this.pointer);
      this.capacity = 0;
      // Some room above the size asked: chunk sizes vary a little from chunk to chunk.
      const capacity = Math.max(size + (size >> 3), 64 << 10);
      this.pointer = wasm.zf_malloc(capacity);
      if (this.pointer === 0) throw new CodecError(`zstd: cannot allocate ${capacity} bytes of WebAssembly memory`);
      this.capacity = capacity;
    }
    return this.pointer;
  }
}
const source = new Region();
const target = new Region();

/** Output sizes above this are refused when the frame does not say its size (as the native path does). */
export const WASM_SIZE_LIMIT = 2 ** 31 - 1;

/**
 * Decompresses `bytes` with the instantiated decoder. The output is `expectedSize` bytes when
 * the chain knows it (a frame that holds more fails: "destination too small", never a larger
 * allocation), else the size the frame declares (up to WASM_SIZE_LIMIT). Returns `into` when it
 * is exactly that size, else a fresh buffer. Undefined when the frame does not declare its size
 * and the caller does not know it: the caller decodes it another way (a streaming decoder).
 */
export function zstdWasmDecode(wasm: Exports, bytes: Uint8Array, expectedSize: number | undefined, into: Uint8Array | undefined): Uint8Array | undefined {
  const src = source.take(wasm, bytes.byteLength);
  new Uint8Array(wasm.memory.buffer, src, bytes.byteLength).set(bytes);
  let size = expectedSize;
  if (size === undefined) {
    const declared = Number(wasm.zf_content_size(src, bytes.byteLength));
    if (declared === -2) throw new CodecError("zstd: not a zstd frame");
    if (declared === -1) return undefined;
    if (declared > WASM_SIZE_LIMIT) throw new CodecError(`zstd: frame claims ${declared} bytes, over the limit`);
    size = declared;
  }
  const dst = target.take(wasm, size);
  const n = Number(wasm.zf_decompress(dst, size, src, bytes.byteLength));
  if (n < 0) {
    const message = wasm.zf_error_string(-n);
    throw new CodecError(`zstd: ${cString(wasm, message)}`);
  }
  // The module's memory may have grown (a new ArrayBuffer): views are taken after the calls.
  const decoded = new Uint8Array(wasm.memory.buffer, dst, n);
  const out = into?.byteLength === n ? into : new Uint8Array(n);
  out.set(decoded);
  return out;
}

/** The NUL-terminated string at `pointer` in the module's memory. */
function cString(wasm: Exports, pointer: number): string {
  const memory = new Uint8Array(wasm.memory.buffer);
  let end = pointer;
  while (end < memory.length && memory[end] !== 0) end++;
  return new TextDecoder().decode(memory.subarray(pointer, end));
}
