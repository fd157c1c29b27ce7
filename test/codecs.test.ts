/**
 * Codec chains: byte-exact round trips for every data type through every built-in codec,
 * known encodings (big-endian bytes, transpose, crc32c vectors), cross-implementation checks
 * (node:zlib ↔ fflate, native zstd ↔ numcodecs WASM zstd), and typed errors for corrupt
 * chunks, decompression bombs and invalid chains/configurations.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  ChecksumError,
  CodecChain,
  CodecError,
  DATA_TYPES,
  MetadataError,
  UnknownCodecError,
  ZSTD_IMPLEMENTATION,
  crc32c,
  type CodecMetadata,
  type DataType,
  type NdArray,
  type TypedArray,
} from "../src/index.js";
import { deflateBackend, setDeflateBackend } from "../src/codecs/deflate-backend.js";
import { prng } from "./helpers/prng.js";

// ---------------------------------------------------------------------------------------------
// helpers


const ALL_TYPES = Object.keys(DATA_TYPES) as DataType[];

/** IEEE special bit patterns per float width: NaNs with payloads (quiet, signalling, negative), ±Inf, -0. */
const SPECIAL_BITS: Record<number, bigint[]> = {
  2: [0x7e00n, 0x7d01n, 0xfe37n, 0x7c00n, 0xfc00n, 0x8000n],
  4: [0x7fc00000n, 0x7f800001n, 0xffc12345n, 0x7f800000n, 0xff800000n, 0x80000000n],
  8: [0x7ff8000000000000n, 0x7ff0000000000001n, 0xfff8dead0000beefn, 0x7ff0000000000000n, 0xfff0000000000000n, 0x8000000000000000n],
};

/** Random bytes of a data type (bool: 0/1), with float specials planted at the start. */
function randomBytes(dataType: DataType, count: number, rnd: () => number): Uint8Array {
  const { itemsize, kind, slots } = DATA_TYPES[dataType];
  const bytes = new Uint8Array(count * itemsize);
  if (kind === "b") {
    for (let i = 0; i < count; i++) bytes[i] = rnd() < 0.5 ? 1 : 0;
    return bytes;
  }
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
  if (kind === "f" || kind === "c") {
    const width = itemsize / slots;
    const dv = new DataView(bytes.buffer);
    SPECIAL_BITS[width].forEach((bits, i) => {
      const offset = i * width;
      if (offset + width > bytes.length) return;
      if (width === 2) dv.setUint16(offset, Number(bits), true);
      else if (width === 4) dv.setUint32(offset, Number(bits), true);
      else dv.setBigUint64(offset, bits, true);
    });
  }
  return bytes;
}

function arrayOf(dataType: DataType, shape: number[], bytes: Uint8Array): NdArray {
  const { ctor, itemsize, slots } = DATA_TYPES[dataType];
  const copy = bytes.slice();
  const data = new ctor(copy.buffer, 0, (copy.byteLength / itemsize) * slots) as TypedArray;
  return { data, shape, dtype: dataType };
}

function bytesOfArray(array: NdArray): Uint8Array {
  const d = array.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const bytesLE = (dataType: DataType): CodecMetadata =>
  DATA_TYPES[dataType].itemsize / DATA_TYPES[dataType].slots > 1 ? { name: "bytes", configuration: { endian: "little" } } : { name: "bytes" };

/** Runs `fn` and returns what it threw (sync or async), failing the test when it did not throw. */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  expect.unreachable("expected an error");
}

function expectCodecErrorAt(error: unknown, path: string, key: string): void {
  expect(error).toBeInstanceOf(CodecError);
  const e = error as CodecError;
  expect(["CODEC_ERROR", "CHECKSUM_MISMATCH"]).toContain(e.code);
  expect(e.path).toBe(path);
  expect(e.key).toBe(key);
  expect(e.message).toContain(key);
  expect(e.message).toContain(`"${path}"`);
}

// ---------------------------------------------------------------------------------------------
// round trips

interface ChainCase {
  label: string;
  shape: number[];
  codecs: (dataType: DataType) => CodecMetadata[];
}

const withBytes =
  (...rest: CodecMetadata[]) =>
  (dataType: DataType): CodecMetadata[] => [bytesLE(dataType), ...rest];

const CHAINS: ChainCase[] = [
  { label: "bytes little", shape: [5, 9], codecs: withBytes() },
  { label: "bytes big", shape: [5, 9], codecs: () => [{ name: "bytes", configuration: { endian: "big" } }] },
  { label: "bytes + gzip", shape: [5, 9], codecs: withBytes({ name: "gzip", configuration: { level: 5 } }) },
  { label: "bytes + numcodecs.zlib", shape: [5, 9], codecs: withBytes({ name: "numcodecs.zlib", configuration: { level: 1 } }) },
  { label: "bytes + zstd level 1", shape: [5, 9], codecs: withBytes({ name: "zstd", configuration: { level: 1 } }) },
  { label: "bytes + zstd checksum", shape: [5, 9], codecs: withBytes({ name: "zstd", configuration: { level: 3, checksum: true } }) },
  ...["lz4", "zstd", "zlib"].flatMap((cname) =>
    ["noshuffle", "shuffle", "bitshuffle"].map(
      (shuffle): ChainCase => ({
        label: `bytes + blosc ${cname}/${shuffle}`,
        shape: [5, 9],
        codecs: withBytes({ name: "blosc", configuration: { cname, clevel: 5, shuffle } }),
      }),
    ),
  ),
  { label: "bytes + numcodecs.lz4", shape: [5, 9], codecs: withBytes({ name: "numcodecs.lz4" }) },
  { label: "bytes + crc32c", shape: [5, 9], codecs: withBytes({ name: "crc32c" }) },
  {
    label: "transpose [1,0] + bytes + zstd (2-d)",
    shape: [5, 9],
    codecs: (dt) => [{ name: "transpose", configuration: { order: [1, 0] } }, bytesLE(dt), { name: "zstd", configuration: { level: 1 } }],
  },
  {
    label: "transpose [2,0,1] + bytes + zstd (3-d)",
    shape: [3, 4, 5],
    codecs: (dt) => [{ name: "transpose", configuration: { order: [2, 0, 1] } }, bytesLE(dt), { name: "zstd", configuration: { level: 1 } }],
  },
  {
    label: "bytes + gzip + crc32c",
    shape: [5, 9],
    codecs: withBytes({ name: "gzip", configuration: { level: 1 } }, { name: "crc32c" }),
  },
];

describe("CodecChain round trips every data type byte-exactly", () => {
  for (const chainCase of CHAINS) {
    describe(chainCase.label, () => {
      it.each(ALL_TYPES)("%s", async (dataType) => {
        const rnd = prng(ALL_TYPES.indexOf(dataType) * 1000 + CHAINS.indexOf(chainCase));
        const { shape } = chainCase;
        const original = randomBytes(dataType, product(shape), rnd);
        const chain = new CodecChain({ shape, dataType, fillValue: 0 }, chainCase.codecs(dataType), { path: "arr" });
        const input = arrayOf(dataType, shape, original);
        const encoded = await chain.encode(input, "arr/c/0");
        // Encoding must not modify the caller's array.
        expect(bytesOfArray(input)).toEqual(original);
        const decoded = await chain.decode(encoded.slice(), "arr/c/0");
        expect(decoded.dtype).toBe(dataType);
        expect(decoded.shape).toEqual(shape);
        expect(decoded.data.constructor).toBe(DATA_TYPES[dataType].ctor);
        expect(bytesOfArray(decoded)).toEqual(original);
      });
    });
  }

  it("round trips data at an unaligned offset in the stored buffer", async () => {
    const chain = new CodecChain({ shape: [6], dataType: "float64", fillValue: 0 }, [bytesLE("float64")]);
    const values = Float64Array.from([1.5, -0, NaN, Infinity, -2.25, 1e300]);
    const stored = new Uint8Array(48 + 3);
    stored.set(new Uint8Array(values.buffer), 3);
    const decoded = await chain.decode(stored.subarray(3));
    expect(Array.from(decoded.data as Float64Array)).toEqual(Array.from(values));
  });
});

// ---------------------------------------------------------------------------------------------
// known encodings

describe("bytes codec", () => {
  it("big endian byte-swaps each element", async () => {
    const chain = new CodecChain({ shape: [2], dataType: "int32", fillValue: 0 }, [{ name: "bytes", configuration: { endian: "big" } }]);
    const encoded = await chain.encode({ data: Int32Array.from([0x01020304, -2]), shape: [2], dtype: "int32" });
    expect(Array.from(encoded)).toEqual([0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfe]);
    const decoded = await chain.decode(encoded);
    expect(Array.from(decoded.data as Int32Array)).toEqual([0x01020304, -2]);
  });

  it("big endian swaps complex components separately, and float64 as 8-byte words", async () => {
    const c = new CodecChain({ shape: [1], dataType: "complex64", fillValue: [0, 0] }, [{ name: "bytes", configuration: { endian: "big" } }]);
    const enc = await c.encode({ data: Float32Array.from([1, -2]), shape: [1], dtype: "complex64" });
    // 1.0f = 0x3f800000, -2.0f = 0xc0000000, each stored big-endian.
    expect(Array.from(enc)).toEqual([0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]);
    const d = new CodecChain({ shape: [1], dataType: "float64", fillValue: 0 }, [{ name: "bytes", configuration: { endian: "big" } }]);
    const enc64 = await d.encode({ data: Float64Array.from([1]), shape: [1], dtype: "float64" });
    expect(Array.from(enc64)).toEqual([0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
  });

  it("little endian stores host order", async () => {
    const chain = new CodecChain({ shape: [1], dataType: "uint16", fillValue: 0 }, [{ name: "bytes", configuration: { endian: "little" } }]);
    expect(Array.from(await chain.encode({ data: Uint16Array.from([0x1234]), shape: [1], dtype: "uint16" }))).toEqual([0x34, 0x12]);
  });

  it("a chunk of the wrong decoded size is a CodecError", async () => {
    const chain = new CodecChain({ shape: [4], dataType: "int16", fillValue: 0 }, [bytesLE("int16")], { path: "p" });
    expectCodecErrorAt(await caught(() => chain.decode(new Uint8Array(7), "p/c/0")), "p", "p/c/0");
    expectCodecErrorAt(await caught(() => chain.decode(new Uint8Array(10), "p/c/0")), "p", "p/c/0");
  });
});

describe("transpose codec", () => {
  it("order [2,0,1] on a 2×3×4 array matches a hand-computed permutation", async () => {
    const shape = [2, 3, 4];
    const data = Int32Array.from({ length: 24 }, (_, i) => i); // value = i*12 + j*4 + k
    const chain = new CodecChain({ shape, dataType: "int32", fillValue: 0 }, [
      { name: "transpose", configuration: { order: [2, 0, 1] } },
      bytesLE("int32"),
    ]);
    const encoded = await chain.encode({ data, shape, dtype: "int32" });
    // Output shape [4, 2, 3]: out[k][i][j] = in[i][j][k].
    const expected: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expected.push(i * 12 + j * 4 + k);
    expect(Array.from(new Int32Array(encoded.slice().buffer))).toEqual(expected);
    expect(expected.slice(0, 7)).toEqual([0, 4, 8, 12, 16, 20, 1]); // sanity of the hand model
    const decoded = await chain.decode(encoded);
    expect(decoded.shape).toEqual(shape);
    expect(Array.from(decoded.data as Int32Array)).toEqual(Array.from(data));
  });

  it("order [1,0] on complex128 moves whole 16-byte elements", async () => {
    const shape = [2, 3];
    const data = Float64Array.from({ length: 12 }, (_, i) => (i % 2 ? -1 : 1) * (Math.floor(i / 2) + 0.5));
    const chain = new CodecChain({ shape, dataType: "complex128", fillValue: [0, 0] }, [
      { name: "transpose", configuration: { order: [1, 0] } },
      bytesLE("complex128"),
    ]);
    const encoded = await chain.encode({ data, shape, dtype: "complex128" });
    const out = new Float64Array(encoded.slice().buffer);
    const expected: number[] = [];
    for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) expected.push(data[(i * 3 + j) * 2], data[(i * 3 + j) * 2 + 1]);
    expect(Array.from(out)).toEqual(expected);
  });

  it("accepts 'C' and 'F' orders as identity and reversal", async () => {
    const shape = [2, 3];
    const data = Uint8Array.from({ length: 6 }, (_, i) => i);
    const f = new CodecChain({ shape, dataType: "uint8", fillValue: 0 }, [{ name: "transpose", configuration: { order: "F" } }, { name: "bytes" }]);
    expect(Array.from(await f.encode({ data, shape, dtype: "uint8" }))).toEqual([0, 3, 1, 4, 2, 5]);
    const c = new CodecChain({ shape, dataType: "uint8", fillValue: 0 }, [{ name: "transpose", configuration: { order: "C" } }, { name: "bytes" }]);
    expect(Array.from(await c.encode({ data, shape, dtype: "uint8" }))).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

// ---------------------------------------------------------------------------------------------
// deflate backends

describe("gzip / zlib: node:zlib and fflate interoperate", () => {
  const initial = deflateBackend().name;
  afterEach(() => {
    setDeflateBackend(initial);
  });

  it("both backends are available", () => {
    expect(setDeflateBackend("fflate").name).toBe("fflate");
    expect(deflateBackend().name).toBe("fflate");
    expect(setDeflateBackend("node").name).toBe("node");
    expect(deflateBackend().name).toBe("node");
  });

  for (const codec of ["gzip", "numcodecs.zlib"]) {
    for (const [from, to] of [
      ["node", "fflate"],
      ["fflate", "node"],
    ] as const) {
      it(`${codec}: ${to} decodes what ${from} encodes`, async () => {
        const rnd = prng(7);
        const shape = [300];
        // Compressible but not trivial: small random values.
        const data = Int32Array.from({ length: 300 }, () => Math.floor(rnd() * 5));
        const chain = new CodecChain({ shape, dataType: "int32", fillValue: 0 }, [bytesLE("int32"), { name: codec, configuration: { level: 6 } }]);
        setDeflateBackend(from);
        const encoded = await chain.encode({ data: data.slice(), shape, dtype: "int32" });
        expect(encoded.byteLength).toBeLessThan(data.byteLength);
        setDeflateBackend(to);
        expect(deflateBackend().name).toBe(to);
        const decoded = await chain.decode(encoded);
        expect(Array.from(decoded.data as Int32Array)).toEqual(Array.from(data));
      });
    }
  }

  it("gzip output is a real gzip stream (magic bytes) and zlib output a real zlib stream", async () => {
    for (const backend of ["node", "fflate"] as const) {
      setDeflateBackend(backend);
      const gz = await new CodecChain({ shape: [8], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "gzip" }]).encode({
        data: new Uint8Array(8),
        shape: [8],
        dtype: "uint8",
      });
      expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
      const zl = await new CodecChain({ shape: [8], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "numcodecs.zlib" }]).encode({
        data: new Uint8Array(8),
        shape: [8],
        dtype: "uint8",
      });
      expect(zl[0] & 0x0f).toBe(8); // CM = deflate
      expect(((zl[0] << 8) | zl[1]) % 31).toBe(0); // FCHECK
    }
  });
});

// ---------------------------------------------------------------------------------------------
// crc32c

describe("crc32c", () => {
  const ascii = (s: string) => new TextEncoder().encode(s);

  it("matches the known test vectors", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("continues from a previous value", () => {
    const data = ascii("123456789");
    expect(crc32c(data.subarray(4), crc32c(data.subarray(0, 4)))).toBe(0xe3069283);
  });

  it("the codec appends the checksum little-endian", async () => {
    const chain = new CodecChain({ shape: [9], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "crc32c" }]);
    const encoded = await chain.encode({ data: ascii("123456789"), shape: [9], dtype: "uint8" });
    expect(Array.from(encoded.subarray(9))).toEqual([0x83, 0x92, 0x06, 0xe3]);
  });

  it("a corrupted byte is a ChecksumError naming the key", async () => {
    const chain = new CodecChain({ shape: [16], dataType: "uint16", fillValue: 0 }, [bytesLE("uint16"), { name: "crc32c" }], { path: "arr" });
    const encoded = await chain.encode({ data: Uint16Array.from({ length: 16 }, (_, i) => i * 257), shape: [16], dtype: "uint16" });
    for (const position of [0, 13, encoded.byteLength - 1]) {
      const bad = encoded.slice();
      bad[position] ^= 0x10;
      const error = await caught(() => chain.decode(bad, "arr/c/0"));
      expect(error).toBeInstanceOf(ChecksumError);
      expectCodecErrorAt(error, "arr", "arr/c/0");
      expect((error as ChecksumError).code).toBe("CHECKSUM_MISMATCH");
    }
  });
});

// ---------------------------------------------------------------------------------------------
// corrupt chunks

const COMPRESSORS: { label: string; codec: CodecMetadata; detectsFlips: boolean }[] = [
  { label: "gzip", codec: { name: "gzip" }, detectsFlips: true },
  { label: "zlib", codec: { name: "numcodecs.zlib" }, detectsFlips: true },
  { label: "zstd", codec: { name: "zstd", configuration: { level: 1 } }, detectsFlips: false },
  { label: "zstd+checksum", codec: { name: "zstd", configuration: { level: 1, checksum: true } }, detectsFlips: true },
  { label: "blosc lz4", codec: { name: "blosc", configuration: { cname: "lz4", shuffle: "shuffle" } }, detectsFlips: false },
  { label: "blosc zstd", codec: { name: "blosc", configuration: { cname: "zstd", shuffle: "bitshuffle" } }, detectsFlips: false },
  { label: "blosc zlib", codec: { name: "blosc", configuration: { cname: "zlib", shuffle: "noshuffle" } }, detectsFlips: false },
  { label: "numcodecs.lz4", codec: { name: "numcodecs.lz4" }, detectsFlips: false },
  { label: "crc32c", codec: { name: "crc32c" }, detectsFlips: true },
];

describe("corrupt chunk bytes are CodecErrors naming path and key", () => {
  const shape = [256];
  const data = Int32Array.from({ length: 256 }, (_, i) => (i % 17) * 1000 + (i % 3));

  for (const { label, codec, detectsFlips } of COMPRESSORS) {
    describe(label, () => {
      const chain = new CodecChain({ shape, dataType: "int32", fillValue: 0 }, [bytesLE("int32"), codec], { path: "arr" });

      it("truncated", async () => {
        const encoded = await chain.encode({ data: data.slice(), shape, dtype: "int32" });
        for (const length of [0, 1, 3, 8, 17, Math.floor(encoded.byteLength / 2), encoded.byteLength - 1]) {
          expectCodecErrorAt(await caught(() => chain.decode(encoded.slice(0, length), "arr/c/0")), "arr", "arr/c/0");
        }
      });

      it("random garbage", async () => {
        const rnd = prng(11);
        for (let t = 0; t < 25; t++) {
          const garbage = Uint8Array.from({ length: 1 + Math.floor(rnd() * 2000) }, () => Math.floor(rnd() * 256));
          expectCodecErrorAt(await caught(() => chain.decode(garbage, "arr/c/0")), "arr", "arr/c/0");
        }
      });

      it(`flipped bytes ${detectsFlips ? "never decode to wrong data" : "never escape as a raw error"}`, async () => {
        const encoded = await chain.encode({ data: data.slice(), shape, dtype: "int32" });
        const rnd = prng(12);
        let failures = 0;
        const trials = 60;
        for (let t = 0; t < trials; t++) {
          const bad = encoded.slice();
          const flips = 1 + Math.floor(rnd() * 3);
          for (let i = 0; i < flips; i++) bad[Math.floor(rnd() * bad.length)] ^= 1 + Math.floor(rnd() * 255);
          try {
            const decoded = await chain.decode(bad, "arr/c/0");
            expect(decoded.shape).toEqual(shape);
            expect(decoded.data.length).toBe(256);
            // With a checksum, a flip that decodes hit a byte that does not matter (gzip's mtime,
            // say): the data must be intact. Without one, silent corruption is possible.
            if (detectsFlips) expect(Array.from(decoded.data as Int32Array)).toEqual(Array.from(data));
          } catch (error) {
            failures++;
            expectCodecErrorAt(error, "arr", "arr/c/0");
          }
        }
        expect(failures).toBeGreaterThan(detectsFlips ? trials / 2 : 0);
        // The codec still works afterwards (no poisoned WASM instance or context).
        const decoded = await chain.decode(encoded, "arr/c/0");
        expect(Array.from(decoded.data as Int32Array)).toEqual(Array.from(data));
      });
    });
  }

  it("corrupt blosc header fields (compressed size, decompressed size) are rejected before decompressing", async () => {
    const chain = new CodecChain({ shape, dataType: "int32", fillValue: 0 }, [bytesLE("int32"), { name: "blosc", configuration: { cname: "lz4" } }], {
      path: "arr",
    });
    const encoded = await chain.encode({ data: data.slice(), shape, dtype: "int32" });
    const badCbytes = encoded.slice();
    new DataView(badCbytes.buffer).setUint32(12, encoded.byteLength + 5, true);
    expectCodecErrorAt(await caught(() => chain.decode(badCbytes, "arr/c/0")), "arr", "arr/c/0");
    const badNbytes = encoded.slice();
    new DataView(badNbytes.buffer).setUint32(4, 1 << 30, true);
    expectCodecErrorAt(await caught(() => chain.decode(badNbytes, "arr/c/0")), "arr", "arr/c/0");
  });

  // numcodecs' WASM blosc ignores blosc_decompress's return code and hands back the (uninitialised,
  // often stale) output buffer, so a corrupt blosc body with a valid header can decode "successfully"
  // to bytes left over from an earlier chunk. Needs a blosc decoder that reports failure.
  it.todo("a blosc chunk whose body is corrupt (header intact) is a CodecError, not stale heap bytes");
});

describe("decompression bombs", () => {
  const big = 100_000;
  const COMPRESSORS_BOMB: CodecMetadata[] = [
    { name: "zstd", configuration: { level: 1 } },
    { name: "gzip" },
    { name: "numcodecs.zlib" },
    { name: "blosc", configuration: { cname: "zstd" } },
    { name: "numcodecs.lz4" },
  ];
  const initial = deflateBackend().name;
  afterEach(() => {
    setDeflateBackend(initial);
  });

  for (const codec of COMPRESSORS_BOMB) {
    for (const backend of codec.name === "gzip" || codec.name === "numcodecs.zlib" ? (["node", "fflate"] as const) : ([initial] as const)) {
      it(`${codec.name}${codec.name.includes("zlib") || codec.name === "gzip" ? ` (${backend})` : ""}: a chunk that inflates past the chunk size is a CodecError`, async () => {
        setDeflateBackend(backend);
        const bomb = await new CodecChain({ shape: [big], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, codec]).encode({
          data: new Uint8Array(big).fill(7),
          shape: [big],
          dtype: "uint8",
        });
        expect(bomb.byteLength).toBeLessThan(2000);
        const small = new CodecChain({ shape: [100], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, codec], { path: "arr" });
        expectCodecErrorAt(await caught(() => small.decode(bomb, "arr/c/1")), "arr", "arr/c/1");
        // One byte too many is caught as well.
        const oneMore = await new CodecChain({ shape: [101], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, codec]).encode({
          data: new Uint8Array(101).fill(7),
          shape: [101],
          dtype: "uint8",
        });
        expectCodecErrorAt(await caught(() => small.decode(oneMore, "arr/c/1")), "arr", "arr/c/1");
      });
    }
  }

  it("a zstd frame without a content size that inflates past the chunk size is a CodecError", async () => {
    // A frame without a content size in its header, as streaming encoders write it.
    const { Compressor } = await import("zstd-napi");
    const compressor = new Compressor();
    compressor.setParameters({ contentSizeFlag: false });
    const frame = new Uint8Array(compressor.compress(new Uint8Array(big).fill(1)));
    const small = new CodecChain({ shape: [10], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "zstd" }], { path: "arr" });
    expectCodecErrorAt(await caught(() => small.decode(frame, "arr/c/2")), "arr", "arr/c/2");
    const exact = new CodecChain({ shape: [big], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "zstd" }]);
    const decoded = await exact.decode(frame);
    expect((decoded.data as Uint8Array).every((v) => v === 1)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// invalid chains and configurations

describe("chain validation", () => {
  const spec = { shape: [4, 4], dataType: "int16" as DataType, fillValue: 0 };
  const LE: CodecMetadata = { name: "bytes", configuration: { endian: "little" } };

  it("an unknown codec is an UnknownCodecError naming it", () => {
    let error: unknown;
    try {
      new CodecChain(spec, [LE, { name: "frobnicate" }], { path: "arr" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnknownCodecError);
    expect((error as UnknownCodecError).codec).toBe("frobnicate");
    expect((error as UnknownCodecError).code).toBe("UNKNOWN_CODEC");
    expect((error as Error).message).toContain("frobnicate");
    expect((error as UnknownCodecError).path).toBe("arr");
  });

  it.each<[string, CodecMetadata[]]>([
    ["bytes→bytes before array→bytes", [{ name: "gzip" }, LE]],
    ["two array→bytes codecs", [LE, LE]],
    ["array→array after bytes", [LE, { name: "transpose", configuration: { order: [1, 0] } }]],
    ["no array→bytes codec", [{ name: "transpose", configuration: { order: [1, 0] } }, { name: "gzip" }]],
    ["only bytes→bytes", [{ name: "crc32c" }]],
    ["empty list", []],
  ])("wrong order: %s → MetadataError", (_label, codecs) => {
    expect(() => new CodecChain(spec, codecs, { path: "arr" })).toThrow(MetadataError);
    expect(() => new CodecChain(spec, codecs, { path: "arr" })).not.toThrow(UnknownCodecError);
  });

  it.each<[string, CodecMetadata[], string]>([
    ["gzip level 12", [LE, { name: "gzip", configuration: { level: 12 } }], "level"],
    ["zlib level -1", [LE, { name: "numcodecs.zlib", configuration: { level: -1 } }], "level"],
    ["zstd checksum not a boolean", [LE, { name: "zstd", configuration: { checksum: "yes" } }], "checksum"],
    ["blosc unknown cname", [LE, { name: "blosc", configuration: { cname: "brotli" } }], "cname"],
    ["blosc bad shuffle", [LE, { name: "blosc", configuration: { shuffle: "twice" } }], "shuffle"],
    ["transpose order repeats an axis", [{ name: "transpose", configuration: { order: [0, 0] } }, LE], "order"],
    ["transpose order too short", [{ name: "transpose", configuration: { order: [0] } }, LE], "order"],
    ["transpose order out of range", [{ name: "transpose", configuration: { order: [0, 2] } }, LE], "order"],
    ["bytes without endian for int16", [{ name: "bytes" }], "endian"],
    ["bytes with endian 'middle'", [{ name: "bytes", configuration: { endian: "middle" } }], "endian"],
    ["unknown configuration key", [LE, { name: "gzip", configuration: { level: 1, window: 9 } }], "window"],
    ["configuration not an object", [LE, { name: "gzip", configuration: [1] as unknown as Record<string, unknown> }], "configuration"],
  ])("bad configuration: %s → MetadataError", (_label, codecs, mentions) => {
    let error: unknown;
    try {
      new CodecChain(spec, codecs, { path: "arr" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MetadataError);
    expect(error).not.toBeInstanceOf(UnknownCodecError);
    expect((error as MetadataError).message).toContain(mentions);
    expect((error as MetadataError).path).toBe("arr");
  });

  it("bare codec names are accepted and serialise back", () => {
    const chain = new CodecChain({ shape: [4], dataType: "uint8", fillValue: 0 }, ["bytes", "crc32c"] as unknown as CodecMetadata[]);
    expect(chain.toJSON()).toEqual([{ name: "bytes" }, { name: "crc32c" }]);
    expect(chain.encodedSize).toBe(8);
  });

  it("toJSON gives back the full configuration (defaults filled)", () => {
    const chain = new CodecChain(spec, [{ name: "transpose", configuration: { order: [1, 0] } }, LE, { name: "gzip" }, { name: "blosc", configuration: { cname: "lz4" } }]);
    expect(chain.toJSON()).toEqual([
      { name: "transpose", configuration: { order: [1, 0] } },
      LE,
      { name: "gzip", configuration: { level: 5 } },
      { name: "blosc", configuration: { cname: "lz4", clevel: 5, shuffle: "noshuffle", typesize: 2, blocksize: 0 } },
    ]);
  });

  it("encoding an array of the wrong data type or size is a CodecError", () => {
    const chain = new CodecChain(spec, [LE], { path: "arr" });
    expect(() => chain.encode({ data: new Int32Array(16), shape: [4, 4], dtype: "int32" }, "arr/c/0/0")).toThrow(CodecError);
    expect(() => chain.encode({ data: new Int16Array(15), shape: [3, 5], dtype: "int16" }, "arr/c/0/0")).toThrow(CodecError);
  });
});

// ---------------------------------------------------------------------------------------------
// zstd implementations

describe("zstd: native and WASM interoperate", () => {
  type Numcodec = { encode(b: Uint8Array): Promise<Uint8Array>; decode(b: Uint8Array): Promise<Uint8Array> };
  const wasm = async (config: Record<string, unknown> = {}): Promise<Numcodec> =>
    (await import("numcodecs/zstd")).default.fromConfig({ id: "zstd", ...config }) as unknown as Numcodec;
  const shape = [4000];
  const rnd = prng(99);
  const data = Float32Array.from({ length: 4000 }, () => Math.round(rnd() * 100) / 4);
  const raw = new Uint8Array(data.buffer.slice(0));

  it("uses the native implementation in this environment", () => {
    expect(ZSTD_IMPLEMENTATION).toBe("native");
  });

  for (const checksum of [false, true]) {
    it(`WASM decodes what native encodes (checksum ${checksum})`, async () => {
      const chain = new CodecChain({ shape, dataType: "float32", fillValue: 0 }, [bytesLE("float32"), { name: "zstd", configuration: { level: 3, checksum } }]);
      const encoded = await chain.encode({ data: data.slice(), shape, dtype: "float32" });
      expect(encoded.byteLength).toBeLessThan(raw.byteLength);
      // zstd magic number 0xFD2FB528, little-endian.
      expect(Array.from(encoded.subarray(0, 4))).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
      const decoded = await (await wasm()).decode(encoded);
      expect(new Uint8Array(decoded)).toEqual(raw);
    });
  }

  it("native decodes what WASM encodes", async () => {
    const encoded = new Uint8Array(await (await wasm({ level: 5 })).encode(raw.slice()));
    const chain = new CodecChain({ shape, dataType: "float32", fillValue: 0 }, [bytesLE("float32"), { name: "zstd", configuration: { level: 5 } }]);
    const decoded = await chain.decode(encoded);
    expect(Array.from(decoded.data as Float32Array)).toEqual(Array.from(data));
  });
});
