/**
 * Workload 14 (issue 14): the same 256 MiB zstd-1 array (workload 1's, 1 MiB chunks) served over
 * HTTP and read in Chromium, in one cross-origin isolated page, by zarrflow (HttpStore on fetch,
 * a Web Worker pool decoding into a SharedArrayBuffer) and by zarrita.js (FetchStore, WASM zstd
 * on the main thread), alternating run by run. Besides MiB/s, each row has the longest
 * main-thread task during the read (PerformanceObserver "longtask": 0 when no task reached
 * 50 ms) and the worst gap between 10 ms timer ticks: how unresponsive the page became.
 * Two more rows bound what any library can reach in this page: the page fetching every stored
 * chunk with nothing decoded ("fetch only", MiB/s of the array it would decode to), and
 * zarrflow decoding chunks already in memory ("decode only"). Then the same data sharded
 * (workload 6's array: 256³ shards of 64³ chunks), read by both libraries.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStaticServer } from "../../src/cli/static-server.js";
import { CHROMIUM, buildBrowserForTests, callInPage, launchChromium, openPage } from "../../test/helpers/browser.js";
import { MiB, datasetRoot, nbytes, type Job, type Sizes } from "./config.js";
import { valueAt } from "./data.js";
import { median, notAvailable, type Result } from "./measure.js";
import { descendantCpuMs } from "./threads.js";
import { prepareSharded, shardedDatasets } from "./sharded.js";

const here = dirname(fileURLToPath(import.meta.url));

interface PageRun {
  ms: number;
  bytes: number;
  shape: number[];
  shared: boolean;
  longTasks: number;
  longestTaskMs: number;
  worstTimerGapMs: number;
  samples: number[] | null;
  storedBytes: number | null;
  isolated: boolean;
  workers: number;
  /** CPU ms during the read, by process kind (Chromium's, and "server": this process). */
  cpuMs?: Record<string, number>;
}

/** Median CPU seconds per read: in all, and by process kind (the kinds seen in every run). */
function cpuColumns(list: PageRun[]): Record<string, number> {
  const kinds = new Set(list.flatMap((r) => Object.keys(r.cpuMs ?? {})));
  const seconds = (values: number[]) => Math.round(median(values) / 10) / 100;
  const out: Record<string, number> = { cpuSeconds: seconds(list.map((r) => Object.values(r.cpuMs ?? {}).reduce((a, b) => a + b, 0))) };
  for (const kind of kinds) out[`cpuSeconds_${kind}`] = seconds(list.map((r) => r.cpuMs?.[kind] ?? 0));
  return out;
}

/** zarrita.js and its fetch store as one ES module a page can import. */
async function bundleZarrita(outdir: string): Promise<void> {
  // @ts-expect-error: a plain .mjs build script without types
  const { bundleModule } = (await import("../../scripts/build-browser.mjs")) as { bundleModule: (contents: string, outfile: string) => Promise<void> };
  await bundleModule('export * from "zarrita"; export { default as FetchStore } from "@zarrita/storage/fetch";', join(outdir, "zarrita.js"));
}

export async function browserRead(job: Job, s: Sizes): Promise<Result[]> {
  const root = datasetRoot("full", s.full.shape, s.full.chunks);
  const shape = s.full.shape;
  const bytes = nbytes(shape);
  const label = `read ${Math.round(bytes / MiB)} MiB [${shape}] chunks [${s.full.chunks}] zstd-1 over HTTP in Chromium`;
  const impls = {
    zarrflow: "zarrflow (Web Worker pool, SharedArrayBuffer)",
    zarrita: "zarrita.js (FetchStore)",
    "fetch-only": "bound: the page's fetch of every chunk, nothing decoded",
    "zarrflow-memory": "bound: zarrflow decoding chunks already in memory (Web Worker pool)",
  } as const;
  type Impl = keyof typeof impls;
  // The same data sharded (workload 6's array): one GET per shard for zarrflow, a ranged GET
  // per inner chunk (and the indexes) for zarrita.
  const sharded = shardedDatasets(s).sharded;
  const shardedLabel = `read ${Math.round(nbytes(sharded.spec.shape) / MiB)} MiB [${sharded.spec.shape}] shards [${sharded.spec.shards}] of chunks [${sharded.spec.chunks}] zstd-1 over HTTP in Chromium`;
  if (!existsSync(CHROMIUM)) {
    return [
      ...Object.values(impls).map((impl) => notAvailable("14", label, impl, `no Chromium at ${CHROMIUM}`)),
      ...[impls.zarrflow, impls.zarrita].map((impl) => notAvailable("14", shardedLabel, impl, `no Chromium at ${CHROMIUM}`)),
    ];
  }
  await prepareSharded(s, ["sharded"]);

  const scratch = mkdtempSync(join(tmpdir(), "zarrflow-bench-browser-"));
  const buildDir = await buildBrowserForTests();
  await bundleZarrita(join(scratch, "zarrita"));
  const server = await startStaticServer({
    isolated: true,
    mounts: { "/data/": root, "/sharded/": sharded.root, "/zarrflow/": buildDir, "/zarrita/": join(scratch, "zarrita"), "/bench/": join(here, "../browser") },
  });
  const rig = await launchChromium();
  try {
    const { page, errors } = await openPage(rig, `${server.url}/bench/page.html`);
    /** Rows for `names` reading the array at `base` + `path`, alternating run by run; ratios against zarrita. */
    const measure = async (names: Impl[], base: string, path: string, arrayShape: number[], rowLabel: string): Promise<Result[]> => {
      const arrayBytes = nbytes(arrayShape);
      // Elements checked against the generator: spread over the whole array.
      const count = arrayShape.reduce((n, x) => n * x, 1);
      const samples = Array.from({ length: 256 }, (_, i) => Math.floor((((i * 2654435761) % 2 ** 32) / 2 ** 32) * count));
      const runs = Object.fromEntries(names.map((name) => [name, [] as PageRun[]])) as Record<Impl, PageRun[]>;
      for (let run = 0; run <= job.runs; run++) {
        // Alternating, so that a change in the machine's load hits every row alike.
        const order = run % 2 === 0 ? names : [...names].reverse();
        for (const impl of order) {
          await callInPage(page, "/bench/page.js", "prepare", { impl, base, path });
          // CPU of every process the read keeps busy: Chromium's (page, network service,
          // browser) and this one (the static server), around the read alone.
          const cpuBefore = descendantCpuMs();
          const nodeBefore = process.cpuUsage();
          const got = await callInPage<PageRun>(page, "/bench/page.js", "readOnce", { impl, samples });
          const nodeCpu = process.cpuUsage(nodeBefore);
          const cpuAfter = descendantCpuMs();
          const cpuMs: Record<string, number> = Object.fromEntries([...cpuAfter].map(([kind, ms]) => [kind, ms - (cpuBefore.get(kind) ?? 0)]).filter(([, ms]) => (ms as number) > 0));
          cpuMs.server = (nodeCpu.user + nodeCpu.system) / 1000;
          got.cpuMs = cpuMs;
          if (got.bytes !== arrayBytes) throw new Error(`${impl}: read ${got.bytes} bytes, expected ${arrayBytes}`);
          got.samples?.forEach((v, i) => {
            let rest = samples[i];
            const coords = arrayShape.map(() => 0);
            for (let d = arrayShape.length - 1; d >= 0; d--) {
              coords[d] = rest % arrayShape[d];
              rest = Math.floor(rest / arrayShape[d]);
            }
            const want = valueAt(arrayShape, coords);
            if (v !== want) throw new Error(`${impl}: element ${samples[i]} is ${v}, expected ${want}`);
          });
          const cpu = Object.values(cpuMs).reduce((a, b) => a + b, 0);
          process.stderr.write(`    ${base} ${run === 0 ? "warm-up" : `run ${run}`} ${impl}: ${(arrayBytes / MiB / (got.ms / 1000)).toFixed(0)} MiB/s, longest task ${got.longestTaskMs.toFixed(0)} ms, worst timer gap ${got.worstTimerGapMs.toFixed(0)} ms, CPU ${(cpu / 1000).toFixed(2)} s (${Object.entries(cpuMs).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(2)}`).join(", ")})\n`);
          if (run > 0) runs[impl].push(got);
        }
      }
      const rows = names.map((impl): Result => {
        const list = runs[impl];
        const ms = median(list.map((r) => r.ms));
        return {
          group: "14",
          workload: rowLabel,
          impl: impls[impl],
          mibps: arrayBytes / MiB / (ms / 1000),
          ms,
          runsMs: list.map((r) => Math.round(r.ms * 10) / 10),
          peakRssMiB: null,
          extra: {
            longestTaskMs: Math.round(Math.max(...list.map((r) => r.longestTaskMs))),
            longTasksPerRead: Math.round(median(list.map((r) => r.longTasks))),
            longestTaskPerRunMs: list.map((r) => Math.round(r.longestTaskMs)).join("/"),
            worstTimerGapMs: Math.round(Math.max(...list.map((r) => r.worstTimerGapMs))),
            workers: impl.startsWith("zarrflow") ? list[0].workers : 0,
            ...(list[0].storedBytes ? { storedMiBps: Math.round(list[0].storedBytes / MiB / (ms / 1000)) } : {}),
            ...cpuColumns(list),
            sharedArrayBuffer: String(list[0].shared),
          },
        };
      });
      const zarritaMiBps = rows[names.indexOf("zarrita")].mibps!;
      rows.forEach((row, i) => {
        if (names[i] !== "zarrita") row.ratios = { zarrita: row.mibps! / zarritaMiBps };
      });
      return rows;
    };
    const rows = [
      ...(await measure(Object.keys(impls) as Impl[], "/data/", "zstd-1", shape, label)),
      ...(await measure(["zarrflow", "zarrita"], "/sharded/", sharded.spec.codec, sharded.spec.shape, shardedLabel)),
    ];
    // 404s are the metadata probes (v3 zarr.json first, then v2 .zarray); anything else is a fault.
    const faults = errors.filter((e) => !/status of 404/.test(e));
    if (faults.length) throw new Error(`page errors: ${faults.join("; ")}`);
    return rows;
  } finally {
    await rig.close();
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(buildDir, { recursive: true, force: true });
  }
}
