/**
 * Helpers for the CLI tests: build the package once, run the built `zarrflow` as a
 * subprocess, and serve a folder over a small node:http static server (Range requests, HEAD,
 * an optional delay per request to make a copy last long enough to interrupt).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { startStaticServer } from "../../src/cli/static-server.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const CLI = path.join(ROOT, "dist/src/cli.js");

let built: Promise<void> | undefined;

/**
 * Builds dist/ once per test process. tsc emits even when some file in the build has a type
 * error; that is reported but only fatal when the CLI was not emitted.
 */
export function buildCli(): Promise<void> {
  built ??= (async () => {
    const started = Date.now();
    try {
      await promisify(execFile)("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT });
    } catch (error) {
      const output = `${(error as { stdout?: string }).stdout ?? ""}`.trim();
      if (!existsSync(CLI) || statSync(CLI).mtimeMs < started - 1000) throw new Error(`the build did not produce ${CLI}:\n${output}`);
      console.warn(`tsc reported errors (the CLI was built anyway):\n${output.split("\n").slice(0, 10).join("\n")}`);
    }
  })();
  return built;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Called with the child once it runs (to send signals, or read its streams as they come). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `node dist/src/cli.js ...args` to completion. */
export function runCli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stdout!.on("error", () => undefined);
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }));
    options.onSpawn?.(child);
  });
}

export interface StaticServer {
  url: string;
  /** Requests answered so far. */
  requests: number;
  close(): Promise<void>;
}

/** Serves `root` read-only (GET with a single Range, HEAD, 404 for missing files), each request after `delayMs`. */
export async function serveFolder(root: string, options: { delayMs?: number; gate?: Promise<void> } = {}): Promise<StaticServer> {
  const state = { requests: 0 };
  const server = await startStaticServer({
    mounts: { "/": root },
    isolated: false,
    intercept: async (request) => {
      state.requests++;
      // With a gate, chunk requests (not metadata documents) wait until it opens.
      if (options.gate && !/(^|\/)(\.z\w+|zarr\.json)$/.test(new URL(request.url ?? "/", "http://x").pathname)) await options.gate;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      return false;
    },
  });
  return {
    url: server.url,
    get requests() {
      return state.requests;
    },
    close: () => server.close(),
  };
}
