/**
 * The extended-formats fixtures of the "beyond numbers" kinds (strings, bytes, datetimes,
 * structs, vlen arrays, and the categorize filter) read exactly: every array in full and both
 * manifest selections, compared through the value format's SHA-256 (test/fixtures/formats/README.md).
 */
import { afterAll, describe, expect, it } from "vitest";
import { FileSystemStore } from "../stores/filesystem.js";
import { MemoryStore } from "../stores/memory.js";
import { closePools, create, open, type ZarrArray } from "../src/index.js";
import { NAT, fixedWidthValues, packFixedWidth, structField } from "../src/dtype-extended.js";
import type { NdArray } from "../src/ndarray.js";
import { bytesListJson, canonicalJson, formatsStoreDir, loadFormatsManifest, rawBytes, sha256, type FormatsArray } from "./helpers/formats.js";

const KINDS = new Set(["string", "bytes", "datetime", "struct", "vlen_array"]);
const manifest = loadFormatsManifest();
const entries = manifest.arrays.filter((a) => KINDS.has(a.kind) && !a.path.startsWith("grid/"));

/** What zarrflow read, in the fixtures' value format (the bytes the manifest hashes). */
export function valueFormat(kind: FormatsArray["kind"], x: NdArray): Uint8Array | string {
  const data = x.data as unknown;
  switch (kind) {
    case "string":
      return canonicalJson(Array.isArray(data) ? data : fixedWidthValues(x));
    case "bytes":
      return bytesListJson(Array.isArray(data) ? (data as Uint8Array[]) : (fixedWidthValues(x) as Uint8Array[]));
    case "vlen_array":
      return canonicalJson((data as ArrayLike<number>[]).map((v) => Array.from(v, Number)));
    default:
      return rawBytes(x.data);
  }
}

async function openEntry(entry: FormatsArray): Promise<ZarrArray> {
  return (await open(new FileSystemStore(formatsStoreDir(entry)), { path: entry.path, zarrFormat: entry.format })) as ZarrArray;
}

describe("formats fixtures: strings, bytes, datetimes, structs", () => {
  it("covers every kind in scope in both formats", () => {
    expect(entries.length).toBeGreaterThanOrEqual(28);
    for (const kind of KINDS) if (kind !== "vlen_array") expect(entries.filter((e) => e.kind === kind).map((e) => e.format).sort()).toContain(3);
  });

  describe.each(entries.map((e) => [`v${e.format} ${e.path}`, e] as const))("%s", (_name, entry) => {
    it("reads the whole array exactly", async () => {
      const a = await openEntry(entry);
      const x = await a.read();
      expect(x.shape).toEqual(entry.shape);
      expect(sha256(valueFormat(entry.kind, x))).toBe(entry.sha256);
    });
    it.each(entry.selections.map((s) => [s.selection, s] as const))("reads the selection %j exactly", async (_s, s) => {
      const a = await openEntry(entry);
      const x = await a.read(s.selection === "" ? undefined : s.selection);
      expect(x.shape).toEqual(s.shape);
      expect(sha256(valueFormat(entry.kind, x))).toBe(s.expected_sha256);
    });
  });

  it("reads the categorize filter (v2 object strings stored as codes)", async () => {
    const entry = manifest.arrays.find((a) => a.path === "filters/categorize" && a.format === 2)!;
    const a = await openEntry(entry);
    const x = await a.read();
    expect(a.dtype).toBe("string");
    expect(sha256(valueFormat("string", x))).toBe(entry.sha256);
    for (const s of entry.selections) expect(sha256(valueFormat("string", await a.read(s.selection)))).toBe(s.expected_sha256);
  });
});

describe("record and unit helpers on the fixtures", () => {
  it("structField views one field of a struct array as its typed array, equal to the packed records' bytes", async () => {
    const entry = manifest.arrays.find((a) => a.path === "struct/record_bigendian" && a.format === 3)!;
    const a = await openEntry(entry);
    const x = await a.read();
    const fields = a.dtypeInfo.fields!;
    expect(fields.map((f) => [f.name, f.dataType, f.offset])).toEqual([["u", "uint8", 0], ["v", "complex64", 1], ["w", "float16", 9]]);
    const bytes = rawBytes(x.data);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const v = structField(x, "v") as Float32Array;
    const u = structField(x, "u") as Uint8Array;
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(2 * 30);
    for (let i = 0; i < 30; i++) {
      expect(u[i]).toBe(view.getUint8(i * 11));
      expect(v[2 * i]).toBe(view.getFloat32(i * 11 + 1, true));
      expect(v[2 * i + 1]).toBe(view.getFloat32(i * 11 + 5, true));
    }
    expect(() => structField(x, "nope")).toThrow(/no field/);
  });

  it("datetime arrays expose their unit and scale factor; NaT is -2^63", async () => {
    const entry = manifest.arrays.find((a) => a.path === "time/datetime_scale_factor" && a.format === 3)!;
    const a = await openEntry(entry);
    expect(a.dtype).toBe("numpy.datetime64[10s]");
    expect(a.dtypeInfo).toMatchObject({ kind: "M", unit: "s", scaleFactor: 10, itemsize: 8 });
    expect(a.fillValue).toBe(NAT);
    expect((await a.read()).data).toBeInstanceOf(BigInt64Array);
  });

  it("packFixedWidth and fixedWidthValues are inverse on strings with astral characters and on byte strings", () => {
    const strings = ["", "a😀", "ñ\u0301x"];
    expect(fixedWidthValues({ data: packFixedWidth("fixed_length_utf32[12]", strings), dtype: "fixed_length_utf32[12]" })).toEqual(strings);
    const bytes = [new Uint8Array([1, 0, 2]), new Uint8Array(0)];
    expect(fixedWidthValues({ data: packFixedWidth("null_terminated_bytes[4]", bytes), dtype: "null_terminated_bytes[4]" })).toEqual(bytes);
    expect(fixedWidthValues({ data: packFixedWidth("raw_bytes[4]", bytes), dtype: "raw_bytes[4]" })).toEqual([new Uint8Array([1, 0, 2, 0]), new Uint8Array(4)]);
  });
});

describe("fixed-width extended types on the worker pool", () => {
  afterAll(async () => {
    await closePools();
  });

  it("reads (read and readChunks) and writes datetimes, structs and <U on 2 workers exactly as inline", async () => {
    for (const p of ["time/datetime_bigendian", "struct/record_bigendian", "strings/fixed_utf32_bigendian", "bytes/null_terminated"]) {
      const entry = manifest.arrays.find((a) => a.path === p && a.format === 3)!;
      const a = await openEntry(entry);
      const inline = await a.read(undefined, { workers: 0 });
      const pooled = await a.read(undefined, { workers: 2 });
      expect(sha256(valueFormat(entry.kind, pooled)), p).toBe(entry.sha256);
      let chunks = 0;
      for await (const c of a.readChunks(undefined, { workers: 2 }) as unknown as AsyncIterable<{ data: { dtype: string } }>) {
        expect(c.data.dtype).toBe(a.dtype);
        chunks++;
      }
      expect(chunks).toBeGreaterThan(1);
      const copy = await create(new MemoryStore(), { shape: a.shape, chunks: a.chunks, dtype: a.dtype, fillValue: a.fillValue as never, codecs: [{ name: "bytes", configuration: { endian: "big" } }, { name: "zstd", configuration: { level: 1 } }] });
      await copy.write(null, inline.data, { workers: 2 });
      expect(sha256(valueFormat(entry.kind, await copy.read(undefined, { workers: 0 }))), p).toBe(entry.sha256);
    }
  });

  it("object types asked to run on workers decode inline and read the same; partial writes into shards merge", async () => {
    const entry = manifest.arrays.find((a) => a.path === "strings/vlen_sharded" && a.format === 3)!;
    const a = await openEntry(entry);
    const x = await a.read(undefined, { workers: 2 });
    expect(sha256(valueFormat("string", x))).toBe(entry.sha256);
    const copy = await create(new MemoryStore(), { shape: a.shape, chunks: a.chunks, shards: a.shards!, dtype: "string", fillValue: "" });
    await copy.write(null, x.data as unknown as string[], { workers: 2 });
    await copy.write("5:30:3", ["ñ", "😀", "", "x", "y", "z", "w", "v", "u"], { workers: 2 });
    const want = (x.data as unknown as string[]).slice();
    ["ñ", "😀", "", "x", "y", "z", "w", "v", "u"].forEach((v, i) => (want[5 + 3 * i] = v));
    expect((await copy.read()).data).toEqual(want);
    let seen = 0;
    for await (const c of copy.readChunks("3:20", { workers: 2 }) as unknown as AsyncIterable<{ data: { data: unknown } }>) {
      expect(Array.isArray(c.data.data)).toBe(true);
      seen += (c.data.data as unknown[]).length;
    }
    expect(seen).toBe(17);
  });
});
