/**
 * A real S3 server for tests: s3rver (npm devDependency, so always present; it checks SigV4
 * signatures and knows only the key pair S3RVER/S3RVER), in a child process on a free loopback
 * port with its own temporary directory, started and stopped by the tests.
 */
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";

export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface S3Server {
  /** "http://127.0.0.1:PORT" */
  endpoint: string;
  port: number;
  /** Where s3rver keeps the objects. */
  directory: string;
  stop(): Promise<void>;
}

export async function startS3rver(buckets: string[] = ["zarr"]): Promise<S3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), "zarrflow-s3rver-"));
  const child = fork(path.join(import.meta.dirname, "s3rver-child.mjs"), [directory, buckets.join(","), process.env.S3RVER_VERBOSE ?? ""], {
    execArgv: ["--openssl-legacy-provider"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message) => resolve((message as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}
