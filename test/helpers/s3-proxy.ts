/**
 * A proxy in front of s3rver for the S3 tests. s3rver parses SigV4 headers but does not check
 * the signature, so this proxy does, with its own SigV4 implementation (node:crypto, written
 * from the AWS specification): the canonical request, the payload hash against the body
 * received, and the signature for the one secret it knows. A request that fails is answered
 * 403 SignatureDoesNotMatch (or XAmzContentSHA256Mismatch) and never reaches s3rver, so nothing
 * is written. It also injects faults (resets, 503s, slow bodies) and counts requests.
 */
import { createHash, createHmac } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";

export type Fault = "reset" | "503" | "slow-body" | "cut-body" | undefined;

export interface ProxyRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Bytes of the request body. */
  bodyBytes: number;
}

export interface S3Proxy {
  endpoint: string;
  /** Every request received (faulted ones included). */
  seen: ProxyRequest[];
  /** Requests refused for a bad signature or payload hash. */
  refused: number;
  /** Decides a fault for the n-th request (1-based); none by default. */
  fault: (request: ProxyRequest, n: number) => Fault;
  close(): Promise<void>;
}

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "transfer-encoding"]);

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/** Why the request's SigV4 signature is wrong, or undefined when it is right. */
export function checkSigV4(method: string, rawUrl: string, headers: http.IncomingHttpHeaders, body: Buffer, secrets: Record<string, string>): string | undefined {
  const auth = headers.authorization;
  if (auth === undefined) return undefined; // anonymous: s3rver allows it, as a public bucket would
  const parsed = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!parsed) return "malformed Authorization";
  const [, accessKey, date, region, signedHeaders, signature] = parsed;
  const secret = secrets[accessKey];
  if (secret === undefined) return "unknown access key";
  const payloadHash = headers["x-amz-content-sha256"];
  if (payloadHash !== sha256(body)) return `payload hash ${String(payloadHash)} is not the body's`;
  const names = signedHeaders.split(";");
  if (!names.includes("host") || !names.includes("x-amz-content-sha256") || !names.includes("x-amz-date")) return "host, x-amz-date or x-amz-content-sha256 not signed";
  const url = new URL(rawUrl, "http://x");
  const path = url.pathname.split("/").map((s) => rfc3986(decodeURIComponent(s))).join("/");
  const query = [...url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = names.map((name) => `${name}:${String(headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonical = [method, path, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const amzDate = String(headers["x-amz-date"]);
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), "s3"), "aws4_request");
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  return expected === signature ? undefined : "signature mismatch";
}

export async function startS3Proxy(upstreamPort: number, secrets: Record<string, string> = { S3RVER: "S3RVER" }): Promise<S3Proxy> {
  const agent = new http.Agent({ keepAlive: true });
  const state: S3Proxy = {
    endpoint: "",
    seen: [],
    refused: 0,
    fault: () => undefined,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const request: ProxyRequest = { method: req.method!, url: req.url!, headers: req.headers, bodyBytes: body.length };
      state.seen.push(request);
      const fault = state.fault(request, state.seen.length);
      if (fault === "reset") return void req.socket.destroy();
      if (fault === "503") {
        return void res.writeHead(503, { "content-type": "application/xml" }).end("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
      }
      const why = checkSigV4(req.method!, req.url!, req.headers, body, secrets);
      if (why !== undefined) {
        state.refused++;
        const code = why.startsWith("payload hash") ? "XAmzContentSHA256Mismatch" : "SignatureDoesNotMatch";
        return void res.writeHead(403, { "content-type": "application/xml" }).end(`<Error><Code>${code}</Code><Message>${why}</Message></Error>`);
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HOP.has(name)));
      const upstream = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: { ...headers, "content-length": String(body.length) }, agent }, (response) => {
        const out = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !HOP.has(name)));
        res.writeHead(response.statusCode ?? 502, out);
        if (fault === "cut-body") {
          // Half the body, then the connection drops: the client sees a truncated answer.
          response.once("data", (chunk: Buffer) => {
            res.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)));
            setTimeout(() => res.socket?.destroy(), 5);
            response.destroy();
          });
          return;
        }
        if (fault === "slow-body") {
          response.pause();
          setTimeout(() => response.pipe(res), 300);
          return;
        }
        response.pipe(res);
      });
      upstream.once("error", (error) => (res.headersSent ? res.destroy(error) : res.writeHead(502).end(String(error))));
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}
