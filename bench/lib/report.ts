/** Markdown and JSON output of a benchmark run. */
import type { Result } from "./measure.js";
import { PEER_GROUP_TITLES } from "./peers.js";

export interface RunInfo {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  mode: "quick" | "full";
  runs: number;
  statistic: string;
  loadavgStart: number[];
  loadavgEnd: number[];
  durationS: number;
  sizes: unknown;
}

export const GROUP_TITLES: Record<string, string> = {
  "1": "1. Full read / full write, 1 MiB chunks (MiB/s of uncompressed data)",
  "2": "2. Read through a store with 10 ms latency per request",
  "3": "3. 16 KiB chunks: pool vs inline (target: workers:2 ≥ 0.95× workers:0)",
  "4": "4. Streamed copy readChunks → writer (target: peak RSS < 400 MiB for 2 GiB)",
  "5": "5. Ceiling: single-thread decode + copy × workers, and the pooled read against it",
  "6": "6. Sharded read: zarrflow vs zarrita (plain and withRangeCoalescing), with the store requests per read",
  "7": "7. One inner chunk of a sharded array: read latency (ms is the median read)",
  "8": "8. Partial-shard write: one inner chunk into an existing dense shard, in-place patch vs rewrite",
  "9": "9. HTTP: nginx behind a proxy adding 10 ms per request",
  ...PEER_GROUP_TITLES,
  "13": "13. Copy through BullMQ + Redis: one process vs 2 worker processes on this machine, and the queue alone",
  "14": "14. Chromium: zarrflow (Web Worker pool) vs zarrita.js in one page, over HTTP, with the bounds any library meets in that page (targets: ≥ 3× zarrita, longest main-thread task < 50 ms)",
  "15": "15. S3: s3rver behind a proxy adding 10 ms per request (S3Store signed; zarrita FetchStore anonymous)",
};

/** Side-by-side tables (workloads 10–12): CPU per call next to throughput, ratios against Fused. */
function peerTable(title: string, rows: Result[]): string[] {
  const lines = [`## ${title}`, ""];
  lines.push("| workload | impl | MiB/s | CPU-s | CPU-s / GiB | main thread CPU-s | minor faults | vs Fused (MiB/s; CPU) | notes |");
  lines.push("|---|---|--:|--:|--:|--:|--:|---|---|");
  for (const r of rows) {
    const e = r.extra ?? {};
    const s = (v: unknown) => (v === undefined ? "" : fmt(Number(v) / 1000, 2));
    const vs = r.ratios ? `${fmt(r.ratios["Fused MiB/s"], 2)}×; ${fmt(r.ratios["Fused CPU"], 2)}×` : "";
    const note = [r.note, r.runsMs.length > 1 ? `runs ${r.runsMs.map((t) => Math.round(t)).join("/")} ms, cpu ${e.runsCpuMs} ms` : ""].filter(Boolean).join("; ");
    lines.push(`| ${r.workload} | ${r.impl} | ${fmt(r.mibps)} | ${s(e.cpuMs)} | ${e.cpuSPerGiB ?? ""} | ${s(e.mainCpuMs)} | ${e.minorFaults ?? ""} | ${vs} | ${note} |`);
  }
  return lines;
}

const fmt = (n: number | null | undefined, digits = 0): string => (n === null || n === undefined || !Number.isFinite(n) ? "n/a" : n.toFixed(digits));

function ratioText(r: Result): string {
  if (!r.ratios) return "";
  return Object.entries(r.ratios)
    .map(([of, v]) => `${fmt(v, 2)}× ${of}`)
    .join("; ");
}

function noteText(r: Result): string {
  const parts: string[] = [];
  if (r.note) parts.push(r.note);
  const e = r.extra ?? {};
  if (e.storedMiB !== undefined) parts.push(`stored ${e.storedMiB} MiB`);
  if (e.ranOn !== undefined && (r.impl.includes("auto") || (Number(r.group) >= 6 && !r.impl.includes("workers:0")))) parts.push(`ran ${e.ranOn}`);
  if (e.target !== undefined) parts.push(String(e.target));
  // Store requests (sharded and HTTP workloads): what each read or write asked the store for.
  if (e.requests !== undefined) {
    const detail: string[] = [];
    if (e.indexRequests !== undefined) detail.push(`${e.indexRequests} index + ${e.rangeRequests} range`);
    if (e.ranges !== undefined && e.ranges !== e.requests) detail.push(`${e.ranges} byte ranges`);
    if (e.sets !== undefined) detail.push(`${e.sets} set, ${e.setRanges} setRange`);
    if (e.httpDetail !== undefined) detail.push(String(e.httpDetail));
    if (e.maxInFlight !== undefined) detail.push(`≤ ${e.maxInFlight} in flight, ${e.newConnections} new connections`);
    parts.push(`${e.requests} requests${detail.length ? ` (${detail.join("; ")})` : ""}`);
  }
  if (e.requestsPerRead !== undefined) parts.push(`${e.requestsPerRead} requests per read`);
  if (e.storedMiBps !== undefined) parts.push(`${e.storedMiBps} MiB/s of stored (compressed) bytes`);
  // Chromium (workload 14): how long the page's main thread was blocked during a read.
  if (e.longestTaskMs !== undefined) parts.push(`longest main-thread task ${e.longestTaskMs} ms (per run: ${e.longestTaskPerRunMs ?? "?"} ms; median ${e.longTasksPerRead} long tasks per read), worst 10 ms-timer gap ${e.worstTimerGapMs} ms${Number(e.workers) > 0 ? `, ${e.workers} workers` : ""}`);
  // Chromium (workload 14): CPU seconds per read, in all and by process.
  if (e.cpuSeconds !== undefined) {
    const kinds = Object.keys(e).filter((k) => k.startsWith("cpuSeconds_")).map((k) => `${k.slice("cpuSeconds_".length)} ${e[k]}`);
    parts.push(`CPU ${e.cpuSeconds} s per read (${kinds.join(", ")})`);
  }
  if (e.readMiB !== undefined) parts.push(`read ${e.readMiB} MiB`);
  if (e.writtenMiB !== undefined) parts.push(`wrote ${e.writtenMiB} MiB`);
  if (e.redisCallsPerTask !== undefined) {
    const kept = e.redisMemoryPerKeptTask !== undefined ? `, ${e.redisMemoryPerKeptTask} B of memory kept` : "";
    parts.push(`Redis per task: ${e.redisCallsPerTask} commands, ${e.redisNetBytesPerTask} B on the wire${kept}`);
  }
  if (e.baseRssMiB !== undefined && r.group === "4") parts.push(`RSS ${e.baseRssMiB} MiB at start`);
  if (e.cpuMs !== undefined && r.ms) parts.push(`cpu ${e.cpuMs} ms (${(Number(e.cpuMs) / r.ms).toFixed(1)} cores)`);
  if (r.runsMs.length > 1) parts.push(`runs ${r.runsMs.map((t) => Math.round(t)).join("/")} ms`);
  return parts.join("; ");
}

export function markdown(info: RunInfo, results: Result[]): string {
  const lines: string[] = [];
  lines.push(`# zarrflow benchmark (${info.mode})`);
  lines.push("");
  lines.push(
    `${info.date} · Node ${info.node} · ${info.cpus} CPUs (${info.cpuModel}) · ${info.memoryGiB} GiB RAM · ` +
      `${info.statistic} · load average ${info.loadavgStart.map((l) => l.toFixed(2)).join(" ")} at start, ` +
      `${info.loadavgEnd.map((l) => l.toFixed(2)).join(" ")} at end · ${Math.round(info.durationS)} s in all`,
  );
  lines.push("");
  lines.push("Data on local disk (FileSystemStore; zarrita's @zarrita/storage FileSystemStore), warm page cache. Peak RSS is the whole workload process (`process.resourceUsage().maxRSS`), input data included for writes.");
  for (const group of Object.keys(GROUP_TITLES)) {
    const rows = results.filter((r) => r.group === group);
    if (PEER_GROUP_TITLES[group]) {
      if (rows.length) lines.push("", ...peerTable(PEER_GROUP_TITLES[group], rows));
      continue;
    }
    if (!rows.length) continue;
    lines.push("");
    lines.push(`## ${GROUP_TITLES[group]}`);
    lines.push("");
    lines.push("| workload | impl | MiB/s | ms | peak RSS MiB | ratio | notes |");
    lines.push("|---|---|--:|--:|--:|---|---|");
    for (const r of rows) {
      lines.push(`| ${r.workload} | ${r.impl} | ${fmt(r.mibps)} | ${fmt(r.ms, 1)} | ${fmt(r.peakRssMiB)} | ${ratioText(r)} | ${noteText(r)} |`);
    }
  }
  lines.push("");
  return lines.join("\n");
}

export function json(info: RunInfo, results: Result[]): string {
  const round = (n: number | null, d = 2) => (n === null || !Number.isFinite(n) ? null : Math.round(n * 10 ** d) / 10 ** d);
  return JSON.stringify(
    {
      ...info,
      results: results.map((r) => ({
        group: r.group,
        workload: r.workload,
        impl: r.impl,
        mibps: round(r.mibps, 1),
        ms: round(r.ms, 1),
        peakRssMiB: round(r.peakRssMiB, 1),
        ratio: r.ratios ? round(Object.values(r.ratios)[0], 3) : null,
        ratios: r.ratios ? Object.fromEntries(Object.entries(r.ratios).map(([k, v]) => [k, round(v, 3)])) : undefined,
        runsMs: r.runsMs,
        note: r.note,
        extra: r.extra,
      })),
    },
    null,
    2,
  );
}
