/**
 * The extended-formats fixtures of the "beyond numbers" kinds (strings, bytes, datetimes,
 * structs, vlen arrays, and the categorize filter) read exactly: every array in full and both
 * manifest selections, compared through the value format's SHA-256 (test/fixtures/formats/README.md).
 */
import { describe, expect, it } from "vitest";
import { FileSystemStore } from "../stores/filesystem.js";
import { open, type ZarrArray } from "../src/index.js";
import { fixedWidthValues } from "../src/dtype-extended.js";
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
