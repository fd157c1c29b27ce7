/**
 * ZipStore and ZipWriterStore beyond the fixture reads (test/fixtures.test.ts reads every
 * zipped zarrita fixture exactly): ranged reads of a shard inside an uncompressed zip (requests
 * counted), zips over HTTP and S3, archives written by the writer (read back here and by
 * Python's zipfile, Zip64 included), and hostile archives.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { copyNode, create, openArray, openGroup, type Store } from "../src/index.js";
import { CountingStore, FileSystemStore, MemoryStore, ZipError, ZipStore, ZipWriterStore, openStore } from "../stores/index.js";
import { S3Store } from "../stores/s3.js";
import { ZARRITA_FIXTURES } from "./helpers/fixtures.js";
import { SKIP_NGINX, startNginx, type Nginx } from "./helpers/nginx.js";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./helpers/s3rver.js";

const V3 = path.join(ZARRITA_FIXTURES, "v3");
const UNCOMPRESSED = "data.uncompressed.zarr.zip";
const SHARDED = "3d.chunked.compressed.sharded.i2";
const PYTHON = "/usr/bin/python3";

async function readAll(store: Parameters<typeof openArray>[0], arrayPath: string): Promise<number[]> {
  return Array.from((await (await openArray(store, { path: arrayPath })).read(null, { workers: 0 })).data as Int16Array);
}

describe("ZipStore reads members by range", () => {
  it("a sharded array inside an uncompressed zip reads one inner chunk without fetching the zip", async () => {
    const counting = new CountingStore(new FileSystemStore(V3, { readOnly: true }));
    const zip = await ZipStore.open(counting, UNCOMPRESSED);
    const archiveBytes = (await stat(path.join(V3, UNCOMPRESSED))).size;
    // Opening costs two reads: the end records, then the central directory.
    expect(counting.count("get")).toBe(2);
    const array = await openArray(zip, { path: SHARDED });
    counting.reset();
    const one = await array.read([1, 2, 3], { workers: 0 });
    const reference = await openArray(new FileSystemStore(path.join(V3, "data.zarr"), { readOnly: true }), { path: SHARDED });
    expect(one.data[0]).toBe((await reference.read([1, 2, 3], { workers: 0 })).data[0]);
    // The shard member's local header, its index (the suffix) and one inner chunk: all ranged.
    const shardKey = "c/0/1/1";
    const member = zip.entries.get(`${SHARDED}/${shardKey}`)!;
    expect(member.method).toBe(0);
    expect(counting.count("get")).toBe(3);
    expect(counting.calls.every((c) => c.range !== undefined)).toBe(true);
    expect(counting.bytes("get")).toBeLessThan(member.size);
    expect(counting.bytes("get")).toBeLessThan(archiveBytes / 100);
    // A second read of the same shard reuses the learnt data offset: index and chunk only.
    counting.reset();
    await array.read([1, 3, 3], { workers: 0 });
    expect(counting.count("get")).toBe(2);
  });

  it("lists members relative to the hierarchy's root (one top folder stripped)", async () => {
    const within = await ZipStore.open(new FileSystemStore(V3, { readOnly: true }), "data.zipped_from_within.zarr.zip");
    const parent = await ZipStore.open(new FileSystemStore(V3, { readOnly: true }), "data.zipped_from_parent.zarr.zip");
    expect(within.root).toBe("");
    expect(parent.root).toBe("data.zarr/");
    const keys = async (z: ZipStore) => {
      const out: string[] = [];
      for await (const key of z.list("")) out.push(key);
      return out.sort();
    };
    expect(await keys(parent)).toEqual(await keys(within));
    expect((await keys(within)).includes("zarr.json")).toBe(true);
  });

  it("openStore reads a local .zip location", async () => {
    const store = await openStore(path.join(V3, UNCOMPRESSED), { readOnly: true });
    expect(store).toBeInstanceOf(ZipStore);
    const group = await openGroup(store);
    expect((await group.children()).length).toBeGreaterThan(10);
  });
});

describe.skipIf(SKIP_NGINX)("ZipStore over HTTP (nginx)", () => {
  let nginx: Nginx;
  beforeAll(async () => {
    nginx = await startNginx({ readOnly: { "/fixtures/": ZARRITA_FIXTURES } });
  });
  afterAll(async () => {
    await nginx?.stop();
  });

  it("reads an array from a zip served by nginx, by range", async () => {
    const store = await openStore(`${nginx.origin}/fixtures/v3/${UNCOMPRESSED}`, { readOnly: true });
    try {
      expect(store).toBeInstanceOf(ZipStore);
      expect(await readAll(store, SHARDED)).toEqual(await readAll(new FileSystemStore(path.join(V3, "data.zarr"), { readOnly: true }), SHARDED));
    } finally {
      await store.close?.();
    }
  });
});

describe("ZipStore over S3 (s3rver)", () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3rver(["zips"]);
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it("reads an array from a zip in a bucket, by range", async () => {
    const s3Options = { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS, env: {} };
    const writer = new S3Store("s3://zips/in/here", s3Options);
    await writer.set(UNCOMPRESSED, new Uint8Array(await readFile(path.join(V3, UNCOMPRESSED))));
    await writer.close();
    const store = await openStore(`s3://zips/in/here/${UNCOMPRESSED}`, { readOnly: true, s3: s3Options });
    try {
      expect(store).toBeInstanceOf(ZipStore);
      expect(await readAll(store, SHARDED)).toEqual(await readAll(new FileSystemStore(path.join(V3, "data.zarr"), { readOnly: true }), SHARDED));
    } finally {
      await store.close?.();
    }
  });
});

describe("ZipWriterStore", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "zarrflow-zip-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function copyToZip(name: string, forceZip64 = false): Promise<string> {
    const source = await openGroup(new FileSystemStore(path.join(V3, "data.zarr"), { readOnly: true }));
    const file = path.join(dir, name);
    const writer = new ZipWriterStore(file, { forceZip64 });
    await copyNode(await source.open("consolidated"), writer, { workers: 0 });
    expect(existsSync(file)).toBe(false); // not in place until closed
    await writer.close();
    return file;
  }

  for (const zip64 of [false, true]) {
    it(`a copy written as a zip${zip64 ? " (Zip64 records)" : ""} reads back exactly, here and with Python's zipfile`, async () => {
      const file = await copyToZip(`copy${zip64 ? "64" : ""}.zip`, zip64);
      const zip = await ZipStore.open(new FileSystemStore(dir, { readOnly: true }), path.basename(file));
      const source = new FileSystemStore(path.join(V3, "data.zarr", "consolidated"), { readOnly: true });
      expect(await readAll(zip, "1d.chunked.i2")).toEqual(await readAll(source, "1d.chunked.i2"));
      expect(await readAll(zip, "nested/1d.i2")).toEqual(await readAll(source, "nested/1d.i2"));
      if (existsSync(PYTHON)) {
        const script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(len(z.namelist()))";
        const { stdout } = await promisify(execFile)(PYTHON, ["-c", script, file]);
        expect(Number(stdout.trim())).toBe(zip.entries.size);
      }
    });
  }

  it("discard() leaves nothing on disk", async () => {
    const file = path.join(dir, "gone.zip");
    const writer = new ZipWriterStore(file);
    await writer.set("a", new Uint8Array([1]));
    await writer.discard();
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });
});

describe("hostile archives are refused with ZipError, in bounded memory", () => {
  /** A small archive from the writer, as bytes in a MemoryStore, for patching. */
  async function archive(entries: Record<string, Uint8Array>, forceZip64 = false): Promise<Uint8Array> {
    const dir = await mkdtemp(path.join(tmpdir(), "zarrflow-hostile-"));
    try {
      const writer = new ZipWriterStore(path.join(dir, "a.zip"), { forceZip64 });
      for (const [key, value] of Object.entries(entries)) await writer.set(key, value);
      await writer.close();
      return new Uint8Array(await readFile(path.join(dir, "a.zip")));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const open = (bytes: Uint8Array) => {
    const store = new MemoryStore();
    store.setSync("a.zip", bytes);
    return ZipStore.open(store, "a.zip");
  };
  const find = (bytes: Uint8Array, signature: number, from = 0) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let i = from; i + 4 <= bytes.length; i++) if (view.getUint32(i, true) === signature) return i;
    throw new Error("signature not found");
  };
  const replaceAll = (bytes: Uint8Array, from: string, to: string) => {
    const text = Buffer.from(bytes).toString("latin1").split(from).join(to);
    return new Uint8Array(Buffer.from(text, "latin1"));
  };

  it("a member name with .. (in the directory) is refused", async () => {
    const bytes = replaceAll(await archive({ "xx/evil": new Uint8Array([1]), "zarr.json": new Uint8Array([2]) }), "xx/evil", "../evil");
    await expect(open(bytes)).rejects.toThrow(ZipError);
    await expect(open(bytes)).rejects.toThrow(/leaves the archive's root/);
  });

  it("overlapping members are refused", async () => {
    const bytes = await archive({ a: new Uint8Array(100).fill(1), b: new Uint8Array(100).fill(2) });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const first = find(bytes, 0x02014b50);
    const second = find(bytes, 0x02014b50, first + 4);
    view.setUint32(second + 42, view.getUint32(first + 42, true), true); // b's local offset := a's
    await expect(open(bytes)).rejects.toThrow(/overlap/);
  });

  it("a stored member whose sizes lie is refused when read (it would overlap what follows)", async () => {
    const bytes = await archive({ a: new Uint8Array(100).fill(1), b: new Uint8Array(100).fill(2) });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const first = find(bytes, 0x02014b50);
    view.setUint32(first + 20, 150, true);
    view.setUint32(first + 24, 150, true);
    await expect(open(bytes)).rejects.toThrow(ZipError);
  });

  it("a deflated member that inflates to other than its declared size, or claims a bomb's size, is refused", async () => {
    const file = path.join(V3, "data.zipped_from_within.zarr.zip");
    const original = new Uint8Array(await readFile(file));
    const zip = await open(original);
    const deflated = [...zip.entries.values()].find((e) => e.method === 8 && e.size > 8)!;
    expect(deflated).toBeDefined();
    // Find its central entry by offset and shrink the declared size: inflating overflows it.
    const view = new DataView(original.buffer, original.byteOffset);
    let at = find(original, 0x02014b50);
    while (view.getUint32(at + 42, true) !== deflated.localOffset) at = find(original, 0x02014b50, at + 4);
    const smaller = original.slice();
    new DataView(smaller.buffer).setUint32(at + 24, deflated.size - 1, true);
    const lying = await open(smaller);
    await expect(lying.get(deflated.name)).rejects.toThrow(ZipError);
    const bomb = original.slice();
    new DataView(bomb.buffer).setUint32(at + 24, 0xfffffff0, true);
    await expect(open(bomb)).rejects.toThrow(/more than deflate can expand/);
  });

  it("a Zip64 directory claiming 2^32 entries is refused before anything is allocated for them", async () => {
    const bytes = await archive({ a: new Uint8Array([1]) }, true);
    const record = find(bytes, 0x06064b50);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setBigUint64(record + 24, 2n ** 32n, true);
    view.setBigUint64(record + 32, 2n ** 32n, true);
    await expect(open(bytes)).rejects.toThrow(/claims 4294967296 entries/);
  });

  it("a central directory larger than the limit is refused", async () => {
    const entries = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, new Uint8Array([i])]));
    const bytes = await archive(entries);
    const store = new MemoryStore();
    store.setSync("a.zip", bytes);
    await expect(ZipStore.open(store, "a.zip", { maxDirectoryBytes: 1000 })).rejects.toThrow(/more than the 1000 allowed/);
    expect((await ZipStore.open(store, "a.zip")).entries.size).toBe(50);
  });

  it("bytes that are not a zip are a ZipError; a missing archive is a StoreError", async () => {
    await expect(open(new Uint8Array(1000).fill(7))).rejects.toThrow(ZipError);
    await expect(ZipStore.open(new MemoryStore(), "none.zip")).rejects.toThrow(/no zip archive here/);
  });

  it("writing through ZipStore is not possible: it has no set or delete", async () => {
    const zip = await open(await archive({ "zarr.json": new Uint8Array([1]) }));
    const store: Store = zip;
    expect(store.set).toBeUndefined();
    expect(store.delete).toBeUndefined();
    await expect(create(zip, { shape: [1], dtype: "uint8" })).rejects.toThrow(/read-only/);
  });
});
