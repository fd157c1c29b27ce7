/**
 * Workloads 6–8: sharded arrays (issue 4).
 *
 *  6 `sharded-read`  — full read of a sharded zstd-1 array (and a partial slab through a 10 ms
 *                      store): zarrflow vs zarrita, plain and with `zarr.withRangeCoalescing`,
 *                      with the store requests each read makes;
 *  7 `shard-latency` — the time to read one inner chunk, zarrflow vs zarrita with a cold and a
 *                      warm shard index, on local disk and through a 10 ms store;
 *  8 `shard-patch`   — writing one inner chunk into an existing dense (uncompressed) shard:
 *                      zarrflow's in-place setRange patch vs its full rewrite, bytes counted.
 *
 * Every store is wrapped in a counter (zarrflow's CountingStore; ZarritaCounter for zarrita)
 * so the rows report what each library asked the store for.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import ZarritaFileSystemStore from "@zarrita/storage/fs";
import * as zarr from "zarrita";
import { openArray, slice, type ZarrArray } from "../../src/index.js";
import { CountingStore, FileSystemStore, LatencyStore, type ByteRange, type Store, type StoreCallOptions } from "../../stores/index.js";
import { CACHE_DIR, LATENCY_MS, MiB, datasetRoot, nbytes, type ArraySpec, type Job, type Sizes } from "./config.js";
import { prepareArray, valueAt, verify } from "./data.js";
import { median, notAvailable, result, sleep, timeRuns, type Result, type Timing } from "./measure.js";

type AbsolutePath = `/${string}`;
type RangeQuery = { offset: number; length: number } | { suffixLength: number };
type ZrGetOptions = { signal?: AbortSignal };

/** The sharded datasets: a zstd-1 array for reads, an uncompressed one-shard array for patches. */
export function shardedDatasets(s: Sizes): { sharded: { root: string; spec: ArraySpec }; patch: { root: string; spec: ArraySpec } } {
  const { sharded: sh, shardPatch: sp } = s;
  return {
    sharded: {
      root: datasetRoot(`sharded-s${sh.shards.join("x")}`, sh.shape, sh.chunks),
      spec: { shape: sh.shape, chunks: sh.chunks, shards: sh.shards, codec: "zstd-1" },
    },
    patch: {
      root: datasetRoot(`shardpatch-s${sp.shards.join("x")}`, sp.shape, sp.chunks),
      spec: { shape: sp.shape, chunks: sp.chunks, shards: sp.shards, codec: "none" },
    },
  };
}

/** Generates the sharded datasets unless cached (see data.ts prepareArray). */
export async function prepareSharded(s: Sizes, which: ("sharded" | "patch")[]): Promise<void> {
  const ds = shardedDatasets(s);
  for (const name of which) {
    const { root, spec } = ds[name];
    const seconds = await prepareArray(root, spec.codec, spec);
    if (seconds > 0) process.stderr.write(`  generated ${root}/${spec.codec} [${spec.shape}] shards [${spec.shards}] in ${seconds.toFixed(1)} s\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Store wrappers

/** zarrita's store interface as its sharding reader uses it (get + getRange). */
export interface ZarritaRangeStore {
  get(key: AbsolutePath, opts?: ZrGetOptions): Promise<Uint8Array | undefined>;
  getRange(key: AbsolutePath, range: RangeQuery, opts?: ZrGetOptions): Promise<Uint8Array | undefined>;
}

/**
 * Counts every request a zarrita store receives (and optionally delays each by `latencyMs`,
 * the same model as zarrflow's LatencyStore). Put it *under* withRangeCoalescing so it counts
 * the requests that reach the store, not the ones the array asked the coalescer for.
 */
export class ZarritaCounter implements ZarritaRangeStore {
  gets = 0;
  ranges = 0;
  suffixRanges = 0;
  bytes = 0;
  constructor(
    readonly inner: ZarritaRangeStore,
    readonly latencyMs = 0,
  ) {}

  get requests(): number {
    return this.gets + this.ranges + this.suffixRanges;
  }

  reset(): void {
    this.gets = this.ranges = this.suffixRanges = this.bytes = 0;
  }

  async get(key: AbsolutePath, opts?: ZrGetOptions): Promise<Uint8Array | undefined> {
    if (this.latencyMs) await sleep(this.latencyMs);
    this.gets++;
    const bytes = await this.inner.get(key, opts);
    this.bytes += bytes?.byteLength ?? 0;
    return bytes;
  }

  async getRange(key: AbsolutePath, range: RangeQuery, opts?: ZrGetOptions): Promise<Uint8Array | undefined> {
    if (this.latencyMs) await sleep(this.latencyMs);
    if ("suffixLength" in range) this.suffixRanges++;
    else this.ranges++;
    const bytes = await this.inner.getRange(key, range, opts);
    this.bytes += bytes?.byteLength ?? 0;
    return bytes;
  }
}

export function zarritaFs(root: string): ZarritaRangeStore {
  return new ZarritaFileSystemStore(root) as unknown as ZarritaRangeStore;
}

/** zarrita's own range coalescing (zarrita ≥ 0.7), default options (coalesceSize 32 KiB). */
export function coalesced(store: ZarritaRangeStore): ZarritaRangeStore {
  return zarr.withRangeCoalescing(store as never) as unknown as ZarritaRangeStore;
}

type ZrArray = zarr.Array<zarr.DataType, zarr.Readable>;

export async function zarritaOpen(store: ZarritaRangeStore, path: string): Promise<ZrArray> {
  return zarr.open(zarr.root(store as never).resolve(path), { kind: "array" }) as Promise<ZrArray>;
}

type Chunk = { data: ArrayLike<number>; shape: number[] };

/** Counts of a zarrflow CountingStore: calls, the byte ranges they asked for, bytes moved. */
export function zarrflowCounts(store: CountingStore): { requests: number; ranges: number; readMiB: number; writtenMiB: number; sets: number; setRanges: number } {
  let ranges = 0;
  for (const c of store.calls) {
    if (c.method === "get") ranges++;
    else if (c.method === "getRanges") ranges += Array.isArray(c.range) ? c.range.length : 1;
  }
  const round = (n: number) => Math.round((n / MiB) * 1000) / 1000;
  return {
    requests: store.count("get") + store.count("getRanges") + store.count("set") + store.count("setRange") + store.count("delete"),
    ranges,
    readMiB: round(store.bytes("get") + store.bytes("getRanges")),
    writtenMiB: round(store.bytes("set") + store.bytes("setRange")),
    sets: store.count("set"),
    setRanges: store.count("setRange"),
  };
}

/** A store with every capability of `inner` except `setRange`: forces a shard write to rewrite. */
export function withoutSetRange(inner: Store): Store {
  const out: Store = { get: (key: string, range?: ByteRange, options?: StoreCallOptions) => inner.get(key, range, options) };
  if (inner.set) out.set = inner.set.bind(inner);
  if (inner.delete) out.delete = inner.delete.bind(inner);
  if (inner.list) out.list = inner.list.bind(inner);
  if (inner.getRanges) out.getRanges = inner.getRanges.bind(inner);
  if (inner.size) out.size = inner.size.bind(inner);
  return out;
}

async function scratch(): Promise<string> {
  const dir = join(CACHE_DIR, "tmp", String(process.pid), randomBytes(4).toString("hex"));
  await mkdir(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// 6: full (and slab) read of a sharded array

const readImplLabel: Record<string, string> = {
  "zarrflow-inline": "zarrflow workers:0",
  "zarrflow-auto": "zarrflow workers:auto",
  zarrita: "zarrita",
  "zarrita-coalesce": "zarrita withRangeCoalescing",
};

/** Bounds [start, stop) per dimension as a zarrflow and as a zarrita selection. */
function selections(bounds: [number, number][]): { zf: ReturnType<typeof slice>[]; zr: zarr.Slice[] } {
  return { zf: bounds.map(([a, b]) => slice(a, b)), zr: bounds.map(([a, b]) => zarr.slice(a, b)) };
}

export async function shardedRead(job: Job, s: Sizes): Promise<Result> {
  const { root, spec } = shardedDatasets(s).sharded;
  const variant = job.variant ?? "local";
  const latency = variant === "local" ? 0 : LATENCY_MS;
  const slab = variant === "slab-latency";
  // The slab: every row, one inner chunk's width of the first columns.
  const shape = slab ? [spec.shape[0], spec.shape[1], spec.chunks[2]] : spec.shape;
  const sel = slab ? selections(shape.map((n) => [0, n])) : { zf: null, zr: null };
  const bytes = nbytes(shape);
  const perShard = spec.shards!.reduce((n, x, d) => n * (x / spec.chunks[d]), 1);
  const shards = spec.shape.reduce((n, x, d) => n * Math.ceil(x / spec.shards![d]), 1);
  const what = slab ? `read slab [:, :, 0:${shape[2]}] (${Math.round(bytes / MiB)} MiB)` : `full read (${Math.round(bytes / MiB)} MiB)`;
  const label = `${what} of [${spec.shape}] shards [${spec.shards}] inner [${spec.chunks}] zstd-1${latency ? `, +${latency} ms/request` : ""}`;
  const impl = readImplLabel[job.impl];
  const extra: Record<string, number | string> = { shards, innerPerShard: perShard };
  let counts: Record<string, number> = {};
  let times: Timing;

  if (job.impl.startsWith("zarrita")) {
    const counter = new ZarritaCounter(zarritaFs(root), latency);
    const store = job.impl === "zarrita-coalesce" ? coalesced(counter) : counter;
    let last: Chunk | undefined;
    try {
      // A fresh Array per run (opened before the clock starts): zarrita caches shard indexes
      // on the Array, and a user reading an array once starts with none.
      let arr: ZrArray | undefined;
      times = await timeRuns(
        job.runs,
        async () => {
          last = (await zarr.get(arr!, sel.zr)) as unknown as Chunk;
        },
        {
          setup: async () => {
            arr = await zarritaOpen(store, spec.codec);
            counter.reset();
          },
          teardown: async () => {
            counts = { requests: counter.requests, indexRequests: counter.suffixRanges, rangeRequests: counter.ranges, readMiB: Math.round((counter.bytes / MiB) * 1000) / 1000 };
          },
        },
      );
      verify(last!.data, last!.shape, spec.shape);
    } catch (error) {
      return notAvailable("6", label, impl, `zarrita: ${(error as Error).message.split("\n")[0]}`);
    }
  } else {
    const counter = new CountingStore(new FileSystemStore(root));
    const store = latency ? new LatencyStore(counter, latency) : counter;
    const array = await openArray(store, { path: spec.codec });
    const workers = job.impl === "zarrflow-inline" ? 0 : "auto";
    let last: Awaited<ReturnType<ZarrArray["read"]>> | undefined;
    times = await timeRuns(
      job.runs,
      async () => {
        last = undefined;
        last = await array.read(sel.zf, { workers });
      },
      {
        setup: async () => counter.reset(),
        teardown: async () => {
          const c = zarrflowCounts(counter);
          counts = { requests: c.requests, ranges: c.ranges, readMiB: c.readMiB };
        },
      },
    );
    verify(last!.data as Uint16Array, last!.shape, spec.shape);
    extra.ranOn = last!.data.buffer instanceof SharedArrayBuffer ? "pool" : "inline";
  }
  return result("6", label, impl, times, bytes, { extra: { ...extra, ...counts } });
}

// ---------------------------------------------------------------------------------------------
// 7: single inner chunk read latency

/** Inner chunk origins, cycling through every inner chunk of the last shard. */
function innerOrigins(spec: ArraySpec): number[][] {
  const shards = spec.shards!;
  const base = spec.shape.map((x, d) => (Math.ceil(x / shards[d]) - 1) * shards[d]);
  const per = shards.map((x, d) => x / spec.chunks[d]);
  const out: number[][] = [];
  for (let i = 0; i < per.reduce((a, b) => a * b, 1); i++) {
    let rest = i;
    const coords = new Array<number>(per.length);
    for (let d = per.length - 1; d >= 0; d--) {
      coords[d] = base[d] + (rest % per[d]) * spec.chunks[d];
      rest = Math.floor(rest / per[d]);
    }
    out.push(coords);
  }
  return out;
}

const latencyImplLabel: Record<string, string> = {
  zarrflow: "zarrflow (opened array)",
  "zarrita-cold": "zarrita, cold index (new Array per read)",
  "zarrita-warm": "zarrita, warm index (cached on the Array)",
};

export async function shardLatency(job: Job, s: Sizes): Promise<Result> {
  const { root, spec } = shardedDatasets(s).sharded;
  const latency = job.variant === "latency" ? LATENCY_MS : 0;
  const reads = latency ? (job.quick ? 5 : 25) : job.quick ? 20 : 200;
  const origins = innerOrigins(spec);
  const bytes = nbytes(spec.chunks);
  const label = `read 1 inner chunk [${spec.chunks}] (${bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / 1024} KiB`}) of a sharded zstd-1 array${latency ? `, +${latency} ms/request` : ""}`;
  const impl = latencyImplLabel[job.impl];
  const selectionOf = (o: number[]) => selections(o.map((x, d) => [x, x + spec.chunks[d]]));

  // One timed run = `reads` reads one after another; the run's value is the median read.
  let readOne: (n: number) => Promise<Chunk>;
  let requests: () => number;
  let reset: () => void;
  if (job.impl.startsWith("zarrita")) {
    const counter = new ZarritaCounter(zarritaFs(root), latency);
    const metadata = JSON.parse(await readFile(join(root, spec.codec, "zarr.json"), "utf8")) as zarr.ArrayMetadata<zarr.DataType>;
    const warm = await zarritaOpen(counter, spec.codec);
    const path = warm.path;
    readOne = async (n) => {
      const arr = job.impl === "zarrita-cold" ? new zarr.Array(counter as never, path, metadata) : warm;
      return (await zarr.get(arr, selectionOf(origins[n % origins.length]).zr)) as unknown as Chunk;
    };
    requests = () => counter.requests;
    reset = () => counter.reset();
  } else {
    const counter = new CountingStore(new FileSystemStore(root));
    const store = latency ? new LatencyStore(counter, latency) : counter;
    const array = await openArray(store, { path: spec.codec });
    readOne = async (n) => (await array.read(selectionOf(origins[n % origins.length]).zf)) as Chunk;
    requests = () => zarrflowCounts(counter).requests;
    reset = () => counter.reset();
  }
  // The warm row's index is loaded by the warm-up run; every other read pays for its own.
  const timing: Timing = { wall: [], cpu: [] };
  let perRead = 0;
  const raw = await timeRuns(job.runs, async () => {
    const each: number[] = [];
    reset();
    for (let n = 0; n < reads; n++) {
      const t = performance.now();
      const got = await readOne(n);
      each.push(performance.now() - t);
      verify(got.data, got.shape, spec.shape, origins[n % origins.length], 64);
    }
    perRead = requests() / reads;
    return median(each);
  }, {
    teardown: async (run, value) => {
      if (run > 0) timing.wall.push(value);
    },
  });
  timing.cpu = raw.cpu.map((c) => c / reads);
  const r = result("7", label, impl, timing, bytes, { extra: { reads, requestsPerRead: Math.round(perRead * 100) / 100 } });
  r.note = `median of ${reads} reads per run`;
  if (latency) {
    const ideal = Math.round(perRead) * latency;
    r.extra = { ...r.extra, idealMs: ideal };
    r.ratios = { [`time / ideal ${ideal} ms (${Math.round(perRead)} sequential requests)`]: r.ms! / ideal };
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// 8: partial-shard write, in-place patch vs rewrite

const patchImplLabel: Record<string, string> = {
  "zarrflow-patch": "zarrflow patch (setRange)",
  "zarrflow-rewrite": "zarrflow rewrite (store without setRange)",
  zarrita: "zarrita",
};

export async function shardPatch(job: Job, s: Sizes): Promise<Result> {
  const { root: source, spec } = shardedDatasets(s).patch;
  const inner = spec.chunks;
  const shardMiB = nbytes(spec.shards!) / MiB;
  // The inner chunk written: the second along every axis (inside the first shard, never at its start).
  const origin = inner.map((c) => c);
  const { zf: sel, zr: zrSel } = selections(origin.map((o, d) => [o, o + inner[d]]));
  const bytes = nbytes(inner);
  const label = `write 1 inner chunk [${inner}] into a ${shardMiB} MiB dense shard [${spec.shards}] (codecs [bytes])`;
  const impl = patchImplLabel[job.impl];
  // New values: the data generator for an array of the inner chunk's shape (differs from the stored ones).
  const value = new Uint16Array(bytes / 2);
  {
    let i = 0;
    for (let z = 0; z < inner[0]; z++) for (let y = 0; y < inner[1]; y++) for (let x = 0; x < inner[2]; x++) value[i++] = valueAt(inner, [z, y, x]) ^ 0x5a5a;
  }
  let dir = "";
  const copy = async () => {
    dir = await scratch();
    await cp(join(source, spec.codec), join(dir, spec.codec), { recursive: true });
  };

  if (job.impl === "zarrita") {
    // zarrita 0.7 reads sharded arrays but cannot write them: try it, and report what it says.
    await copy();
    try {
      const arr = await zarr.open(zarr.root(new ZarritaFileSystemStore(dir)).resolve(spec.codec), { kind: "array" });
      const stride = inner.map((_, d) => inner.slice(d + 1).reduce((a, b) => a * b, 1));
      await zarr.set(arr as zarr.Array<"uint16", ZarritaFileSystemStore>, zrSel, { data: value, shape: inner, stride });
      return notAvailable("8", label, impl, "zarrita wrote a sharded array (unexpected: not measured)");
    } catch (error) {
      return notAvailable("8", label, impl, `n/a: zarrita ${(zarr as { version?: string }).version ?? "0.7"} cannot write sharded arrays ("${(error as Error).message.split("\n")[0]}")`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  let counter: CountingStore | undefined;
  let array: ZarrArray | undefined;
  let counts: ReturnType<typeof zarrflowCounts> | undefined;
  const times = await timeRuns(job.runs, async () => array!.write(sel, value, { workers: 0 }), {
    setup: async () => {
      await copy();
      counter = new CountingStore(new FileSystemStore(dir));
      const store = job.impl === "zarrflow-rewrite" ? withoutSetRange(counter) : counter;
      array = await openArray(store, { path: spec.codec });
      counter.reset();
    },
    teardown: async (run) => {
      counts = zarrflowCounts(counter!);
      if (run === job.runs) {
        // The written chunk holds the new values, its neighbours (same shard) the old ones.
        const check = await openArray(new FileSystemStore(dir), { path: spec.codec });
        const got = await check.read(sel, { workers: 0 });
        const data = got.data as Uint16Array;
        for (let i = 0; i < value.length; i += 97) if (data[i] !== value[i]) throw new Error(`shard-patch: element ${i} is ${data[i]}, expected ${value[i]}`);
        if (data[value.length - 1] !== value[value.length - 1]) throw new Error("shard-patch: last element not written");
        for (const o of [inner.map(() => 0), inner.map((c, d) => (d === 2 ? 2 * c : c))]) {
          const near = await check.read(o.map((x, d) => slice(x, x + inner[d])), { workers: 0 });
          verify(near.data as Uint16Array, near.shape, spec.shape, o, 1024);
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  });
  const c = counts!;
  return result("8", label, impl, times, bytes, {
    extra: { requests: c.requests, readMiB: c.readMiB, writtenMiB: c.writtenMiB, sets: c.sets, setRanges: c.setRanges },
  });
}
