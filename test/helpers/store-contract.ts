/**
 * The behaviour every Store must share, as a reusable vitest suite. Each store's test file calls
 * `storeContract` with a factory; tests that need a capability the store lacks (set, list,
 * setRange…) skip themselves rather than fail, so read-only stores can run the same suite by
 * supplying `seed` to put fixtures in place by other means.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestContext } from "vitest";

import { AbortError, StoreError } from "../../src/errors.js";
import type { Store } from "../../src/store.js";

export interface StoreFixture {
  store: Store;
  cleanup(): Promise<void>;
  /** Writes a value behind the store's back, for stores without `set` (e.g. read-only HTTP). */
  seed?(key: string, value: Uint8Array): Promise<void>;
}

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (s: string) => new TextEncoder().encode(s);
const iota = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 256);

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

function abortedSignal(): AbortSignal {
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  return controller.signal;
}

export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    /** Puts a fixture value in place, through `seed` or `set`; skips when neither exists. */
    async function put(ctx: TestContext, key: string, value: Uint8Array): Promise<void> {
      if (fixture.seed) return fixture.seed(key, value);
      if (!store.set) return ctx.skip(`${name} cannot write`);
      return store.set(key, value);
    }

    function need<K extends keyof Store>(ctx: TestContext, capability: K): NonNullable<Store[K]> {
      const method = store[capability];
      if (method === undefined) ctx.skip(`${name} has no ${capability}`);
      // Bound so tests can call the capability as a plain function.
      return (method as (...args: unknown[]) => unknown).bind(store) as NonNullable<Store[K]>;
    }

    describe("get", () => {
      it("resolves undefined for an absent key", async () => {
        expect(await store.get("nothing/here")).toBeUndefined();
        expect(await store.get("nothing/here", { offset: 0, length: 4 })).toBeUndefined();
        expect(await store.get("nothing/here", { suffixLength: 4 })).toBeUndefined();
      });

      it("round-trips a value", async (ctx) => {
        await put(ctx, "a/c/0/1", bytes(1, 2, 3, 4));
        expect(await store.get("a/c/0/1")).toEqual(bytes(1, 2, 3, 4));
      });

      it("round-trips an empty value", async (ctx) => {
        await put(ctx, "empty", new Uint8Array(0));
        const value = await store.get("empty");
        expect(value).toBeInstanceOf(Uint8Array);
        expect(value!.length).toBe(0);
      });

      it("returns standalone buffers that can be transferred or mutated safely", async (ctx) => {
        await put(ctx, "k", iota(100));
        for (const value of [await store.get("k"), await store.get("k", { offset: 10, length: 20 })]) {
          expect(value!.byteOffset).toBe(0);
          expect(value!.byteLength).toBe(value!.buffer.byteLength);
          value!.fill(0xff);
        }
        expect(await store.get("k")).toEqual(iota(100));
      });

      it("treats keys with dots as ordinary keys", async (ctx) => {
        await put(ctx, "a/.zarray", text("{}"));
        await put(ctx, "a/.zattrs", text('{"x":1}'));
        await put(ctx, ".zgroup", text("{}"));
        await put(ctx, "zarr.json", text("{}"));
        expect(await store.get("a/.zarray")).toEqual(text("{}"));
        expect(await store.get("a/.zattrs")).toEqual(text('{"x":1}'));
        expect(await store.get(".zgroup")).toEqual(text("{}"));
        expect(await store.get("zarr.json")).toEqual(text("{}"));
      });
    });

    describe("ranges", () => {
      beforeEach(async (ctx) => {
        await put(ctx, "r", iota(10));
      });

      it("reads {offset, length}", async () => {
        expect(await store.get("r", { offset: 2, length: 3 })).toEqual(bytes(2, 3, 4));
        expect(await store.get("r", { offset: 0, length: 10 })).toEqual(iota(10));
      });

      it("reads a suffix", async () => {
        expect(await store.get("r", { suffixLength: 3 })).toEqual(bytes(7, 8, 9));
        expect(await store.get("r", { suffixLength: 100 })).toEqual(iota(10));
        expect((await store.get("r", { suffixLength: 0 }))!.length).toBe(0);
      });

      it("clips a range past the end", async () => {
        expect(await store.get("r", { offset: 8, length: 100 })).toEqual(bytes(8, 9));
      });

      it("returns empty bytes for an offset at or beyond the end", async () => {
        expect((await store.get("r", { offset: 10, length: 5 }))!.length).toBe(0);
        expect((await store.get("r", { offset: 50, length: 5 }))!.length).toBe(0);
        expect((await store.get("r", { offset: 3, length: 0 }))!.length).toBe(0);
      });

      it("rejects malformed ranges with StoreError", async () => {
        await expect(store.get("r", { offset: -1, length: 2 })).rejects.toBeInstanceOf(StoreError);
        await expect(store.get("r", { offset: 0, length: 1.5 })).rejects.toBeInstanceOf(StoreError);
        await expect(store.get("r", { suffixLength: NaN })).rejects.toBeInstanceOf(StoreError);
      });

      it("getRanges reads several ranges at once", async (ctx) => {
        const getRanges = need(ctx, "getRanges");
        const parts = await getRanges("r", [
          { offset: 0, length: 2 },
          { suffixLength: 2 },
          { offset: 9, length: 5 },
          { offset: 20, length: 1 },
        ]);
        expect(parts).toEqual([bytes(0, 1), bytes(8, 9), bytes(9), new Uint8Array(0)]);
        expect(await getRanges("absent", [{ offset: 0, length: 1 }])).toBeUndefined();
        expect(await getRanges("r", [])).toEqual([]);
      });
    });

    describe("set", () => {
      it("overwrites, including with a shorter value", async (ctx) => {
        const set = need(ctx, "set");
        await set("k", iota(10));
        await set("k", bytes(7, 7));
        expect(await store.get("k")).toEqual(bytes(7, 7));
      });

      it("stores a copy: mutating the input afterwards does not change the value", async (ctx) => {
        const set = need(ctx, "set");
        const value = bytes(1, 2, 3);
        await set("k", value);
        value[0] = 99;
        expect(await store.get("k")).toEqual(bytes(1, 2, 3));
      });

      it("stores the viewed bytes of a subarray, not its whole buffer", async (ctx) => {
        const set = need(ctx, "set");
        await set("k", iota(10).subarray(3, 6));
        expect(await store.get("k")).toEqual(bytes(3, 4, 5));
      });
    });

    describe("setRange", () => {
      it("overwrites bytes inside an existing value", async (ctx) => {
        const setRange = need(ctx, "setRange");
        await put(ctx, "k", iota(10));
        await setRange("k", 3, bytes(90, 91));
        expect(await store.get("k")).toEqual(bytes(0, 1, 2, 90, 91, 5, 6, 7, 8, 9));
        await setRange("k", 8, bytes(80, 81)); // exactly up to the end is fine
        expect(await store.get("k", { suffixLength: 2 })).toEqual(bytes(80, 81));
      });

      it("never grows a value: a write past the end is a StoreError", async (ctx) => {
        const setRange = need(ctx, "setRange");
        await put(ctx, "k", iota(10));
        await expect(setRange("k", 9, bytes(1, 2))).rejects.toBeInstanceOf(StoreError);
        await expect(setRange("k", 20, bytes(1))).rejects.toBeInstanceOf(StoreError);
        await expect(setRange("k", -1, bytes(1))).rejects.toBeInstanceOf(StoreError);
        expect(await store.get("k")).toEqual(iota(10));
      });

      it("rejects an absent key with StoreError", async (ctx) => {
        const setRange = need(ctx, "setRange");
        await expect(setRange("absent", 0, bytes(1))).rejects.toBeInstanceOf(StoreError);
        expect(await store.get("absent")).toBeUndefined();
      });
    });

    describe("delete", () => {
      it("removes a key", async (ctx) => {
        const del = need(ctx, "delete");
        await put(ctx, "a/b/c", bytes(1));
        await put(ctx, "a/b/d", bytes(2));
        await del("a/b/c");
        expect(await store.get("a/b/c")).toBeUndefined();
        expect(await store.get("a/b/d")).toEqual(bytes(2));
      });

      it("accepts an absent key", async (ctx) => {
        const del = need(ctx, "delete");
        await expect(del("never/was")).resolves.toBeUndefined();
      });
    });

    describe("size", () => {
      it("reports byte length, or undefined when absent", async (ctx) => {
        const size = need(ctx, "size");
        await put(ctx, "k", iota(37));
        expect(await size("k")).toBe(37);
        expect(await size("absent")).toBeUndefined();
      });
    });

    describe("list", () => {
      const keys = ["zarr.json", "a/zarr.json", "a/.zarray", "a/c/0/0", "a/c/0/1", "a/c/1/0", "a/c/10/0", "b/zarr.json"];

      beforeEach(async (ctx) => {
        for (const key of keys) await put(ctx, key, text(key));
      });

      it("lists every key for the empty prefix", async (ctx) => {
        const list = need(ctx, "list");
        expect(await collect(list(""))).toEqual([...keys].sort());
      });

      it("lists keys under a directory-like prefix", async (ctx) => {
        const list = need(ctx, "list");
        expect(await collect(list("a/c/"))).toEqual(["a/c/0/0", "a/c/0/1", "a/c/1/0", "a/c/10/0"]);
        expect(await collect(list("b/"))).toEqual(["b/zarr.json"]);
      });

      it("matches prefixes that end inside a segment", async (ctx) => {
        const list = need(ctx, "list");
        expect(await collect(list("a/c/1"))).toEqual(["a/c/1/0", "a/c/10/0"]);
        expect(await collect(list("a/."))).toEqual(["a/.zarray"]);
        expect(await collect(list("a/zarr"))).toEqual(["a/zarr.json"]);
      });

      it("yields nothing for a prefix that matches nothing", async (ctx) => {
        const list = need(ctx, "list");
        expect(await collect(list("nope/"))).toEqual([]);
        expect(await collect(list("a/c/2"))).toEqual([]);
        expect(await collect(list("zarr.json/"))).toEqual([]);
      });

      it("reflects deletes", async (ctx) => {
        const list = need(ctx, "list");
        const del = need(ctx, "delete");
        await del("a/c/0/0");
        await del("a/c/0/1");
        expect(await collect(list("a/c/"))).toEqual(["a/c/1/0", "a/c/10/0"]);
      });
    });

    describe("abort", () => {
      it("rejects every call with AbortError when the signal is already aborted", async (ctx) => {
        await put(ctx, "k", iota(10));
        const signal = abortedSignal();
        await expect(store.get("k", undefined, { signal })).rejects.toBeInstanceOf(AbortError);
        await expect(store.get("k", { suffixLength: 2 }, { signal })).rejects.toBeInstanceOf(AbortError);
        if (store.getRanges) await expect(store.getRanges("k", [{ suffixLength: 1 }], { signal })).rejects.toBeInstanceOf(AbortError);
        if (store.size) await expect(store.size("k", { signal })).rejects.toBeInstanceOf(AbortError);
        if (store.set) await expect(store.set("k", bytes(1), { signal })).rejects.toBeInstanceOf(AbortError);
        if (store.setRange) await expect(store.setRange("k", 0, bytes(1), { signal })).rejects.toBeInstanceOf(AbortError);
        if (store.delete) await expect(store.delete("k", { signal })).rejects.toBeInstanceOf(AbortError);
        if (store.list) await expect(collect(store.list("", { signal }))).rejects.toBeInstanceOf(AbortError);
        // Nothing was changed by the aborted calls.
        expect(await store.get("k")).toEqual(iota(10));
      });
    });
  });
}
