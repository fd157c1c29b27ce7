// Workload 11 in the page: one whole read of the array, by zarrflow (HttpStore on fetch, a Web
// Worker pool) or by zarrita.js (FetchStore, codecs on the main thread), with every main-thread
// task over 50 ms recorded by a PerformanceObserver ("longtask").
import * as zarrflow from "/zarrflow/index.js";
import { HttpStore } from "/zarrflow/stores.js";
import * as zarrita from "/zarrita/zarrita.js";

/** Reads the whole array once; returns the time, the longest main-thread task and sampled values. */
export async function readOnce({ impl, base, path, samples }) {
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
  const url = new URL(base, location.href).href;
  let data;
  let shape;
  const started = performance.now();
  if (impl === "zarrflow") {
    const array = await zarrflow.openArray(new HttpStore(url, { readOnly: true }), { path });
    const result = await array.read(undefined, { workers: navigator.hardwareConcurrency, concurrency: 16 });
    data = result.data;
    shape = result.shape;
  } else {
    const array = await zarrita.open(zarrita.root(new zarrita.FetchStore(url)).resolve(path), { kind: "array" });
    const result = await zarrita.get(array, null);
    data = result.data;
    shape = result.shape;
  }
  const ms = performance.now() - started;
  // Long tasks are delivered after they end: give the observer a turn before reading them.
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  clearInterval(beat);
  const picked = samples.map((i) => data[i]);
  return {
    ms,
    bytes: data.byteLength,
    shape,
    shared: Object.prototype.toString.call(data.buffer) === "[object SharedArrayBuffer]",
    longTasks: tasks.length,
    longestTaskMs: tasks.length ? Math.max(...tasks) : 0,
    worstTimerGapMs: worstGap,
    samples: picked,
    isolated: crossOriginIsolated,
    workers: navigator.hardwareConcurrency,
  };
}
