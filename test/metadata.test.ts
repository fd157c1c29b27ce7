/**
 * Metadata: v3 zarr.json and v2 .zarray/.zgroup/.zattrs/.zmetadata parsing, validation and
 * serialisation — data types, fill values, chunk key encodings, codec mapping from v2.
 */
import { parseJSON } from "../src/json.js";
import { describe, expect, it } from "vitest";
import {
  DATA_TYPES,
  MetadataError,
  UnknownCodecError,
  UnsupportedDataTypeError,
  create,
  createGroup,
  open,
  type DataType,
} from "../src/index.js";
import {
  parseV2Array,
  parseV2Consolidated,
  parseV2Group,
  parseV3Node,
  toV2ArrayJSON,
  toV3ArrayJSON,
  type ArrayMetadata,
} from "../src/metadata.js";
import { fillValueToJSON, parseFillValue, toV2DataType } from "../src/dtype.js";
import { ZarrArray } from "../src/array.js";
import { ZarrGroup } from "../src/group.js";
import { MemoryStore } from "../stores/index.js";

const ALL_TYPES = Object.keys(DATA_TYPES) as DataType[];
// Documents hold exact integers beyond 2^53 (fill values): parse them as zarrflow does.
const decode = (bytes: Uint8Array | undefined) => parseJSON(new TextDecoder().decode(bytes));
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** A minimal valid v3 array document, with overrides. */
function v3Doc(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    zarr_format: 3,
    node_type: "array",
    shape: [10, 20],
    data_type: "int16",
    chunk_grid: { name: "regular", configuration: { chunk_shape: [5, 5] } },
    chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
    fill_value: 0,
    codecs: [{ name: "bytes", configuration: { endian: "little" } }],
    attributes: {},
    ...overrides,
  };
}

function parseArray(doc: unknown): ArrayMetadata {
  const node = parseV3Node(doc, { path: "a" });
  if (node.kind !== "array") throw new Error("expected an array");
  return node.metadata;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.unreachable("expected an error");
}

/** A minimal valid .zarray, with overrides. */
function zarray(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    zarr_format: 2,
    shape: [10, 20],
    chunks: [5, 5],
    dtype: "<i2",
    compressor: null,
    fill_value: 0,
    order: "C",
    filters: null,
    dimension_separator: ".",
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// v3

describe("v3 zarr.json", () => {
  it("toV3ArrayJSON ∘ parseV3Node is the identity on documents zarrflow writes", async () => {
    const store = new MemoryStore();
    const variants: Parameters<typeof create>[1][] = [
      ...ALL_TYPES.map((dtype) => ({ path: `t/${dtype}`, shape: [7, 3], chunks: [4, 2], dtype })),
      { path: "nan", shape: [4], dtype: "float32", fillValue: NaN },
      { path: "inf", shape: [4], dtype: "float64", fillValue: -Infinity },
      { path: "c", shape: [4], dtype: "complex128", fillValue: [NaN, Infinity] },
      { path: "big", shape: [4], dtype: "int64", fillValue: 2n ** 60n + 1n },
      { path: "ubig", shape: [4], dtype: "uint64", fillValue: 2n ** 64n - 1n },
      { path: "b", shape: [4], dtype: "bool", fillValue: true },
      { path: "dot", shape: [4, 4], chunks: [2, 2], dtype: "uint8", dimensionSeparator: "." },
      { path: "v2enc", shape: [4, 4], chunks: [2, 2], dtype: "uint8", chunkKeyEncoding: "v2" },
      { path: "names", shape: [4, 4], dtype: "uint8", dimensionNames: ["y", null], attributes: { units: "m", nested: { a: [1, 2] } } },
      { path: "zero", shape: [], dtype: "float32", fillValue: 1.5 },
      {
        path: "codecs",
        shape: [6, 6],
        chunks: [3, 3],
        dtype: "uint16",
        codecs: [
          { name: "transpose", configuration: { order: [1, 0] } },
          { name: "bytes", configuration: { endian: "big" } },
          { name: "blosc", configuration: { cname: "lz4", clevel: 3, shuffle: "bitshuffle", typesize: 2, blocksize: 0 } },
          { name: "crc32c" },
        ],
      },
    ];
    for (const options of variants) {
      await create(store, options);
      const written = decode(store.map.get(`${options.path}/zarr.json`));
      expect(toV3ArrayJSON(parseArray(written)), options.path).toEqual(written);
    }
  });

  it.each(ALL_TYPES)("parses data type %s", (dataType) => {
    const fill = DATA_TYPES[dataType].kind === "c" ? [0, 0] : DATA_TYPES[dataType].kind === "b" ? false : 0;
    const codecs = [{ name: "bytes", configuration: { endian: "little" } }];
    const metadata = parseArray(v3Doc({ data_type: dataType, fill_value: fill, codecs }));
    expect(metadata.dataType).toBe(dataType);
    expect(metadata.zarrFormat).toBe(3);
    expect(toV3ArrayJSON(metadata)).toEqual(v3Doc({ data_type: dataType, fill_value: fill, codecs }));
  });

  describe("fill values", () => {
    const fill = (data_type: string, fill_value: unknown) => parseArray(v3Doc({ data_type, fill_value })).fillValue;

    it("numbers", () => {
      expect(fill("int16", -7)).toBe(-7);
      expect(fill("uint8", 255)).toBe(255);
      expect(fill("float32", 1.5)).toBe(1.5);
      expect(fill("float64", -1e300)).toBe(-1e300);
      expect(fill("int8", -128)).toBe(-128);
    });

    it('"NaN", "Infinity", "-Infinity"', () => {
      expect(fill("float32", "NaN")).toBeNaN();
      expect(fill("float64", "Infinity")).toBe(Infinity);
      expect(fill("float16", "-Infinity")).toBe(-Infinity);
    });

    it("hex bit patterns of the data type's width", () => {
      expect(fill("float32", "0x7fc00000")).toBeNaN();
      expect(fill("float32", "0x3fc00000")).toBe(1.5);
      expect(fill("float32", "0x80000000")).toBe(-0);
      expect(fill("float16", "0x7e00")).toBeNaN();
      expect(fill("float16", "0x3c00")).toBe(1);
      expect(fill("float16", "0xfc00")).toBe(-Infinity);
      expect(fill("float64", "0x3ff0000000000000")).toBe(1);
      // The width must match the data type.
      expect(() => fill("float32", "0x7e00")).toThrow(MetadataError);
      expect(() => fill("float16", "0x7fc00000")).toThrow(MetadataError);
    });

    it("complex pairs", () => {
      expect(fill("complex64", ["NaN", 1])).toEqual([NaN, 1]);
      expect(fill("complex128", [-2.5, "-Infinity"])).toEqual([-2.5, -Infinity]);
      expect(fill("complex64", ["0x7fc00000", "0x3f800000"])).toEqual([NaN, 1]);
    });

    it("bool", () => {
      expect(fill("bool", true)).toBe(true);
      expect(fill("bool", false)).toBe(false);
    });

    it("int64 / uint64 as strings and big values", () => {
      expect(fill("int64", "9223372036854775807")).toBe(2n ** 63n - 1n);
      expect(fill("int64", "-9223372036854775808")).toBe(-(2n ** 63n));
      expect(fill("uint64", "18446744073709551615")).toBe(2n ** 64n - 1n);
      expect(fill("int64", 42)).toBe(42n);
      expect(fill("uint64", 2 ** 53)).toBe(2n ** 53n);
      // Big values are written back exactly: a bigint beyond 2^53 (stringifyJSON writes it as a JSON integer), a number below.
      expect(fillValueToJSON(2n ** 63n - 1n, "int64")).toBe(2n ** 63n - 1n);
      expect(fill("uint64", 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
      expect(fillValueToJSON(42n, "uint64")).toBe(42);
    });

    it("special floats serialise to their JSON names", () => {
      expect(fillValueToJSON(NaN, "float32")).toBe("NaN");
      expect(fillValueToJSON(Infinity, "float64")).toBe("Infinity");
      expect(fillValueToJSON(-Infinity, "float16")).toBe("-Infinity");
      expect(fillValueToJSON([NaN, -Infinity], "complex64")).toEqual(["NaN", "-Infinity"]);
      expect(fillValueToJSON(true, "bool")).toBe(true);
    });

    it("-0.0 survives a v3 round trip (as its hex bit pattern; JSON.stringify would write 0)", () => {
      for (const [dataType, hex] of [
        ["float16", "0x8000"],
        ["float32", "0x80000000"],
        ["float64", "0x8000000000000000"],
      ] as const) {
        const metadata = parseArray(v3Doc({ data_type: dataType, fill_value: hex }));
        expect(Object.is(metadata.fillValue, -0)).toBe(true);
        const json = JSON.parse(JSON.stringify(toV3ArrayJSON(metadata)));
        expect(json.fill_value).toBe(hex);
        expect(Object.is(parseArray(json).fillValue, -0)).toBe(true);
      }
      const complex = parseArray(v3Doc({ data_type: "complex64", fill_value: [1, "0x80000000"] }));
      expect(toV3ArrayJSON(complex).fill_value).toEqual([1, "0x80000000"]);
      // +0 stays a plain number.
      expect(toV3ArrayJSON(parseArray(v3Doc({ data_type: "float32", fill_value: 0 }))).fill_value).toBe(0);
    });

    it.each<[string, unknown]>([
      ["uint8", 256],
      ["uint8", -1],
      ["int8", 128],
      ["int16", -32769],
      ["int64", "9223372036854775808"],
      ["uint64", "-1"],
      ["int32", 1.5],
      ["int32", "foo"],
      ["int32", null],
      ["float32", "foo"],
      ["float64", "nan"],
      ["float32", null],
      ["float32", [1, 2]],
      ["complex64", 1],
      ["complex64", [1]],
      ["complex64", ["foo", 1]],
      ["bool", "true"],
      ["bool", 2],
    ])("invalid: %s with %j → MetadataError", (dataType, value) => {
      const error = thrown(() => fill(dataType, value));
      expect(error).toBeInstanceOf(MetadataError);
      expect((error as MetadataError).path).toBe("a");
    });

    it("a missing fill_value is a MetadataError", () => {
      const doc = v3Doc();
      delete doc.fill_value;
      expect(() => parseArray(doc)).toThrow(/fill_value/);
    });

    it("parseFillValue is also the v2 parser (int fill accepts bool, bool fill accepts 0/1)", () => {
      expect(parseFillValue(true, "int8")).toBe(1);
      expect(parseFillValue(0, "bool")).toBe(false);
      expect(parseFillValue(1, "bool")).toBe(true);
    });
  });

  describe("chunk key encodings", () => {
    const enc = (chunk_key_encoding: unknown) => parseArray(v3Doc({ chunk_key_encoding })).chunkKeyEncoding;

    it('default: separator "/" unless configured', () => {
      expect(enc(undefined)).toEqual({ name: "default", separator: "/" });
      expect(enc({ name: "default" })).toEqual({ name: "default", separator: "/" });
      expect(enc({ name: "default", configuration: { separator: "." } })).toEqual({ name: "default", separator: "." });
    });

    it('v2: separator "." unless configured', () => {
      expect(enc({ name: "v2" })).toEqual({ name: "v2", separator: "." });
      expect(enc({ name: "v2", configuration: { separator: "/" } })).toEqual({ name: "v2", separator: "/" });
    });

    it("invalid names and separators are MetadataErrors", () => {
      expect(() => enc({ name: "v4" })).toThrow(MetadataError);
      expect(() => enc("default")).toThrow(MetadataError);
      expect(() => enc({ name: "default", configuration: { separator: "-" } })).toThrow(MetadataError);
    });

    it("array chunk keys follow the encoding", async () => {
      const store = new MemoryStore();
      const cases: [Record<string, unknown>, string][] = [
        [{ name: "default" }, "a/c/1/2"],
        [{ name: "default", configuration: { separator: "." } }, "a/c.1.2"],
        [{ name: "v2" }, "a/1.2"],
        [{ name: "v2", configuration: { separator: "/" } }, "a/1/2"],
      ];
      for (const [encoding, key] of cases) {
        const array = new ZarrArray(store, "a", parseArray(v3Doc({ chunk_key_encoding: encoding })));
        expect(array.chunkKey([1, 2])).toBe(key);
      }
      const scalar = new ZarrArray(store, "s", parseArray(v3Doc({ shape: [], chunk_grid: { name: "regular", configuration: { chunk_shape: [] } } })));
      expect(scalar.chunkKey([])).toBe("s/c");
    });
  });

  it("dimension_names and attributes", () => {
    const metadata = parseArray(v3Doc({ dimension_names: ["y", null], attributes: { a: 1, b: { c: [true] } } }));
    expect(metadata.dimensionNames).toEqual(["y", null]);
    expect(metadata.attributes).toEqual({ a: 1, b: { c: [true] } });
    expect(parseArray(v3Doc({ dimension_names: null })).dimensionNames).toBeNull();
    const doc = v3Doc();
    delete doc.attributes;
    expect(parseArray(doc).attributes).toEqual({});
    expect(() => parseArray(v3Doc({ dimension_names: ["y"] }))).toThrow(MetadataError);
    expect(() => parseArray(v3Doc({ dimension_names: ["y", 3] }))).toThrow(MetadataError);
    expect(() => parseArray(v3Doc({ attributes: [1] }))).toThrow(MetadataError);
  });

  it("an unknown top-level field is a MetadataError, unless it says must_understand: false", () => {
    const error = thrown(() => parseArray(v3Doc({ my_extension: { foo: 1 } })));
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as Error).message).toContain("my_extension");
    expect(() => parseArray(v3Doc({ my_extension: { must_understand: true } }))).toThrow(MetadataError);
    expect(() => parseArray(v3Doc({ my_extension: "x" }))).toThrow(MetadataError);
    const metadata = parseArray(v3Doc({ my_extension: { must_understand: false, foo: 1 } }));
    expect(metadata.shape).toEqual([10, 20]);
  });

  it("storage transformers are refused (an empty list is fine)", () => {
    expect(() => parseArray(v3Doc({ storage_transformers: [{ name: "x" }] }))).toThrow(MetadataError);
    expect(parseArray(v3Doc({ storage_transformers: [] })).shape).toEqual([10, 20]);
  });

  it.each<[string, Record<string, unknown>]>([
    ["negative shape", { shape: [-1, 20] }],
    ["non-integer shape", { shape: [1.5, 20] }],
    ["shape not a list", { shape: 10 }],
    ["chunk of 0", { chunk_grid: { name: "regular", configuration: { chunk_shape: [0, 5] } } }],
    ["negative chunk", { chunk_grid: { name: "regular", configuration: { chunk_shape: [-5, 5] } } }],
    ["ndim mismatch", { chunk_grid: { name: "regular", configuration: { chunk_shape: [5] } } }],
    ["irregular grid", { chunk_grid: { name: "rectilinear", configuration: { chunk_shape: [5, 5] } } }],
    ["missing grid", { chunk_grid: undefined }],
    ["empty codecs", { codecs: [] }],
    ["codecs not a list", { codecs: { name: "bytes" } }],
  ])("%s → MetadataError", (_label, overrides) => {
    const error = thrown(() => parseArray(v3Doc(overrides)));
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).path).toBe("a");
  });

  it("a zero-length dimension is allowed in shape (not in chunks)", () => {
    expect(parseArray(v3Doc({ shape: [0, 20] })).shape).toEqual([0, 20]);
  });

  it("wrong zarr_format or node_type → MetadataError", () => {
    for (const doc of [
      v3Doc({ zarr_format: 2 }),
      v3Doc({ zarr_format: "3" }),
      v3Doc({ node_type: "dataset" }),
      v3Doc({ node_type: undefined }),
      [],
      "zarr",
      null,
    ]) {
      expect(() => parseV3Node(doc, { path: "a" })).toThrow(MetadataError);
    }
  });

  it("unsupported data types → UnsupportedDataTypeError", () => {
    for (const data_type of ["strings", "float128", "r16", "datetime64", { name: "numpy.datetime64" }, { name: "numpy.datetime64", configuration: { unit: "xs" } }, 3]) {
      const error = thrown(() => parseArray(v3Doc({ data_type })));
      expect(error).toBeInstanceOf(UnsupportedDataTypeError);
      expect((error as UnsupportedDataTypeError).code).toBe("UNSUPPORTED_DATA_TYPE");
    }
  });

  it("groups parse with attributes and inline consolidated metadata", () => {
    const node = parseV3Node({
      zarr_format: 3,
      node_type: "group",
      attributes: { title: "t" },
      consolidated_metadata: { kind: "inline", must_understand: false, metadata: { x: v3Doc(), "g/y": v3Doc() } },
    });
    expect(node.kind).toBe("group");
    if (node.kind !== "group") return;
    expect(node.metadata.attributes).toEqual({ title: "t" });
    expect([...node.metadata.consolidated!.keys()].sort()).toEqual(["g/y", "x"]);
  });
});

// ---------------------------------------------------------------------------------------------
// v2

describe("v2 .zarray", () => {
  it.each<[string, DataType, "little" | "big"]>([
    ["<u2", "uint16", "little"],
    [">f8", "float64", "big"],
    ["|b1", "bool", "little"],
    ["<c8", "complex64", "little"],
    ["<c16", "complex128", "little"],
    [">i8", "int64", "big"],
    ["|i1", "int8", "little"],
    ["|u1", "uint8", "little"],
    ["<f2", "float16", "little"],
    [">u4", "uint32", "big"],
  ])("typestring %s → %s (%s-endian)", (dtype, dataType, endian) => {
    const fill_value = DATA_TYPES[dataType].kind === "c" ? [0, 0] : 0;
    const metadata = parseV2Array(zarray({ dtype, fill_value }), undefined);
    expect(metadata.dataType).toBe(dataType);
    expect(metadata.v2!.endian).toBe(endian);
    const multiByte = DATA_TYPES[dataType].itemsize / DATA_TYPES[dataType].slots > 1;
    expect(metadata.codecs).toEqual([multiByte ? { name: "bytes", configuration: { endian } } : { name: "bytes" }]);
    expect(toV2DataType(dataType, endian)).toBe(dtype);
  });

  it.each(["|O", "<M8", "<M8[xs]", "<m4[s]", "|S0", "<f16", "<i3", "u2", 7])("unsupported typestring %j → UnsupportedDataTypeError", (dtype) => {
    const error = thrown(() => parseV2Array(zarray({ dtype }), undefined, { path: "a" }));
    expect(error).toBeInstanceOf(UnsupportedDataTypeError);
    expect((error as UnsupportedDataTypeError).path).toBe("a");
  });

  it("order F becomes a transpose with the reversed order (none for 1-d)", () => {
    expect(parseV2Array(zarray({ order: "F" }), undefined).codecs[0]).toEqual({ name: "transpose", configuration: { order: [1, 0] } });
    const three = parseV2Array(zarray({ order: "F", shape: [2, 3, 4], chunks: [2, 3, 4] }), undefined);
    expect(three.codecs[0]).toEqual({ name: "transpose", configuration: { order: [2, 1, 0] } });
    const one = parseV2Array(zarray({ order: "F", shape: [5], chunks: [5] }), undefined);
    expect(one.codecs.map((c) => c.name)).toEqual(["bytes"]);
    expect(() => parseV2Array(zarray({ order: "K" }), undefined)).toThrow(MetadataError);
  });

  describe("compressors map to v3 codecs", () => {
    const codecsOf = (compressor: unknown, dtype = "<i2") => parseV2Array(zarray({ compressor, dtype, fill_value: null }), undefined).codecs;

    it("blosc: shuffle 0/1/2 → names, typesize = itemsize", () => {
      const shuffles: [number, string][] = [
        [0, "noshuffle"],
        [1, "shuffle"],
        [2, "bitshuffle"],
      ];
      for (const [shuffle, name] of shuffles) {
        expect(codecsOf({ id: "blosc", cname: "zstd", clevel: 3, shuffle, blocksize: 0 })[1]).toEqual({
          name: "blosc",
          configuration: { cname: "zstd", clevel: 3, shuffle: name, typesize: 2, blocksize: 0 },
        });
      }
      expect((codecsOf({ id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 }, "<c16")[1].configuration as { typesize: number }).typesize).toBe(16);
    });

    it("blosc: shuffle -1 (auto) → bitshuffle for 1-byte items, shuffle otherwise", () => {
      const config = (dtype: string) => codecsOf({ id: "blosc", cname: "lz4", clevel: 5, shuffle: -1, blocksize: 0 }, dtype)[1].configuration;
      expect(config("|u1")).toMatchObject({ shuffle: "bitshuffle", typesize: 1 });
      expect(config("<f8")).toMatchObject({ shuffle: "shuffle", typesize: 8 });
    });

    it("zstd, lz4, zlib, gzip, null", () => {
      expect(codecsOf({ id: "zstd", level: 3 })[1]).toEqual({ name: "zstd", configuration: { level: 3, checksum: false } });
      expect(codecsOf({ id: "zstd", level: 3, checksum: true })[1]).toEqual({ name: "zstd", configuration: { level: 3, checksum: true } });
      expect(codecsOf({ id: "lz4", acceleration: 2 })[1]).toEqual({ name: "numcodecs.lz4", configuration: { acceleration: 2 } });
      expect(codecsOf({ id: "zlib", level: 4 })[1]).toEqual({ name: "numcodecs.zlib", configuration: { level: 4 } });
      expect(codecsOf({ id: "gzip", level: 9 })[1]).toEqual({ name: "gzip", configuration: { level: 9 } });
      expect(codecsOf(null)).toEqual([{ name: "bytes", configuration: { endian: "little" } }]);
    });

    it("an unknown compressor id is an UnknownCodecError naming it", () => {
      const error = thrown(() => codecsOf({ id: "bz2", level: 1 }));
      expect(error).toBeInstanceOf(UnknownCodecError);
      expect((error as UnknownCodecError).codec).toBe("bz2");
    });

    it("an unknown filter is an UnknownCodecError naming it", () => {
      for (const filter of [{ id: "nosuchfilter", dtype: "<i2" }, { id: "bz2", level: 2 }]) {
        const error = thrown(() => parseV2Array(zarray({ filters: [filter] }), undefined));
        expect(error).toBeInstanceOf(UnknownCodecError);
        expect((error as UnknownCodecError).codec).toBe(filter.id);
      }
      expect(parseV2Array(zarray({ filters: [] }), undefined).codecs).toHaveLength(1);
    });

    it("a malformed compressor is a MetadataError", () => {
      expect(() => codecsOf({ level: 1 })).toThrow(MetadataError);
      expect(() => codecsOf("zstd")).toThrow(MetadataError);
    });
  });

  it("null fill value reads as zero and is written back as null", () => {
    const metadata = parseV2Array(zarray({ fill_value: null, dtype: "<f4" }), undefined);
    expect(metadata.fillValue).toBe(0);
    expect(metadata.v2!.fillValueNull).toBe(true);
    expect(toV2ArrayJSON(metadata).fill_value).toBeNull();
    const nonNull = parseV2Array(zarray({ fill_value: "NaN", dtype: "<f8" }), undefined);
    expect(nonNull.fillValue).toBeNaN();
    expect(toV2ArrayJSON(nonNull).fill_value).toBe("NaN");
  });

  it("dimension_separator selects the chunk key separator (default '.')", () => {
    expect(parseV2Array(zarray({ dimension_separator: "/" }), undefined).chunkKeyEncoding).toEqual({ name: "v2", separator: "/" });
    const doc = zarray();
    delete doc.dimension_separator;
    expect(parseV2Array(doc, undefined).chunkKeyEncoding).toEqual({ name: "v2", separator: "." });
    expect(() => parseV2Array(zarray({ dimension_separator: "-" }), undefined)).toThrow(MetadataError);
  });

  it.each<[string, Record<string, unknown>]>([
    ["plain", {}],
    ["big-endian float with blosc", { dtype: ">f8", fill_value: "NaN", compressor: { id: "blosc", cname: "zstd", clevel: 5, shuffle: 2, blocksize: 0 } }],
    ["F order with zstd", { order: "F", compressor: { id: "zstd", level: 1 } }],
    ["null fill", { fill_value: null, dtype: "<u8" }],
    ["complex", { dtype: "<c8", fill_value: ["NaN", 0] }],
    ["slash separator, gzip", { dimension_separator: "/", compressor: { id: "gzip", level: 1 } }],
    ["0-d", { shape: [], chunks: [] }],
  ])("toV2ArrayJSON round trip: %s", (_label, overrides) => {
    const doc = zarray(overrides);
    const metadata = parseV2Array(doc, { note: "x" });
    expect(toV2ArrayJSON(metadata)).toEqual(doc);
    expect(metadata.attributes).toEqual({ note: "x" });
  });

  it("v2 metadata problems are MetadataErrors", () => {
    expect(() => parseV2Array(zarray({ zarr_format: 3 }), undefined)).toThrow(MetadataError);
    expect(() => parseV2Array(zarray({ chunks: [5] }), undefined)).toThrow(MetadataError);
    expect(() => parseV2Array(zarray({ shape: [-1, 2] }), undefined)).toThrow(MetadataError);
    expect(() => parseV2Array(zarray({ fill_value: 1.5 }), undefined)).toThrow(MetadataError);
    expect(() => parseV2Array(zarray(), [1])).toThrow(MetadataError);
    expect(() => parseV2Array([], undefined)).toThrow(MetadataError);
    expect(() => parseV2Group({ zarr_format: 3 }, undefined)).toThrow(MetadataError);
    expect(parseV2Group({ zarr_format: 2 }, { a: 1 })).toEqual({ zarrFormat: 2, attributes: { a: 1 } });
  });

  it("create() writes v2 documents that parse back to the same metadata", async () => {
    const store = new MemoryStore();
    await create(store, {
      path: "v2",
      zarrFormat: 2,
      shape: [6, 4],
      chunks: [3, 2],
      dtype: "float32",
      fillValue: NaN,
      order: "F",
      endian: "big",
      compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1, blocksize: 0 },
      attributes: { a: 1 },
    });
    const doc = decode(store.map.get("v2/.zarray"));
    expect(doc).toMatchObject({ dtype: ">f4", order: "F", fill_value: "NaN", dimension_separator: "." });
    expect(decode(store.map.get("v2/.zattrs"))).toEqual({ a: 1 });
    const metadata = parseV2Array(doc, decode(store.map.get("v2/.zattrs")));
    expect(toV2ArrayJSON(metadata)).toEqual(doc);
    expect(metadata.codecs.map((c) => c.name)).toEqual(["transpose", "bytes", "blosc"]);
  });
});

// ---------------------------------------------------------------------------------------------
// consolidated

describe("consolidated .zmetadata", () => {
  const zmetadata = {
    zarr_consolidated_format: 1,
    metadata: {
      ".zgroup": { zarr_format: 2 },
      ".zattrs": { title: "root" },
      "a/.zarray": zarray({ shape: [4], chunks: [2], dtype: "<f4", fill_value: 1.5 }),
      "a/.zattrs": { units: "m" },
      "g/.zgroup": { zarr_format: 2 },
      "g/b/.zarray": zarray({ shape: [2, 2], chunks: [1, 1], dtype: "|u1" }),
      "g/b/other.json": { ignored: true },
    },
  };

  it("parses into per-node documents keyed by path", () => {
    const nodes = parseV2Consolidated(zmetadata);
    expect([...nodes.keys()].sort()).toEqual(["", "a", "g", "g/b"]);
    expect(nodes.get("")).toEqual({ zarrFormat: 2, zgroup: { zarr_format: 2 }, zattrs: { title: "root" } });
    expect(nodes.get("a")).toEqual({ zarrFormat: 2, zarray: zmetadata.metadata["a/.zarray"], zattrs: { units: "m" } });
    expect(nodes.get("g/b")).toEqual({ zarrFormat: 2, zarray: zmetadata.metadata["g/b/.zarray"] });
  });

  it("malformed .zmetadata is a MetadataError", () => {
    expect(() => parseV2Consolidated({})).toThrow(MetadataError);
    expect(() => parseV2Consolidated({ metadata: [] })).toThrow(MetadataError);
    expect(() => parseV2Consolidated(null)).toThrow(MetadataError);
  });

  it("open() uses it: children and child arrays come from .zmetadata alone", async () => {
    // Only the root documents and .zmetadata exist: every child must come from consolidated metadata.
    const store = new MemoryStore({ ".zgroup": encode({ zarr_format: 2 }), ".zmetadata": encode(zmetadata) });
    const root = await open(store);
    expect(root).toBeInstanceOf(ZarrGroup);
    const group = root as ZarrGroup;
    expect(await group.children()).toEqual(["a", "g"]);
    const a = await group.open("a");
    expect(a).toBeInstanceOf(ZarrArray);
    expect((a as ZarrArray).attrs).toEqual({ units: "m" });
    expect((a as ZarrArray).fillValue).toBe(1.5);
    const result = await (a as ZarrArray).read();
    expect(Array.from(result.data as Float32Array)).toEqual([1.5, 1.5, 1.5, 1.5]);
    const b = await group.open("g/b");
    expect((b as ZarrArray).dtype).toBe("uint8");
    // Without consolidation, the children do not exist.
    await expect(open(store, { path: "a", consolidated: false })).rejects.toMatchObject({ code: "NODE_NOT_FOUND" });
  });

  it("consolidated: true without .zmetadata is a MetadataError", async () => {
    const store = new MemoryStore();
    await createGroup(store, { zarrFormat: 2 });
    await expect(open(store, { consolidated: true })).rejects.toBeInstanceOf(MetadataError);
  });
});
