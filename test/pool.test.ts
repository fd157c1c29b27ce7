/**
 * The worker pool (operators/pool.ts): started by threads.js, tasks on a MessagePort of their
 * own. Pins what callers rely on: answers come back in the right place, errors come back as
 * their zarrflow class, buffers move (not copy) both ways, the number of tasks in flight per
 * worker is bounded, an idle pool never keeps a process alive, and a closed pool refuses work.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { CodecError } from "../src/errors.js";
import { PoolClosedError, WorkerPool } from "../operators/pool.js";
import type { EncodeResult } from "../src/worker.js";

const run = promisify(execFile);
const pool = new WorkerPool({ size: 2, tasksPerWorker: 2 });
afterAll(() => pool.close());

const chainRef = {
  id: "pool-test-u8-zstd",
  path: "p",
  spec: { shape: [4], dataType: "uint8" as const, fillValue: 0 },
  codecs: [{ name: "bytes" }, { name: "zstd", configuration: { level: 1, checksum: false } }],
  itemsize: 1,
  fill: new Uint8Array([0]),
};
const fullRegion = [{ start: 0, step: 1, count: 4 }];

describe("WorkerPool", () => {
  it("answers many concurrent tasks, each with its own result", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => pool.run<string>("ping", {})));
    expect(answers).toEqual(Array(50).fill("pong"));
  });

  it("moves pieces to the worker and encoded chunks back by transfer, and decodes them into a shared output", async () => {
    const pieces = [new Uint8Array([1, 2, 3, 4]), new Uint8Array([0, 0, 0, 0]), new Uint8Array([9, 8, 7, 6])];
    const items = pieces.map((piece, i) => ({ existing: undefined, piece, scalar: false, chunkRegion: fullRegion, key: `c/${i}` }));
    const { encoded, spare } = await pool.run<EncodeResult>(
      "encodeBatch",
      { chain: chainRef, writeEmptyChunks: false, items },
      pieces.map((p) => p.buffer as ArrayBuffer),
    );
    for (const piece of pieces) expect(piece.byteLength).toBe(0); // transferred, not copied
    expect(encoded[1]).toBeNull(); // all fill value
    expect(spare.map((b) => b.byteLength)).toEqual([4, 4, 4]); // every piece came back for reuse

    const out = new Uint8Array(new SharedArrayBuffer(8));
    const decoded = await pool.run<number>("decodeBatch", {
      chain: chainRef,
      out: { buffer: out.buffer, byteOffset: 0, byteLength: 8, shape: [8] },
      items: [
        { key: "c/0", bytes: encoded[0], chunkRegion: fullRegion, outRegion: [{ start: 0, step: 1, count: 4 }] },
        { key: "c/2", bytes: encoded[2], chunkRegion: fullRegion, outRegion: [{ start: 4, step: 1, count: 4 }] },
      ],
    });
    expect(decoded).toBe(2);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 9, 8, 7, 6]);
  });

  it("a task that fails comes back as its zarrflow error class, naming the chunk", async () => {
    const out = new Uint8Array(new SharedArrayBuffer(4));
    const error = await pool
      .run("decodeBatch", {
        chain: chainRef,
        out: { buffer: out.buffer, byteOffset: 0, byteLength: 4, shape: [4] },
        items: [{ key: "c/bad", bytes: new Uint8Array([1, 2, 3]), chunkRegion: fullRegion, outRegion: fullRegion }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).key).toBe("c/bad");
    await expect(pool.run("noSuchTask", {})).rejects.toThrow(/unknown worker task "noSuchTask"/);
    expect(await pool.run("ping", {})).toBe("pong"); // the worker is still serving
  });

  it("keeps no reference to a task's result once it is delivered (no growth per task)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 20; i++) {
      const result = await pool.run<ArrayBuffer[]>("extractBatch", {
        chain: chainRef,
        items: [{ key: "c/0", bytes: undefined, chunkRegion: fullRegion, outRegion: fullRegion }],
      });
      refs.push(new WeakRef(result));
    }
    for (let i = 0; i < 5 && refs.some((r) => r.deref() !== undefined); i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    // The last result may still sit in a register or the awaiting frame; the rest must be gone.
    expect(refs.filter((r) => r.deref() !== undefined).length).toBeLessThanOrEqual(1);
  });

  it("an idle pool does not keep the process alive, and a closed pool refuses work", async () => {
    const script = [
      `import { WorkerPool } from ${JSON.stringify(pathToFileURL(resolve("operators/pool.ts")).href)};`,
      "const pool = new WorkerPool({ size: 2 });",
      'const answers = await Promise.all([1, 2, 3, 4].map(() => pool.run("ping", {})));',
      'console.log(answers.join(","));',
      "// no close(): the process must still end by itself",
    ].join("\n");
    const dir = await mkdtemp(join(tmpdir(), "zarrflow-pool-"));
    const file = join(dir, "idle-pool.mts");
    await writeFile(file, script);
    const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: process.cwd(), timeout: 30_000 }).finally(() => rm(dir, { recursive: true, force: true }));
    expect(stdout.trim()).toBe("pong,pong,pong,pong");

    const closing = new WorkerPool({ size: 1 });
    expect(await closing.run("ping", {})).toBe("pong");
    await closing.close();
    await expect(closing.run("ping", {})).rejects.toBeInstanceOf(PoolClosedError);
  });
});
