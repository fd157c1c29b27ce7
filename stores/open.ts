/**
 * `openStore(url)`: one entry point from a location string to a store, used by the CLI and by
 * programs that take locations from users.
 *
 *   - a local path ("data.zarr", "/abs/data.zarr") or a `file://` URL → FileSystemStore
 *   - `memory://name` → a MemoryStore, shared by name within the process (so a program can
 *     write to "memory://scratch" and read it back through a second openStore call)
 *   - `http://` / `https://` → HttpStore
 *   - `s3://bucket/prefix` → S3Store (credentials, region and endpoint from `options.s3` or the
 *     standard AWS sources)
 *   - any of these ending in `.zip` → a ZipStore reading the archive by range (read-only), or,
 *     for a local path opened for writing, a ZipWriterStore making a new archive
 *
 * The store is rooted at the location: the array or group lives at path "" inside it.
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";

import { StoreError } from "../src/errors.js";
import type { Store } from "../src/store.js";
import { FileSystemStore, type FileSystemStoreOptions } from "./filesystem.js";
import { HttpStore, type HttpStoreOptions } from "./http.js";
import { MemoryStore } from "./memory.js";
import { S3Store, type S3StoreOptions } from "./s3.js";
import { ZipStore, type ZipStoreOptions } from "./zip.js";
import { ZipWriterStore } from "./zip-writer.js";

export interface OpenStoreOptions {
  /** Reject writes (filesystem and HTTP stores). */
  readOnly?: boolean;
  /** Options passed to a FileSystemStore. */
  filesystem?: Omit<FileSystemStoreOptions, "readOnly">;
  /** Options passed to an HttpStore (headers, onRequest, retry, connections, timeoutMs…). */
  http?: Omit<HttpStoreOptions, "readOnly">;
  /** Options passed to an S3Store (credentials, profile, anonymous, region, endpoint…). */
  s3?: Omit<S3StoreOptions, "readOnly">;
  /** Options for a `.zip` location read as a ZipStore. */
  zip?: ZipStoreOptions;
}

/** `…/name.zip` (a path or URL whose last segment ends in .zip). */
export function isZipLocation(location: string): boolean {
  const withoutQuery = location.replace(/[?#].*$/, "").replace(/\/+$/, "");
  return /\.zip$/i.test(withoutQuery);
}

const memoryStores = new Map<string, MemoryStore>();

/** Drops the named in-process memory stores (tests). */
export function clearMemoryStores(): void {
  memoryStores.clear();
}

export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof location !== "string" || location === "") {
    throw new StoreError("a store location must be a non-empty path or URL", { key: String(location) });
  }
  if (isZipLocation(location)) return openZip(location, options);
  return openPlain(location, options);
}

/** A zip archive: read through the store of the folder that holds it, or written as a new local file. */
async function openZip(location: string, options: OpenStoreOptions): Promise<Store> {
  const trimmed = location.replace(/[?#].*$/, "").replace(/\/+$/, "");
  const cut = trimmed.lastIndexOf("/");
  const name = decodeURIComponent(trimmed.slice(cut + 1));
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location)?.[1]?.toLowerCase();
  if (!options.readOnly) {
    if (scheme !== undefined && scheme !== "file") {
      throw new StoreError(`a zip archive can be written only to a local path, not ${location}`, { key: location });
    }
    return new ZipWriterStore(scheme === "file" ? fileURLToPath(trimmed) : path.resolve(trimmed));
  }
  const folder = cut < 0 ? "." : scheme !== undefined && cut < scheme.length + 3 ? trimmed : trimmed.slice(0, cut + 1);
  const parent = await openPlain(cut < 0 ? "." : folder, options);
  try {
    return await ZipStore.open(parent, name, options.zip);
  } catch (error) {
    await parent.close?.();
    throw error;
  }
}

async function openPlain(location: string, options: OpenStoreOptions): Promise<Store> {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    return new FileSystemStore(location, { ...options.filesystem, readOnly: options.readOnly });
  }
  switch (scheme) {
    case "file":
      return new FileSystemStore(fileURLToPath(location), { ...options.filesystem, readOnly: options.readOnly });
    case "memory": {
      const name = location.slice("memory://".length);
      let store = memoryStores.get(name);
      if (store === undefined) {
        store = new MemoryStore();
        memoryStores.set(name, store);
      }
      return store;
    }
    case "http":
    case "https":
      return new HttpStore(location, { ...options.http, readOnly: options.readOnly });
    case "s3":
      return new S3Store(location, { ...options.s3, readOnly: options.readOnly });
    default:
      throw new StoreError(`unsupported store URL scheme "${scheme}:" in ${location} (use a path, file://, memory://, http://, https:// or s3://)`, {
        key: location,
      });
  }
}
