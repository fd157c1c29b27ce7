/**
 * Lazily loaded numcodecs (WASM) codecs: the fallback zstd, and blosc and lz4 until native
 * builds replace them. numcodecs only has a Promise API, so these return Promises.
 */
type NumcodecsCodec = {
  encode(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  decode(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
};
type NumcodecsClass = { fromConfig(config: Record<string, unknown>): NumcodecsCodec };

const loaded = new Map<string, Promise<NumcodecsClass>>();

export function numcodecsClass(name: "blosc" | "lz4" | "zstd"): Promise<NumcodecsClass> {
  let promise = loaded.get(name);
  if (!promise) {
    // Literal specifiers, so that bundlers see every module that may be loaded.
    const load = { blosc: () => import("numcodecs/blosc"), lz4: () => import("numcodecs/lz4"), zstd: () => import("numcodecs/zstd") }[name];
    promise = (load() as Promise<{ default: NumcodecsClass }>).then((m) => m.default);
    loaded.set(name, promise);
  }
  return promise;
}

/** Copies WASM-heap-backed output into a tight buffer of our own. */
export function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
