/**
 * Workload 10 (issue 15): workload 6's sharded 256 MiB array read from an S3 server (s3rver,
 * started here in its own process) through the delay proxy (10 ms before each request):
 * zarrflow's S3Store (signed requests, concurrency 8 and 32) against zarrita's FetchStore on the
 * same bucket (anonymous path-style URLs, which s3rver serves). The proxy counts requests.
 *
 * s3rver answers a suffix range (`bytes=-n`) from the start of the object. S3Store notices
 * (the Content-Range check) on its first shard index and reads indexes by HEAD + range from
 * then on, which is what zarrita's FetchStore does by default: both pay a HEAD per index.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import FetchStore from "@zarrita/storage/fetch";
import * as zarr from "zarrita";
import { openArray, type ZarrArray } from "../../src/index.js";
import { S3Store } from "../../stores/s3.js";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "../../test/helpers/s3rver.js";
import { LATENCY_MS, MiB, nbytes, type Job, type Sizes } from "./config.js";
import { verify } from "./data.js";
import { startProxy, type Proxy } from "./http.js";
import { notAvailable, result, timeRuns, type Result, type Timing } from "./measure.js";
import type { ProxyStats } from "./delay-proxy.js";
import { coalesced, shardedDatasets, zarritaOpen, type ZarritaRangeStore } from "./sharded.js";

const BUCKET = "bench";
const PREFIX = "sharded";

const implLabel: Record<string, string> = {
  "zarrflow-c8": "zarrflow S3Store, concurrency 8",
  "zarrflow-c32": "zarrflow S3Store, concurrency 32",
  zarrita: "zarrita FetchStore",
  "zarrita-coalesce": "zarrita FetchStore + withRangeCoalescing",
};

type Chunk = { data: ArrayLike<number>; shape: number[] };

/** Uploads every file of the dataset folder (the array at `<prefix>/<codec>`). */
async function upload(root: string, endpoint: string): Promise<void> {
  const store = new S3Store(`s3://${BUCKET}/${PREFIX}`, { endpoint, credentials: S3RVER_CREDENTIALS, env: {} });
  try {
    const files = (await readdir(root, { withFileTypes: true, recursive: true })).filter((e) => e.isFile());
    for (let i = 0; i < files.length; i += 4) {
      await Promise.all(
        files.slice(i, i + 4).map(async (f) => {
          const file = join(f.parentPath, f.name);
          await store.set(relative(root, file).split("\\").join("/"), new Uint8Array(await readFile(file)));
        }),
      );
    }
  } finally {
    await store.close();
  }
}

export async function s3Read(job: Job, s: Sizes): Promise<Result> {
  const { root, spec } = shardedDatasets(s).sharded;
  const bytes = nbytes(spec.shape);
  const label = `read ${Math.round(bytes / MiB)} MiB [${spec.shape}] shards [${spec.shards}] inner [${spec.chunks}] zstd-1 from s3rver, +${LATENCY_MS} ms/request`;
  const impl = implLabel[job.impl];
  let s3: S3Server | undefined;
  let proxy: Proxy | undefined;
  let zarrflowStore: S3Store | undefined;
  try {
    s3 = await startS3rver([BUCKET]);
    await upload(root, s3.endpoint);
    proxy = await startProxy(s3.port, LATENCY_MS);
    const endpoint = `http://127.0.0.1:${proxy.port}`;
    let counts: ProxyStats | undefined;
    let times: Timing;
    let last: Chunk | undefined;
    if (job.impl.startsWith("zarrita")) {
      const plain = new FetchStore(`${endpoint}/${BUCKET}/${PREFIX}/`) as unknown as ZarritaRangeStore;
      const store = job.impl === "zarrita-coalesce" ? coalesced(plain) : plain;
      let arr: Awaited<ReturnType<typeof zarritaOpen>> | undefined;
      try {
        times = await timeRuns(job.runs, async () => (last = (await zarr.get(arr!, null)) as unknown as Chunk), {
          setup: async () => {
            arr = await zarritaOpen(store, spec.codec);
            await proxy!.reset();
          },
          teardown: async () => {
            counts = await proxy!.stats();
          },
        });
      } catch (error) {
        return notAvailable("15", label, impl, `zarrita: ${(error as Error).message.split("\n")[0]}`);
      }
    } else {
      const concurrency = job.impl === "zarrflow-c32" ? 32 : 8;
      zarrflowStore = new S3Store(`s3://${BUCKET}/${PREFIX}`, { endpoint, credentials: S3RVER_CREDENTIALS, env: {}, readOnly: true, connections: Math.max(16, concurrency) });
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
    }
    verify(last!.data, last!.shape, spec.shape);
    const c = counts!;
    const detail = [`${c.get} GET`, c.head ? `${c.head} HEAD` : "", `${c.ranged} ranged`].filter(Boolean).join(", ");
    return result("15", label, impl, times, bytes, {
      extra: { requests: c.requests, httpDetail: detail, maxInFlight: c.maxInFlight, newConnections: c.connections, readMiB: Math.round((c.bytes / MiB) * 10) / 10 },
    });
  } finally {
    await zarrflowStore?.close().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
  }
}
