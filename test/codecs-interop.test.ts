/**
 * The numcodecs filters and extension codecs, written by zarrflow, read by zarr-python — and
 * the same data written by zarr-python with the same codecs, read by zarrflow:
 *
 *  - v3 (and v2) arrays zarrflow writes are read by the zarr-python 3 oracle with the same
 *    contents zarrflow reads back;
 *  - zarr-python's own encoding of the same input decodes (in zarrflow) to the same values:
 *    the lossy codecs (fixedscaleoffset, quantize, bitround, astype, scale_offset, cast_value)
 *    round exactly as numcodecs / zarr-python do, ties included;
 *  - lossless codecs give back the input;
 *  - v2 arrays zarrflow writes are read by Debian's zarr 2.13 with the same contents.
 *
 * All oracle calls run in one process (test/python/oracle_batch.py); zarr 2.13 reads through
 * test/python/zarr2_interop.py. Each side is skipped with a note where its program is absent.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_TYPES, create, toFloat16Bits, ndarray, openArray, type CodecMetadata, type DataType, type Scalar, type TypedArray, type V2CodecConfig } from "../src/index.js";
import { allocate } from "../src/dtype.js";
import { parseJSON } from "../src/json.js";
import { FileSystemStore } from "../stores/index.js";
import { skipUnlessFound } from "./helpers/external.js";
import { rawBytes, sha256 } from "./helpers/formats.js";
import { findOracle, oracleSkip } from "./helpers/oracle.js";
import { prng } from "./helpers/prng.js";

const BATCH = fileURLToPath(new URL("./python/oracle_batch.py", import.meta.url));
const ZARR2 = fileURLToPath(new URL("./python/zarr2_interop.py", import.meta.url));

interface Case {
  name: string;
  dtype: DataType;
  shape: number[];
  chunks: number[];
  fillValue?: Scalar;
  /** v3: array → array codecs (zarr-python's `filters`) and bytes → bytes codecs (`compressors`). */
  filters?: CodecMetadata[];
  compressors?: CodecMetadata[];
  /** v2: .zarray filters and compressor. */
  v2?: { filters: V2CodecConfig[] | null; compressor: V2CodecConfig | null };
  /** true: reads back the input; false: the lossy codec changes the test data; undefined: either. */
  lossless: boolean | undefined;
  /** Debian's numcodecs 0.11 has no such codec (fletcher32 came later). */
  noZarr2?: boolean;
  data: () => TypedArray;
}

const random = prng(13);
const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
function fill(dtype: DataType, shape: number[], f: (i: number) => number | bigint): TypedArray {
  const out = allocate(dtype, count(shape));
  for (let i = 0; i < out.length; i++) out[i] = f(i) as never;
  return out;
}
/** Floats with exact ties for the rounding codecs: quarter steps around `base`, plus noise. */
const ties = (base: number, spread: number) => (i: number) => (i % 3 === 0 ? base + (Math.round(random() * spread * 4) - spread * 2) / 4 : base + (random() - 0.5) * spread);

const ZSTD: CodecMetadata = { name: "zstd", configuration: { level: 1, checksum: false } };

const V3_CASES: Case[] = [
  { name: "delta", dtype: "int32", shape: [40], chunks: [16], filters: [{ name: "numcodecs.delta", configuration: { dtype: "<i4" } }], compressors: [ZSTD], lossless: true, data: () => fill("int32", [40], (i) => 1000 * i + Math.floor(random() * 2 ** 31) - 2 ** 30) },
  { name: "delta_astype", dtype: "int64", shape: [30], chunks: [12], filters: [{ name: "numcodecs.delta", configuration: { dtype: "<i8", astype: "<i2" } }], lossless: true, data: () => fill("int64", [30], (i) => BigInt(-1000 + i * i * 7)) },
  { name: "astype", dtype: "float64", shape: [5, 6], chunks: [3, 4], filters: [{ name: "numcodecs.astype", configuration: { encode_dtype: "<f4", decode_dtype: "<f8" } }], compressors: [ZSTD], lossless: false, data: () => fill("float64", [5, 6], () => (random() - 0.5) * 1e6) },
  { name: "fixedscaleoffset", dtype: "float64", shape: [50], chunks: [20], filters: [{ name: "numcodecs.fixedscaleoffset", configuration: { offset: 1000, scale: 2, dtype: "<f8", astype: "<i2" } }], compressors: [ZSTD], lossless: false, data: () => fill("float64", [50], ties(1000, 100)) },
  { name: "fixedscaleoffset_float32", dtype: "float32", shape: [30], chunks: [30], filters: [{ name: "numcodecs.fixedscaleoffset", configuration: { offset: 10, scale: 10, dtype: "<f4", astype: "<i4" } }], lossless: false, data: () => fill("float32", [30], ties(10, 50)) },
  { name: "quantize", dtype: "float64", shape: [45], chunks: [20], filters: [{ name: "numcodecs.quantize", configuration: { digits: 2, dtype: "<f8" } }], lossless: false, data: () => fill("float64", [45], ties(3, 10)) },
  { name: "quantize_float32", dtype: "float32", shape: [45], chunks: [20], filters: [{ name: "numcodecs.quantize", configuration: { digits: 1, dtype: "<f4" } }], lossless: false, data: () => fill("float32", [45], ties(-3, 10)) },
  { name: "bitround", dtype: "float32", shape: [50], chunks: [25], filters: [{ name: "numcodecs.bitround", configuration: { keepbits: 5 } }], compressors: [ZSTD], lossless: false, data: () => fill("float32", [50], () => (random() - 0.5) * 1e4) },
  { name: "bitround_float64", dtype: "float64", shape: [50], chunks: [25], filters: [{ name: "numcodecs.bitround", configuration: { keepbits: 12 } }], lossless: false, data: () => fill("float64", [50], () => (random() - 0.5) * 1e4) },
  { name: "packbits", dtype: "bool", shape: [45], chunks: [20], filters: [{ name: "numcodecs.packbits", configuration: {} }], compressors: [ZSTD], lossless: true, data: () => fill("bool", [45], () => (random() < 0.4 ? 1 : 0)) },
  { name: "shuffle", dtype: "int32", shape: [60], chunks: [25], compressors: [{ name: "numcodecs.shuffle", configuration: { elementsize: 4 } }, ZSTD], lossless: true, data: () => fill("int32", [60], () => Math.floor(random() * 1e6)) },
  { name: "crc32", dtype: "uint16", shape: [10, 9], chunks: [4, 4], compressors: [{ name: "numcodecs.crc32", configuration: {} }], lossless: true, data: () => fill("uint16", [10, 9], () => Math.floor(random() * 65536)) },
  { name: "crc32_end", dtype: "int32", shape: [33], chunks: [10], compressors: [ZSTD, { name: "numcodecs.crc32", configuration: { location: "end" } }], lossless: true, data: () => fill("int32", [33], (i) => i * i) },
  { name: "adler32", dtype: "float64", shape: [12, 5], chunks: [5, 5], compressors: [{ name: "numcodecs.adler32", configuration: {} }], lossless: true, data: () => fill("float64", [12, 5], () => random()) },
  { name: "fletcher32_odd_bytes", dtype: "uint8", shape: [31], chunks: [7], compressors: [{ name: "numcodecs.fletcher32", configuration: {} }], lossless: true, data: () => fill("uint8", [31], () => Math.floor(random() * 256)) },
  { name: "scale_offset_float64", dtype: "float64", shape: [24], chunks: [10], filters: [{ name: "scale_offset", configuration: { offset: 273.15, scale: 0.5 } }], compressors: [ZSTD], lossless: undefined, data: () => fill("float64", [24], () => 250 + random() * 50) },
  { name: "scale_offset_float32", dtype: "float32", shape: [24], chunks: [10], filters: [{ name: "scale_offset", configuration: { offset: 273.15, scale: 0.1 } }], lossless: undefined, data: () => fill("float32", [24], () => 250 + random() * 50) },
  { name: "scale_offset_int", dtype: "int32", shape: [40], chunks: [15], fillValue: -50, filters: [{ name: "scale_offset", configuration: { offset: -50, scale: 3 } }], lossless: true, data: () => fill("int32", [40], () => Math.floor(random() * 2000) - 1000) },
  {
    name: "scale_offset_cast_value",
    dtype: "float64",
    shape: [37],
    chunks: [10],
    fillValue: NaN,
    filters: [
      { name: "scale_offset", configuration: { offset: 100, scale: 4 } },
      { name: "cast_value", configuration: { data_type: "int16", out_of_range: "clamp", scalar_map: { encode: [["NaN", -32768]], decode: [[-32768, "NaN"]] } } },
    ],
    compressors: [ZSTD],
    lossless: false,
    data: () => fill("float64", [37], (i) => (i % 7 === 0 ? NaN : i % 11 === 0 ? 1e6 : 100 + (Math.round(random() * 800) - 400) / 8)),
  },
  { name: "delta_float16", dtype: "float16", shape: [30], chunks: [12], filters: [{ name: "numcodecs.delta", configuration: { dtype: "<f2" } }], lossless: undefined, data: () => fill("float16", [30], () => toFloat16Bits((random() - 0.5) * 100)) },
  { name: "scale_offset_float16", dtype: "float16", shape: [24], chunks: [10], filters: [{ name: "scale_offset", configuration: { offset: 10.5, scale: 3 } }], lossless: undefined, data: () => fill("float16", [24], () => toFloat16Bits(random() * 40)) },
  { name: "fill_uint64_max", dtype: "uint64", shape: [22], chunks: [8], fillValue: 2n ** 64n - 1n, lossless: true, data: () => fill("uint64", [22], (i) => (i < 8 ? 2n ** 64n - 1n : BigInt(i) * 2n ** 60n + 1n)) },
  { name: "fill_int64_beyond_2p53", dtype: "int64", shape: [30], chunks: [10], fillValue: -(2n ** 63n) + 3n, lossless: true, data: () => fill("int64", [30], (i) => (i < 10 ? -(2n ** 63n) + 3n : 2n ** 53n + BigInt(i))) },
];

const V2_CASES: Case[] = [
  { name: "v2_delta", dtype: "int16", shape: [57], chunks: [20], v2: { filters: [{ id: "delta", dtype: "<i2" }], compressor: { id: "zlib", level: 1 } }, lossless: true, data: () => fill("int16", [57], () => Math.floor(random() * 60000) - 30000) },
  { name: "v2_delta_astype", dtype: "int64", shape: [40], chunks: [15], v2: { filters: [{ id: "delta", dtype: "<i8", astype: "<i2" }], compressor: null }, lossless: true, data: () => fill("int64", [40], (i) => BigInt(30000 - 2000 * i)) },
  { name: "v2_astype", dtype: "float64", shape: [9, 11], chunks: [4, 4], v2: { filters: [{ id: "astype", encode_dtype: "<f4", decode_dtype: "<f8" }], compressor: { id: "zstd", level: 1 } }, lossless: false, data: () => fill("float64", [9, 11], () => (random() - 0.5) * 1e5) },
  { name: "v2_fixedscaleoffset_delta", dtype: "float64", shape: [50], chunks: [20], v2: { filters: [{ id: "fixedscaleoffset", offset: 100, scale: 4, dtype: "<f8", astype: "<i4" }, { id: "delta", dtype: "<i4" }], compressor: { id: "zstd", level: 1 } }, lossless: false, data: () => fill("float64", [50], ties(100, 30)) },
  { name: "v2_quantize", dtype: "float64", shape: [45], chunks: [20], v2: { filters: [{ id: "quantize", digits: 2, dtype: "<f8" }], compressor: null }, lossless: false, data: () => fill("float64", [45], ties(1, 4)) },
  { name: "v2_bitround", dtype: "float32", shape: [50], chunks: [20], v2: { filters: [{ id: "bitround", keepbits: 7 }], compressor: { id: "zstd", level: 1 } }, lossless: false, data: () => fill("float32", [50], () => (random() - 0.5) * 100) },
  { name: "v2_packbits", dtype: "bool", shape: [45], chunks: [20], v2: { filters: [{ id: "packbits" }], compressor: { id: "zlib", level: 1 } }, lossless: true, data: () => fill("bool", [45], () => (random() < 0.5 ? 1 : 0)) },
  { name: "v2_delta_shuffle", dtype: "int32", shape: [60], chunks: [25], v2: { filters: [{ id: "delta", dtype: "<i4" }, { id: "shuffle", elementsize: 4 }], compressor: { id: "zstd", level: 1 } }, lossless: true, data: () => fill("int32", [60], (i) => i * 1000 + Math.floor(random() * 100)) },
  { name: "v2_crc32_then_zlib", dtype: "int32", shape: [33], chunks: [10], v2: { filters: [{ id: "crc32" }], compressor: { id: "zlib", level: 1 } }, lossless: true, data: () => fill("int32", [33], (i) => i - 16) },
  { name: "v2_adler32", dtype: "float64", shape: [12, 5], chunks: [5, 5], v2: { filters: null, compressor: { id: "adler32" } }, lossless: true, data: () => fill("float64", [12, 5], () => random()) },
  { name: "v2_fletcher32", dtype: "int16", shape: [31], chunks: [7], v2: { filters: null, compressor: { id: "fletcher32" } }, lossless: true, noZarr2: true, data: () => fill("int16", [31], () => Math.floor(random() * 65536) - 32768) },
  { name: "v2_fill_uint64_max", dtype: "uint64", shape: [22], chunks: [8], fillValue: 2n ** 64n - 1n, v2: { filters: null, compressor: { id: "zlib", level: 1 } }, lossless: true, data: () => fill("uint64", [22], (i) => (i < 8 ? 2n ** 64n - 1n : BigInt(i) << 58n)) },
];

const CASES = [...V3_CASES, ...V2_CASES];
const inputs = new Map(CASES.map((c) => [c.name, c.data()]));

let root: string;
const zfDir = () => path.join(root, "zarrflow");
const pyDir = () => path.join(root, "python");
const inFile = (c: Case) => path.join(root, `${c.name}.bin`);
const outFile = (c: Case, side: string) => path.join(root, `${c.name}.${side}.out`);

async function writeWithZarrflow(c: Case): Promise<void> {
  const store = new FileSystemStore(zfDir());
  const multiByte = DATA_TYPES[c.dtype].itemsize > 1;
  const array = c.v2
    ? await create(store, { path: c.name, shape: c.shape, chunks: c.chunks, dtype: c.dtype, fillValue: c.fillValue, zarrFormat: 2, filters: c.v2.filters, compressor: c.v2.compressor })
    : await create(store, {
        path: c.name,
        shape: c.shape,
        chunks: c.chunks,
        dtype: c.dtype,
        fillValue: c.fillValue,
        codecs: [...(c.filters ?? []), multiByte || c.filters?.length ? { name: "bytes", configuration: { endian: "little" } } : { name: "bytes" }, ...(c.compressors ?? [])],
      });
  await array.write("...", ndarray(c.dtype, c.shape, inputs.get(c.name)!));
}

async function readWithZarrflow(dir: string, c: Case): Promise<Uint8Array> {
  const array = await openArray(new FileSystemStore(dir), { path: c.name });
  return rawBytes((await array.read()).data);
}

function oracleSpec(c: Case): Record<string, unknown> {
  const spec: Record<string, unknown> = { shape: c.shape, chunks: c.chunks, dtype: NUMPY[c.dtype] };
  if (c.fillValue !== undefined) spec.fill_value = typeof c.fillValue === "bigint" ? `__big__${c.fillValue}` : Number.isNaN(c.fillValue) ? "NaN" : c.fillValue;
  if (c.v2) {
    spec.zarr_format = 2;
    spec.filters = c.v2.filters;
    spec.compressors = c.v2.compressor ? [c.v2.compressor] : null;
  } else {
    spec.filters = c.filters ?? [];
    spec.compressors = c.compressors ?? [];
  }
  return spec;
}

const NUMPY: Partial<Record<DataType, string>> = { float16: "<f2", bool: "|b1", int16: "<i2", int32: "<i4", int64: "<i8", uint8: "|u1", uint16: "<u2", uint64: "<u8", float32: "<f4", float64: "<f8" };

interface BatchResult {
  code: number;
  stdout: string;
  stderr: string;
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "zarrflow-codecs-interop-"));
  for (const c of CASES) {
    writeFileSync(inFile(c), rawBytes(inputs.get(c.name)!));
    await writeWithZarrflow(c);
  }
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("numcodecs and extension codecs: zarrflow ⇄ zarr-python 3 (oracle)", () => {
  const skip = oracleSkip("zarr-python 3 codec interop");
  let results: Map<string, BatchResult>;

  beforeAll(() => {
    if (skip) return;
    const oracle = findOracle()!;
    const jobs: { key: string; script: string; args: string[] }[] = [];
    for (const c of CASES) {
      // Big fill values travel as exact JSON integers, which the spec string marks for the replacement below.
      const spec = JSON.stringify(oracleSpec(c)).replace(/"__big__(-?\d+)"/g, "$1");
      jobs.push({ key: `${c.name}:write`, script: "write", args: ["--spec", spec, pyDir(), c.name, inFile(c)] });
      jobs.push({ key: `${c.name}:read-zf`, script: "read", args: [zfDir(), c.name, outFile(c, "zf")] });
    }
    const [cmd, ...rest] = oracle.python;
    const out = execFileSync(cmd!, [...rest, BATCH, oracle.dir], { input: JSON.stringify(jobs), encoding: "utf8", maxBuffer: 64 << 20, timeout: 300_000 });
    const parsed = JSON.parse(out) as BatchResult[];
    results = new Map(jobs.map((j, i) => [j.key, parsed[i]]));
  }, 600_000);

  for (const c of CASES) {
    it.skipIf(skip)(`${c.name}: zarr-python reads what zarrflow wrote, and zarrflow decodes zarr-python's encoding to the same values`, async () => {
      const readZf = results.get(`${c.name}:read-zf`)!;
      expect(readZf.code, readZf.stderr).toBe(0);
      const ours = await readWithZarrflow(zfDir(), c);
      expect(sha256(new Uint8Array(readFileSync(outFile(c, "zf")))), "zarr-python's read of zarrflow's array").toBe(sha256(ours));
      const wrote = results.get(`${c.name}:write`)!;
      expect(wrote.code, wrote.stderr).toBe(0);
      const theirs = await readWithZarrflow(pyDir(), c);
      expect(sha256(theirs), "zarr-python's encoding of the same input, read by zarrflow").toBe(sha256(ours));
      if (c.lossless) expect(sha256(ours), "a lossless chain gives back its input").toBe(sha256(rawBytes(inputs.get(c.name)!)));
      else if (c.lossless === false) expect(sha256(ours), "the lossy codec changed something (the test data exercises it)").not.toBe(sha256(rawBytes(inputs.get(c.name)!)));
      // The metadata zarrflow wrote holds fill values exactly (JSON integers beyond 2^53).
      const described = parseJSON(readZf.stdout.trim().split("\n").pop()!) as { fill_value: unknown };
      if (typeof c.fillValue === "bigint") expect(described.fill_value).toBe(c.fillValue);
    });
  }
});

describe("v2 filters: zarrflow → zarr-python 2.13 (Debian)", () => {
  let python: string | undefined;
  let problem: string | undefined;
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    try {
      const v = JSON.parse(execFileSync(candidate, [ZARR2, "version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) as { zarr: string };
      if (v.zarr.startsWith("2.")) {
        python = candidate;
        break;
      }
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  const skip = skipUnlessFound("zarr-python 2.13 filter interop", python ? undefined : `zarr-python 2 not importable (${problem ?? "no python3"}); apt-get install python3-zarr to enable`);
  let read: { arrays: Record<string, { data?: string; fill_value?: unknown; error?: string; filters?: unknown }> };

  beforeAll(() => {
    if (skip) return;
    const out = execFileSync(python!, [ZARR2, "read", zfDir()], { input: JSON.stringify({ arrays: V2_CASES.map((c) => c.name), groups: [] }), encoding: "utf8", maxBuffer: 64 << 20 });
    read = parseJSON(out) as typeof read;
  }, 120_000);

  for (const c of V2_CASES) {
    it.skipIf(skip || c.noZarr2)(`${c.name}: zarr 2.13 reads it as zarrflow does${c.noZarr2 ? " (skipped: numcodecs 0.11 lacks the codec)" : ""}`, async () => {
      const seen = read.arrays[c.name];
      expect(seen.error).toBeUndefined();
      expect(sha256(new Uint8Array(Buffer.from(seen.data!, "base64")))).toBe(sha256(await readWithZarrflow(zfDir(), c)));
      // zarr 2.13 reports each filter's full configuration, defaults included.
      if (c.v2!.filters) expect(seen.filters).toMatchObject(c.v2!.filters);
      else expect(seen.filters ?? null).toBeNull();
      if (c.fillValue !== undefined) expect(seen.fill_value).toBe(c.fillValue);
    });
  }
});
