// The zarrflow viewer: opens an array over HTTP, subscribes to its chunk results with RxJS and
// paints each chunk of a 2-D slice onto a canvas as it is decoded (on a Web Worker pool).
// Changing a slider unsubscribes, which aborts the read in flight, and starts the next slice.
//
// URL parameters: store (URL of the store), path (array inside it), vmin/vmax (colour range;
// default: the array's attributes "vmin"/"vmax" or "valid_range", else the first chunk's range).
import { openArray, slice } from "/zarrflow/index.js";
import { HttpStore } from "/zarrflow/stores.js";
import { readChunks$ } from "/zarrflow/rx.js";
import { COLORMAP, paint } from "./colormap.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");
const form = $("open");
let array;
let subscription;
let range;

function setState(state, text) {
  document.body.dataset.state = state;
  if (text !== undefined) $("status").textContent = text;
}

function fail(error) {
  console.error(error);
  setState("error");
  $("status").innerHTML = "";
  const span = document.createElement("span");
  span.className = "error";
  span.textContent = `${error?.code ? `${error.code}: ` : ""}${error?.message ?? error}`;
  $("status").append(span);
}

/** The colour range: URL, then attributes, else undefined (taken from the first chunk). */
function fixedRange(attrs) {
  const min = params.get("vmin");
  const max = params.get("vmax");
  if (min !== null && max !== null) return [Number(min), Number(max)];
  if (typeof attrs.vmin === "number" && typeof attrs.vmax === "number") return [attrs.vmin, attrs.vmax];
  if (Array.isArray(attrs.valid_range) && attrs.valid_range.length === 2) return attrs.valid_range.map(Number);
  return undefined;
}

function drawLegend([min, max]) {
  const legend = $("legend").getContext("2d");
  const image = legend.createImageData(1, 256);
  for (let i = 0; i < 256; i++) {
    const c = 255 - i;
    image.data.set([COLORMAP[c * 3], COLORMAP[c * 3 + 1], COLORMAP[c * 3 + 2], 255], i * 4);
  }
  legend.putImageData(image, 0, 0);
  $("vmin").textContent = String(min);
  $("vmax").textContent = String(max);
}

/** The two dimensions shown (the last two) and a slider per other dimension. */
function buildSliders() {
  const dims = $("dims");
  dims.textContent = "";
  const names = array.dimensionNames ?? array.shape.map((_, d) => `dim ${d}`);
  for (let d = 0; d < array.shape.length - 2; d++) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    const out = document.createElement("output");
    Object.assign(input, { type: "range", min: 0, max: array.shape[d] - 1, value: Number(params.get(`i${d}`) ?? 0), id: `dim${d}` });
    out.textContent = input.value;
    input.addEventListener("input", () => {
      out.textContent = input.value;
      show();
    });
    label.append(`${names[d] ?? `dim ${d}`}`, input, out);
    dims.append(label);
  }
}

function selection() {
  const sel = [];
  for (let d = 0; d < array.shape.length - 2; d++) sel.push(Number($(`dim${d}`).value));
  const rows = array.shape.length >= 2 ? array.shape[array.shape.length - 2] : 1;
  const cols = array.shape[array.shape.length - 1];
  if (array.shape.length >= 2) sel.push(slice(0, rows));
  sel.push(slice(0, cols));
  return { sel, rows, cols };
}

/** Reads the current slice chunk by chunk; a newer call cancels the older read. */
function show() {
  subscription?.unsubscribe(); // aborts the read in flight: no more chunk requests
  const { sel, rows, cols } = selection();
  canvas.width = cols;
  canvas.height = rows;
  const scale = Math.max(1, Math.floor(Math.min(768 / cols, 768 / rows)));
  canvas.style.width = `${cols * scale}px`;
  canvas.style.height = `${rows * scale}px`;
  ctx.clearRect(0, 0, cols, rows);
  const started = performance.now();
  let chunks = 0;
  let bytes = 0;
  let total = 0;
  let itemBytes = 0;
  setState("reading", "reading…");
  subscription = readChunks$(array, sel, {
    workers: navigator.hardwareConcurrency || 4,
    ordered: false,
    onProgress: (p) => {
      total = p.chunksTotal;
      bytes = p.bytesDone;
      $("progress").max = Math.max(1, p.chunksTotal);
    },
  }).subscribe({
    next(chunk) {
      const [r, c] = chunk.region.length === 2 ? chunk.region : [{ start: 0, count: 1 }, chunk.region[0]];
      range ??= firstRange(chunk.data.data);
      itemBytes = chunk.data.data.BYTES_PER_ELEMENT;
      const pixels = paint(chunk.data.data, r.count, c.count, range[0], range[1]);
      ctx.putImageData(new ImageData(pixels, c.count, r.count), c.start, r.start);
      chunks++;
      $("progress").value = chunks;
      const seconds = (performance.now() - started) / 1000;
      $("status").textContent = `${chunks} / ${total} chunks · ${(bytes / 2 ** 20).toFixed(1)} MiB stored · ${seconds.toFixed(2)} s`;
    },
    error: fail,
    complete() {
      drawLegend(range);
      const ms = performance.now() - started;
      setState("done", `${chunks} chunks painted in ${ms.toFixed(0)} ms (${((rows * cols * itemBytes) / 2 ** 20 / (ms / 1000)).toFixed(1)} MiB/s decoded) · colour range ${range[0]} … ${range[1]}`);
    },
  });
}

function firstRange(data) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    const x = Number(v);
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return Number.isFinite(min) ? [min, max] : [0, 1];
}

async function open(storeUrl, path) {
  subscription?.unsubscribe();
  try {
    setState("opening", "opening…");
    const store = new HttpStore(new URL(storeUrl, location.href), { readOnly: true });
    array = await openArray(store, { path });
    range = fixedRange(array.attrs ?? {});
    $("meta").textContent = `${path || "/"}: ${array.dtype} ${JSON.stringify(array.shape)}, chunks ${JSON.stringify(array.chunks)}${array.shards ? `, shards ${JSON.stringify(array.shards)}` : ""}, zarr v${array.zarrFormat}${crossOriginIsolated ? " · shared memory" : " · transfer"}`;
    buildSliders();
    show();
  } catch (error) {
    fail(error);
  }
}

form.store.value = params.get("store") ?? "";
form.path.value = params.get("path") ?? "";
form.addEventListener("submit", (event) => {
  event.preventDefault();
  params.set("store", form.store.value);
  params.set("path", form.path.value);
  history.replaceState(null, "", `?${params}`);
  void open(form.store.value, form.path.value);
});
if (params.get("store")) void open(params.get("store"), params.get("path") ?? "");
