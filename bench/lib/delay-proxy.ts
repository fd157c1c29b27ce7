/**
 * A reverse proxy that waits `delayMs` before forwarding each request (a round trip to a remote
 * server), for workload 9. Runs in its own process so its work never shares the measured
 * process's event loop:
 *
 *   fork("bench/lib/delay-proxy.ts", [upstreamPort, delayMs], { execArgv: ["--import", "tsx"] })
 *
 * It listens on a free loopback port and sends `{ port }` over IPC once it does. Keep-alive on
 * both sides (clients' connections are kept; upstream connections are pooled). Over IPC:
 * `"reset"` zeroes the counters, `"stats"` replies with them (requests by method, ranged and
 * multi-range requests, response body bytes, most requests in flight at once).
 */
import http from "node:http";

const upstreamPort = Number(process.argv[2]);
const delayMs = Number(process.argv[3] ?? 10);
if (!Number.isInteger(upstreamPort) || !process.send) throw new Error("usage: fork delay-proxy.ts <upstream port> [delay ms] (with IPC)");

export interface ProxyStats {
  requests: number;
  get: number;
  head: number;
  /** Requests with a Range header, and those asking for several ranges at once. */
  ranged: number;
  multiRange: number;
  /** Response body bytes passed through. */
  bytes: number;
  maxInFlight: number;
  connections: number;
}

const zero = (): ProxyStats => ({ requests: 0, get: 0, head: 0, ranged: 0, multiRange: 0, bytes: 0, maxInFlight: 0, connections: 0 });
let stats = zero();
let inFlight = 0;

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
/** Hop-by-hop headers: they describe one connection, not the message. */
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);
const endToEnd = (headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !HOP.has(name.toLowerCase())));

const server = http.createServer((req, res) => {
  stats.requests++;
  if (req.method === "GET") stats.get++;
  else if (req.method === "HEAD") stats.head++;
  const range = req.headers.range;
  if (range) {
    stats.ranged++;
    if (range.includes(",")) stats.multiRange++;
  }
  inFlight++;
  stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
  let done = false;
  const finish = () => {
    if (!done) inFlight--;
    done = true;
  };
  res.once("close", finish);
  setTimeout(() => {
    const upstream = http.request(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (response) => {
        res.writeHead(response.statusCode ?? 502, endToEnd(response.headers));
        response.on("data", (chunk: Buffer) => (stats.bytes += chunk.byteLength));
        response.pipe(res);
      },
    );
    upstream.once("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(String(error));
      else res.destroy(error);
    });
    req.pipe(upstream);
  }, delayMs);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 0;
server.requestTimeout = 0;
server.on("connection", () => stats.connections++);

process.on("message", (message: unknown) => {
  if (message === "reset") {
    stats = zero();
    process.send!({ reset: true });
  } else if (message === "stats") process.send!({ stats });
});
process.on("disconnect", () => process.exit(0));

server.listen(0, "127.0.0.1", () => {
  process.send!({ port: (server.address() as { port: number }).port });
});
