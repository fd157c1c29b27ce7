/**
 * Arrays zarrflow writes with the data types beyond numbers (strings, bytes, fixed-width
 * strings and bytes, datetimes, structs, vlen arrays, categorize) are read back exactly by
 * zarr-python 3 (the oracle, v3 and v2) and by Debian's zarr 2.13 (v2). Expected contents are
 * computed from the values written, in the fixtures' value format.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { create, open, type CreateArrayOptions, type DataType, type ZarrArray } from "../src/index.js";
import { NAT, packFixedWidth } from "../src/dtype-extended.js";
import { FileSystemStore } from "../stores/index.js";
import { findOracle, oracleSkip, runOracle } from "./helpers/oracle.js";
import { skipUnlessFound } from "./helpers/external.js";
import { bytesListJson, canonicalJson } from "./helpers/formats.js";
import { prng } from "./helpers/prng.js";

type Kind = "string" | "bytes" | "datetime" | "struct" | "vlen_array";

interface Case {
  name: string;
  kind: Kind;
  formats: (2 | 3)[];
  options: Omit<CreateArrayOptions, "path" | "zarrFormat">;
  /** Per format extra options (v2 filters, byte order). */
  v2?: Partial<CreateArrayOptions>;
  /** What write() takes, and the same values as the value-format list (JSON kinds) or bytes. */
  data: unknown;
  expected: string | Uint8Array;
  /** zarr-python 3 cannot read these v2 arrays (the oracle README says so). */
  notZarr3V2?: boolean;
}

const TRICKY = ["", "a", "é", "😀x", "tab\t|", "nul\0mid", "مرحبا", "e\u0301", 'q"\\', "line\nbreak", "ñandú", "\u{10FFFF}"];

function cases(): Case[] {
  const rand = prng(7);
  const strings = Array.from({ length: 35 }, (_, i) => (i % 5 === 0 ? "" : `${TRICKY[i % TRICKY.length]}${i}`));
  const byteStrings = Array.from({ length: 23 }, (_, i) => Uint8Array.from({ length: i % 7 }, () => Math.floor(rand() * 256)));
  const short = Array.from({ length: 17 }, (_, i) => [...(TRICKY[i % TRICKY.length] + "xyz")].slice(0, i % 4).join("").replace(/\0+$/, ""));
  const sBytes = Array.from({ length: 13 }, (_, i) => {
    const b = Uint8Array.from({ length: i % 7 }, () => 1 + Math.floor(rand() * 255));
    if (b.length > 2) b[1] = 0; // interior NULs stay; trailing ones are what |S strips
    return b;
  });
  const vBytes = Array.from({ length: 11 }, () => Uint8Array.from({ length: 4 }, () => Math.floor(rand() * 256)));
  const times = BigInt64Array.from({ length: 29 }, (_, i) => (i % 6 === 0 ? NAT : BigInt(Math.floor((rand() - 0.5) * 2 ** 52)) * 1000n));
  const deltas = BigInt64Array.from({ length: 19 }, (_, i) => BigInt(i * 37 - 300));
  const structType = 'struct[["a","int32"],["b","float64"],["c","uint8"]]' as DataType;
  const records = new Uint8Array(13 * 13);
  const view = new DataView(records.buffer);
  for (let i = 0; i < 13; i++) {
    view.setInt32(i * 13, i * 1000 - 5, true);
    view.setFloat64(i * 13 + 4, i / 3, true);
    view.setUint8(i * 13 + 12, 200 + i);
  }
  const arrays = Array.from({ length: 9 }, (_, i) => Int32Array.from({ length: i % 4 }, (_, j) => i * 10 - j * 1000));
  const labels = ["red", "green", "blue"];
  const categories = Array.from({ length: 14 }, (_, i) => (i % 4 === 3 ? "" : labels[i % 3]));
  return [
    { name: "string 2-d", kind: "string", formats: [2, 3], options: { shape: [7, 5], chunks: [3, 2], dtype: "string" }, data: strings, expected: canonicalJson(strings) },
    { name: "string order F", kind: "string", formats: [2], options: { shape: [5, 7], chunks: [2, 3], dtype: "string" }, v2: { order: "F" }, data: strings, expected: canonicalJson(strings) },
    { name: "string sharded", kind: "string", formats: [3], options: { shape: [35], chunks: [4], shards: [12], dtype: "string", fillValue: "n/a" }, data: strings, expected: canonicalJson(strings) },
    { name: "variable_length_bytes", kind: "bytes", formats: [2, 3], options: { shape: [23], chunks: [6], dtype: "variable_length_bytes" }, data: byteStrings, expected: bytesListJson(byteStrings) },
    {
      name: "fixed_length_utf32",
      kind: "string",
      formats: [2, 3],
      options: { shape: [17], chunks: [5], dtype: "fixed_length_utf32[12]", fillValue: "zz" },
      data: packFixedWidth("fixed_length_utf32[12]", short),
      expected: canonicalJson(short),
    },
    {
      name: "fixed_length_utf32 big-endian",
      kind: "string",
      formats: [2, 3],
      options: { shape: [17], chunks: [5], dtype: "fixed_length_utf32[12]", codecs: [{ name: "bytes", configuration: { endian: "big" } }] },
      v2: { endian: "big", codecs: undefined },
      data: packFixedWidth("fixed_length_utf32[12]", short),
      expected: canonicalJson(short),
    },
    {
      name: "null_terminated_bytes",
      kind: "bytes",
      formats: [2, 3],
      options: { shape: [13], chunks: [4], dtype: "null_terminated_bytes[6]", fillValue: "eno=" as never },
      data: packFixedWidth("null_terminated_bytes[6]", sBytes),
      expected: bytesListJson(sBytes),
    },
    { name: "raw_bytes", kind: "bytes", formats: [2, 3], options: { shape: [11], chunks: [4], dtype: "raw_bytes[4]" }, data: packFixedWidth("raw_bytes[4]", vBytes), expected: bytesListJson(vBytes) },
    {
      name: "datetime64[ns] with NaT",
      kind: "datetime",
      formats: [2, 3],
      options: { shape: [29], chunks: [6], dtype: "numpy.datetime64[ns]", fillValue: "NaT" as never },
      data: times,
      expected: new Uint8Array(times.buffer),
    },
    {
      name: "timedelta64[10s] big-endian",
      kind: "datetime",
      formats: [2, 3],
      options: { shape: [19], chunks: [7], dtype: "numpy.timedelta64[10s]", codecs: [{ name: "bytes", configuration: { endian: "big" } }] },
      v2: { endian: "big", codecs: undefined },
      data: deltas,
      expected: new Uint8Array(deltas.buffer),
    },
    {
      name: "struct with a fill value",
      kind: "struct",
      formats: [2, 3],
      options: { shape: [13], chunks: [5], dtype: structType, fillValue: { a: 7, b: 0.5, c: 1 } as never },
      data: records,
      expected: records,
    },
    {
      name: "vlen_array[int32]",
      kind: "vlen_array",
      formats: [2],
      options: { shape: [9], chunks: [4], dtype: "vlen_array[int32]" as DataType },
      data: arrays,
      expected: canonicalJson(arrays.map((a) => Array.from(a))),
      notZarr3V2: true,
    },
    {
      name: "categorize",
      kind: "string",
      formats: [2],
      options: { shape: [14], chunks: [5], dtype: "string", fillValue: "" },
      v2: { filters: [{ id: "categorize", labels, dtype: "|O", astype: "|u1" }] },
      data: categories,
      expected: canonicalJson(categories),
      notZarr3V2: true,
    },
  ];
}

const dir = mkdtempSync(path.join(tmpdir(), "zarrflow-types-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function written(c: Case, zarrFormat: 2 | 3): Promise<{ store: string; path: string; array: ZarrArray }> {
  const arrayPath = `${c.name.replace(/[^a-z0-9]+/gi, "_")}_v${zarrFormat}`;
  const extra = zarrFormat === 2 ? { ...c.v2 } : {};
  const options = { ...c.options, ...extra, path: arrayPath, zarrFormat, overwrite: true } as CreateArrayOptions;
  if (zarrFormat === 2) delete options.codecs;
  const array = await create(new FileSystemStore(dir), options);
  await array.write(null, c.data as never);
  return { store: dir, path: arrayPath, array };
}

const ALL = cases();

describe("extended types: zarrflow writes, zarrflow reads back", () => {
  it.each(ALL.flatMap((c) => c.formats.map((f) => [`${c.name} v${f}`, c, f] as const)))("%s", async (_n, c, f) => {
    const { path: p } = await written(c, f);
    const back = (await open(new FileSystemStore(dir), { path: p })) as ZarrArray;
    const x = await back.read();
    const data = x.data as unknown;
    if (c.kind === "datetime" || c.kind === "struct") expect(new Uint8Array((data as Uint8Array).buffer, (data as Uint8Array).byteOffset, (data as Uint8Array).byteLength)).toEqual(c.expected);
    else if (Array.isArray(data)) expect(data).toEqual(c.data);
    else expect(Buffer.from((data as Uint8Array).buffer).equals(Buffer.from((c.data as Uint8Array).buffer))).toBe(true);
  });
});

const oracleSuite = oracleSkip("zarr-python 3 reads zarrflow's extended types") ? describe.skip : describe;
oracleSuite("extended types: zarr-python 3 reads what zarrflow writes", () => {
  it.each(ALL.flatMap((c) => c.formats.filter((f) => !(f === 2 && c.notZarr3V2)).map((f) => [`${c.name} v${f}`, c, f] as const)))(
    "%s",
    async (_n, c, f) => {
      const oracle = findOracle()!;
      const { path: p } = await written(c, f);
      const out = path.join(dir, `${p}.out`);
      runOracle(oracle, "read.py", ["--zarr-format", String(f), dir, p, out]);
      const got = new Uint8Array(readFileSync(out));
      const want = typeof c.expected === "string" ? new TextEncoder().encode(c.expected) : c.expected;
      expect(Buffer.from(got).equals(Buffer.from(want)), `${new TextDecoder().decode(got.subarray(0, 300))}`).toBe(true);
    },
    120_000,
  );
});

const SCRIPT = fileURLToPath(new URL("./python/zarr2_values.py", import.meta.url));
function zarr2Problem(): string | undefined {
  try {
    const version = execFileSync("/usr/bin/python3", ["-c", "import zarr; print(zarr.__version__)"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    return version.startsWith("2.") ? undefined : `/usr/bin/python3 has zarr ${version}, not 2.x`;
  } catch {
    return "Debian's python3-zarr is not installed (apt-get install python3-zarr)";
  }
}
const zarr2Suite = skipUnlessFound("zarr 2.13 reads zarrflow's v2 extended types", zarr2Problem()) ? describe.skip : describe;
zarr2Suite("extended types: zarr 2.13 reads what zarrflow writes (v2)", () => {
  it.each(ALL.filter((c) => c.formats.includes(2)).map((c) => [c.name, c] as const))(
    "%s",
    async (_n, c) => {
      const { path: p } = await written(c, 2);
      const got = JSON.parse(execFileSync("/usr/bin/python3", [SCRIPT, dir, p], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) as { values: unknown };
      if (typeof c.expected === "string") expect(canonicalJson(got.values as unknown[])).toBe(c.expected);
      else expect(got.values).toBe(Buffer.from(c.expected).toString("base64"));
    },
    60_000,
  );
});
