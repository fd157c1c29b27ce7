/**
 * A store over a directory tree: key "a/c/0/1" is the file <root>/a/c/0/1.
 *
 * Two properties matter more than speed here:
 *  - "absent" is never confused with "failed": only ENOENT/ENOTDIR mean absent; permission
 *    errors, EISDIR, EIO and friends reject with a StoreError so a broken disk is not silently
 *    read as fill value.
 *  - `set` is atomic for readers: values are written to a temporary file in the destination's
 *    directory and renamed over it, so a concurrent reader sees the old or the new bytes.
 */

import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync, readFile as readFileCallback, type Stats } from "node:fs";
import * as fs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import {
  AbortError,
  StoreError,
  UnsupportedOperationError,
  asAbortError,
  isAbortError,
  throwIfAborted,
} from "../src/errors.js";
import { resolveRange, validateRange } from "../src/store.js";
import type { ByteRange, GetSyncOptions, Store, StoreCallOptions, StoreHandle } from "../src/store.js";

export interface FileSystemStoreOptions {
  /** Reject set/delete/setRange with UnsupportedOperationError. */
  readOnly?: boolean;
  /**
   * fsync each written file and its directory before `set` resolves, so an acknowledged write
   * survives a power loss. Off by default: it costs a lot and rename already gives readers
   * all-or-nothing visibility.
   */
  durable?: boolean;
}

/**
 * Temporary files written by `set` (`.<name>.<hex digits>.tmp`): hidden, never a chunk or
 * metadata name, and never listed. A process killed mid-write leaves one behind; it is never
 * read as a chunk (its name is not one), and `removeTempFiles` deletes stale ones.
 */
const TEMP_FILE = /^\..+\.[0-9a-f]{8,}\.tmp$/;

// Temp names must not collide between concurrent writers, in this process or another: a random
// token drawn once per process, then a counter (both hex). randomBytes per file cost ≈ 13 µs
// of main-thread time (profiled), a noticeable part of a small chunk's write.
const processToken = randomBytes(6).toString("hex");
let tempCounter = 0;
const tempSuffix = () => processToken + (tempCounter++).toString(16);

export class FileSystemStore implements Store {
  readonly root: string;
  readonly readOnly: boolean;
  readonly durable: boolean;

  constructor(root: string | URL, options: FileSystemStoreOptions = {}) {
    const rootPath = root instanceof URL || root.startsWith("file:") ? fileURLToPath(root) : root;
    this.root = path.resolve(rootPath);
    this.readOnly = options.readOnly ?? false;
    this.durable = options.durable ?? false;
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    checkRange(key, range);
    const file = this.#path(key);

    if (range === undefined) {
      try {
        return tight(await readWhole(file, signal));
      } catch (error) {
        if (isAbsent(error)) return undefined;
        throw storeError(error, "cannot read", key, signal);
      }
    }

    const ranges = await this.#readRanges(key, file, [range], signal);
    return ranges?.[0];
  }

  /**
   * The same answer as `get`, read synchronously (pool workers call it: see workerHandle).
   * With `into` large enough, the bytes land there (a view of it is returned): a worker reading
   * chunk after chunk then reuses one buffer instead of allocating and page-faulting a new one.
   */
  getSync(key: string, range?: ByteRange, options?: GetSyncOptions): Uint8Array | undefined {
    checkRange(key, range);
    const file = this.#path(key);
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw storeError(error, "cannot open", key, undefined);
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw new StoreError("not a regular file", { key });
      const [start, end] = resolveRange(range, stats.size);
      const length = end - start;
      const into = options?.into;
      const buffer = into && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const n = readSync(fd, buffer, filled, length - filled, start + filled);
        if (n === 0) break; // the file shrank since fstat: what exists, as `get` does
        filled += n;
      }
      return filled === length ? buffer : buffer.buffer === into?.buffer ? buffer.subarray(0, filled) : buffer.slice(0, filled);
    } catch (error) {
      throw storeError(error, "cannot read", key, undefined);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Pool workers open their own FileSystemStore on the same root and read chunks where they
   * decode them. Not for subclasses or instances whose `get` was replaced: their reads must go
   * through them.
   */
  workerHandle(): StoreHandle | undefined {
    if (Object.getPrototypeOf(this) !== FileSystemStore.prototype || Object.hasOwn(this, "get") || Object.hasOwn(this, "getSync")) return undefined;
    return { module: import.meta.url, export: "FileSystemStore", args: [this.root, { readOnly: this.readOnly, durable: this.durable }] };
  }

  async getRanges(key: string, ranges: ByteRange[], options?: StoreCallOptions): Promise<Uint8Array[] | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    for (const range of ranges) checkRange(key, range);
    return this.#readRanges(key, this.#path(key), ranges, signal);
  }

  async size(key: string, options?: StoreCallOptions): Promise<number | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    const file = this.#path(key);
    let stats: Stats;
    try {
      stats = await fs.stat(file);
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw storeError(error, "cannot stat", key, signal);
    }
    // A directory is where keys live, not a value; reporting its inode size would be nonsense.
    if (!stats.isFile()) throw new StoreError("not a regular file", { key });
    return stats.size;
  }

  async set(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("set", key);
    throwIfAborted(signal, { key });
    const file = this.#path(key);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${tempSuffix()}.tmp`);

    try {
      await this.#writeTemp(dir, temp, value, signal);
      // Last chance to cancel: after the rename the new value is visible.
      throwIfAborted(signal, { key });
      await fs.rename(temp, file);
    } catch (error) {
      await fs.rm(temp, { force: true }).catch(() => {});
      throw storeError(error, "cannot write", key, signal);
    }

    if (this.durable) await syncDirectory(dir, key);
  }

  /**
   * `set`, synchronously (a pool worker stores the chunks it encodes: see workerHandle): the
   * same temporary file and rename, so readers see the old or the new value, never a mix.
   */
  setSync(key: string, value: Uint8Array): void {
    this.#checkWritable("set", key);
    const file = this.#path(key);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${tempSuffix()}.tmp`);
    try {
      // As #writeTemp: write first, mkdir only on ENOENT (and retry, should a concurrent delete prune it).
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) mkdirSync(dir, { recursive: true });
        try {
          writeFileSyncExclusive(temp, value, this.durable);
          break;
        } catch (error) {
          if (errorCode(error) !== "ENOENT" || attempt >= 4) throw error;
        }
      }
      renameSync(temp, file);
    } catch (error) {
      try {
        rmSync(temp, { force: true });
      } catch {
        // nothing to clean
      }
      throw storeError(error, "cannot write", key, undefined);
    }
    if (this.durable) syncDirectorySync(dir, key);
  }

  async delete(key: string, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("delete", key);
    throwIfAborted(signal, { key });
    const file = this.#path(key);
    try {
      await fs.unlink(file);
    } catch (error) {
      if (isAbsent(error)) return;
      throw storeError(error, "cannot delete", key, signal);
    }
    await this.#pruneEmptyParents(path.dirname(file));
  }

  async *list(prefix: string, options?: StoreCallOptions): AsyncGenerator<string> {
    const signal = options?.signal;
    throwIfAborted(signal);

    // Only the directory named by the prefix's complete segments can hold matching keys, so
    // start the walk there; the trailing partial segment ("0" in "a/c/0") filters its entries.
    const slash = prefix.lastIndexOf("/");
    const dirSegments = slash < 0 ? [] : prefix.slice(0, slash).split("/");
    const partial = prefix.slice(slash + 1);
    // A prefix whose directory part is not a valid key path ("../x", "/etc/", "a//") cannot
    // match any key; bail out rather than walk outside the root.
    if (!dirSegments.every(isValidSegment)) return;

    const start = dirSegments.join("/");
    yield* this.#walk(start, partial, signal, false);
  }

  /**
   * Deletes the temporary files that writes killed mid-way (a crash, SIGKILL, power loss) left
   * under `prefix`, when they are at least `olderThanMs` old (default ten minutes: a younger
   * one may belong to a write still running, in this process or another, whose rename would
   * then fail). Returns the keys of the files removed. Readers never see these files, so
   * cleaning is tidying, not recovery: every chunk is already its old or its new value.
   */
  async removeTempFiles(prefix = "", options: { olderThanMs?: number; signal?: AbortSignal } = {}): Promise<string[]> {
    const { signal } = options;
    this.#checkWritable("removeTempFiles", prefix);
    throwIfAborted(signal);
    const olderThan = options.olderThanMs ?? 10 * 60_000;
    const slash = prefix.lastIndexOf("/");
    const dirSegments = slash < 0 ? [] : prefix.slice(0, slash).split("/");
    if (!dirSegments.every(isValidSegment)) return [];
    const removed: string[] = [];
    for await (const key of this.#walk(dirSegments.join("/"), prefix.slice(slash + 1), signal, true)) {
      const file = path.join(this.root, ...key.split("/"));
      const stats = await fs.stat(file).catch(() => undefined);
      if (!stats || Date.now() - stats.mtimeMs < olderThan) continue;
      try {
        await fs.unlink(file);
        removed.push(key);
      } catch (error) {
        if (!isAbsent(error)) throw storeError(error, "cannot delete", key, signal);
      }
    }
    return removed;
  }

  /**
   * Overwrites `bytes` at `offset` inside the existing file. This is an in-place write, NOT an
   * atomic one: a crash (or a concurrent reader) can observe a torn write inside the range.
   * It also targets the current inode, so it races with a concurrent `set` (whose rename wins).
   * Callers that need all-or-nothing replacement use `set`.
   */
  async setRange(key: string, offset: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("setRange", key);
    throwIfAborted(signal, { key });
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new StoreError(`invalid setRange offset ${offset}`, { key });
    }
    const file = this.#path(key);

    let handle: FileHandle;
    try {
      handle = await fs.open(file, "r+");
    } catch (error) {
      if (isAbsent(error)) throw new StoreError("setRange on an absent key", { key, cause: error });
      throw storeError(error, "cannot open for writing", key, signal);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new StoreError("not a regular file", { key });
      if (offset + bytes.length > stats.size) {
        throw new StoreError(
          `setRange of ${bytes.length} bytes at offset ${offset} goes past the end of a ${stats.size}-byte value`,
          { key },
        );
      }
      let written = 0;
      while (written < bytes.length) {
        throwIfAborted(signal, { key });
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, offset + written);
        written += bytesWritten;
      }
      if (this.durable) await handle.sync();
    } catch (error) {
      throw storeError(error, "cannot write", key, signal);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /** Reads ranges through one file handle, positioned reads only: never the whole file. */
  async #readRanges(
    key: string,
    file: string,
    ranges: ByteRange[],
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array[] | undefined> {
    let handle: FileHandle;
    try {
      handle = await fs.open(file, "r");
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw storeError(error, "cannot open", key, signal);
    }
    try {
      const stats = await handle.stat();
      // open(2) succeeds on a directory; report it as readFile would (EISDIR), not as empty.
      if (!stats.isFile()) throw new StoreError("not a regular file", { key });
      const out: Uint8Array[] = [];
      for (const range of ranges) {
        const [start, end] = resolveRange(range, stats.size);
        out.push(await readAt(handle, start, end - start, key, signal));
      }
      return out;
    } catch (error) {
      throw storeError(error, "cannot read", key, signal);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async #writeTemp(dir: string, temp: string, value: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    // The directory usually exists already (chunks share it), so write first and mkdir only on
    // ENOENT. A concurrent delete may prune the (empty) directory between our mkdir and the
    // create of the temp file; once the temp file exists the directory is non-empty and stays.
    // So retry the pair a few times.
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await fs.mkdir(dir, { recursive: true });
      try {
        if (this.durable) {
          const handle = await fs.open(temp, "wx");
          try {
            await handle.writeFile(value, { signal });
            await handle.sync();
          } finally {
            await handle.close();
          }
        } else {
          await fs.writeFile(temp, value, { flag: "wx", signal });
        }
        return;
      } catch (error) {
        if (errorCode(error) !== "ENOENT" || attempt >= 4) throw error;
      }
    }
  }

  /** Keys under `start` whose first segment starts with `partial`: the stored values, or (`temp`) only the temporary files. */
  async *#walk(start: string, partial: string, signal: AbortSignal | undefined, temp: boolean): AsyncGenerator<string> {
    // Depth-first with an explicit stack; keys are yielded as found so a huge tree streams.
    const stack: Array<{ dir: string; filter: string }> = [{ dir: start, filter: partial }];
    while (stack.length > 0) {
      const { dir, filter } = stack.pop()!;
      throwIfAborted(signal);
      const absolute = dir === "" ? this.root : path.join(this.root, ...dir.split("/"));
      let entries;
      try {
        entries = await fs.readdir(absolute, { withFileTypes: true });
      } catch (error) {
        // The prefix names nothing, or a concurrent delete pruned the directory.
        if (isAbsent(error)) continue;
        throw storeError(error, "cannot list", dir, signal);
      }
      for (const entry of entries) {
        if (!entry.name.startsWith(filter)) continue;
        const key = dir === "" ? entry.name : `${dir}/${entry.name}`;
        if (entry.isDirectory()) {
          stack.push({ dir: key, filter: "" });
        } else if (entry.isFile()) {
          if (TEMP_FILE.test(entry.name) === temp) yield key;
        } else if (entry.isSymbolicLink() && !temp) {
          // A link to a file is readable through get(), so list it too; links to directories are
          // not followed (cycles).
          const stats = await fs.stat(path.join(absolute, entry.name)).catch(() => undefined);
          if (stats?.isFile() && !TEMP_FILE.test(entry.name)) yield key;
        }
      }
    }
  }

  /** Removes directories left empty by a delete, up to but not including the root. */
  async #pruneEmptyParents(dir: string): Promise<void> {
    while (dir !== this.root && isInside(this.root, dir)) {
      try {
        await fs.rmdir(dir);
      } catch {
        // ENOTEMPTY (still in use), ENOENT (someone else pruned it) or anything else: this is
        // tidying only, never a reason to fail the delete.
        return;
      }
      dir = path.dirname(dir);
    }
  }

  #checkWritable(operation: string, key: string): void {
    if (this.readOnly) throw new UnsupportedOperationError(`${operation} on a read-only store`, { key });
  }

  /** Maps a key to its file, refusing anything that could name a path outside the root. */
  #path(key: string): string {
    if (key === "") throw new StoreError("empty key", { key });
    if (key.includes("\\") || key.includes("\0")) {
      throw new StoreError("invalid key: backslashes and NUL are not allowed", { key });
    }
    if (key.startsWith("/") || path.isAbsolute(key)) throw new StoreError("invalid key: absolute path", { key });
    const segments = key.split("/");
    if (!segments.every(isValidSegment)) {
      throw new StoreError('invalid key: empty, "." or ".." segment', { key });
    }
    const file = path.join(this.root, ...segments);
    // Belt and braces: whatever the platform's path rules, the result must stay under root.
    if (!isInside(this.root, file)) throw new StoreError("invalid key: escapes the store root", { key });
    return file;
  }
}

function isValidSegment(segment: string): boolean {
  return (
    segment !== "" &&
    segment !== "." &&
    segment !== ".." &&
    !segment.includes("\\") &&
    !segment.includes("\0") &&
    !path.isAbsolute(segment)
  );
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  // "..." and "..foo" are ordinary names; only a ".." segment climbs out.
  const climbs = relative === ".." || relative.startsWith(`..${path.sep}`);
  return relative !== "" && !climbs && !path.isAbsolute(relative);
}

/** Positioned read of `length` bytes into a fresh, exactly-sized buffer. */
async function readAt(
  handle: FileHandle,
  position: number,
  length: number,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    throwIfAborted(signal, { key });
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    // EOF early: the file shrank since fstat (an external writer). Return what exists, as a
    // standalone copy so the result stays tight.
    if (bytesRead === 0) return buffer.slice(0, filled);
    filled += bytesRead;
  }
  return buffer;
}

/**
 * A whole file's bytes. The callback API, not fs/promises: its readFile costs about a third less
 * CPU per file (≈ 23 vs 34 µs for 16 KiB files, measured), a large part of a small chunk's read.
 */
function readWhole(file: string, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCallback(file, { signal }, (error, data) => (error ? reject(error) : resolve(data))));
}

/**
 * A plain Uint8Array that owns its whole ArrayBuffer. readFile may hand back a Buffer carved
 * out of Node's shared pool; transferring that to a worker would detach unrelated data.
 */
function tight(buffer: Uint8Array): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength);
  }
  return new Uint8Array(buffer);
}

/** Creates `file` (it must not exist) holding `bytes`; fsynced when `durable`. */
function writeFileSyncExclusive(file: string, bytes: Uint8Array, durable: boolean): void {
  const fd = openSync(file, "wx");
  try {
    for (let written = 0; written < bytes.byteLength; ) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** syncDirectory, synchronously. */
function syncDirectorySync(dir: string, key: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (error) {
    const code = errorCode(error);
    if (code === "EISDIR" || code === "EPERM" || code === "EINVAL" || code === "EBADF") return;
    throw storeError(error, "cannot sync directory", key, undefined);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function syncDirectory(dir: string, key: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(dir, "r");
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) cannot open or fsync a directory; the file itself was synced.
    const code = errorCode(error);
    if (code === "EISDIR" || code === "EPERM" || code === "EINVAL" || code === "EBADF") return;
    throw storeError(error, "cannot sync directory", key, undefined);
  } finally {
    await handle?.close().catch(() => {});
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** ENOENT, or ENOTDIR when a path component is a file: either way the key does not exist. */
function isAbsent(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Normalises a failure: our own errors pass through, aborts become AbortError, the rest StoreError. */
function storeError(error: unknown, message: string, key: string, signal: AbortSignal | undefined): Error {
  if (error instanceof StoreError || error instanceof AbortError) return error;
  if (isAbortError(error)) return asAbortError(signal?.reason ?? error, { key });
  const code = errorCode(error);
  return new StoreError(code === undefined ? message : `${message}: ${code}`, { key, cause: error });
}

function checkRange(key: string, range: ByteRange | undefined): void {
  try {
    validateRange(range);
  } catch (error) {
    throw new StoreError(error instanceof Error ? error.message : String(error), { key, cause: error });
  }
}
