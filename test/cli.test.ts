/**
 * The `zarrflow` command, run as the built executable (node dist/src/cli.js) in a subprocess:
 * - info (array, group tree, --json, stored size; "unknown" over HTTP), get (json, npy loaded by
 *   NumPy for every data type, raw; a closed stdout ends quietly), copy (v2 → sharded v3 checked
 *   element by element, groups with attributes, v3 → v2, selections, existing destinations),
 *   bench;
 * - every failure is one line on stderr with exit code 2 (usage) or 1 (failure), no stack trace
 *   unless --verbose;
 * - progress: plain lines, JSON events, --quiet;
 * - SIGINT during a copy (worker pool running) exits 130 and leaves only whole chunks;
 * - over HTTP: arrays served by nginx (test/helpers/nginx.ts) read through HttpStore.
 * Also the library engine behind copy (src/convert.ts): each source chunk is read once when
 * re-chunking, blocks respect the memory budget.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DATA_TYPES,
  closePools,
  copyNode,
  create,
  createGroup,
  openArray,
  parseCompression,
  planArrayCopy,
  toFloat16Bits,
  type DataType,
  type TypedArray,
} from "../src/index.js";
import { copyBlockShape } from "../src/convert.js";
import { bytesOf } from "../src/dtype.js";
import { ProgressReporter } from "../src/cli/progress.js";
import { JsonEncoder, npyHeader } from "../src/cli/formats.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { CountingStore } from "../stores/wrappers.js";
import { buildCli, runCli, serveFolder, type RunResult } from "./helpers/cli-run.js";
import { SKIP_NGINX, startNginx, type Nginx } from "./helpers/nginx.js";

let tmp: string;
const at = (...parts: string[]) => join(tmp, ...parts);

/** A one-line error: exactly one "zarrflow: ..." line (plus the usage hint for usage errors), no stack. */
function expectOneLineError(result: RunResult, code: 1 | 2, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^zarrflow: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines.length).toBe(code === 2 && lines[1]?.startsWith("Run ") ? 2 : 1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout.length).toBe(0);
}

/** Byte equality without vitest's element-by-element diff, which takes seconds on large buffers. */
function expectSameBytes(a: ArrayBufferView, b: ArrayBufferView): void {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  expect(x.byteLength).toBe(y.byteLength);
  expect(x.equals(y)).toBe(true);
}

const ramp = (n: number, mod = 65521) => Uint16Array.from({ length: n }, (_, i) => (i * 7) % mod);

/** Values of every data type, with the awkward ones: 64-bit extremes, NaN, ±Infinity, -0. */
function dtypeValues(dtype: DataType, n: number): TypedArray {
  const { ctor, kind, slots } = DATA_TYPES[dtype];
  const out = new ctor(n * slots);
  for (let i = 0; i < n; i++) {
    if (dtype === "int64") (out as BigInt64Array)[i] = i === 0 ? -(2n ** 63n) : i === 1 ? 2n ** 53n + 1n : BigInt(i * 1000 - 3);
    else if (dtype === "uint64") (out as BigUint64Array)[i] = i === 0 ? 2n ** 64n - 1n : BigInt(i * 1000);
    else if (dtype === "float16") (out as Uint16Array)[i] = toFloat16Bits(i === 0 ? NaN : i === 1 ? -Infinity : i / 4);
    else if (kind === "f" || kind === "c") {
      const special = [NaN, Infinity, -0, 1.5e300, -2.25];
      for (let s = 0; s < slots; s++) (out as Float64Array)[i * slots + s] = i < special.length ? special[(i + s) % special.length] : i * 0.5 - s;
    } else if (kind === "b") (out as Uint8Array)[i] = i % 3 === 0 ? 1 : 0;
    else (out as Int32Array)[i] = (i * 37) % 120 - (kind === "i" ? 60 : 0);
  }
  if (dtype === "float32" || dtype === "complex64") (out as Float32Array)[4] = 1.5e30; // representable in float32
  return out;
}

const ALL_DTYPES = Object.keys(DATA_TYPES) as DataType[];

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "zarrflow-cli-"));
  const fixtures = (async () => {
    // A v2 array as zarr-python 2 writes by default (blosc lz4 + shuffle), with attributes.
    const v2 = await create(new FileSystemStore(at("v2.zarr")), {
      zarrFormat: 2,
      shape: [40, 50, 60],
      chunks: [10, 20, 25],
      dtype: "uint16",
      compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 },
      attributes: { units: "K" },
    });
    await v2.write(null, ramp(40 * 50 * 60));
    // A v3 group tree with attributes at every level.
    const gstore = new FileSystemStore(at("group.zarr"));
    await createGroup(gstore, { attributes: { title: "demo" } });
    const a = await create(gstore, { path: "a", shape: [30, 40], chunks: [8, 8], dtype: "int32", attributes: { role: "a" }, dimensionNames: ["y", "x"] });
    await a.write(null, Int32Array.from({ length: 1200 }, (_, i) => i - 600));
    await createGroup(gstore, { path: "sub", attributes: { level: 1 } });
    const b = await create(gstore, { path: "sub/b", shape: [100], chunks: [16], dtype: "float64", fillValue: "NaN", codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "gzip", configuration: { level: 1 } }] });
    await b.write("0:50", Float64Array.from({ length: 50 }, (_, i) => (i === 3 ? Infinity : i / 8)));
    // Every data type, for get.
    for (const dtype of ALL_DTYPES) {
      const arr = await create(new FileSystemStore(at("dtypes", `${dtype}.zarr`)), { shape: [3, 4], chunks: [2, 3], dtype });
      await arr.write(null, dtypeValues(dtype, 12));
    }
  })();
  await Promise.all([buildCli(), fixtures]);
}, 180_000);

afterAll(async () => {
  await closePools();
  await rm(tmp, { recursive: true, force: true });
});

describe("help and usage", () => {
  it("every command has --help (exit 0); no command is a usage error", async () => {
    const results = await Promise.all(["info", "get", "copy", "bench"].map((c) => runCli([c, "--help"])));
    results.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toContain(`Usage: zarrflow ${["info", "get", "copy", "bench"][i]}`);
    });
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout.toString()).toMatch(/Commands:[\s\S]*copy <src-url> <dst-url>/);
    expect((await runCli([])).code).toBe(2);
  });

  it("unknown commands and options, missing and extra arguments are usage errors", async () => {
    const [cmd, opt, missing, extra] = await Promise.all([
      runCli(["frobnicate"]),
      runCli(["info", at("v2.zarr"), "--colour"]),
      runCli(["copy", at("v2.zarr")]),
      runCli(["info", at("v2.zarr"), "more"]),
    ]);
    expectOneLineError(cmd, 2, /unknown command "frobnicate"/);
    expectOneLineError(opt, 2, /--colour/);
    expectOneLineError(missing, 2, /missing destination location/);
    expectOneLineError(extra, 2, /unexpected argument "more"/);
  });
});

describe("info", () => {
  it("describes an array: shape, dtype, chunks, codecs, fill value, sizes; --json sums the stored files", async () => {
    const [text, json] = await Promise.all([runCli(["info", at("v2.zarr")]), runCli(["info", at("v2.zarr"), "--json"])]);
    expect(text.code).toBe(0);
    const out = text.stdout.toString();
    expect(out).toContain("array, Zarr v2");
    expect(out).toMatch(/shape\s+\[40, 50, 60\]/);
    expect(out).toMatch(/dtype\s+uint16 \(<u2, order C\)/);
    expect(out).toMatch(/chunks\s+\[10, 20, 25\]\s+\(36 chunks, 36 stored\)/);
    expect(out).toMatch(/codecs\s+bytes\(endian=little\) → blosc\(cname=lz4, clevel=5, shuffle=shuffle/);
    expect(out).toMatch(/attributes\s+\{"units":"K"\}/);

    const info = JSON.parse(json.stdout.toString());
    const chunkFiles = (await listFiles(at("v2.zarr"))).filter((f) => !/\.z(array|attrs)$/.test(f));
    const storedBytes = (await Promise.all(chunkFiles.map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0);
    expect(info).toMatchObject({
      node: "array",
      zarrFormat: 2,
      shape: [40, 50, 60],
      dtype: "uint16",
      chunks: [10, 20, 25],
      shards: null,
      fillValue: 0,
      chunkCount: 36,
      storedObjects: 36,
      storedBytes,
      uncompressedBytes: 40 * 50 * 60 * 2,
      attributes: { units: "K" },
      v2: { compressor: { id: "blosc", cname: "lz4" } },
    });
    expect(out).toContain(`${(storedBytes / 1024).toFixed(1)} KiB stored`);
  });

  it("shows a group's tree with nested groups and arrays", async () => {
    const [text, json] = await Promise.all([runCli(["info", at("group.zarr")]), runCli(["info", at("group.zarr"), "--json"])]);
    expect(text.code).toBe(0);
    const lines = text.stdout.toString().trimEnd().split("\n");
    expect(lines[0]).toMatch(/group, Zarr v3\s+attributes \{"title":"demo"\}/);
    expect(lines[1]).toMatch(/^├── a\s+array int32 \[30, 40\] chunks \[8, 8\]/);
    expect(lines[2]).toMatch(/^└── sub\s+group/);
    expect(lines[3]).toMatch(/^ {4}└── b\s+array float64 \[100\] chunks \[16\]\s+bytes\(endian=little\) → gzip\(level=1\)/);
    const info = JSON.parse(json.stdout.toString());
    expect(info.children.sub.children.b).toMatchObject({ node: "array", fillValue: "NaN", storedObjects: 4 });
    expect(info.children.sub.attributes).toEqual({ level: 1 });
  });

  it("bad locations: an unknown scheme is a usage error, a missing array a failure", async () => {
    const [scheme, missing, notUrl] = await Promise.all([
      runCli(["info", "ftp://example.org/a.zarr"]),
      runCli(["info", at("nothing-here.zarr")]),
      runCli(["info", "http://exa mple/a.zarr"]),
    ]);
    expectOneLineError(scheme, 2, /unsupported location "ftp:\/\/example\.org\/a\.zarr"/);
    expectOneLineError(missing, 1, /^zarrflow: no Zarr array or group found at \/tmp\/.*nothing-here\.zarr$/);
    expectOneLineError(notUrl, 2, /not a valid URL/);
  });

  it("--verbose adds the stack trace", async () => {
    const result = await runCli(["info", at("nothing-here.zarr"), "--verbose"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NodeNotFoundError[\s\S]*\n\s+at /);
  });
});

describe("get", () => {
  /** get's output for a selection, made in-process by the same encoders the CLI streams through. */
  async function encodeInProcess(dtype: DataType, selection: string, format: "json" | "npy"): Promise<Buffer> {
    const array = await openArray(new FileSystemStore(at("dtypes", `${dtype}.zarr`)));
    const result = await array.read(selection);
    const bytes = bytesOf(result.data);
    if (format === "npy") return Buffer.concat([npyHeader(dtype, result.shape), bytes]);
    const encoder = new JsonEncoder(dtype, result.shape);
    // Fed in odd-sized pieces: elements straddle the pieces as they may in a stream.
    let text = encoder.start();
    for (let i = 0; i < bytes.byteLength; i += 5) text += encoder.push(bytes.subarray(i, i + 5));
    return Buffer.from(text + encoder.end());
  }

  // A few data types through the executable; the encoders are checked for all of them in-process.
  const CLI_DTYPES: DataType[] = ["int64", "float16", "complex128", "bool"];

  it("json: nested lists; 64-bit integers exact; NaN/Infinity as strings; complex as pairs; bool", async () => {
    const results = await Promise.all(CLI_DTYPES.map((dtype) => runCli(["get", at("dtypes", `${dtype}.zarr`), "--select", "0:2, 1:4"])));
    for (const [n, dtype] of CLI_DTYPES.entries()) {
      expect(results[n].code, `${dtype}: ${results[n].stderr}`).toBe(0);
      expect(results[n].stdout.toString(), dtype).toBe((await encodeInProcess(dtype, "0:2, 1:4", "json")).toString());
    }
    for (const dtype of ALL_DTYPES) {
      const text = (await encodeInProcess(dtype, "0:2, 1:4", "json")).toString();
      const values = dtypeValues(dtype, 12);
      const at2 = (r: number, c: number) => r * 4 + c;
      const expectedCell = (i: number): unknown => {
        const { kind, slots } = DATA_TYPES[dtype];
        const f = (x: number) => (Number.isNaN(x) ? "NaN" : x === Infinity ? "Infinity" : x === -Infinity ? "-Infinity" : x);
        if (dtype === "float16") return f([NaN, -Infinity][i] ?? i / 4);
        if (kind === "c") return [f((values as Float64Array)[i * slots]), f((values as Float64Array)[i * slots + 1])];
        if (kind === "b") return values[i] === 1;
        if (kind === "f") return f(values[i] as number);
        return Number(values[i]);
      };
      const expected = [0, 1].map((r) => [1, 2, 3].map((c) => expectedCell(at2(r, c))));
      if (dtype === "int64" || dtype === "uint64") {
        // All digits, as JSON numbers: JSON.parse would round them, so look at the text.
        const digits = [0, 1].flatMap((r) => [1, 2, 3].map((c) => (values as BigInt64Array)[at2(r, c)].toString()));
        expect(text).toBe(`[[${digits.slice(0, 3).join(",")}],[${digits.slice(3).join(",")}]]\n`);
        if (dtype === "int64") expect(text).toContain(String(2n ** 53n + 1n));
      } else {
        // -0 prints as 0 in JSON, as NumPy's json does.
        expect(JSON.parse(text), dtype).toEqual(JSON.parse(JSON.stringify(expected)));
      }
    }
  });

  it("npy: numpy.load reads every data type with the right descr, shape and bytes", async () => {
    const results = await Promise.all(CLI_DTYPES.map((dtype) => runCli(["get", at("dtypes", `${dtype}.zarr`), "--select", "1:3, ::2", "--format", "npy"])));
    const files: string[] = [];
    for (const dtype of ALL_DTYPES) {
      const n = CLI_DTYPES.indexOf(dtype);
      const bytes = n >= 0 ? results[n].stdout : await encodeInProcess(dtype, "1:3, ::2", "npy");
      if (n >= 0) expect(results[n].code, results[n].stderr).toBe(0);
      files.push(at(`${dtype}.npy`));
      await writeFile(files.at(-1)!, bytes);
    }
    const script = [
      "import json, sys, numpy",
      "for f in sys.argv[1:]:",
      "    a = numpy.load(f)",
      "    print(json.dumps({'descr': a.dtype.str, 'shape': list(a.shape), 'fortran': bool(numpy.isfortran(a)), 'hex': a.tobytes().hex()}))",
    ].join("\n");
    const { stdout } = await promisify(execFile)("/usr/bin/python3", ["-c", script, ...files]);
    const loaded = stdout.trim().split("\n").map((l) => JSON.parse(l));
    const descr: Record<string, string> = {
      bool: "|b1", int8: "|i1", uint8: "|u1", int16: "<i2", uint16: "<u2", int32: "<i4", uint32: "<u4", int64: "<i8",
      uint64: "<u8", float16: "<f2", float32: "<f4", float64: "<f8", complex64: "<c8", complex128: "<c16",
    };
    for (const [n, dtype] of ALL_DTYPES.entries()) {
      const array = await openArray(new FileSystemStore(at("dtypes", `${dtype}.zarr`)));
      const expected = await array.read("1:3, ::2");
      expect(loaded[n], dtype).toEqual({ descr: descr[dtype], shape: [2, 2], fortran: false, hex: Buffer.from(bytesOf(expected.data)).toString("hex") });
    }
  });

  it("npy headers are padded to 64 bytes for 0-d to 5-d shapes; json handles empty and 0-d selections", () => {
    for (const shape of [[], [7], [2, 3], [1, 2, 3, 4, 5], [123456789, 2]]) {
      const header = npyHeader("float32", shape);
      expect(header.byteLength % 64).toBe(0);
      const text = Buffer.from(header.subarray(10)).toString("latin1");
      expect(text).toMatch(shape.length === 1 ? /'shape': \(7,\), }\s*\n$/ : new RegExp(`'shape': \\(${shape.join(", ")}\\), }\\s*\\n$`));
    }
    const empty = new JsonEncoder("int8", [2, 0]);
    expect(empty.start() + empty.push(new Uint8Array(0)) + empty.end()).toBe("[[],[]]\n");
    const scalar = new JsonEncoder("int16", []);
    expect(scalar.start() + scalar.push(Uint8Array.of(0xff)) + scalar.push(Uint8Array.of(0xff)) + scalar.end()).toBe("-1\n");
  });

  it("raw: C-order little-endian bytes of the selection, equal to read()", async () => {
    const result = await runCli(["get", at("v2.zarr"), "-s", "5:35:3, 7, 10:", "-f", "raw"]);
    expect(result.code, result.stderr).toBe(0);
    const expected = await (await openArray(new FileSystemStore(at("v2.zarr")))).read("5:35:3, 7, 10:");
    expect(Buffer.compare(result.stdout, Buffer.from(bytesOf(expected.data)))).toBe(0);
  });

  it("selection errors: bad syntax and out of bounds are usage errors; a group is a failure", async () => {
    const [syntax, bounds, group] = await Promise.all([
      runCli(["get", at("v2.zarr"), "--select", "0:10:0:1"]),
      runCli(["get", at("v2.zarr"), "--select", "0, 99"]),
      runCli(["get", at("group.zarr")]),
    ]);
    expectOneLineError(syntax, 2, /bad --select/);
    expectOneLineError(bounds, 2, /out of bounds|index 99/);
    expectOneLineError(group, 1, /group\.zarr is a group, not an array/);
  });

  it("a stdout closed early (| head) ends the read quietly with exit 0", async () => {
    const big = await create(new FileSystemStore(at("big.zarr")), { shape: [256, 256, 64], chunks: [16, 256, 64], dtype: "uint16" });
    await big.write(null, ramp(256 * 256 * 64));
    let received = 0;
    const result = await runCli(["get", at("big.zarr"), "--format", "raw"], {
      onSpawn: (child) =>
        child.stdout!.on("data", (chunk: Buffer) => {
          received += chunk.byteLength;
          child.stdout!.destroy(); // as `head -c` does once it has enough
        }),
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(256 * 256 * 64 * 2);
  });
  it("a reader that stops reading stops the read (backpressure); --json reports get's progress", async () => {
    const big = await create(new FileSystemStore(at("paused.zarr")), { shape: [512, 256, 64], chunks: [16, 256, 64], dtype: "uint16" });
    await big.write(null, ramp(512 * 256 * 64));
    let received = 0;
    let seenWhilePaused = -1;
    let buffered = "";
    const events = () => [...buffered.matchAll(/"chunksDone":(\d+)/g)].map((m) => Number(m[1]));
    const result = await runCli(["get", at("paused.zarr"), "--format", "raw", "--json", "--progress-interval", "0"], {
      onSpawn: (child) => {
        child.stdout!.pause();
        child.stdout!.on("data", (chunk: Buffer) => (received += chunk.byteLength));
        child.stderr!.on("data", (chunk: Buffer) => {
          buffered += chunk.toString();
          if (seenWhilePaused < 0 && events().length) {
            seenWhilePaused = 0;
            // Long enough for the whole read to finish, were nothing holding it back.
            setTimeout(() => {
              seenWhilePaused = Math.max(...events());
              child.stdout!.resume();
            }, 500);
          }
        });
      },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(received).toBe(512 * 256 * 64 * 2);
    // 32 chunks of 512 KiB; with stdout full the read holds about two 1 MiB slabs, not all of it.
    expect(seenWhilePaused).toBeGreaterThan(0);
    expect(seenWhilePaused).toBeLessThanOrEqual(12);
    const last = JSON.parse(result.stderr.trimEnd().split("\n").at(-1)!);
    expect(last).toMatchObject({ event: "done", command: "get", chunksDone: 32, chunksTotal: 32, dataBytesTotal: 512 * 256 * 64 * 2 });
  });
});

describe("copy", () => {
  it("converts v2 → sharded, zstd v3, element by element equal, attributes kept", async () => {
    const dst = at("v3-sharded.zarr");
    const result = await runCli(["copy", at("v2.zarr"), dst, "--zarr-format", "3", "--chunks", "10,10,20", "--shards", "20,50,60", "--codec", "zstd:3", "--verify"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.toString()).toMatch(/^copied 1 array \(234\.4 KiB\) from .* in .*MiB\/s\n {2}read 36 chunks, .* wrote 2 chunks, .*\n {2}verified: all 120000 elements equal the source\n$/);
    const meta = JSON.parse(await readFile(join(dst, "zarr.json"), "utf8"));
    expect(meta).toMatchObject({
      zarr_format: 3,
      shape: [40, 50, 60],
      data_type: "uint16",
      chunk_grid: { configuration: { chunk_shape: [20, 50, 60] } },
      attributes: { units: "K" },
      codecs: [{ name: "sharding_indexed", configuration: { chunk_shape: [10, 10, 20], codecs: [{ name: "bytes" }, { name: "zstd", configuration: { level: 3 } }] } }],
    });
    const [source, copy] = await Promise.all([openArray(new FileSystemStore(at("v2.zarr"))), openArray(new FileSystemStore(dst))]);
    const [x, y] = await Promise.all([source.read(), copy.read()]);
    const a = x.data as Uint16Array;
    const b = y.data as Uint16Array;
    let differing = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
    expect(b.length).toBe(40 * 50 * 60);
    expect(differing).toBe(0);
    expect((await listFiles(join(dst, "c"))).length).toBe(2);
  });

  it("copies a group recursively to v2 with gzip, attributes at every level", async () => {
    const dst = at("group-v2.zarr");
    const result = await runCli(["copy", at("group.zarr"), dst, "--zarr-format", "2", "--codec", "gzip:6", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.toString());
    expect(summary).toMatchObject({ arrays: 2, groups: 2, chunksWritten: 20 + 7 });
    expect(JSON.parse(await readFile(join(dst, ".zattrs"), "utf8"))).toEqual({ title: "demo" });
    expect(JSON.parse(await readFile(join(dst, "sub/.zattrs"), "utf8"))).toEqual({ level: 1 });
    // v3 dimension_names become xarray's _ARRAY_DIMENSIONS attribute in v2.
    expect(JSON.parse(await readFile(join(dst, "a/.zattrs"), "utf8"))).toEqual({ role: "a", _ARRAY_DIMENSIONS: ["y", "x"] });
    expect(JSON.parse(await readFile(join(dst, "sub/b/.zarray"), "utf8"))).toMatchObject({ compressor: { id: "gzip", level: 6 }, fill_value: "NaN", dtype: "<f8" });
    for (const path of ["a", "sub/b"]) {
      const [x, y] = await Promise.all([openArray(new FileSystemStore(at("group.zarr")), { path }), openArray(new FileSystemStore(dst), { path })]);
      expect(y.zarrFormat).toBe(2);
      expectSameBytes((await y.read()).data, (await x.read()).data);
    }
    // Fill-only chunks of b (its second half) are not written, as zarr-python does.
    expect((await readdir(join(dst, "sub/b"))).filter((f) => !f.startsWith(".")).length).toBe(4);
  });

  it("--select copies a strided selection with a dropped dimension", async () => {
    const dst = at("selected.zarr");
    const result = await runCli(["copy", at("v2.zarr"), dst, "--select", "1:40:3, 7, 5:", "--verify", "-q"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toBe("");
    const copy = await openArray(new FileSystemStore(dst));
    expect(copy.shape).toEqual([13, 55]);
    const expected = await (await openArray(new FileSystemStore(at("v2.zarr")))).read("1:40:3, 7, 5:");
    expectSameBytes((await copy.read()).data, expected.data);
  });

  it("an existing destination is refused without --overwrite (exit 1) and replaced with it", async () => {
    const dst = at("existing.zarr");
    await create(new FileSystemStore(dst), { shape: [5], dtype: "int8" });
    const refused = await runCli(["copy", at("v2.zarr"), dst]);
    expectOneLineError(refused, 1, /already holds a Zarr array; pass --overwrite to replace it/);
    expect(JSON.parse(await readFile(join(dst, "zarr.json"), "utf8")).shape).toEqual([5]);
    const replaced = await runCli(["copy", at("v2.zarr"), dst, "--overwrite", "-q"]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect((await openArray(new FileSystemStore(dst))).shape).toEqual([40, 50, 60]);
  });

  it("usage errors: unknown codec, bad level, bad shapes, shards on v2, bad --memory", async () => {
    const results = await Promise.all([
      runCli(["copy", at("v2.zarr"), at("x.zarr"), "--codec", "lzma"]),
      runCli(["copy", at("v2.zarr"), at("x.zarr"), "--codec", "gzip:12"]),
      runCli(["copy", at("v2.zarr"), at("x.zarr"), "--chunks", "10,0"]),
      runCli(["copy", at("v2.zarr"), at("x.zarr"), "--shards", "20,20,20", "--zarr-format", "2"]),
      runCli(["copy", at("v2.zarr"), at("x.zarr"), "--memory", "lots"]),
      runCli(["copy", at("v2.zarr"), at("x.zarr"), "--zarr-format", "4"]),
    ]);
    expectOneLineError(results[0], 2, /bad --codec "lzma": unknown codec "lzma"/);
    expectOneLineError(results[1], 2, /"level" must be an integer in \[0, 9\]/);
    expectOneLineError(results[2], 2, /--chunks must be positive integers/);
    expectOneLineError(results[3], 2, /--shards needs --zarr-format 3/);
    expectOneLineError(results[4], 2, /--memory must be a size/);
    expectOneLineError(results[5], 2, /--zarr-format must be 2 or 3/);
    await expect(stat(at("x.zarr"))).rejects.toThrow();
  });

  it("failures after parsing: shapes that do not fit the array are one-line errors (exit 1)", async () => {
    const result = await runCli(["copy", at("v2.zarr"), at("y.zarr"), "--chunks", "10,10", "--zarr-format", "3"]);
    expectOneLineError(result, 1, /chunks \[10,10\] must have 3 dimensions/);
  });

  it("progress: plain lines on a non-terminal stderr, JSON events with --json, nothing with --quiet", async () => {
    const args = ["copy", at("v2.zarr"), at("progress.zarr"), "--overwrite", "--progress-interval", "0", "--concurrency", "1"];
    const [plain, json, quiet] = await Promise.all([runCli(args), runCli([...args.slice(0, 2), at("progress-json.zarr"), ...args.slice(3), "--json"]), runCli([...args.slice(0, 2), at("progress-q.zarr"), ...args.slice(3), "-q"])]);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stderr.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line).toMatch(/^copy {2}\d+% {2}\d+\/36 chunks {2}read .*B {2}wrote .*B {2}[\d.]+ MiB\/s {2}ETA .* {2}retries 0 {2}errors 0$/);

    expect(json.code, json.stderr).toBe(0);
    const events = json.stderr.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ event: "done", command: "copy", chunksDone: 36, chunksTotal: 36, retries: 0, errors: 0, dataBytesDone: 240000, dataBytesTotal: 240000 });
    expect(events.slice(0, -1).every((e) => e.event === "progress")).toBe(true);
    const done = events.map((e) => e.chunksDone);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(JSON.parse(json.stdout.toString())).toMatchObject({ arrays: 1, chunksRead: 36, chunksWritten: 36, dataBytes: 240000 });

    expect(quiet.code).toBe(0);
    expect(quiet.stderr + quiet.stdout.toString()).toBe("");
  });

  it("a terminal gets one line redrawn in place, completed with a newline", () => {
    let out = "";
    const stream = { isTTY: true, columns: 200, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    const progress = new ProgressReporter("copy", { mode: "tty", stream });
    const snap = { chunksDone: 1, chunksTotal: 4, bytesRead: 2048, bytesWritten: 1024, dataBytesDone: 4 << 20, dataBytesTotal: 16 << 20, retries: 2, errors: 1 };
    progress.update(snap);
    progress.update({ ...snap, chunksDone: 2 }); // within 100 ms of the last draw: skipped
    progress.done({ ...snap, chunksDone: 4, dataBytesDone: 16 << 20 });
    const draws = out.split("\r\x1b[2K").filter(Boolean);
    expect(draws.length).toBe(2);
    expect(draws[0]).toMatch(/^copy {2}25% {2}1\/4 chunks {2}read 2\.00 KiB {2}wrote 1\.00 KiB {2}[\d.]+ MiB\/s {2}ETA .* {2}retries 2 {2}errors 1$/);
    expect(draws[1]).toMatch(/^copy {2}100% {2}4\/4 chunks .* in .*\n$/);
  });

  it("SIGINT during a copy on the worker pool exits 130, and the destination holds only whole chunks", async () => {
    // A slow HTTP source keeps the copy running long enough to interrupt it midway.
    const src = await create(new FileSystemStore(at("served", "slow.zarr")), { zarrFormat: 2, shape: [64, 64, 64], chunks: [8, 16, 16], dtype: "uint16", compressor: { id: "zstd", level: 1 } });
    await src.write(null, ramp(64 ** 3, 60000).map((v) => v + 1));
    const server = await serveFolder(at("served"), { delayMs: 25 });
    const dst = at("interrupted.zarr");
    let interruptedAfter = -1;
    try {
      const result = await runCli(
        ["copy", `${server.url}/slow.zarr`, dst, "--zarr-format", "3", "--codec", "gzip:1", "--workers", "2", "--concurrency", "2", "--json", "--progress-interval", "0"],
        {
          onSpawn: (child) => {
            let buffered = "";
            child.stderr!.on("data", (chunk: Buffer) => {
              buffered += chunk.toString();
              const written = [...buffered.matchAll(/"chunksDone":(\d+)/g)].map((m) => Number(m[1]));
              if (interruptedAfter < 0 && written.some((n) => n >= 4)) {
                interruptedAfter = Math.max(...written);
                child.kill("SIGINT");
              }
            });
          },
        },
      );
      expect(result.code, result.stderr).toBe(130);
      expect(result.stderr).toMatch(/zarrflow: interrupted; stopped cleanly\n$/);
    } finally {
      await server.close();
    }
    expect(interruptedAfter).toBeGreaterThanOrEqual(4);
    const copy = await openArray(new FileSystemStore(dst));
    const source = await openArray(new FileSystemStore(at("served", "slow.zarr")));
    const files = await listFiles(join(dst, "c"));
    // Whole chunks only: no temporary files, and each stored chunk decodes to the source's values.
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(files.length).toBeGreaterThanOrEqual(interruptedAfter);
    expect(files.length).toBeLessThan(4 * 4 * 8);
    for (const file of files) {
      const [z, y, x] = file.slice(join(dst, "c").length + 1).split("/").map(Number);
      const region = `${z * 8}:${z * 8 + 8}, ${y * 16}:${y * 16 + 16}, ${x * 16}:${x * 16 + 16}`;
      const [got, want] = await Promise.all([copy.read(region, { workers: 0 }), source.read(region, { workers: 0 })]);
      expect(Buffer.from(bytesOf(got.data)).equals(Buffer.from(bytesOf(want.data))), file).toBe(true);
    }
  });
});

describe("bench", () => {
  it("writes and reads a generated array per codec and reports MiB/s", async () => {
    const result = await runCli(["bench", "--size", "1MiB", "--codecs", "zstd:1,none", "--json", "--dir", tmp]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.toString());
    expect(report.rows.map((r: { codec: string }) => r.codec)).toEqual(["zstd:1", "none"]);
    for (const row of report.rows) {
      expect(row.writeMiBs).toBeGreaterThan(0);
      expect(row.readMiBs).toBeGreaterThan(0);
    }
    expect(report.rows[0].ratio).toBeGreaterThan(1);
    expect(report.rows[1].ratio).toBeCloseTo(1, 1);
    expectOneLineError(await runCli(["bench", "--codecs", "zstd:1,lzma"]), 2, /bad codec "lzma"/);
  });
});

describe.skipIf(SKIP_NGINX)("over HTTP (nginx)", () => {
  let nginx: Nginx;
  beforeAll(async () => {
    nginx = await startNginx();
    const remote = await create(new FileSystemStore(join(nginx.dataDir, "remote.zarr")), {
      shape: [48, 40],
      chunks: [8, 8],
      shards: [16, 40],
      dtype: "int32",
      attributes: { served: "by nginx" },
    });
    await remote.write(null, Int32Array.from({ length: 48 * 40 }, (_, i) => i * 3 - 1000));
  });
  afterAll(async () => {
    await nginx?.stop();
  });

  it("info reads the metadata; the stored size is unknown (no listing over HTTP)", async () => {
    const result = await runCli(["info", `${nginx.origin}/remote.zarr`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.toString()).toMatch(/shards\s+\[16, 40\]\s+\(3 shards, stored: unknown\)/);
    expect(result.stdout.toString()).toMatch(/size\s+7\.50 KiB uncompressed, stored size unknown/);
    const json = JSON.parse((await runCli(["info", `${nginx.origin}/remote.zarr`, "--json"])).stdout.toString());
    expect(json).toMatchObject({ storedBytes: null, storedObjects: null, shards: [16, 40], attributes: { served: "by nginx" } });
  });

  it("get and copy read a sharded array through ranged requests", async () => {
    const [npy, copy] = await Promise.all([
      runCli(["get", `${nginx.origin}/remote.zarr`, "-s", "5:30, 3", "-f", "raw"]),
      runCli(["copy", `${nginx.origin}/remote.zarr`, at("from-http.zarr"), "--zarr-format", "2", "--codec", "blosc:zstd:3:bitshuffle", "--verify"]),
    ]);
    expect(npy.code, npy.stderr).toBe(0);
    expect([...new Int32Array(new Uint8Array(npy.stdout).buffer)]).toEqual(Array.from({ length: 25 }, (_, i) => ((5 + i) * 40 + 3) * 3 - 1000));
    expect(copy.code, copy.stderr).toBe(0);
    expect(copy.stdout.toString()).toContain("verified: all 1920 elements equal the source");
    expect(JSON.parse(await readFile(at("from-http.zarr", ".zarray"), "utf8"))).toMatchObject({ chunks: [8, 8], compressor: { id: "blosc", cname: "zstd", shuffle: 2 } });
  });

  it("a missing remote array is a one-line failure", async () => {
    expectOneLineError(await runCli(["get", `${nginx.origin}/absent.zarr`]), 1, /no Zarr array or group found/);
  });
});

describe("the copy engine (src/convert.ts)", () => {
  it("re-chunking into shards reads each source chunk exactly once", async () => {
    const store = new CountingStore(new MemoryStore());
    const src = await create(store, { shape: [50, 60, 70], chunks: [7, 11, 13], dtype: "int32", zarrFormat: 2 });
    await src.write(null, Int32Array.from({ length: 50 * 60 * 70 }, (_, i) => i));
    store.reset();
    const dst = new MemoryStore();
    await copyNode(src, dst, { zarrFormat: 3, chunks: [5, 10, 10], shards: [10, 30, 70], compression: parseCompression("zstd:1"), memoryBytes: 8 << 20 });
    const gets = new Map<string, number>();
    for (const call of store.calls) if (call.method === "get" && /^\d/.test(call.key)) gets.set(call.key, (gets.get(call.key) ?? 0) + 1);
    expect(gets.size).toBe(8 * 6 * 6);
    expect(Math.max(...gets.values())).toBe(1);
    const copy = await openArray(dst);
    expectSameBytes((await copy.read()).data, (await src.read()).data);
  });

  it("blocks line up with destination shards and source chunks, and stay within the memory share", async () => {
    const src = await create(new MemoryStore(), { shape: [2048, 512, 1024], chunks: [8, 256, 256], dtype: "uint16" });
    const plan = planArrayCopy(src, { zarrFormat: 3, chunks: [16, 128, 128], shards: [32, 512, 512] });
    const block = copyBlockShape(plan, plan.storedChunks, 64 << 20);
    expect(block[0] % 32).toBe(0);
    expect(block[1] % 512 === 0 || block[1] === 512).toBe(true);
    expect(block[2] % 512).toBe(0);
    expect(block.reduce((a, b) => a * b, 2)).toBeLessThanOrEqual(64 << 20);
  });
});
