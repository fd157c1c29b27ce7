/**
 * What the coordinator (enqueueCopy) and the workers (runWorker) agree on: the task a queue job
 * carries, the Redis connection, and how locations and selections travel between machines.
 * Node-only (ioredis, node:path); nothing in the portable core imports this folder.
 */
import type { GridSpec } from "../chunk-grid.js";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import type { CodecMetadata } from "../codecs/codec.js";
import type { CopyCounters, CopyRegion } from "../convert.js";
import { ZarrflowError, type SerializedError } from "../errors.js";
import type { ZarrFormat } from "../metadata.js";
import type { Selection, SelectionItem } from "../selection.js";
import type { Store } from "../store.js";

/** The queue both sides use unless told otherwise. */
export const DEFAULT_QUEUE_NAME = "zarrflow";

/** Opens a store location; the default is stores/open.js's openStore. */
export type OpenStore = (location: string, options: { readOnly?: boolean }) => Promise<Store>;

/** The copy options that decide the destination's layout: the same on every machine. */
export interface CopyLayout {
  zarrFormat?: ZarrFormat;
  /** As CopyOptions takes them: shapes, or (v3) rectilinear edge lists. */
  chunks?: GridSpec;
  shards?: GridSpec | null;
  compression?: CodecMetadata[];
  selection?: PlainSelection;
}

/** A selection as JSON carries it: typed index arrays become number lists. */
export type PlainSelection = string | (number | null | "..." | { kind: "slice"; start: number | null; stop: number | null; step: number | null } | number[] | boolean[])[] | null;

/** What one queue job asks a worker to do. */
export interface TaskData {
  copyId: string;
  kind: "copy" | "verify";
  /** Locations every worker can reach (paths made absolute). */
  src: string;
  dst: string;
  /** The array in the source store and its copy in the destination store. */
  srcPath: string;
  dstPath: string;
  layout: CopyLayout;
  region: CopyRegion;
}

/** What a copy task returns (and reports as progress on the way). */
export type TaskCounters = Pick<CopyCounters, "chunksRead" | "bytesRead" | "chunksWritten" | "bytesWritten" | "dataBytesDone"> & {
  /** Requests the worker's stores retried during the task, where the stores count them. */
  storeRetries?: number;
};

/** What a verify task returns. */
export interface VerifyTaskResult {
  elements: number;
  mismatches: number;
  firstMismatch?: number[];
}

/** A task's error as it is kept in Redis: the typed error, serialised (see errors.ts). */
export function encodeTaskError(error: SerializedError): string {
  return JSON.stringify(error);
}

export function decodeTaskError(reason: string | undefined): SerializedError {
  try {
    const parsed = JSON.parse(reason ?? "") as SerializedError;
    if (parsed && typeof parsed.name === "string" && typeof parsed.message === "string") return parsed;
  } catch {
    // Not one of ours: a stall limit reached, a lock lost.
  }
  return { name: "Error", message: reason ?? "unknown failure" };
}

/** A location as another machine must see it: a relative path made absolute, URLs kept. */
export function sharedLocation(location: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(location)) {
    if (location.toLowerCase().startsWith("memory://")) {
      throw new ZarrflowError(`${location} lives in one process; a queued copy needs locations every worker can reach (a shared path or http(s)://)`);
    }
    return location;
  }
  return resolve(location);
}

export function plainSelection(selection: Selection): PlainSelection | undefined {
  if (selection === undefined) return undefined;
  if (selection === null || typeof selection === "string") return selection;
  return selection.map((item: SelectionItem) => {
    if (item === null || typeof item === "number" || typeof item === "string") return item;
    if (ArrayBuffer.isView(item)) return Array.from(item as ArrayLike<number | bigint>, Number);
    if (Array.isArray(item)) return [...item] as number[] | boolean[];
    const s = item as { kind: "slice"; start: number | null; stop: number | null; step: number | null };
    return { kind: "slice", start: s.start, stop: s.stop, step: s.step };
  });
}

/** A Redis URL (redis://host:port[/db], rediss:// for TLS) checked as a usage matter. */
export function checkRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ZarrflowError(`"${url}" is not a Redis URL (redis://host:port[/db])`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new ZarrflowError(`"${url}" is not a Redis URL (redis://host:port[/db])`);
  if (!/^\/?\d*$/.test(parsed.pathname)) throw new ZarrflowError(`"${url}": the database after the port must be a number`);
  return url;
}

/** The connection options of both ioredis and BullMQ that a Redis URL gives. */
export interface RedisConnectionOptions {
  host: string;
  port: number;
  db?: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  maxRetriesPerRequest: null;
}

/** Connection options for BullMQ's own connections (each queue, worker and event reader opens its own). */
export function redisOptions(url: string): RedisConnectionOptions {
  const parsed = new URL(checkRedisUrl(url));
  const db = parsed.pathname.replace(/^\//, "");
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** The URL without a password, for messages. */
export function redisLabel(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    parsed.username = "";
    return parsed.href;
  } catch {
    return url;
  }
}

/**
 * Connects to Redis and checks it answers, failing fast with a clear error: ioredis alone
 * would retry for ever, and nothing must be written to the destination before Redis is known
 * to be there. The connection returned retries as BullMQ needs (workers block on it).
 */
export async function connectRedis(url: string, connectTimeoutMs = 5000): Promise<Redis> {
  checkRedisUrl(url);
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: connectTimeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new ZarrflowError(`cannot reach Redis at ${redisLabel(url)}: ${(error as Error).message || String(error)}`, { cause: error });
  } finally {
    probe.disconnect();
  }
  const redis = new Redis(redisOptions(url));
  // Connection trouble after the check surfaces through the commands that fail; BullMQ logs the rest.
  redis.on("error", () => undefined);
  return redis;
}
