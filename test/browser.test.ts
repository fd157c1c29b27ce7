/**
 * zarrflow in a real browser: Debian's Chromium, driven by playwright-core, loads the prebuilt
 * browser build (dist/browser, made fresh for the run) from a local server, once from a
 * cross-origin isolated page (workers decode into a SharedArrayBuffer) and once from a plain
 * page (workers transfer decoded chunks back).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { ZarrflowError, closePools, create, openArray, type CodecMetadata, type CreateArrayOptions, type DataType, type TypedArray } from "../src/index.js";
import { viewAs } from "../src/dtype.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import type { StaticServer } from "../src/cli/static-server.js";
import type { Page } from "playwright-core";
import { ZARRITA_FIXTURES } from "./helpers/fixtures.js";
import { elements, expectedDataType, expectedElements, firstMismatch, type FixtureEntry } from "./helpers/fixture-values.js";
import { ROOT, buildBrowserForTests, callInPage, launchChromium, openPage, skipWithoutChromium, startTestServer, type BrowserRig } from "./helpers/browser.js";

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

/** Routes with scripted behaviour for the HttpStore checks (under /scripted/). */
function scripted(): (request: IncomingMessage, response: ServerResponse) => boolean {
  const flaky = new Map<string, number>();
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://x");
    const m = /^\/scripted\/(flaky|bad-range|hang|echo)\/(?:([^/]+)\/)?x$/.exec(url.pathname);
    if (!m) return false;
    response.setHeader("Access-Control-Allow-Origin", "*");
    switch (m[1]) {
      case "flaky": {
        const n = (flaky.get(m[2]) ?? 0) + 1;
        flaky.set(m[2], n);
        if (n <= 2) response.writeHead(503).end("busy");
        else response.writeHead(200, { "Content-Type": "application/octet-stream" }).end("flaky-ok");
        return true;
      }
      case "bad-range":
        // Asked for bytes 0-3, answers with another range of the right length.
        response.writeHead(206, { "Content-Range": "bytes 10-13/100", "Content-Length": "4" }).end("abcd");
        return true;
      case "hang":
        return true; // never answered; the server closes it at the end
      case "echo":
        response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token: request.headers["x-token"], hook: request.headers["x-hook"] }));
        return true;
    }
    return false;
  };
}

interface PageError {
  ok: false;
  name: string;
  code: string;
  message: string;
  path?: string;
  key?: string;
  zarrflow: boolean;
}
type PageRead = { ok: true; dtype: DataType; shape: number[]; data?: string; list?: unknown[]; shared: boolean; pageChunkRequests: number } | PageError;

/** Damaged arrays on disk, each with the chunk key that was damaged. */
async function hostileArrays(dir: string): Promise<{ path: string; damage: (file: string) => void; key: string; create: CreateArrayOptions }[]> {
  const flipByte = (file: string) => {
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
  };
  const garbage = (file: string) => writeFileSync(file, Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 256)));
  const cases = [
    { path: "zstd-garbage", damage: garbage, key: "c/0/0", create: { shape: [32, 32], chunks: [16, 16], dtype: "float32", codecs: [bytesCodec, { name: "zstd", configuration: { level: 1 } }] } },
    { path: "crc32c-flipped", damage: flipByte, key: "c/0/0", create: { shape: [32, 32], chunks: [16, 16], dtype: "float32", codecs: [bytesCodec, { name: "crc32c" }] } },
    { path: "gzip-truncated", damage: (f: string) => truncateSync(f, 20), key: "c/0/0", create: { shape: [32, 32], chunks: [16, 16], dtype: "float32", codecs: [bytesCodec, { name: "gzip", configuration: { level: 1 } }] } },
    { path: "blosc-garbage", damage: garbage, key: "c/0/0", create: { shape: [32, 32], chunks: [16, 16], dtype: "float32", codecs: [bytesCodec, { name: "blosc", configuration: { cname: "lz4", clevel: 5, shuffle: "shuffle", typesize: 4, blocksize: 0 } }] } },
    { path: "shard-index-flipped", damage: (f: string) => {
      const bytes = readFileSync(f);
      bytes[bytes.length - 6] ^= 0xff; // inside the index (bytes + crc32c at the end)
      writeFileSync(f, bytes);
    }, key: "c/0/0", create: { shape: [32, 32], chunks: [8, 8], shards: [32, 32], dtype: "float32", codecs: [bytesCodec, { name: "zstd", configuration: { level: 1 } }] } },
    { path: "v2-lz4-garbage", damage: garbage, key: "0.0", create: { shape: [32, 32], chunks: [16, 16], dtype: "float32", zarrFormat: 2, compressor: { id: "lz4", acceleration: 1 } } },
  ] as { path: string; damage: (file: string) => void; key: string; create: CreateArrayOptions }[];
  const store = new FileSystemStore(dir);
  for (const c of cases) {
    const array = await create(store, { ...c.create, path: c.path });
    const data = new Float32Array(32 * 32).map((_, i) => i + 0.5);
    await array.write("...", { data, shape: [32, 32], dtype: "float32" }, { workers: 0 });
    c.damage(path.join(dir, c.path, ...c.key.split("/")));
  }
  return cases;
}

/** The viewer's test array: three slices of a wave pattern, in sharded zstd. */
const VIEWER_ARRAY = { shape: [3, 192, 256], chunks: [1, 32, 32], shards: [1, 64, 128], dtype: "float32" as const, dimensionNames: ["time", "y", "x"] };

function viewerValues(): Float32Array {
  const [t, h, w] = VIEWER_ARRAY.shape;
  const out = new Float32Array(t * h * w);
  for (let k = 0; k < t; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const wave = Math.sin((x + 20 * k) / 17) * Math.cos((y - 9 * k) / 13);
        out[(k * h + y) * w + x] = 500 + 420 * wave * (0.6 + 0.4 * Math.sin((x + y) / 61)) + (x - w / 2) * 0.3;
      }
    }
  }
  return out;
}

const skip = skipWithoutChromium("browser tests (Chromium)");

describe.skipIf(skip)("zarrflow in Chromium", () => {
  let build: string;
  let rig: BrowserRig;
  let scratch: string;
  let hostile: Awaited<ReturnType<typeof hostileArrays>>;
  const servers: Record<"isolated" | "plain", StaticServer> = {} as never;

  beforeAll(async () => {
    build = await buildBrowserForTests();
    scratch = mkdtempSync(path.join(tmpdir(), "zarrflow-browser-data-"));
    mkdirSync(path.join(scratch, "files"));
    writeFileSync(path.join(scratch, "files", "hello.txt"), "hello world!");
    hostile = await hostileArrays(path.join(scratch, "hostile"));
    // Many small chunks, for aborting a read part way.
    const many = await create(new FileSystemStore(path.join(scratch, "many")), { shape: [256, 256], chunks: [16, 16], dtype: "int32" });
    await many.write("...", 7, { workers: 0 });
    const viewer = await create(new FileSystemStore(path.join(scratch, "viewer.zarr")), { ...VIEWER_ARRAY, attributes: { vmin: 0, vmax: 1000 } } as CreateArrayOptions);
    await viewer.write("...", { data: viewerValues(), shape: VIEWER_ARRAY.shape, dtype: "float32" }, { workers: 0 });
    rig = await launchChromium();
    const mounts = { "/scripted/files/": path.join(scratch, "files"), "/scratch/": scratch };
    servers.isolated = await startTestServer(build, { isolated: true, mounts, intercept: scripted() });
    servers.plain = await startTestServer(build, { isolated: false, mounts, intercept: scripted() });
  });

  afterAll(async () => {
    await rig?.close();
    await Promise.all(Object.values(servers).map((s) => s.close()));
    if (build) rmSync(build, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    await closePools();
  });

  it("the viewer paints each chunk of the slice with the colour map, and repaints when a slider moves (pixels checked against the data)", async () => {
    const { paint } = (await import("../examples/viewer/colormap.js" as string)) as { paint: (data: ArrayLike<number>, rows: number, cols: number, min: number, max: number) => Uint8ClampedArray };
    const { page, errors } = await openPage(rig, `${servers.isolated.url}/viewer/index.html?store=/scratch/viewer.zarr/`);
    try {
      await page.setViewportSize({ width: 900, height: 860 });
      const array = await openArray(new FileSystemStore(path.join(scratch, "viewer.zarr"), { readOnly: true }));
      const [, rows, cols] = VIEWER_ARRAY.shape;
      const canvasPixels = async () => unb64(await page.evaluate(`(() => {
        const c = document.getElementById("canvas");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let s = ""; for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
        return btoa(s);
      })()`));
      for (const t of [0, 2, 1]) {
        if (t !== 0) {
          // Two moves in a row: the first read is cancelled, the second one paints.
          await page.evaluate(`(() => { const s = document.getElementById("dim0"); for (const v of ["${(t + 1) % 3}", "${t}"]) { s.value = v; s.dispatchEvent(new Event("input")); } })()`);
        }
        await page.waitForFunction(`document.body.dataset.state === "done" || document.body.dataset.state === "error"`, undefined, { timeout: 30_000 });
        expect(await page.evaluate(`document.body.dataset.state`), await page.evaluate(`document.getElementById("status").textContent`)).toBe("done");
        const slice = await array.read(`${t}, :, :`, { workers: 0 });
        const expected = paint(slice.data as Float32Array, rows, cols, 0, 1000);
        const got = await canvasPixels();
        expect(got.length).toBe(rows * cols * 4);
        let mismatches = 0;
        for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) mismatches++;
        expect(mismatches, `slice ${t}: pixels differing from the colour-mapped data`).toBe(0);
        expect(await page.evaluate(`document.getElementById("progress").value`)).toBe((rows / 32) * (cols / 32));
      }
      const shot = await page.screenshot({ path: process.env.ZARRFLOW_UPDATE_SCREENSHOT ? path.join(ROOT, "docs", "viewer.png") : path.join(scratch, "viewer.png") });
      expect(shot.subarray(1, 4).toString()).toBe("PNG");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  for (const mode of ["isolated", "plain"] as const) {
    describe(`${mode} page`, () => {
      // One page per mode: its worker pool is started once and serves every test below.
      let page: Page;
      let errors: string[];
      beforeAll(async () => {
        ({ page, errors } = await openPage(rig, `${servers[mode].url}/pages/blank.html`));
      });
      afterAll(async () => {
        await page?.close();
      });

      it(`every codec chain round-trips between Node's backends and the page's, on a worker pool (${mode === "isolated" ? "SharedArrayBuffer" : "transfer"})`, async () => {
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
      });

      it("reads the zarrita fixtures (v2, v3, sharded) over HTTP exactly, on 2 workers; what Node rejects it rejects with the same typed error", async () => {
        const expectedJson = JSON.parse(readFileSync(path.join(ZARRITA_FIXTURES, "expected.json"), "utf8")) as { stores: Record<string, { arrays: Record<string, FixtureEntry> }> };
        const arrays: { store: string; path: string; entry: FixtureEntry }[] = [];
        for (const store of ["v2/data.zarr", "v3/data.zarr"]) {
          for (const [arrayPath, entry] of Object.entries(expectedJson.stores[store].arrays)) arrays.push({ store, path: arrayPath, entry });
        }
        const results = await callInPage<PageRead[]>(page, HARNESS, "readOverHttp", {
          arrays: arrays.map((a) => ({ url: `/fixtures/zarrita/${a.store}/`, path: a.path })),
          workers: 2,
        });
        let exact = 0;
        let sharded = 0;
        let pageChunkRequests = 0;
        for (const [i, { store, path: arrayPath, entry }] of arrays.entries()) {
          const got = results[i];
          // What Node makes of the same array decides what the page must do.
          const node = await openArray(new FileSystemStore(path.join(ZARRITA_FIXTURES, store), { readOnly: true }), { path: arrayPath })
            .then((a) => a.read(undefined, { workers: 0 }))
            .then(() => undefined, (e: ZarrflowError) => e);
          const where = `${store} ${arrayPath}`;
          if (node !== undefined) {
            expect(got.ok, `${where}: Node rejects it (${node.code}), the page read it`).toBe(false);
            expect((got as PageError).code, where).toBe(node.code);
            expect((got as PageError).zarrflow, where).toBe(true);
            continue;
          }
          expect(got.ok, `${where}: ${got.ok ? "" : got.message}`).toBe(true);
          if (!got.ok) continue;
          const dataType = expectedDataType(entry);
          expect(got.dtype, where).toBe(dataType);
          expect(got.shape, where).toEqual(entry.shape);
          const data = got.list ?? viewAs(dataType, unb64(got.data!));
          const mismatch = firstMismatch(elements(data as TypedArray, dataType), expectedElements(entry, dataType));
          expect(mismatch, `${where}: ${mismatch}`).toBeUndefined();
          // Typed results decoded by workers land in shared memory on an isolated page (object
          // arrays are JS values, decoded on the page's thread).
          if (!got.list && entry.shape.reduce((n, x) => n * x, 1) > 1) expect(got.shared, `${where}: SharedArrayBuffer result`).toBe(mode === "isolated");
          // Into shared memory the workers fetch the chunks themselves: the page's thread
          // requests only metadata. Without it the page fetches and hands bytes over.
          if (got.shared) expect(got.pageChunkRequests, `${where}: chunk requests made by the page's thread`).toBe(0);
          pageChunkRequests += got.pageChunkRequests ?? 0;
          exact++;
          if ((entry as FixtureEntry & { shards?: unknown }).shards) sharded++;
        }
        console.log(`[zarrflow browser] zarrita fixtures read exactly in Chromium (${mode} page, 2 workers, over HTTP): ${exact} of ${arrays.length} arrays (${sharded} sharded); the rest rejected with the same typed error as on Node; ${pageChunkRequests} chunk requests from the page's own thread`);
        if (mode === "plain") expect(pageChunkRequests).toBeGreaterThan(0);
        expect(exact).toBeGreaterThan(0);
        expect(sharded).toBeGreaterThan(0);
      });

      it("hostile chunks come back from the workers as the typed errors Node raises, naming the array and chunk", async () => {
        const results = await callInPage<PageRead[]>(page, HARNESS, "readOverHttp", { arrays: hostile.map((h) => ({ url: "/scratch/hostile/", path: h.path })), workers: 2 });
        for (const [i, h] of hostile.entries()) {
          const node = await openArray(new FileSystemStore(path.join(scratch, "hostile"), { readOnly: true }), { path: h.path })
            .then((a) => a.read(undefined, { workers: 0 }))
            .then(() => undefined, (e: ZarrflowError) => e);
          expect(node, `${h.path}: Node reads the damaged array`).toBeInstanceOf(ZarrflowError);
          const got = results[i] as PageError;
          expect(got.ok, h.path).toBe(false);
          expect(got.zarrflow, `${h.path}: ${got.name}: ${got.message}`).toBe(true);
          expect(got.code, `${h.path}: ${got.message}`).toBe(node!.code);
          expect(got.path, h.path).toBe(h.path);
          expect(got.key ?? "", `${h.path}: ${got.message}`).toContain(h.key);
        }
      });

      it("an abort stops a read part way with AbortError", async () => {
        const got = await callInPage<PageError & { landed: number; total: number }>(page, HARNESS, "abortRead", { url: "/scratch/many/", path: "", afterChunks: 3, workers: 2 });
        expect(got.ok).toBe(false);
        expect(got.code, got.message).toBe("ABORTED");
        expect(got.landed).toBeGreaterThanOrEqual(3);
        expect(got.landed).toBeLessThan(got.total);
        // The pool survives an aborted read: the next one succeeds.
        const after = await callInPage<PageRead[]>(page, HARNESS, "readOverHttp", { arrays: [{ url: "/scratch/many/", path: "" }], workers: 2 });
        expect(after[0].ok, after[0].ok ? "" : after[0].message).toBe(true);
      });

      it("HttpStore on the page's fetch: ranges checked against Content-Range, retries, timeouts, abort, headers and onRequest", async () => {
        const r = await callInPage<Record<string, { ok: boolean; value?: unknown; code?: string; name?: string; message?: string; http?: boolean }>>(page, HARNESS, "httpStoreChecks", { base: "/scripted/" });
        expect(r.whole).toEqual({ ok: true, value: "hello world!" });
        expect(r.range).toEqual({ ok: true, value: "world" });
        expect(r.suffix).toEqual({ ok: true, value: "rld!" });
        expect(r.absent).toEqual({ ok: true, value: true });
        expect(r.retried).toEqual({ ok: true, value: { value: "flaky-ok", attempts: 3 } });
        expect(r.badRange.ok).toBe(false);
        expect(r.badRange.http, `${r.badRange.name}: ${r.badRange.message}`).toBe(true);
        expect(r.badRange.message).toMatch(/Content-Range/i);
        expect(r.timeout.ok).toBe(false);
        expect(r.timeout.http, `${r.timeout.name}: ${r.timeout.message}`).toBe(true);
        expect(r.abort.ok).toBe(false);
        expect(r.abort.code, r.abort.message).toBe("ABORTED");
        expect(r.headers).toEqual({ ok: true, value: { token: "from-headers", hook: "from-hook" } });
      });
    });
  }
});
