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

/** User + system CPU ms of process `pid` (all its threads), or undefined (no /proc, or it ended). */
function processCpu(pid: number): { ppid: number; ms: number; kind: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    // Chromium names its children by --type (and --utility-sub-type: the network service).
    const type = /--type=([a-z-]+)/.exec(cmdline)?.[1];
    const sub = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1];
    const kind = type === undefined ? "main" : sub === "network.mojom.NetworkService" ? "network" : type;
    return { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS, kind };
  } catch {
    return undefined;
  }
}

/**
 * CPU ms of every process descended from `root` (this process by default), summed by kind:
 * Chromium's "main" (browser) process, "renderer", "network" (service), "gpu-process", …
 * Processes that ended are not counted; take it before and after and subtract.
 */
export function descendantCpuMs(root = process.pid): Map<string, number> {
  const all = new Map<number, { ppid: number; ms: number; kind: string }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = processCpu(Number(name));
    if (info) all.set(Number(name), info);
  }
  const children = new Map<number, number[]>();
  for (const [pid, info] of all) children.set(info.ppid, [...(children.get(info.ppid) ?? []), pid]);
  const out = new Map<string, number>();
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop() as number;
    const info = all.get(pid);
    if (!info) continue;
    out.set(info.kind, (out.get(info.kind) ?? 0) + info.ms);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}
