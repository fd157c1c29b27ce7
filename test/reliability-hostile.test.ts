/**
 * Hostile input: mutated metadata, random and damaged chunk bytes for every codec, forged shard
 * indexes, truncated objects, and sizes meant to exhaust memory. The contract under test: only
 * zarrflow's typed errors come out (never a RangeError, TypeError or stack overflow, never a
 * hang), and nothing decodes to silently wrong data where the format can tell — checksummed
 * data (crc32c, gzip's CRC-32, zlib's Adler-32, zstd with its checksum, the default shard index)
 * must reject a mutation that changes what it covers. Unchecksummed formats (raw bytes, lz4,
 * blosc, zstd without checksum, inner chunks without crc32c) cannot always tell: a mutation may
 * decode to other values, which is accepted there and only there.
 *
 * Property tests run from a fixed seed (ZARRFLOW_SEED overrides; fast-check prints the seed and
 * the counterexample path of a failure).
 */
import fc from "fast-check";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ChecksumError,
  CodecChain,
  CodecError,
  MetadataError,
  SelectionError,
  UnknownCodecError,
  ZarrArray,
  create,
  open,
  openArray,
  setDeflateBackend,
  type CodecMetadata,
  type DataType,
} from "../src/index.js";
import type { ShardingCodec } from "../src/codecs/sharding.js";
import { checkBloscFrame } from "../src/codecs/blosc.js";
import { deflateBackend } from "../src/codecs/deflate-backend.js";
import { crc32c } from "../src/codecs/crc32c.js";
import { FileSystemStore, MemoryStore } from "../stores/index.js";
import { applyBytes, byteMutations, differ, mutate, mutation, typed } from "./helpers/hostile.js";
import { fcParams } from "./helpers/seed.js";

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));
const BYTES_LE: CodecMetadata = { name: "bytes", configuration: { endian: "little" } };

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

// ---------------------------------------------------------------------------------------------
// 1. Metadata

/** Valid documents the mutations start from, each with a chunk the array really wrote. */
async function baseDocuments(): Promise<{ name: string; key: string; doc: unknown; chunks: Map<string, Uint8Array> }[]> {
  const configs: { name: string; key: string; options: Parameters<typeof create>[1] }[] = [
    { name: "v3 zstd", key: "zarr.json", options: { shape: [10, 7], chunks: [4, 4], dtype: "int16", fillValue: 3 } },
    { name: "v3 sharded", key: "zarr.json", options: { shape: [16, 12], chunks: [4, 4], shards: [8, 4], dtype: "uint8", codecs: [{ name: "bytes" }, { name: "crc32c" }] } },
    { name: "v3 blosc + transpose", key: "zarr.json", options: { shape: [9, 9], chunks: [3, 9], dtype: "float32", codecs: [{ name: "transpose", configuration: { order: [1, 0] } }, BYTES_LE, { name: "blosc", configuration: { cname: "lz4", shuffle: "shuffle" } }] } },
    { name: "v3 gzip complex", key: "zarr.json", options: { shape: [5], chunks: [2], dtype: "complex64", fillValue: [1, -1] as unknown as number, codecs: [BYTES_LE, { name: "gzip" }] } },
    { name: "v2 zlib F", key: ".zarray", options: { shape: [10, 7], chunks: [4, 4], dtype: "int32", zarrFormat: 2, order: "F", compressor: { id: "zlib", level: 1 } } },
    { name: "v2 lz4 uint64", key: ".zarray", options: { shape: [12], chunks: [5], dtype: "uint64", zarrFormat: 2, compressor: { id: "lz4" } } },
    { name: "v3 rectilinear", key: "zarr.json", options: { shape: [10, 7], chunks: [[3, [2, 2], 4], 4], dtype: "int16", fillValue: 1 } },
    { name: "v3 rectilinear shards", key: "zarr.json", options: { shape: [12, 6], chunks: [2, 3], shards: [[4, [2, 3], 6], [[3, 2]]], dtype: "uint8" } },
  ];
  const out = [];
  for (const { name, key, options } of configs) {
    const store = new MemoryStore();
    const array = await create(store, options);
    await array.write(array.shape.map(() => 0), 42, { workers: 0 });
    const doc = JSON.parse(new TextDecoder().decode(store.map.get(key)));
    const chunks = new Map([...store.map].filter(([k]) => k !== key));
    out.push({ name, key, doc, chunks });
  }
  return out;
}

/** Opens, reads and writes one element: everything an application does with a node it found. */
async function exercise(store: MemoryStore): Promise<string> {
  const node = await typed(() => open(store));
  if (!node.ok) return `open: ${node.error.name}`;
  if (!(node.value instanceof ZarrArray)) return "group";
  const array = node.value;
  if (array.size === 0) return "empty";
  const first = array.shape.map(() => 0);
  const read = await typed(() => array.read(first, { workers: 0 }));
  const written = await typed(() => array.write(first, 1, { workers: 0 }));
  const streamed = await typed(async () => {
    const reader = array.readChunks(array.shape.map(() => "0:1").join(", ") || undefined, { workers: 0 }).getReader();
    while (!(await reader.read()).done);
  });
  return [read, written, streamed].map((o) => (o.ok ? "ok" : o.error.name)).join("/");
}

describe("hostile metadata", () => {
  let bases: Awaited<ReturnType<typeof baseDocuments>>;
  beforeAll(async () => {
    bases = await baseDocuments();
  });

  it("mutated zarr.json / .zarray: open, read, write and stream give typed errors or work", async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(mutation(), { minLength: 1, maxLength: 4 }), async (which, mutations) => {
        const base = bases[which % bases.length];
        const doc = mutate(base.doc, mutations);
        const store = new MemoryStore(new Map([...base.chunks, [base.key, json(doc)]]));
        const outcome = await exercise(store);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      fcParams("hostile metadata: mutations", 2500),
    );
    // The mutations reach every stage: some documents are refused, some open and fail later, some work.
    expect([...outcomes.keys()].some((o) => o.startsWith("open: MetadataError"))).toBe(true);
    expect([...outcomes.keys()].some((o) => o.startsWith("open: UnknownCodecError"))).toBe(true);
    expect([...outcomes.keys()].some((o) => o.includes("ok"))).toBe(true);
  });

  it("damaged JSON text (truncated, bytes replaced) is a MetadataError or a valid document", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), byteMutations(), async (which, mutations) => {
        const base = bases[which % bases.length];
        const text = applyBytes(json(base.doc), mutations);
        const store = new MemoryStore(new Map([...base.chunks, [base.key, text]]));
        await exercise(store);
      }),
      fcParams("hostile metadata: bytes", 1500),
    );
  });

  it("sharding codecs nested past the limit are a MetadataError, not a stack overflow", async () => {
    // Built as text: JSON.stringify itself overflows on documents this deep.
    const document = (depth: number) =>
      encoder.encode(
        `{"zarr_format":3,"node_type":"array","shape":[4],"data_type":"uint8","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},"fill_value":0,"codecs":` +
          `[{"name":"sharding_indexed","configuration":{"chunk_shape":[1],"codecs":`.repeat(depth) +
          `[{"name":"bytes"}]` +
          `}}]`.repeat(depth) +
          `}`,
      );
    for (const depth of [9, 100, 3000]) {
      const outcome = await typed(() => open(new MemoryStore({ "zarr.json": document(depth) })));
      expect(!outcome.ok && outcome.error, `depth ${depth}`).toBeInstanceOf(MetadataError);
      expect(!outcome.ok && outcome.error.message).toMatch(/nest more than 8 deep/);
    }
    // Eight levels are fine.
    const array = (await open(new MemoryStore({ "zarr.json": document(8) }))) as ZarrArray;
    await array.write("1:3", 9, { workers: 0 });
    expect(Array.from((await array.read(null, { workers: 0 })).data as Uint8Array)).toEqual([0, 9, 9, 0]);
  });

  it("shapes whose element, byte or inner-chunk counts overflow are MetadataErrors naming the numbers", async () => {
    const doc = (shape: number[], chunks: number[], codecs: unknown[] = [{ name: "bytes" }]) => ({
      zarr_format: 3, node_type: "array", shape, data_type: "uint8", chunk_grid: { name: "regular", configuration: { chunk_shape: chunks } }, fill_value: 0, codecs,
    });
    const refused: [unknown, RegExp][] = [
      [doc([2 ** 31, 2 ** 31, 2 ** 31], [1, 1, 1]), /more than 2\^53-1/],
      [doc([1], [2 ** 30, 2 ** 30]), /dimensions/],
      [doc([4, 4], [2 ** 27, 2 ** 27]), /chunk shape .* more than 2\^53-1/],
      [doc([2 ** 20, 2 ** 20], [2 ** 20, 2 ** 20], [{ name: "sharding_indexed", configuration: { chunk_shape: [1, 1], codecs: [{ name: "bytes" }] } }]), /inner chunks per shard/],
      [doc([-1], [1]), /non-negative/],
      [doc([4], [0]), /positive/],
    ];
    for (const [document, message] of refused) {
      const outcome = await typed(() => open(new MemoryStore({ "zarr.json": json(document) })));
      expect(outcome.ok, JSON.stringify(document)).toBe(false);
      expect(!outcome.ok && outcome.error, JSON.stringify(document)).toBeInstanceOf(MetadataError);
      expect(!outcome.ok && outcome.error.message).toMatch(message);
    }
    // create() refuses the same (it round-trips through the parser).
    await expect(create(new MemoryStore(), { shape: [2 ** 31, 2 ** 31, 2 ** 31], chunks: [1, 1, 1], dtype: "uint8" })).rejects.toBeInstanceOf(MetadataError);
  });

  it("rectilinear grids that do not add up, with bad edges or hostile repeat counts are MetadataErrors naming the array", async () => {
    const doc = (shape: number[], chunkShapes: unknown, kind: unknown = "inline", codecs: unknown[] = [{ name: "bytes" }]) => ({
      zarr_format: 3, node_type: "array", shape, data_type: "uint8", chunk_grid: { name: "rectilinear", configuration: { kind, chunk_shapes: chunkShapes } }, fill_value: 0, codecs,
    });
    const refused: [unknown, RegExp][] = [
      [doc([10], [[3, 3]]), /sum to 6, less than the extent 10/],
      [doc([10, 4], [[4, [3, 2]], [1, 1]]), /dimension 1: the edges sum to 2/],
      [doc([10], [[3, 0, 7]]), /positive integer, got 0/],
      [doc([10], [[-1, 11]]), /positive integer, got -1/],
      [doc([10], [[2.5, 8]]), /positive integer, got 2.5/],
      [doc([10], [["3", 7]]), /positive integer, got "3"/],
      [doc([10], [[[2, 0], 10]]), /repeat count must be a positive integer, got 0/],
      [doc([10], [[[2, -3], 10]]), /repeat count/],
      [doc([10], [[[2, 3, 4]]]), /must be \[size, count\]/],
      [doc([10], [[[1e6, 2 ** 40]]]), /sum to more than 2\^53-1/], // 2^40 repeats of a long edge
      [doc([10], [[[1, 2 ** 60]]]), /repeat count must be a positive integer/], // not an exact integer
      [doc([10], [[[2 ** 40, 2 ** 40]]]), /more than 2\^53-1/],
      [doc([10], [[]]), /has no edges/],
      [doc([10], [0]), /positive integer, got 0/],
      [doc([10], {}), /chunk_shapes must be a list/],
      [doc([10, 10], [[10]]), /1 dimensions, shape \[10,10\] has 2/],
      [doc([10], [[10]], "external"), /kind must be "inline"/],
      [doc([10], [[10]], null), /kind must be "inline"/],
      [doc([12], [[4, 5, 3]], "inline", [{ name: "sharding_indexed", configuration: { chunk_shape: [2], codecs: [{ name: "bytes" }] } }]), /not a multiple of the inner chunk length 2|not divisible/],
    ];
    for (const [document, message] of refused) {
      const store = new MemoryStore({ "grid/zarr.json": json(document) });
      const outcome = await typed(() => open(store, { path: "grid" }));
      expect(outcome.ok, JSON.stringify(document)).toBe(false);
      expect(!outcome.ok && outcome.error, JSON.stringify(document)).toBeInstanceOf(MetadataError);
      expect(!outcome.ok && outcome.error.message, JSON.stringify(document)).toMatch(message);
      expect(!outcome.ok && outcome.error.path).toBe("grid");
    }
    // create() refuses the same, and v2 has no rectilinear grids.
    await expect(create(new MemoryStore(), { shape: [10], chunks: [[3, 3]], dtype: "uint8" })).rejects.toThrow(/less than the extent/);
    await expect(create(new MemoryStore(), { shape: [10], chunks: [[4, 6]], dtype: "uint8", zarrFormat: 2 })).rejects.toBeInstanceOf(MetadataError);
    await expect(create(new MemoryStore(), { shape: [12], chunks: [2], shards: [[4, 5, 3]], dtype: "uint8" })).rejects.toThrow(/not a multiple|not divisible/);

    // The spec allows edges past the extent, by many chunks: 2^40 repeats cost one run, not 2^40 edges.
    const started = performance.now();
    const heap = process.memoryUsage().heapUsed;
    const wide = (await open(new MemoryStore({ "zarr.json": json(doc([10], [[3, [1, 2 ** 40]]])) }))) as ZarrArray;
    await wide.write("2:9", 5, { workers: 0 });
    expect(Array.from((await wide.read(null, { workers: 0 })).data as Uint8Array)).toEqual([0, 0, 5, 5, 5, 5, 5, 5, 5, 0]);
    expect(wide.chunkEdges).toEqual([[3, 1, 1, 1, 1, 1, 1, 1]]);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 << 20);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("an unknown codec anywhere in the chain (inner, index) is an UnknownCodecError naming it", async () => {
    const sharded = (inner: unknown[], index: unknown[]) => ({
      zarr_format: 3, node_type: "array", shape: [4], data_type: "uint8", chunk_grid: { name: "regular", configuration: { chunk_shape: [4] } }, fill_value: 0,
      codecs: [{ name: "sharding_indexed", configuration: { chunk_shape: [2], codecs: inner, index_codecs: index } }],
    });
    for (const document of [sharded([{ name: "bytes" }, { name: "lzma" }], [{ name: "bytes", configuration: { endian: "little" } }]), sharded([{ name: "bytes" }], [{ name: "bytes", configuration: { endian: "little" } }, { name: "sha256" }])]) {
      const outcome = await typed(() => open(new MemoryStore({ "zarr.json": json(document) })));
      expect(!outcome.ok && outcome.error).toBeInstanceOf(UnknownCodecError);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Chunk bytes, every codec

interface ChainCase {
  label: string;
  dataType: DataType;
  codecs: CodecMetadata[];
  /** Every stored byte is covered by a checksum: a mutation that decodes must give the original data. */
  checksummed: boolean;
  /**
   * Covered by a weak checksum (zlib's Adler-32): it misses some changes — this test found a
   * stream whose damage turned three output bytes by +1, −2, +1, which leaves both Adler sums as
   * they were. Rare, so bounded rather than forbidden.
   */
  weak?: boolean;
  backend?: "node" | "fflate";
}

const SHARD_INNER = [BYTES_LE];
const CHAINS: ChainCase[] = [
  { label: "bytes", dataType: "int32", codecs: [BYTES_LE], checksummed: false },
  { label: "bytes + crc32c", dataType: "int32", codecs: [BYTES_LE, { name: "crc32c" }], checksummed: true },
  { label: "gzip (node)", dataType: "int32", codecs: [BYTES_LE, { name: "gzip" }], checksummed: true, backend: "node" },
  { label: "gzip (fflate)", dataType: "int32", codecs: [BYTES_LE, { name: "gzip" }], checksummed: true, backend: "fflate" },
  { label: "zlib (node)", dataType: "int32", codecs: [BYTES_LE, { name: "numcodecs.zlib" }], checksummed: false, weak: true, backend: "node" },
  { label: "zlib (fflate)", dataType: "int32", codecs: [BYTES_LE, { name: "numcodecs.zlib" }], checksummed: false, weak: true, backend: "fflate" },
  { label: "zstd", dataType: "int32", codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }], checksummed: false },
  { label: "zstd + checksum", dataType: "int32", codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1, checksum: true } }], checksummed: true },
  { label: "blosc lz4 shuffle", dataType: "int32", codecs: [BYTES_LE, { name: "blosc", configuration: { cname: "lz4", shuffle: "shuffle" } }], checksummed: false },
  { label: "blosc zstd bitshuffle", dataType: "int32", codecs: [BYTES_LE, { name: "blosc", configuration: { cname: "zstd", shuffle: "bitshuffle" } }], checksummed: false },
  { label: "blosc blosclz", dataType: "int32", codecs: [BYTES_LE, { name: "blosc", configuration: { cname: "blosclz", shuffle: "noshuffle" } }], checksummed: false },
  { label: "lz4", dataType: "int32", codecs: [BYTES_LE, { name: "numcodecs.lz4" }], checksummed: false },
  { label: "zstd + crc32c", dataType: "int32", codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }, { name: "crc32c" }], checksummed: true },
  {
    label: "sharding (index crc32c, inner bytes + crc32c)",
    dataType: "int32",
    codecs: [{ name: "sharding_indexed", configuration: { chunk_shape: [8, 4], codecs: [BYTES_LE, { name: "crc32c" }] } }],
    checksummed: true,
  },
  {
    label: "sharding (index at start, inner bytes)",
    dataType: "int32",
    codecs: [{ name: "sharding_indexed", configuration: { chunk_shape: [4, 8], codecs: SHARD_INNER, index_location: "start" } }],
    checksummed: false,
  },
  {
    label: "sharding (inner zstd)",
    dataType: "int32",
    codecs: [{ name: "sharding_indexed", configuration: { chunk_shape: [8, 8], codecs: [BYTES_LE, { name: "zstd" }] } }],
    checksummed: false,
  },
  // numcodecs filters and checksums, and the value-conversion extensions.
  { label: "numcodecs.crc32", dataType: "int32", codecs: [BYTES_LE, { name: "numcodecs.crc32" }], checksummed: true },
  { label: "zstd + numcodecs.crc32 at the end", dataType: "int32", codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }, { name: "numcodecs.crc32", configuration: { location: "end" } }], checksummed: true },
  { label: "numcodecs.adler32", dataType: "int32", codecs: [BYTES_LE, { name: "numcodecs.adler32" }], checksummed: true, weak: true },
  { label: "numcodecs.fletcher32", dataType: "int32", codecs: [BYTES_LE, { name: "numcodecs.fletcher32" }], checksummed: true, weak: true },
  { label: "delta + shuffle + zstd", dataType: "int32", codecs: [{ name: "numcodecs.delta", configuration: { dtype: "<i4" } }, BYTES_LE, { name: "numcodecs.shuffle", configuration: { elementsize: 4 } }, { name: "zstd" }], checksummed: false },
  { label: "delta (astype i2) + crc32", dataType: "int32", codecs: [{ name: "numcodecs.delta", configuration: { dtype: "<i4", astype: "<i2" } }, BYTES_LE, { name: "numcodecs.crc32" }], checksummed: true },
  { label: "scale_offset + cast_value + crc32", dataType: "int32", codecs: [{ name: "scale_offset", configuration: { offset: -3, scale: 3 } }, { name: "cast_value", configuration: { data_type: "int16" } }, BYTES_LE, { name: "numcodecs.crc32" }], checksummed: true },
  { label: "fixedscaleoffset + astype", dataType: "int32", codecs: [{ name: "numcodecs.fixedscaleoffset", configuration: { offset: 10, scale: 1, dtype: "<i4", astype: "<i2" } }, { name: "numcodecs.astype", configuration: { encode_dtype: "<i4", decode_dtype: "<i2" } }, BYTES_LE], checksummed: false },
];

describe("hostile chunk bytes", () => {
  const shape = [16, 8];
  const data = Int32Array.from({ length: 128 }, (_, i) => ((i * 2654435761) % 1000) - (i % 7) * 3);
  const initial = deflateBackend().name;
  afterAll(() => void setDeflateBackend(initial));

  for (const c of CHAINS) {
    const tells = c.checksummed ? "never" : c.weak ? "rarely (weak checksum)" : "where the format cannot tell";
    it(`${c.label}: random and mutated bytes decode to the original, or (${tells}) to other values, or fail typed`, async () => {
      if (c.backend) setDeflateBackend(c.backend);
      const chain = new CodecChain({ shape, dataType: c.dataType, fillValue: 0 }, c.codecs, { path: "arr" });
      const valid = await chain.encode({ data: data.slice(), shape, dtype: c.dataType }, "arr/c/0/0");
      let rejected = 0;
      let silentlyDifferent = 0;
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 1200 }).map((b) => ({ random: b })) }, { weight: 4, arbitrary: byteMutations().map((m) => ({ mutations: m })) }), async (input) => {
          const bytes = "random" in input ? input.random : applyBytes(valid, input.mutations);
          runs++;
          const outcome = await typed(() => chain.decode(bytes, "arr/c/0/0"));
          if (!outcome.ok) {
            rejected++;
            expect(outcome.error).toBeInstanceOf(CodecError);
            expect(outcome.error.path).toBe("arr");
            expect(outcome.error.key).toBe("arr/c/0/0");
            return;
          }
          expect(outcome.value.shape).toEqual(shape);
          expect(outcome.value.data.length).toBe(128);
          const same = outcome.value.data.every((v, i) => v === data[i]);
          if (!same) {
            silentlyDifferent++;
            // A checksum covers every stored byte: other values can only come from bytes that were not mutated.
            if (c.checksummed && "mutations" in input) expect(differ(bytes, valid), "a checksummed chunk decoded to other values").toBe(false);
          }
        }),
        fcParams(`hostile chunk bytes: ${c.label}`, 300),
      );
      expect(rejected).toBeGreaterThan(0);
      if (c.checksummed) expect(silentlyDifferent).toBe(0);
      if (c.weak) expect(silentlyDifferent).toBeLessThanOrEqual(Math.max(2, runs * 0.02));
      // The codec still decodes valid input afterwards (no poisoned context or WASM instance).
      expect(Array.from((await chain.decode(valid, "arr/c/0/0")).data as Int32Array)).toEqual(Array.from(data));
      setDeflateBackend(initial);
    });
  }

  it("truncated objects of every codec are rejected at every length", async () => {
    for (const c of CHAINS) {
      if (c.backend) setDeflateBackend(c.backend);
      const chain = new CodecChain({ shape, dataType: c.dataType, fillValue: 0 }, c.codecs, { path: "arr" });
      const valid = await chain.encode({ data: data.slice(), shape, dtype: c.dataType });
      const step = Math.max(1, Math.floor(valid.length / 97));
      for (let length = 0; length < valid.length; length += step) {
        const outcome = await typed(() => chain.decode(valid.slice(0, length), "k"));
        // Sharding with the index at the start can lose trailing absent-free bytes only by losing data: always an error.
        expect(outcome.ok, `${c.label} truncated to ${length} of ${valid.length} bytes decoded`).toBe(false);
      }
      setDeflateBackend(initial);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Forged shard indexes

describe("forged shard indexes", () => {
  // A [4, 4] uint16 shard of four [2, 2] inner chunks, 8 bytes each when raw.
  const U64_MAX = 2n ** 64n - 1n;
  const entry = fc.oneof(
    { weight: 2, arbitrary: fc.constant<[bigint, bigint]>([U64_MAX, U64_MAX]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(U64_MAX, 0n), fc.constantFrom(U64_MAX, 0n, 8n)) },
    { weight: 4, arbitrary: fc.tuple(fc.bigInt({ min: 0n, max: 80n }), fc.constantFrom(0n, 1n, 7n, 8n, 9n, 16n)) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(0n, 8n, 16n, 2n ** 53n - 8n, 2n ** 53n, 2n ** 63n, U64_MAX - 1n), fc.constantFrom(8n, 2n ** 53n - 1n, 2n ** 63n, U64_MAX - 1n)) },
  );
  const forged = fc.record({
    entries: fc.array(entry, { minLength: 4, maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 80 }),
    copies: fc.array(fc.tuple(fc.nat(3), fc.nat(80)), { maxLength: 4 }),
    inner: fc.constantFrom("bytes", "zstd"),
    location: fc.constantFrom("end", "start"),
    checksum: fc.boolean(),
  });

  it("whole-shard decode and partial reads agree with what the index says, or fail typed", async () => {
    const values = Uint16Array.from({ length: 16 }, (_, i) => 1000 + i);
    await fc.assert(
      fc.asyncProperty(forged, async (f) => {
        const innerCodecs: CodecMetadata[] = f.inner === "bytes" ? [BYTES_LE] : [BYTES_LE, { name: "zstd" }];
        const indexCodecs: CodecMetadata[] = f.checksum ? [BYTES_LE, { name: "crc32c" }] : [BYTES_LE];
        const store = new MemoryStore();
        const array = await create(store, { shape: [4, 4], chunks: [2, 2], shards: [4, 4], dtype: "uint16", codecs: innerCodecs, indexCodecs, indexLocation: f.location as "end" | "start", fillValue: 7 });
        const codec = array.sharding as ShardingCodec;
        // Real inner chunks, to be placed where a forged entry may point.
        const innerBytes = await Promise.all(range(4).map(async (i) => {
          const region = codec.innerRegion(i);
          const block = Uint16Array.from({ length: 4 }, (_, j) => values[(region[0].start + (j >> 1)) * 4 + region[1].start + (j & 1)]);
          return codec.encodeInner({ data: block, shape: [2, 2], dtype: "uint16" });
        }));
        const body = f.body.slice();
        for (const [i, at] of f.copies) if (at < body.length) body.set(innerBytes[i].subarray(0, body.length - at), at);
        const words = new BigUint64Array(8);
        f.entries.forEach(([offset, length], i) => {
          words[2 * i] = offset;
          words[2 * i + 1] = length;
        });
        let index = new Uint8Array(words.buffer);
        if (f.checksum) {
          const withCrc = new Uint8Array(index.length + 4);
          withCrc.set(index);
          new DataView(withCrc.buffer).setUint32(index.length, crc32c(index), true);
          index = withCrc;
        }
        const shard = new Uint8Array(body.length + index.length);
        shard.set(index, f.location === "start" ? 0 : body.length);
        shard.set(body, f.location === "start" ? index.length : 0);
        await store.set("c/0/0", shard);

        // What the index says, decoded independently of the reader.
        const expectInner = async (i: number): Promise<number[] | "invalid"> => {
          const [offset, length] = f.entries[i];
          if (offset === U64_MAX && length === U64_MAX) return [7, 7, 7, 7];
          if (offset === U64_MAX || length === U64_MAX || offset + length > BigInt(shard.length)) return "invalid";
          const decoded = await typed(() => codec.decodeInner(shard.slice(Number(offset), Number(offset + length))));
          return decoded.ok ? Array.from(decoded.value.data as Uint16Array) : "invalid";
        };
        const expected = await Promise.all(range(4).map(expectInner));

        const whole = await typed(() => codec.decode(shard));
        if (whole.ok) {
          range(4).forEach((i) => {
            const region = codec.innerRegion(i);
            const got = range(4).map((j) => (whole.value.data as Uint16Array)[(region[0].start + (j >> 1)) * 4 + region[1].start + (j & 1)]);
            expect(got).toEqual(expected[i]);
          });
        } else {
          expect(whole.error).toBeInstanceOf(CodecError);
        }
        // Partial reads: one inner chunk at a time, through the array (index request + range request).
        for (const i of range(4)) {
          const region = codec.innerRegion(i);
          const sel = `${region[0].start}:${region[0].start + 2}, ${region[1].start}:${region[1].start + 2}`;
          const read = await typed(() => array.read(sel, { workers: 0 }));
          if (read.ok) expect(Array.from(read.value.data as Uint16Array)).toEqual(expected[i]);
          else {
            expect(read.error).toBeInstanceOf(CodecError);
            // The shard, or one of its inner chunks ("c/0/0[0,1]").
            expect(read.error.key).toMatch(/^c\/0\/0(\[\d,\d\])?$/);
          }
        }
      }),
      fcParams("forged shard indexes", 600),
    );
  });

  it("an entry claiming 2^63 bytes, or bytes past the end, is rejected before anything that size is fetched or allocated", async () => {
    const dir = await mkdtemp(join(tmpdir(), "zarrflow-hostile-"));
    try {
      for (const store of [new MemoryStore(), new FileSystemStore(dir)]) {
        const array = await create(store, { shape: [4], chunks: [2], shards: [4], dtype: "uint8", codecs: [{ name: "bytes" }], indexCodecs: [BYTES_LE], overwrite: true });
        const codec = array.sharding as ShardingCodec;
        for (const [offset, length] of [[0n, 2n ** 63n], [0n, 2n ** 53n - 1n], [2n ** 53n - 2n, 2n], [34n, 4n]]) {
          const index = new BigUint64Array([offset, length, 2n ** 64n - 1n, 2n ** 64n - 1n]);
          const shard = new Uint8Array(4 + 32);
          shard.set(new Uint8Array(index.buffer), 4);
          await store.set("c/0", shard);
          const counting = { largest: 0 };
          const spy: typeof store = Object.create(store);
          spy.get = async (key, range, options) => {
            const out = await store.get(key, range, options);
            counting.largest = Math.max(counting.largest, out?.byteLength ?? 0);
            return out;
          };
          for (const target of [array, new ZarrArray(spy, "", array.metadata)]) {
            const error = await target.read("0:1", { workers: 0 }).then(() => undefined, (e: unknown) => e);
            expect(error).toBeInstanceOf(CodecError);
            expect((error as CodecError).key).toBe("c/0");
          }
          expect(counting.largest).toBeLessThanOrEqual(shard.length);
          expect(() => codec.decode(shard)).toThrow(CodecError);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Resource limits

describe("resource limits", () => {
  it("a selection over 10^15 elements is a SelectionError; so is a read that cannot fit one buffer", async () => {
    const store = new MemoryStore();
    // 4·10^15 elements: addressable (under 2^53), but no operation may take them all.
    const huge = await create(store, { shape: [4e7, 1e8], chunks: [10000, 10000], dtype: "float64" });
    for (const attempt of [() => huge.read(), () => huge.read(":, :"), () => huge.write(null, 1), () => huge.readChunks(null)]) {
      const outcome = await typed(async () => attempt());
      expect(!outcome.ok && outcome.error).toBeInstanceOf(SelectionError);
      expect(!outcome.ok && outcome.error.message).toMatch(/more than the 1000000000000000/);
    }
    // Under the selection limit but over what one buffer holds: refused before allocating.
    const big = await typed(() => huge.read("0:10000000, 0:10000000"));
    expect(!big.ok && big.error).toBeInstanceOf(SelectionError);
    expect(!big.ok && big.error.message).toMatch(/does not fit in one buffer/);
    expect(!big.ok && big.error.path).toBe("");
    // Streaming the same selection is fine: it never holds it all.
    const stream = huge.readChunks("0:10000000, 0:10000000", { workers: 0 });
    const reader = stream.getReader();
    const first = await reader.read();
    expect(first.value?.data.shape).toEqual([10000, 10000]);
    await reader.cancel();
    // And a small read works.
    expect(Array.from((await huge.read("5:7, 99999990:99999991")).data as Float64Array)).toEqual([0, 0]);
    // A shape of more than 2^53 elements cannot even be created.
    await expect(create(store, { path: "x", shape: [1e8, 1e8], chunks: [10000, 10000], dtype: "float64" })).rejects.toBeInstanceOf(MetadataError);
  });

  it("decompression bombs are stopped at the expected size by every codec and deflate backend", async () => {
    const initial = deflateBackend().name;
    try {
      for (const backend of ["node", "fflate"] as const) {
        setDeflateBackend(backend);
        for (const codec of [{ name: "gzip" }, { name: "numcodecs.zlib" }, { name: "zstd" }, { name: "blosc" }, { name: "numcodecs.lz4" }]) {
          const bomb = await new CodecChain({ shape: [1 << 22], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, codec]).encode({ data: new Uint8Array(1 << 22), shape: [1 << 22], dtype: "uint8" });
          const small = new CodecChain({ shape: [64], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, codec], { path: "a" });
          const outcome = await typed(() => small.decode(bomb, "a/c/0"));
          expect(!outcome.ok && outcome.error, `${codec.name} (${backend})`).toBeInstanceOf(CodecError);
        }
      }
      // A gzip trailer claiming 4 GiB: fflate would size its output from it; the bound comes first.
      setDeflateBackend("fflate");
      const chain = new CodecChain({ shape: [64], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "gzip" }]);
      const gz = await chain.encode({ data: new Uint8Array(64).fill(3), shape: [64], dtype: "uint8" });
      new DataView(gz.buffer, gz.byteOffset).setUint32(gz.length - 4, 0xffffffff, true);
      const liar = await typed(() => chain.decode(gz));
      expect(!liar.ok && liar.error.message).toMatch(/length mismatch/);
    } finally {
      setDeflateBackend(initial);
    }
  });

  it("headers claiming huge sizes (lz4, blosc, zstd) are refused before decompressing", async () => {
    const expected = 64;
    const lz4 = new Uint8Array(16);
    new DataView(lz4.buffer).setUint32(0, 2 ** 31, true);
    const blosc = new Uint8Array(32);
    blosc.set([2, 1, 0x20, 1]);
    new DataView(blosc.buffer).setUint32(4, 2 ** 31 - 100, true);
    new DataView(blosc.buffer).setUint32(8, 65536, true);
    new DataView(blosc.buffer).setUint32(12, 32, true);
    for (const [codec, bytes] of [[{ name: "numcodecs.lz4" }, lz4], [{ name: "blosc" }, blosc]] as const) {
      const chain = new CodecChain({ shape: [expected], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, codec]);
      const outcome = await typed(() => chain.decode(bytes));
      expect(!outcome.ok && outcome.error.message, codec.name).toMatch(/header says \d+ bytes, expected 64/);
    }
    // Without an expected size, blosc still refuses what no blosc frame can be.
    expect(() => checkBloscFrame(blosc, undefined)).toThrow(/more than blosc can hold|do not fit|outside/);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. blosc framing

describe("blosc frames are validated before the WASM decoder sees them", () => {
  const data = Int32Array.from({ length: 20000 }, (_, i) => (i * 37) % 1001);
  const shape = [20000];

  for (const cname of ["lz4", "zstd", "blosclz"] as const) {
    for (const shuffle of ["noshuffle", "shuffle", "bitshuffle"] as const) {
      it(`${cname} ${shuffle}: damage to the header, block offsets or stream sizes is a CodecError`, async () => {
        const chain = new CodecChain({ shape, dataType: "int32", fillValue: 0 }, [BYTES_LE, { name: "blosc", configuration: { cname, shuffle, blocksize: 16384 } }], { path: "arr" });
        const valid = await chain.encode({ data: data.slice(), shape, dtype: "int32" });
        expect(checkBloscFrame(valid, data.byteLength)).toBe(data.byteLength);
        const view = new DataView(valid.buffer, valid.byteOffset);
        const nblocks = Math.ceil(data.byteLength / view.getUint32(8, true));
        expect(nblocks).toBeGreaterThan(1);
        // Every structural field the frame has: header words, block offsets, each stream's size word.
        const fields: { at: number; width: 1 | 4 }[] = [{ at: 0, width: 1 }, { at: 8, width: 4 }];
        for (let b = 0; b < nblocks; b++) {
          fields.push({ at: 16 + 4 * b, width: 4 });
          fields.push({ at: view.getUint32(16 + 4 * b, true), width: 4 });
        }
        const damaged: Uint8Array[] = [];
        for (const { at, width } of fields) {
          for (const value of width === 1 ? [0, 3, 200] : [0xffffffff, 0x7fffffff, valid.length, 3]) {
            const bad = valid.slice();
            if (width === 1) bad[at] = value;
            else new DataView(bad.buffer).setUint32(at, value, true);
            damaged.push(bad);
          }
        }
        for (const bad of damaged) {
          const outcome = await typed(() => chain.decode(bad, "arr/c/0"));
          if (outcome.ok) {
            // Only a damage blosc itself would accept gets through, and then it must still be our data.
            expect(Array.from(outcome.value.data as Int32Array)).toEqual(Array.from(data));
          } else {
            expect(outcome.error).toBeInstanceOf(CodecError);
            expect(outcome.error.key).toBe("arr/c/0");
          }
        }
      });
    }
  }

  // What remains: a corrupt compressed stream inside a well-formed frame. c-blosc reports the
  // failure, numcodecs' WASM build drops the report and returns its output buffer. Without a
  // checksum in the chain nothing can tell; with crc32c after blosc the damage is caught.
  it("a corrupt stream inside a valid frame is caught by a crc32c after blosc", async () => {
    const chain = new CodecChain({ shape, dataType: "int32", fillValue: 0 }, [BYTES_LE, { name: "blosc", configuration: { cname: "lz4" } }, { name: "crc32c" }], { path: "arr" });
    const valid = await chain.encode({ data: data.slice(), shape, dtype: "int32" });
    for (let t = 0; t < 50; t++) {
      const bad = valid.slice();
      bad[64 + ((t * 7919) % (valid.length - 70))] ^= 0x5a;
      const outcome = await typed(() => chain.decode(bad, "arr/c/0"));
      expect(!outcome.ok && outcome.error).toBeInstanceOf(ChecksumError);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Hostile chunks on disk

describe("hostile objects on a FileSystemStore", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "zarrflow-hostile-fs-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a directory, an empty file or garbage where a chunk or metadata should be: typed errors, never fill values", async () => {
    const store = new FileSystemStore(dir);
    const array = await create(store, { shape: [8], chunks: [4], dtype: "int32", codecs: [BYTES_LE, { name: "crc32c" }] });
    await array.write(null, Int32Array.from(range(8)));
    await rm(join(dir, "c", "0"));
    await mkdir(join(dir, "c", "0"));
    const asDir = await typed(() => array.read("0:4"));
    expect(!asDir.ok && asDir.error.key).toBe("c/0");
    await rm(join(dir, "c", "0"), { recursive: true });
    await writeFile(join(dir, "c", "0"), new Uint8Array(0));
    const empty = await typed(() => array.read("0:4"));
    expect(!empty.ok && empty.error).toBeInstanceOf(CodecError);
    await writeFile(join(dir, "zarr.json"), "{\"zarr_format\": 3, \"node_type\": \"arr");
    const meta = await typed(() => open(store));
    expect(!meta.ok && meta.error).toBeInstanceOf(MetadataError);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. numcodecs and extension codecs: configurations and stored values that do not add up

describe("hostile numcodecs and extension codec input", () => {
  const spec = (dataType: DataType, shape = [16]) => ({ shape, dataType, fillValue: 0 });
  const bad: [string, DataType, CodecMetadata[]][] = [
    ["delta without a dtype it can view the data as", "int32", [{ name: "numcodecs.delta", configuration: { dtype: "<f8" } }, BYTES_LE]],
    ["delta of bool", "bool", [{ name: "numcodecs.delta", configuration: { dtype: "|b1" } }, { name: "bytes" }]],
    ["astype to a string type", "float64", [{ name: "numcodecs.astype", configuration: { encode_dtype: "|S4" } }, BYTES_LE]],
    ["fixedscaleoffset with scale 0", "float64", [{ name: "numcodecs.fixedscaleoffset", configuration: { offset: 0, scale: 0, dtype: "<f8", astype: "<i2" } }, BYTES_LE]],
    ["fixedscaleoffset with a string scale", "float64", [{ name: "numcodecs.fixedscaleoffset", configuration: { offset: 0, scale: "ten", dtype: "<f8" } }, BYTES_LE]],
    ["quantize of integers", "int32", [{ name: "numcodecs.quantize", configuration: { digits: 2, dtype: "<i4" } }, BYTES_LE]],
    ["quantize without digits", "float64", [{ name: "numcodecs.quantize", configuration: { dtype: "<f8" } }, BYTES_LE]],
    ["bitround keeping more bits than the mantissa has", "float32", [{ name: "numcodecs.bitround", configuration: { keepbits: 24 } }, BYTES_LE]],
    ["bitround of integers", "int32", [{ name: "numcodecs.bitround", configuration: { keepbits: 3 } }, BYTES_LE]],
    ["packbits of integers", "int32", [{ name: "numcodecs.packbits" }, BYTES_LE]],
    ["shuffle with a negative element size", "int32", [BYTES_LE, { name: "numcodecs.shuffle", configuration: { elementsize: -4 } }]],
    ["crc32 at the middle", "int32", [BYTES_LE, { name: "numcodecs.crc32", configuration: { location: "middle" } }]],
    ["fletcher32 with an option it does not have", "int32", [BYTES_LE, { name: "numcodecs.fletcher32", configuration: { location: "end" } }]],
    ["scale_offset with scale 0 on integers", "int32", [{ name: "scale_offset", configuration: { scale: 0 } }, BYTES_LE]],
    ["scale_offset with an offset beyond the type", "int8", [{ name: "scale_offset", configuration: { offset: 300 } }, { name: "bytes" }]],
    ["cast_value to a string type", "float64", [{ name: "cast_value", configuration: { data_type: "string" } }, BYTES_LE]],
    ["cast_value wrapping to a float", "int32", [{ name: "cast_value", configuration: { data_type: "float32", out_of_range: "wrap" } }, BYTES_LE]],
    ["cast_value with an unknown rounding", "float64", [{ name: "cast_value", configuration: { data_type: "int16", rounding: "sideways" } }, BYTES_LE]],
    ["cast_value with a scalar_map value beyond the target", "float64", [{ name: "cast_value", configuration: { data_type: "int8", scalar_map: { encode: [["NaN", 1000]] } } }, BYTES_LE]],
    ["cast_value with a malformed scalar_map", "float64", [{ name: "cast_value", configuration: { data_type: "int8", scalar_map: { encode: [["NaN"]] } } }, BYTES_LE]],
  ];
  for (const [what, dataType, codecs] of bad) {
    it(`bad configuration (${what}) is a MetadataError naming the array`, () => {
      let error: unknown;
      try {
        new CodecChain(spec(dataType), codecs, { path: "arr" });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MetadataError);
      expect((error as MetadataError).path).toBe("arr");
    });
  }

  it("a v2 value filter after a byte filter has no chain: a MetadataError naming the array", async () => {
    const store = new MemoryStore();
    await store.set("a/.zarray", new TextEncoder().encode(JSON.stringify({ zarr_format: 2, shape: [4], chunks: [4], dtype: "<i4", compressor: null, fill_value: 0, order: "C", filters: [{ id: "shuffle", elementsize: 4 }, { id: "delta", dtype: "<i4" }] })));
    const outcome = await typed(() => open(store, { path: "a" }));
    expect(!outcome.ok && outcome.error).toBeInstanceOf(MetadataError);
    expect(!outcome.ok && outcome.error.path).toBe("a");
  });

  it("a checksum mismatch is a ChecksumError naming the array and key, for every numcodecs checksum", async () => {
    for (const name of ["numcodecs.crc32", "numcodecs.adler32", "numcodecs.fletcher32"]) {
      const chain = new CodecChain(spec("int32"), [BYTES_LE, { name }], { path: "arr" });
      const valid = await chain.encode({ data: Int32Array.from(range(16)), shape: [16], dtype: "int32" }, "arr/c/0");
      const damaged = valid.slice();
      damaged[name === "numcodecs.fletcher32" ? 5 : 9] ^= 0x10;
      const outcome = await typed(() => chain.decode(damaged, "arr/c/0"));
      expect(!outcome.ok && outcome.error, name).toBeInstanceOf(ChecksumError);
      expect(!outcome.ok && outcome.error.key).toBe("arr/c/0");
      expect(!outcome.ok && outcome.error.path).toBe("arr");
    }
  });

  it("packbits bytes whose padding count or length lie are a CodecError", async () => {
    const chain = new CodecChain(spec("bool", [13]), [{ name: "numcodecs.packbits" }, { name: "bytes" }], { path: "arr" });
    const valid = (await chain.encode({ data: Uint8Array.from(range(13), (i) => i % 2), shape: [13], dtype: "bool" }, "k")) as Uint8Array;
    expect(valid[0]).toBe(3);
    for (const forged of [Uint8Array.of(7, ...valid.subarray(1)), valid.subarray(0, 2), Uint8Array.of(...valid, 0)]) {
      const outcome = await typed(() => chain.decode(forged, "arr/c/0"));
      expect(!outcome.ok && outcome.error).toBeInstanceOf(CodecError);
      expect(!outcome.ok && outcome.error.key).toBe("arr/c/0");
    }
  });

  it("scale_offset values that do not divide, or leave the type, are a CodecError (never wrapped)", async () => {
    const chain = new CodecChain({ ...spec("int8", [4]), fillValue: 100 }, [{ name: "scale_offset", configuration: { offset: 100, scale: 2 } }, { name: "bytes" }], { path: "arr" });
    // The fill value is encoded too: one the codec cannot store makes the array unusable, said up front.
    expect(() => new CodecChain(spec("int8", [4]), [{ name: "scale_offset", configuration: { offset: 100, scale: 2 } }, { name: "bytes" }], { path: "arr" })).toThrow(MetadataError);
    for (const stored of [Int8Array.of(2, 4, 5, 6), Int8Array.of(100, 0, 0, 0)]) {
      // 5 does not divide by 2; 100 / 2 + 100 = 150 is beyond int8.
      const outcome = await typed(() => chain.decode(new Uint8Array(stored.buffer), "arr/c/0"));
      expect(!outcome.ok && outcome.error).toBeInstanceOf(CodecError);
    }
    const write = await typed(() => chain.encode({ data: Int8Array.of(-100, 100, 100, 100), shape: [4], dtype: "int8" }, "arr/c/0"));
    expect(!write.ok && write.error).toBeInstanceOf(CodecError);
  });

  it("cast_value: NaN without a scalar_map entry, and out-of-range values without a policy, are a CodecError", async () => {
    const chain = new CodecChain(spec("float64", [3]), [{ name: "cast_value", configuration: { data_type: "int8" } }, { name: "bytes" }], { path: "arr" });
    for (const values of [Float64Array.of(1, NaN, 2), Float64Array.of(1, 200, 2)]) {
      const outcome = await typed(() => chain.encode({ data: values, shape: [3], dtype: "float64" }, "arr/c/0"));
      expect(!outcome.ok && outcome.error).toBeInstanceOf(CodecError);
      expect(!outcome.ok && outcome.error.key).toBe("arr/c/0");
    }
  });

  it("metadata integers: exact beyond 2^53, out of the type's range a MetadataError", async () => {
    const store = new MemoryStore();
    const doc = (fill: string) => `{"zarr_format": 3, "node_type": "array", "shape": [4], "data_type": "uint64", "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4]}}, "chunk_key_encoding": {"name": "default"}, "fill_value": ${fill}, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}`;
    await store.set("ok/zarr.json", new TextEncoder().encode(doc("18446744073709551615")));
    await store.set("over/zarr.json", new TextEncoder().encode(doc("18446744073709551616")));
    await store.set("deep/zarr.json", new TextEncoder().encode(`${"[".repeat(100_000)}18446744073709551616${"]".repeat(100_000)}`));
    const ok = await typed(() => openArray(store, { path: "ok" }));
    expect(ok.ok && ok.value.fillValue).toBe(2n ** 64n - 1n);
    for (const path of ["over", "deep"]) {
      const outcome = await typed(() => open(store, { path }));
      expect(!outcome.ok && outcome.error, path).toBeInstanceOf(MetadataError);
      expect(!outcome.ok && outcome.error.path).toBe(path);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Values beyond numbers: variable-length chunks, datetime units, struct layouts

describe("hostile values beyond numbers", () => {
  const framed = (count: number, items: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(4 + items.reduce((n, b) => n + 4 + b.length, 0));
    const view = new DataView(out.buffer);
    view.setUint32(0, count, true);
    let at = 4;
    for (const item of items) {
      view.setUint32(at, item.length, true);
      out.set(item, at + 4);
      at += 4 + item.length;
    }
    return out;
  };

  /** A v3 array of `dtype` whose one chunk (key c/0) holds `chunk`, read through open(). */
  async function readWithChunk(dataType: unknown, codecs: CodecMetadata[], chunk: Uint8Array, shape = [4]): Promise<Awaited<ReturnType<typeof typed>>> {
    const store = new MemoryStore();
    const doc = { zarr_format: 3, node_type: "array", shape, data_type: dataType, chunk_grid: { name: "regular", configuration: { chunk_shape: shape } }, chunk_key_encoding: { name: "default" }, fill_value: String((dataType as { name?: unknown }).name).startsWith("numpy.") ? 0 : "", codecs };
    await store.set("a/zarr.json", json(doc));
    await store.set(`a/c/${shape.map(() => 0).join("/")}`, chunk);
    return typed(async () => (await open(store, { path: "a" }) as ZarrArray).read(undefined, { workers: 0 }));
  }

  const VLEN: [string, string, CodecMetadata, Uint8Array[]][] = [
    ["vlen-utf8", "string", { name: "vlen-utf8" }, ["ab", "", "é😀", "xyz"].map((s) => encoder.encode(s))],
    ["vlen-bytes", "variable_length_bytes", { name: "vlen-bytes" }, [new Uint8Array([0, 1]), new Uint8Array(0), new Uint8Array([255]), new Uint8Array(5)]],
  ];

  for (const [codec, dataType, meta, items] of VLEN) {
    it(`${codec}: truncated chunks at every length, and lying counts and lengths, are CodecErrors naming the array and key`, async () => {
      const valid = framed(4, items);
      expect((await readWithChunk(dataType, [meta], valid)).ok).toBe(true);
      const bad: [string, Uint8Array][] = [];
      for (let length = 0; length < valid.length; length++) bad.push([`truncated to ${length}`, valid.slice(0, length)]);
      bad.push(["a count of 2^32-1 items", framed(0xffffffff, items)]);
      bad.push(["a count of 3 for 4 elements", framed(3, items)]);
      bad.push(["a count of 5 for 4 elements", framed(5, [...items, new Uint8Array(1)])]);
      bad.push(["bytes after the last item", new Uint8Array([...valid, 0])]);
      const lying = valid.slice();
      new DataView(lying.buffer).setUint32(4, 0x7fffffff, true);
      bad.push(["an item length of 2^31-1", lying]);
      for (const [label, chunk] of bad) {
        const outcome = await readWithChunk(dataType, [meta], chunk);
        expect(outcome.ok, `${codec} ${label} decoded`).toBe(false);
        if (outcome.ok) continue;
        expect(outcome.error, label).toBeInstanceOf(CodecError);
        expect(outcome.error.path, label).toBe("a");
        expect(outcome.error.key, label).toBe("a/c/0");
      }
    });
  }

  it("vlen-utf8: invalid UTF-8 (a lone continuation byte, an overlong form, a surrogate) is a CodecError, not U+FFFD", async () => {
    for (const item of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x61, 0xff]]) {
      const outcome = await readWithChunk("string", [{ name: "vlen-utf8" }], framed(4, [new Uint8Array(item), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]));
      expect(outcome.ok, `item ${item}`).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error).toBeInstanceOf(CodecError);
        expect(outcome.error.message).toMatch(/UTF-8/);
        expect(outcome.error.key).toBe("a/c/0");
      }
    }
  });

  it("a string chunk shape of 2^40 items is refused from the metadata, before anything is allocated", async () => {
    const store = new MemoryStore();
    const shape = [2 ** 20, 2 ** 20];
    await store.set("a/zarr.json", json({ zarr_format: 3, node_type: "array", shape, data_type: "string", chunk_grid: { name: "regular", configuration: { chunk_shape: shape } }, fill_value: "", codecs: [{ name: "vlen-utf8" }] }));
    const outcome = await typed(() => open(store, { path: "a" }));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.error).toBeInstanceOf(MetadataError);
      expect(outcome.error.path).toBe("a");
    }
  });

  it("random mutations of a vlen-utf8 chunk decode to strings or fail typed (never a RangeError)", async () => {
    const chain = new CodecChain({ shape: [6], dataType: "string", fillValue: "" }, [{ name: "vlen-utf8" }, { name: "zstd", configuration: { level: 1, checksum: false } }], { path: "arr" });
    const valid = await chain.encode({ data: ["a", "bb", "", "ünï", "😀", "x"] as never, shape: [6], dtype: "string" }, "arr/c/0");
    const plain = new CodecChain({ shape: [6], dataType: "string", fillValue: "" }, [{ name: "vlen-utf8" }], { path: "arr" });
    const raw = await plain.encode({ data: ["a", "bb", "", "ünï", "😀", "x"] as never, shape: [6], dtype: "string" }, "arr/c/0");
    await fc.assert(
      fc.asyncProperty(byteMutations(), fc.boolean(), async (mutations, compressed) => {
        const target = compressed ? chain : plain;
        const outcome = await typed(() => target.decode(applyBytes(compressed ? valid : raw, mutations), "arr/c/0"));
        if (!outcome.ok) {
          expect(outcome.error).toBeInstanceOf(CodecError);
          expect(outcome.error.key).toBe("arr/c/0");
          return;
        }
        const values = outcome.value.data as unknown as unknown[];
        expect(values).toHaveLength(6);
        for (const v of values) expect(typeof v).toBe("string");
      }),
      fcParams("hostile vlen-utf8", 300),
    );
  });

  it("unknown datetime units and bad scale factors are UnsupportedDataTypeErrors naming the array (v3 and v2)", async () => {
    const v3 = [
      { name: "numpy.datetime64", configuration: { unit: "fortnight", scale_factor: 1 } },
      { name: "numpy.timedelta64", configuration: { unit: "s", scale_factor: 0 } },
      { name: "numpy.datetime64", configuration: { unit: "s", scale_factor: 2 ** 31 } },
      { name: "numpy.datetime64", configuration: {} },
    ];
    for (const dataType of v3) {
      const store = new MemoryStore();
      await store.set("t/zarr.json", json({ zarr_format: 3, node_type: "array", shape: [4], data_type: dataType, chunk_grid: { name: "regular", configuration: { chunk_shape: [2] } }, fill_value: 0, codecs: [BYTES_LE] }));
      const outcome = await typed(() => open(store, { path: "t" }));
      expect(outcome.ok, JSON.stringify(dataType)).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error.code, JSON.stringify(dataType)).toBe("UNSUPPORTED_DATA_TYPE");
        expect(outcome.error.path).toBe("t");
      }
    }
    for (const dtype of ["<M8[fortnight]", "<m8", "<M8[0s]", "<M4[s]", "<M8[99999999999s]"]) {
      const store = new MemoryStore();
      await store.set("t/.zarray", json({ zarr_format: 2, shape: [4], chunks: [2], dtype, compressor: null, fill_value: null, filters: null, order: "C" }));
      const outcome = await typed(() => open(store, { path: "t" }));
      expect(outcome.ok, dtype).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error, dtype).toBeInstanceOf(MetadataError);
        expect(outcome.error.path).toBe("t");
      }
    }
  });

  it("struct layouts that do not add up, and fill values that do not fit them, are MetadataErrors naming the array", async () => {
    const fields = [{ name: "a", data_type: "int32" }, { name: "b", data_type: "float64" }];
    const v3: [unknown, unknown][] = [
      [{ name: "struct", configuration: { fields: [] } }, 0],
      [{ name: "struct", configuration: { fields: [fields[0], fields[0]] } }, { a: 1 }],
      [{ name: "struct", configuration: { fields: [{ name: "", data_type: "int32" }] } }, { "": 1 }],
      [{ name: "struct", configuration: { fields: [{ name: "s", data_type: "string" }] } }, { s: "" }],
      [{ name: "struct", configuration: { fields: [{ name: "x", data_type: "int33" }] } }, { x: 0 }],
      [{ name: "struct", configuration: { fields } }, { a: 1 }],
      [{ name: "struct", configuration: { fields } }, { a: 1, b: 2, c: 3 }],
      [{ name: "struct", configuration: { fields } }, "AAAA"],
      [{ name: "struct", configuration: { fields } }, { a: 2 ** 40, b: 0 }],
    ];
    for (const [dataType, fill] of v3) {
      const store = new MemoryStore();
      await store.set("s/zarr.json", json({ zarr_format: 3, node_type: "array", shape: [4], data_type: dataType, chunk_grid: { name: "regular", configuration: { chunk_shape: [2] } }, fill_value: fill, codecs: [BYTES_LE] }));
      const outcome = await typed(() => open(store, { path: "s" }));
      expect(outcome.ok, JSON.stringify([dataType, fill])).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error, JSON.stringify(dataType)).toBeInstanceOf(MetadataError);
        expect(outcome.error.path).toBe("s");
      }
    }
    const v2: [unknown, unknown][] = [
      [[], null],
      [[["a", "<i4", [2]]], null],
      [[["a", "<i4"], ["a", "<f8"]], null],
      [[["a", "|O"]], null],
      [[["a", "<i4"], ["b", "<f8"]], "AAAA"],
      [[["a", "<i4"], 7], null],
    ];
    for (const [dtype, fill] of v2) {
      const store = new MemoryStore();
      await store.set("s/.zarray", json({ zarr_format: 2, shape: [4], chunks: [2], dtype, compressor: null, fill_value: fill, filters: null, order: "C" }));
      const outcome = await typed(() => open(store, { path: "s" }));
      expect(outcome.ok, JSON.stringify(dtype)).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error, JSON.stringify(dtype)).toBeInstanceOf(MetadataError);
        expect(outcome.error.path).toBe("s");
      }
    }
  });

  it("fixed-width chunks of the wrong size are CodecErrors naming the array and key", async () => {
    for (const [dataType, itemsize] of [[{ name: "fixed_length_utf32", configuration: { length_bytes: 8 } }, 8], [{ name: "raw_bytes", configuration: { length_bytes: 3 } }, 3], [{ name: "numpy.datetime64", configuration: { unit: "ns", scale_factor: 1 } }, 8]] as const) {
      const outcome = await readWithChunk(dataType, [BYTES_LE], new Uint8Array(4 * itemsize - 1));
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) {
        expect(outcome.error).toBeInstanceOf(CodecError);
        expect(outcome.error.key).toBe("a/c/0");
      }
    }
  });
});
