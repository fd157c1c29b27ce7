/**
 * S3Store against a real S3 server (s3rver, started and stopped here) behind a proxy that checks
 * every SigV4 signature and payload hash (s3rver itself does not) and injects faults; and
 * against small fake servers for what s3rver lacks (If-None-Match on PUT, aborting a multipart
 * upload) and for redirects.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { ContainsNodeError, create, createGroup, openArray, openGroup, slice, type CreateArrayOptions } from "../src/index.js";
import { openStore } from "../stores/index.js";
import { S3AccessError, S3Store, S3StoreError, parseS3Location, type S3StoreOptions } from "../stores/s3.js";
import { S3CredentialsError, resolveCredentials } from "../stores/s3-credentials.js";
import { loadProfile } from "../stores/s3-profile.js";
import { HTTP_TRANSPORTS } from "./helpers/http-transports.js";
import { prng } from "./helpers/prng.js";
import { startS3Proxy, type S3Proxy } from "./helpers/s3-proxy.js";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./helpers/s3rver.js";
import { storeContract } from "./helpers/store-contract.js";

const QUICK_RETRY = { attempts: 5, baseDelayMs: 1, maxDelayMs: 8 };
const BYTES_LE = { name: "bytes", configuration: { endian: "little" } };
const ZSTD = { name: "zstd", configuration: { level: 1 } };
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function randomUint16(count: number, seed: number): Uint16Array {
  const rand = prng(seed);
  return Uint16Array.from({ length: count }, () => Math.floor(rand() * 65536));
}

const same = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

describe("S3Store on s3rver (signatures checked by the proxy)", () => {
  let s3: S3Server;
  let proxy: S3Proxy;
  let folder = 0;
  const stores: S3Store[] = [];

  beforeAll(async () => {
    s3 = await startS3rver(["zarr"]);
    proxy = await startS3Proxy(s3.port);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await proxy?.close();
    await s3?.stop();
  });
  beforeEach(() => {
    proxy.fault = () => undefined;
  });

  function store(options: S3StoreOptions = {}, prefix = `t${folder++}`): S3Store {
    const s = new S3Store(`s3://zarr/${prefix}`, { endpoint: proxy.endpoint, credentials: S3RVER_CREDENTIALS, retry: QUICK_RETRY, env: {}, ...options });
    stores.push(s);
    return s;
  }

  for (const transport of HTTP_TRANSPORTS) {
    storeContract(`S3Store (s3rver, ${transport})`, async () => {
      const s = store({ transport });
      return { store: s, cleanup: () => s.close() };
    });
  }

  it("every request the contract and the array tests made was signed correctly (none refused)", () => {
    expect(proxy.seen.length).toBeGreaterThan(0);
    expect(proxy.refused).toBe(0);
  });

  it("the signature covers the payload: x-amz-content-sha256 is the body's SHA-256 and is a signed header", async () => {
    const s = store();
    const value = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) % 256);
    const before = proxy.seen.length;
    await s.set("k", value);
    const put = proxy.seen.slice(before).find((r) => r.method === "PUT")!;
    expect(put.headers["x-amz-content-sha256"]).toBe(sha256(value));
    expect(String(put.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
    expect(proxy.refused).toBe(0);
  });

  it("lists with ListObjectsV2 pagination: 7 keys in pages of 2 are 4 requests", async () => {
    const s = store({ listPageSize: 2 });
    const keys = ["a/zarr.json", "a/c/0", "a/c/1", "b/x", "b/y/z", "c", "d.json"];
    for (const key of keys) await s.set(key, new Uint8Array([1]));
    const before = proxy.seen.length;
    expect(await collect(s.list(""))).toEqual([...keys].sort());
    const lists = proxy.seen.slice(before).filter((r) => r.url.includes("list-type=2"));
    expect(lists.length).toBe(4);
    expect(await collect(s.list("b/"))).toEqual(["b/x", "b/y/z"]);
    expect(await collect(s.list("nothing/"))).toEqual([]);
  });

  describe("arrays written to S3 and read back exactly", () => {
    const shape = [50, 37];
    const layouts: [string, Omit<CreateArrayOptions, "shape" | "dtype">][] = [
      ["v3, zstd", { chunks: [16, 10], codecs: [BYTES_LE, ZSTD], fillValue: 7 }],
      ["v2, blosc", { zarrFormat: 2, chunks: [16, 10], compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 } }],
      ["v3 sharded", { shards: [16, 16], chunks: [4, 4], codecs: [BYTES_LE, ZSTD], fillValue: 3 }],
    ];
    it.each(layouts)("%s", async (_label, layout) => {
      const s = store();
      const model = randomUint16(shape[0] * shape[1], 42);
      const array = await create(s, { path: "x", shape, dtype: "uint16", ...layout });
      await array.write(null, model.slice(), { workers: 0 });
      const patch = randomUint16(5 * 6, 7);
      await array.write([slice(20, 25), slice(3, 9)], patch, { workers: 0 });
      for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) model[(20 + i) * 37 + 3 + j] = patch[i * 6 + j];
      const back = await openArray(store({}, s.prefix.slice(0, -1)), { path: "x" });
      expect(same((await back.read(null, { workers: 0 })).data, model)).toBe(true);
    });

    it("a group without consolidated metadata opens and lists its children (ListObjectsV2)", async () => {
      const s = store();
      await createGroup(s, { path: "" });
      await create(s, { path: "a", shape: [4], chunks: [2], dtype: "uint8" });
      await create(s, { path: "b", shape: [4], chunks: [2], dtype: "uint8", zarrFormat: 3 });
      const group = await openGroup(s);
      expect(await group.children()).toEqual(["a", "b"]);
    });

    it("a shard above the multipart threshold is uploaded in parts, in parallel, and reads back exactly", async () => {
      const s = store({ multipartThreshold: 64 << 10, partSize: 48 << 10, partConcurrency: 3 });
      const model = randomUint16(256 * 256, 5);
      const array = await create(s, { path: "m", shape: [256, 256], dtype: "uint16", shards: [256, 256], chunks: [32, 32], codecs: [BYTES_LE] });
      const before = proxy.seen.length;
      await array.write(null, model.slice(), { workers: 0 });
      const seen = proxy.seen.slice(before);
      const parts = seen.filter((r) => r.method === "PUT" && r.url.includes("partNumber="));
      // 128 KiB of data plus the index: 3 parts of 48 KiB, the last one short.
      expect(parts.length).toBe(3);
      // Parts travel in parallel, so the proxy may see them in any order: compare by part number.
      const partNumber = (url: string) => Number(/[?&]partNumber=(\d+)/.exec(url)![1]);
      const bySize = [...parts].sort((a, b) => partNumber(a.url) - partNumber(b.url)).map((p) => p.bodyBytes);
      expect(bySize).toEqual([48 << 10, 48 << 10, (128 << 10) + 64 * 16 + 4 - (96 << 10)]);
      expect(seen.filter((r) => r.method === "POST" && r.url.includes("uploads")).length).toBe(1);
      expect(seen.filter((r) => r.method === "POST" && r.url.includes("uploadId=")).length).toBe(1);
      const back = await openArray(store({}, s.prefix.slice(0, -1)), { path: "m" });
      expect(same((await back.read(null, { workers: 0 })).data, model)).toBe(true);
      expect(proxy.refused).toBe(0);
    });
  });

  describe("credentials", () => {
    it("a wrong secret is an S3AccessError, and nothing is written", async () => {
      const good = store();
      const bad = store({ credentials: { accessKeyId: "S3RVER", secretAccessKey: "not-the-secret" } }, good.prefix.slice(0, -1));
      const refusedBefore = proxy.refused;
      const error = await bad.set("k", new Uint8Array([1, 2, 3])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3AccessError);
      expect((error as S3AccessError).s3Code).toBe("SignatureDoesNotMatch");
      expect((error as S3AccessError).key).toBe("k");
      expect(await bad.get("k").catch((e: unknown) => e)).toBeInstanceOf(S3AccessError);
      expect(proxy.refused).toBeGreaterThan(refusedBefore);
      expect(await good.get("k")).toBeUndefined();
      // A multipart write is refused at its first request: no upload is started.
      const big = store({ credentials: { accessKeyId: "S3RVER", secretAccessKey: "nope" }, multipartThreshold: 1024, partSize: 512 }, good.prefix.slice(0, -1));
      await expect(big.set("big", new Uint8Array(4096))).rejects.toBeInstanceOf(S3AccessError);
      expect(await good.get("big")).toBeUndefined();
    });

    it("anonymous access sends no credentials at all", async () => {
      const writer = store();
      await writer.set("pub", new Uint8Array([4, 2]));
      const anonymous = store({ anonymous: true, credentials: undefined }, writer.prefix.slice(0, -1));
      const before = proxy.seen.length;
      expect(await anonymous.get("pub")).toEqual(new Uint8Array([4, 2]));
      const sent = proxy.seen.slice(before);
      expect(sent.length).toBe(1);
      expect(Object.keys(sent[0].headers).filter((h) => h === "authorization" || h.startsWith("x-amz-security"))).toEqual([]);
    });

    it("credentials never appear in errors: message, String(), JSON, stack, cause", async () => {
      const secret = "SECRETsentinel0123456789";
      const token = "TOKENsentinel0123456789";
      const bad = store({ credentials: { accessKeyId: "S3RVER", secretAccessKey: secret, sessionToken: token } });
      const errors: unknown[] = [];
      errors.push(await bad.set("k", new Uint8Array(8)).catch((e: unknown) => e));
      errors.push(await bad.get("k").catch((e: unknown) => e));
      errors.push(await bad.size("k").catch((e: unknown) => e));
      proxy.fault = () => "503";
      errors.push(await store({ credentials: { accessKeyId: "S3RVER", secretAccessKey: secret, sessionToken: token } }).get("k").catch((e: unknown) => e));
      proxy.fault = () => undefined;
      const unreachable = store({ endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: "S3RVER", secretAccessKey: secret, sessionToken: token }, retry: false });
      errors.push(await unreachable.get("k").catch((e: unknown) => e));
      for (const error of errors) {
        expect(error).toBeInstanceOf(Error);
        let text = "";
        for (let e: unknown = error; e instanceof Error; e = (e as Error).cause) text += `${String(e)}\n${JSON.stringify(e)}\n${e.stack}\n`;
        expect(text).not.toContain(secret);
        expect(text).not.toContain(token);
        expect(text).not.toMatch(/Signature=|AWS4-HMAC-SHA256 Credential/);
      }
    });
  });

  describe("faults between the store and the server", () => {
    it("resets, 503s, slow and cut bodies are retried; the array reads back exactly, nothing lost", async () => {
      const s = store({ timeoutMs: 5000 });
      const model = randomUint16(64 * 64, 11);
      const faults = ["reset", "503", "slow-body", "cut-body"] as const;
      let failures = 0;
      proxy.fault = (_request, n) => {
        const fault = n % 4 === 0 ? faults[(n / 4) % faults.length] : undefined;
        if (fault !== undefined && fault !== "slow-body") failures++;
        return fault;
      };
      const array = await create(s, { path: "f", shape: [64, 64], dtype: "uint16", shards: [32, 32], chunks: [8, 8], codecs: [BYTES_LE, ZSTD] });
      await array.write(null, model.slice(), { workers: 0 });
      const back = await openArray(s, { path: "f" });
      expect(same((await back.read(null, { workers: 0 })).data, model)).toBe(true);
      // Every reset, 503 and cut body cost one retry (a cut body of a successful PUT answer may cost none).
      expect(failures).toBeGreaterThan(3);
      expect(s.retries).toBeGreaterThanOrEqual(failures - 2);
      proxy.fault = () => undefined;
      const clean = await openArray(store({}, s.prefix.slice(0, -1)), { path: "f" });
      expect(same((await clean.read(null, { workers: 0 })).data, model)).toBe(true);
    });
  });

  it("openStore takes s3:// locations with an endpoint and credentials", async () => {
    const writer = store();
    await writer.set("k", new Uint8Array([7]));
    const opened = await openStore(`s3://zarr/${writer.prefix}`, { s3: { endpoint: proxy.endpoint, credentials: S3RVER_CREDENTIALS, env: {} } });
    expect(opened).toBeInstanceOf(S3Store);
    stores.push(opened as S3Store);
    expect(await opened.get("k")).toEqual(new Uint8Array([7]));
  });
});

/** A small S3 look-alike for what s3rver does not do. */
async function fakeS3(handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<{ endpoint: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("S3Store against fake servers (what s3rver lacks)", () => {
  const options = (endpoint: string): S3StoreOptions => ({ endpoint, credentials: S3RVER_CREDENTIALS, env: {}, retry: QUICK_RETRY });

  it("setIfAbsent sends If-None-Match: * and reports 412 as false (s3rver ignores the header)", async () => {
    const stored = new Set<string>();
    const seen: (string | undefined)[] = [];
    const server = await fakeS3((req, res) => {
      seen.push(req.headers["if-none-match"] as string | undefined);
      if (req.headers["if-none-match"] === "*" && stored.has(req.url!)) return void res.writeHead(412).end("<Error><Code>PreconditionFailed</Code></Error>");
      stored.add(req.url!);
      res.writeHead(200).end();
    });
    const s = new S3Store("s3://b/p", options(server.endpoint));
    try {
      expect(await s.setIfAbsent("zarr.json", new Uint8Array([1]))).toBe(true);
      expect(await s.setIfAbsent("zarr.json", new Uint8Array([2]))).toBe(false);
      await s.set("zarr.json", new Uint8Array([3]));
      expect(seen).toEqual(["*", "*", undefined]);
    } finally {
      await s.close();
      await server.close();
    }
  });

  it("create() without overwrite writes its metadata with If-None-Match: a node created concurrently is a ContainsNodeError", async () => {
    const puts: { url: string; ifNoneMatch: string | undefined }[] = [];
    // The existence check finds nothing; by the time of the exclusive write, another creator has won.
    const server = await fakeS3((req, res) => {
      if (req.method !== "PUT") return void res.writeHead(404).end();
      const ifNoneMatch = req.headers["if-none-match"] as string | undefined;
      puts.push({ url: req.url!, ifNoneMatch });
      if (ifNoneMatch === "*") return void res.writeHead(412).end("<Error><Code>PreconditionFailed</Code></Error>");
      res.writeHead(200).end();
    });
    const s = new S3Store("s3://b/p", options(server.endpoint));
    try {
      await expect(create(s, { path: "x", shape: [4], chunks: [2], dtype: "uint8" })).rejects.toThrow(ContainsNodeError);
      // The root group is made as a parent (plainly); the array's own document is exclusive.
      expect(puts).toEqual([
        { url: "/b/p/zarr.json", ifNoneMatch: undefined },
        { url: "/b/p/x/zarr.json", ifNoneMatch: "*" },
      ]);
    } finally {
      await s.close();
      await server.close();
    }
  });

  it("a multipart upload whose part fails is aborted (DELETE ?uploadId), parts bounded in flight", async () => {
    const requests: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const server = await fakeS3((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const url = new URL(req.url!, "http://x");
      if (req.method === "POST" && url.searchParams.has("uploads")) {
        return void res.writeHead(200).end("<InitiateMultipartUploadResult><UploadId>up-1</UploadId></InitiateMultipartUploadResult>");
      }
      if (req.method === "PUT" && url.searchParams.has("partNumber")) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        setTimeout(() => {
          inFlight--;
          if (url.searchParams.get("partNumber") === "3") return void res.writeHead(400).end("<Error><Code>InvalidPart</Code><Message>bad part</Message></Error>");
          res.writeHead(200, { etag: `"e${url.searchParams.get("partNumber")}"` }).end();
        }, 20);
        return;
      }
      if (req.method === "DELETE" && url.searchParams.get("uploadId") === "up-1") return void res.writeHead(204).end();
      res.writeHead(500).end();
    });
    const s = new S3Store("s3://b/p", { ...options(server.endpoint), multipartThreshold: 1000, partSize: 100, partConcurrency: 2 });
    try {
      const error = await s.set("big", new Uint8Array(1000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3StoreError);
      expect((error as S3StoreError).s3Code).toBe("InvalidPart");
      expect(requests).toContain("DELETE /b/p/big?uploadId=up-1");
      expect(requests.filter((r) => r.startsWith("POST") && r.includes("uploadId="))).toEqual([]);
      expect(maxInFlight).toBeLessThanOrEqual(2);
      // Parts stop being started after the failure: far fewer than the 10 parts.
      expect(requests.filter((r) => r.includes("partNumber=")).length).toBeLessThan(10);
    } finally {
      await s.close();
      await server.close();
    }
  });

  it("a redirect to another host does not carry the signature or the session token", async () => {
    const other = await fakeS3((req, res) => {
      res.writeHead(200, { "content-length": "2" }).end(Buffer.from([1, 2]));
      otherHeaders.push(req.headers);
    });
    const otherHeaders: IncomingMessage["headers"][] = [];
    const first = await fakeS3((req, res) => res.writeHead(307, { location: `${other.endpoint}${req.url}` }).end());
    const s = new S3Store("s3://b/p", { ...options(first.endpoint), credentials: { ...S3RVER_CREDENTIALS, sessionToken: "tok" } });
    try {
      expect(await s.get("k")).toEqual(new Uint8Array([1, 2]));
      expect(otherHeaders.length).toBe(1);
      expect(Object.keys(otherHeaders[0]).filter((h) => h === "authorization" || h.startsWith("x-amz-"))).toEqual([]);
    } finally {
      await s.close();
      await first.close();
      await other.close();
    }
  });
});

describe("S3 locations and the credential chain", () => {
  it("parses s3://, virtual-hosted and path-style URLs", () => {
    expect(parseS3Location("s3://bucket/a/b/")).toEqual({ bucket: "bucket", prefix: "a/b" });
    expect(parseS3Location("https://my-bucket.s3.eu-west-1.amazonaws.com/data/x.zarr")).toMatchObject({ bucket: "my-bucket", prefix: "data/x.zarr", pathStyle: false, region: "eu-west-1" });
    expect(parseS3Location("https://s3.us-west-2.amazonaws.com/my-bucket/x.zarr")).toMatchObject({ bucket: "my-bucket", prefix: "x.zarr", pathStyle: true, region: "us-west-2" });
    expect(() => parseS3Location("s3:///nobucket")).toThrow();
  });

  it("order: options, then a named profile, then the environment, then AWS_PROFILE / default; anonymous only when asked", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "zarrflow-aws-"));
    try {
      const credentialsFile = path.join(dir, "credentials");
      const configFile = path.join(dir, "config");
      await writeFile(credentialsFile, "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[work]\naws_access_key_id = WORK\naws_secret_access_key = worksecret\naws_session_token = worktoken\n");
      await writeFile(configFile, "[default]\nregion = eu-north-1\n[profile work]\nregion = ap-south-1\nendpoint_url = http://127.0.0.1:1\n");
      const files = { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile };
      const load = (env: Record<string, string>) => (name: string) => loadProfile(name, { ...files, ...env });
      const keysEnv = { AWS_ACCESS_KEY_ID: "ENV", AWS_SECRET_ACCESS_KEY: "envsecret", AWS_SESSION_TOKEN: "envtoken" };

      const explicit = await resolveCredentials({ credentials: { accessKeyId: "OPT", secretAccessKey: "s" }, env: keysEnv, loadProfile: load(keysEnv) });
      expect(explicit.credentials?.accessKeyId).toBe("OPT");
      const named = await resolveCredentials({ profile: "work", env: keysEnv, loadProfile: load(keysEnv) });
      expect(named.credentials).toEqual({ accessKeyId: "WORK", secretAccessKey: "worksecret", sessionToken: "worktoken" });
      expect(named.profile?.region).toBe("ap-south-1");
      const fromEnv = await resolveCredentials({ env: keysEnv, loadProfile: load(keysEnv) });
      expect(fromEnv.credentials).toEqual({ accessKeyId: "ENV", secretAccessKey: "envsecret", sessionToken: "envtoken" });
      const awsProfile = await resolveCredentials({ env: { AWS_PROFILE: "work" }, loadProfile: load({}) });
      expect(awsProfile.credentials?.accessKeyId).toBe("WORK");
      const fallback = await resolveCredentials({ env: {}, loadProfile: load({}) });
      expect(fallback.credentials?.accessKeyId).toBe("DEF");
      const anonymous = await resolveCredentials({ anonymous: true, env: keysEnv, loadProfile: load(keysEnv) });
      expect(anonymous.credentials).toBeUndefined();
      await expect(resolveCredentials({ env: {}, loadProfile: async () => undefined })).rejects.toBeInstanceOf(S3CredentialsError);
      await expect(resolveCredentials({ profile: "missing", env: {}, loadProfile: load({}) })).rejects.toBeInstanceOf(S3CredentialsError);
      const half = await resolveCredentials({ env: { AWS_ACCESS_KEY_ID: "X" }, loadProfile: load({}) }).catch((e: unknown) => e);
      expect(half).toBeInstanceOf(S3CredentialsError);
      expect(String(half)).toMatch(/secret access key is missing/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("AWS_REGION and AWS_ENDPOINT_URL (path-style) are used", async () => {
    const seen: string[] = [];
    const server = await fakeS3((req, res) => {
      seen.push(`${req.url} ${String(req.headers.authorization).match(/Credential=[^/]+\/\d+\/([^/]+)/)?.[1]}`);
      res.writeHead(404).end();
    });
    const s = new S3Store("s3://bkt/pre", { env: { AWS_REGION: "eu-central-1", AWS_ENDPOINT_URL: server.endpoint, AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "B" } });
    try {
      expect(await s.get("k")).toBeUndefined();
      expect(seen).toEqual(["/bkt/pre/k eu-central-1"]);
    } finally {
      await s.close();
      await server.close();
    }
  });
});
