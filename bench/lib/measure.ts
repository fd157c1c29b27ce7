/** Timing helpers and the result record every workload process reports. */

export interface Result {
  /** Workload number (1–5) and its table. */
  group: string;
  /** Row label, e.g. "read zstd-1". */
  workload: string;
  impl: string;
  /** Uncompressed MiB per second (median run), or null (n/a). */
  mibps: number | null;
  /** Median run in ms, or null (n/a). */
  ms: number | null;
  /** Every timed run, ms. */
  runsMs: number[];
  /** Peak resident set size of the workload's process (MiB). */
  peakRssMiB: number | null;
  /** This row compared with others: "zarrita" → 1.8 means 1.8× zarrita's throughput. */
  ratios?: Record<string, number>;
  note?: string;
  /** Workload-specific numbers (ideal time, compression ratio, …). */
  extra?: Record<string, number | string>;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function peakRssMiB(): number {
  // maxRSS is in kilobytes (KiB).
  return process.resourceUsage().maxRSS / 1024;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Wall-clock ms of each timed run, and the CPU ms the whole process (all threads) spent in it. */
export interface Timing {
  wall: number[];
  cpu: number[];
}

/**
 * One warm-up run, then `runs` timed runs of `body` (setup/teardown are not timed).
 */
export async function timeRuns<T>(
  runs: number,
  body: (run: number) => Promise<T>,
  hooks: { setup?: (run: number) => Promise<void>; teardown?: (run: number, value: T) => Promise<void> } = {},
): Promise<Timing> {
  const timing: Timing = { wall: [], cpu: [] };
  for (let run = 0; run <= runs; run++) {
    await hooks.setup?.(run);
    gc?.();
    const cpu = process.cpuUsage();
    const t = performance.now();
    const value = await body(run);
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    if (run > 0) {
      timing.wall.push(ms);
      timing.cpu.push((used.user + used.system) / 1000);
    }
    await hooks.teardown?.(run, value);
  }
  return timing;
}

export function result(
  group: string,
  workload: string,
  impl: string,
  timing: Timing,
  bytes: number,
  extra?: Partial<Result>,
): Result {
  const ms = median(timing.wall);
  return {
    group,
    workload,
    impl,
    mibps: bytes / (1 << 20) / (ms / 1000),
    ms,
    runsMs: timing.wall.map((t) => Math.round(t * 10) / 10),
    peakRssMiB: peakRssMiB(),
    ...extra,
    // CPU time of the whole process (every thread) per run: less sensitive to a busy machine than wall time.
    extra: { ...extra?.extra, cpuMs: Math.round(median(timing.cpu)) },
  };
}

export function notAvailable(group: string, workload: string, impl: string, note: string): Result {
  return { group, workload, impl, mibps: null, ms: null, runsMs: [], peakRssMiB: null, note };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
