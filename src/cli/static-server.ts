/**
 * A small static HTTP server for Zarr stores and pages (Node only): GET and HEAD with byte
 * ranges (one range per request, as Zarr readers ask), CORS so a page on another origin can
 * read the store, and, when asked, the cross-origin-isolation headers that let a page use
 * SharedArrayBuffer. `zarrflow serve` and the browser tests run on it.
 */
import { open, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

export interface StaticServerOptions {
  /** URL prefix ("/data/") → directory. The longest matching prefix wins. */
  mounts: Record<string, string>;
  /** Send COOP/COEP so pages served here are cross-origin isolated (default true). */
  isolated?: boolean;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Sees every request before the mounts do; returns (or resolves to) true when it answered it
   * itself. Tests inject faults and delays with it.
   */
  intercept?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
}

export interface StaticServer {
  /** The server's origin, e.g. "http://127.0.0.1:8000". */
  url: string;
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
};

/** A single `bytes=` range resolved against the file's size; null when absent, "bad" when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | "bad" {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return "bad";
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "bad";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return "bad";
  return { start, end };
}

function setCommonHeaders(response: ServerResponse, isolated: boolean): void {
  response.setHeader("Access-Control-Allow-Origin", "*");
  response.setHeader("Access-Control-Allow-Headers", "Range, Authorization, Content-Type");
  response.setHeader("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
  response.setHeader("Access-Control-Expose-Headers", "Content-Range, Content-Length, Accept-Ranges, ETag");
  // Lets isolated pages on other origins load these files too (COEP require-corp).
  response.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
  if (isolated) {
    response.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    response.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
  }
}

/** The file a URL path names under the mounts, or undefined (never outside a mounted directory). */
function resolveFile(mounts: [string, string][], urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  for (const [prefix, dir] of mounts) {
    if (!decoded.startsWith(prefix)) continue;
    const file = path.resolve(dir, `.${path.posix.normalize(`/${decoded.slice(prefix.length)}`)}`);
    if (file !== dir && !file.startsWith(dir + path.sep)) return undefined;
    return file;
  }
  return undefined;
}

async function serve(mounts: [string, string][], isolated: boolean, request: IncomingMessage, response: ServerResponse): Promise<void> {
  setCommonHeaders(response, isolated);
  const method = request.method ?? "GET";
  if (method === "OPTIONS") {
    // A preflight may ask for any request header (auth tokens of the page's choosing).
    const asked = request.headers["access-control-request-headers"];
    if (asked) response.setHeader("Access-Control-Allow-Headers", asked);
    response.writeHead(204).end();
    return;
  }
  if (method !== "GET" && method !== "HEAD") {
    response.writeHead(405, { Allow: "GET, HEAD, OPTIONS" }).end();
    return;
  }
  const urlPath = new URL(request.url ?? "/", "http://localhost").pathname;
  let file = resolveFile(mounts, urlPath);
  let info = file ? await stat(file).catch(() => undefined) : undefined;
  if (file && info?.isDirectory()) {
    file = path.join(file, "index.html");
    info = await stat(file).catch(() => undefined);
  }
  if (!file || !info?.isFile()) {
    response.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    return;
  }
  const size = info.size;
  const range = parseRange(request.headers.range, size);
  const headers: Record<string, string | number> = {
    "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream",
    "Accept-Ranges": "bytes",
    "Cache-Control": "no-cache",
    "Last-Modified": info.mtime.toUTCString(),
  };
  if (range === "bad") {
    response.writeHead(416, { ...headers, "Content-Range": `bytes */${size}` }).end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const length = Math.max(0, end - start + 1);
  headers["Content-Length"] = length;
  if (range) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
  response.writeHead(range ? 206 : 200, headers);
  if (method === "HEAD" || length === 0) {
    response.end();
    return;
  }
  await sendFile(file, start, length, response);
}

/** Bytes a response is sent in: one read and one socket write per piece. */
const PIECE_BYTES = 1 << 20;
/** Pieces kept for reuse across responses, at most (each PIECE_BYTES). */
const MAX_SPARE_PIECES = 32;
// Reused: a fresh buffer per read costs a page fault per 4 KiB on first touch, more than the copy.
const spare: Buffer[] = [];

/**
 * Sends `length` bytes of `file` from `start`: read a piece, write it, and read the next while
 * it goes out (two pieces per response, taken from and returned to `spare`). Stops quietly when
 * the client goes away.
 */
async function sendFile(file: string, start: number, length: number, response: ServerResponse): Promise<void> {
  const handle = await open(file, "r");
  const pieces = [spare.pop() ?? Buffer.allocUnsafeSlow(PIECE_BYTES), spare.pop() ?? Buffer.allocUnsafeSlow(PIECE_BYTES)];
  let writing: Promise<void> = Promise.resolve();
  // A write's callback may never come once the client is gone: closing ends the wait too.
  const gone = new Promise<void>((resolve) => response.once("close", () => resolve()));
  try {
    let sent = 0;
    for (let n = 0; sent < length && !response.destroyed; n++) {
      const piece = pieces[n % 2];
      const { bytesRead } = await handle.read(piece, 0, Math.min(PIECE_BYTES, length - sent), start + sent);
      if (bytesRead === 0) break; // the file shrank since stat
      // The piece read two steps ago must be out before this one's buffer is written to again.
      await writing;
      writing = Promise.race([new Promise<void>((resolve) => response.write(piece.subarray(0, bytesRead), () => resolve())), gone]);
      sent += bytesRead;
    }
    await writing;
    if (sent < length) response.destroy();
    else response.end();
  } finally {
    await handle.close();
    for (const piece of pieces) if (spare.length < MAX_SPARE_PIECES) spare.push(piece);
  }
}

export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const isolated = options.isolated ?? true;
  const mounts = Object.entries(options.mounts)
    .map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : `${prefix}/`, path.resolve(dir)] as [string, string])
    .sort((a, b) => b[0].length - a[0].length);
  const server = createServer((request, response) => {
    void (async () => {
      if (await options.intercept?.(request, response)) return;
      await serve(mounts, isolated, request, response);
    })().catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 2000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
