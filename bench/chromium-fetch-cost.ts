/**
 * What Chromium's fetch costs on this machine, per process: a page fetches every chunk of
 * workload 1's array (256 responses of ≈ 0.8 MB, 16 at a time) and decodes nothing; around
 * each round, the CPU time and minor page faults of every Chromium process are read from
 * /proc. This is the probe behind workload 14's "where the fetch's CPU goes" (bench/README.md).
 *
 *   npm run bench -- --only browser          (once: it writes the array into the bench cache)
 *   npx tsx bench/chromium-fetch-cost.ts [arraybuffer|byob] [rounds]
 *
 * `arraybuffer` reads each body with `response.arrayBuffer()`; `byob` with a BYOB reader into
 * a buffer each of the 16 lanes reuses.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startStaticServer } from "../src/cli/static-server.js";
import { launchChromium, openPage } from "../test/helpers/browser.js";
import { datasetRoot, sizes as benchSizes } from "./lib/config.js";
import { descendants } from "./lib/threads.js";

interface ProcessCost {
  kind: string;
  faults: number;
  userMs: number;
  systemMs: number;
}

/** Chromium's processes (launched from here: this process's descendants) by pid. */
function chromiumProcesses(): Map<number, ProcessCost> {
  return new Map(descendants().map((p) => [p.pid, { kind: p.kind === "main" ? "browser" : p.kind, faults: p.minorFaults, userMs: p.userMs, systemMs: p.systemMs }]));
}

const mode = process.argv[2] === "byob" ? "byob" : "arraybuffer";
const rounds = Number(process.argv[3] ?? 3);
const sizes = benchSizes(false, 2);
const root = join(datasetRoot("full", sizes.full.shape, sizes.full.chunks), "zstd-1");
if (!existsSync(join(root, "zarr.json"))) {
  console.log(`no array at ${root}: run \`npm run bench -- --only browser\` once first`);
  process.exit(0);
}
const meta = JSON.parse(readFileSync(join(root, "zarr.json"), "utf8")) as { shape: number[]; chunk_grid: { configuration: { chunk_shape: number[] } } };
const counts = meta.shape.map((n, d) => Math.ceil(n / meta.chunk_grid.configuration.chunk_shape[d]));
const keys: string[] = [];
const walk = (prefix: number[]): void => {
  if (prefix.length === counts.length) keys.push(`c/${prefix.join("/")}`);
  else for (let i = 0; i < counts[prefix.length]; i++) walk([...prefix, i]);
};
walk([]);

const server = await startStaticServer({ isolated: true, mounts: { "/data/": root, "/pages/": join(import.meta.dirname, "../test/browser") } });
const rig = await launchChromium();
try {
  const { page } = await openPage(rig, `${server.url}/pages/blank.html`);
  for (let round = 0; round < rounds; round++) {
    const before = chromiumProcesses();
    const started = performance.now();
    const bytes = await page.evaluate(
      async ({ base, keys, mode }) => {
        let next = 0;
        let total = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            let buffer = new ArrayBuffer(4 << 20);
            while (next < keys.length) {
              const response = await fetch(base + keys[next++], { cache: "no-store" });
              if (!response.ok) throw new Error(`${response.status} ${response.url}`);
              let n = 0;
              if (mode === "byob" && response.body) {
                const reader = response.body.getReader({ mode: "byob" });
                for (;;) {
                  const { value, done } = await reader.read(new Uint8Array(buffer, n, Math.min(buffer.byteLength - n, 1 << 20)));
                  if (value) buffer = value.buffer as ArrayBuffer;
                  if (done || !value) break;
                  n += value.byteLength;
                }
              } else {
                n = (await response.arrayBuffer()).byteLength;
              }
              total += n;
            }
          }),
        );
        return total;
      },
      { base: `${server.url}/data/`, keys, mode },
    );
    const ms = performance.now() - started;
    const after = chromiumProcesses();
    const byKind = new Map<string, ProcessCost>();
    for (const [pid, now] of after) {
      const was = before.get(pid) ?? { faults: 0, userMs: 0, systemMs: 0 };
      const sum = byKind.get(now.kind) ?? { kind: now.kind, faults: 0, userMs: 0, systemMs: 0 };
      sum.faults += now.faults - was.faults;
      sum.userMs += now.userMs - was.userMs;
      sum.systemMs += now.systemMs - was.systemMs;
      byKind.set(now.kind, sum);
    }
    console.log(`round ${round + 1} (${mode}): ${(bytes / 1e6).toFixed(0)} MB of bodies in ${ms.toFixed(0)} ms, ${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`);
    for (const cost of [...byKind.values()].filter((c) => c.userMs + c.systemMs >= 50)) {
      console.log(`  ${cost.kind.padEnd(10)} ${String(cost.faults).padStart(7)} minor faults (${((cost.faults * 4096) / bytes).toFixed(2)} per 4 KiB of body), CPU ${((cost.userMs + cost.systemMs) / 1000).toFixed(2)} s (user ${(cost.userMs / 1000).toFixed(2)}, system ${(cost.systemMs / 1000).toFixed(2)})`);
    }
  }
} finally {
  await rig.close();
  await server.close();
}
