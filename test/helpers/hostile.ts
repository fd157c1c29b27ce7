/**
 * Shared pieces of the hostile-input tests: how to tell a typed rejection from a crash, and
 * fast-check arbitraries for hostile JSON values and byte mutations.
 */
import fc from "fast-check";
import { ZarrflowError } from "../../src/index.js";

/** What an operation on hostile input did: worked, or rejected with a zarrflow error. Anything else throws. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ZarrflowError };

/**
 * Runs `body`; a ZarrflowError is an acceptable outcome, any other exception (a RangeError from
 * deep inside, a TypeError, a stack overflow) is re-thrown with a note so the property fails.
 */
export async function typed<T>(body: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (error) {
    if (error instanceof ZarrflowError) return { ok: false, error };
    const reason = error instanceof Error ? error : new Error(String(error));
    throw new Error(`untyped ${reason.name} escaped: ${reason.message}`, { cause: reason });
  }
}

const HOSTILE_NUMBERS = [
  -1, 0, 1, 2, 3, 7, 255, 256, 65536, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 53, 2 ** 63, 1e15, 1e300, -1e300, 0.5, -0, -(2 ** 31),
];

const HOSTILE_STRINGS = [
  "", "NaN", "Infinity", "-Infinity", "0x7fc00000", "0xffffffffffffffffffff", "0x", "-", "1e999", "..", "../../etc", "/", "\\", "\u0000", "%2e%2e",
  "bytes", "zstd", "gzip", "blosc", "crc32c", "transpose", "sharding_indexed", "numcodecs.lz4", "little", "big", "end", "start",
  "int8", "uint64", "float16", "complex128", "bool", "<i8", ">f4", "|b1", "|S10", "<U4", "float128", "r16", "regular", "default", "v2", "C", "F",
];

/** Values likely to break a parser: edge numbers, codec and dtype names, odd shapes, any JSON. */
export function hostileValue(): fc.Arbitrary<unknown> {
  const number = fc.constantFrom(...HOSTILE_NUMBERS);
  const string = fc.constantFrom(...HOSTILE_STRINGS);
  const shape = fc.oneof(
    fc.array(number, { maxLength: 4 }),
    fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 40 }),
    fc.constantFrom([], [0], [[1]], ["1"], [1.5], [2 ** 26, 2 ** 26, 2 ** 26], [1e15, 1e15], [2 ** 20, 2 ** 20]),
  );
  const codec = fc.oneof(
    fc.record({ name: string, configuration: fc.option(fc.dictionary(string, fc.oneof(number, string, shape)), { nil: undefined }) }, { requiredKeys: ["name"] }),
    fc.constantFrom({ name: "sharding_indexed", configuration: { chunk_shape: [1, 1], codecs: [{ name: "bytes" }] } }, { name: "bytes", configuration: { endian: "middle" } }),
  );
  return fc.oneof(
    { weight: 3, arbitrary: number },
    { weight: 3, arbitrary: string },
    { weight: 3, arbitrary: shape },
    { weight: 2, arbitrary: fc.array(codec, { maxLength: 4 }) },
    { weight: 1, arbitrary: codec },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(null, true, false, {}, []) },
  );
}

type Json = unknown;

/** Paths (lists of keys) into a JSON tree, the root included, down to a depth of 32 (wrapped values nest thousands deep). */
export function jsonPaths(root: Json): (string | number)[][] {
  const out: (string | number)[][] = [];
  const stack: { value: Json; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length) {
    const { value, path } = stack.pop()!;
    out.push(path);
    if (path.length >= 32) continue;
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }));
    else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] });
  }
  return out;
}

export type Mutation =
  | { kind: "replace"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "add"; at: number; key: string; value: unknown }
  | { kind: "wrap"; at: number; depth: number }
  /** A small change to a number leaf (others stay as they are): keeps documents plausible, so later stages run. */
  | { kind: "nudge"; at: number; delta: number };

export function mutation(): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: hostileValue() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("add" as const), at: fc.nat(), key: fc.constantFrom("configuration", "name", "must_understand", "extra", "codecs", "__proto__"), value: hostileValue() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("wrap" as const), at: fc.nat(), depth: fc.integer({ min: 1, max: 2000 }) }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("nudge" as const), at: fc.nat(), delta: fc.integer({ min: -3, max: 3 }) }) },
  );
}

/** Applies mutations to a deep copy of `doc` (paths are chosen modulo the tree's current paths). */
export function mutate(doc: Json, mutations: readonly Mutation[]): Json {
  let root = structuredClone(doc) as Json;
  for (const m of mutations) {
    const paths = jsonPaths(root);
    const path = paths[m.at % paths.length];
    const parent = path.slice(0, -1).reduce<Json>((node, key) => (node as Record<string | number, Json>)[key], root) as Record<string | number, Json>;
    const last = path[path.length - 1];
    const current = path.length === 0 ? root : parent[last];
    const put = (value: Json) => {
      if (path.length === 0) root = value;
      else parent[last] = value;
    };
    switch (m.kind) {
      case "replace":
        put(structuredClone(m.value));
        break;
      case "delete":
        if (path.length === 0) break;
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete parent[last];
        break;
      case "add":
        if (current !== null && typeof current === "object" && !Array.isArray(current)) {
          Object.defineProperty(current, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
        }
        break;
      case "nudge": {
        const numbers = paths.filter((p) => typeof p.reduce<Json>((node, key) => (node as Record<string | number, Json>)[key], root) === "number");
        if (numbers.length === 0) break;
        const target = numbers[m.at % numbers.length];
        if (target.length === 0) {
          root = (root as number) + m.delta;
          break;
        }
        const holder = target.slice(0, -1).reduce<Json>((node, key) => (node as Record<string | number, Json>)[key], root) as Record<string | number, Json>;
        const key = target[target.length - 1];
        holder[key] = (holder[key] as number) + m.delta;
        break;
      }
      case "wrap": {
        let wrapped = current;
        for (let i = 0; i < m.depth; i++) wrapped = [wrapped];
        put(wrapped);
        break;
      }
    }
  }
  return root;
}

/** A byte-level mutation of an encoded object: flips, truncation, extension, overwritten runs. */
export type ByteMutation =
  | { kind: "flip"; at: number; xor: number }
  | { kind: "truncate"; to: number }
  | { kind: "extend"; bytes: Uint8Array }
  | { kind: "splice"; at: number; bytes: Uint8Array };

export function byteMutations(): fc.Arbitrary<ByteMutation[]> {
  const one = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), to: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("extend" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  );
  return fc.array(one, { minLength: 1, maxLength: 4 });
}

export function applyBytes(original: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let bytes = original.slice();
  for (const m of mutations) {
    if (m.kind === "flip") {
      if (bytes.length) bytes[m.at % bytes.length] ^= m.xor;
    } else if (m.kind === "truncate") {
      bytes = bytes.slice(0, m.to % (bytes.length + 1));
    } else if (m.kind === "extend") {
      const out = new Uint8Array(bytes.length + m.bytes.length);
      out.set(bytes);
      out.set(m.bytes, bytes.length);
      bytes = out;
    } else if (bytes.length) {
      const at = m.at % bytes.length;
      bytes.set(m.bytes.subarray(0, bytes.length - at), at);
    }
  }
  return bytes;
}

/** True when two byte arrays differ. */
export function differ(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return true;
  return false;
}
