/**
 * The no-leak check of the fault tests, as a process of its own: runs reads, writes, streamed
 * copies, aborts and hangs over a FaultStore on a FileSystemStore, with a worker pool (one of
 * whose workers is killed mid-task), then returns from its top level without closing anything.
 * The parent requires it to exit by itself (no worker, timer or handle keeps it alive) and reads
 * its last line: a JSON report, including the files under the store that it still has open.
 *
 *   node --import tsx test/helpers/faults-child.ts <seed>
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { slice, type ZarrArray } from "../../src/index.js";
import { WorkerPool } from "../../operators/pool.js";
import { FaultStore, FileSystemStore } from "../../stores/index.js";
import { LAYOUTS, createArray, randomBox } from "./faults.js";
import { prng } from "./prng.js";

const seed = Number(process.argv[2] ?? 1);
const rnd = prng(seed);
const dir = mkdtempSync(join(tmpdir(), "zarrflow-faults-child-"));
const report = { operations: 0, failed: 0, hangs: 0, workerDeaths: 0, openFilesUnderStore: [] as string[] };

async function attempt(run: Promise<unknown>): Promise<void> {
  report.operations++;
  await run.catch(() => void report.failed++);
}

const pool = new WorkerPool({ size: 2 });
const fsStore = new FileSystemStore(dir);
for (const [n, layout] of LAYOUTS.entries()) {
  const store = new FaultStore(fsStore, { seed: seed + n, rate: 0.1, kinds: { error: 3, lost: 1, delay: 2, hang: 1 }, maxDelayMs: 3 });
  store.enabled = false;
  const source = await createArray(store, `s${n}`, layout);
  const destination = await createArray(store, `d${n}`, layout);
  await source.write(null, Int32Array.from({ length: 40 * 30 }, (_, i) => i), { workers: 0 });
  store.enabled = true;
  for (let op = 0; op < 12; op++) {
    const controller = new AbortController();
    const { selection } = randomBox(rnd);
    const workers = op % 2 === 0 ? 0 : undefined;
    const options = { signal: controller.signal, ...(workers === 0 ? { workers: 0 } : { pool }) };
    const runs: Promise<unknown>[] = [
      destination.write(selection, op, options),
      source.read(selection, options),
      copy(source, destination, controller.signal),
    ];
    const all = Promise.all(runs.map(attempt));
    // Hangs end only by the abort: give every operation a deadline.
    let done = false;
    void all.then(() => (done = true));
    for (let waited = 0; !done && waited < 200; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    if (store.hanging > 0) report.hangs++;
    controller.abort();
    await all;
  }
}

// A worker dies with a task in flight; the pool replaces it.
{
  const store = new FileSystemStore(dir);
  const big = await createArray(store, "big", { name: "big", options: { chunks: [1, 30], codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "gzip", configuration: { level: 9 } }] }, unit: [1, 30] });
  await big.write(null, 1, { workers: 0 });
  const slots = await (pool as unknown as { start(): Promise<{ inFlight: number; handle: { terminate(): Promise<void> } }[]> }).start();
  const reading = big.read(null, { pool });
  for (let i = 0; i < 10_000 && !slots.some((s) => s.inFlight > 0); i++) await new Promise((resolve) => setImmediate(resolve));
  const busy = slots.find((s) => s.inFlight > 0);
  if (busy) {
    await busy.handle.terminate();
    report.workerDeaths++;
  }
  await attempt(reading);
  await attempt(big.read(null, { pool }));
}

async function copy(source: ZarrArray, destination: ZarrArray, signal: AbortSignal): Promise<void> {
  await source
    .readChunks(null, { workers: 0, signal })
    .pipeThrough(new TransformStream({ transform: (c, ctl) => ctl.enqueue({ selection: c.region.map((r) => slice(r.start, r.start + r.count)), data: c.data }) }))
    .pipeTo(destination.writer({ workers: 0, signal }), { signal });
}

// File descriptors of this process that point into the store: there must be none left.
for (const fd of readdirSync("/proc/self/fd")) {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    if (target.startsWith(dir)) report.openFilesUnderStore.push(target);
  } catch {
    // closed between readdir and readlink
  }
}
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(report)}\n`);
// No process.exit and no pool.close(): the process must wind down on its own.
