/**
 * zarrflow in a real browser: Debian's Chromium, driven by playwright-core, loads the prebuilt
 * browser build (dist/browser, made fresh for the run) from a local server, once from a
 * cross-origin isolated page (workers decode into a SharedArrayBuffer) and once from a plain
 * page (workers transfer decoded chunks back).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";

import { closePools, create, openArray, type CodecMetadata, type CreateArrayOptions } from "../src/index.js";
import { MemoryStore } from "../stores/index.js";
import type { StaticServer } from "../src/cli/static-server.js";
import { buildBrowserForTests, callInPage, launchChromium, openPage, skipWithoutChromium, startTestServer, type BrowserRig } from "./helpers/browser.js";

const HARNESS = "/pages/harness.js";
const SHAPE = [64, 80];
const bytesCodec: CodecMetadata = { name: "bytes", configuration: { endian: "little" } };

/** One array per codec chain the browser must handle (v3 and v2). */
const CASES: { name: string; create: CreateArrayOptions }[] = [
  { name: "zstd", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", codecs: [bytesCodec, { name: "zstd", configuration: { level: 3, checksum: true } }] } },
  { name: "gzip", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", codecs: [bytesCodec, { name: "gzip", configuration: { level: 5 } }] } },
  { name: "blosc", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", codecs: [bytesCodec, { name: "blosc", configuration: { cname: "lz4", clevel: 5, shuffle: "shuffle", typesize: 4, blocksize: 0 } }] } },
  { name: "crc32c", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", codecs: [bytesCodec, { name: "zstd", configuration: { level: 1, checksum: false } }, { name: "crc32c" }] } },
  { name: "transpose-gzip", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", codecs: [{ name: "transpose", configuration: { order: [1, 0] } }, bytesCodec, { name: "gzip", configuration: { level: 1 } }] } },
  { name: "sharded", create: { shape: SHAPE, chunks: [16, 16], shards: [32, 48], dtype: "float32", codecs: [bytesCodec, { name: "zstd", configuration: { level: 1, checksum: false } }] } },
  { name: "v2-zlib", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", zarrFormat: 2, compressor: { id: "zlib", level: 1 } } },
  { name: "v2-lz4", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", zarrFormat: 2, compressor: { id: "lz4", acceleration: 1 } } },
  { name: "v2-blosc-zstd", create: { shape: SHAPE, chunks: [16, 32], dtype: "float32", zarrFormat: 2, compressor: { id: "blosc", cname: "zstd", clevel: 3, shuffle: 2 } } },
];

function values(): Float32Array {
  const out = new Float32Array(SHAPE[0] * SHAPE[1]);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(i / 7) * 1000 + (i % 13);
  return out;
}
const b64 = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

async function nodeWrite(): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const c of CASES) {
    const store = new MemoryStore();
    const array = await create(store, c.create);
    await array.write("...", { data: values(), shape: SHAPE, dtype: "float32" }, { workers: 0 });
    const entries: Record<string, string> = {};
    for await (const key of store.list("")) entries[key] = b64((await store.get(key))!);
    out[c.name] = entries;
  }
  return out;
}

const skip = skipWithoutChromium("browser tests (Chromium)");

describe.skipIf(skip)("zarrflow in Chromium", () => {
  let build: string;
  let rig: BrowserRig;
  const servers: Record<"isolated" | "plain", StaticServer> = {} as never;

  beforeAll(async () => {
    build = await buildBrowserForTests();
    rig = await launchChromium();
    servers.isolated = await startTestServer(build, { isolated: true });
    servers.plain = await startTestServer(build, { isolated: false });
  });

  afterAll(async () => {
    await rig?.close();
    await Promise.all(Object.values(servers).map((s) => s.close()));
    if (build) rmSync(build, { recursive: true, force: true });
    await closePools();
  });

  for (const mode of ["isolated", "plain"] as const) {
    describe(`${mode} page`, () => {
      it(`every codec chain round-trips between Node's backends and the page's, on a worker pool (${mode === "isolated" ? "SharedArrayBuffer" : "transfer"})`, async () => {
        const { page, errors } = await openPage(rig, `${servers[mode].url}/pages/blank.html`);
        try {
          const env = await callInPage(page, HARNESS, "environment");
          expect(env).toEqual({ crossOriginIsolated: mode === "isolated", sharedArrayBuffer: mode === "isolated" ? "function" : "undefined", zstd: "wasm" });

          // Node (zstd-napi, node:zlib) writes; the page (WASM, fflate) reads on 2 workers.
          const stores = await nodeWrite();
          const read = await callInPage<Record<string, { whole: string; byChunk: string; shared: boolean; chunks: number }>>(page, HARNESS, "readCases", { stores, workers: 2 });
          const expected = b64(values());
          for (const c of CASES) {
            const got = read[c.name];
            expect(got.whole, `${c.name}: whole read`).toBe(expected);
            expect(got.byChunk, `${c.name}: readChunks`).toBe(expected);
            expect(got.shared, `${c.name}: result in a SharedArrayBuffer`).toBe(mode === "isolated");
            expect(got.chunks).toBeGreaterThan(1);
          }

          // The page writes on 2 workers; Node reads what it wrote.
          const written = await callInPage<Record<string, Record<string, string>>>(page, HARNESS, "writeCases", { cases: CASES, values: expected, workers: 2 });
          for (const c of CASES) {
            const store = new MemoryStore(Object.fromEntries(Object.entries(written[c.name]).map(([k, v]) => [k, unb64(v)])));
            const array = await openArray(store);
            const result = await array.read(undefined, { workers: 0 });
            expect(b64(result.data), `${c.name}: written in the page, read by Node`).toBe(expected);
          }
          expect(errors).toEqual([]);
        } finally {
          await page.close();
        }
      });
    });
  }
});
