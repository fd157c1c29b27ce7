/**
 * The string measurement: read a 1-million-string array (v3 `string`, vlen-utf8 + zstd,
 * 10 chunks of 100 000) with zarrflow and with zarr-python 3 (the oracle), median of 5 runs each
 * after a warm-up. Also times what moving one decoded chunk between threads would cost
 * (structuredClone of its string[]: what a worker's postMessage does, serialise + deserialise)
 * against decoding it, which decides that string chunks decode on the calling thread.
 *
 *   npx tsx bench/strings.ts            (the Python column needs the zarr-python oracle: see
 *                                        test/helpers/oracle.ts; without it, one line says why)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { create, open, type ZarrArray } from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";
import { findOracle, oracleProblem } from "../test/helpers/oracle.js";

const N = 1_000_000;
const CHUNK = 100_000;
const RUNS = 5;
const words = ["temperature", "station", "Zürich", "東京", "nan", "", "🌧️ rain", "a", "coastal-buoy"];
const values = Array.from({ length: N }, (_, i) => `${words[i % words.length]}-${(i * 2654435761) % 100_003}`);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(path.join(tmpdir(), "zarrflow-strings-"));
try {
  const a = await create(new FileSystemStore(dir), { path: "s", shape: [N], chunks: [CHUNK], dtype: "string", codecs: [{ name: "vlen-utf8" }, { name: "zstd", configuration: { level: 1, checksum: false } }] });
  await a.write(null, values);
  const arr = (await open(new FileSystemStore(dir), { path: "s" })) as ZarrArray;

  const zf: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    const t = performance.now();
    const x = await arr.read();
    const ms = performance.now() - t;
    if ((x.data as unknown as string[])[N - 1] !== values[N - 1]) throw new Error("wrong value");
    if (r > 0) zf.push(ms);
  }

  // One chunk: decode (inline) vs a structured clone of the result (the minimum a worker round trip adds).
  const bytes = (await new FileSystemStore(dir).get("s/c/0"))!;
  const decodeMs: number[] = [];
  const cloneMs: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    let t = performance.now();
    const chunk = (await arr.chain.decode(bytes, "s/c/0")).data as unknown as string[];
    const d = performance.now() - t;
    t = performance.now();
    structuredClone(chunk);
    const c = performance.now() - t;
    if (r > 0) {
      decodeMs.push(d);
      cloneMs.push(c);
    }
  }

  // The oracle, found as the tests find it (test/helpers/oracle.ts), or one line saying why not.
  const oracle = findOracle();
  let py = `skipped: ${oracleProblem()}`;
  if (oracle) {
    const script = `import time, zarr\na = zarr.open_array(${JSON.stringify(path.join(dir, "s"))}, mode="r")\nts = []\nfor r in range(${RUNS + 1}):\n    t = time.perf_counter(); x = a[:]; ts.append((time.perf_counter() - t) * 1000)\nassert x[-1] == ${JSON.stringify(values[N - 1])}\nprint(sorted(ts[1:])[${Math.floor(RUNS / 2)}])`;
    const [python, ...args] = oracle.python;
    py = `${Number(execFileSync(python, [...args, "-c", script], { encoding: "utf8" })).toFixed(0)} ms`;
  }
  console.log(`1,000,000 strings (${CHUNK}-string chunks, vlen-utf8 + zstd):`);
  console.log(`  zarrflow read():      ${median(zf).toFixed(0)} ms (runs ${zf.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`  zarr-python 3 a[:]:   ${py}`);
  console.log(`  one chunk: decode ${median(decodeMs).toFixed(1)} ms, structuredClone of the result ${median(cloneMs).toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
