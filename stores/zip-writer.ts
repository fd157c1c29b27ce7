/**
 * Writes a new zip archive to a local file (Node only), as a store: every `set` appends a
 * stored member (chunks are compressed already; stored members can be read later by range),
 * and `close()` writes the central directory — Zip64 records where sizes, offsets or the entry
 * count need them — then renames the finished archive into place. Until then the archive is
 * `<path>.partial`; `discard()` removes it, so a failed copy leaves no half archive behind.
 *
 * A key written twice keeps its last value (the earlier bytes stay in the file, unreferenced).
 */
import { open, rename, rm, type FileHandle } from "node:fs/promises";

import { crc32 } from "../src/codecs/deflate-backend.js";
import { StoreError, throwIfAborted } from "../src/errors.js";
import { resolveRange, validateRange, type ByteRange, type Store, type StoreCallOptions } from "../src/store.js";

interface Written {
  name: Uint8Array;
  crc: number;
  size: number;
  offset: number;
  /** Where the data starts, for reads back. */
  dataStart: number;
}

const MAX32 = 0xffffffff;
const encoder = new TextEncoder();

export interface ZipWriterOptions {
  /** Write Zip64 records even when nothing needs them (tests of the reader). */
  forceZip64?: boolean;
}

export class ZipWriterStore implements Store {
  readonly path: string;
  readonly #partial: string;
  readonly #forceZip64: boolean;
  readonly #entries = new Map<string, Written>();
  #file: Promise<FileHandle> | undefined;
  #offset = 0;
  #pending = new Set<Promise<unknown>>();
  #state: "open" | "closed" | "discarded" = "open";

  constructor(path: string, options: ZipWriterOptions = {}) {
    this.path = path;
    this.#partial = `${path}.partial`;
    this.#forceZip64 = options.forceZip64 ?? false;
  }

  #handle(): Promise<FileHandle> {
    this.#file ??= open(this.#partial, "w");
    return this.#file;
  }

  #check(key: string): void {
    if (this.#state !== "open") throw new StoreError(`the zip archive ${this.path} is ${this.#state}`, { key });
    if (key === "" || key.startsWith("/") || key.split("/").some((s) => s === "" || s === "." || s === "..") || /[\\\0]/.test(key)) {
      throw new StoreError("invalid key for a zip archive", { key });
    }
  }

  async set(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> {
    this.#check(key);
    throwIfAborted(options?.signal, { key });
    const name = encoder.encode(key);
    const size = value.byteLength;
    const zip64 = this.#forceZip64 || size >= MAX32;
    const header = localHeader(name, crc32(value), size, zip64);
    // The offset is taken now, synchronously, so concurrent sets write to disjoint places.
    const offset = this.#offset;
    this.#offset += header.length + size;
    const write = (async () => {
      const file = await this.#handle();
      await file.write(header, 0, header.length, offset);
      await file.write(value, 0, size, offset + header.length);
    })();
    this.#pending.add(write);
    try {
      await write;
    } finally {
      this.#pending.delete(write);
    }
    this.#entries.set(key, { name, crc: crc32(value), size, offset, dataStart: offset + header.length });
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    throwIfAborted(options?.signal, { key });
    validateRange(range);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const [start, end] = resolveRange(range, entry.size);
    const out = new Uint8Array(end - start);
    if (out.length > 0) await (await this.#handle()).read(out, 0, out.length, entry.dataStart + start);
    return out;
  }

  async size(key: string): Promise<number | undefined> {
    return this.#entries.get(key)?.size;
  }

  async delete(key: string): Promise<void> {
    this.#check(key);
    this.#entries.delete(key);
  }

  async *list(prefix: string): AsyncIterable<string> {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) yield key;
  }

  /** Writes the central directory and moves the archive into place. */
  async close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    await Promise.allSettled(this.#pending);
    const file = await this.#handle();
    try {
      const parts: Uint8Array[] = [];
      const directoryOffset = this.#offset;
      for (const entry of this.#entries.values()) parts.push(centralHeader(entry, this.#forceZip64));
      const directorySize = parts.reduce((n, p) => n + p.length, 0);
      const count = this.#entries.size;
      const zip64 = this.#forceZip64 || count >= 0xffff || directoryOffset >= MAX32 || directorySize >= MAX32;
      if (zip64) parts.push(zip64End(count, directorySize, directoryOffset), zip64Locator(directoryOffset + directorySize));
      parts.push(end(count, directorySize, directoryOffset, zip64));
      let at = directoryOffset;
      for (const part of parts) {
        await file.write(part, 0, part.length, at);
        at += part.length;
      }
      await file.truncate(at);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(this.#partial, this.path);
  }

  /** Abandons the archive: nothing is left on disk. */
  async discard(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "discarded";
    await Promise.allSettled(this.#pending);
    if (this.#file) await (await this.#file).close().catch(() => {});
    await rm(this.#partial, { force: true });
  }
}

function localHeader(name: Uint8Array, crc: number, size: number, zip64: boolean): Uint8Array {
  const extra = zip64 ? 20 : 0;
  const out = new Uint8Array(30 + name.length + extra);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x04034b50, true);
  view.setUint16(4, zip64 ? 45 : 20, true);
  view.setUint16(6, 0x0800, true); // UTF-8 names
  view.setUint16(8, 0, true); // stored
  view.setUint32(10, 0x00210000, true); // 1980-01-01 00:00: reproducible archives
  view.setUint32(14, crc, true);
  view.setUint32(18, zip64 ? MAX32 : size, true);
  view.setUint32(22, zip64 ? MAX32 : size, true);
  view.setUint16(26, name.length, true);
  view.setUint16(28, extra, true);
  out.set(name, 30);
  if (zip64) {
    const e = 30 + name.length;
    view.setUint16(e, 0x0001, true);
    view.setUint16(e + 2, 16, true);
    view.setBigUint64(e + 4, BigInt(size), true);
    view.setBigUint64(e + 12, BigInt(size), true);
  }
  return out;
}

function centralHeader(entry: Written, force: boolean): Uint8Array {
  const bigSize = force || entry.size >= MAX32;
  const bigOffset = force || entry.offset >= MAX32;
  const extra = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
  const out = new Uint8Array(46 + entry.name.length + extra);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x02014b50, true);
  view.setUint16(4, 0x031e, true); // made by: Unix, spec 3.0
  view.setUint16(6, extra ? 45 : 20, true);
  view.setUint16(8, 0x0800, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, 0x00210000, true);
  view.setUint32(16, entry.crc, true);
  view.setUint32(20, bigSize ? MAX32 : entry.size, true);
  view.setUint32(24, bigSize ? MAX32 : entry.size, true);
  view.setUint16(28, entry.name.length, true);
  view.setUint16(30, extra, true);
  view.setUint32(38, (0o100644 << 16) >>> 0, true); // a regular file, rw-r--r--
  view.setUint32(42, bigOffset ? MAX32 : entry.offset, true);
  out.set(entry.name, 46);
  if (extra) {
    let e = 46 + entry.name.length;
    view.setUint16(e, 0x0001, true);
    view.setUint16(e + 2, extra - 4, true);
    e += 4;
    if (bigSize) {
      view.setBigUint64(e, BigInt(entry.size), true);
      view.setBigUint64(e + 8, BigInt(entry.size), true);
      e += 16;
    }
    if (bigOffset) view.setBigUint64(e, BigInt(entry.offset), true);
  }
  return out;
}

function zip64End(count: number, size: number, offset: number): Uint8Array {
  const out = new Uint8Array(56);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x06064b50, true);
  view.setBigUint64(4, 44n, true);
  view.setUint16(12, 0x031e, true);
  view.setUint16(14, 45, true);
  view.setBigUint64(24, BigInt(count), true);
  view.setBigUint64(32, BigInt(count), true);
  view.setBigUint64(40, BigInt(size), true);
  view.setBigUint64(48, BigInt(offset), true);
  return out;
}

function zip64Locator(recordOffset: number): Uint8Array {
  const out = new Uint8Array(20);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x07064b50, true);
  view.setBigUint64(8, BigInt(recordOffset), true);
  view.setUint32(16, 1, true);
  return out;
}

function end(count: number, size: number, offset: number, zip64: boolean): Uint8Array {
  const out = new Uint8Array(22);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, zip64 ? 0xffff : count, true);
  view.setUint16(10, zip64 ? 0xffff : count, true);
  view.setUint32(12, zip64 ? MAX32 : size, true);
  view.setUint32(16, zip64 ? MAX32 : offset, true);
  return out;
}
