/**
 * The static server behind `zarrflow serve` and the browser tests (src/cli/static-server.ts):
 * bodies are sent in reused 1 MiB pieces, so these pin that every byte arrives exactly — whole
 * files and ranges across piece edges, many responses at once sharing the spare pieces — and
 * that a client going away mid-body neither stalls the server nor corrupts later answers.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStaticServer, type StaticServer } from "../src/cli/static-server.js";

const MiB = 1 << 20;
let dir: string;
let server: StaticServer;
/** Distinct content per file, so a piece of one answer landing in another shows. */
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "zarrflow-static-"));
  for (const [name, size, seed] of [["big", 5 * MiB + 12_345, 1], ["other", 3 * MiB + 7, 2], ["small", 100, 3], ["huge", 24 * MiB, 4]] as const) {
    const bytes = Buffer.alloc(size);
    let x = seed * 2654435761;
    for (let i = 0; i < size; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      bytes[i] = x >>> 24;
    }
    files[name] = bytes;
    writeFileSync(path.join(dir, name), bytes);
  }
  server = await startStaticServer({ mounts: { "/d/": dir } });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(name: string, range?: string): Promise<{ status: number; body: Buffer; contentRange: string | null }> {
  const response = await fetch(`${server.url}/d/${name}`, range ? { headers: { Range: range } } : {});
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), contentRange: response.headers.get("content-range") };
}

describe("static server bodies", () => {
  it("whole files and ranges across piece edges arrive exactly, many at once", async () => {
    const asks: { name: string; range?: string; want: Buffer }[] = [];
    for (let round = 0; round < 4; round++) {
      asks.push({ name: "big", want: files.big }, { name: "other", want: files.other }, { name: "small", want: files.small });
      asks.push({ name: "big", range: `bytes=${MiB - 3}-${3 * MiB + 4}`, want: files.big.subarray(MiB - 3, 3 * MiB + 5) });
      asks.push({ name: "other", range: `bytes=-${MiB + 1}`, want: files.other.subarray(files.other.length - MiB - 1) });
    }
    const got = await Promise.all(asks.map((a) => get(a.name, a.range)));
    got.forEach((g, i) => {
      expect(g.status).toBe(asks[i].range ? 206 : 200);
      expect(g.body.length).toBe(asks[i].want.length);
      expect(g.body.equals(asks[i].want), `${asks[i].name} ${asks[i].range ?? ""}`).toBe(true);
    });
  });

  it("a slow reader (the socket full, writes queued) still gets every byte exactly", async () => {
    const slowGet = (name: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const req = request(`${server.url}/d/${name}`, (response) => {
          const chunks: Buffer[] = [];
          response.pause();
          // Each pause lets the server's writes pile up behind a full socket.
          const step = () => {
            const chunk = response.read() as Buffer | null;
            if (chunk) chunks.push(chunk);
            if (response.readableEnded) return;
            setTimeout(step, 5);
          };
          response.on("end", () => resolve(Buffer.concat(chunks)));
          response.on("error", reject);
          // Long enough for the kernel's socket buffers to fill: the rest waits in the server.
          setTimeout(step, 300);
        });
        req.on("error", reject);
        req.end();
      });
    const [huge, big] = await Promise.all([slowGet("huge"), slowGet("big")]);
    expect(huge.length).toBe(files.huge.length);
    expect(huge.equals(files.huge)).toBe(true);
    expect(big.equals(files.big)).toBe(true);
  });

  it("a client that goes away mid-body leaves the server answering exactly", async () => {
    for (let i = 0; i < 8; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${server.url}/d/big`, (response) => {
          let seen = 0;
          response.on("data", (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > MiB / 2) req.destroy();
          });
          response.on("close", () => resolve());
          response.on("error", () => resolve());
        });
        req.on("error", () => resolve());
        req.on("timeout", () => reject(new Error("timed out")));
        req.end();
      });
    }
    const [big, other] = await Promise.all([get("big"), get("other")]);
    expect(big.body.equals(files.big)).toBe(true);
    expect(other.body.equals(files.other)).toBe(true);
  });
});
