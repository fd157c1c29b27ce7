/**
 * The numcodecs checksums against independent implementations and published check values, and
 * the round-half-even and NumPy cast helpers the value codecs share.
 */
import * as zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adler32 } from "../src/codecs/adler32.js";
import { crc32 } from "../src/codecs/crc32.js";
import { fletcher32 } from "../src/codecs/fletcher32.js";
import { castTyped, roundHalfEven } from "../src/codecs/numeric.js";
import { fcParams } from "./helpers/seed.js";

const ascii = (s: string) => new TextEncoder().encode(s);

/** Adler-32 from its definition, one byte at a time with BigInt-free modular sums. */
function adler32Reference(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return (b * 65536 + a) >>> 0;
}

/** Fletcher-32 over big-endian 16-bit words, modulo 65535, reduced the HDF5 way (0 and 65535 agree). */
function fletcher32Reference(data: Uint8Array): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < data.length; i += 2) {
    const word = (data[i] << 8) | (i + 1 < data.length ? data[i + 1] : 0);
    s1 = (s1 + word) % 65535;
    s2 = (s2 + s1) % 65535;
  }
  return s2 * 65536 + s1;
}

describe("numcodecs checksums", () => {
  it("published check values", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(adler32(ascii("Wikipedia"))).toBe(0x11e60398);
    expect(adler32(new Uint8Array(0))).toBe(1);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it("crc32 equals zlib's, adler32 and fletcher32 their definitions, on any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (data) => {
        if (typeof zlib.crc32 === "function") expect(crc32(data)).toBe(zlib.crc32(data));
        expect(adler32(data)).toBe(adler32Reference(data));
        const f = fletcher32(data);
        const ref = fletcher32Reference(data);
        // The folded sums of HDF5's form stand for the same residues, with 65535 for 0.
        expect([f & 0xffff, f >>> 16].map((x) => x % 65535)).toEqual([ref & 0xffff, ref >>> 16].map((x) => x % 65535));
      }),
      fcParams("numcodecs checksums", 200),
    );
  });
});

describe("shared numeric helpers", () => {
  it("roundHalfEven is np.rint: halves go to the even neighbour", () => {
    expect([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4999999999999996, 1e300, -7.2].map(roundHalfEven)).toEqual([-2, -2, -0, 0, 2, 2, 4, 2, 1e300, -7]);
  });

  it("castTyped follows NumPy: float → int truncates, ints wrap, float32 rounds to even, bool is != 0", () => {
    expect(Array.from(castTyped(Float64Array.of(1.9, -1.9, 70000.5), "float64", "int16") as Int16Array)).toEqual([1, -1, 70000 - 65536]);
    expect(Array.from(castTyped(Int32Array.of(300, -1), "int32", "uint8") as Uint8Array)).toEqual([44, 255]);
    expect(Array.from(castTyped(Float64Array.of(1 + 2 ** -24), "float64", "float32") as Float32Array)).toEqual([1]);
    expect(Array.from(castTyped(Float64Array.of(0, 0.1, NaN, -0), "float64", "bool") as Uint8Array)).toEqual([0, 1, 1, 0]);
    expect(Array.from(castTyped(BigInt64Array.of(2n ** 40n + 5n), "int64", "int16") as Int16Array)).toEqual([5]);
    expect(Array.from(castTyped(Float64Array.of(-3.7, NaN), "float64", "int64") as BigInt64Array)).toEqual([-3n, -(2n ** 63n)]);
  });
});
