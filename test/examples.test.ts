/**
 * Every program in examples/ runs here as a subprocess (node --import tsx) with small
 * arguments, and its output and result files are checked, so the examples never rot:
 * the main job (v2 → sharded v3, verified), the quick start, a slice piped through gzip, the
 * ETL transform, the RxJS consumer, and a read over HTTP (nginx from test/helpers/nginx.ts).
 */
import { execFile } from "node:child_process";
import { readdir, readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closePools, create, openArray } from "../src/index.js";
import { bytesOf } from "../src/dtype.js";
import { FileSystemStore } from "../stores/index.js";
import { ROOT } from "./helpers/cli-run.js";
import { SKIP_NGINX, startNginx } from "./helpers/nginx.js";

let tmp: string;
const at = (...parts: string[]) => join(tmp, ...parts);

async function runExample(name: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", join(ROOT, "examples", name), ...args], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
  return { stdout, stderr };
}

/** uint16 counts with zeros (missing readings) every 17th element. */
const counts = (n: number) => Uint16Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 0 : 100 + ((i * 31) % 5000)));

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "zarrflow-examples-"));
  const src = await create(new FileSystemStore(at("counts.zarr")), { shape: [20, 30, 40], chunks: [5, 16, 16], dtype: "uint16", attributes: { units: "counts" } });
  await src.write(null, counts(20 * 30 * 40));
});

afterAll(async () => {
  await closePools();
  await rm(tmp, { recursive: true, force: true });
});

describe("examples", () => {
  it("convert-v2-to-v3 (npm start): generates the v2 sample once, converts to sharded zstd v3, verifies", async () => {
    const args = [at("sample-v2.zarr"), at("sample-v3.zarr"), "--planes", "4"];
    const first = await runExample("convert-v2-to-v3.ts", args);
    expect(first.stderr).toContain("generating the sample v2 array");
    expect(first.stdout).toMatch(/source .* v2, float32 \[4,360,720\], chunks \[8,180,360\], blosc\/lz4/);
    expect(first.stdout).toMatch(/copy .* v3, shards \[4,360,720\] of chunks \[4,90,180\], zstd level 3/);
    expect(first.stdout).toMatch(/verified {2}1036800 elements in .*: identical/);
    const zarray = JSON.parse(await readFile(at("sample-v2.zarr", ".zarray"), "utf8"));
    expect(zarray).toMatchObject({ zarr_format: 2, dtype: "<f4", compressor: { id: "blosc", cname: "lz4" } });
    const meta = JSON.parse(await readFile(at("sample-v3.zarr", "zarr.json"), "utf8"));
    expect(meta.codecs[0]).toMatchObject({ name: "sharding_indexed", configuration: { codecs: [{ name: "bytes" }, { name: "zstd", configuration: { level: 3 } }] } });
    // xarray's v2 _ARRAY_DIMENSIONS attribute becomes v3 dimension_names.
    expect(meta.dimension_names).toEqual(["time", "lat", "lon"]);
    expect(meta.attributes).toEqual({ long_name: "air temperature", units: "K" });
    const second = await runExample("convert-v2-to-v3.ts", args);
    expect(second.stderr).not.toContain("generating");
    expect(second.stdout).toContain("identical");
  });

  it("quickstart: writes, reads back and finds the data identical", async () => {
    const { stdout } = await runExample("quickstart.ts", [at("quickstart.zarr")]);
    expect(stdout).toContain("identical to what was written: true");
  });

  it("stream-to-gzip: the gunzipped file is the selection's C-order bytes", async () => {
    const out = at("slice.raw.gz");
    const { stdout } = await runExample("stream-to-gzip.ts", [at("counts.zarr"), out, "2:18:2, 5, 3:"]);
    expect(stdout).toMatch(/uint16 \[8,37\], \d+ chunks read, \d+ bytes gzipped/);
    const expected = await (await openArray(new FileSystemStore(at("counts.zarr")))).read("2:18:2, 5, 3:");
    expect(gunzipSync(await readFile(out)).equals(Buffer.from(bytesOf(expected.data)))).toBe(true);
  });

  it("etl: calibrates counts into float32 with NaN for missing readings", async () => {
    const { stdout } = await runExample("etl.ts", [at("counts.zarr"), at("calibrated.zarr"), "0.5", "-10"]);
    const n = 20 * 30 * 40;
    const missing = Math.ceil(n / 17);
    expect(stdout).toContain(`${n} values calibrated (× 0.5 + -10), ${missing} missing → NaN`);
    const out = await openArray(new FileSystemStore(at("calibrated.zarr")));
    expect(out.dtype).toBe("float32");
    expect(out.attrs).toMatchObject({ units: "counts", calibration: { scale: 0.5, offset: -10 } });
    const got = (await out.read()).data as Float32Array;
    const raw = counts(n);
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      const want = raw[i] === 0 ? NaN : Math.fround(raw[i] * 0.5 - 10);
      if (!Object.is(got[i], want)) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it("rx-progress: every chunk arrives, the map fills, the statistics are those of the selection", async () => {
    const { stdout } = await runExample("rx-progress.ts", [at("counts.zarr"), "0:10"]);
    const raw = counts(20 * 30 * 40).subarray(0, 10 * 30 * 40);
    let [min, max, sum] = [Infinity, -Infinity, 0];
    for (const v of raw) [min, max, sum] = [Math.min(min, v), Math.max(max, v), sum + v];
    // Chunks [5, 16, 16] over [0:10, 30, 40]: 2 × 2 × 3; the map is the last two grid dimensions.
    expect(stdout).toContain("progress: chunks 12/12");
    expect(stdout).toContain("chunk map (2 × 3, last two grid dimensions):\n  ███\n  ███\n");
    expect(stdout).toContain(`chunks 12/12  values 12000  min ${min.toFixed(3)}  max ${max.toFixed(3)}  mean ${(sum / 12000).toFixed(3)}`);
  });

  it.skipIf(SKIP_NGINX)("http-read: reads a sharded array served by nginx, by URL", async () => {
    const nginx = await startNginx();
    try {
      const remote = await create(new FileSystemStore(join(nginx.dataDir, "remote.zarr")), { shape: [64, 64], chunks: [8, 8], shards: [32, 32], dtype: "int16" });
      await remote.write(null, Int16Array.from({ length: 4096 }, (_, i) => (i % 300) - 150));
      const { stdout } = await runExample("http-read.ts", [`${nginx.origin}/remote.zarr`, "10:20, 30:50"]);
      let sum = 0;
      for (let r = 10; r < 20; r++) for (let c = 30; c < 50; c++) sum += ((r * 64 + c) % 300) - 150;
      expect(stdout).toContain("Zarr v3 int16 [64,64], chunks [8,8], shards [32,32]");
      // Rows 10–19 and columns 30–49 touch 2 × 4 inner chunks.
      expect(stdout).toMatch(/\[10:20, 30:50\] → shape \[10,20\]: 8 chunks, \d+ stored bytes fetched/);
      expect(stdout).toContain(`sum ${sum} over 200 values`);
    } finally {
      await nginx.stop();
    }
  });

  it("every example in examples/ is run by this file", async () => {
    const tested = ["convert-v2-to-v3.ts", "quickstart.ts", "stream-to-gzip.ts", "etl.ts", "rx-progress.ts", "http-read.ts"];
    expect((await readdir(join(ROOT, "examples"))).filter((f) => f.endsWith(".ts")).sort()).toEqual(tested.sort());
  });
});
