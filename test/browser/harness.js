// In-page helpers for test/browser.test.ts: the page imports zarrflow's browser build as a
// page would (/zarrflow/index.js, found through no bundler) and reports plain data back.
import * as zarrflow from "/zarrflow/index.js";
import { MemoryStore } from "/zarrflow/stores.js";

export { zarrflow };

export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function fromBase64(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const bytesOf = (data) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** The store's keys and values, base64. */
export async function entriesOf(store) {
  const out = {};
  for await (const key of store.list("")) out[key] = toBase64(await store.get(key));
  return out;
}

export function storeOf(entries) {
  return new MemoryStore(Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, fromBase64(v)])));
}

/** Where the page stands: isolation and what the runtime offers. */
export function environment() {
  return { crossOriginIsolated: globalThis.crossOriginIsolated, sharedArrayBuffer: typeof SharedArrayBuffer, zstd: zarrflow.ZSTD_IMPLEMENTATION };
}

/**
 * Writes `values` (base64 bytes of the dtype) into a new array per case, with workers, and
 * returns each store's contents for the other runtime to read.
 */
export async function writeCases({ cases, values, workers }) {
  const out = {};
  for (const c of cases) {
    const store = new MemoryStore();
    const array = await zarrflow.create(store, c.create);
    const data = new Float32Array(fromBase64(values).buffer);
    await array.write("...", { data, shape: c.create.shape, dtype: "float32" }, { workers });
    out[c.name] = await entriesOf(store);
  }
  await zarrflow.closePools();
  return out;
}

/** Reads each stored array whole (and chunk by chunk) with workers; returns its bytes and how they came back. */
export async function readCases({ stores, workers }) {
  const out = {};
  for (const [name, entries] of Object.entries(stores)) {
    const array = await zarrflow.openArray(storeOf(entries));
    const whole = await array.read(undefined, { workers });
    const byChunk = new Uint8Array(whole.data.byteLength);
    const itemsize = whole.data.BYTES_PER_ELEMENT;
    const [rows, cols] = array.shape;
    let chunks = 0;
    for await (const chunk of array.readChunks(undefined, { workers })) {
      chunks++;
      const [r, c] = chunk.region;
      const src = bytesOf(chunk.data.data);
      for (let i = 0; i < r.count; i++) {
        byChunk.set(src.subarray(i * c.count * itemsize, (i + 1) * c.count * itemsize), ((r.start + i) * cols + c.start) * itemsize);
      }
    }
    out[name] = {
      whole: toBase64(bytesOf(whole.data)),
      byChunk: toBase64(byChunk),
      chunks,
      shared: Object.prototype.toString.call(whole.data.buffer) === "[object SharedArrayBuffer]",
      rows,
    };
  }
  await zarrflow.closePools();
  return out;
}
