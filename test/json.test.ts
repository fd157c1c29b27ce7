/**
 * Metadata JSON with exact 64-bit integers (src/json.ts): integers beyond 2^53 parse to bigint
 * and are written back as JSON integers, in zarr.json, .zarray, .zattrs and attributes alike.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { create, open, openArray, openGroup, createGroup } from "../src/index.js";
import { parseJSON, stringifyJSON } from "../src/json.js";
import { MemoryStore } from "../stores/index.js";
import { fcParams } from "./helpers/seed.js";

const text = (store: MemoryStore, key: string) => new TextDecoder().decode(store.map.get(key));

/** What parseJSON makes of JSON.parse's result: integer literals beyond 2^53 (no exponent) become bigints. */
function exactIntegers(value: unknown): unknown {
  if (typeof value === "number") return Number.isInteger(value) && !Number.isSafeInteger(value) && !/e/i.test(String(value)) ? BigInt(String(value)) : value;
  if (Array.isArray(value)) return value.map(exactIntegers);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntegers(v)]));
  return value;
}

describe("parseJSON", () => {
  it("integers beyond 2^53 are exact bigints; everything else is what JSON.parse gives", () => {
    const doc = parseJSON('{"u": 18446744073709551615, "i": -9223372036854775808, "edge": 9007199254740993, "safe": 9007199254740991, "f": 1.5e300, "long float": 12345678901234567.5, "s": "12345678901234567890", "a": [1, 2, {"n": null, "t": true, "f": false}]}');
    expect(doc).toEqual({
      u: 2n ** 64n - 1n,
      i: -(2n ** 63n),
      edge: 2n ** 53n + 1n,
      safe: 2 ** 53 - 1,
      f: 1.5e300,
      "long float": 12345678901234567.5,
      s: "12345678901234567890",
      a: [1, 2, { n: null, t: true, f: false }],
    });
  });

  it("agrees with JSON.parse on any document once its long integers are set aside", async () => {
    await fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }), (value, big) => {
        // A long integer forces the slow path; the rest of the document must come out as JSON.parse has it.
        const source = `{"big": ${big}, "rest": ${JSON.stringify(value)}}`;
        const parsed = parseJSON(source) as { big: bigint; rest: unknown };
        expect(parsed.big).toBe(big);
        expect(parsed.rest).toEqual(exactIntegers(JSON.parse(JSON.stringify(value))));
      }),
      fcParams("parseJSON vs JSON.parse", 300),
    );
  });

  it("long digit runs inside fractions and exponents stay JSON.parse's numbers", () => {
    const source = '{"big": 12345678901234567890, "frac": 0.12345678901234567891, "exp": 1e-12345678901234567, "huge": -1.5e+1234567890123456789, "mixed": [1.0000000000000000001, 99999999999999999999.5]}';
    const expected = { ...(JSON.parse(source) as object), big: 12345678901234567890n };
    expect(parseJSON(source)).toEqual(expected);
  });

  it("strings holding digits, escapes and __proto__ keys are data", () => {
    const parsed = parseJSON('{"__proto__": {"x": 1}, "k\\"ey": "1234567890123456789\\u00e9", "n": 12345678901234567890}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(["__proto__", 'k"ey', "n"]);
    expect(parsed['k"ey']).toBe("1234567890123456789é");
  });

  it("bad documents are SyntaxErrors, nesting is bounded", () => {
    for (const bad of ["{\"a\": 12345678901234567890", "[12345678901234567890,]", "12345678901234567890 x", "{\"a\" 12345678901234567890}", "[01234567890123456789]"]) {
      expect(() => parseJSON(bad), bad).toThrow(SyntaxError);
    }
    expect(() => parseJSON(`${"[".repeat(10_000)}12345678901234567890${"]".repeat(10_000)}`)).toThrow(SyntaxError);
  });
});

describe("stringifyJSON", () => {
  it("writes bigints as JSON integers and leaves look-alike strings alone", () => {
    const value = { a: 2n ** 64n - 1n, b: [-(2n ** 63n), 1, "x"], c: '"\u0001bigint123:5"', d: "18446744073709551615" };
    const out = stringifyJSON(value, 2);
    expect(out).toContain('"a": 18446744073709551615');
    expect(out).toContain("-9223372036854775808");
    expect(parseJSON(out)).toEqual(value);
  });
});

describe("big integers in metadata documents", () => {
  it("v3: a uint64 fill of 2^64-1 and int64 attributes beyond 2^53 are written as exact JSON integers and read back", async () => {
    const store = new MemoryStore();
    await create(store, { path: "a", shape: [4], dtype: "uint64", fillValue: 2n ** 64n - 1n, attributes: { offset: 2n ** 60n + 1n, small: 7, nested: [{ n: -(2n ** 63n) }] } });
    const doc = text(store, "a/zarr.json");
    expect(doc).toMatch(/"fill_value": 18446744073709551615[,\n]/);
    expect(doc).toContain('"offset": 1152921504606846977');
    const array = await openArray(store, { path: "a" });
    expect(array.fillValue).toBe(2n ** 64n - 1n);
    expect(array.attrs).toEqual({ offset: 2n ** 60n + 1n, small: 7, nested: [{ n: -(2n ** 63n) }] });
    expect(Array.from((await array.read()).data as BigUint64Array)).toEqual([2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n]);
  });

  it("v2: .zarray fill values and .zattrs, in consolidated metadata too", async () => {
    const store = new MemoryStore();
    await createGroup(store, { zarrFormat: 2, attributes: { id: 2n ** 62n + 3n } });
    await create(store, { path: "x", shape: [3], dtype: "int64", zarrFormat: 2, fillValue: -(2n ** 63n) + 1n, compressor: null });
    expect(text(store, "x/.zarray")).toContain('"fill_value": -9223372036854775807');
    const x = await openArray(store, { path: "x" });
    expect(x.fillValue).toBe(-(2n ** 63n) + 1n);
    // A consolidated document (as zarr-python writes it) goes through the same parser.
    const zmetadata = `{"zarr_consolidated_format": 1, "metadata": {".zgroup": {"zarr_format": 2}, ".zattrs": {"id": 4611686018427387907}, "x/.zarray": ${text(store, "x/.zarray")}}}`;
    await store.set(".zmetadata", new TextEncoder().encode(zmetadata));
    const group = await openGroup(store, { consolidated: true });
    expect(group.attrs).toEqual({ id: 2n ** 62n + 3n });
    const viaConsolidated = await open(store, { path: "x", consolidated: true });
    expect((viaConsolidated as typeof x).fillValue).toBe(-(2n ** 63n) + 1n);
  });
});
