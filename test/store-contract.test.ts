import { mkdtemp, mkdir, readdir, rm, stat, chmod, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { AbortError, StoreError, UnsupportedOperationError } from "../src/errors.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { storeContract } from "./helpers/store-contract.js";

const bytes = (...values: number[]) => new Uint8Array(values);
const iota = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256);

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "zarrflow-store-"));
}

/** Every file name under `dir`, recursively, relative to it. */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

storeContract("MemoryStore", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

storeContract("FileSystemStore", async () => {
  const root = await tempRoot();
  return { store: new FileSystemStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe("MemoryStore specifics", () => {
  it("takes initial contents from a Map or a record, copying them", async () => {
    const value = bytes(1, 2);
    const fromRecord = new MemoryStore({ "a/zarr.json": value });
    const fromMap = new MemoryStore(new Map([["b", bytes(3)]]));
    value[0] = 9;
    expect(await fromRecord.get("a/zarr.json")).toEqual(bytes(1, 2));
    expect(fromMap.keys()).toEqual(["b"]);
  });

  it("has synchronous access and exposes its map read-only", () => {
    const store = new MemoryStore();
    store.setSync("k", bytes(1, 2, 3));
    expect(store.getSync("k", { suffixLength: 1 })).toEqual(bytes(3));
    expect(store.getSync("absent")).toBeUndefined();
    expect(store.map.get("k")).toEqual(bytes(1, 2, 3));
    expect(store.keys()).toEqual(["k"]);
  });
});

describe("FileSystemStore specifics", () => {
  let root: string;
  let store: FileSystemStore;

  beforeEach(async () => {
    root = await tempRoot();
    store = new FileSystemStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("accepts a file:// URL root", async () => {
    await store.set("a/b", bytes(1));
    const viaUrl = new FileSystemStore(pathToFileURL(root).href);
    expect(viaUrl.root).toBe(path.resolve(root));
    expect(await viaUrl.get("a/b")).toEqual(bytes(1));
  });

  describe("absent versus failed", () => {
    it("treats a path component that is a file as absent", async () => {
      await store.set("a", bytes(1));
      expect(await store.get("a/b")).toBeUndefined();
      expect(await store.get("a/b", { offset: 0, length: 1 })).toBeUndefined();
      expect(await store.getRanges("a/b", [{ suffixLength: 1 }])).toBeUndefined();
      expect(await store.size("a/b")).toBeUndefined();
      expect(await collectKeys(store, "a/")).toEqual([]);
      await expect(store.delete("a/b")).resolves.toBeUndefined();
    });

    it("maps a non-ENOENT error (key names a directory: EISDIR) to StoreError, not undefined", async () => {
      await store.set("a/b/c", bytes(1));
      for (const read of [
        () => store.get("a/b"),
        () => store.get("a/b", { offset: 0, length: 1 }),
        () => store.get("a/b", { suffixLength: 1 }),
        () => store.getRanges("a/b", [{ offset: 0, length: 1 }]),
        () => store.size("a/b"),
      ]) {
        const error = await read().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).key).toBe("a/b");
      }
      await expect(store.delete("a/b")).rejects.toBeInstanceOf(StoreError);
      await expect(store.setRange("a/b", 0, bytes(1))).rejects.toBeInstanceOf(StoreError);
    });

    it.skipIf(process.getuid?.() === 0 || process.platform === "win32")(
      "maps a permission error to StoreError (EACCES)",
      async () => {
        await store.set("secret", bytes(1, 2, 3));
        await chmod(path.join(root, "secret"), 0o000);
        try {
          const error = await store.get("secret").catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StoreError);
          expect((error as StoreError).cause).toMatchObject({ code: "EACCES" });
          await expect(store.get("secret", { suffixLength: 1 })).rejects.toBeInstanceOf(StoreError);
        } finally {
          await chmod(path.join(root, "secret"), 0o644);
        }
      },
    );
  });

  describe("atomic set", () => {
    it("leaves no temporary files behind", async () => {
      await store.set("a/c/0/0", iota(1000));
      await store.set("a/c/0/0", iota(10));
      await store.set("a/.zarray", bytes(1));
      expect(await allFiles(root)).toEqual([path.join("a", ".zarray"), path.join("a", "c", "0", "0")].sort());
    });

    it("cleans up the temp file and rejects with StoreError when the rename fails", async () => {
      await mkdir(path.join(root, "x", "y", "z"), { recursive: true }); // "x/y" is a non-empty directory
      const error = await store.set("x/y", bytes(1, 2)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).key).toBe("x/y");
      expect(await readdir(path.join(root, "x"))).toEqual(["y"]);
    });

    it("rejects with StoreError when a parent path is a file", async () => {
      await store.set("a", bytes(1));
      await expect(store.set("a/b", bytes(2))).rejects.toBeInstanceOf(StoreError);
      expect(await allFiles(root)).toEqual(["a"]);
    });

    it("never lets a concurrent reader see a mix of old and new bytes", async () => {
      const a = new Uint8Array(256 * 1024).fill(0xaa);
      const b = new Uint8Array(256 * 1024).fill(0xbb);
      await store.set("k", a);
      const writes = Array.from({ length: 20 }, (_, i) => store.set("k", i % 2 ? a : b));
      const reads = Array.from({ length: 40 }, () => store.get("k"));
      await Promise.all(writes);
      for (const value of await Promise.all(reads)) {
        expect(value!.length).toBe(a.length);
        expect(value!.every((x) => x === value![0])).toBe(true);
      }
      expect((await allFiles(root)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });

    it("supports the durable option", async () => {
      const durable = new FileSystemStore(root, { durable: true });
      await durable.set("d/k", iota(100));
      await durable.setRange("d/k", 1, bytes(0));
      expect(await durable.get("d/k", { offset: 0, length: 3 })).toEqual(bytes(0, 0, 14));
    });
  });

  it("does not list temp files, but does list dot-named keys", async () => {
    await store.set("a/.zattrs", bytes(1));
    await writeFile(path.join(root, "a", ".0.1234abcd.tmp"), bytes(9));
    expect(await collectKeys(store, "")).toEqual(["a/.zattrs"]);
  });

  it("prunes directories a delete leaves empty, but never the root", async () => {
    await store.set("a/b/c/d", bytes(1));
    await store.set("a/x", bytes(1));
    await store.delete("a/b/c/d");
    expect(await readdir(path.join(root, "a"))).toEqual(["x"]);
    await store.delete("a/x");
    expect(await readdir(root)).toEqual([]);
    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it("reads only the requested range of a large file correctly", async () => {
    const big = iota(4 * 1024 * 1024);
    await store.set("big", big);
    const cases = [
      { range: { offset: 0, length: 10 }, expected: big.subarray(0, 10) },
      { range: { offset: 3_000_001, length: 65_536 }, expected: big.subarray(3_000_001, 3_065_537) },
      { range: { offset: big.length - 5, length: 100 }, expected: big.subarray(big.length - 5) },
      { range: { suffixLength: 1234 }, expected: big.subarray(big.length - 1234) },
    ];
    for (const { range, expected } of cases) {
      const value = await store.get("big", range);
      expect(value!.byteLength).toBe(expected.length);
      expect(value!.buffer.byteLength).toBe(expected.length);
      expect(Buffer.from(value!).equals(Buffer.from(expected))).toBe(true);
    }
    const whole = await store.get("big");
    expect(Buffer.from(whole!).equals(Buffer.from(big))).toBe(true);
  });

  it("returns tight buffers for small whole-file reads (not a slice of Node's pool)", async () => {
    await store.set("small", bytes(1, 2, 3));
    const value = await store.get("small");
    expect(value!.byteOffset).toBe(0);
    expect(value!.buffer.byteLength).toBe(3);
    expect(Buffer.isBuffer(value)).toBe(false);
  });

  it.each(["../outside", "a/../../outside", "a/..", "/etc/passwd", "a\\b", "a\0b", "", "a//b", "./a", "a/./b", "a/"])(
    "rejects the escaping or malformed key %j with StoreError",
    async (key) => {
      await expect(store.get(key)).rejects.toBeInstanceOf(StoreError);
      await expect(store.set(key, bytes(1))).rejects.toBeInstanceOf(StoreError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(StoreError);
      await expect(store.size(key)).rejects.toBeInstanceOf(StoreError);
      await expect(store.setRange(key, 0, bytes(1))).rejects.toBeInstanceOf(StoreError);
      expect(await readdir(root)).toEqual([]);
    },
  );

  it("yields nothing for a list prefix that would leave the root", async () => {
    await store.set("a", bytes(1));
    expect(await collectKeys(store, "../")).toEqual([]);
    expect(await collectKeys(store, "/")).toEqual([]);
  });

  it("rejects writes on a read-only store with UnsupportedOperationError", async () => {
    await store.set("k", bytes(1, 2));
    const readOnly = new FileSystemStore(root, { readOnly: true });
    await expect(readOnly.set("k", bytes(3))).rejects.toBeInstanceOf(UnsupportedOperationError);
    await expect(readOnly.delete("k")).rejects.toBeInstanceOf(UnsupportedOperationError);
    await expect(readOnly.setRange("k", 0, bytes(3))).rejects.toBeInstanceOf(UnsupportedOperationError);
    expect(await readOnly.get("k")).toEqual(bytes(1, 2));
    expect(await collectKeys(readOnly, "")).toEqual(["k"]);
  });

  it("aborts a read whose signal fires mid-flight", async () => {
    await store.set("big", iota(8 * 1024 * 1024));
    const controller = new AbortController();
    const pending = store.get("big", undefined, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });
});

async function collectKeys(store: FileSystemStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list(prefix)) out.push(key);
  return out.sort();
}
