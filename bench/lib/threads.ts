/** CPU time of this process's threads (Linux: /proc/self/task/<tid>/stat, in 10 ms ticks). */
import { readFileSync, readdirSync } from "node:fs";

const TICK_MS = 10;

/** User + system CPU ms of thread `tid` of this process, or undefined (no /proc, or it ended). */
export function threadCpuMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** CPU ms of every thread of this process, by thread id. */
export function threadTimes(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task").map(Number)) {
    const ms = threadCpuMs(tid);
    if (ms !== undefined) out.set(tid, ms);
  }
  return out;
}

/** One process as /proc tells it: its parent, its kind (see descendants), CPU ms and minor page faults. */
export interface ProcessStat {
  pid: number;
  ppid: number;
  kind: string;
  userMs: number;
  systemMs: number;
  minorFaults: number;
}

/** Process `pid` (all its threads), or undefined (no /proc, or it ended). */
function processStat(pid: number): ProcessStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    // Chromium names its children by --type (and --utility-sub-type: the network service).
    const type = /--type=([a-z-]+)/.exec(cmdline)?.[1];
    const sub = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1];
    const kind = type === undefined ? "main" : sub === "network.mojom.NetworkService" ? "network" : type;
    return { pid, ppid: Number(fields[1]), kind, userMs: Number(fields[11]) * TICK_MS, systemMs: Number(fields[12]) * TICK_MS, minorFaults: Number(fields[7]) };
  } catch {
    return undefined;
  }
}

/**
 * Every process descended from `root` (this process by default): for a browser launched from
 * here, Chromium's "main" (browser) process, "renderer", "network" (service), "gpu-process", …
 * Processes that ended are not listed; take it before and after and subtract.
 */
export function descendants(root = process.pid): ProcessStat[] {
  const all = new Map<number, ProcessStat>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = processStat(Number(name));
    if (info) all.set(info.pid, info);
  }
  const children = new Map<number, number[]>();
  for (const info of all.values()) children.set(info.ppid, [...(children.get(info.ppid) ?? []), info.pid]);
  const out: ProcessStat[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const info = all.get(stack.pop() as number);
    if (!info) continue;
    out.push(info);
    stack.push(...(children.get(info.pid) ?? []));
  }
  return out;
}

/** CPU ms of every process descended from `root`, summed by kind (see descendants). */
export function descendantCpuMs(root = process.pid): Map<string, number> {
  const out = new Map<string, number>();
  for (const info of descendants(root)) out.set(info.kind, (out.get(info.kind) ?? 0) + info.userMs + info.systemMs);
  return out;
}
