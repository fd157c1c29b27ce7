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
