/**
 * zstd decode speed per thread, side by side in one alternating run: zarrflow's WASM decoder
 * (src/codecs/zstd-wasm.ts, what browsers use), numcodecs' WASM build (what zarrita uses, and
 * zarrflow used before), and native zstd-napi, over the chunks of workload 1's zstd-1 array (256
 * chunks of 1 MiB; generated when the bench cache does not hold it), each decoded into a reused
 * buffer. MiB/s of decoded bytes, median of 5 rounds after a warm-up.
 *
 *   npx tsx bench/zstd-wasm.ts
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { compress } from "zstd-napi";
import { loadZstdWasm, zstdWasmDecode } from "../src/codecs/zstd-wasm.js";
import { datasetRoot, sizes } from "./lib/config.js";
import { median } from "./lib/measure.js";

const s = sizes(false, 2);
const root = join(datasetRoot("full", s.full.shape, s.full.chunks), "zstd-1");
const counts = s.full.shape.map((n, d) => Math.ceil(n / s.full.chunks[d]));
const chunkBytes = s.full.chunks.reduce((a, b) => a * b, 2);
let frames: Uint8Array[] = [];
if (existsSync(join(root, "zarr.json"))) {
  const walk = (prefix: number[]): void => {
    if (prefix.length === counts.length) frames.push(new Uint8Array(readFileSync(join(root, "c", ...prefix.map(String)))));
    else for (let i = 0; i < counts[prefix.length]; i++) walk([...prefix, i]);
  };
  walk([]);
  console.log(`workload 1's zstd-1 chunks: ${frames.length} × ${chunkBytes} bytes (${root})`);
} else {
  // The same kind of data: smooth 16-bit values, zstd level 1.
  frames = Array.from({ length: 64 }, (_, c) => {
    const values = Uint16Array.from({ length: chunkBytes / 2 }, (_, i) => Math.round(1000 * Math.sin((c * chunkBytes) / 2 + i) + 1000 + ((i * 7919) % 13)));
    return new Uint8Array(compress(new Uint8Array(values.buffer), { compressionLevel: 1 }));
  });
  console.log(`no bench cache at ${root}: ${frames.length} generated chunks of ${chunkBytes} bytes`);
}

const wasm = await loadZstdWasm();
const Numcodecs = (await import("numcodecs/zstd")).default;
const numcodecs = Numcodecs.fromConfig({ id: "zstd" }) as unknown as { decode(b: Uint8Array, out?: Uint8Array): Promise<Uint8Array> };
const out = new Uint8Array(chunkBytes);
const binding = createRequire(import.meta.url)("zstd-napi/binding") as typeof import("zstd-napi/binding.js");
const dctx = new binding.DCtx();
const impls: Record<string, () => Promise<void> | void> = {
  "zarrflow WASM": () => {
    for (const frame of frames) zstdWasmDecode(wasm, frame, chunkBytes, out);
  },
  "numcodecs WASM": async () => {
    for (const frame of frames) await numcodecs.decode(frame, out);
  },
  "native zstd-napi": () => {
    for (const frame of frames) dctx.decompress(out, frame);
  },
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(impls).map((name) => [name, []]));
for (let round = 0; round <= 5; round++) {
  const names = round % 2 ? Object.keys(impls).reverse() : Object.keys(impls);
  for (const name of names) {
    const started = performance.now();
    await impls[name]();
    if (round > 0) times[name].push(performance.now() - started);
  }
}
const mib = (frames.length * chunkBytes) / 2 ** 20;
const ours = mib / (median(times["zarrflow WASM"]) / 1000);
for (const [name, list] of Object.entries(times)) {
  const speed = mib / (median(list) / 1000);
  console.log(`${name.padEnd(18)} ${speed.toFixed(0).padStart(5)} MiB/s${name === "zarrflow WASM" ? "" : `   zarrflow WASM ÷ this: ${(ours / speed).toFixed(2)}×`}`);
}
