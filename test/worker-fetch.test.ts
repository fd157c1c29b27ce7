/**
 * Pool workers that fetch over HTTP for themselves (HttpStore `workerFetch`: an `async`
 * StoreHandle, src/worker-read.ts readBatchAsync). The default in browsers; here on Node it is
 * asked for, so the same path runs against a real server the test starts.
 *
 * Pins that the main thread then makes no chunk request (only metadata), that the server sees
 * exactly the requests the inline path makes (one GET per chunk, per whole shard, or a shard's
 * index and coalesced ranges), that values match for unsharded and sharded arrays, edge and
 * absent chunks and partial selections, that a corrupt chunk fails as inline does (class,
 * array path, key), that an abort stops the requests already in the workers (the server sees
 * them cut) and that stores whose requests need this thread (onRequest, a transport function)
 * keep the old path. Writes never use the handle.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { closePools } from "../src/array.js";
import { AbortError, CodecError } from "../src/errors.js";
import { create, openArray, slice } from "../src/index.js";
import { startStaticServer, type StaticServer } from "../src/cli/static-server.js";
import { FileSystemStore, HttpStore } from "../stores/index.js";
import { writeHoledArray } from "./helpers/holed-array.js";

const SHAPE = [45, 38, 20];
const values = (n: number) => Int32Array.from({ length: n }, (_, i) => ((i * 7919) % 100_003) - 50_000);
const expected = values(SHAPE[0] * SHAPE[1] * SHAPE[2]);
const LAYOUTS: Record<string, { chunks: number[]; shards?: number[] }> = {
  unsharded: { chunks: [8, 8, 20] },
  sharded: { chunks: [4, 4, 5], shards: [8, 12, 20] },
};
/** Arrays made beside them: "slow" (the abort test's own, so no other test's requests count there). */
const COPIES: Record<string, string> = { slow: "unsharded" };

let dir: string;
let server: StaticServer;
/** Requests the server saw: path and Range header, in arrival order. */
let seen: { path: string; range: string | undefined }[] = [];
/** Per test: answer a request instead of the files (true = answered). */
let hook: ((request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>) | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "zarrflow-worker-fetch-"));
  for (const [name, layout] of [...Object.entries(LAYOUTS), ...Object.entries(COPIES).map(([copy, of]) => [copy, LAYOUTS[of]] as const)]) {
    // A hole: the first chunk (shard) never written reads as the fill value (the server answers 404).
    await writeHoledArray(new FileSystemStore(dir), name, layout, SHAPE, expected, [8, 12]);
  }
  server = await startStaticServer({
    mounts: { "/data/": dir },
    intercept: (request, response) => {
      seen.push({ path: decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname), range: request.headers.range });
      return hook ? hook(request, response) : false;
    },
  });
});

afterAll(async () => {
  await closePools();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const isChunk = (path: string) => !path.endsWith(".json") && !/\/\.z[a-z]+$/.test(path);

function select(a0: number, a1: number, b0: number, b1: number): Int32Array {
  const out: number[] = [];
  for (let a = a0; a < a1; a++) for (let b = b0; b < b1; b++) for (let c = 0; c < SHAPE[2]; c++) out.push(a < 8 && b < 12 ? 7 : expected[(a * SHAPE[1] + b) * SHAPE[2] + c]);
  return Int32Array.from(out);
}

describe.each(Object.keys(LAYOUTS))("workerFetch reads of a %s array over HTTP", (name) => {
  it.each([
    { what: "everything", selection: null, box: [0, 45, 0, 38] },
    { what: "a box across chunk edges", selection: [slice(5, 27), slice(9, 31), null], box: [5, 27, 9, 31] },
  ])("$what: chunks are fetched in the workers only, with the inline path's requests and values", async ({ selection, box }) => {
    const store = new HttpStore(`${server.url}/data/`, { workerFetch: true, transport: "fetch" });
    expect(store.workerHandle()).toMatchObject({ module: "zarrflow:http", export: "HttpStore", async: true });
    const array = await openArray(store, { path: name });
    // On the prototype: counts this thread's requests only (workers have their own module instances).
    const get = vi.spyOn(HttpStore.prototype, "get");
    try {
      seen = [];
      const pooled = await array.read(selection, { workers: 2, concurrency: 8 });
      const pooledRequests = seen.filter((r) => isChunk(r.path)).map((r) => `${r.path} ${r.range ?? ""}`).sort();
      expect(get).not.toHaveBeenCalled();
      expect(pooled.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(Array.from(pooled.data as Int32Array)).toEqual(Array.from(select(box[0], box[1], box[2], box[3])));

      seen = [];
      const inline = await array.read(selection, { workers: 0 });
      const inlineRequests = seen.filter((r) => isChunk(r.path)).map((r) => `${r.path} ${r.range ?? ""}`).sort();
      expect(get).toHaveBeenCalled();
      expect(Array.from(inline.data as Int32Array)).toEqual(Array.from(pooled.data as Int32Array));
      expect(pooledRequests).toEqual(inlineRequests);
      expect(pooledRequests.length).toBeGreaterThan(0);
    } finally {
      get.mockRestore();
    }
  });
});

describe("workerFetch: when it applies", () => {
  it("is off by default on Node, and never offered when requests need this thread", () => {
    const url = `${server.url}/data/`;
    expect(new HttpStore(url).workerHandle()).toBeUndefined();
    expect(new HttpStore(url, { workerFetch: true, onRequest: (r) => r }).workerHandle()).toBeUndefined();
    expect(new HttpStore(url, { workerFetch: true, transport: (input, init) => fetch(input, init) }).workerHandle()).toBeUndefined();
    const replaced = new HttpStore(url, { workerFetch: true });
    replaced.get = () => Promise.resolve(undefined);
    expect(replaced.workerHandle()).toBeUndefined();
    // What the worker opens: the same URL, headers (a URL's user:password became one) and settings, read-only.
    const handle = new HttpStore(`http://user:pw@127.0.0.1:1/base`, { workerFetch: true, timeoutMs: 1234, retry: { attempts: 2 } }).workerHandle();
    expect(handle?.args).toEqual(["http://127.0.0.1:1/base/", expect.objectContaining({ readOnly: true, timeoutMs: 1234, retry: { attempts: 2 }, headers: { authorization: `Basic ${btoa("user:pw")}` } })]);
    // It travels to the workers by postMessage: structured-clonable (no functions in it).
    expect(structuredClone(handle)).toEqual(handle);
  });

  it("writes store from this thread (workers store only synchronously)", async () => {
    const store = new HttpStore(`${server.url}/data/`, { workerFetch: true });
    const set = vi.spyOn(store, "set").mockResolvedValue(undefined);
    // A fresh array in memory would do, but the point is the HTTP store's handle: create needs set.
    const array = await create(store, { path: "written", shape: [8], chunks: [4], dtype: "uint8" }).catch((e: unknown) => e);
    expect(array).not.toBeInstanceOf(Error);
    await (array as Awaited<ReturnType<typeof create>>).write(null, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), { workers: 2 });
    expect(set.mock.calls.map((call) => call[0]).sort()).toEqual(["written/c/0", "written/c/1", "written/zarr.json"]);
  });
});

describe("workerFetch failures", () => {
  afterAll(() => {
    hook = undefined;
  });

  it("a corrupt chunk is a CodecError naming the array and the chunk key, as inline", async () => {
    hook = (request, response) => {
      if (!request.url?.endsWith("/unsharded/c/2/1/0")) return false;
      response.writeHead(200, { "content-length": 5 }).end(Buffer.from([1, 2, 3, 4, 5]));
      return true;
    };
    const array = await openArray(new HttpStore(`${server.url}/data/`, { workerFetch: true }), { path: "unsharded" });
    for (const workers of [2, 0]) {
      const error = await array.read(null, { workers }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CodecError);
      expect(error).toMatchObject({ path: "unsharded", key: "unsharded/c/2/1/0" });
    }
    hook = undefined;
  });

  it("an abort cuts the requests the workers have in flight", async () => {
    // Every chunk answer waits 5 s: the read is aborted while its first requests wait.
    let cut = 0;
    let waiting = 0;
    hook = (request, response) => {
      if (!request.url?.includes("/slow/c/")) return false;
      waiting++;
      response.on("close", () => {
        if (!response.writableFinished) cut++;
      });
      return new Promise((resolve) => setTimeout(() => resolve(response.destroyed), 5000));
    };
    const array = await openArray(new HttpStore(`${server.url}/data/`, { workerFetch: true, retry: false }), { path: "slow" });
    const controller = new AbortController();
    const outcome = array.read(null, { workers: 2, concurrency: 8, signal: controller.signal }).then(() => "read", (error: unknown) => error);
    // `concurrency` requests in flight over the pool's 4 tasks, and no more.
    await vi.waitFor(() => expect(waiting).toBe(8), { timeout: 4000, interval: 20 });
    controller.abort();
    expect(await outcome).toBeInstanceOf(AbortError);
    // The workers' requests were cut, not waited out.
    await vi.waitFor(() => expect(cut).toBe(8), { timeout: 2000, interval: 20 });
    hook = undefined;
  });
});
