/**
 * Seeds for the reliability tests. Every randomised test runs from a fixed seed by default, so
 * CI is reproducible; ZARRFLOW_SEED overrides it (any integer) to explore, and a failure names
 * the seed that produced it. fast-check properties get the seed through `fcParams` (fast-check
 * prints seed and counterexample path itself); plain loops go through `withSeed`.
 */
import type { Parameters } from "fast-check";

const DEFAULT_SEED = 20250611;

function parseSeed(): number {
  const raw = process.env.ZARRFLOW_SEED;
  if (raw === undefined || raw === "") return DEFAULT_SEED;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`ZARRFLOW_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
}

/** The run's seed. */
export const SEED = parseSeed();

/** A seed derived from the run's seed for one named test, so tests do not share random streams. */
export function seedFor(name: string): number {
  let h = 0x811c9dc5 ^ (SEED >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h ^ Math.floor(SEED / 2 ** 32)) >>> 0;
}

/** fast-check parameters: the test's seed and a run count (scaled by ZARRFLOW_RUNS_SCALE, default 1). */
export function fcParams<T>(name: string, numRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  const scale = Number(process.env.ZARRFLOW_RUNS_SCALE ?? 1);
  return { seed: seedFor(name) | 0, numRuns: Math.max(1, Math.round(numRuns * scale)), endOnFailure: true, ...extra };
}

/** Runs `body` with the test's seed; a failure is re-thrown naming the seed that reproduces it. */
export async function withSeed<T>(name: string, body: (seed: number) => Promise<T>): Promise<T> {
  const seed = seedFor(name);
  try {
    return await body(seed);
  } catch (error) {
    const reason = error instanceof Error ? error : new Error(String(error));
    reason.message = `[seed ${seed} of "${name}"; rerun with ZARRFLOW_SEED=${SEED}] ${reason.message}`;
    throw reason;
  }
}
