/**
 * The main job (`npm start`): convert a Zarr v2 array — blosc-compressed, as zarr-python 2 writes
 * by default — into a sharded, zstd-compressed Zarr v3 array, streaming, with a progress line;
 * then verify the copy element by element and print a summary.
 *
 * The sample (a float32 temperature field, 64 × 360 × 720, about 63 MiB) is generated on the
 * first run into data/sample-v2.zarr.
 *
 *   npm start
 *   npx tsx examples/convert-v2-to-v3.ts [sample-v2.zarr] [out-v3.zarr] [--planes N]
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { closePools, copyArray, create, open, openArray, parseCompression, verifyCopy, type CopyProgress, NodeNotFoundError } from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";
import { ProgressReporter, copySnapshot, progressMode } from "../src/cli/progress.js";
import { formatBytes, formatDuration, formatRate } from "../src/cli/format.js";
import { followParent, relaunchWithHugePages, wantsHugePages } from "../src/cli/hugepages.js";

// Big buffers on huge pages, as the zarrflow command does: run again with glibc's tunable set.
followParent();
if (wantsHugePages()) {
  const code = await relaunchWithHugePages();
  if (code !== undefined) process.exit(code);
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { planes: { type: "string" } } });
const samplePath = resolve(positionals[0] ?? "data/sample-v2.zarr");
const outPath = resolve(positionals[1] ?? "data/sample-v3.zarr");
const planes = Number(values.planes ?? 64);
const [rows, cols] = [360, 720];

/** Writes the sample v2 array, one chunk row of planes at a time. */
async function generateSample(): Promise<void> {
  const store = new FileSystemStore(samplePath);
  const array = await create(store, {
    zarrFormat: 2,
    shape: [planes, rows, cols],
    chunks: [8, 180, 360],
    dtype: "float32",
    fillValue: "NaN",
    compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 },
    attributes: { long_name: "air temperature", units: "K", _ARRAY_DIMENSIONS: ["time", "lat", "lon"] },
  });
  for (let t0 = 0; t0 < planes; t0 += 8) {
    const n = Math.min(8, planes - t0);
    const slab = new Float32Array(n * rows * cols);
    for (let t = 0, i = 0; t < n; t++)
      for (let y = 0; y < rows; y++)
        for (let x = 0; x < cols; x++, i++) {
          const lat = ((y - rows / 2) / rows) * Math.PI;
          const noise = (i * 2654435761) >>> 30; // 0 … 3 K of hashed noise
          const kelvin = 250 + 40 * Math.cos(lat) + 6 * Math.sin((x / cols) * 4 * Math.PI + (t0 + t) / 8) + noise;
          slab[i] = Math.round(kelvin * 16) / 16; // a sensor's resolution: compresses like real measurements
        }
    await array.write(`${t0}:${t0 + n}`, slab);
  }
}

const sampleStore = new FileSystemStore(samplePath);
const exists = await open(sampleStore).then(
  () => true,
  (error: unknown) => {
    if (error instanceof NodeNotFoundError) return false;
    throw error;
  },
);
if (!exists) {
  process.stderr.write(`generating the sample v2 array in ${samplePath} …\n`);
  await generateSample();
}

const source = await openArray(sampleStore);
const destination = new FileSystemStore(outPath);
const chunkPlanes = Math.min(8, source.shape[0]);
const progress = new ProgressReporter("convert", { mode: progressMode({}) });
let last: CopyProgress | undefined;
const summary = await copyArray(source, destination, {
  zarrFormat: 3,
  // Shards of 16 time steps (about 16 MiB), each holding 64 inner chunks of about 500 KiB.
  chunks: [chunkPlanes, 90, 180],
  shards: [Math.min(16, Math.ceil(source.shape[0] / chunkPlanes) * chunkPlanes), 360, 720],
  compression: parseCompression("zstd:3"),
  overwrite: true,
  onProgress: (p) => {
    last = p;
    progress.update(copySnapshot(p));
  },
});
if (last) progress.done(copySnapshot(last));

const copy = await openArray(destination);
const started = performance.now();
const check = await verifyCopy(source, copy);
const verifyMs = performance.now() - started;
await closePools();

const ratio = (bytes: number) => (summary.dataBytes / bytes).toFixed(2);
console.log(`zarrflow: Zarr v2 → sharded Zarr v3`);
console.log(`  source    ${samplePath}  v2, ${source.dtype} [${source.shape}], chunks [${source.chunks}], blosc/lz4`);
console.log(`            ${summary.chunksRead} chunks, ${formatBytes(summary.bytesRead)} stored (ratio ${ratio(summary.bytesRead)})`);
console.log(`  copy      ${outPath}  v3, shards [${copy.shards}] of chunks [${copy.chunks}], zstd level 3`);
console.log(`            ${summary.chunksWritten} shards, ${formatBytes(summary.bytesWritten)} stored (ratio ${ratio(summary.bytesWritten)})`);
console.log(`  converted ${formatBytes(summary.dataBytes)} in ${formatDuration(summary.elapsedMs)}: ${formatRate(summary.dataBytes / (summary.elapsedMs / 1000))}`);
console.log(
  `  verified  ${check.elements} elements in ${formatDuration(verifyMs)}: ${check.mismatches === 0 ? "identical" : `${check.mismatches} differ, the first at [${check.firstMismatch}]`}`,
);
if (check.mismatches !== 0) process.exitCode = 1;
