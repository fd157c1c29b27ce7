// In-page helpers for test/browser.test.ts: the page imports zarrflow's browser build as a
// page would (/zarrflow/index.js, found through no bundler) and reports plain data back.
import * as zarrflow from "/zarrflow/index.js";
import { HttpStore, HttpStoreError, MemoryStore } from "/zarrflow/stores.js";

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
  return out;
}

const errorData = (e) => ({ ok: false, name: e?.constructor?.name, code: e?.code, message: String(e?.message ?? e), path: e?.path, key: e?.key, zarrflow: e instanceof zarrflow.ZarrflowError, http: e instanceof HttpStoreError });

/** Metadata documents (v3 and v2): what the page's thread itself fetches when workers fetch chunks. */
const METADATA = /(^|\/)(zarr\.json|\.zarray|\.zattrs|\.zgroup|\.zmetadata)$/;

/** Requests for anything but metadata under `base` made by this page's own thread (its resource timeline; workers keep their own). */
function pageChunkRequests(base) {
  const prefix = new URL(base, location.href).href;
  return performance.getEntriesByType("resource").filter((e) => e.name.startsWith(prefix) && !METADATA.test(new URL(e.name).pathname)).length;
}

/** Opens and reads whole arrays over HTTP (`arrays`: store folder URL + array path each). */
export async function readOverHttp({ arrays, workers }) {
  const stores = new Map();
  const out = [];
  performance.setResourceTimingBufferSize(100_000);
  for (const { url, path } of arrays) {
    if (!stores.has(url)) stores.set(url, new HttpStore(new URL(url, location.href), { readOnly: true }));
    performance.clearResourceTimings();
    try {
      const array = await zarrflow.openArray(stores.get(url), { path });
      const result = await array.read(undefined, { workers });
      // Variable-length values (strings) are plain JS arrays: they travel as a list.
      const values = Array.isArray(result.data) ? { list: result.data } : { data: toBase64(bytesOf(result.data)) };
      const shared = Object.prototype.toString.call(result.data.buffer) === "[object SharedArrayBuffer]";
      out.push({ ok: true, dtype: result.dtype, shape: result.shape, ...values, shared, pageChunkRequests: pageChunkRequests(new URL(path ? `${path}/` : "", new URL(url, location.href)).href) });
    } catch (e) {
      out.push(errorData(e));
    }
  }
  return out;
}

/** Starts a read over HTTP, aborts it once `afterChunks` chunks have landed; reports how it ended. */
export async function abortRead({ url, path, afterChunks, workers }) {
  const array = await zarrflow.openArray(new HttpStore(new URL(url, location.href), { readOnly: true }), { path });
  const controller = new AbortController();
  let landed = 0;
  const started = performance.now();
  try {
    await array.read(undefined, {
      workers,
      signal: controller.signal,
      onProgress: (p) => {
        landed = p.chunksDone;
        if (p.chunksDone >= afterChunks) controller.abort();
      },
    });
    return { ok: true, landed };
  } catch (e) {
    return { ...errorData(e), landed, total: array.shape.reduce((n, s, d) => n * Math.ceil(s / array.chunks[d]), 1), ms: performance.now() - started };
  }
}

/** The HttpStore contract points that depend on the runtime's fetch, against the scripted routes of the test server. */
export async function httpStoreChecks({ base }) {
  const url = (p) => new URL(p, new URL(base, location.href)).href;
  const out = {};
  const attempt = async (fn) => {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      return errorData(e);
    }
  };
  const text = (bytes) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));
  const fast = { baseDelayMs: 10, maxDelayMs: 50 };

  const plain = new HttpStore(url("files/"), { readOnly: true });
  out.whole = await attempt(async () => text(await plain.get("hello.txt")));
  out.range = await attempt(async () => text(await plain.get("hello.txt", { offset: 6, length: 5 })));
  out.suffix = await attempt(async () => text(await plain.get("hello.txt", { suffixLength: 4 })));
  out.absent = await attempt(async () => (await plain.get("missing.txt")) === undefined);

  const seen = [];
  const flaky = new HttpStore(url(`flaky/${Math.random().toString(36).slice(2)}/`), {
    readOnly: true,
    retry: fast,
    onRequest: (request) => {
      seen.push(request.method);
      return request;
    },
  });
  out.retried = await attempt(async () => ({ value: text(await flaky.get("x")), attempts: seen.length }));

  out.badRange = await attempt(() => new HttpStore(url("bad-range/"), { readOnly: true, retry: fast }).get("x", { offset: 0, length: 4 }));
  out.timeout = await attempt(() => new HttpStore(url("hang/"), { readOnly: true, timeoutMs: 200, retry: { ...fast, attempts: 2 } }).get("x"));

  const controller = new AbortController();
  const aborting = new HttpStore(url("hang/"), { readOnly: true, timeoutMs: 0 }).get("x", undefined, { signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  out.abort = await attempt(() => aborting);

  const echo = new HttpStore(url("echo/"), {
    readOnly: true,
    headers: { "x-token": "from-headers" },
    onRequest: (request) => ({ ...request, headers: { ...request.headers, "x-hook": "from-hook" } }),
  });
  out.headers = await attempt(async () => JSON.parse(text(await echo.get("x"))));
  return out;
}
