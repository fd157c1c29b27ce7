/**
 * The zarr-python 3 oracle (zarr-python HEAD back-ported to Python 3.11), run as an outside program:
 * it is NOT part of this repository, and nothing here assumes where it lives. It is the folder
 * `$ZARRFLOW_ORACLE_DIR` names (.ci/run sets it on the machines that have one); unset, the
 * suites that need it skip with one line. Its `setup.sh` makes (or reuses) a venv and prints the
 * command that runs Python with its zarr.
 *
 * Tests use `oracleSkip(what)` to follow the policy of test/helpers/external.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { skipUnlessFound } from "./external.js";

export interface Oracle {
  /** The oracle's folder (read.py, write.py, valuefmt.py). */
  dir: string;
  /** argv prefix that runs its Python: `[...python, script, ...args]`. */
  python: string[];
}

let cached: { oracle?: Oracle; problem?: string } | undefined;

function locate(): { oracle?: Oracle; problem?: string } {
  const how = "set ZARRFLOW_ORACLE_DIR to the zarr-python oracle's folder (the one with setup.sh) to enable";
  const named = process.env.ZARRFLOW_ORACLE_DIR;
  if (!named) return { problem: `ZARRFLOW_ORACLE_DIR is not set; ${how}` };
  const dir = path.resolve(named);
  if (!existsSync(path.join(dir, "setup.sh"))) return { problem: `no setup.sh in ZARRFLOW_ORACLE_DIR (${dir}); ${how}` };
  const venv = process.env.ZARRFLOW_ORACLE_VENV ?? path.join(tmpdir(), "zarrflow-oracle-zarr-python");
  try {
    const out = execFileSync("bash", [path.join(dir, "setup.sh"), venv], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    });
    const line = out.trim().split("\n").pop() ?? "";
    // "env PYTHONPATH=… PYTHONPYCACHEPREFIX=… <venv>/bin/python"
    const python = line.split(" ").filter(Boolean);
    if (python[0] !== "env" || python.length < 2) return { problem: `oracle setup printed no command (${line}); ${how}` };
    return { oracle: { dir, python } };
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim().split("\n").pop();
    return { problem: `the zarr-python oracle's setup.sh failed (${stderr || (error as Error).message}); ${how}` };
  }
}

/** The oracle, or undefined when it is not available. Setup runs once per test file. */
export function findOracle(): Oracle | undefined {
  cached ??= locate();
  return cached.oracle;
}

/** True when suites needing the oracle must be skipped (prints the one line, or fails under CI). */
export function oracleSkip(what: string): boolean {
  cached ??= locate();
  return skipUnlessFound(what, cached.problem);
}

/** Runs one of the oracle's scripts (read.py / write.py …) and returns its stdout. */
export function runOracle(oracle: Oracle, script: string, args: string[], timeoutMs = 120_000): string {
  const [cmd, ...rest] = oracle.python;
  return execFileSync(cmd!, [...rest, path.join(oracle.dir, script), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Why the oracle is not available (undefined when it is): for tools that skip with a note (the bench). */
export function oracleProblem(): string | undefined {
  cached ??= locate();
  return cached.problem;
}
