/**
 * zarrflow's WASM zstd decoder (src/codecs/zstd-wasm.ts), the one browsers use, run here on
 * Node with the native addon turned off for this file (ZARRFLOW_ZSTD=wasm, set before any
 * import): it decodes what native zstd encodes — levels, checksums, sizes, several frames, frames
 * that do not declare their size —, lends the caller's buffer, and refuses bad frames with a
 * CodecError naming the array and chunk, in bounded memory (a frame's claimed size is never
 * allocated past the limit or past the size the chain expects).
 */
import { Readable } from "node:stream";
import { afterAll, describe, expect, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.ZARRFLOW_ZSTD = "wasm";
});

import { CompressStream, compress } from "zstd-napi";
import { CodecChain, CodecError, ZSTD_IMPLEMENTATION, create } from "../src/index.js";
import { closePools } from "../src/array.js";
import { loadZstdWasm, WASM_SIZE_LIMIT, zstdWasmDecode } from "../src/codecs/zstd-wasm.js";
import { MemoryStore } from "../stores/index.js";
import { prng } from "./helpers/prng.js";

afterAll(() => closePools());

/** Compressible bytes: small numbers with runs, as array data tends to be. */
function sample(length: number, seed = 1): Uint8Array {
  const rnd = prng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 97 < 60 ? (i >> 6) & 0xff : Math.floor(rnd() * 256);
  return out;
}

/** Byte-equal (vitest's deep equality is slow on megabytes). */
function same(got: Uint8Array | undefined, want: Uint8Array): boolean {
  return got !== undefined && Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength));
}

/** One frame that does not declare its content size (zstd's streaming compressor). */
async function streamedFrame(data: Uint8Array): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from([Buffer.from(data)]).pipe(new CompressStream())) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

describe("the WASM zstd decoder", () => {
  it("is the implementation in use here (the native addon is off for this file)", () => {
    expect(ZSTD_IMPLEMENTATION).toBe("wasm");
  });

  it.each([
    { level: 1, checksum: false, length: 1 << 20 },
    { level: 3, checksum: true, length: 100_003 },
    { level: 19, checksum: false, length: 65_536 },
    { level: -5, checksum: true, length: 4 << 20 },
    { level: 1, checksum: false, length: 1 },
    { level: 1, checksum: false, length: 0 },
  ])("decodes what native zstd encodes (level $level, checksum $checksum, $length bytes)", async ({ level, checksum, length }) => {
    const wasm = await loadZstdWasm();
    const data = sample(length, level + 100);
    const frame = new Uint8Array(compress(data, { compressionLevel: level, checksumFlag: checksum }));
    expect(same(zstdWasmDecode(wasm, frame, undefined, undefined), data)).toBe(true);
    expect(same(zstdWasmDecode(wasm, frame, length, undefined), data)).toBe(true);
  });

  it("writes into the caller's buffer when it is exactly the size, and reuses its own memory", async () => {
    const wasm = await loadZstdWasm();
    const data = sample(300_000, 7);
    const frame = new Uint8Array(compress(data));
    const into = new Uint8Array(300_000);
    expect(zstdWasmDecode(wasm, frame, 300_000, into)).toBe(into);
    expect(same(into, data)).toBe(true);
    const grown = wasm.memory.buffer.byteLength;
    for (let i = 0; i < 20; i++) zstdWasmDecode(wasm, frame, 300_000, into);
    // Chunk after chunk of the same size: no growth.
    expect(wasm.memory.buffer.byteLength).toBe(grown);
  });

  it("decodes several frames one after another, and a frame without a declared size when the size is known", async () => {
    const wasm = await loadZstdWasm();
    const a = sample(70_000, 1);
    const b = sample(30_000, 2);
    const two = new Uint8Array([...compress(a), ...compress(b)]);
    expect(same(zstdWasmDecode(wasm, two, 100_000, undefined), new Uint8Array([...a, ...b]))).toBe(true);
    const streamed = await streamedFrame(a);
    // Undeclared and unknown: the caller decodes it another way (the codec: a streaming decoder).
    expect(zstdWasmDecode(wasm, streamed, undefined, undefined)).toBeUndefined();
    expect(same(zstdWasmDecode(wasm, streamed, 70_000, undefined), a)).toBe(true);
  });

  it("through a chain: decodes, and a frame without a declared size decodes by streaming", async () => {
    const shape = [250, 40];
    const values = Float64Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 1000);
    const bytes = new Uint8Array(values.buffer);
    const chain = new CodecChain({ shape, dataType: "float64", fillValue: 0 }, [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 3 } }]);
    const viaChain = await chain.decode(new Uint8Array(compress(bytes)));
    expect(Array.from(viaChain.data as Float64Array)).toEqual(Array.from(values));
    const viaStream = await chain.decode(await streamedFrame(bytes));
    expect(Array.from(viaStream.data as Float64Array)).toEqual(Array.from(values));
  });

  it("decodes issued before the module is ready each keep their own bytes (a lent scratch is shared)", async () => {
    // A fresh copy of the modules: this thread's decoder not instantiated yet.
    vi.resetModules();
    const fresh = await import("../src/index.js");
    const chain = new fresh.CodecChain({ shape: [50_000], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "zstd", configuration: { level: 1 } }]);
    const inputs = [sample(50_000, 11), sample(50_000, 12), sample(50_000, 13)];
    // As decodeInto does: take each result's bytes as soon as it resolves (transient: a view of
    // the thread's scratch, valid until the next decode).
    const got = await Promise.all(
      inputs.map((data) => Promise.resolve(chain.decode(new Uint8Array(compress(data)), "k", { transient: true })).then((r) => (r.data as Uint8Array).slice())),
    );
    got.forEach((bytes, i) => expect(same(bytes, inputs[i]), `chunk ${i}`).toBe(true));
  });

  it("bad frames are CodecErrors naming the array and chunk; claimed sizes are not allocated", async () => {
    const wasm = await loadZstdWasm();
    const data = sample(200_000, 3);
    const frame = new Uint8Array(compress(data, { checksumFlag: true }));
    const corrupt = frame.slice();
    corrupt[Math.floor(corrupt.length / 2)] ^= 0xff;
    const truncated = frame.subarray(0, frame.length - 10);
    const garbage = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // A frame header claiming 2^40 bytes (single segment, 8-byte content size), then nothing.
    const bomb = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0]);
    for (const bad of [corrupt, truncated, garbage]) expect(() => zstdWasmDecode(wasm, bad, 200_000, undefined)).toThrow(CodecError);
    expect(() => zstdWasmDecode(wasm, garbage, undefined, undefined)).toThrow(/not a zstd frame/);
    const before = wasm.memory.buffer.byteLength;
    expect(() => zstdWasmDecode(wasm, bomb, undefined, undefined)).toThrow(new RegExp(`over the limit|${WASM_SIZE_LIMIT}`));
    // More than the chain expects: refused, not grown into.
    expect(() => zstdWasmDecode(wasm, frame, 1000, undefined)).toThrow(CodecError);
    expect(wasm.memory.buffer.byteLength).toBe(before);

    const chain = new CodecChain({ shape: [200_000], dataType: "uint8", fillValue: 0 }, [{ name: "bytes" }, { name: "zstd", configuration: { level: 1 } }], { path: "arr" });
    for (const bad of [corrupt, truncated, garbage, bomb]) {
      const error = await Promise.resolve()
        .then(() => chain.decode(bad, "arr/c/0"))
        .then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(CodecError);
      expect(error).toMatchObject({ path: "arr", key: "arr/c/0" });
    }
  });

  it("an array written and read back with the WASM decoder, inline and on workers", async () => {
    const store = new MemoryStore();
    const data = Int32Array.from({ length: 64 * 64 * 16 }, (_, i) => (i * 7919) % 65_521);
    const array = await create(store, { shape: [64, 64, 16], chunks: [16, 32, 16], dtype: "int32", codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1 } }] });
    await array.write(null, data, { workers: 0 });
    for (const workers of [0, 2]) {
      const got = await array.read(null, { workers });
      expect(Array.from(got.data as Int32Array)).toEqual(Array.from(data));
    }
  });
});
