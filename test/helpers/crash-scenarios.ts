/**
 * The crash-safety scenarios, shared by the child that runs them (crash-child.ts, killed with
 * SIGKILL at random moments) and the test that checks what it left behind. Each scenario is a
 * sequence of operations numbered 0, 1, 2, …, fully determined by its seed, so the parent can
 * compute the array's content after any prefix of them.
 */
import { create, openArray, setAttributes, slice, type CreateArrayOptions, type ZarrArray } from "../../src/index.js";
import { FileSystemStore } from "../../stores/index.js";
import { prng } from "./prng.js";

export type ScenarioName = "unsharded-rewrite" | "unsharded-copy" | "sharded-rewrite" | "sharded-patch" | "sharded-copy";

export const SHAPE = [64, 48];
const BYTES_LE = { name: "bytes", configuration: { endian: "little" } };

export interface Scenario {
  /** The destination array. */
  destination: Omit<CreateArrayOptions, "shape" | "dtype">;
  /** Whole-chunk copies from alternating sources (else rectangle writes). */
  copy: boolean;
  /** The unit a crash leaves old or new: stored chunks, or inner chunks of in-place-patched shards. */
  unit: number[];
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  "unsharded-rewrite": { destination: { chunks: [16, 16], codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }] }, copy: false, unit: [16, 16] },
  "unsharded-copy": { destination: { chunks: [8, 24], codecs: [BYTES_LE, { name: "gzip", configuration: { level: 1 } }] }, copy: true, unit: [8, 24] },
  // Compressed inner chunks: partial writes rewrite the whole shard (temp file + rename).
  "sharded-rewrite": { destination: { chunks: [8, 8], shards: [32, 16], codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }] }, copy: false, unit: [32, 16] },
  // Fixed-size inner chunks: partial writes patch inner-chunk slots in place (setRange).
  "sharded-patch": { destination: { chunks: [8, 8], shards: [32, 16], codecs: [BYTES_LE, { name: "crc32c" }], indexLocation: "start" }, copy: false, unit: [8, 8] },
  "sharded-copy": { destination: { chunks: [8, 8], shards: [16, 16], codecs: [BYTES_LE, { name: "zstd", configuration: { level: 1 } }] }, copy: true, unit: [16, 16] },
};

/** Source arrays of the copy scenarios: source k holds k·10^6 + the element's flat index. */
export function sourceValues(k: number): Int32Array {
  return Int32Array.from({ length: SHAPE[0] * SHAPE[1] }, (_, i) => k * 1_000_000 + i);
}

/** Rectangle write number `i`: a box and the value it is filled with (i + 1, so every write is distinct). */
export function rectangle(seed: number, i: number): { box: [number, number][]; value: number } {
  const rnd = prng(seed * 7919 + i);
  const box = SHAPE.map((n): [number, number] => {
    const a = Math.floor(rnd() * n);
    const b = Math.floor(rnd() * n);
    return [Math.min(a, b), Math.max(a, b) + 1];
  });
  return { box, value: i + 1 };
}

/** Attributes are rewritten every few operations: metadata must never be seen half written. */
export const ATTRIBUTE_EVERY = 5;

export function path(dir: string, name: string): string {
  return `${dir}/${name}`;
}

/** Before any rectangle write every element is this (not the fill value: every inner chunk is stored, so shards can be patched). */
export const INITIAL = -1;

/** Creates the destination (initial content: source 1 for copies, INITIAL otherwise) and the sources. */
export async function setUp(dir: string, name: ScenarioName): Promise<void> {
  const store = new FileSystemStore(dir);
  const scenario = SCENARIOS[name];
  const destination = await create(store, { path: "dst", shape: SHAPE, dtype: "int32", ...scenario.destination });
  if (!scenario.copy) {
    await destination.write(null, INITIAL, { workers: 0 });
    return;
  }
  for (const k of [0, 1]) {
    const source = await create(store, { path: `src${k}`, shape: SHAPE, chunks: [16, 16], dtype: "int32" });
    await source.write(null, sourceValues(k), { workers: 0 });
  }
  await destination.write(null, sourceValues(1), { workers: 0 });
}

/** Runs operation `i` of the scenario against the destination. */
export async function runOperation(store: FileSystemStore, destination: ZarrArray, name: ScenarioName, seed: number, i: number): Promise<void> {
  if (SCENARIOS[name].copy) {
    const source = await openArray(store, { path: `src${i % 2}` });
    await source
      .readChunks(null, { workers: 0 })
      .pipeThrough(
        new TransformStream({
          transform: (c, controller) => controller.enqueue({ selection: c.region.map((r) => slice(r.start, r.start + r.count)), data: c.data }),
        }),
      )
      .pipeTo(destination.writer({ workers: 0 }));
  } else {
    const { box, value } = rectangle(seed, i);
    await destination.write(box.map(([a, b]) => slice(a, b)), value, { workers: 0 });
  }
  if (i % ATTRIBUTE_EVERY === 0) await setAttributes(destination, { operation: i });
}

/** The destination's content before any operation. */
export function initialContent(name: ScenarioName): Int32Array {
  return SCENARIOS[name].copy ? sourceValues(1) : new Int32Array(SHAPE[0] * SHAPE[1]).fill(INITIAL);
}

/** Applies operation `i` to a model of the destination's content (in place). */
export function applyOperation(state: Int32Array, name: ScenarioName, seed: number, i: number): void {
  if (SCENARIOS[name].copy) {
    state.set(sourceValues(i % 2));
    return;
  }
  const { box, value } = rectangle(seed, i);
  for (let r = box[0][0]; r < box[0][1]; r++) state.fill(value, r * SHAPE[1] + box[1][0], r * SHAPE[1] + box[1][1]);
}
