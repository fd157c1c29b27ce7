/**
 * Escapes: no key or path — from a caller, or from metadata found in a store — can make the
 * filesystem store read, write, delete or list anything outside its root. Keys are built from
 * the pieces attackers use ("..", ".", absolute paths, backslashes, NUL, URL-encoded dots,
 * look-alike Unicode dots) and thrown at every store method; afterwards a sibling directory
 * holding a sentinel file must be exactly as it was, and nothing may exist outside the root
 * that was not there before. Symlinks inside the root are out of scope (followed as files).
 */
import fc from "fast-check";
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MetadataError, StoreError, ValueError, ZarrGroup, create, createGroup, open, openArray } from "../src/index.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { typed } from "./helpers/hostile.js";
import { fcParams } from "./helpers/seed.js";

const SEGMENTS = [
  "..", ".", "", "...", "%2e%2e", "%2E%2E%2F", "..%2f", "%2f", "..\\..", "\\", "C:", "c:\\windows", "~", "\u0000", "a\u0000b",
  "\u2024\u2024", "\uff0e\uff0e", "..\u2215", "a", "b", "c", "0", "zarr.json", ".zarray", " ", "..\u0000", "/etc", "etc", "passwd",
];

const key = fc
  .array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 6 })
  .chain((parts) => fc.constantFrom("/", "\\", "/", "//").map((joiner) => parts.join(joiner)))
  .chain((k) => fc.constantFrom(k, `/${k}`, `${k}/`, k));

async function snapshot(dir: string, skip: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (full === skip) continue;
      if (entry.isDirectory()) {
        out.set(full, "dir");
        await walk(full);
      } else out.set(full, (await readFile(full)).toString("hex"));
    }
  };
  await walk(dir);
  return out;
}

describe("FileSystemStore keys cannot leave the root", () => {
  let sandbox: string;
  let root: string;
  beforeAll(async () => {
    sandbox = await mkdtemp(join(tmpdir(), "zarrflow-escape-"));
    root = join(sandbox, "store");
    await mkdir(root);
    await mkdir(join(sandbox, "outside"));
    await writeFile(join(sandbox, "outside", "secret"), "do not touch");
    await writeFile(join(sandbox, "sibling"), "nor this");
    // Names a traversal would produce if it were taken literally one level up.
    await writeFile(join(sandbox, "zarr.json"), "{}");
  });
  afterAll(async () => {
    await rm(sandbox, { recursive: true, force: true });
  });

  it("every method either refuses a key with a StoreError naming it, or acts on a file under the root", async () => {
    const store = new FileSystemStore(root);
    const before = await snapshot(sandbox, root);
    let refused = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(key, fc.constantFrom("get", "set", "delete", "setRange", "getRanges", "size", "list"), async (k, method) => {
        const outcome = await typed(async () => {
          switch (method) {
            case "get":
              return store.get(k);
            case "set":
              return store.set(k, new Uint8Array([1, 2, 3]));
            case "delete":
              return store.delete(k);
            case "setRange":
              return store.setRange(k, 0, new Uint8Array([9]));
            case "getRanges":
              return store.getRanges(k, [{ offset: 0, length: 2 }]);
            case "size":
              return store.size(k);
            case "list": {
              const keys: string[] = [];
              for await (const listed of store.list(k)) keys.push(listed);
              return keys;
            }
          }
        });
        if (outcome.ok) {
          accepted++;
          if (method === "list") {
            // Whatever a listing yields is a key of this store: it maps inside the root.
            for (const listed of outcome.value as string[]) expect(resolve(root, listed).startsWith(root + sep)).toBe(true);
          } else {
            expect(resolve(root, k).startsWith(root + sep), `${method}(${JSON.stringify(k)}) was accepted`).toBe(true);
          }
        } else {
          refused++;
          expect(outcome.error).toBeInstanceOf(StoreError);
          if (method !== "list") expect(outcome.error.key).toBe(k);
        }
      }),
      fcParams("escapes: filesystem keys", 3000),
    );
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    // Nothing outside the root changed or appeared.
    expect(await snapshot(sandbox, root)).toEqual(before);
  });

  it("URL-encoded and look-alike dots are ordinary names, kept inside the root", async () => {
    const fresh = join(root, "fresh");
    const store = new FileSystemStore(fresh);
    for (const k of ["%2e%2e/%2e%2e/outside/secret", "\uff0e\uff0e/outside", "..\u2215outside", "...", "a/.../b"]) {
      await store.set(k, new Uint8Array([7]));
      const file = resolve(fresh, ...k.split("/"));
      expect(relative(fresh, file).split(sep)).not.toContain("..");
      expect((await stat(file)).isFile()).toBe(true);
      expect(await store.get(k)).toEqual(new Uint8Array([7]));
    }
    expect((await readFile(join(sandbox, "outside", "secret"))).toString()).toBe("do not touch");
  });

  it("the classic traversals are refused by every method, naming the key", async () => {
    const store = new FileSystemStore(root);
    for (const k of ["../outside/secret", "a/../../outside/secret", "/etc/passwd", "..\\outside\\secret", "a\u0000b", "./zarr.json", "a//b", ""]) {
      const calls: (() => Promise<unknown>)[] = [() => store.get(k), () => store.set(k, new Uint8Array(1)), () => store.delete(k), () => store.setRange(k, 0, new Uint8Array(1)), () => store.size(k)];
      for (const call of calls) {
        const outcome = await typed(call);
        expect(!outcome.ok && outcome.error, JSON.stringify(k)).toBeInstanceOf(StoreError);
        expect(!outcome.ok && outcome.error.key).toBe(k);
      }
      const listed: string[] = [];
      for await (const entry of store.list(k.endsWith("/") ? k : `${k}/`)) listed.push(entry);
      expect(listed).toEqual([]);
    }
  });
});

describe("node paths given to open and create", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "zarrflow-escape-path-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const BAD = ["..", "../x", "a/../../b", "a/./b", "./a", "a\\b", "..\\x", "a\u0000b"];

  it("paths with '.' or '..' segments, backslashes or NUL are ValueErrors on every store and every entry point", async () => {
    const root = join(dir, "root");
    for (const store of [new MemoryStore(), new FileSystemStore(root)]) {
      const group = await createGroup(store, { overwrite: true });
      for (const path of BAD) {
        for (const call of [
          () => open(store, { path }),
          () => openArray(store, { path }),
          () => create(store, { path, shape: [2], dtype: "uint8" }),
          () => createGroup(store, { path }),
          () => group.open(path),
        ]) {
          const outcome = await typed(call);
          expect(!outcome.ok && outcome.error, JSON.stringify(path)).toBeInstanceOf(ValueError);
        }
      }
      // Nothing was written anywhere but the root group's own document.
      if (store instanceof MemoryStore) expect(store.keys()).toEqual(["zarr.json"]);
    }
    const siblings = await readdir(dir);
    expect(siblings).toEqual(["root"]);
  });

  it("leading, trailing and doubled slashes are tidied, not refused", async () => {
    const store = new MemoryStore();
    const array = await create(store, { path: "/a//b/", shape: [2], dtype: "uint8" });
    expect(array.path).toBe("a/b");
    expect((await openArray(store, { path: "a/b/" })).path).toBe("a/b");
    expect(store.keys()).toEqual(["a/b/zarr.json", "a/zarr.json", "zarr.json"]);
  });
});

describe("node paths found in metadata", () => {
  const encoder = new TextEncoder();
  const json = (v: unknown) => encoder.encode(JSON.stringify(v));

  it("consolidated metadata naming '..' or '.' nodes is a MetadataError (v2 .zmetadata and v3 inline)", async () => {
    const zarray = { zarr_format: 2, shape: [2], chunks: [2], dtype: "|u1", compressor: null, fill_value: 0, order: "C", filters: null };
    for (const name of ["../escaped", "a/../../escaped", "./a", "a\\..\\b"]) {
      const v2 = new MemoryStore({
        ".zgroup": json({ zarr_format: 2 }),
        ".zmetadata": json({ zarr_consolidated_format: 1, metadata: { ".zgroup": { zarr_format: 2 }, [`${name}/.zarray`]: zarray } }),
      });
      const outcome = await typed(() => open(v2));
      expect(!outcome.ok && outcome.error, name).toBeInstanceOf(MetadataError);

      const v3 = new MemoryStore({
        "zarr.json": json({
          zarr_format: 3,
          node_type: "group",
          attributes: {},
          consolidated_metadata: { kind: "inline", must_understand: false, metadata: { [name]: { zarr_format: 3, node_type: "group", attributes: {} } } },
        }),
      });
      const inline = await typed(() => open(v3));
      expect(!inline.ok && inline.error, name).toBeInstanceOf(MetadataError);
    }
    // The same documents with ordinary names open, and their children are reachable.
    const good = new MemoryStore({
      ".zgroup": json({ zarr_format: 2 }),
      ".zmetadata": json({ zarr_consolidated_format: 1, metadata: { ".zgroup": { zarr_format: 2 }, "x/.zarray": zarray } }),
    });
    const root = await open(good);
    expect(root).toBeInstanceOf(ZarrGroup);
    expect(await (root as ZarrGroup).children()).toEqual(["x"]);
  });

  it("chunk key separators other than '/' and '.' are refused, so chunk keys are always digits and separators", async () => {
    for (const separator of ["../", "\\", "/..", "%2f"]) {
      const doc = { zarr_format: 3, node_type: "array", shape: [4], data_type: "uint8", chunk_grid: { name: "regular", configuration: { chunk_shape: [2] } }, chunk_key_encoding: { name: "default", configuration: { separator } }, fill_value: 0, codecs: [{ name: "bytes" }] };
      const outcome = await typed(() => open(new MemoryStore({ "zarr.json": json(doc) })));
      expect(!outcome.ok && outcome.error).toBeInstanceOf(MetadataError);
      const v2 = { zarr_format: 2, shape: [4], chunks: [2], dtype: "|u1", compressor: null, fill_value: 0, order: "C", filters: null, dimension_separator: separator };
      const old = await typed(() => open(new MemoryStore({ ".zarray": json(v2) })));
      expect(!old.ok && old.error).toBeInstanceOf(MetadataError);
    }
  });
});
