/**
 * Quick start: create a Zarr v3 array in a local folder, write it, read it back (all of it and
 * a slice), verify, and print what happened and how fast.
 *
 *   npx tsx examples/quickstart.ts                      # writes ./data/quickstart.zarr
 *   npx tsx examples/quickstart.ts /tmp/somewhere.zarr
 */
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { create, openArray } from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";

const root = resolve(process.argv[2] ?? "data/quickstart.zarr");
const shape = [128, 256, 256];
const chunks = [32, 64, 128];

await rm(root, { recursive: true, force: true });
const store = new FileSystemStore(root);

// A smooth field with noise: compresses like real measurements do, not like zeros.
const data = new Uint16Array(shape[0] * shape[1] * shape[2]);
for (let z = 0, i = 0; z < shape[0]; z++)
  for (let y = 0; y < shape[1]; y++)
    for (let x = 0; x < shape[2]; x++, i++) data[i] = (1000 + 500 * Math.sin(x / 17) * Math.cos(y / 23) + z + ((i * 2654435761) >>> 28)) & 0xffff;
const megabytes = data.byteLength / 2 ** 20;

const array = await create(store, {
  path: "temperature",
  shape,
  chunks,
  dtype: "uint16",
  fillValue: 0,
  codecs: [
    { name: "bytes", configuration: { endian: "little" } },
    { name: "zstd", configuration: { level: 1, checksum: false } },
  ],
  attributes: { units: "centikelvin" },
  dimensionNames: ["z", "y", "x"],
});

let t = performance.now();
await array.write(null, data);
const writeMs = performance.now() - t;

const reopened = await openArray(store, { path: "temperature" });
t = performance.now();
const all = await reopened.read();
const readMs = performance.now() - t;
const identical = Buffer.compare(Buffer.from(all.data.buffer), Buffer.from(data.buffer)) === 0;

t = performance.now();
const slab = await reopened.read("10:20, :, 100");
const sliceMs = performance.now() - t;

let stored = 0;
let chunkCount = 0;
for await (const key of store.list("temperature/c/")) {
  stored += (await store.size(key)) ?? 0;
  chunkCount++;
}

const rate = (ms: number) => `${(megabytes / (ms / 1000)).toFixed(0)} MiB/s`;
console.log(`zarrflow quick start — ${root}`);
console.log(`  array     ${reopened}`);
console.log(`  codecs    ${reopened.chain.toJSON().map((c) => c.name).join(" → ")}, ${chunkCount} chunks`);
console.log(`  stored    ${(stored / 2 ** 20).toFixed(1)} MiB for ${megabytes.toFixed(1)} MiB of data (ratio ${(data.byteLength / stored).toFixed(2)})`);
console.log(`  write     ${writeMs.toFixed(0)} ms (${rate(writeMs)})`);
console.log(`  read      ${readMs.toFixed(0)} ms (${rate(readMs)}), identical to what was written: ${identical}`);
console.log(`  slice     [10:20, :, 100] → shape [${slab.shape}] in ${sliceMs.toFixed(1)} ms`);
if (!identical) process.exitCode = 1;
