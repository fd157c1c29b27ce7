/**
 * Copies of arrays with value filters and numcodecs byte filters: kept by default (v2 ⇄ v3,
 * each in its own form), dropped on request (`filters: []`, CLI `--filters none`), and refused
 * with a MetadataError where v2 has no equivalent. The sources are formats fixtures that
 * zarr-python wrote; every copy must read back equal to its source.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MetadataError, ZarrArray, copyNode, openArray, type CopyOptions } from "../src/index.js";
import { parseJSON } from "../src/json.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { buildCli, runCli } from "./helpers/cli-run.js";
import { FORMATS_FIXTURES } from "./helpers/fixtures.js";
import { rawBytes, sha256 } from "./helpers/formats.js";

const V2 = path.join(FORMATS_FIXTURES, "data/v2.zarr");
const V3 = path.join(FORMATS_FIXTURES, "data/v3.zarr");

async function source(root: string, arrayPath: string): Promise<ZarrArray> {
  return openArray(new FileSystemStore(root), { path: arrayPath });
}

async function copied(src: ZarrArray, options: CopyOptions): Promise<{ store: MemoryStore; copy: ZarrArray }> {
  const store = new MemoryStore();
  await copyNode(src, store, { workers: 0, ...options });
  return { store, copy: await openArray(store) };
}

const hash = async (array: ZarrArray) => sha256(rawBytes((await array.read()).data));
const doc = (store: MemoryStore, key: string) => parseJSON(new TextDecoder().decode(store.map.get(key))) as Record<string, unknown>;

describe("copy keeps filters, or re-encodes as asked", () => {
  it("v2 fixedscaleoffset + delta → v3: the same filters as numcodecs.* codecs, the same values", async () => {
    const src = await source(V2, "filters/fixedscaleoffset_delta");
    const { store, copy } = await copied(src, { zarrFormat: 3 });
    const codecs = (doc(store, "zarr.json").codecs as { name: string; configuration?: Record<string, unknown> }[]).map((c) => c.name);
    expect(codecs).toEqual(["numcodecs.fixedscaleoffset", "numcodecs.delta", "bytes", "zstd"]);
    expect(await hash(copy)).toBe(await hash(src));
  });

  it("v2 → v2 keeps the .zarray filters, byte filters included", async () => {
    for (const [arrayPath, filters] of [
      ["filters/delta", [{ id: "delta", dtype: "<i2" }]],
      ["filters/shuffle", [{ id: "shuffle", elementsize: 4 }]],
      ["filters/packbits", [{ id: "packbits" }]],
      ["checksums/crc32_then_compressor", [{ id: "crc32" }]],
    ] as const) {
      const src = await source(V2, arrayPath);
      const { store, copy } = await copied(src, { zarrFormat: 2 });
      expect(doc(store, ".zarray").filters, arrayPath).toMatchObject(filters);
      expect(await hash(copy), arrayPath).toBe(await hash(src));
    }
  });

  it("v3 numcodecs byte filters → v2: shuffle joins the filters, a checksum after the compressor is dropped", async () => {
    const shuffled = await copied(await source(V3, "codecs/numcodecs_shuffle"), { zarrFormat: 2 });
    expect(doc(shuffled.store, ".zarray")).toMatchObject({ filters: [{ id: "shuffle", elementsize: 4 }], compressor: { id: "zstd" } });
    expect(await hash(shuffled.copy)).toBe(await hash(await source(V3, "codecs/numcodecs_shuffle")));
    const checked = await copied(await source(V3, "codecs/numcodecs_crc32_end"), { zarrFormat: 2 });
    expect(doc(checked.store, ".zarray")).toMatchObject({ filters: null, compressor: { id: "zstd" } });
  });

  it("filters: [] stores plain values (the decoded ones), in either format", async () => {
    for (const zarrFormat of [2, 3] as const) {
      const src = await source(V2, "filters/quantize");
      const { store, copy } = await copied(src, { zarrFormat, filters: [] });
      if (zarrFormat === 2) expect(doc(store, ".zarray").filters).toBeNull();
      else expect((doc(store, "zarr.json").codecs as { name: string }[]).map((c) => c.name)).toEqual(["bytes", "numcodecs.zlib"]);
      expect(await hash(copy)).toBe(await hash(src));
    }
  });

  it("scale_offset / cast_value have no v2 form: a MetadataError that says how to copy anyway", async () => {
    const src = await source(V3, "ext/scale_offset_cast_value");
    await expect(copied(src, { zarrFormat: 2 })).rejects.toThrow(MetadataError);
    await expect(copied(src, { zarrFormat: 2 })).rejects.toThrow(/filters: \[\]/);
    const { copy } = await copied(src, { zarrFormat: 2, filters: [] });
    expect(await hash(copy)).toBe(await hash(src));
    const v3 = await copied(src, { zarrFormat: 3, shards: [20], chunks: [10] });
    expect(await hash(v3.copy)).toBe(await hash(src));
  });
});

describe("CLI: info shows the filters, copy --filters keep|none", () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "zarrflow-copy-filters-"));
    await buildCli();
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("info names each filter of a v2 array and of a v3 array", async () => {
    const v2 = await runCli(["info", path.join(V2, "filters/fixedscaleoffset_delta")]);
    expect(v2.code, v2.stderr).toBe(0);
    expect(v2.stdout.toString()).toMatch(/numcodecs\.fixedscaleoffset\(offset=100, scale=4, dtype=<f8, astype=<i4\) → numcodecs\.delta\(dtype=<i4\) → bytes/);
    const v3 = await runCli(["info", "--json", path.join(V3, "ext/scale_offset_cast_value")]);
    expect(v3.code, v3.stderr).toBe(0);
    const info = parseJSON(v3.stdout.toString()) as { codecs: { name: string }[]; fillValue: unknown };
    expect(info.codecs.map((c) => c.name)).toEqual(["scale_offset", "cast_value", "bytes", "zstd"]);
    expect(info.fillValue).toBe("NaN");
    const big = await runCli(["info", "--json", path.join(V2, "fill/uint64_beyond_2p53")]);
    expect(big.stdout.toString()).toContain('"fillValue": 9223372036854777857');
  });

  it("copy keeps the filters by default and drops them with --filters none", async () => {
    const src = path.join(V2, "filters/delta");
    const kept = path.join(dir, "kept.zarr");
    const plain = path.join(dir, "plain.zarr");
    for (const [dst, extra] of [[kept, []], [plain, ["--filters", "none"]]] as const) {
      const result = await runCli(["copy", src, dst, "--zarr-format", "3", "--verify", "--quiet", ...extra]);
      expect(result.code, result.stderr).toBe(0);
    }
    const names = (file: string) => (JSON.parse(readFileSync(path.join(file, "zarr.json"), "utf8")) as { codecs: { name: string }[] }).codecs.map((c) => c.name);
    expect(names(kept)).toEqual(["numcodecs.delta", "bytes", "numcodecs.zlib"]);
    expect(names(plain)).toEqual(["bytes", "numcodecs.zlib"]);
    const bad = await runCli(["copy", src, path.join(dir, "bad.zarr"), "--filters", "some"]);
    expect(bad.code).toBe(2);
  });
});
