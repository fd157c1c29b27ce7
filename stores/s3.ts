/**
 * A store over S3 (and S3-compatible servers): key "a/c/0" is the object `<prefix>/a/c/0` in
 * the bucket. Built on the HTTP core (http-core.ts): the same retries, timeouts, aborts,
 * redirect policy and range checks as HttpStore, on undici (Node) or fetch (anywhere).
 *
 *  - Requests are signed with AWS Signature V4 (aws4fetch's signer) before every attempt; the
 *    signature covers the SHA-256 of the payload (never UNSIGNED-PAYLOAD). Anonymous access
 *    sends nothing to sign.
 *  - `list(prefix)` is ListObjectsV2, page by page (bounded memory per page).
 *  - `set` is one PUT up to `multipartThreshold`, then a multipart upload whose parts go in
 *    parallel (bounded) and which is aborted when any part fails, so no parts are left behind.
 *  - `setIfAbsent` sends `If-None-Match: *` (S3 answers 412 when the key exists).
 *  - Credentials never appear in errors: messages carry the URL without its query, S3's error
 *    code and message, never a header.
 */
import { AwsV4Signer } from "aws4fetch";

import { StoreError, UnsupportedOperationError, throwIfAborted, type ErrorContext } from "../src/errors.js";
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";
import {
  HttpCore,
  HttpRangeError,
  HttpStoreError,
  checkRange,
  displayUrl,
  encodeKey,
  readBody,
  type Fail,
  type HttpFailure,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type RetryOptions,
} from "./http-core.js";
import { resolveTransport, type TransportOption } from "./http-transport.js";
import {
  defaultProfileLoader,
  environment,
  resolveCredentials,
  type ProfileLoader,
  type ResolvedCredentials,
  type S3Credentials,
} from "./s3-credentials.js";

export interface S3StoreOptions {
  /** Explicit credentials: first in the chain. */
  credentials?: S3Credentials;
  /** A profile of the AWS shared files (Node), before the environment's keys (as `--profile`). */
  profile?: string;
  /** Send requests unsigned (public buckets); no credentials are looked for. */
  anonymous?: boolean;
  /** Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, "us-east-1"). */
  region?: string;
  /**
   * An S3-compatible server's URL, such as "http://127.0.0.1:9000" (default AWS_ENDPOINT_URL,
   * the profile's endpoint_url, or AWS). A custom endpoint uses path-style addressing.
   */
  endpoint?: string;
  /** `<endpoint>/<bucket>/<key>` instead of `<bucket>.<endpoint>/<key>` (default: true with a custom endpoint). */
  pathStyle?: boolean;
  readOnly?: boolean;
  /** Objects of at least this size are written by multipart upload (default 16 MiB; at least 5 MiB on AWS). */
  multipartThreshold?: number;
  /** Size of each part but the last (default 8 MiB; AWS requires 5 MiB or more). */
  partSize?: number;
  /** Parts uploaded at once (default 4). */
  partConcurrency?: number;
  /** Keys per ListObjectsV2 page (default 1000, S3's largest). */
  listPageSize?: number;
  /** Read 403 as "absent", for buckets that deny ListBucket (default false: 403 is an error, as for a wrong secret). */
  forbiddenAsAbsent?: boolean;
  transport?: TransportOption;
  connections?: number;
  timeoutMs?: number;
  retry?: RetryOptions | false;
  maxRedirects?: number;
  /** Environment to read (default `process.env` where there is one); tests pass their own. */
  env?: Record<string, string | undefined>;
  /** Reads a profile of the AWS shared files (default: ~/.aws on Node). */
  loadProfile?: ProfileLoader;
}

/** S3 refused a request: S3's error code (AccessDenied, SignatureDoesNotMatch, NoSuchBucket…) is kept. */
export class S3StoreError extends HttpStoreError {
  override readonly code: string = "S3_ERROR";
  constructor(
    message: string,
    failure: HttpFailure,
    readonly s3Code: string | undefined,
    context: ErrorContext = {},
  ) {
    super(message, failure, context);
  }
}

/** The credentials were refused (wrong key or secret, expired token, no permission). */
export class S3AccessError extends S3StoreError {
  override readonly code: string = "S3_ACCESS_DENIED";
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ACCESS_CODES = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AllAccessDisabled"]);
const MiB = 1 << 20;

/** Where a bucket lives: parsed from `s3://bucket/prefix` or an S3 https URL. */
export interface S3Location {
  bucket: string;
  prefix: string;
  /** Set when the location was an https URL: its endpoint and addressing style. */
  endpoint?: string;
  pathStyle?: boolean;
  region?: string;
}

/** Parses `s3://bucket/prefix`, `https://bucket.s3.region.amazonaws.com/prefix` or `https://s3.region.amazonaws.com/bucket/prefix`. */
export function parseS3Location(location: string): S3Location {
  let url: URL;
  try {
    url = new URL(location);
  } catch (error) {
    throw new StoreError(`not an S3 location: ${location}`, { key: location, cause: error });
  }
  const strip = (p: string) => p.split("/").filter((s) => s !== "").map(decodeURIComponent).join("/");
  if (url.protocol === "s3:") {
    if (!url.hostname) throw new StoreError(`an S3 location needs a bucket: s3://bucket/prefix, not ${location}`, { key: location });
    return { bucket: url.hostname, prefix: strip(url.pathname) };
  }
  if (url.protocol === "https:" || url.protocol === "http:") {
    const virtual = /^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$/.exec(url.hostname);
    if (virtual) {
      const region = virtual[2] && virtual[2] !== "dualstack" ? virtual[2] : undefined;
      return { bucket: virtual[1], prefix: strip(url.pathname), endpoint: `${url.protocol}//${url.host.slice(virtual[1].length + 1)}`, pathStyle: false, region };
    }
    const [bucket = "", ...rest] = url.pathname.split("/").filter((s) => s !== "");
    if (!bucket) throw new StoreError(`no bucket in the S3 URL ${location}`, { key: location });
    const regional = /^s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname);
    return { bucket: decodeURIComponent(bucket), prefix: strip(rest.join("/")), endpoint: url.origin, pathStyle: true, region: regional?.[1] };
  }
  throw new StoreError(`not an S3 location (use s3://bucket/prefix): ${location}`, { key: location });
}

export class S3Store implements Store {
  readonly bucket: string;
  /** The key prefix inside the bucket ("" or ending in "/"). */
  readonly prefix: string;
  readonly readOnly: boolean;
  readonly #options: S3StoreOptions;
  readonly #location: S3Location;
  readonly #core: HttpCore;
  readonly #multipartThreshold: number;
  readonly #partSize: number;
  readonly #partConcurrency: number;
  readonly #pageSize: number;
  /** Resolved once, on the first request: credentials, region and the bucket's URL. */
  #setup: Promise<{ credentials: S3Credentials | undefined; region: string; base: URL; signingCache: Map<string, ArrayBuffer> }> | undefined;
  /** Set when the server answered a suffix range wrongly (some S3 look-alikes do); suffixes then go by HEAD + range. */
  #noSuffixRanges = false;

  constructor(location: string | S3Location, options: S3StoreOptions = {}) {
    this.#location = typeof location === "string" ? parseS3Location(location) : location;
    const { bucket, prefix } = this.#location;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) {
      throw new StoreError(`invalid S3 bucket name "${bucket}"`, { key: bucket });
    }
    if (prefix !== "") encodeKey(prefix, "an S3 store prefix");
    this.bucket = bucket;
    this.prefix = prefix === "" ? "" : `${prefix}/`;
    this.readOnly = options.readOnly ?? false;
    this.#options = options;
    this.#multipartThreshold = positive(options.multipartThreshold ?? 16 * MiB, "multipartThreshold");
    this.#partSize = positive(options.partSize ?? 8 * MiB, "partSize");
    this.#partConcurrency = positive(options.partConcurrency ?? 4, "partConcurrency");
    this.#pageSize = Math.min(1000, positive(options.listPageSize ?? 1000, "listPageSize"));
    const connections = positive(options.connections ?? 16, "connections");
    this.#core = new HttpCore({
      transport: resolveTransport(options.transport, connections),
      onRequest: (request) => this.#sign(request),
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      maxRedirects: options.maxRedirects,
      absent: options.forbiddenAsAbsent ? [404, 403] : [404],
    });
  }

  /** `s3://bucket/prefix/`, for messages. */
  get url(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  get retries(): number {
    return this.#core.retries;
  }

  /** Where the credentials came from ("options", "environment", "profile x", "anonymous"); never the keys. */
  credentialSource: string | undefined;

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    checkRange(key, range);
    const url = await this.#urlOf(key);
    return this.#mapErrors(async () => {
      if (range === undefined) return this.#core.getWhole(url, key, signal);
      const length = "suffixLength" in range ? range.suffixLength : range.length;
      if (length === 0) return (await this.#core.size(url, key, signal)) === undefined ? undefined : new Uint8Array(0);
      if ("suffixLength" in range && this.#noSuffixRanges) return this.#suffixByHead(url, key, range.suffixLength, signal);
      try {
        return await this.#core.getRange(url, key, range, signal);
      } catch (error) {
        if ("offset" in range && error instanceof HttpStoreError && error.status === 416) {
          // A range past the end clips to empty bytes; not every server says the size in the 416.
          const size = await this.#core.size(url, key, signal);
          if (size === undefined) return undefined;
          if (range.offset >= size) return new Uint8Array(0);
          throw error;
        }
        if (!("suffixLength" in range) || !(error instanceof HttpRangeError)) throw error;
        this.#noSuffixRanges = true;
        return this.#suffixByHead(url, key, range.suffixLength, signal);
      }
    }, key);
  }

  async size(key: string, options?: StoreCallOptions): Promise<number | undefined> {
    throwIfAborted(options?.signal, { key });
    const url = await this.#urlOf(key);
    return this.#mapErrors(() => this.#core.size(url, key, options?.signal), key);
  }

  async set(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> {
    await this.#put(key, value, false, options?.signal);
  }

  /** Writes only when the key does not exist yet (`If-None-Match: *`); false when it does. */
  async setIfAbsent(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<boolean> {
    return this.#put(key, value, true, options?.signal);
  }

  async delete(key: string, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("delete", key);
    throwIfAborted(signal, { key });
    const url = await this.#urlOf(key);
    await this.#request<void>("DELETE", url, key, signal, undefined, {}, async (response, fail) => {
      // S3 answers 204 whether or not the key existed.
      if (response.status === 200 || response.status === 204 || response.status === 404) return void (await response.dump());
      return this.#refuse(response, fail, key);
    });
  }

  async *list(prefix: string, options?: StoreCallOptions): AsyncIterable<string> {
    const signal = options?.signal;
    throwIfAborted(signal, { key: prefix });
    const { base } = await this.#ready();
    const full = this.prefix + prefix;
    let token: string | undefined;
    do {
      const url = new URL(base.href);
      url.searchParams.set("list-type", "2");
      url.searchParams.set("max-keys", String(this.#pageSize));
      if (full !== "") url.searchParams.set("prefix", full);
      if (token !== undefined) url.searchParams.set("continuation-token", token);
      const page = await this.#request("GET", url, prefix, signal, undefined, {}, async (response, fail) => {
        if (response.status !== 200) return this.#refuse(response, fail, prefix);
        return xmlText(await readBody(response, undefined, 32 * MiB, fail));
      });
      const truncated = xmlValues(page, "IsTruncated")[0] === "true";
      token = truncated ? xmlValues(page, "NextContinuationToken")[0] : undefined;
      if (truncated && token === undefined) {
        throw new S3StoreError("a truncated ListObjectsV2 page without NextContinuationToken", { method: "GET", url: displayUrl(url), status: 200, attempts: 1 }, undefined, { key: prefix });
      }
      for (const contents of xmlElements(page, "Contents")) {
        const key = xmlValues(contents, "Key")[0];
        if (key === undefined || !key.startsWith(full)) continue;
        const relative = key.slice(this.prefix.length);
        // Keys the store could not address (folder markers "a/", "a//b") are not Zarr keys.
        if (relative === "" || relative.endsWith("/") || relative.includes("//")) continue;
        yield relative;
      }
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    await this.#core.close();
  }

  #checkWritable(operation: string, key: string): void {
    if (this.readOnly) throw new UnsupportedOperationError(`cannot ${operation}: the S3 store is read-only`, { key });
  }

  async #put(key: string, value: Uint8Array, exclusive: boolean, signal: AbortSignal | undefined): Promise<boolean> {
    this.#checkWritable("set", key);
    throwIfAborted(signal, { key });
    const url = await this.#urlOf(key);
    if (value.byteLength >= this.#multipartThreshold) return this.#multipart(url, key, value, exclusive, signal);
    // A copy taken now: the caller may reuse its buffer while a retry is still pending.
    const body = new Uint8Array(value);
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (exclusive) headers["if-none-match"] = "*";
    return this.#request("PUT", url, key, signal, body, headers, async (response, fail) => {
      if (response.status === 200 || response.status === 201 || response.status === 204 || (exclusive && response.status === 412)) {
        await response.dump();
        return response.status !== 412;
      }
      return this.#refuse(response, fail, key);
    });
  }

  /** Multipart upload: initiate, parts in parallel (at most partConcurrency), complete; abort on any failure. */
  async #multipart(url: URL, key: string, value: Uint8Array, exclusive: boolean, signal: AbortSignal | undefined): Promise<boolean> {
    const initiate = new URL(url.href);
    initiate.searchParams.set("uploads", "");
    const uploadId = await this.#request("POST", initiate, key, signal, new Uint8Array(0), {}, async (response, fail) => {
      if (response.status !== 200) return this.#refuse(response, fail, key);
      const id = xmlValues(xmlText(await readBody(response, undefined, MiB, fail)), "UploadId")[0];
      return id || fail("InitiateMultipartUpload answered without an UploadId", response, { final: true });
    }, false);
    const withUpload = (params: Record<string, string>) => {
      const target = new URL(url.href);
      target.searchParams.set("uploadId", uploadId);
      for (const [name, v] of Object.entries(params)) target.searchParams.set(name, v);
      return target;
    };
    // Parts stop being started once one fails; those in flight are awaited before the abort.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const count = Math.ceil(value.byteLength / this.#partSize);
      const etags: string[] = new Array(count);
      let next = 0;
      const worker = async () => {
        while (next < count && !controller.signal.aborted) {
          const index = next++;
          // Each part is its own copy: the caller's buffer may change while a retry is pending.
          const part = value.slice(index * this.#partSize, Math.min(value.byteLength, (index + 1) * this.#partSize));
          etags[index] = await this.#request("PUT", withUpload({ partNumber: String(index + 1) }), key, controller.signal, part, {}, async (response, fail) => {
            if (response.status !== 200) return this.#refuse(response, fail, key);
            await response.dump();
            return response.header("etag") ?? fail(`part ${index + 1} was stored without an ETag`, response, { final: true });
          });
        }
      };
      const workers = Array.from({ length: Math.min(this.#partConcurrency, count) }, () =>
        worker().catch((error: unknown) => {
          controller.abort(error);
          throw error;
        }),
      );
      const results = await Promise.allSettled(workers);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      throwIfAborted(signal, { key });
      const xml =
        "<CompleteMultipartUpload>" +
        etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEscape(etag)}</ETag></Part>`).join("") +
        "</CompleteMultipartUpload>";
      const headers: Record<string, string> = { "content-type": "application/xml" };
      if (exclusive) headers["if-none-match"] = "*";
      // Completing twice is harmless (the second finds the upload done), so it may be retried.
      return await this.#request("POST", withUpload({}), key, signal, new TextEncoder().encode(xml), headers, async (response, fail) => {
        if (exclusive && response.status === 412) {
          await response.dump();
          return false;
        }
        if (response.status !== 200) return this.#refuse(response, fail, key);
        // S3 may answer 200 and report the failure in the body.
        const answer = xmlText(await readBody(response, undefined, MiB, fail));
        if (/<Error>/.test(answer)) return this.#refuseBody(answer, response, fail, key);
        return true;
      }, true);
    } catch (error) {
      await this.#abortUpload(withUpload({}), key);
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Best effort: a failed abort leaves the upload to the bucket's lifecycle rule, and the original error stands. */
  async #abortUpload(url: URL, key: string): Promise<void> {
    try {
      await this.#request("DELETE", url, key, undefined, undefined, {}, async (response) => void (await response.dump()));
    } catch {
      // The upload's own error is what the caller needs to see.
    }
  }

  async #suffixByHead(url: URL, key: string, suffixLength: number, signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    const size = await this.#core.size(url, key, signal);
    if (size === undefined) return undefined;
    const start = Math.max(0, size - suffixLength);
    if (start === size) return new Uint8Array(0);
    return this.#core.getRange(url, key, { offset: start, length: size - start }, signal);
  }

  /** One signed call whose body is hashed once (not per attempt). */
  async #request<T>(
    method: HttpMethod,
    url: URL,
    key: string,
    signal: AbortSignal | undefined,
    body: Uint8Array | undefined,
    headers: Record<string, string>,
    answer: (response: HttpResponse, fail: Fail) => Promise<T>,
    idempotent?: boolean,
  ): Promise<T> {
    const hash = body === undefined || body.byteLength === 0 ? EMPTY_SHA256 : await sha256Hex(body);
    return this.#mapErrors(
      () => this.#core.send({ method, url, key, body, signal, idempotent, headers: { ...headers, "x-amz-content-sha256": hash }, answer }),
      key,
    );
  }

  /** 401/403 from a read (no body to explain it) become S3AccessError. */
  async #mapErrors<T>(call: () => Promise<T>, key: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof HttpStoreError && !(error instanceof S3StoreError) && (error.status === 401 || error.status === 403)) {
        throw new S3AccessError(
          `access denied (HTTP ${error.status}): the credentials were refused or lack permission${this.credentialSource ? ` (credentials from ${this.credentialSource})` : ""}`,
          error,
          undefined,
          { key },
        );
      }
      throw error;
    }
  }

  /** An error answer: S3's code and message from its XML body (bounded), never the request. */
  async #refuse(response: HttpResponse, fail: Fail, key: string): Promise<never> {
    let body = "";
    if (response.status !== 204) {
      try {
        body = xmlText(await readBody(response, undefined, 64 * 1024, fail));
      } catch (error) {
        if (!(error instanceof HttpStoreError)) throw error;
      }
    }
    return this.#refuseBody(body, response, fail, key);
  }

  #refuseBody(body: string, response: HttpResponse, fail: Fail, key: string): never {
    const s3Code = xmlValues(body, "Code")[0];
    const s3Message = xmlValues(body, "Message")[0];
    const message = `HTTP ${response.status}${s3Code ? ` ${s3Code}` : ""}${s3Message ? `: ${s3Message}` : ""}`;
    const denied = (s3Code !== undefined && ACCESS_CODES.has(s3Code)) || response.status === 401 || response.status === 403;
    try {
      return fail(message, response, { final: denied });
    } catch (error) {
      if (error instanceof HttpStoreError && !(error instanceof S3StoreError)) {
        if (denied) throw new S3AccessError(`${message}${this.credentialSource ? ` (credentials from ${this.credentialSource})` : ""}`, error, s3Code, { key });
        throw new S3StoreError(message, error, s3Code, { key });
      }
      throw error;
    }
  }

  /** Credentials, region and the bucket's base URL, resolved once. */
  #ready() {
    this.#setup ??= (async () => {
      const options = this.#options;
      const env = options.env ?? environment();
      const loadProfile = options.loadProfile ?? (await defaultProfileLoader());
      const resolved: ResolvedCredentials = await resolveCredentials({
        credentials: options.credentials,
        profile: options.profile,
        anonymous: options.anonymous,
        env,
        loadProfile,
      });
      this.credentialSource = resolved.source;
      let profile = resolved.profile;
      if (!profile && loadProfile && (options.profile || env.AWS_PROFILE)) profile = await loadProfile(options.profile ?? env.AWS_PROFILE!);
      const region = options.region ?? this.#location.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? profile?.region ?? "us-east-1";
      const endpoint = options.endpoint ?? this.#location.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? profile?.endpoint;
      const base = bucketUrl(this.bucket, region, endpoint, options.pathStyle ?? this.#location.pathStyle);
      return { credentials: resolved.credentials, region, base, signingCache: new Map<string, ArrayBuffer>() };
    })();
    return this.#setup;
  }

  async #urlOf(key: string): Promise<URL> {
    const path = encodeS3Key(this.prefix + encodeCheck(key));
    const { base } = await this.#ready();
    const url = new URL(base.href);
    url.pathname = base.pathname + path;
    return url;
  }

  async #sign(request: HttpRequest): Promise<HttpRequest> {
    const { credentials, region, signingCache } = await this.#ready();
    if (!credentials) return request;
    // Reads reach here without a hash (the core builds them); the signature must cover one.
    const hash = request.headers["x-amz-content-sha256"] ?? (request.body?.byteLength ? await sha256Hex(request.body) : EMPTY_SHA256);
    const signer = new AwsV4Signer({
      method: request.method,
      url: request.url,
      headers: { ...request.headers, "x-amz-content-sha256": hash },
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      service: "s3",
      region,
      cache: signingCache,
    });
    const signed = await signer.sign();
    const headers: Record<string, string> = {};
    signed.headers.forEach((value, name) => (headers[name] = value));
    return { ...request, url: signed.url.href, headers };
  }
}

/** The base URL of a bucket, ending in "/". */
function bucketUrl(bucket: string, region: string, endpoint: string | undefined, pathStyle: boolean | undefined): URL {
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch (error) {
      throw new StoreError(`invalid S3 endpoint URL ${JSON.stringify(endpoint)}`, { cause: error });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new StoreError(`an S3 endpoint must be http:// or https://, not ${url.protocol}`);
    url.search = url.hash = "";
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    if (pathStyle === false) {
      url.hostname = `${bucket}.${url.hostname}`;
      return url;
    }
    url.pathname += `${encodeURIComponent(bucket)}/`;
    return url;
  }
  // Dots in a bucket name break the TLS certificate of virtual-hosted addressing.
  if (pathStyle || bucket.includes(".")) return new URL(`https://s3.${region}.amazonaws.com/${encodeURIComponent(bucket)}/`);
  return new URL(`https://${bucket}.s3.${region}.amazonaws.com/`);
}

/** Keys are checked like HttpStore's (no "..", no empty segments) before they reach a URL. */
function encodeCheck(key: string): string {
  encodeKey(key, "an S3 store");
  return key;
}

/** Path segments encoded as SigV4 canonicalises them (RFC 3986: also !'()*). */
function encodeS3Key(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new StoreError(`${name} must be a positive integer, not ${n}`);
  return n;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function xmlText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The elements named `tag` (their inner XML). S3's answers are flat enough for this. */
function xmlElements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (const match of xml.matchAll(pattern)) out.push(match[1]);
  return out;
}

/** The text values of the elements named `tag`, entities decoded. */
function xmlValues(xml: string, tag: string): string[] {
  return xmlElements(xml, tag).map(xmlUnescape);
}

function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity[0] === "#") return String.fromCodePoint(entity[1] === "x" ? parseInt(entity.slice(2), 16) : Number(entity.slice(1)));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity]!;
  });
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`);
}
