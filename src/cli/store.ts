/**
 * Store locations on the command line: checked before any work (a bad scheme is a usage
 * error), opened through openStore, and watched for the progress line's error and retry counts.
 */
import { ZarrArray } from "../array.js";
import { ContainsNodeError, NodeNotFoundError, isAbortError } from "../errors.js";
import type { ZarrGroup } from "../group.js";
import { open } from "../hierarchy.js";
import type { Store } from "../store.js";
import { openStore } from "../../stores/open.js";
import { UsageError, type StoreFlags } from "./args.js";

const SCHEMES = new Set(["file", "memory", "http", "https", "s3"]);

/** Rejects locations openStore cannot take, as usage errors. */
export function checkLocation(location: string | undefined, what: string): string {
  if (location === undefined || location === "") throw new UsageError(`missing ${what}`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location)?.[1]?.toLowerCase();
  if (scheme !== undefined && !SCHEMES.has(scheme)) {
    throw new UsageError(`unsupported ${what} "${location}": use a path, file://, memory://, http://, https:// or s3://`);
  }
  if (scheme === "s3" && !/^s3:\/\/[^/?#]+/i.test(location)) throw new UsageError(`${what} "${location}" names no bucket (s3://bucket/prefix)`);
  if (scheme === "http" || scheme === "https") {
    try {
      new URL(location);
    } catch {
      throw new UsageError(`${what} "${location}" is not a valid URL`);
    }
  }
  return location;
}

export interface ObservedStore extends Store {
  /** Calls that failed (aborts excluded). */
  readonly errors: number;
  /** Requests the store retried, when it reports them. */
  readonly retries: number;
}

const CALLS = ["get", "set", "delete", "getRanges", "setRange", "size", "close", "discard"] as const;

/** Wraps a store to count failed calls; every capability of the store passes through unchanged. */
export function observeStore(inner: Store): ObservedStore {
  let errors = 0;
  const observed: Record<string, unknown> = {
    get errors() {
      return errors;
    },
    get retries() {
      // HTTP stores count their retries; the property name is the store's own.
      const source = inner as { retries?: unknown; stats?: { retries?: unknown } };
      const value = source.retries ?? source.stats?.retries;
      return typeof value === "number" ? value : 0;
    },
  };
  for (const name of CALLS) {
    const call = (inner as unknown as Record<string, unknown>)[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (typeof call !== "function") continue;
    observed[name] = async (...args: unknown[]) => {
      try {
        return await call.apply(inner, args);
      } catch (error) {
        if (!isAbortError(error)) errors++;
        throw error;
      }
    };
  }
  if (inner.list) observed.list = inner.list.bind(inner);
  if (inner.getSync) observed.getSync = inner.getSync.bind(inner);
  if (inner.setSync) observed.setSync = inner.setSync.bind(inner);
  return observed as unknown as ObservedStore;
}

export async function openLocation(location: string, options: { readOnly?: boolean } & StoreFlags = {}): Promise<ObservedStore> {
  const { anonymous, endpoint, profile } = options;
  return observeStore(await openStore(location, { readOnly: options.readOnly, s3: { anonymous, endpoint, profile } }));
}

/** Opens the node at a location, with errors that name the location as the user wrote it. */
export async function openNodeAt(store: Store, url: string, signal: AbortSignal): Promise<ZarrArray | ZarrGroup> {
  try {
    return await open(store, { signal });
  } catch (error) {
    if (error instanceof NodeNotFoundError && error.path === "") throw new NodeNotFoundError(`no Zarr array or group found at ${url}`, { cause: error });
    throw error;
  }
}

export async function openArrayAt(store: Store, url: string, signal: AbortSignal): Promise<ZarrArray> {
  const node = await openNodeAt(store, url, signal);
  if (!(node instanceof ZarrArray)) throw new ContainsNodeError(`${url} is a group, not an array (see: zarrflow info ${url})`);
  return node;
}
