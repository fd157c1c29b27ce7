/**
 * A read-only store over a zip archive that lives in another store (a local file, HTTP, S3):
 * the central directory is read once (two ranged reads: the end records, then the directory),
 * and each member by range — a stored (uncompressed) member's byte ranges map straight onto
 * ranges of the archive, so a shard inside an uncompressed zip is read piece by piece; a
 * deflated member is read whole and inflated (bounded by its declared size).
 *
 * Layouts: the hierarchy at the archive's root (zarr-python's ZipStore) or under one top folder
 * (`zip -r x.zip x.zarr`). Zip64 archives are read. Hostile archives are refused with ZipError:
 * member names that leave the root, members that overlap each other or the directory, sizes
 * that lie, entry counts the directory cannot hold. Memory is bounded by `maxDirectoryBytes`
 * and each member's declared (checked) size.
 *
 * Portable: inflating goes through the deflate backends (node:zlib or fflate).
 */
import { deflateBackend, crc32 } from "../src/codecs/deflate-backend.js";
import { StoreError, throwIfAborted, type ErrorContext } from "../src/errors.js";
import { resolveRange, validateRange, type ByteRange, type Store, type StoreCallOptions } from "../src/store.js";

/** The archive is malformed or hostile. */
export class ZipError extends StoreError {
  override readonly code: string = "ZIP_ERROR";
}

export interface ZipStoreOptions {
  /** Largest central directory read (default 64 MiB). */
  maxDirectoryBytes?: number;
  /**
   * The folder inside the archive that holds the hierarchy ("" for the root). Default: the root
   * when it holds Zarr metadata, else the one top folder every member is under.
   */
  root?: string;
  /** Verify each whole member read against its CRC-32 (default true). */
  checkCrc?: boolean;
}

/** One member, as the central directory describes it. */
export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  flags: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;
/** Deflate cannot expand data by more than about 1032:1; a size claiming more is a lie. */
const MAX_DEFLATE_RATIO = 1032;
const METADATA = new Set(["zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata"]);

export class ZipStore implements Store {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The folder of the archive the store is rooted at ("" or ending in "/"). */
  readonly root: string;
  readonly #source: Store;
  readonly #key: string;
  readonly #archiveSize: number;
  readonly #checkCrc: boolean;
  /** Where each member's data starts (after its local header), learnt on first use. */
  readonly #dataStart = new Map<string, Promise<number>>();
  /** [start, end) of each member's span: its local header's offset up to the next member or the directory. */
  readonly #limit = new Map<string, number>();

  private constructor(source: Store, key: string, entries: Map<string, ZipEntry>, root: string, archiveSize: number, directoryOffset: number, checkCrc: boolean) {
    this.#source = source;
    this.#key = key;
    this.entries = entries;
    this.root = root;
    this.#archiveSize = archiveSize;
    this.#checkCrc = checkCrc;
    const sorted = [...entries.values()].sort((a, b) => a.localOffset - b.localOffset);
    sorted.forEach((entry, i) => this.#limit.set(entry.name, i + 1 < sorted.length ? sorted[i + 1].localOffset : directoryOffset));
  }

  /** Opens the archive at `key` of `source`, reading its end records and central directory. */
  static async open(source: Store, key: string, options: ZipStoreOptions & StoreCallOptions = {}): Promise<ZipStore> {
    const signal = options.signal;
    const context = { key };
    const maxDirectory = options.maxDirectoryBytes ?? 64 << 20;
    // The end record is 22 bytes plus a comment of at most 65535; Zip64's locator and record precede it.
    const tail = await source.get(key, { suffixLength: 22 + 65535 + 20 + 56 }, { signal });
    if (tail === undefined) throw new StoreError("no zip archive here", context);
    const archiveSize = (await source.size?.(key, { signal })) ?? undefined;
    const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (view.getUint32(i, true) === EOCD && i + 22 + view.getUint16(i + 20, true) === tail.length) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new ZipError("not a zip archive: no end of central directory record", context);
    let entriesCount = view.getUint16(at + 10, true);
    let directorySize = view.getUint32(at + 12, true);
    let directoryOffset = view.getUint32(at + 16, true);
    if (view.getUint16(at + 4, true) !== 0 || view.getUint16(at + 6, true) !== 0) throw new ZipError("multi-disk zip archives are not supported", context);
    // The archive's total size: from the store when it says, else from where the end record sits.
    let size = archiveSize;
    const locatorAt = at - 20;
    const zip64 = locatorAt >= 0 && view.getUint32(locatorAt, true) === EOCD64_LOCATOR;
    if (zip64) {
      const recordOffset = Number(view.getBigUint64(locatorAt + 8, true));
      size ??= recordOffset + 56 + 20 + (tail.length - at);
      const tailStart = size - tail.length;
      let record: DataView;
      if (recordOffset >= tailStart && recordOffset + 56 <= size) {
        record = new DataView(tail.buffer, tail.byteOffset + (recordOffset - tailStart), 56);
      } else {
        const bytes = await source.get(key, { offset: recordOffset, length: 56 }, { signal });
        if (!bytes || bytes.length !== 56) throw new ZipError("the Zip64 end record is outside the archive", context);
        record = new DataView(bytes.buffer, bytes.byteOffset, 56);
      }
      if (record.getUint32(0, true) !== EOCD64) throw new ZipError("the Zip64 locator points at no Zip64 end record", context);
      entriesCount = safeNumber(record.getBigUint64(32, true), "entry count", context);
      directorySize = safeNumber(record.getBigUint64(40, true), "central directory size", context);
      directoryOffset = safeNumber(record.getBigUint64(48, true), "central directory offset", context);
    } else {
      size ??= directoryOffset + directorySize + (tail.length - at);
    }
    if (directoryOffset + directorySize > size) throw new ZipError(`the central directory (${directorySize} bytes at ${directoryOffset}) runs past the end of the ${size}-byte archive`, context);
    if (directorySize > maxDirectory) throw new ZipError(`the central directory is ${directorySize} bytes, more than the ${maxDirectory} allowed`, context);
    // Every entry takes at least 46 bytes: a count the directory cannot hold is a lie.
    if (entriesCount * 46 > directorySize) throw new ZipError(`the archive claims ${entriesCount} entries in a ${directorySize}-byte central directory`, context);
    const directory = directorySize === 0 ? new Uint8Array(0) : await source.get(key, { offset: directoryOffset, length: directorySize }, { signal });
    if (!directory || directory.length !== directorySize) throw new ZipError("the central directory is truncated", context);
    const entries = parseDirectory(directory, entriesCount, directoryOffset, context);
    const root = options.root !== undefined ? normalizeRoot(options.root) : findRoot([...entries.keys()]);
    const rooted = new Map<string, ZipEntry>();
    for (const [name, entry] of entries) if (name.startsWith(root) && name.length > root.length) rooted.set(name.slice(root.length), entry);
    return new ZipStore(source, key, rooted, root, size, directoryOffset, options.checkCrc ?? true);
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    try {
      validateRange(range);
    } catch (error) {
      throw new StoreError((error as Error).message, { key, cause: error });
    }
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const context = { key: `${this.#key}:${this.root}${key}` };
    const start = await this.#start(key, entry, signal, context);
    if (entry.method === STORED) {
      const [from, to] = resolveRange(range, entry.size);
      if (range !== undefined) {
        if (from === to) return new Uint8Array(0);
        return this.#read(start + from, to - from, signal, context);
      }
      const bytes = await this.#read(start, entry.size, signal, context);
      if (this.#checkCrc && crc32(bytes) !== entry.crc) throw new ZipError("CRC-32 mismatch: the member is corrupt", context);
      return bytes;
    }
    const packed = await this.#read(start, entry.compressedSize, signal, context);
    let bytes: Uint8Array;
    try {
      bytes = deflateBackend().inflateRaw(packed, entry.size);
    } catch (error) {
      throw new ZipError(`the deflated member does not inflate to its declared ${entry.size} bytes: ${(error as Error).message}`, { ...context, cause: error });
    }
    if (bytes.length !== entry.size) throw new ZipError(`the member inflates to ${bytes.length} bytes, not the ${entry.size} declared`, context);
    if (this.#checkCrc && crc32(bytes) !== entry.crc) throw new ZipError("CRC-32 mismatch: the member is corrupt", context);
    if (range === undefined) return bytes;
    const [from, to] = resolveRange(range, bytes.length);
    return bytes.slice(from, to);
  }

  async size(key: string): Promise<number | undefined> {
    return this.entries.get(key)?.size;
  }

  async *list(prefix: string): AsyncIterable<string> {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) yield key;
  }

  async close(): Promise<void> {
    await this.#source.close?.();
  }

  /** Where the member's data starts: its local header read (once) and checked against the directory. */
  #start(key: string, entry: ZipEntry, signal: AbortSignal | undefined, context: ErrorContext): Promise<number> {
    let start = this.#dataStart.get(key);
    if (start === undefined) {
      start = (async () => {
        const header = await this.#read(entry.localOffset, 30, signal, context);
        const view = new DataView(header.buffer, header.byteOffset, 30);
        if (view.getUint32(0, true) !== LOCAL) throw new ZipError(`no local header at offset ${entry.localOffset}`, context);
        const dataStart = entry.localOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
        const limit = this.#limit.get(entry.name) ?? this.#archiveSize;
        // The data must end before the next member (or the directory) starts: no overlaps.
        if (dataStart + entry.compressedSize > limit) {
          throw new ZipError(`the member's data (${entry.compressedSize} bytes at ${dataStart}) overlaps what follows it at ${limit}`, context);
        }
        return dataStart;
      })();
      start.catch(() => this.#dataStart.delete(key));
      this.#dataStart.set(key, start);
    }
    return start;
  }

  async #read(offset: number, length: number, signal: AbortSignal | undefined, context: ErrorContext): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const bytes = await this.#source.get(this.#key, { offset, length }, { signal });
    if (bytes === undefined) throw new StoreError("the zip archive disappeared", context);
    if (bytes.length !== length) throw new ZipError(`the archive ends inside a member (${bytes.length} of ${length} bytes at ${offset})`, context);
    return bytes;
  }
}

function parseDirectory(directory: Uint8Array, count: number, directoryOffset: number, context: ErrorContext): Map<string, ZipEntry> {
  const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const spans: [number, number, string][] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directory.length || view.getUint32(at, true) !== CENTRAL) throw new ZipError(`central directory entry ${i} is malformed`, context);
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localOffset = view.getUint32(at + 42, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > directory.length) throw new ZipError(`central directory entry ${i} runs past the directory`, context);
    const name = decoder.decode(directory.subarray(at + 46, at + 46 + nameLength));
    // Zip64: the fields saturated at 0xFFFFFFFF are in the 0x0001 extra field, in this order.
    const extra = new DataView(directory.buffer, directory.byteOffset + at + 46 + nameLength, extraLength);
    for (let e = 0; e + 4 <= extraLength; ) {
      const id = extra.getUint16(e, true);
      const length = extra.getUint16(e + 2, true);
      if (e + 4 + length > extraLength) throw new ZipError(`a malformed extra field in entry "${name}"`, context);
      if (id === 0x0001) {
        let f = e + 4;
        const next = (what: string): number => {
          if (f + 8 > e + 4 + length) throw new ZipError(`the Zip64 field of "${name}" lacks its ${what}`, context);
          const value = safeNumber(extra.getBigUint64(f, true), what, context);
          f += 8;
          return value;
        };
        if (size === 0xffffffff) size = next("size");
        if (compressedSize === 0xffffffff) compressedSize = next("compressed size");
        if (localOffset === 0xffffffff) localOffset = next("offset");
      }
      e += 4 + length;
    }
    at = end;
    if (name.endsWith("/")) continue; // folders carry no data
    checkName(name, context);
    if (flags & 1) throw new ZipError(`member "${name}" is encrypted`, context);
    if (method !== STORED && method !== DEFLATED) throw new ZipError(`member "${name}" uses compression method ${method} (only stored and deflated are read)`, context);
    if (method === STORED && compressedSize !== size) throw new ZipError(`stored member "${name}" claims ${size} bytes but holds ${compressedSize}`, context);
    if (method === DEFLATED && size > Math.max(1024, compressedSize * MAX_DEFLATE_RATIO)) {
      throw new ZipError(`member "${name}" claims ${size} bytes from ${compressedSize} deflated: more than deflate can expand`, context);
    }
    if (localOffset + 30 + compressedSize > directoryOffset) throw new ZipError(`member "${name}" lies past the start of the central directory`, context);
    if (entries.has(name)) throw new ZipError(`member "${name}" appears twice`, context);
    entries.set(name, { name, method, crc, compressedSize, size, localOffset, flags });
    spans.push([localOffset, localOffset + 30 + nameLength + compressedSize, name]);
  }
  // Two members whose spans overlap share bytes: a zip bomb's trick, and never a valid archive.
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new ZipError(`members "${spans[i - 1][2]}" and "${spans[i][2]}" overlap`, context);
  }
  return entries;
}

/** Names are relative paths of plain segments: nothing absolute, no "..", no backslashes or NUL. */
function checkName(name: string, context: ErrorContext): void {
  const segments = name.split("/");
  if (name === "" || name.startsWith("/") || /^[A-Za-z]:/.test(name) || /[\\\0]/.test(name) || segments.some((s) => s === ".." || s === "." || s === "")) {
    throw new ZipError(`member name ${JSON.stringify(name)} leaves the archive's root or is malformed`, context);
  }
}

/** "" when the root holds Zarr metadata (or members outside any folder), else the single top folder. */
function findRoot(names: string[]): string {
  if (names.some((n) => METADATA.has(n)) || names.length === 0) return "";
  const tops = new Set(names.map((n) => (n.includes("/") ? n.slice(0, n.indexOf("/") + 1) : "")));
  if (tops.size === 1 && !tops.has("")) return [...tops][0];
  return "";
}

function normalizeRoot(root: string): string {
  const trimmed = root.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

function safeNumber(value: bigint, what: string, context: ErrorContext): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`the archive's ${what} (${value}) is beyond any real archive`, context);
  return Number(value);
}
