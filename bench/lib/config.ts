/**
 * What the benchmark measures and on which data: sizes (full and --quick), codecs, the cache
 * folder, and the job description passed from the orchestrator to each workload process.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CodecMetadata } from "../../src/index.js";

/** Bump when the generated data or the dataset layout changes: old caches are then ignored. */
export const DATA_VERSION = 2;

export const CACHE_DIR = process.env.ZARRFLOW_BENCH_CACHE ?? join(tmpdir(), "zarrflow-bench-cache");

const bytes = (): CodecMetadata => ({ name: "bytes", configuration: { endian: "little" } });

/** Workload 1 codecs, by the name used in the tables. */
export const CODECS: Record<string, CodecMetadata[]> = {
  "zstd-1": [bytes(), { name: "zstd", configuration: { level: 1, checksum: false } }],
  "zstd-3": [bytes(), { name: "zstd", configuration: { level: 3, checksum: false } }],
  "gzip-1": [bytes(), { name: "gzip", configuration: { level: 1 } }],
  "blosc-lz4": [
    bytes(),
    { name: "blosc", configuration: { cname: "lz4", clevel: 5, shuffle: "shuffle", typesize: 2, blocksize: 0 } },
  ],
  none: [bytes()],
};
export const CODEC_NAMES = Object.keys(CODECS);

export interface ArraySpec {
  shape: number[];
  /** Chunk shape (the inner chunk shape when `shards` is given). */
  chunks: number[];
  codec: string;
  /** Shard shape: the array is stored sharded (v3 sharding_indexed, index at the end). */
  shards?: number[];
}

export interface Sizes {
  /** Workload 1 (full read / write per codec). */
  full: { shape: number[]; chunks: number[] };
  /** Workload 2 (read through a 10 ms latency store). */
  latency: { shape: number[]; chunks: number[] };
  /** Workload 3 (16 KiB chunks). */
  small: { shape: number[]; chunks: number[] };
  /** Workload 4 (streamed copy larger than the memory budget). */
  copy: { shape: number[]; chunks: number[] };
  /** Workloads 6, 7 and 9 (sharded zstd-1 array: full read, one inner chunk, over HTTP). */
  sharded: { shape: number[]; shards: number[]; chunks: number[] };
  /** Workload 8 (partial-shard write into a dense, uncompressed shard). */
  shardPatch: { shape: number[]; shards: number[]; chunks: number[] };
}

export function sizes(quick: boolean, copyGiB: number): Sizes {
  if (quick) {
    return {
      full: { shape: [128, 256, 256], chunks: [8, 256, 256] }, // 16 MiB, 16 × 1 MiB chunks
      latency: { shape: [256, 128, 128], chunks: [4, 128, 128] }, // 64 chunks of 128 KiB
      small: { shape: [1024, 1024], chunks: [64, 128] }, // 2 MiB, 128 × 16 KiB chunks
      copy: { shape: [64, 512, 1024], chunks: [8, 256, 256] }, // 64 MiB
      sharded: { shape: [128, 128, 128], shards: [64, 64, 64], chunks: [16, 16, 16] }, // 4 MiB, 8 shards × 64 inner chunks of 8 KiB
      shardPatch: { shape: [64, 64, 64], shards: [64, 64, 64], chunks: [16, 16, 16] }, // one 512 KiB shard, 64 inner chunks of 8 KiB
    };
  }
  return {
    full: { shape: [512, 512, 512], chunks: [8, 256, 256] }, // 256 MiB, 256 × 1 MiB chunks
    latency: { shape: [512, 256, 256], chunks: [8, 256, 256] }, // 64 MiB, 64 × 1 MiB chunks
    small: { shape: [4096, 4096], chunks: [64, 128] }, // 32 MiB, 2048 × 16 KiB chunks
    copy: { shape: [Math.round(1024 * copyGiB), 512, 1024], chunks: [8, 256, 256] }, // copyGiB GiB
    sharded: { shape: [512, 512, 512], shards: [256, 256, 256], chunks: [64, 64, 64] }, // 256 MiB, 8 shards × 64 inner chunks of 512 KiB
    shardPatch: { shape: [256, 256, 256], shards: [256, 256, 256], chunks: [64, 64, 64] }, // one 32 MiB shard, 64 inner chunks of 512 KiB
  };
}

/** The latency added to every store request in workload 2. */
export const LATENCY_MS = 10;
/** IO concurrency of workload 2 (zarrflow's default too). */
export const LATENCY_CONCURRENCY = 8;

export type Kind = "prepare" | "read" | "write" | "latency" | "small" | "copy" | "ceiling" | "sharded-read" | "shard-latency" | "shard-patch" | "http" | "queue" | "browser" | "s3";

/** One workload process: what to run, with which implementation, and how often. */
export interface Job {
  kind: Kind;
  /** "zarrflow-inline" | "zarrflow-auto" | "zarrflow-pool2" | "zarrita" | … (see workload.ts). */
  impl: string;
  codec?: string;
  /** For "small": "read" or "write". */
  op?: "read" | "write";
  quick: boolean;
  /** Timed runs after one warm-up run. */
  runs: number;
  copyGiB: number;
  /** For "prepare": which datasets. */
  datasets?: string[];
  /** Workload-specific variant (sharded-read: "local" | "latency" | "slab-latency"; shard-latency: "local" | "latency"; http: "chunked" | "sharded"). */
  variant?: string;
}

/** A store root (one folder) per dataset, named by its sizes so quick and full never mix. */
export function datasetRoot(name: string, shape: number[], chunks: number[]): string {
  return join(CACHE_DIR, `v${DATA_VERSION}-${name}-${shape.join("x")}-c${chunks.join("x")}.zarr`);
}

/** Bytes of a uint16 array of this shape. */
export function nbytes(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 2);
}

export const MiB = 1 << 20;
