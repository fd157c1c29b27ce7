/**
 * Workloads 10–12: zarrflow side by side with zarr-python 3 (its Batched and Fused codec
 * pipelines, through the zarr-python oracle: test/helpers/oracle.ts) and zarrita, on the same
 * files: a full write and a full read, unsharded and sharded.
 *
 * Each implementation runs in its own long-lived child process (bench/peer-node.ts,
 * bench/peer_zarr_python.py) that prepares once and then times one call per command; the
 * orchestrator sends the commands round by round, rotating the order in each round, so that
 * every implementation sees the same machine load on average ("alternating"). One warm-up
 * round, then `runs` timed rounds; the tables give medians of wall time and of CPU time (user
 * + sys of every thread of the child for that call).
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { findOracle, oracleProblem } from "../../test/helpers/oracle.js";
import type { PeerJob, PeerRun } from "../peer-node.js";
import { withHugePages } from "../../src/cli/hugepages.js";
import { CACHE_DIR, MiB, datasetRoot, nbytes, type ArraySpec } from "./config.js";
import { prepareArray, valueAt } from "./data.js";
import { median, notAvailable, type Result } from "./measure.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");

export interface PeerSet {
  group: string;
  title: string;
  shape: number[];
  chunks: number[];
  shards: number[];
  codec: string;
}

/** The three tables: the issue's workload, 1 MiB chunks at zstd-1, 16 KiB chunks. */
export function peerSets(quick: boolean): PeerSet[] {
  if (quick) {
    return [
      { group: "10", title: "64³ chunks, zstd-3 (quick: 256×256×64)", shape: [256, 256, 64], chunks: [64, 64, 64], shards: [256, 256, 64], codec: "zstd-3" },
    ];
  }
  return [
    { group: "10", title: "1024×1024×64 uint16 (128 MiB), 64³ chunks (512 KiB), zstd-3; shards 256×256×64", shape: [1024, 1024, 64], chunks: [64, 64, 64], shards: [256, 256, 64], codec: "zstd-3" },
    { group: "11", title: "512×512×512 uint16 (256 MiB), 1 MiB chunks (8×256×256), zstd-1; shards 32×512×512 (16 chunks)", shape: [512, 512, 512], chunks: [8, 256, 256], shards: [32, 512, 512], codec: "zstd-1" },
    { group: "12", title: "4096×4096 uint16 (32 MiB), 16 KiB chunks (64×128), zstd-1; shards 1024×1024 (128 chunks)", shape: [4096, 4096], chunks: [64, 128], shards: [1024, 1024], codec: "zstd-1" },
  ];
}

export const PEER_GROUP_TITLES: Record<string, string> = {
  "10": "10. Side by side with zarr-python (Batched, Fused) and zarrita: 64³ chunks, zstd-3 (CPU-s per call; ratios: MiB/s and CPU per MiB against Fused)",
  "11": "11. Side by side, 1 MiB chunks, zstd-1",
  "12": "12. Side by side, 16 KiB chunks, zstd-1",
};

interface Peer {
  label: string;
  run(): Promise<PeerRun>;
  close(): void;
}

function pythonPeer(python: string[], job: Record<string, unknown>, label: string): Promise<Peer> {
  return new Promise((resolvePeer, reject) => {
    const child = spawn(python[0], [...python.slice(1), join(repo, "bench", "peer_zarr_python.py"), JSON.stringify(job)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout! });
    const waiting: ((line: string) => void)[] = [];
    let ready = false;
    lines.on("line", (line) => {
      if (!ready) {
        ready = true;
        resolvePeer(peer);
        return;
      }
      waiting.shift()?.(line);
    });
    child.on("exit", (code) => {
      if (!ready) reject(new Error(`${label} exited with ${code} before it was ready`));
      for (const w of waiting.splice(0)) w(JSON.stringify({ error: `${label} exited with ${code}` }));
    });
    const peer: Peer = {
      label,
      run: () =>
        new Promise((done, fail) => {
          waiting.push((line) => {
            const answer = JSON.parse(line) as PeerRun & { error?: string };
            if (answer.error) fail(new Error(answer.error));
            else done(answer);
          });
          child.stdin!.write("run\n");
        }),
      close: () => {
        child.stdin!.end("quit\n");
      },
    };
  });
}

function nodePeer(job: PeerJob, label: string, env: NodeJS.ProcessEnv = process.env): Promise<Peer> {
  return new Promise((resolvePeer, reject) => {
    const child: ChildProcess = fork(join(repo, "bench", "peer-node.ts"), [JSON.stringify(job)], {
      cwd: repo,
      env,
      execArgv: ["--import", "tsx", "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let pending: { done: (r: PeerRun) => void; fail: (e: Error) => void } | undefined;
    let ready = false;
    child.on("message", (message: { ready?: boolean; run?: PeerRun; error?: string }) => {
      if (message.ready) {
        ready = true;
        resolvePeer(peer);
      } else if (message.error) {
        if (!ready) reject(new Error(message.error));
        pending?.fail(new Error(message.error));
      } else if (message.run) pending?.done(message.run);
    });
    child.on("exit", (code) => {
      if (!ready) reject(new Error(`${label} exited with ${code} before it was ready`));
      pending?.fail(new Error(`${label} exited with ${code}`));
    });
    const peer: Peer = {
      label,
      run: () =>
        new Promise((done, fail) => {
          pending = { done, fail };
          child.send("run");
        }),
      close: () => {
        if (child.connected) child.send("quit");
      },
    };
  });
}

/** A few elements of the source array with their expected values, for the Python peers' checks. */
function checks(shape: number[]): [number[], number][] {
  const corners = [shape.map(() => 0), shape.map((s) => s - 1), shape.map((s) => Math.floor(s / 3)), shape.map((s, d) => (d === 0 ? s - 1 : Math.floor(s / 2)))];
  return corners.map((c) => [c, valueAt(shape, c)]);
}

interface Row {
  label: string;
  runs: PeerRun[];
  error?: string;
}

/** Runs one workload (op × sharded) for every implementation, alternating, and returns its rows. */
async function runWorkload(set: PeerSet, op: "read" | "write", sharded: boolean, runs: number, log: (s: string) => void): Promise<Result[]> {
  const spec: ArraySpec = { shape: set.shape, chunks: set.chunks, codec: set.codec, ...(sharded ? { shards: set.shards } : {}) };
  const root = datasetRoot(`peers${sharded ? `-s${set.shards.join("x")}` : ""}`, set.shape, set.chunks);
  const seconds = await prepareArray(root, set.codec, spec);
  if (seconds > 0) log(`  generated ${root}/${set.codec} in ${seconds.toFixed(1)} s\n`);
  const out = join(CACHE_DIR, "tmp", String(process.pid), randomBytes(4).toString("hex"));
  await mkdir(out, { recursive: true });
  const label = `${op}, ${sharded ? "sharded" : "unsharded"}`;
  const bytes = nbytes(set.shape);
  const rows: Row[] = [];
  const peers: Peer[] = [];
  const python = findOracle()?.python;
  const base = { op, root, path: set.codec, shape: set.shape, chunks: set.chunks, codec: set.codec, ...(sharded ? { shards: set.shards } : {}) };
  const starters: [string, () => Promise<Peer>][] = [];
  for (const pipeline of ["batched", "fused"]) {
    const name = `zarr-python ${pipeline === "fused" ? "Fused" : "Batched"}`;
    if (python) {
      starters.push([name, () => pythonPeer(python, { pipeline, op, root, path: set.codec, out: join(out, pipeline), check: checks(set.shape) }, name)]);
    }
  }
  if (!(op === "write" && sharded)) starters.push(["zarrita 0.7", () => nodePeer({ ...base, impl: "zarrita", out: join(out, "zarrita") }, "zarrita 0.7")]);
  const plain = { ...process.env, GLIBC_TUNABLES: undefined };
  starters.push(["zarrflow", () => nodePeer({ ...base, impl: "zarrflow", out: join(out, "zarrflow") }, "zarrflow", plain)]);
  if (op === "read") {
    // As the zarrflow command and `npm start` run (a library user: one environment variable).
    const huge = "zarrflow, huge pages";
    starters.push([huge, () => nodePeer({ ...base, impl: "zarrflow" }, huge, withHugePages({ ...process.env, GLIBC_TUNABLES: undefined }))]);
    starters.push(["zarrflow, out reused", () => nodePeer({ ...base, impl: "zarrflow-out" }, "zarrflow, out reused")]);
  }
  try {
    for (const [name, start] of starters) {
      try {
        peers.push(await start());
        rows.push({ label: name, runs: [] });
      } catch (error) {
        rows.push({ label: name, runs: [], error: (error as Error).message.split("\n")[0] });
      }
    }
    const live = peers.map((peer) => ({ peer, row: rows.find((r) => r.label === peer.label)! }));
    for (let round = 0; round <= runs; round++) {
      // Rotate the order each round: no implementation always runs first (or right after another).
      for (let i = 0; i < live.length; i++) {
        const { peer, row } = live[(i + round) % live.length];
        if (row.error) continue;
        try {
          const r = await peer.run();
          if (round > 0) row.runs.push(r);
        } catch (error) {
          row.error = (error as Error).message.split("\n")[0];
        }
      }
    }
  } finally {
    for (const peer of peers) peer.close();
    await rm(out, { recursive: true, force: true });
  }
  const results: Result[] = [];
  if (!python) results.push(notAvailable(set.group, label, "zarr-python Batched / Fused", `skipped: ${oracleProblem()}`));
  for (const row of rows) {
    if (row.error || row.runs.length === 0) {
      results.push(notAvailable(set.group, label, row.label, row.error ?? "no runs"));
      continue;
    }
    const ms = median(row.runs.map((r) => r.wallMs));
    const cpuMs = median(row.runs.map((r) => r.cpuMs));
    const main = row.runs.every((r) => r.mainCpuMs !== undefined) ? median(row.runs.map((r) => r.mainCpuMs!)) : undefined;
    const faults = row.runs.every((r) => r.faults !== undefined) ? median(row.runs.map((r) => r.faults!)) : undefined;
    results.push({
      group: set.group,
      workload: label,
      impl: row.label,
      mibps: bytes / MiB / (ms / 1000),
      ms,
      runsMs: row.runs.map((r) => Math.round(r.wallMs * 10) / 10),
      peakRssMiB: null,
      extra: {
        cpuMs: Math.round(cpuMs),
        cpuSPerGiB: Math.round((cpuMs / 1000 / (bytes / 2 ** 30)) * 100) / 100,
        ...(main === undefined ? {} : { mainCpuMs: Math.round(main) }),
        ...(faults === undefined ? {} : { minorFaults: Math.round(faults) }),
        runsCpuMs: row.runs.map((r) => Math.round(r.cpuMs)).join(" "),
      },
    });
  }
  // zarrflow against Fused: throughput (target ≥ 1.2) and CPU per MiB (target ≤ 1).
  const fused = results.find((r) => r.workload === label && r.impl === "zarr-python Fused" && r.mibps !== null);
  for (const r of results) {
    if (!fused || !r.impl.startsWith("zarrflow") || r.mibps === null) continue;
    r.ratios = { "Fused MiB/s": r.mibps / fused.mibps!, "Fused CPU": Number(r.extra!.cpuMs) / Number(fused.extra!.cpuMs) };
  }
  return results;
}

/** Every side-by-side table. */
export async function runPeers(quick: boolean, runs: number, log: (s: string) => void, only?: string[], ops: ("read" | "write")[] = ["write", "read"]): Promise<Result[]> {
  const results: Result[] = [];
  for (const set of peerSets(quick)) {
    if (only && !only.includes(set.group)) continue;
    for (const op of ops) {
      for (const sharded of [false, true]) {
        const t = performance.now();
        log(`[peers ${set.group}] ${op} ${sharded ? "sharded" : "unsharded"} … `);
        const rows = await runWorkload(set, op, sharded, runs, log);
        log(`${((performance.now() - t) / 1000).toFixed(1)} s: ${rows.map((r) => `${r.impl} ${r.mibps === null ? "n/a" : r.mibps.toFixed(0)}`).join(", ")}\n`);
        results.push(...rows);
      }
    }
  }
  return results;
}
