// Workload 14 in the page: one whole read of the array, by zarrflow (HttpStore on fetch, a Web
// Worker pool) or by zarrita.js (FetchStore, codecs on the main thread), with every main-thread
// task over 50 ms recorded by a PerformanceObserver ("longtask"). Two more rows bound them:
// "fetch-only" fetches every stored chunk and decodes nothing (the browser's own network
// cost), "zarrflow-memory" decodes chunks already in memory (the compute side alone).
import * as zarrflow from "/zarrflow/index.js";
import { HttpStore, MemoryStore } from "/zarrflow/stores.js";
import * as zarrita from "/zarrita/zarrita.js";

/** The keys of every chunk of a v3 array with the default chunk key encoding. */
async function chunkKeys(url, path) {
  const meta = await (await fetch(new URL(`${path}/zarr.json`, url), { cache: "no-store" })).json();
  const chunk = meta.chunk_grid.configuration.chunk_shape;
  const separator = meta.chunk_key_encoding?.configuration?.separator ?? "/";
  const counts = meta.shape.map((n, d) => Math.ceil(n / chunk[d]));
  const keys = [];
  const coords = counts.map(() => 0);
  for (let i = 0; i < counts.reduce((a, b) => a * b, 1); i++) {
    keys.push(`${path}/${["c", ...coords].join(separator)}`);
    for (let d = coords.length - 1; d >= 0; d--) {
      if (++coords[d] < counts[d]) break;
      coords[d] = 0;
    }
  }
  return { keys, shape: meta.shape, itemsize: ITEMSIZE[meta.data_type] };
}

/** Bytes per element of the data types the bench uses (the fetch-only row reports the array's size). */
const ITEMSIZE = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, float64: 8 };

/** What each row does: `prepare` runs untimed, `read` is timed and returns { data, shape }. */
const IMPLS = {
  async zarrflow(url, path) {
    const array = await zarrflow.openArray(new HttpStore(url, { readOnly: true }), { path });
    return { read: () => array.read(undefined, { workers: navigator.hardwareConcurrency, concurrency: 16 }) };
  },
  async zarrita(url, path) {
    const array = await zarrita.open(zarrita.root(new zarrita.FetchStore(url)).resolve(path), { kind: "array" });
    return { read: () => zarrita.get(array, null) };
  },
  async "fetch-only"(url, path) {
    const { keys, shape, itemsize } = await chunkKeys(url, path);
    return {
      async read() {
        let next = 0;
        let stored = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < keys.length) {
              const response = await fetch(new URL(keys[next++], url), { cache: "no-store" });
              const n = (await response.arrayBuffer()).byteLength;
              stored += n;
            }
          }),
        );
        return { data: null, stored, shape, arrayBytes: shape.reduce((a, b) => a * b, 1) * itemsize };
      },
    };
  },
  async "zarrflow-memory"(url, path) {
    const { keys } = await chunkKeys(url, path);
    const store = new MemoryStore();
    const put = async (key) => store.set(key, new Uint8Array(await (await fetch(new URL(key, url), { cache: "no-store" })).arrayBuffer()));
    await put(`${path}/zarr.json`);
    for (const key of keys) await put(key);
    const array = await zarrflow.openArray(store, { path });
    return { read: () => array.read(undefined, { workers: navigator.hardwareConcurrency }) };
  },
};

/** The read `prepare` made ready (untimed: opening the array, filling the MemoryStore). */
let prepared;

/** Makes a row's read ready; readOnce runs it (so that the caller can measure around the read alone). */
export async function prepare({ impl, base, path }) {
  prepared = { impl, ...(await IMPLS[impl](new URL(base, location.href).href, path)) };
}

/** Runs the prepared read once; returns the time, the longest main-thread task and sampled values. */
export async function readOnce({ impl, samples }) {
  if (prepared?.impl !== impl) throw new Error(`readOnce(${impl}) without prepare`);
  const { read } = prepared;
  prepared = undefined;
  const tasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.push(entry.duration);
  });
  observer.observe({ type: "longtask", buffered: false });
  // A heartbeat: the largest gap between timer callbacks is what a user would feel.
  let last = performance.now();
  let worstGap = 0;
  const beat = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  const started = performance.now();
  const result = await read();
  const ms = performance.now() - started;
  // Long tasks are delivered after they end: give the observer a turn before reading them.
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  clearInterval(beat);
  const { data, shape } = result;
  return {
    ms,
    bytes: data ? data.byteLength : result.arrayBytes,
    storedBytes: result.stored ?? null,
    shape,
    shared: data ? Object.prototype.toString.call(data.buffer) === "[object SharedArrayBuffer]" : false,
    longTasks: tasks.length,
    longestTaskMs: tasks.length ? Math.max(...tasks) : 0,
    worstTimerGapMs: worstGap,
    samples: data ? samples.map((i) => data[i]) : null,
    isolated: crossOriginIsolated,
    workers: navigator.hardwareConcurrency,
  };
}
