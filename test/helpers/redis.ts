/**
 * A real Redis for the queued-copy tests: Debian's redis-server on a free loopback port, in a
 * temporary folder, with no persistence (--save '', no AOF), stopped by the caller.
 *
 * A missing redis-server follows test/helpers/external.ts: skipped with one line on a
 * developer's machine, a failure under CI (.ci/run installs it). ZARRFLOW_REDIS names another binary.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { canConnect, freePort, serverStopper } from "./nginx.js";

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Where redis-server is; throws with how to install it when it is not. */
export function findRedisServer(): string {
  const chosen = process.env.ZARRFLOW_REDIS;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`ZARRFLOW_REDIS=${chosen} does not exist`);
    return chosen;
  }
  if (existsSync("/usr/bin/redis-server")) return "/usr/bin/redis-server";
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("redis-server is not installed: the queued-copy tests run against a real Redis (Debian: apt-get install redis-server; .ci/run does this)");
  }
}

/** Why the Redis tests cannot run, or undefined when they can. */
export function redisProblem(): string | undefined {
  try {
    findRedisServer();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export async function startRedis(): Promise<RedisServer> {
  const binary = findRedisServer();
  const dir = await mkdtemp(path.join(tmpdir(), "zarrflow-redis-"));
  const port = await freePort();
  const child = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "yes"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await canConnect(port)) {
      return { url: `redis://127.0.0.1:${port}`, port, stop: serverStopper(child, exited, dir, killOnExit) };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not start on port ${port}:\n${output}`);
}
