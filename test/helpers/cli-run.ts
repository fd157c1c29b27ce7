/**
 * Helpers for the CLI tests: build the package once, run the built `zarrflow` as a
 * subprocess, and serve a folder over a small node:http static server (Range requests, HEAD,
 * an optional delay per request to make a copy last long enough to interrupt).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import * as path from "node:path";
import { promisify } from "node:util";

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

/** Serves `root` read-only: GET (with a single Range), HEAD, 404 for missing files. */
export async function serveFolder(root: string, options: { delayMs?: number } = {}): Promise<StaticServer> {
  const state = { requests: 0 };
  const server: Server = createServer(async (req, res) => {
    state.requests++;
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const file = path.join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (!file.startsWith(root) || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(req.method === "GET" || req.method === "HEAD" ? 403 : 405).end();
      return;
    }
    let size: number;
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error("not a file");
      size = info.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    let [start, end] = [0, size - 1];
    if (range) {
      if (range[1] === "") [start, end] = [Math.max(0, size - Number(range[2])), size - 1];
      else [start, end] = [Number(range[1]), range[2] === "" ? size - 1 : Math.min(size - 1, Number(range[2]))];
      if (start >= size && size > 0) {
        res.writeHead(416, { "Content-Range": `bytes */${size}` }).end();
        return;
      }
    }
    const headers = { "Content-Length": String(Math.max(0, end - start + 1)), "Accept-Ranges": "bytes" };
    if (range) res.writeHead(206, { ...headers, "Content-Range": `bytes ${start}-${end}/${size}` });
    else res.writeHead(200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const bytes = await readFile(file);
    res.end(bytes.subarray(start, end + 1));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
