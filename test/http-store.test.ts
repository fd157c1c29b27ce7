/**
 * HttpStore against a real nginx (WebDAV PUT/DELETE): the shared store contract, plus what is
 * specific to HTTP — key encoding and escapes, read-only mode, no listing, openStore, requests
 * per call (through the onRequest hook, which sees every attempt).
 */
import { readFile, readdir, rm } from "node:fs/promises";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { StoreError, UnsupportedOperationError } from "../src/errors.js";
import type { Store } from "../src/store.js";
import { create, openArray, openGroup } from "../src/index.js";
import { HttpStore, HttpStoreError, openStore, type HttpRequest, type HttpStoreOptions } from "../stores/index.js";
import { SKIP_NGINX, startNginx, type Nginx } from "./helpers/nginx.js";
import { storeContract } from "./helpers/store-contract.js";
import { HTTP_TRANSPORTS } from "./helpers/http-transports.js";

const bytes = (...values: number[]) => new Uint8Array(values);
const iota = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256);

describe.skipIf(SKIP_NGINX).each(HTTP_TRANSPORTS)("HttpStore on nginx (%s transport)", (transport) => {
  let nginx: Nginx;
  let folder = 0;
  const open: HttpStore[] = [];

  beforeAll(async () => {
    nginx = await startNginx();
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await nginx?.stop();
  });

  /** A store rooted at a fresh folder of the served tree. */
  function freshStore(options: HttpStoreOptions = {}): { store: HttpStore; name: string } {
    const name = `t${folder++}`;
    const store = new HttpStore(`${nginx.origin}/${name}/`, { transport, ...options });
    open.push(store);
    return { store, name };
  }

  storeContract(`HttpStore (nginx, WebDAV, ${transport})`, async () => {
    const { store, name } = freshStore();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(path.join(nginx.dataDir, name), { recursive: true, force: true });
      },
    };
  });

  describe("specifics", () => {
    it("creates nested folders on PUT and stores exactly the bytes", async () => {
      const { store, name } = freshStore();
      await store.set("a/b/c/d", iota(1000));
      expect(await readdir(path.join(nginx.dataDir, name, "a", "b", "c"))).toEqual(["d"]);
      expect(await store.get("a/b/c/d")).toEqual(iota(1000));
    });

    it("encodes each key segment: spaces, '%', '#', '?' and unicode are ordinary characters", async () => {
      const { store, name } = freshStore();
      const keys = ["my group with spaces/zarr.json", "100%/x", "a#b/c?d", "ünï/çødé"];
      for (const [i, key] of keys.entries()) await store.set(key, bytes(i));
      for (const [i, key] of keys.entries()) expect(await store.get(key)).toEqual(bytes(i));
      // On disk under their literal names: nothing was decoded into another path.
      expect((await readdir(path.join(nginx.dataDir, name))).sort()).toEqual(["100%", "a#b", "my group with spaces", "ünï"]);
      expect(await readdir(path.join(nginx.dataDir, name, "a#b"))).toEqual(["c?d"]);
    });

    it.each([
      "../outside",
      "a/../../outside",
      "a/..",
      "./a",
      "a/./b",
      "/etc/passwd",
      "a\\b",
      "..\\x",
      "a\0b",
      "",
      "a//b",
      "a/",
      "%2e%2e/x",
      "a/%2E%2E",
      "%2e",
      "a%2fb",
      "a%5Cb",
      "%252e%252e/x",
      "a%00b",
    ])("rejects the escaping or malformed key %j with StoreError, without a request", async (key) => {
      const requests: HttpRequest[] = [];
      const { store, name } = freshStore({ onRequest: (r) => (requests.push(r), r) });
      await expect(store.get(key)).rejects.toBeInstanceOf(StoreError);
      await expect(store.get(key, { offset: 0, length: 1 })).rejects.toBeInstanceOf(StoreError);
      await expect(store.size(key)).rejects.toBeInstanceOf(StoreError);
      await expect(store.set(key, bytes(1))).rejects.toBeInstanceOf(StoreError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(StoreError);
      const error = await store.get(key).catch((e: unknown) => e);
      expect((error as StoreError).key).toBe(key);
      expect(requests).toEqual([]);
      expect(await readdir(nginx.dataDir)).not.toContain(name);
    });

    it("keeps a base URL's path and query: keys resolve under the path, the query rides along", async () => {
      const { store: writer, name } = freshStore();
      await writer.set("deep/k", bytes(5));
      const urls: string[] = [];
      const reader = new HttpStore(`${nginx.origin}/${name}/deep?token=abc`, { transport, onRequest: (r) => (urls.push(r.url), r) });
      open.push(reader);
      expect(await reader.get("k")).toEqual(bytes(5));
      expect(urls).toEqual([`${nginx.origin}/${name}/deep/k?token=abc`]);
    });

    it("a read-only store rejects writes with UnsupportedOperationError and sends nothing", async () => {
      const { store: writer, name } = freshStore();
      await writer.set("k", bytes(1, 2));
      const requests: HttpRequest[] = [];
      const readOnly = new HttpStore(`${nginx.origin}/${name}/`, { readOnly: true, transport, onRequest: (r) => (requests.push(r), r) });
      open.push(readOnly);
      await expect(readOnly.set("k", bytes(3))).rejects.toBeInstanceOf(UnsupportedOperationError);
      await expect(readOnly.delete("k")).rejects.toBeInstanceOf(UnsupportedOperationError);
      expect(requests).toEqual([]);
      expect(await readOnly.get("k")).toEqual(bytes(1, 2));
    });

    it("has no list capability: listing a group's children is an UnsupportedOperationError", async () => {
      const { store } = freshStore();
      expect((store as Store).list).toBeUndefined();
      await create(store, { path: "g/x", shape: [2], chunks: [2], dtype: "uint8" });
      await store.set("g/zarr.json", new TextEncoder().encode(JSON.stringify({ zarr_format: 3, node_type: "group", attributes: {} })));
      const group = await openGroup(store, { path: "g" });
      await expect(group.children()).rejects.toBeInstanceOf(UnsupportedOperationError);
      // Children are still opened by name.
      expect((await openArray(store, { path: "g/x" })).shape).toEqual([2]);
    });

    it("a key that names a folder is an error, not absent (nginx redirects to the folder, then forbids it)", async () => {
      const { store } = freshStore();
      await store.set("dir/k", bytes(1));
      const error = await store.get("dir").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as HttpStoreError).status).toBe(403);
      expect((error as HttpStoreError).key).toBe("dir");
      await expect(store.size("dir")).rejects.toBeInstanceOf(StoreError);
    });

    it("a PUT the server refuses is an HttpStoreError naming the URL, status and attempts", async () => {
      const requests: HttpRequest[] = [];
      const { store, name } = freshStore({ onRequest: (r) => (requests.push(r), r) });
      await store.set("file", bytes(1));
      requests.length = 0;
      // A path through an existing file: nginx answers 500 (ENOTDIR), which is retried.
      const error = await store.set("file/below", bytes(2)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpStoreError);
      const httpError = error as HttpStoreError;
      expect(httpError.message).toContain(`${nginx.origin}/${name}/file/below`);
      expect(httpError.method).toBe("PUT");
      expect(httpError.status).toBeGreaterThanOrEqual(400);
      expect(requests.length).toBe(httpError.attempts);
      expect(await store.get("file")).toEqual(bytes(1));
    });

    it("answers with one request per get, ranged get and size (no hidden extra round trips)", async () => {
      const requests: HttpRequest[] = [];
      const { store } = freshStore({ onRequest: (r) => (requests.push(r), r) });
      await store.set("k", iota(100));
      requests.length = 0;
      await store.get("k");
      await store.get("k", { offset: 10, length: 10 });
      await store.get("k", { suffixLength: 5 });
      await store.get("k", { offset: 100, length: 5 });
      await store.size("k");
      expect(requests.map((r) => r.method)).toEqual(["GET", "GET", "GET", "GET", "HEAD"]);
      expect(requests.map((r) => r.headers.range)).toEqual([undefined, "bytes=10-19", "bytes=-5", "bytes=100-104", undefined]);
    });

    it("reads large values and ranges of them exactly", async () => {
      const { store } = freshStore();
      const big = iota(3 << 20);
      await store.set("big", big);
      expect(Buffer.from((await store.get("big"))!).equals(Buffer.from(big))).toBe(true);
      const part = await store.get("big", { offset: 1_000_001, length: 1 << 20 });
      expect(Buffer.from(part!).equals(Buffer.from(big.subarray(1_000_001, 1_000_001 + (1 << 20))))).toBe(true);
    });

    it("openStore returns an HttpStore for http:// URLs, passing readOnly and http options", async () => {
      const { store: writer, name } = freshStore();
      await writer.set("k", bytes(9));
      const seen: string[] = [];
      const store = await openStore(`${nginx.origin}/${name}`, { readOnly: true, http: { transport, headers: { "x-test": "1" }, onRequest: (r) => (seen.push(r.headers["x-test"]!), r) } });
      expect(store).toBeInstanceOf(HttpStore);
      open.push(store as HttpStore);
      expect((store as HttpStore).readOnly).toBe(true);
      expect(await store.get("k")).toEqual(bytes(9));
      expect(seen).toEqual(["1"]);
      await expect(store.set!("k", bytes(1))).rejects.toBeInstanceOf(UnsupportedOperationError);
    });

    it("moves bytes on the transport it was given", async () => {
      const { store } = freshStore();
      await store.set("k", bytes(4));
      expect(await store.get("k")).toEqual(bytes(4));
      expect(await store.transportName()).toBe(transport);
    });

    it("close() closes the pool: later calls reject with StoreError", async () => {
      const { store } = freshStore();
      await store.close();
      const error = await store.get("k").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toMatch(/the store is closed/);
    });
  });
});

describe("the portable HTTP modules", () => {
  // A browser bundle of HttpStore/S3Store/ZipStore must not pull undici or any node: module; only
  // the undici transport and the AWS profile reader (both loaded on demand) may.
  const portable = ["http-core.ts", "http-transport.ts", "http-transport-fetch.ts", "http.ts", "s3.ts", "s3-credentials.ts", "zip.ts"];
  it.each(portable)("stores/%s imports neither undici nor node: modules statically", async (file) => {
    const source = await readFile(path.join(import.meta.dirname, "..", "stores", file), "utf8");
    const imports = [...source.matchAll(/^import[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((name) => name === "undici" || name.startsWith("node:"))).toEqual([]);
  });
});
