/**
 * HttpStore against servers that misbehave on purpose (node:http, written here): retries and
 * their bounds, malformed ranged answers, timeouts, aborts, redirects and credentials, and a
 * failing PUT in front of a real nginx. Every assertion counts requests the server saw; none
 * measures time (backoffs are a few milliseconds).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { readdir } from "node:fs/promises";
import * as path from "node:path";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { AbortError, StoreError } from "../src/errors.js";
import { HttpStore, HttpStoreError, type HttpRequest, type HttpStoreOptions } from "../stores/index.js";
import { SKIP_NGINX, startNginx, type Nginx } from "./helpers/nginx.js";
import { HTTP_TRANSPORTS } from "./helpers/http-transports.js";

const iota = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const VALUE = iota(100);

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

interface FaultServer {
  origin: string;
  seen: Seen[];
  /** TCP connections accepted, and those still open. */
  connections: number;
  open: number;
  handle: Handler;
  close(): Promise<void>;
}

async function faultServer(): Promise<FaultServer> {
  const state: FaultServer = {
    origin: "",
    seen: [],
    connections: 0,
    open: 0,
    handle: (_req, res) => res.writeHead(500).end(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((req, res) => {
    state.seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    state.handle(req, res, state.seen.length);
  });
  server.on("connection", (socket) => {
    state.connections++;
    state.open++;
    socket.on("close", () => state.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}

/** Answers with VALUE (or its requested range), as a well-behaved server would. */
function serveValue(req: IncomingMessage, res: ServerResponse): void {
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
  if (!range) return void res.writeHead(200, { "content-length": VALUE.length }).end(VALUE);
  const [start, end] = range[1] === "" ? [VALUE.length - Number(range[2]), VALUE.length] : [Number(range[1]), Math.min(VALUE.length, Number(range[2]) + 1)];
  res.writeHead(206, { "content-length": end - start, "content-range": `bytes ${start}-${end - 1}/${VALUE.length}` }).end(VALUE.subarray(start, end));
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

const QUICK_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 4 };

describe.each(HTTP_TRANSPORTS)("HttpStore under faults (%s transport)", (transport) => {
  let a: FaultServer;
  let b: FaultServer;
  const stores: HttpStore[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([faultServer(), faultServer()]);
  });
  beforeEach(() => {
    a.seen.length = 0;
    b.seen.length = 0;
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  function store(options: HttpStoreOptions = {}, server: FaultServer = a): HttpStore {
    const s = new HttpStore(`${server.origin}/data/`, { retry: QUICK_RETRY, timeoutMs: 5000, transport, ...options });
    stores.push(s);
    return s;
  }

  describe("retries", () => {
    it("503 then 200: retried, and the value is correct", async () => {
      a.handle = (req, res, n) => (n === 1 ? res.writeHead(503).end("busy") : serveValue(req, res));
      const s = store();
      expect(s.retries).toBe(0);
      expect(await s.get("k")).toEqual(VALUE);
      expect(a.seen.map((s) => s.url)).toEqual(["/data/k", "/data/k"]);
      expect(s.retries).toBe(1); // counted for progress displays
    });

    it("a connection reset in the middle of the body: retried, and the value is correct", async () => {
      a.handle = (req, res, n) => {
        if (n > 1) return serveValue(req, res);
        res.writeHead(200, { "content-length": VALUE.length });
        res.write(VALUE.subarray(0, 50), () => res.socket!.destroy());
      };
      expect(await store().get("k")).toEqual(VALUE);
      expect(a.seen.length).toBe(2);
    });

    it("persistent 500: an HttpStoreError naming the URL, the status and the attempts, after exactly `attempts` requests", async () => {
      a.handle = (_req, res) => res.writeHead(500).end("broken");
      const error = await caught(store({ retry: { ...QUICK_RETRY, attempts: 5 } }).get("c/0/1"));
      expect(error).toBeInstanceOf(HttpStoreError);
      const e = error as HttpStoreError;
      expect(a.seen.length).toBe(5);
      expect(e.attempts).toBe(5);
      expect(e.status).toBe(500);
      expect(e.key).toBe("c/0/1");
      expect(e.url).toBe(`${a.origin}/data/c/0/1`);
      expect(e.message).toContain(`${a.origin}/data/c/0/1`);
      expect(e.message).toContain("after 5 attempts");
    });

    it("404 is absent and not retried; 403 is an error unless configured as absent", async () => {
      a.handle = (req, res) => res.writeHead(req.url!.includes("forbidden") ? 403 : 404).end();
      expect(await store().get("missing")).toBeUndefined();
      expect(await store().get("missing", { offset: 0, length: 4 })).toBeUndefined();
      expect(await store().size("missing")).toBeUndefined();
      expect(a.seen.length).toBe(3);
      a.seen.length = 0;
      const error = await caught(store().get("forbidden"));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as HttpStoreError).status).toBe(403);
      expect(await store({ forbiddenAsAbsent: true }).get("forbidden")).toBeUndefined();
      expect(a.seen.length).toBe(2);
    });

    it("429 with Retry-After: waits and retries", async () => {
      a.handle = (req, res, n) => (n === 1 ? res.writeHead(429, { "retry-after": "1" }).end() : serveValue(req, res));
      expect(await store({ retry: { ...QUICK_RETRY, maxElapsedMs: 10_000 } }).get("k")).toEqual(VALUE);
      expect(a.seen.length).toBe(2);
    });

    it("a Retry-After beyond the retry time limit fails at once instead of waiting", async () => {
      a.handle = (_req, res) => res.writeHead(503, { "retry-after": "3600" }).end();
      const error = await caught(store({ retry: { ...QUICK_RETRY, maxElapsedMs: 10_000 } }).get("k"));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as Error).message).toMatch(/Retry-After/);
      expect(a.seen.length).toBe(1);
    });

    it("the retry time limit bounds retries too (maxElapsedMs 0: one attempt)", async () => {
      a.handle = (_req, res) => res.writeHead(503).end();
      const error = await caught(store({ retry: { ...QUICK_RETRY, attempts: 10, maxElapsedMs: 0 } }).get("k"));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect(a.seen.length).toBe(1);
    });

    it("retries only the configured methods: PUT excluded → one attempt; retry: false → one attempt", async () => {
      a.handle = (_req, res) => res.writeHead(503).end();
      await expect(store({ retry: { ...QUICK_RETRY, methods: ["GET", "HEAD"] } }).set("k", VALUE)).rejects.toBeInstanceOf(HttpStoreError);
      expect(a.seen.map((s) => s.method)).toEqual(["PUT"]);
      a.seen.length = 0;
      await expect(store({ retry: false }).get("k")).rejects.toBeInstanceOf(HttpStoreError);
      expect(a.seen.length).toBe(1);
    });

    it("a timeout is retried; a server that never answers is an HttpStoreError after the attempts", async () => {
      a.handle = (req, res, n) => (n === 1 ? undefined : serveValue(req, res)); // the first request hangs
      expect(await store({ timeoutMs: 100 }).get("k")).toEqual(VALUE);
      expect(a.seen.length).toBe(2);

      a.seen.length = 0;
      a.handle = () => {};
      const error = await caught(store({ timeoutMs: 100 }).get("k"));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as Error).message).toMatch(/within 100 ms.*after 3 attempts/);
      expect(a.seen.length).toBe(3);
    });

    it("the timeout covers the body: a body that stalls is retried", async () => {
      a.handle = (req, res, n) => {
        if (n > 1) return serveValue(req, res);
        res.writeHead(200, { "content-length": VALUE.length });
        res.write(VALUE.subarray(0, 10)); // and nothing more
      };
      expect(await store({ timeoutMs: 100 }).get("k")).toEqual(VALUE);
      expect(a.seen.length).toBe(2);
    });
  });

  describe("connections", () => {
    /** Answers of every kind; error pages of `pageBytes`. */
    function variedAnswers(pageBytes: number): Handler {
      const page = "x".repeat(pageBytes);
      let busy = 0;
      return (req, res) => {
        const key = req.url!.slice("/data/".length);
        if (key === "missing") return void res.writeHead(404, { "content-type": "text/html" }).end(page);
        if (key === "past-end") return void res.writeHead(416, { "content-range": "bytes */100" }).end(page);
        if (key === "busy" && busy++ % 2 === 0) return void res.writeHead(503).end(page);
        if (key === "moved") return void res.writeHead(301, { location: "/data/k" }).end(page);
        if (key === "wrong-range") return void res.writeHead(206, { "content-range": "bytes 0-4/100" }).end(page);
        if (key === "ignored-range") return void res.writeHead(200, { "content-length": VALUE.length }).end(VALUE);
        if (req.method === "PUT") return void req.resume().on("end", () => res.writeHead(201).end(page));
        if (req.method === "DELETE") return void res.writeHead(404).end(page);
        serveValue(req, res);
      };
    }

    /** One request of each kind (12 requests); HEAD is left out: undici closes the connection after every HEAD on purpose. */
    async function round(s: HttpStore): Promise<void> {
      expect(await s.get("k")).toEqual(VALUE);
      expect(await s.get("k", { offset: 1, length: 2 })).toEqual(VALUE.slice(1, 3));
      expect(await s.get("ignored-range", { suffixLength: 2 })).toEqual(VALUE.slice(98));
      expect(await s.get("missing")).toBeUndefined();
      expect((await s.get("past-end", { offset: 100, length: 1 }))!.length).toBe(0);
      expect(await s.get("busy")).toEqual(VALUE);
      expect(await s.get("moved")).toEqual(VALUE);
      await expect(s.get("wrong-range", { offset: 10, length: 5 })).rejects.toBeInstanceOf(HttpStoreError);
      await s.set("k", VALUE);
      await s.delete("gone");
    }

    it("small answers of every kind keep their connection reusable: after a warm-up round, no new connections", async () => {
      a.handle = variedAnswers(2000);
      const s = store();
      await round(s);
      const warm = a.connections;
      for (let i = 0; i < 4; i++) await round(s);
      expect(a.seen.length).toBe(5 * 12);
      expect(a.connections).toBe(warm);
    });

    it("large unwanted bodies are discarded, not left pinning their connections", async () => {
      a.handle = variedAnswers(4 << 20);
      const s = store();
      const before = a.open;
      for (let i = 0; i < 4; i++) await round(s);
      expect(a.seen.length).toBe(4 * 12);
      // A body nobody reads keeps its socket open (and the pool slot taken) for good; a
      // discarded one is closed. Closes reach the server asynchronously: wait for them.
      for (let i = 0; i < 100 && a.open - before > 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(a.open - before).toBeLessThanOrEqual(2);
    });
  });

  describe("ranged answers", () => {
    it("a 200 to a ranged request is sliced when the whole body is affordable", async () => {
      a.handle = (_req, res) => res.writeHead(200, { "content-length": VALUE.length }).end(VALUE);
      const s = store();
      expect(await s.get("k", { offset: 10, length: 5 })).toEqual(VALUE.slice(10, 15));
      expect(await s.get("k", { suffixLength: 3 })).toEqual(VALUE.slice(97));
      expect(await s.get("k", { offset: 98, length: 10 })).toEqual(VALUE.slice(98));
      expect(a.seen.map((r) => r.headers.range)).toEqual(["bytes=10-14", "bytes=-3", "bytes=98-107"]);
    });

    it("a 200 to a ranged request is rejected, not retried, when the whole body is too large", async () => {
      a.handle = (_req, res) => res.writeHead(200, { "content-length": VALUE.length }).end(VALUE);
      const error = await caught(store({ rangeFallbackLimit: 50 }).get("k", { offset: 10, length: 5 }));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as Error).message).toMatch(/ignored "bytes=10-14"/);
      expect(a.seen.length).toBe(1);
    });

    it("a Content-Range other than the range asked is an error (not retried, never returned as the range)", async () => {
      a.handle = (_req, res) => res.writeHead(206, { "content-length": 5, "content-range": "bytes 0-4/100" }).end(VALUE.subarray(0, 5));
      const error = await caught(store().get("k", { offset: 10, length: 5 }));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as Error).message).toContain("bytes 0-4/100");
      expect(a.seen.length).toBe(1);
    });

    it.each([
      ["a missing Content-Range", {}],
      ["a multi-range answer", { "content-type": "multipart/byteranges; boundary=x" }],
      ["a suffix answer without the total size", { "content-range": "bytes 97-99/*" }],
    ])("a 206 with %s is an error", async (_label, headers) => {
      a.handle = (_req, res) => res.writeHead(206, { "content-length": 3, ...headers }).end(VALUE.subarray(97));
      await expect(store().get("k", { suffixLength: 3 })).rejects.toBeInstanceOf(HttpStoreError);
    });

    it("a ranged body longer than asked is an error, with or without Content-Length", async () => {
      const tooLong = VALUE.subarray(10, 30);
      a.handle = (_req, res, n) => {
        const headers: Record<string, string | number> = { "content-range": "bytes 10-14/100" };
        if (n === 1) headers["content-length"] = tooLong.length;
        res.writeHead(206, headers).end(tooLong); // the second answer is chunked
      };
      const s = store();
      await expect(s.get("k", { offset: 10, length: 5 })).rejects.toThrow(/20-byte body/);
      await expect(s.get("k", { offset: 10, length: 5 })).rejects.toThrow(/longer than the 5 bytes/);
      expect(a.seen.length).toBe(2);
    });

    it("a 206 to a request without Range is an error, not the value", async () => {
      a.handle = (_req, res) => res.writeHead(206, { "content-length": 3, "content-range": "bytes 0-2/3" }).end(VALUE.subarray(0, 3));
      await expect(store().get("k")).rejects.toBeInstanceOf(HttpStoreError);
    });

    it("416: empty bytes past the end of an existing object; an error without a usable size", async () => {
      a.handle = (req, res) => {
        const headers: Record<string, string> = req.url!.endsWith("/sized") ? { "content-range": "bytes */100" } : {};
        res.writeHead(416, headers).end();
      };
      const s = store();
      expect((await s.get("sized", { offset: 100, length: 5 }))!.length).toBe(0);
      expect((await s.get("sized", { offset: 500, length: 5 }))!.length).toBe(0);
      // A 416 for a range that starts inside the object contradicts itself.
      await expect(s.get("sized", { offset: 50, length: 5 })).rejects.toBeInstanceOf(HttpStoreError);
      await expect(s.get("unsized", { offset: 100, length: 5 })).rejects.toBeInstanceOf(HttpStoreError);
      expect(a.seen.length).toBe(4);
    });

    it("a content-coded body is refused: its byte offsets are not the object's", async () => {
      a.handle = (_req, res) => res.writeHead(200, { "content-encoding": "gzip", "content-length": 3 }).end("abc");
      await expect(store().get("k")).rejects.toThrow(/Content-Encoding "gzip"/);
    });
  });

  describe("abort", () => {
    it("aborting in flight rejects with AbortError and cancels the request at the server", async () => {
      let closed!: () => void;
      const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
      let arrived!: () => void;
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
      a.handle = (_req, res) => {
        res.on("close", () => closed());
        arrived();
      };
      const controller = new AbortController();
      const pending = store().get("k", undefined, { signal: controller.signal });
      await requestArrived;
      controller.abort(new Error("user gave up"));
      const error = await caught(pending);
      expect(error).toBeInstanceOf(AbortError);
      expect((error as AbortError).key).toBe("k");
      await serverSawClose;
      expect(a.seen.length).toBe(1);
    });

    it("aborting during a retry backoff rejects at once, with no further request", async () => {
      let answered!: () => void;
      const firstAnswer = new Promise<void>((resolve) => (answered = resolve));
      a.handle = (_req, res) => res.writeHead(503).end(answered);
      const s = store({ retry: { attempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000, maxElapsedMs: 600_000 } });
      const controller = new AbortController();
      const pending = s.get("k", undefined, { signal: controller.signal });
      await firstAnswer;
      controller.abort();
      await expect(pending).rejects.toBeInstanceOf(AbortError);
      expect(a.seen.length).toBe(1);
    });
  });

  describe("redirects", () => {
    const credentials = { authorization: "Bearer s3cret", cookie: "session=1", "x-api-key": "k3y" };
    const hook = (r: HttpRequest): HttpRequest => ({ ...r, headers: { ...r.headers, "x-signature": "sig" } });

    it("a same-origin redirect keeps the headers", async () => {
      a.handle = (req, res) => (req.url === "/data/k" ? res.writeHead(307, { location: "/elsewhere/k" }).end() : serveValue(req, res));
      expect(await store({ headers: credentials, onRequest: hook }).get("k")).toEqual(VALUE);
      expect(a.seen.map((s) => s.url)).toEqual(["/data/k", "/elsewhere/k"]);
      for (const seen of a.seen) expect(seen.headers).toMatchObject({ ...credentials, "x-signature": "sig" });
    });

    it("a redirect to another origin drops Authorization, Cookie, custom and hook headers — also on the way back", async () => {
      a.handle = (req, res) => (req.url === "/data/k" ? res.writeHead(302, { location: `${b.origin}/mirror/k` }).end() : serveValue(req, res));
      b.handle = (_req, res) => res.writeHead(301, { location: `${a.origin}/back/k` }).end();
      expect(await store({ headers: credentials, onRequest: hook }).get("k", { offset: 2, length: 3 })).toEqual(VALUE.slice(2, 5));
      expect(a.seen.map((s) => s.url)).toEqual(["/data/k", "/back/k"]);
      expect(b.seen.map((s) => s.url)).toEqual(["/mirror/k"]);
      expect(a.seen[0].headers).toMatchObject({ ...credentials, "x-signature": "sig" });
      for (const seen of [b.seen[0], a.seen[1]]) {
        for (const name of ["authorization", "cookie", "x-api-key", "x-signature"]) expect(seen.headers).not.toHaveProperty(name);
        expect(seen.headers.range).toBe("bytes=2-4"); // the request itself is unchanged
      }
    });

    it("user:password in the base URL becomes a Basic Authorization header, dropped like the others across origins", async () => {
      a.handle = (_req, res) => res.writeHead(307, { location: `${b.origin}/k` }).end();
      b.handle = serveValue;
      const s = new HttpStore(`${a.origin.replace("//", "//user:p%40ss@")}/data/`, { retry: QUICK_RETRY, transport });
      stores.push(s);
      expect(s.url).toBe(`${a.origin}/data/`);
      expect(await s.get("k")).toEqual(VALUE);
      expect(a.seen[0].headers.authorization).toBe(`Basic ${Buffer.from("user:p@ss").toString("base64")}`);
      expect(b.seen[0].headers).not.toHaveProperty("authorization");
    });

    it("a redirect loop is capped at maxRedirects, not retried, and names the URL", async () => {
      a.handle = (req, res) => res.writeHead(302, { location: req.url === "/data/k" ? "/loop/k" : "/data/k" }).end();
      const error = await caught(store({ maxRedirects: 3 }).get("k"));
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as Error).message).toMatch(/more than 3 redirects/);
      expect(a.seen.length).toBe(4);
    });

    it("a 302 in answer to a PUT is refused (it would turn a write into a read); a 307 keeps the method and body", async () => {
      const bodies: string[] = [];
      a.handle = (req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          bodies.push(body);
          if (req.url === "/data/p302") return void res.writeHead(302, { location: "/x" }).end();
          if (req.url === "/data/p307") return void res.writeHead(307, { location: "/moved/p" }).end();
          res.writeHead(201).end();
        });
      };
      const s = store();
      await expect(s.set("p302", new TextEncoder().encode("one"))).rejects.toThrow(/302 redirect of a PUT/);
      await s.set("p307", new TextEncoder().encode("two"));
      expect(a.seen.map((r) => `${r.method} ${r.url}`)).toEqual(["PUT /data/p302", "PUT /data/p307", "PUT /moved/p"]);
      expect(bodies).toEqual(["one", "two", "two"]);
    });
  });

  describe.skipIf(SKIP_NGINX)("a PUT that fails leaves the stored value intact (nginx behind a cutting proxy)", () => {
    let nginx: Nginx;
    beforeAll(async () => {
      nginx = await startNginx();
    });
    afterAll(async () => {
      await nginx?.stop();
    });

    it("the old value survives every attempt of a PUT whose body is cut halfway", async () => {
      const direct = new HttpStore(`${nginx.origin}/cut/`, { transport });
      stores.push(direct);
      const old = iota(1 << 20);
      await direct.set("k", old);

      // The proxy forwards half of each PUT body to nginx, then drops the upstream connection.
      let cut = 0;
      a.handle = (req, res) => {
        const length = Number(req.headers["content-length"]);
        const upstream = httpRequest(`${nginx.origin}${req.url!.replace("/data/", "/cut/")}`, {
          method: "PUT",
          headers: { "content-length": length },
        });
        upstream.on("error", () => {});
        let forwarded = 0;
        let dropped!: () => void;
        const upstreamDropped = new Promise<void>((resolve) => (dropped = resolve));
        req.on("data", (chunk: Buffer) => {
          if (forwarded >= length / 2) return;
          const part = chunk.subarray(0, length / 2 - forwarded);
          forwarded += part.length;
          if (forwarded < length / 2) return void upstream.write(part);
          upstream.write(part, () => {
            upstream.destroy();
            cut++;
            dropped();
          });
        });
        req.on("end", () => void upstreamDropped.then(() => res.writeHead(502).end()));
      };
      const error = await caught(store().set("k", iota(1 << 20).map((x) => 255 - x)));
      expect(error).toBeInstanceOf(StoreError);
      expect(a.seen.length).toBe(3);
      expect(cut).toBe(3);
      const now = await direct.get("k");
      expect(Buffer.from(now!).equals(Buffer.from(old))).toBe(true);
      expect(await readdir(path.join(nginx.dataDir, "cut"))).toEqual(["k"]);
    });
  });
});
