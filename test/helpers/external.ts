/**
 * The policy for tests that need a program from outside the repository (nginx, Debian's zarr 2.13,
 * the zarr-python 3 oracle, redis-server, s3rver, Chromium, …):
 *
 * - found → the tests run;
 * - missing, and `CI` is set → a failing test with the install hint (`.ci/run` installs every one of
 *   them, so CI skips nothing);
 * - missing on a developer's machine → the tests are skipped, and ONE visible line says what was
 *   skipped and how to enable it.
 *
 * `ZARRFLOW_REQUIRE_EXTERNAL=1` turns a missing program into a failure outside CI too.
 */
import { describe, it } from "vitest";

export const STRICT = Boolean(process.env.CI) || process.env.ZARRFLOW_REQUIRE_EXTERNAL === "1";

const announced = new Set<string>();

/**
 * Declares the outcome of looking for an outside program. Returns true when the suites that need
 * it should be skipped. When the program is missing it either prints the one skip line (once per
 * process) or, under CI, registers a failing test carrying `problem`.
 *
 * @param what  what is skipped, e.g. "HTTP store tests (nginx)"
 * @param problem  undefined when found; otherwise why not and how to enable it
 */
export function skipUnlessFound(what: string, problem: string | undefined): boolean {
  if (problem === undefined) return false;
  if (STRICT) {
    describe(what, () => {
      it("has the outside program it needs", () => {
        throw new Error(problem);
      });
    });
    return true;
  }
  if (!announced.has(what)) {
    announced.add(what);
    console.warn(`[zarrflow tests] SKIPPED ${what}: ${problem}`);
  }
  return true;
}
