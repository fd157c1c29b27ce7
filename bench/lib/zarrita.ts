/** zarrita.js side of the comparison: its FileSystemStore, a latency wrapper, a bounded queue. */
import FileSystemStore from "@zarrita/storage/fs";
import * as zarr from "zarrita";
import type { CodecMetadata } from "../../src/index.js";
import { sleep } from "./measure.js";

type AbsolutePath = `/${string}`;
type GetOptions = { signal?: AbortSignal };

export type ZarritaStore = {
  get(key: AbsolutePath, opts?: GetOptions): Promise<Uint8Array | undefined>;
  set(key: AbsolutePath, value: Uint8Array): Promise<void>;
};

export function fsStore(root: string): ZarritaStore {
  return new FileSystemStore(root) as unknown as ZarritaStore;
}

/** Delays every get by `ms` (the same model as zarrflow's LatencyStore). */
export function withLatency(inner: ZarritaStore, ms: number): ZarritaStore {
  return {
    async get(key, opts) {
      await sleep(ms);
      return inner.get(key, opts);
    },
    set: (key, value) => inner.set(key, value),
  };
}

export async function openArray(store: ZarritaStore, path: string): Promise<zarr.Array<zarr.DataType, ZarritaStore>> {
  return zarr.open(zarr.root(store).resolve(path), { kind: "array" });
}

export async function createArray(store: ZarritaStore, path: string, shape: number[], chunks: number[], codecs: CodecMetadata[]) {
  return zarr.create(zarr.root(store).resolve(path), {
    shape,
    chunkShape: chunks,
    dtype: "uint16",
    fillValue: 0,
    codecs: codecs as zarr.CodecMetadata[],
  });
}

/** Reads the whole array; `concurrency` bounds the chunks in flight (zarrita's default: all at once). */
export async function readAll(arr: zarr.Array<zarr.DataType, ZarritaStore>, concurrency?: number): Promise<zarr.Chunk<zarr.DataType>> {
  const opts = concurrency === undefined ? {} : { createQueue: () => boundedQueue(concurrency) };
  return zarr.get(arr, null, opts) as Promise<zarr.Chunk<zarr.DataType>>;
}

export async function writeAll(arr: zarr.Array<"uint16", ZarritaStore>, data: Uint16Array, shape: number[], concurrency?: number): Promise<void> {
  const stride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const opts = concurrency === undefined ? {} : { createQueue: () => boundedQueue(concurrency) };
  await zarr.set(arr, null, { data, shape, stride }, opts);
}

/** A zarrita ChunkQueue running at most `limit` tasks at once. */
export function boundedQueue(limit: number): { add(fn: () => Promise<void>): void; onIdle(): Promise<void[]> } {
  let active = 0;
  const waiting: (() => void)[] = [];
  const all: Promise<void>[] = [];
  return {
    add(fn) {
      all.push(
        new Promise<void>((resolve, reject) => {
          const start = () => {
            active++;
            fn()
              .then(resolve, reject)
              .finally(() => {
                active--;
                waiting.shift()?.();
              });
          };
          if (active < limit) start();
          else waiting.push(start);
        }),
      );
    },
    onIdle: () => Promise.all(all),
  };
}
