/**
 * Faults: reads, writes, streamed copies and aborts over a FaultStore that fails, delays and
 * hangs store calls on a seeded schedule. Every operation either completes correctly or rejects
 * with a typed error naming the array and the key; a failed write leaves each chunk (shard, or
 * inner chunk of a patched shard) old or new; a hang ends with the abort that was given for it
 * and leaves nothing locked; no promise rejection goes unhandled. The worker pool survives a
 * worker that dies mid-task. A subprocess runs the same kinds of scenario on a FileSystemStore
 * with a pool and must exit by itself, with no file handle left open.
 */
import fc from "fast-check";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, CodecError, StoreError, ZarrflowError, create, openArray, slice, type ZarrArray } from "../src/index.js";
import { WorkerExitedError, WorkerPool } from "../operators/pool.js";
import { FaultStore, InjectedFaultError, MemoryStore } from "../stores/index.js";
import {
  AbortAfterStore,
  FAULT_SHAPE,
  LAYOUTS,
  createArray,
  extractBox,
  fillBox,
  oldOrNew,
  randomBox,
  type Layout,
} from "./helpers/faults.js";
import { prng } from "./helpers/prng.js";
import { fcParams, seedFor } from "./helpers/seed.js";

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
});

const N = FAULT_SHAPE[0] * FAULT_SHAPE[1];
const tally = { faults: 0, hangs: 0, aborts: 0, operations: 0, failedOperations: 0 };

/** Asserts a failure is typed and says where: the array's path and a key in it. */
function expectNamed(error: unknown, path: string): void {
  expect(error, String(error)).toBeInstanceOf(ZarrflowError);
  const z = error as ZarrflowError;
  if (!(z instanceof AbortError)) {
    expect(z.path, z.message).toBe(path);
    expect(z.key, z.message).toMatch(new RegExp(`^${path}/`));
  }
}

async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

async function readAll(array: ZarrArray): Promise<Int32Array> {
  return (await array.read(null, { workers: 0 })).data as Int32Array;
}

describe("FaultStore", () => {
  it("injects the same faults for the same seed, whatever the order of the calls", async () => {
    const calls = Array.from({ length: 200 }, (_, i) => `k${i % 17}`);
    const run = async (order: string[]) => {
      const store = new FaultStore(new MemoryStore(), { seed: 7, rate: 0.3, kinds: { error: 1, delay: 1 }, maxDelayMs: 0 });
      await Promise.all(order.map((key) => store.get(key).catch(() => undefined)));
      return store.injected.map((f) => `${f.method} ${f.key} ${f.kind}`).sort();
    };
    const forward = await run(calls);
    expect(forward.length).toBeGreaterThan(20);
    expect(await run([...calls].reverse())).toEqual(forward);
    const other = new FaultStore(new MemoryStore(), { seed: 8, rate: 0.3, kinds: { error: 1, delay: 1 }, maxDelayMs: 0 });
    await Promise.all(calls.map((key) => other.get(key).catch(() => undefined)));
    expect(other.injected.map((f) => `${f.method} ${f.key} ${f.kind}`).sort()).not.toEqual(forward);
  });

  it("error does nothing, lost does the write, delay proceeds, hang waits for the abort", async () => {
    const inner = new MemoryStore();
    const only = (kind: "error" | "lost" | "delay" | "hang") => new FaultStore(inner, { seed: 1, rate: 1, kinds: { [kind]: 1 }, maxDelayMs: 1 });
    const error = await outcome(only("error").set!("a", new Uint8Array([1])));
    expect(!error.ok && error.error).toBeInstanceOf(InjectedFaultError);
    expect(!error.ok && (error.error as StoreError).key).toBe("a");
    expect(inner.map.has("a")).toBe(false);
    const lost = await outcome(only("lost").set!("a", new Uint8Array([2])));
    expect(!lost.ok && lost.error).toBeInstanceOf(StoreError);
    expect(inner.map.get("a")).toEqual(new Uint8Array([2]));
    await only("delay").set!("a", new Uint8Array([3]));
    expect(inner.map.get("a")).toEqual(new Uint8Array([3]));
    const hanging = only("hang");
    const controller = new AbortController();
    const hung = outcome(hanging.get("a", undefined, { signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(hanging.hanging).toBe(1);
    controller.abort();
    const ended = await hung;
    expect(!ended.ok && ended.error).toBeInstanceOf(AbortError);
    expect(!ended.ok && (ended.error as AbortError).key).toBe("a");
    expect(hanging.hanging).toBe(0);
  });
});

describe.each(LAYOUTS)("faults: $name", (layout: Layout) => {
  const fresh = async (seed: number, faults: ConstructorParameters<typeof FaultStore>[1]) => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner, faults);
    store.enabled = false;
    const array = await createArray(store, "a", layout);
    const model = Int32Array.from({ length: N }, (_, i) => (seed % 1000) * 10000 + i);
    await array.write(null, model.slice(), { workers: 0 });
    store.enabled = true;
    return { inner, store, array, model };
  };

  it("reads are right or fail with a StoreError naming the array and key", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), async (seed) => {
        const { store, array, model } = await fresh(seed, { seed, rate: 0.15, kinds: { error: 2, delay: 1 }, methods: ["get", "getRanges"], maxDelayMs: 2 });
        const rnd = prng(seed);
        for (let op = 0; op < 6; op++) {
          const { box, selection } = randomBox(rnd);
          const result = await outcome(array.read(selection, { workers: 0, concurrency: 1 + Math.floor(rnd() * 8) }));
          tally.operations++;
          if (result.ok) expect(Array.from(result.value.data as Int32Array)).toEqual(extractBox(model, box));
          else {
            tally.failedOperations++;
            expect(result.error).toBeInstanceOf(StoreError);
            expectNamed(result.error, "a");
          }
        }
        tally.faults += store.count();
      }),
      fcParams(`faults: reads ${layout.name}`, 25),
    );
  });

  it("writes land whole or fail typed, leaving every unit old or new", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), async (seed) => {
        const { store, array, model } = await fresh(seed, { seed, rate: 0.12, kinds: { error: 2, lost: 1, delay: 1 }, maxDelayMs: 2 });
        const rnd = prng(seed);
        let state: Int32Array = model.slice();
        for (let op = 0; op < 6; op++) {
          const { box, selection } = randomBox(rnd);
          const value = -(op + 1);
          const after = state.slice();
          fillBox(after, box, value);
          const streamed = rnd() < 0.3;
          const result = await outcome(
            streamed
              ? (async () => {
                  const w = array.writer({ workers: 0 }).getWriter();
                  await w.write({ selection, data: value });
                  await w.close();
                })()
              : array.write(selection, value, { workers: 0, concurrency: 1 + Math.floor(rnd() * 8) }),
          );
          tally.operations++;
          store.enabled = false;
          const actual = await readAll(array);
          store.enabled = true;
          if (result.ok) expect(Array.from(actual)).toEqual(Array.from(after));
          else {
            tally.failedOperations++;
            expectNamed(result.error, "a");
            expect(oldOrNew(actual, state, after, layout.unit), "a unit is neither old nor new").toBeUndefined();
          }
          state = actual;
        }
        tally.faults += store.count();
      }),
      fcParams(`faults: writes ${layout.name}`, 25),
    );
  });

  it("streamed copies (readChunks().pipeTo(writer())) with faults on both sides: a full copy, or a typed failure and old-or-new units", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), async (seed) => {
        const { store, array: source, model } = await fresh(seed, { seed, rate: 0.05, kinds: { error: 2, lost: 1, delay: 1 }, maxDelayMs: 2 });
        store.enabled = false;
        const destination = await createArray(store, "b", layout);
        const old = Int32Array.from({ length: N }, (_, i) => -i - 1);
        await destination.write(null, old.slice(), { workers: 0 });
        store.enabled = true;
        const result = await outcome(
          source
            .readChunks(null, { workers: 0 })
            .pipeThrough(new TransformStream({ transform: (c, ctl) => ctl.enqueue({ selection: c.region.map((r) => slice(r.start, r.start + r.count)), data: c.data }) }))
            .pipeTo(destination.writer({ workers: 0 })),
        );
        tally.operations++;
        store.enabled = false;
        const actual = await readAll(destination);
        if (result.ok) expect(Array.from(actual)).toEqual(Array.from(model));
        else {
          tally.failedOperations++;
          const error = result.error as ZarrflowError;
          expect(error).toBeInstanceOf(ZarrflowError);
          expect(["a", "b"]).toContain(error.path);
          expect(error.key).toMatch(/^[ab]\//);
          expect(oldOrNew(actual, old, model, layout.unit)).toBeUndefined();
        }
        tally.faults += store.count();
      }),
      fcParams(`faults: copies ${layout.name}`, 20),
    );
  });

  it("an abort at any store call rejects with AbortError, leaves units old or new, and later operations succeed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom("write", "read", "copy"), async (seed, abortAt, kind) => {
        const inner = new MemoryStore();
        const source = await createArray(inner, "a", layout);
        const model = Int32Array.from({ length: N }, (_, i) => i * 3);
        await source.write(null, model.slice(), { workers: 0 });
        const destination = await createArray(inner, "b", layout);
        await destination.write("0:20, :", 5, { workers: 0 });
        const before = await readAll(destination);
        const controller = new AbortController();
        const store = new AbortAfterStore(inner, controller, abortAt);
        const src = await openArray(store, { path: "a" });
        const dst = await openArray(store, { path: "b" });
        const { box, selection } = randomBox(prng(seed));
        const after = before.slice();
        let run: Promise<unknown>;
        if (kind === "write") {
          fillBox(after, box, 99);
          run = dst.write(selection, 99, { workers: 0, signal: controller.signal });
        } else if (kind === "read") {
          run = src.read(selection, { workers: 0, signal: controller.signal });
        } else {
          after.set(model);
          run = src
            .readChunks(null, { workers: 0, signal: controller.signal })
            .pipeThrough(new TransformStream({ transform: (c, ctl) => ctl.enqueue({ selection: c.region.map((r) => slice(r.start, r.start + r.count)), data: c.data }) }))
            .pipeTo(dst.writer({ workers: 0, signal: controller.signal }), { signal: controller.signal });
        }
        const result = await outcome(run);
        tally.operations++;
        if (!result.ok) {
          tally.aborts++;
          tally.failedOperations++;
          // A copy's pipe may report the signal's own reason; everything zarrflow raises is an AbortError.
          if (kind !== "copy") expect(result.error).toBeInstanceOf(AbortError);
          else expect(controller.signal.aborted).toBe(true);
        }
        const actual = await readAll(await openArray(inner, { path: "b" }));
        expect(oldOrNew(actual, before, after, layout.unit)).toBeUndefined();
        // Nothing stays locked or broken: the same chunks can be written and read at once.
        const dstAgain = await openArray(inner, { path: "b" });
        await dstAgain.write(selection, 7, { workers: 0 });
        const check = await dstAgain.read(selection, { workers: 0 });
        expect((check.data as Int32Array).every((v) => v === 7)).toBe(true);
      }),
      fcParams(`faults: aborts ${layout.name}`, 30),
    );
  });

  it("hung store calls end with the abort given for them, release their locks, and the chunks stay usable", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), fc.constantFrom("read", "write", "writer"), async (seed, kind) => {
        const { store, array, model } = await fresh(seed, { seed, rate: 0.3, kinds: { hang: 1, delay: 1 }, maxDelayMs: 1 });
        const rnd = prng(seed);
        const { box, selection } = randomBox(rnd);
        const controller = new AbortController();
        const run: Promise<unknown> =
          kind === "read"
            ? array.read(selection, { workers: 0, signal: controller.signal })
            : kind === "write"
              ? array.write(selection, -5, { workers: 0, signal: controller.signal })
              : (async () => {
                  const w = array.writer({ workers: 0, signal: controller.signal }).getWriter();
                  await w.write({ selection, data: -5 });
                  await w.close();
                })();
        const pending = outcome(run);
        // Wait until the operation is stuck on a hang (or done), then abort: nothing else ends a hang.
        let settled = false;
        void pending.then(() => (settled = true));
        while (!settled && store.hanging === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        const hung = store.hanging > 0;
        if (hung) tally.hangs++;
        controller.abort();
        const result = await pending;
        tally.operations++;
        if (hung) {
          expect(result.ok).toBe(false);
          expect(!result.ok && result.error).toBeInstanceOf(ZarrflowError);
        }
        expect(store.hanging).toBe(0);
        // Later operations, without faults, on the same chunks: nothing was left locked.
        store.enabled = false;
        const after = model.slice();
        fillBox(after, box, -5);
        const actual = await readAll(array);
        expect(oldOrNew(actual, model, after, layout.unit)).toBeUndefined();
        await array.write(selection, 123, { workers: 0 });
        const again = (await array.read(selection, { workers: 0 })).data as Int32Array;
        expect(again.every((v) => v === 123)).toBe(true);
      }),
      fcParams(`faults: hangs ${layout.name}`, 20),
    );
  });
});

describe("chunk locks under hangs and aborts", () => {
  it("a write queued behind a hung write, then aborted, leaves the chunk lock free for the next write", async () => {
    const inner = new MemoryStore();
    const store = new FaultStore(inner, { seed: 1, rate: 1, kinds: { hang: 1 }, methods: ["set"], keys: (key) => key === "a/c/0" });
    store.enabled = false;
    const array = await create(store, { path: "a", shape: [8], chunks: [4], dtype: "int32" });
    store.enabled = true;
    const first = new AbortController();
    const hung = outcome(array.write("0:4", 1, { workers: 0, signal: first.signal }));
    while (store.hanging === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    // Partial, so it must wait for the chunk's lock (held by the hung write) before reading it.
    const second = new AbortController();
    const queued = outcome(array.write("1:3", 2, { workers: 0, signal: second.signal }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    second.abort();
    const queuedResult = await queued;
    expect(!queuedResult.ok && queuedResult.error).toBeInstanceOf(AbortError);
    first.abort();
    const hungResult = await hung;
    expect(!hungResult.ok && hungResult.error).toBeInstanceOf(AbortError);
    store.enabled = false;
    // Would wait forever if either aborted write had kept (or later taken) the lock.
    await array.write("0:4", 3, { workers: 0 });
    expect(Array.from((await array.read(null, { workers: 0 })).data as Int32Array)).toEqual([3, 3, 3, 3, 0, 0, 0, 0]);
  });
});

describe("the worker pool survives its workers", () => {
  /** Terminates the first worker seen with a task in flight. */
  async function killBusyWorker(pool: WorkerPool): Promise<void> {
    const slots = (await (pool as unknown as { start(): Promise<{ inFlight: number; handle: { terminate(): Promise<void> } }[]> }).start());
    for (;;) {
      const busy = slots.find((s) => s.inFlight > 0);
      if (busy) {
        await busy.handle.terminate();
        return;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it("a worker terminated mid-task fails that task with a WorkerExitedError; later tasks run on its replacement", async () => {
    const pool = new WorkerPool({ size: 1 });
    try {
      expect(await pool.run("ping", {})).toBe("pong");
      for (let round = 0; round < 3; round++) {
        // A task long enough to be in flight when the worker dies: zstd level 19 over 4 MiB.
        const data = Uint8Array.from({ length: 4 << 20 }, (_, i) => (i * 2654435761) >>> 24);
        const task = pool.run("encodeBatch", {
          chain: { id: "slow", path: "p", spec: { shape: [4 << 20], dataType: "uint8", fillValue: 0 }, codecs: [{ name: "bytes" }, { name: "zstd", configuration: { level: 19 } }], itemsize: 1, fill: new Uint8Array(1) },
          writeEmptyChunks: true,
          items: [{ existing: undefined, piece: data, scalar: false, chunkRegion: [{ start: 0, step: 1, count: 4 << 20 }], key: "p/c/0" }],
        });
        const [result] = await Promise.all([outcome(task), killBusyWorker(pool)]);
        expect(!result.ok && result.error).toBeInstanceOf(WorkerExitedError);
        expect(await pool.run("ping", {})).toBe("pong");
      }
    } finally {
      await pool.close();
    }
  });

  it("a read whose worker dies fails typed; the next read on the same pool is right", async () => {
    const pool = new WorkerPool({ size: 2 });
    try {
      const store = new MemoryStore();
      const array = await create(store, { shape: [64, 1 << 14], chunks: [4, 1 << 14], dtype: "int32", codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "gzip", configuration: { level: 1 } }] });
      const data = Int32Array.from({ length: 64 << 14 }, (_, i) => (i * 2654435761) | 0);
      await array.write(null, data, { workers: 0 });
      const [result] = await Promise.all([outcome(array.read(null, { pool })), killBusyWorker(pool)]);
      expect(!result.ok && result.error).toBeInstanceOf(WorkerExitedError);
      const again = await array.read(null, { pool });
      expect((again.data as Int32Array).every((v, i) => v === data[i])).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("a codec error inside a worker comes back as a CodecError naming the chunk, and the worker keeps serving", async () => {
    const pool = new WorkerPool({ size: 1 });
    try {
      const store = new MemoryStore();
      const array = await create(store, { path: "x", shape: [8, 1024], chunks: [1, 1024], dtype: "int32", codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "crc32c" }] });
      await array.write(null, 3, { workers: 0 });
      const bad = store.map.get("x/c/5/0")!.slice();
      bad[100] ^= 1;
      await store.set("x/c/5/0", bad);
      const result = await outcome(array.read(null, { pool }));
      expect(!result.ok && result.error).toBeInstanceOf(CodecError);
      expect(!result.ok && (result.error as CodecError).key).toBe("x/c/5/0");
      const good = await array.read("0:5, :", { pool });
      expect((good.data as Int32Array).every((v) => v === 3)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe("no leaks", () => {
  it("a process that ran faulty, aborted and hung operations with a worker pool exits by itself, with no file handle open", async () => {
    const child = fileURLToPath(new URL("./helpers/faults-child.ts", import.meta.url));
    const repo = fileURLToPath(new URL("..", import.meta.url));
    const result = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
      const proc = spawn(process.execPath, ["--import", "tsx", child, String(seedFor("faults: child"))], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      proc.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t));
      proc.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
      // Generous: the scenario takes a few seconds; a leaked handle keeps the process alive for good.
      const guard = setTimeout(() => proc.kill("SIGKILL"), 90_000);
      proc.on("error", reject);
      proc.on("exit", (code, signal) => {
        clearTimeout(guard);
        resolve({ code, signal, stdout, stderr });
      });
    });
    expect(result.signal, `the child did not exit by itself: ${result.stdout}`).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim().split("\n").pop() as string);
    expect(report.openFilesUnderStore).toEqual([]);
    expect(report.operations).toBeGreaterThan(20);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.hangs).toBeGreaterThan(0);
    expect(report.workerDeaths).toBeGreaterThan(0);
  }, 120_000);
});

describe("summary", () => {
  it("no promise rejection went unhandled in any test above", async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
    expect(tally.faults).toBeGreaterThan(100);
    expect(tally.failedOperations).toBeGreaterThan(10);
    console.log(`faults summary: ${JSON.stringify(tally)}`);
  });
});
