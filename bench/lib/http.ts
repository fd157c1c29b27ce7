/**
 * Workload 9 (issue 5): a 256 MiB array read over HTTP from nginx, through a proxy that adds
 * 10 ms before forwarding each request. zarrflow's HttpStore (concurrency 8 and 32) against
 * zarrita's FetchStore, plain and wrapped in `zarr.withRangeCoalescing`; an unsharded array
 * (1 MiB chunks, zstd-1: workload 1's) and a sharded one (workload 6's).
 *
 * Each workload process starts its own nginx (test/helpers/nginx.ts: the Debian build on a
 * free loopback port, serving the bench cache folder read-only at /cache/) and its own delay
 * proxy (delay-proxy.ts, a separate process so its work never runs on the measured event loop).
 * The proxy counts the requests that reach it; the notes give them for one read.
 */
import { fork, type ChildProcess } from "node:child_process";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import FetchStore from "@zarrita/storage/fetch";
import * as zarr from "zarrita";
import { openArray, type ZarrArray } from "../../src/index.js";
import { HttpStore } from "../../stores/http.js";
import { startNginx, type Nginx } from "../../test/helpers/nginx.js";
import { CACHE_DIR, LATENCY_MS, MiB, datasetRoot, nbytes, type ArraySpec, type Job, type Sizes } from "./config.js";
import { verify } from "./data.js";
import { notAvailable, result, timeRuns, type Result, type Timing } from "./measure.js";
import type { ProxyStats } from "./delay-proxy.js";
import { coalesced, shardedDatasets, zarritaOpen, type ZarritaRangeStore } from "./sharded.js";

const here = dirname(fileURLToPath(import.meta.url));

export interface Proxy {
  port: number;
  stats(): Promise<ProxyStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts delay-proxy.ts in its own process in front of `upstreamPort`. */
export async function startProxy(upstreamPort: number, delayMs: number): Promise<Proxy> {
  const child: ChildProcess = fork(join(here, "delay-proxy.ts"), [String(upstreamPort), String(delayMs)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = <T>(message: string, field: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (m && field in m) {
          child.off("message", onMessage);
          child.off("exit", onExit);
          resolve(m[field] as T);
        }
      };
      const onExit = (code: number | null) => reject(new Error(`delay proxy exited (${code})`));
      child.on("message", onMessage);
      child.once("exit", onExit);
      if (message) child.send(message);
    });
  const port = await ask<number>("", "port");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    port,
    stats: () => ask<ProxyStats>("stats", "stats"),
    reset: () => ask<boolean>("reset", "reset").then(() => undefined),
    async stop() {
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const implLabel: Record<string, string> = {
  "zarrflow-c8": "zarrflow HttpStore, concurrency 8",
  "zarrflow-c32": "zarrflow HttpStore, concurrency 32",
  zarrita: "zarrita FetchStore",
  "zarrita-coalesce": "zarrita FetchStore + withRangeCoalescing",
};

type Chunk = { data: ArrayLike<number>; shape: number[] };

export async function httpRead(job: Job, s: Sizes): Promise<Result> {
  const sharded = job.variant === "sharded";
  let root: string;
  let spec: ArraySpec;
  if (sharded) ({ root, spec } = shardedDatasets(s).sharded);
  else {
    root = datasetRoot("full", s.full.shape, s.full.chunks);
    spec = { shape: s.full.shape, chunks: s.full.chunks, codec: "zstd-1" };
  }
  const bytes = nbytes(spec.shape);
  const layout = sharded ? `shards [${spec.shards}] inner [${spec.chunks}]` : `chunks [${spec.chunks}]`;
  const label = `read ${Math.round(bytes / MiB)} MiB [${spec.shape}] ${layout} zstd-1 from nginx, +${LATENCY_MS} ms/request`;
  const impl = implLabel[job.impl];

  let nginx: Nginx | undefined;
  let proxy: Proxy | undefined;
  let zarrflowStore: HttpStore | undefined;
  try {
    try {
      nginx = await startNginx({ readOnly: { "/cache/": CACHE_DIR } });
    } catch (error) {
      return notAvailable("9", label, impl, `nginx did not start: ${(error as Error).message.split("\n")[0]}`);
    }
    proxy = await startProxy(nginx.port, LATENCY_MS);
    const base = `http://127.0.0.1:${proxy.port}/cache/${relative(CACHE_DIR, root).split("\\").join("/")}/`;
    let counts: ProxyStats | undefined;
    let times: Timing;
    let last: Chunk | undefined;
    const extra: Record<string, number | string> = {};

    if (job.impl.startsWith("zarrita")) {
      const plain = new FetchStore(base) as unknown as ZarritaRangeStore;
      const store = job.impl === "zarrita-coalesce" ? coalesced(plain) : plain;
      let arr: Awaited<ReturnType<typeof zarritaOpen>> | undefined;
      try {
        times = await timeRuns(job.runs, async () => (last = (await zarr.get(arr!, null)) as unknown as Chunk), {
          // A fresh Array per run (zarrita caches shard indexes on it), opened before the clock starts.
          setup: async () => {
            arr = await zarritaOpen(store, spec.codec);
            await proxy!.reset();
          },
          teardown: async () => {
            counts = await proxy!.stats();
          },
        });
      } catch (error) {
        return notAvailable("9", label, impl, `zarrita: ${(error as Error).message.split("\n")[0]}`);
      }
    } else {
      const concurrency = job.impl === "zarrflow-c32" ? 32 : 8;
      // HttpStore's pool: at least the read's concurrency (its default is 16 connections).
      zarrflowStore = new HttpStore(base, { readOnly: true, connections: Math.max(16, concurrency) });
      const array: ZarrArray = await openArray(zarrflowStore, { path: spec.codec });
      times = await timeRuns(
        job.runs,
        async () => {
          last = undefined;
          last = (await array.read(null, { concurrency })) as Chunk;
        },
        {
          setup: () => proxy!.reset(),
          teardown: async () => {
            counts = await proxy!.stats();
          },
        },
      );
      extra.ranOn = (last as unknown as { data: Uint16Array }).data.buffer instanceof SharedArrayBuffer ? "pool" : "inline";
    }
    verify(last!.data, last!.shape, spec.shape);
    const c = counts!;
    const detail = [`${c.get} GET`, c.head ? `${c.head} HEAD` : "", `${c.ranged} ranged`, c.multiRange ? `${c.multiRange} multi-range` : ""].filter(Boolean).join(", ");
    return result("9", label, impl, times, bytes, {
      extra: { ...extra, requests: c.requests, httpDetail: detail, maxInFlight: c.maxInFlight, newConnections: c.connections, readMiB: Math.round((c.bytes / MiB) * 10) / 10 },
    });
  } finally {
    await zarrflowStore?.close().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    await nginx?.stop().catch(() => undefined);
  }
}
