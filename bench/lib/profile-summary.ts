/**
 * Summarises V8 .cpuprofile files (node --cpu-prof; one per thread, workers included): self time
 * per function (name and file), top N per profile, plus the profile's total and idle time.
 *
 *   npx tsx bench/lib/profile-summary.ts DIR [top]
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [dir, topArg = "15"] = process.argv.slice(2);
for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort()) {
  const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(id)!;
    const url = n.callFrame.url ? basename(n.callFrame.url) : "";
    const name = `${n.callFrame.functionName || "(anonymous)"}${url ? ` ${url}:${n.callFrame.lineNumber + 1}` : ""}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  const idle = self.get("(idle)") ?? 0;
  console.log(`\n${file}: ${Math.round(total)} ms sampled, ${Math.round(total - idle)} ms busy`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) {
    if (name === "(idle)") continue;
    console.log(`  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
  }
}
