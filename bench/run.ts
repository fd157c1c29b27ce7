/**
 * zarrflow benchmarks: runs each workload in its own process (bench/workload.ts), gathers the
 * results, prints a markdown table and writes bench/results/latest.{md,json}.
 *
 *   npm run bench                                  # everything, full sizes
 *   npm run bench -- --quick                       # small sizes, 1 timed run: a smoke test
 *   npm run bench -- --only read,latency --quick   # a subset
 *   npm run bench -- --runs 5 --copy-gib 1         # more runs, 1 GiB copy
 *   npm run bench -- --clean                       # delete the cached source arrays
 *
 * See bench/README.md for what each workload measures.
 */
import { fork } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CACHE_DIR, CODEC_NAMES, sizes, type Job, type Kind } from "./lib/config.js";
import type { Result } from "./lib/measure.js";
import { json, markdown, type RunInfo } from "./lib/report.js";
import { runPeers } from "./lib/peers.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const GROUPS = ["read", "write", "latency", "small", "copy", "ceiling", "sharded-read", "shard-latency", "shard-patch", "http", "peers", "queue", "browser", "s3"] as const;
type Group = (typeof GROUPS)[number];

interface Args {
  only: Set<Group>;
  quick: boolean;
  runs: number;
  copyGiB: number;
  clean: boolean;
  zarrita: boolean;
  /** Side-by-side tables to run (10, 11, 12; default all). */
  peerSets?: string[];
  /** Results file name under bench/results (default "latest"). */
  out: string;
  peerRuns?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: new Set(GROUPS), quick: false, runs: 3, copyGiB: 2, clean: false, zarrita: true, out: "latest" };
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") args.quick = true;
    else if (a === "--clean") args.clean = true;
    else if (a === "--no-zarrita") args.zarrita = false;
    else if (a.startsWith("--peer-sets")) args.peerSets = value().split(",").map((s) => s.trim());
    else if (a.startsWith("--out")) args.out = value().replace(/[^\w.-]/g, "_");
    else if (a.startsWith("--only")) {
      const names = value().split(",").map((s) => s.trim()).filter(Boolean);
      for (const n of names) if (!GROUPS.includes(n as Group)) throw new Error(`--only: unknown workload "${n}" (one of ${GROUPS.join(", ")})`);
      args.only = new Set(names as Group[]);
    } else if (a.startsWith("--runs")) {
      args.runs = Math.max(1, parseInt(value(), 10));
      runsGiven = true;
    } else if (a.startsWith("--out")) args.out = value().replace(/[^\w.-]/g, "_");
    else if (a.startsWith("--copy-gib")) args.copyGiB = Math.max(0.125, parseFloat(value()));
    else if (a === "--help" || a === "-h") {
      console.log(`usage: npm run bench -- [--only ${GROUPS.join(",")}] [--peer-sets 10,11,12] [--quick] [--runs N] [--copy-gib N] [--no-zarrita] [--out NAME] [--clean]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  if (args.quick && !runsGiven) args.runs = 1;
  // The side-by-side tables default to 6 timed rounds (the issue's medians of 6).
  args.peerRuns = runsGiven || args.quick ? args.runs : 6;
  return args;
}

function jobs(args: Args): Job[] {
  const base = { quick: args.quick, runs: args.runs, copyGiB: args.copyGiB };
  const out: Job[] = [];
  const job = (kind: Kind, impl: string, extra: Partial<Job> = {}) => {
    if (impl.startsWith("zarrita") && !args.zarrita) return;
    out.push({ kind, impl, ...base, ...extra });
  };
  const datasets: string[] = [];
  if (args.only.has("read") || args.only.has("ceiling")) datasets.push("full");
  if (args.only.has("latency")) datasets.push("latency");
  if (args.only.has("small")) datasets.push("small");
  if (args.only.has("copy") || args.only.has("queue")) datasets.push("copy");
  if (args.only.has("sharded-read") || args.only.has("shard-latency") || args.only.has("http") || args.only.has("s3")) datasets.push("sharded");
  if (args.only.has("shard-patch")) datasets.push("patch");
  // The HTTP workload reads the zstd-1 array of workload 1 (only that codec, unless `read` needs them all).
  if ((args.only.has("http") || args.only.has("browser")) && !datasets.includes("full") && !datasets.includes("full-zstd-1")) datasets.push("full-zstd-1");
  if (datasets.length) job("prepare", "zarrflow", { datasets });
  for (const kind of ["read", "write"] as const) {
    if (!args.only.has(kind)) continue;
    for (const codec of CODEC_NAMES) for (const impl of ["zarrflow-inline", "zarrflow-auto", "zarrita"]) job(kind, impl, { codec });
  }
  if (args.only.has("latency")) for (const impl of ["zarrflow-c8", "zarrflow-c64", "zarrita-c8", "zarrita-default"]) job("latency", impl);
  if (args.only.has("small")) {
    for (const op of ["read", "write"] as const) for (const impl of ["zarrflow-inline", "zarrflow-pool2", "zarrita"]) job("small", impl, { op });
  }
  if (args.only.has("copy")) for (const impl of ["zarrflow", "zarrflow-prefetch32", "zarrflow-convert", "zarrflow-convert-shards", "zarrflow-convert-shards-mmap", "idle", "zarrita"]) job("copy", impl);
  if (args.only.has("ceiling")) job("ceiling", "zarrflow");
  if (args.only.has("sharded-read")) {
    for (const variant of ["local", "latency", "slab-latency"]) {
      for (const impl of ["zarrflow-inline", "zarrflow-auto", "zarrita", "zarrita-coalesce"]) job("sharded-read", impl, { variant });
    }
  }
  if (args.only.has("shard-latency")) {
    for (const variant of ["local", "latency"]) for (const impl of ["zarrflow", "zarrita-cold", "zarrita-warm"]) job("shard-latency", impl, { variant });
  }
  if (args.only.has("shard-patch")) for (const impl of ["zarrflow-patch", "zarrflow-rewrite", "zarrita"]) job("shard-patch", impl);
  // "peers" (workloads 10–12) runs its own children, alternating implementations: see main().
  if (args.only.has("http")) {
    for (const variant of ["chunked", "sharded"]) for (const impl of ["zarrflow-c8", "zarrflow-c32", "zarrita", "zarrita-coalesce"]) job("http", impl, { variant });
  }
  if (args.only.has("queue")) job("queue", "zarrflow");
  if (args.only.has("s3")) for (const impl of ["zarrflow-c8", "zarrflow-c32", "zarrita", "zarrita-coalesce"]) job("s3", impl);
  // Workload 10 runs both libraries in one page, so it is one job with two rows.
  if (args.only.has("browser")) job("browser", "zarrflow+zarrita");
  return out;
}

function describe(job: Job): string {
  return [job.kind, job.op, job.codec, job.variant, job.impl].filter(Boolean).join(" ");
}

/** Runs one workload process; resolves its results (an error row if it failed). */
function runChild(job: Job): Promise<Result[]> {
  return new Promise((resolvePromise) => {
    const child = fork(join(here, "workload.ts"), [JSON.stringify(job)], {
      cwd: repo,
      execArgv: ["--import", "tsx", "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let results: Result[] | undefined;
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = "timed out after 20 min";
      child.kill("SIGKILL");
    }, 20 * 60_000);
    child.on("message", (message: { results?: Result[]; error?: string }) => {
      if (message.results) results = message.results;
      if (message.error) error = message.error;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (results) return resolvePromise(results);
      const why = error ?? `exited with ${signal ?? code}`;
      process.stderr.write(`  FAILED: ${why}\n`);
      const group = { read: "1", write: "1", latency: "2", small: "3", copy: "4", ceiling: "5", "sharded-read": "6", "shard-latency": "7", "shard-patch": "8", http: "9", queue: "13", browser: "14", s3: "15", prepare: "prepare" }[job.kind];
      resolvePromise([
        { group, workload: describe(job), impl: job.impl, mibps: null, ms: null, runsMs: [], peakRssMiB: null, note: `failed: ${why.split("\n")[0]}` },
      ]);
    });
  });
}

/** Fills in the comparisons that need several rows. */
function addRatios(results: Result[]): void {
  const find = (group: string, workload: string, impl: string) => results.find((r) => r.group === group && r.workload === workload && r.impl === impl && r.mibps !== null);
  for (const r of results) {
    if (r.mibps === null) continue;
    if ((r.group === "1" || r.group === "3") && r.impl.startsWith("zarrflow")) {
      const ratios: Record<string, number> = {};
      if (r.group === "3" && r.impl === "zarrflow workers:2") {
        const inline = find("3", r.workload, "zarrflow workers:0");
        if (inline) ratios["workers:0"] = r.mibps / inline.mibps!;
      }
      const zarrita = find(r.group, r.workload, "zarrita");
      if (zarrita) ratios.zarrita = r.mibps / zarrita.mibps!;
      if (Object.keys(ratios).length) r.ratios = ratios;
    }
    // Sharded and HTTP reads: each zarrflow row against every zarrita row of the same workload.
    if ((r.group === "6" || r.group === "7" || r.group === "9" || r.group === "15") && r.impl.startsWith("zarrflow")) {
      const ratios: Record<string, number> = { ...r.ratios };
      for (const z of results) {
        if (z.group === r.group && z.workload === r.workload && z.impl.startsWith("zarrita") && z.mibps !== null) ratios[z.impl] = r.mibps / z.mibps;
      }
      if (Object.keys(ratios).length) r.ratios = ratios;
    }
    if (r.group === "8" && r.impl.startsWith("zarrflow patch")) {
      const rewrite = results.find((z) => z.group === "8" && z.workload === r.workload && z.impl.startsWith("zarrflow rewrite") && z.mibps !== null);
      if (rewrite) r.ratios = { "rewrite (speed)": r.mibps / rewrite.mibps! };
    }
    if (r.group === "4" && r.peakRssMiB !== null) {
      const gib = (r.ms! / 1000) * r.mibps / 1024;
      r.extra = { ...r.extra, target: gib >= 1.99 ? (r.peakRssMiB < 400 ? "RSS target met" : "RSS target missed") : "RSS target is for 2 GiB" };
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.clean) {
    await rm(CACHE_DIR, { recursive: true, force: true });
    console.log(`removed ${CACHE_DIR}`);
    return;
  }
  const list = jobs(args);
  const started = performance.now();
  const loadavgStart = loadavg();
  process.stderr.write(`zarrflow bench (${args.quick ? "quick" : "full"}, ${args.runs} timed run(s) after a warm-up), cache ${CACHE_DIR}\n`);
  process.stderr.write(`free memory ${(freemem() / 2 ** 30).toFixed(1)} GiB, load average ${loadavgStart.map((l) => l.toFixed(2)).join(" ")}\n`);
  const results: Result[] = [];
  for (const [i, job] of list.entries()) {
    const t = performance.now();
    process.stderr.write(`[${i + 1}/${list.length}] ${describe(job)} … `);
    const rows = await runChild(job);
    const head = rows[0];
    const summary = head?.mibps != null ? `${head.mibps.toFixed(0)} MiB/s, ${head.ms!.toFixed(0)} ms` : (head?.note ?? "done");
    process.stderr.write(`${summary} (${((performance.now() - t) / 1000).toFixed(1)} s)\n`);
    results.push(...rows.filter((r) => r.group !== "prepare" || r.note));
  }
  if (args.only.has("peers")) results.push(...(await runPeers(args.quick, args.peerRuns ?? args.runs, (s) => process.stderr.write(s), args.peerSets)));
  addRatios(results);
  const info: RunInfo = {
    date: new Date().toISOString(),
    node: process.versions.node,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    mode: args.quick ? "quick" : "full",
    runs: args.runs,
    statistic: `median of ${args.runs} timed run${args.runs > 1 ? "s" : ""} after 1 warm-up`,
    loadavgStart,
    loadavgEnd: loadavg(),
    durationS: (performance.now() - started) / 1000,
    sizes: sizes(args.quick, args.copyGiB),
  };
  const md = markdown(info, results);
  console.log(md);
  const out = join(here, "results");
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `${args.out}.md`), md);
  await writeFile(join(out, `${args.out}.json`), json(info, results) + "\n");
  process.stderr.write(`wrote ${join(out, `${args.out}.md`)} and ${args.out}.json\n`);
  await rm(join(CACHE_DIR, "tmp"), { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
