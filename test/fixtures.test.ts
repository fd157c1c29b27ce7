/**
 * The zarrita.js fixtures (written by zarr-python 2.18 and 3.1) read against the values that
 * reference zarr-python readers returned (`test/fixtures/zarrita/expected.json`).
 *
 * Every array of the two directory stores is either read and compared exactly (values, shape,
 * chunks, fill value, attributes, dimension names), or listed in UNSUPPORTED with the reason
 * and the typed error zarrflow must reject it with. When support for something is added, its
 * arrays start reading, their "must reject" tests fail, and the list shrinks.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import {
  UnknownCodecError,
  ZarrArray,
  ZarrGroup,
  ZarrflowError,
  open,
  openArray,
  openGroup,
  registeredCodecs,
  type DataType,
  type Scalar,
  type Store,
} from "../src/index.js";
import { FileSystemStore, ZipStore } from "../stores/index.js";
import { ZARRITA_FIXTURES } from "./helpers/fixtures.js";
import { V2_DATA_TYPES } from "./helpers/reference.js";
import { elements, expectedDataType, expectedElements, firstMismatch, flatten, jsonNumber } from "./helpers/fixture-values.js";

const ZARRITA = ZARRITA_FIXTURES;
const EXPECTED_JSON = path.join(ZARRITA, "expected.json");
const STORES = ["v2/data.zarr", "v3/data.zarr"] as const;
type StoreName = (typeof STORES)[number];

// ---------------------------------------------------------------------------------------------
// What zarrflow does not support yet: each array with its reason and the error it must raise.

interface Unsupported {
  reason: string;
  /** `error.code` of the typed zarrflow error. */
  code: "UNSUPPORTED_DATA_TYPE" | "UNKNOWN_CODEC" | "METADATA_ERROR";
  /** For UNKNOWN_CODEC: the codec named by the error. */
  codec?: string;
  /**
   * Supported once this holds (the array must then read equal instead). Used for sharding,
   * which lands separately (issue #4): the entries stay here until then.
   */
  supportedWhen?: () => boolean;
}

const shardingRegistered = (): boolean => registeredCodecs().includes("sharding_indexed");

const V2_BYTES_STRING: Unsupported = { reason: "fixed-width bytes string dtype (|S)", code: "UNSUPPORTED_DATA_TYPE" };
const V2_UNICODE: Unsupported = { reason: "fixed-width unicode string dtype (<U / >U)", code: "UNSUPPORTED_DATA_TYPE" };
const V2_OBJECT: Unsupported = { reason: "object dtype (|O, vlen-utf8 / json2 object codec)", code: "UNSUPPORTED_DATA_TYPE" };
const V3_STRING: Unsupported = { reason: "variable-length string data type (vlen-utf8)", code: "UNSUPPORTED_DATA_TYPE" };
const v2Filter = (id: string): Unsupported => ({ reason: `v2 filter "${id}"`, code: "UNKNOWN_CODEC", codec: id });
const NUMCODECS_DELTA: Unsupported = { reason: "numcodecs.delta codec", code: "UNKNOWN_CODEC", codec: "numcodecs.delta" };
const SHARDING: Unsupported = {
  reason: "sharding (issue #4)",
  code: "UNKNOWN_CODEC",
  codec: "sharding_indexed",
  supportedWhen: shardingRegistered,
};

const UNSUPPORTED: Record<StoreName, Record<string, Unsupported>> = {
  "v2/data.zarr": {
    "1d.contiguous.S7": V2_BYTES_STRING,
    "1d.contiguous.U13.be": V2_UNICODE,
    "1d.contiguous.U13.le": V2_UNICODE,
    "1d.contiguous.U7": V2_UNICODE,
    "2d.chunked.U7": V2_UNICODE,
    "1d.contiguous.json2.O": V2_OBJECT,
    "3d.chunked.O": V2_OBJECT,
    "1d.contiguous.bitround.f4": v2Filter("bitround"),
    "1d.contiguous.delta.i2": v2Filter("delta"),
    "1d.contiguous.delta.shuffle.i2": v2Filter("delta"),
    "1d.contiguous.fixedscaleoffset.f4": v2Filter("fixedscaleoffset"),
    "1d.contiguous.shuffle.i2": v2Filter("shuffle"),
  },
  "v3/data.zarr": {
    "1d.chunked.string.vlen": V3_STRING,
    "1d.contiguous.string.compressed": V3_STRING,
    "1d.contiguous.string.vlen": V3_STRING,
    "1d.string.empty": V3_STRING,
    "1d.string.unicode": V3_STRING,
    "2d.chunked.string.vlen": V3_STRING,
    "1d.contiguous.delta.i4": NUMCODECS_DELTA,
    "3d.contiguous.delta.i4.mixed": NUMCODECS_DELTA,
    "1d.chunked.compressed.sharded.i2": SHARDING,
    "1d.chunked.filled.compressed.sharded.i2": SHARDING,
    "1d.contiguous.compressed.sharded.b1": SHARDING,
    "1d.contiguous.compressed.sharded.f4": SHARDING,
    "1d.contiguous.compressed.sharded.f8": SHARDING,
    "1d.contiguous.compressed.sharded.i2": SHARDING,
    "1d.contiguous.compressed.sharded.i4": SHARDING,
    "1d.contiguous.compressed.sharded.u1": SHARDING,
    "2d.chunked.compressed.sharded.filled.i2": SHARDING,
    "2d.chunked.compressed.sharded.i2": SHARDING,
    "2d.chunked.ragged.compressed.sharded.i2": SHARDING,
    "2d.contiguous.compressed.sharded.i2": SHARDING,
    "3d.chunked.compressed.sharded.i2": SHARDING,
    "3d.chunked.mixed.compressed.sharded.i2": SHARDING,
    "3d.contiguous.compressed.sharded.i2": SHARDING,
  },
};

/** The rejection expected for an array now, or undefined when it must read. */
function unsupported(store: StoreName, arrayPath: string): Unsupported | undefined {
  const entry = UNSUPPORTED[store][arrayPath];
  if (!entry || entry.supportedWhen?.()) return undefined;
  return entry;
}

// ---------------------------------------------------------------------------------------------
// expected.json

interface ArrayEntry {
  format: 2 | 3;
  data_type: string;
  dtype: string;
  shape: number[];
  chunks: number[];
  shards: number[] | null;
  fill_value: unknown;
  codecs: string;
  data: unknown;
}

interface StoreEntry {
  format: 2 | 3;
  kind: "directory" | "zip";
  consolidated_metadata: string | string[] | null;
  groups: Record<string, Record<string, unknown>>;
  arrays: Record<string, ArrayEntry>;
}

interface Expected {
  stores: Record<string, StoreEntry>;
}

const fixturesPresent = existsSync(EXPECTED_JSON);
const expected: Expected = fixturesPresent ? JSON.parse(readFileSync(EXPECTED_JSON, "utf8")) : { stores: {} };

if (!fixturesPresent) {
  describe("zarrita fixtures", () => {
    it("are present", () => {
      throw new Error(
        `The fixtures are missing: expected ${EXPECTED_JSON} (they are part of the repository; see test/fixtures/README.md).`,
      );
    });
  });
}

const storeDir = (store: StoreName): string => path.join(ZARRITA, store);
const fsStore = (store: StoreName): FileSystemStore => new FileSystemStore(storeDir(store), { readOnly: true });

/** A fill value in the metadata's JSON form, for comparison with `fill_value`. */
function fillValueJSON(value: Scalar, dataType: DataType): unknown {
  const number = (x: number): unknown => (Number.isNaN(x) ? "NaN" : x === Infinity ? "Infinity" : x === -Infinity ? "-Infinity" : x);
  if (dataType === "bool") return Boolean(value);
  if (Array.isArray(value)) return value.map(number);
  if (typeof value === "bigint") return Number(value);
  return number(value as number);
}

function sameFillValue(actual: Scalar, dataType: DataType, wanted: unknown): boolean {
  const got = fillValueJSON(actual, dataType);
  if (typeof wanted === "boolean" || typeof got === "boolean") return got === wanted;
  if (Array.isArray(wanted)) return Array.isArray(got) && got.every((x, i) => Object.is(jsonNumber(x), jsonNumber(wanted[i])));
  return Object.is(jsonNumber(got), jsonNumber(wanted)) || (got === 0 && wanted === 0);
}

/** The raw metadata documents of an array, for attributes and dimension names. */
function rawMetadata(store: StoreName, arrayPath: string): { attributes: unknown; dimensionNames: unknown } {
  const dir = path.join(storeDir(store), ...arrayPath.split("/"));
  if (store.startsWith("v3/")) {
    const json = JSON.parse(readFileSync(path.join(dir, "zarr.json"), "utf8"));
    return { attributes: json.attributes ?? {}, dimensionNames: json.dimension_names ?? null };
  }
  const zattrs = path.join(dir, ".zattrs");
  return { attributes: existsSync(zattrs) ? JSON.parse(readFileSync(zattrs, "utf8")) : {}, dimensionNames: null };
}

/** The codec names and data type in an array's own metadata (v2 filters and compressor by id). */
function declaredFeatures(store: StoreName, arrayPath: string): { dataType: string; codecs: string[] } {
  const dir = path.join(storeDir(store), ...arrayPath.split("/"));
  if (store.startsWith("v3/")) {
    const json = JSON.parse(readFileSync(path.join(dir, "zarr.json"), "utf8"));
    return { dataType: json.data_type, codecs: (json.codecs as { name: string }[]).map((c) => c.name) };
  }
  const zarray = JSON.parse(readFileSync(path.join(dir, ".zarray"), "utf8"));
  const codecs = [...((zarray.filters ?? []) as { id: string }[]).map((f) => `filter:${f.id}`)];
  if (zarray.compressor) codecs.push(zarray.compressor.id);
  return { dataType: zarray.dtype, codecs };
}

/** The support rules of the brief, applied to the metadata: agrees with the explicit list. */
const SUPPORTED_DATA_TYPES = new Set(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64", "complex64", "complex128"]);
const SUPPORTED_CODECS = new Set(["bytes", "transpose", "gzip", "zlib", "zstd", "blosc", "lz4", "crc32c", "numcodecs.zlib", "numcodecs.lz4"]);

function ruleSaysSupported(store: StoreName, arrayPath: string): boolean {
  const { dataType, codecs } = declaredFeatures(store, arrayPath);
  const v3Name = store.startsWith("v2/") ? V2_DATA_TYPES[dataType.replace(/^[<>|=]/, "")] : dataType;
  const shardingOk = shardingRegistered();
  return (
    v3Name !== undefined &&
    SUPPORTED_DATA_TYPES.has(v3Name) &&
    codecs.every((c) => SUPPORTED_CODECS.has(c) || (c === "sharding_indexed" && shardingOk))
  );
}

/** Opens and reads an array, so that either step may reject. */
async function openAndRead(store: Store, arrayPath: string): Promise<void> {
  const array = await openArray(store, { path: arrayPath });
  await array.read();
}

// ---------------------------------------------------------------------------------------------
// tests

/**
 * Each fixture store, and the directory store it holds (the zipped ones hold the same data, so
 * the directory's support list and raw metadata documents apply to them).
 */
interface FixtureSuite {
  name: string;
  storeName: StoreName;
  kind: "directory" | "zip";
  open(): Promise<Store>;
}

const ZIPPED: [string, StoreName][] = [
  ["v2/data.zipped_from_within.zarr.zip", "v2/data.zarr"],
  ["v2/data.zipped_from_parent.zarr.zip", "v2/data.zarr"],
  ["v3/data.zipped_from_within.zarr.zip", "v3/data.zarr"],
  ["v3/data.zipped_from_parent.zarr.zip", "v3/data.zarr"],
  ["v3/data.uncompressed.zarr.zip", "v3/data.zarr"],
];

const SUITES: FixtureSuite[] = [
  ...STORES.map((storeName): FixtureSuite => ({ name: storeName, storeName, kind: "directory", open: async () => fsStore(storeName) })),
  // Zip archives read by range through ZipStore over the file system store of their folder.
  ...ZIPPED.map(([name, storeName]): FixtureSuite => ({
    name,
    storeName,
    kind: "zip",
    open: () => ZipStore.open(new FileSystemStore(path.join(ZARRITA, path.dirname(name)), { readOnly: true }), path.basename(name)),
  })),
];

for (const { name: suiteName, storeName, kind, open: openFixture } of fixturesPresent ? SUITES : []) {
  const storeEntry = expected.stores[suiteName];

  describe(`zarrita fixtures: ${suiteName}`, () => {
    it("is described in expected.json", () => {
      expect(storeEntry, `expected.json has no store "${suiteName}"`).toBeDefined();
      expect(storeEntry.kind).toBe(kind);
    });
    if (!storeEntry) return;
    const arrays = Object.entries(storeEntry.arrays);

    it("lists in UNSUPPORTED only arrays that exist, and agrees with the support rules", () => {
      for (const name of Object.keys(UNSUPPORTED[storeName])) {
        expect(storeEntry.arrays, `UNSUPPORTED names "${name}", which expected.json does not list`).toHaveProperty([name]);
      }
      for (const [arrayPath] of arrays) {
        const listed = unsupported(storeName, arrayPath) !== undefined;
        expect(listed, `"${arrayPath}": the explicit list and the support rules disagree`).toBe(!ruleSaysSupported(storeName, arrayPath));
      }
    });

    const readable = arrays.filter(([p]) => !unsupported(storeName, p));
    const rejected = arrays.filter(([p]) => unsupported(storeName, p));

    describe("reads every supported array exactly", () => {
      it.each(readable.map(([p, e]) => [p, e] as const))("%s", async (arrayPath, entry) => {
        const store = await openFixture();
        const array = await openArray(store, { path: arrayPath });
        const dataType = expectedDataType(entry);
        expect(array).toBeInstanceOf(ZarrArray);
        expect(array.zarrFormat).toBe(entry.format);
        expect(array.dtype).toBe(dataType);
        expect(array.shape).toEqual(entry.shape);
        expect(array.chunks).toEqual(entry.chunks);
        expect(array.shards).toEqual(entry.shards);
        expect(sameFillValue(array.fillValue, dataType, entry.fill_value), `fill value ${String(array.fillValue)} vs ${JSON.stringify(entry.fill_value)}`).toBe(true);

        const result = await array.read();
        expect(result.shape).toEqual(entry.shape);
        expect(result.dtype).toBe(dataType);
        const mismatch = firstMismatch(elements(result.data, dataType), expectedElements(entry, dataType));
        expect(mismatch, `${arrayPath}: ${mismatch}`).toBeUndefined();

        const raw = rawMetadata(storeName, arrayPath);
        expect(array.attrs).toEqual(raw.attributes);
        expect(array.dimensionNames).toEqual(raw.dimensionNames);
      });
    });

    if (rejected.length) {
      describe("rejects every unsupported array with a typed error naming it", () => {
        it.each(rejected.map(([p]) => [p, unsupported(storeName, p)!] as const))("%s", async (arrayPath, why) => {
          let error: unknown;
          try {
            await openAndRead(await openFixture(), arrayPath);
          } catch (caught) {
            error = caught;
          }
          expect(error, `"${arrayPath}" (${why.reason}) read without error: remove it from UNSUPPORTED`).toBeDefined();
          expect(error, `"${arrayPath}": ${String(error)}`).toBeInstanceOf(ZarrflowError);
          const typed = error as ZarrflowError;
          expect(typed.code, `${why.reason}: ${typed.message}`).toBe(why.code);
          expect(typed.message).toContain(arrayPath);
          expect(typed.path).toBe(arrayPath);
          if (why.codec !== undefined) {
            expect(typed).toBeInstanceOf(UnknownCodecError);
            expect((typed as UnknownCodecError).codec).toBe(why.codec);
          }
        });
      });
    }

    it("reads group attributes", async () => {
      const store = await openFixture();
      for (const [groupPath, attributes] of Object.entries(storeEntry.groups)) {
        for (const consolidated of [false, undefined]) {
          const group = await openGroup(store, { path: groupPath, consolidated });
          expect(group.zarrFormat).toBe(storeEntry.format);
          expect(group.attrs, `attributes of "${groupPath}"`).toEqual(attributes);
        }
      }
    });

    it("lists the children of every group, from the store and from consolidated metadata", async () => {
      const store = await openFixture();
      const nodes = [...Object.keys(storeEntry.arrays), ...Object.keys(storeEntry.groups).filter((g) => g !== "")];
      for (const groupPath of Object.keys(storeEntry.groups)) {
        const prefix = groupPath === "" ? "" : `${groupPath}/`;
        const wanted = [...new Set(nodes.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length).split("/")[0]))].sort();
        const listed = await openGroup(store, { path: groupPath, consolidated: false });
        expect(listed.metadata.consolidated).toBeUndefined();
        expect(await listed.children(), `children of "${groupPath}" (listing)`).toEqual(wanted);
        const viaDefault = await openGroup(store, { path: groupPath });
        expect(await viaDefault.children(), `children of "${groupPath}" (default open)`).toEqual(wanted);
      }
    });
  });
}

if (fixturesPresent) {
  describe("zarrita fixtures: consolidated metadata", () => {
    it("v2: the root's .zmetadata lists every child, and children open from it", async () => {
      const storeName = "v2/data.zarr" as const;
      const entry = expected.stores[storeName];
      expect(entry.consolidated_metadata).toBe(".zmetadata");
      const root = await openGroup(fsStore(storeName), { consolidated: true });
      expect(root.metadata.consolidated, "root opened without its consolidated metadata").toBeDefined();
      const wanted = [...new Set([...Object.keys(entry.arrays), ...Object.keys(entry.groups)].filter((p) => p !== "").map((p) => p.split("/")[0]))].sort();
      expect(await root.children()).toEqual(wanted);
      expect(wanted).toHaveLength(33);

      // Children come from the consolidated documents: reading through a store without the
      // per-array metadata documents proves it (a store that hides .zarray/.zgroup/.zattrs).
      const inner = fsStore(storeName);
      const hiding: Store = {
        get: (key, range, options) =>
          /\/\.z(array|group|attrs)$/.test(key) ? Promise.resolve(undefined) : inner.get(key, range, options),
      };
      const viaZmetadata = await openGroup(hiding, { consolidated: true });
      const array = await viaZmetadata.open("2d.chunked.ragged.i2");
      expect(array).toBeInstanceOf(ZarrArray);
      const result = await (array as ZarrArray).read();
      expect(Array.from(result.data as Int16Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const sub = await viaZmetadata.open("my group with spaces");
      expect(sub).toBeInstanceOf(ZarrGroup);
      expect((sub as ZarrGroup).attrs).toEqual(entry.groups["my group with spaces"]);

      // consolidated: true where there is none is a typed error naming the group.
      await expect(openGroup(fsStore(storeName), { path: "my group with spaces", consolidated: true })).rejects.toMatchObject({
        code: "METADATA_ERROR",
      });
    });

    it("v3: the 'consolidated' group's inline metadata lists its children, nested ones open through it", async () => {
      const storeName = "v3/data.zarr" as const;
      const entry = expected.stores[storeName];
      expect(entry.consolidated_metadata).toEqual(["consolidated"]);
      const group = await openGroup(fsStore(storeName), { path: "consolidated" });
      expect(group.metadata.consolidated, "inline consolidated metadata was not picked up").toBeDefined();
      expect(await group.children()).toEqual(["1d.chunked.i2", "2d.contiguous.i2", "nested"]);
      const nested = await group.open("nested/1d.i2");
      expect(nested).toBeInstanceOf(ZarrArray);
      const result = await (nested as ZarrArray).read();
      expect(Array.from(result.data as Int16Array)).toEqual(flatten(entry.arrays["consolidated/nested/1d.i2"].data, [4]));
      const nestedGroup = await group.open("nested");
      expect((nestedGroup as ZarrGroup).attrs).toEqual(entry.groups["consolidated/nested"]);
      // zarr-python leaves the nested group's own inline metadata empty: its children come from the parent's.
      expect(await (nestedGroup as ZarrGroup).children()).toEqual(["1d.i2"]);
      // The root has `consolidated_metadata: null`: no consolidated view, listing instead.
      const root = await open(fsStore(storeName));
      expect(root).toBeInstanceOf(ZarrGroup);
      expect((root as ZarrGroup).metadata.consolidated).toBeUndefined();
    });
  });
}
