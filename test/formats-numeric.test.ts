/**
 * The numeric arrays of the formats fixture set (test/fixtures/formats: zarr-python 2.13 and 3
 * wrote them) in the scope of exact metadata numbers and the numcodecs / extension codecs:
 * checksums, fill values beyond 2^53, v2 filters, v3 numcodecs.* codecs, scale_offset and
 * cast_value. Each is read whole and through both manifest selections, through read() and
 * readChunks(), and hashed in the value format against the manifest.
 */
import { describe, expect, it } from "vitest";
import { copyNode, open, openArray, ZarrArray, type NdArray } from "../src/index.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { formatsStoreDir, loadFormatsManifest, rawBytes, sha256, type FormatsArray } from "./helpers/formats.js";

const IN_SCOPE = /^(checksums|fill|filters|codecs|ext)\//;
const manifest = loadFormatsManifest();
const entries = manifest.arrays.filter((a) => a.kind === "numeric" && IN_SCOPE.test(a.path) && a.path !== "filters/categorize");

async function openEntry(entry: FormatsArray): Promise<ZarrArray> {
  const node = await open(new FileSystemStore(formatsStoreDir(entry)), { path: entry.path, zarrFormat: entry.format });
  if (!(node instanceof ZarrArray)) throw new Error(`${entry.path} is not an array`);
  return node;
}

function hashOf(array: NdArray): string {
  return sha256(rawBytes(array.data));
}

describe("formats fixtures: numeric arrays with filters, checksums, extension codecs and big fill values", () => {
  it("covers every array in scope (v2 and v3)", () => {
    expect(entries.filter((e) => e.format === 2).length).toBeGreaterThanOrEqual(15);
    expect(entries.filter((e) => e.format === 3).length).toBeGreaterThanOrEqual(17);
  });

  for (const entry of entries) {
    describe(`v${entry.format} ${entry.path} (${entry.codecs})`, () => {
      it("reads whole, exactly", async () => {
        const array = await openEntry(entry);
        expect(array.shape).toEqual(entry.shape);
        const whole = await array.read();
        expect(whole.shape).toEqual(entry.shape);
        expect(hashOf(whole)).toBe(entry.sha256);
      });

      it("reads both manifest selections exactly", async () => {
        const array = await openEntry(entry);
        for (const selection of entry.selections) {
          const part = await array.read(selection.selection);
          expect(part.shape).toEqual(selection.shape);
          expect(hashOf(part), selection.selection).toBe(selection.expected_sha256);
        }
      });

      it("reads the same through workers and readChunks", async () => {
        const array = await openEntry(entry);
        const whole = await array.read(undefined, { workers: 1 });
        expect(hashOf(whole)).toBe(entry.sha256);
        // Each chunk readChunks hands out holds what read() gives for its region.
        let elements = 0;
        const reader = array.readChunks(undefined, { workers: 0 }).getReader();
        for (let next = await reader.read(); !next.done; next = await reader.read()) {
          const { region, data } = next.value;
          const selection = region.map((r) => `${r.start}:${r.start + r.step * r.count}:${r.step}`).join(", ");
          expect(hashOf(data), selection).toBe(hashOf(await array.read(selection)));
          elements += data.data.length;
        }
        expect(elements).toBe(whole.data.length);
      });

      it("copies (same format, same codecs) through the writer on the worker pool, exactly", async () => {
        const array = await openEntry(entry);
        const store = new MemoryStore();
        await copyNode(array, store, { workers: 1 });
        const copy = await openArray(store);
        // The same codecs (a copy writes little-endian bytes, so only the names are compared).
        const names = (a: ZarrArray) => a.chain.toJSON().map((c) => c.name);
        expect(names(copy)).toEqual(names(array));
        expect(hashOf(await copy.read())).toBe(entry.sha256);
      });
    });
  }
});
