/**
 * The data types beyond numbers through copy and the CLI: copying v2 object strings gives a v3
 * `string` array (vlen-utf8), v3 strings copy back to v2 object arrays, every extended fixture
 * copies v2 ↔ v3 and verifies equal; `info` names the types; `get --format json` prints them
 * readably and `--format npy` is what NumPy loads.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyNode, open, verifyCopy, type ZarrArray } from "../src/index.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { buildCli, runCli } from "./helpers/cli-run.js";
import { formatsStoreDir, loadFormatsManifest } from "./helpers/formats.js";

const manifest = loadFormatsManifest();
const KINDS = new Set(["string", "bytes", "datetime", "struct", "vlen_array"]);
const entries = manifest.arrays.filter((a) => (KINDS.has(a.kind) || a.path === "filters/categorize") && !a.path.startsWith("grid/"));
const v2Dir = formatsStoreDir({ store: "data/v2.zarr" });
const v3Dir = formatsStoreDir({ store: "data/v3.zarr" });

async function source(format: 2 | 3, p: string): Promise<ZarrArray> {
  return (await open(new FileSystemStore(format === 2 ? v2Dir : v3Dir), { path: p, zarrFormat: format })) as ZarrArray;
}

describe("copy: extended types", () => {
  it("v2 object strings (vlen-utf8, order F, categorize) become v3 string arrays with vlen-utf8, equal value by value", async () => {
    for (const p of ["strings/vlen_utf8", "strings/vlen_utf8_order_F", "filters/categorize"]) {
      const src = await source(2, p);
      const dst = new MemoryStore();
      await copyNode(src, dst, { zarrFormat: 3 });
      const doc = JSON.parse(new TextDecoder().decode(dst.map.get("zarr.json")));
      expect(doc.data_type, p).toBe("string");
      expect(doc.codecs[0], p).toEqual({ name: "vlen-utf8", configuration: {} });
      const copy = (await open(dst)) as ZarrArray;
      expect(await verifyCopy(src, copy), p).toMatchObject({ mismatches: 0 });
      expect((await copy.read()).data, p).toEqual((await src.read()).data);
    }
  });

  it.each(entries.filter((e) => e.path !== "arrays/vlen_array").map((e) => [`v${e.format} ${e.path}`, e] as const))("%s copies to the other format and back, equal", async (_n, e) => {
    const src = await source(e.format, e.path);
    const other = e.format === 2 ? 3 : 2;
    const mid = new MemoryStore();
    await copyNode(src, mid, { zarrFormat: other });
    const copy = (await open(mid)) as ZarrArray;
    expect(copy.zarrFormat).toBe(other);
    expect(copy.dtype).toBe(src.dtype);
    expect(await verifyCopy(src, copy)).toMatchObject({ mismatches: 0 });
    const back = new MemoryStore();
    await copyNode(copy, back, { zarrFormat: e.format, shards: null });
    expect(await verifyCopy(src, (await open(back)) as ZarrArray)).toMatchObject({ mismatches: 0 });
  });

  it("verifyCopy finds a changed string", async () => {
    const src = await source(3, "strings/vlen");
    const dst = new MemoryStore();
    await copyNode(src, dst, {});
    const copy = (await open(dst)) as ZarrArray;
    await copy.write("5", "changed");
    const result = await verifyCopy(src, copy);
    expect(result.mismatches).toBe(1);
    expect(result.firstMismatch).toEqual([5]);
  });
});

describe("CLI: extended types", () => {
  let dir: string;
  beforeAll(async () => {
    await buildCli();
    dir = mkdtempSync(path.join(tmpdir(), "zarrflow-types-cli-"));
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("info names the types: datetime unit and scale, struct fields, variable length", async () => {
    const t = await runCli(["info", path.join(v3Dir, "time/datetime_scale_factor"), "--json"]);
    expect(t.code, t.stderr).toBe(0);
    const info = JSON.parse(t.stdout.toString());
    expect(info.dtype).toBe("numpy.datetime64[10s]");
    expect(info.dtypeInfo).toMatchObject({ kind: "M", unit: "s", scaleFactor: 10 });
    const s = await runCli(["info", path.join(v2Dir, "struct/record_fill_null")]);
    expect(s.stdout.toString()).toMatch(/u uint8 @0, v complex64 @1, w float16 @9/);
    const v = await runCli(["info", path.join(v3Dir, "strings/vlen")]);
    expect(v.stdout.toString()).toMatch(/dtype +string, variable length/);
  });

  it("get --format json prints strings, bytes (base64), dates (ISO, NaT) and records readably, equal to the values read", async () => {
    const strings = await runCli(["get", path.join(v3Dir, "strings/vlen"), "-s", "0:6"]);
    expect(strings.code, strings.stderr).toBe(0);
    expect(JSON.parse(strings.stdout.toString())).toEqual((await (await source(3, "strings/vlen")).read("0:6")).data);
    const dates = await runCli(["get", path.join(v3Dir, "time/datetime_D"), "-s", "0:4"]);
    const days = (await (await source(3, "time/datetime_D")).read("0:4")).data as BigInt64Array;
    expect(JSON.parse(dates.stdout.toString())).toEqual(Array.from(days, (d) => new Date(Number(d) * 86_400_000).toISOString().slice(0, 10)));
    const nat = await runCli(["get", path.join(v2Dir, "time/datetime_ns"), "-s", "0:3"]);
    expect(JSON.parse(nat.stdout.toString())).toContain("NaT");
    const records = await runCli(["get", path.join(v3Dir, "struct/record"), "-s", "0:2"]);
    const parsed = JSON.parse(records.stdout.toString()) as { a: number; b: number }[];
    expect(parsed).toHaveLength(2);
    expect(Object.keys(parsed[0])).toEqual(["a", "b"]);
    const raw = await runCli(["get", path.join(v2Dir, "bytes/raw_void"), "-s", "0:2"]);
    const bytes = JSON.parse(raw.stdout.toString()) as string[];
    expect(bytes.map((b) => Buffer.from(b, "base64").length)).toEqual([4, 4]);
    const npyObject = await runCli(["get", path.join(v3Dir, "strings/vlen"), "-f", "npy"]);
    expect(npyObject.code).not.toBe(0);
    expect(npyObject.stderr).toMatch(/json/);
  });

  it("get --format npy of fixed-width, datetime and struct arrays is what NumPy loads", async () => {
    const script = "import numpy, sys, json\nfor f in sys.argv[1:]:\n    a = numpy.load(f)\n    print(json.dumps({'descr': str(a.dtype.descr if a.dtype.names else a.dtype.str), 'hex': a.tobytes().hex()}))";
    const cases = [
      [path.join(v3Dir, "strings/fixed_utf32"), "<U8"],
      [path.join(v3Dir, "time/datetime_scale_factor"), "<M8[10s]"],
      [path.join(v2Dir, "bytes/fixed_bytes"), "|S6"],
      [path.join(v3Dir, "struct/record"), "[('a', '<i4'), ('b', '<f8')]"],
    ] as const;
    const files: string[] = [];
    for (const [where, _descr] of cases) {
      const out = await runCli(["get", where, "-f", "npy"]);
      expect(out.code, out.stderr).toBe(0);
      const file = path.join(dir, `${files.length}.npy`);
      writeFileSync(file, out.stdout);
      files.push(file);
    }
    const lines = execFileSync("/usr/bin/python3", ["-c", script, ...files], { encoding: "utf8" }).trim().split("\n").map((l) => JSON.parse(l));
    for (const [i, [where, descr]] of cases.entries()) {
      expect(lines[i].descr).toBe(descr);
      const x = (await (await open(new FileSystemStore(path.dirname(where)), { path: path.basename(where) })) as ZarrArray).read();
      const data = (await x).data;
      expect(lines[i].hex).toBe(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex"));
    }
  });

  it("copy converts a v2 object-string array to v3 string", async () => {
    const out = path.join(dir, "copied.zarr");
    const result = await runCli(["copy", path.join(v2Dir, "strings/vlen_utf8"), out, "--zarr-format", "3"]);
    expect(result.code, result.stderr).toBe(0);
    const copy = (await open(new FileSystemStore(out))) as ZarrArray;
    expect(copy.dtype).toBe("string");
    expect(copy.chain.arrayToBytes.name).toBe("vlen-utf8");
    expect((await copy.read()).data).toEqual((await (await source(2, "strings/vlen_utf8")).read()).data);
  });
});
