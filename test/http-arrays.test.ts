/**
 * Arrays over HTTP: written through HttpStore to nginx (WebDAV) and read back exactly, the
 * shared zarrita fixtures served read-only by nginx and read through HttpStore exactly as from
 * the file system, and what remote reads cost: requests per shard (counted by CountingStore
 * and by the onRequest hook, which sees every HTTP request) and requests in flight during a
 * full read (counted by the server).
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  HAS_FLOAT16_ARRAY,
  ZarrflowError,
  create,
  fromFloat16Bits,
  openArray,
  openGroup,
  slice,
  type CreateArrayOptions,
  type DataType,
  type NdArray,
  type TypedArray,
} from "../src/index.js";
import type { ShardingCodec } from "../src/codecs/sharding.js";
import { fixedWidthValues } from "../src/dtype-extended.js";
import { CountingStore, FileSystemStore, HttpStore, MemoryStore, type HttpRequest, type HttpStoreOptions } from "../stores/index.js";
import { SKIP_NGINX, startNginx, type Nginx } from "./helpers/nginx.js";
import { ZARRITA_FIXTURES } from "./helpers/fixtures.js";
import { prng } from "./helpers/prng.js";
import { HTTP_TRANSPORTS } from "./helpers/http-transports.js";

const ZARRITA = ZARRITA_FIXTURES;
const EXPECTED_JSON = path.join(ZARRITA, "expected.json");

const BYTES_LE = { name: "bytes", configuration: { endian: "little" } };
const ZSTD = { name: "zstd", configuration: { level: 1 } };

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bytesOf = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

function randomUint16(count: number, seed: number): Uint16Array {
  const rand = prng(seed);
  return Uint16Array.from({ length: count }, () => Math.floor(rand() * 65536));
}

/** Elements of `model` (C order, `shape`) inside the box `[start, stop)` per dimension. */
function extract(model: Uint16Array, shape: number[], box: [number, number][]): Uint16Array {
  const out: number[] = [];
  const walk = (dim: number, base: number) => {
    for (let i = box[dim][0]; i < box[dim][1]; i++) {
      const index = base * shape[dim] + i;
      if (dim === shape.length - 1) out.push(model[index]);
      else walk(dim + 1, index);
    }
  };
  walk(0, 0);
  return Uint16Array.from(out);
}

function expectSame(actual: NdArray, expected: TypedArray, label: string): void {
  expect(bytesOf(actual.data).equals(bytesOf(expected)), label).toBe(true);
}

describe.skipIf(SKIP_NGINX).each(HTTP_TRANSPORTS)("arrays over HTTP (nginx, %s transport)", (transport) => {
  let nginx: Nginx;
  let folder = 0;
  const stores: HttpStore[] = [];

  beforeAll(async () => {
    nginx = await startNginx({ readOnly: existsSync(ZARRITA) ? { "/fixtures/": ZARRITA } : {} });
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await nginx?.stop();
  });

  function httpStore(prefix: string, options: HttpStoreOptions = {}): HttpStore {
    const store = new HttpStore(`${nginx.origin}/${prefix}`, { transport, ...options });
    stores.push(store);
    return store;
  }

  /** A fresh read-write folder, also reachable as a FileSystemStore (what nginx wrote to disk). */
  function freshFolder(options: HttpStoreOptions = {}): { http: HttpStore; disk: FileSystemStore; requests: HttpRequest[] } {
    const name = `a${folder++}`;
    const requests: HttpRequest[] = [];
    const http = httpStore(`${name}/`, { ...options, onRequest: (r) => (requests.push(r), r) });
    return { http, disk: new FileSystemStore(path.join(nginx.dataDir, name), { readOnly: true }), requests };
  }

  describe("written through HttpStore, read back exactly", () => {
    const shape = [50, 37];
    const layouts: [string, Omit<CreateArrayOptions, "shape" | "dtype">][] = [
      ["v3, zstd", { chunks: [16, 10], codecs: [BYTES_LE, ZSTD], fillValue: 7 }],
      ["v2, blosc, F order, '/' separator", { zarrFormat: 2, chunks: [16, 10], compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 }, order: "F", dimensionSeparator: "/" }],
      ["v2, no compressor, '.' separator", { zarrFormat: 2, chunks: [7, 9], compressor: null }],
      ["v3 sharded, index at the end", { shards: [16, 16], chunks: [4, 4], codecs: [BYTES_LE, ZSTD], fillValue: 3 }],
      ["v3 sharded, index at the start, uncompressed", { shards: [16, 16], chunks: [4, 4], codecs: [BYTES_LE], indexLocation: "start" }],
    ];

    it.each(layouts)("%s", async (_label, layout) => {
      const { http, disk } = freshFolder();
      const model = randomUint16(product(shape), 42);
      const array = await create(http, { path: "x", shape, dtype: "uint16", ...layout });
      await array.write(null, model.slice(), { workers: 0 });
      // A partial overwrite: read-modify-write through HTTP (shards: fetched piecewise, re-laid out).
      const patch = randomUint16(5 * 6, 7);
      await array.write([slice(20, 25), slice(3, 9)], patch, { workers: 0 });
      for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) model[(20 + i) * 37 + 3 + j] = patch[i * 6 + j];

      const viaHttp = await openArray(http, { path: "x" });
      expect(viaHttp.zarrFormat).toBe(layout.zarrFormat ?? 3);
      expectSame(await viaHttp.read(null, { workers: 0 }), model, "full read over HTTP");
      expectSame(await viaHttp.read("13:41, 5:30", { workers: 0 }), extract(model, shape, [[13, 41], [5, 30]]), "partial read over HTTP");
      // The bytes nginx stored are a valid array on disk, equal to the model.
      expectSame(await (await openArray(disk, { path: "x" })).read(null, { workers: 0 }), model, "read from nginx's folder");
    });

    it("missing chunks read as the fill value and a write of fill values deletes its chunk (DELETE)", async () => {
      const { http, requests } = freshFolder();
      const array = await create(http, { path: "f", shape: [8, 8], chunks: [4, 4], dtype: "uint16", fillValue: 9 });
      await array.write("0:4, 0:4", 1, { workers: 0 });
      expect(Array.from((await array.read("3:5, 3:5", { workers: 0 })).data as Uint16Array)).toEqual([1, 9, 9, 9]);
      requests.length = 0;
      await array.write("0:4, 0:4", 9, { workers: 0 });
      expect(requests.filter((r) => r.method === "DELETE").map((r) => r.url)).toEqual([`${http.url}f/c/0/0`]);
      expect(await http.get("f/c/0/0")).toBeUndefined();
    });
  });

  describe("requests per shard", () => {
    // [32, 32] uint16 in [16, 16] shards of [4, 4] inner chunks, uncompressed: fixed-size slots.
    const shape = [32, 32];

    async function sharded() {
      const { http, requests } = freshFolder();
      const model = randomUint16(product(shape), 3);
      const array = await create(http, { path: "s", shape, dtype: "uint16", shards: [16, 16], chunks: [4, 4], codecs: [BYTES_LE, ZSTD] });
      await array.write(null, model.slice(), { workers: 0 });
      const counting = new CountingStore(http);
      const reader = await openArray(counting, { path: "s" });
      counting.reset();
      requests.length = 0;
      return { counting, reader, requests, model, codec: reader.sharding as ShardingCodec };
    }

    it("a partial read of one shard costs 2 requests: the index, then the coalesced inner chunks", async () => {
      const { counting, reader, requests, model, codec } = await sharded();
      const x = await reader.read("16:24, 18:26", { workers: 0 });
      expectSame(x, extract(model, shape, [[16, 24], [18, 26]]), "partial shard");
      expect(counting.count()).toBeLessThanOrEqual(2);
      expect(requests.length).toBe(counting.count());
      expect(requests.every((r) => r.method === "GET" && r.url.endsWith("/s/c/1/1"))).toBe(true);
      expect(counting.calls[0].range).toEqual({ suffixLength: codec.indexByteLength() });
    });

    it("one element of a shard is 2 requests; a whole shard is 1", async () => {
      const { counting, reader, requests, model } = await sharded();
      expect((await reader.read([5, 30], { workers: 0 })).data[0]).toBe(model[5 * 32 + 30]);
      expect(requests.length).toBe(2);
      counting.reset();
      requests.length = 0;
      expectSame(await reader.read("0:16, 16:32", { workers: 0 }), extract(model, shape, [[0, 16], [16, 32]]), "whole shard");
      expect(requests.length).toBe(1);
      expect(counting.calls[0].range).toBeUndefined();
    });
  });

  describe.skipIf(!existsSync(EXPECTED_JSON))("the zarrita fixtures served by nginx", () => {
    const expected = existsSync(EXPECTED_JSON) ? JSON.parse(readFileSync(EXPECTED_JSON, "utf8")) : { stores: {} };
    const stores = ["v2/data.zarr", "v3/data.zarr"] as const;
    const cases = stores.flatMap((storeName) =>
      Object.entries(expected.stores[storeName].arrays as Record<string, ArrayEntry>).map(([arrayPath, entry]) => [storeName, arrayPath, entry] as const),
    );

    it("every fixture array is listed", () => {
      expect(cases.length).toBe(32 + 45);
    });

    it.each(cases)("%s %s: reads exactly as from the file system, and as expected.json", async (storeName, arrayPath, entry) => {
      const disk = new FileSystemStore(path.join(ZARRITA, storeName), { readOnly: true });
      const http = httpStore(`fixtures/${storeName}/`, { readOnly: true });
      const fromDisk = await openArray(disk, { path: arrayPath }).then((a) => a.read(null, { workers: 0 })).catch((e: unknown) => e as Error);
      const overHttp = await openArray(http, { path: arrayPath }).then(async (a) => ({ array: a, result: await a.read(null, { workers: 0 }) })).catch((e: unknown) => e as Error);

      if (fromDisk instanceof Error) {
        // Unsupported here (strings, some filters): the same typed error over HTTP.
        expect(fromDisk).toBeInstanceOf(ZarrflowError);
        expect(overHttp, `${arrayPath} read over HTTP but not from disk`).toBeInstanceOf(ZarrflowError);
        expect((overHttp as ZarrflowError).code).toBe((fromDisk as ZarrflowError).code);
        return;
      }
      if (overHttp instanceof Error) throw overHttp;
      const { array, result } = overHttp;
      expect(array.shape).toEqual(entry.shape);
      expect(array.chunks).toEqual(entry.chunks);
      expect(array.shards).toEqual(entry.shards);
      expect(result.shape).toEqual(fromDisk.shape);
      expect(result.dtype).toBe(fromDisk.dtype);
      if (Array.isArray(result.data)) expect(result.data, "values differ from the file-system read").toEqual(fromDisk.data);
      else expect(bytesOf(result.data).equals(bytesOf(fromDisk.data)), "bytes differ from the file-system read").toBe(true);
      expect(comparable(result.data, result.dtype)).toEqual(expectedValues(entry, result.dtype));
    });

    it("v2: a group's children come from consolidated metadata, with no listing", async () => {
      const http = httpStore("fixtures/v2/data.zarr/", { readOnly: true });
      const root = await openGroup(http, { consolidated: true });
      const children = await root.children();
      expect(children).toContain("my group with spaces");
      expect(children.length).toBe(33);
    });
  });

  describe("latency: a full read keeps `concurrency` requests in flight", () => {
    let server: Server;
    let origin = "";
    const memory = new MemoryStore();
    let inFlight = 0;
    let maxInFlight = 0;
    /** Held responses are released once this many requests are in flight at once. */
    let barrier = 0;
    let held: (() => void)[] = [];

    beforeAll(async () => {
      const array = await create(memory, { path: "l", shape: [64, 64], chunks: [8, 8], dtype: "uint16", codecs: [BYTES_LE] });
      await array.write(null, randomUint16(64 * 64, 5), { workers: 0 });
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const respond = async () => {
          const value = await memory.get(decodeURIComponent(new URL(req.url!, "http://x").pathname.slice(1)));
          res.writeHead(value ? 200 : 404, { "content-length": value ? value.length : 0 });
          res.end(value);
          inFlight--;
        };
        if (!req.url!.includes("/c/") || barrier === 0) return void respond();
        held.push(respond);
        // Deterministic overlap: nothing is answered until `barrier` chunk requests wait at
        // once (then a little longer, so a client that sends more is caught doing it); a
        // fallback releases a pipeline that never gets there, and the test fails on the count.
        if (held.length === barrier) {
          clearTimeout(fallback);
          fallback = setTimeout(release, 20);
        } else if (held.length === 1) {
          fallback = setTimeout(release, 2000);
        }
      });
      let fallback: NodeJS.Timeout | undefined;
      const release = () => {
        clearTimeout(fallback);
        const now = held;
        held = [];
        for (const respond of now) void respond();
      };
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it("with concurrency 8 the server sees 8 chunk requests at once (the pool does not cap below it)", async () => {
      const http = new HttpStore(`${origin}/`, { transport });
      stores.push(http);
      const array = await openArray(http, { path: "l" });
      maxInFlight = 0;
      barrier = 8;
      const x = await array.read(null, { workers: 0, concurrency: 8 });
      barrier = 0;
      expectSame(x, (await (await openArray(memory, { path: "l" })).read(null, { workers: 0 })).data, "full read");
      expect(maxInFlight).toBe(8);
    });

    // The global fetch has no per-store pool to size; only undici takes `connections`.
    it.skipIf(transport === "fetch")("the connection pool caps requests in flight at `connections`", async () => {
      const http = new HttpStore(`${origin}/`, { connections: 2, transport });
      stores.push(http);
      const array = await openArray(http, { path: "l" });
      maxInFlight = 0;
      barrier = 2;
      await array.read("0:16, :", { workers: 0, concurrency: 8 });
      barrier = 0;
      expect(maxInFlight).toBe(2);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// expected.json values, normalised for comparison

interface ArrayEntry {
  shape: number[];
  chunks: number[];
  shards: number[] | null;
  data: unknown;
}

const flatten = (data: unknown): unknown[] => (Array.isArray(data) ? data.flatMap(flatten) : [data]);
const isComplex = (dtype: DataType) => dtype === "complex64" || dtype === "complex128";

/** A JSON-encoded number ("NaN", "Infinity", true) as a string that compares NaN and -0 exactly. */
function numberKey(value: unknown): string {
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "string") return value === "NaN" || value.endsWith("Infinity") ? String(Number(value)) : value;
  return Object.is(value, -0) ? "-0" : String(value);
}

function expectedValues(entry: ArrayEntry, dtype: DataType): string[] {
  const flat = isComplex(dtype) ? flattenComplex(entry.data) : flatten(entry.data);
  return flat.map(numberKey);
}

function flattenComplex(data: unknown): unknown[] {
  if (Array.isArray(data) && data.length === 2 && !Array.isArray(data[0])) return data;
  return (data as unknown[]).flatMap(flattenComplex);
}

function comparable(data: TypedArray, dtype: DataType): string[] {
  // Strings (object, <U, |S): as the strings the fixtures list.
  if (Array.isArray(data)) return data as string[];
  if (/^(fixed_length_utf32|null_terminated_bytes)\[/.test(dtype)) return fixedWidthValues({ data, dtype }).map((v) => (typeof v === "string" ? v : new TextDecoder().decode(v)));
  const values = Array.from(data as ArrayLike<number | bigint>);
  if (dtype === "float16" && !HAS_FLOAT16_ARRAY) return values.map((bits) => numberKey(fromFloat16Bits(bits as number)));
  return values.map(numberKey);
}
