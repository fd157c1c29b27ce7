/**
 * A store over HTTP(S), on undici: key "a/c/0/1" is `<base>/a/c/0/1`.
 *
 *  - Reads are GET (ranged with `Range: bytes=…`), sizes are HEAD, writes are PUT and DELETE
 *    where the server allows them (WebDAV, object stores). There is no standard listing, so
 *    the store has no `list` capability; the engine raises UnsupportedOperationError where it
 *    would need one (a group's children, overwriting a node).
 *  - "Absent" is 404 (and, as an option, 403: object stores answer it for a missing key
 *    when listing is not allowed). Every other failure rejects: a ranged answer that does not
 *    match the range asked is never returned as if it were.
 *  - Idempotent requests are retried on 429/5xx, resets and timeouts with exponential backoff
 *    and jitter, bounded in attempts and total time. Nothing waits unboundedly.
 *  - Redirects are followed here (not by undici) so that credentials never leave the origin
 *    they were meant for, and keys can never address anything outside the base URL.
 */

import { Agent, type Dispatcher } from "undici";

import {
  AbortError,
  StoreError,
  UnsupportedOperationError,
  asAbortError,
  throwIfAborted,
  type ErrorContext,
} from "../src/errors.js";
import { validateRange } from "../src/store.js";
import type { ByteRange, Store, StoreCallOptions } from "../src/store.js";
import { sleep } from "./util.js";

export type HttpMethod = "GET" | "HEAD" | "PUT" | "DELETE";

/** One HTTP request as the `onRequest` hook sees it, before it is sent. */
export interface HttpRequest {
  method: HttpMethod;
  /** The absolute URL; the hook may rewrite it (presigning adds a query string). */
  url: string;
  /** Headers to send, `range` and `content-type` included; the hook may add credentials. */
  headers: Record<string, string>;
  /** The store key being read or written. */
  key: string;
}

export interface RetryOptions {
  /** Attempts in total, the first one included (default 4; 1 disables retries). */
  attempts?: number;
  /** Backoff before the second attempt; it doubles each time (default 100 ms). */
  baseDelayMs?: number;
  /** Largest backoff between two attempts (default 5 s). */
  maxDelayMs?: number;
  /** No retry starts later than this after the first attempt began (default 30 s). */
  maxElapsedMs?: number;
  /** Methods that may be retried (default GET, HEAD, PUT, DELETE: the idempotent ones). */
  methods?: HttpMethod[];
  /** Statuses that are retried (default 408, 429, 500, 502, 503, 504). */
  statuses?: number[];
}

export interface HttpStoreOptions {
  /** Reject set/delete with UnsupportedOperationError without asking the server. */
  readOnly?: boolean;
  /** Headers sent with every request to the store's origin (authentication, for example). */
  headers?: Record<string, string>;
  /** Called before every attempt; returns the request to send (auth tokens, presigned URLs). */
  onRequest?: (request: HttpRequest) => HttpRequest | Promise<HttpRequest>;
  /** Connections per origin. Keep it at least the `concurrency` arrays are read with (default 16). */
  connections?: number;
  /** Per-attempt limit from sending the request to the last body byte (default 30 s; 0 = none). */
  timeoutMs?: number;
  /** Retry settings, or `false` for a single attempt. */
  retry?: RetryOptions | false;
  /** Redirects followed per attempt (default 5). */
  maxRedirects?: number;
  /** Treat 403 Forbidden as "absent", as for S3 buckets without list permission (default false). */
  forbiddenAsAbsent?: boolean;
  /**
   * Largest whole object accepted when a server answers a ranged request with 200 (ignoring
   * Range): it is read and sliced. Larger answers are rejected (default 16 MiB).
   */
  rangeFallbackLimit?: number;
}

export interface HttpFailure {
  method: HttpMethod;
  /** The URL without its query string (which may hold a signature). */
  url: string;
  /** The last HTTP status, or undefined when no answer came (reset, timeout). */
  status: number | undefined;
  /** Attempts made, the first one included. */
  attempts: number;
}

/** A request failed: names the method, the URL, the status and the attempts made. */
export class HttpStoreError extends StoreError {
  readonly method: HttpMethod;
  readonly url: string;
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(message: string, failure: HttpFailure, context: ErrorContext = {}) {
    super(`${failure.method} ${failure.url} failed: ${message}`, context);
    ({ method: this.method, url: this.url, status: this.status, attempts: this.attempts } = failure);
  }
}

const DEFAULT_RETRY: Required<RetryOptions> = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 5000,
  maxElapsedMs: 30_000,
  methods: ["GET", "HEAD", "PUT", "DELETE"],
  statuses: [408, 429, 500, 502, 503, 504],
};

/** Network failures worth another attempt: the next connection may well succeed. */
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);

/** Headers that describe the request itself; the only ones that survive a cross-origin redirect. */
const PROTOCOL_HEADERS = new Set(["range", "content-type", "accept-encoding"]);

/** A failure of one attempt that another attempt may not repeat. */
class Retryable extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface Response {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData["body"];
  url: URL;
}

/**
 * Rejects an answer. By default its status decides whether another attempt may help; a
 * malformed answer (wrong Content-Range, a body longer than asked) is final.
 */
type Fail = (message: string, response: Response, options?: { final?: boolean }) => never;

/** What one call asks of the server, and how to turn its final answer into a value. */
interface Call<T> {
  method: HttpMethod;
  key: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  signal: AbortSignal | undefined;
  /** Reads (or dumps) the body; throws Retryable for answers worth another attempt. */
  answer(response: Response, fail: Fail): Promise<T>;
}

export class HttpStore implements Store {
  /** The base URL, always ending in "/". */
  readonly url: string;
  readonly readOnly: boolean;
  /** Attempts retried since the store was made (progress displays show it). */
  retries = 0;
  readonly #base: URL;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;
  readonly #onRequest: HttpStoreOptions["onRequest"];
  readonly #timeoutMs: number;
  readonly #retry: Required<RetryOptions>;
  readonly #maxRedirects: number;
  readonly #absent: ReadonlySet<number>;
  readonly #rangeFallbackLimit: number;

  constructor(url: string | URL, options: HttpStoreOptions = {}) {
    let base: URL;
    try {
      base = new URL(url);
    } catch (error) {
      throw new StoreError(`not a URL: ${String(url)}`, { key: String(url), cause: error });
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new StoreError(`an HTTP store needs an http:// or https:// URL, not ${base.protocol}`, { key: base.href });
    }
    base.hash = "";
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    this.#headers = { ...options.headers };
    // user:password@ in the URL becomes a header, so it gets the same origin-only treatment.
    if (base.username || base.password) {
      const credentials = `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`;
      if (!Object.keys(this.#headers).some((name) => name.toLowerCase() === "authorization")) {
        this.#headers.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
      }
      base.username = base.password = "";
    }
    this.#base = base;
    this.url = base.href;
    this.readOnly = options.readOnly ?? false;
    this.#onRequest = options.onRequest;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retry = options.retry === false ? { ...DEFAULT_RETRY, attempts: 1 } : { ...DEFAULT_RETRY, ...options.retry };
    this.#retry.attempts = Math.max(1, Math.floor(this.#retry.attempts));
    this.#maxRedirects = options.maxRedirects ?? 5;
    this.#absent = new Set(options.forbiddenAsAbsent ? [404, 403] : [404]);
    this.#rangeFallbackLimit = options.rangeFallbackLimit ?? 16 << 20;
    const connections = options.connections ?? 16;
    if (!Number.isSafeInteger(connections) || connections < 1) {
      throw new StoreError(`connections must be a positive integer, not ${connections}`, { key: this.url });
    }
    // Our own timer bounds each attempt; undici's would fire first with a less useful error.
    this.#agent = new Agent({ connections, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    checkRange(key, range);
    if (range === undefined) return this.#getWhole(key, signal);
    const length = "suffixLength" in range ? range.suffixLength : range.length;
    // An empty range needs no bytes, only the answer to "does the key exist"; servers refuse
    // `bytes=-0` and cannot express `bytes=3-2`.
    if (length === 0) return (await this.size(key, options)) === undefined ? undefined : new Uint8Array(0);
    return this.#getRange(key, range, signal);
  }

  async size(key: string, options?: StoreCallOptions): Promise<number | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    return this.#send<number | undefined>({
      method: "HEAD",
      key,
      signal,
      answer: async (response, fail) => {
        await dump(response);
        if (this.#absent.has(response.status)) return undefined;
        if (response.status !== 200) return fail(httpStatus(response), response);
        const size = parseLength(header(response, "content-length"));
        if (size === undefined) return fail("the answer has no Content-Length", response);
        return size;
      },
    });
  }

  async set(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("set", key);
    throwIfAborted(signal, { key });
    // A copy taken now: the caller may reuse its buffer while a retry is still pending.
    const body = new Uint8Array(value);
    await this.#send<void>({
      method: "PUT",
      key,
      body,
      headers: { "content-type": "application/octet-stream" },
      signal,
      answer: async (response, fail) => {
        await dump(response);
        if (response.status === 200 || response.status === 201 || response.status === 204) return;
        if (response.status === 405 || response.status === 501) {
          throw new UnsupportedOperationError(`the server does not accept PUT at ${displayUrl(response.url)} (HTTP ${response.status})`, { key });
        }
        return fail(httpStatus(response), response);
      },
    });
  }

  async delete(key: string, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("delete", key);
    throwIfAborted(signal, { key });
    await this.#send<void>({
      method: "DELETE",
      key,
      signal,
      answer: async (response, fail) => {
        await dump(response);
        if (response.status === 200 || response.status === 202 || response.status === 204) return;
        // Deleting an absent key is not an error (a retried DELETE may also find it gone).
        if (response.status === 404 || response.status === 410) return;
        if (response.status === 405 || response.status === 501) {
          throw new UnsupportedOperationError(`the server does not accept DELETE at ${displayUrl(response.url)} (HTTP ${response.status})`, { key });
        }
        return fail(httpStatus(response), response);
      },
    });
  }

  /** Closes the connection pool; later calls reject. */
  async close(): Promise<void> {
    if (!this.#agent.closed) await this.#agent.close();
  }

  #checkWritable(operation: string, key: string): void {
    if (this.readOnly) throw new UnsupportedOperationError(`cannot ${operation}: the HTTP store is read-only`, { key });
  }

  #getWhole(key: string, signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    return this.#send({
      method: "GET",
      key,
      signal,
      answer: async (response, fail) => {
        if (this.#absent.has(response.status)) return void (await dump(response));
        if (response.status !== 200) {
          await dump(response);
          return fail(httpStatus(response), response);
        }
        checkEncoding(response, fail);
        const length = parseLength(header(response, "content-length"));
        return readBody(response, length, Infinity, fail);
      },
    });
  }

  #getRange(key: string, range: ByteRange, signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    const suffix = "suffixLength" in range;
    const rangeHeader = suffix ? `bytes=-${range.suffixLength}` : `bytes=${range.offset}-${range.offset + range.length - 1}`;
    /** [start, end) of the answer once the object's size is known. */
    const span = (size: number): [number, number] =>
      suffix
        ? [Math.max(0, size - range.suffixLength), size]
        : [Math.min(range.offset, size), Math.min(size, range.offset + range.length)];

    return this.#send({
      method: "GET",
      key,
      headers: { range: rangeHeader },
      signal,
      answer: async (response, fail) => {
        const status = response.status;
        if (this.#absent.has(status)) return void (await dump(response));
        if (status === 206) {
          checkEncoding(response, fail);
          const contentRange = header(response, "content-range");
          const parsed = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange ?? "");
          if (!parsed) return rejectAnswer(response, fail, `a 206 answer to "${rangeHeader}" with Content-Range ${JSON.stringify(contentRange)}`);
          const first = Number(parsed[1]);
          const last = Number(parsed[2]);
          const size = parsed[3] === "*" ? undefined : Number(parsed[3]);
          // Without the total size a suffix cannot be checked, nor can a shorter answer be told
          // from a truncated one; accept only the exact range asked for then.
          const [start, end] = size !== undefined ? span(size) : suffix ? [-1, -1] : [range.offset, range.offset + range.length];
          if (first !== start || last !== end - 1) {
            return rejectAnswer(response, fail, `asked for "${rangeHeader}", the server sent Content-Range "${contentRange}"`);
          }
          const length = parseLength(header(response, "content-length"));
          if (length !== undefined && length !== end - start) {
            return rejectAnswer(response, fail, `Content-Range "${contentRange}" with a ${length}-byte body`, { destroy: true });
          }
          return readBody(response, end - start, end - start, fail);
        }
        if (status === 200) {
          // The server ignored Range: the body is the whole object. Slice it only when that is
          // affordable; never hand it back as if it were the range.
          checkEncoding(response, fail);
          const length = parseLength(header(response, "content-length"));
          if (length !== undefined && length > this.#rangeFallbackLimit) {
            return rejectAnswer(response, fail, `the server ignored "${rangeHeader}" and sent the whole ${length}-byte object`, { destroy: true });
          }
          const whole = await readBody(response, length, this.#rangeFallbackLimit, fail);
          const [start, end] = span(whole.length);
          return whole.slice(start, end);
        }
        if (status === 416) {
          // Past the end of an existing object: the store contract clips that to empty bytes.
          await dump(response);
          const size = /^bytes \*\/(\d+)$/.exec(header(response, "content-range") ?? "");
          if (size && span(Number(size[1]))[0] >= Number(size[1])) return new Uint8Array(0);
          return fail(`HTTP 416 for "${rangeHeader}" without a Content-Range size that explains it`, response);
        }
        await dump(response);
        return fail(httpStatus(response), response);
      },
    });
  }

  /** The URL of a key, refusing keys that are malformed or would leave the base URL. */
  #urlOf(key: string): URL {
    const url = new URL(this.#base.href);
    url.pathname = this.#base.pathname + encodeKey(key);
    return url;
  }

  /** Runs one call: retries, backoff, redirects, timeouts and error mapping. */
  async #send<T>(call: Call<T>): Promise<T> {
    const { method, key, signal } = call;
    const url = this.#urlOf(key);
    const retry = this.#retry;
    const retryable = retry.methods.includes(method);
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal, { key });
      try {
        return await this.#attempt(call, url, attempt);
      } catch (error) {
        if (!(error instanceof Retryable)) throw error;
        const final = (why = "") =>
          new HttpStoreError(
            `${error.message}${attempt > 1 ? ` after ${attempt} attempts` : ""}${why}`,
            { method, url: displayUrl(url), status: error.status, attempts: attempt },
            { key, cause: error.cause },
          );
        if (!retryable || attempt >= retry.attempts) throw final();
        const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
        // Equal jitter: spread clients apart while keeping a floor under the delay.
        const delay = Math.max(error.retryAfterMs ?? 0, backoff / 2 + (Math.random() * backoff) / 2);
        if (Date.now() - started + delay > retry.maxElapsedMs) {
          throw final(error.retryAfterMs !== undefined && error.retryAfterMs > backoff ? ` (Retry-After ${error.retryAfterMs} ms exceeds the retry time limit)` : " (retry time limit reached)");
        }
        await sleep(delay, signal, key);
        this.retries++;
      }
    }
  }

  /** One attempt: the hook, then the request and any redirects, then the answer. */
  async #attempt<T>(call: Call<T>, url: URL, attempt: number): Promise<T> {
    const { method, key, signal } = call;
    let request: HttpRequest = { method, url: url.href, headers: { ...this.#headers, ...call.headers }, key };
    if (this.#onRequest) {
      request = await this.#onRequest(request);
      throwIfAborted(signal, { key });
    }
    let current: URL;
    try {
      current = new URL(request.url);
    } catch (error) {
      throw new StoreError(`onRequest returned an invalid URL for ${displayUrl(url)}`, { key, cause: error });
    }
    if (current.protocol !== "http:" && current.protocol !== "https:") {
      throw new StoreError(`onRequest returned a non-HTTP URL for ${displayUrl(url)}`, { key });
    }
    const credentialOrigin = current.origin;
    const headers = request.headers;

    // One controller for the user's abort and our timeout, so undici cancels the socket either way.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer =
      this.#timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort(new Error("timeout"));
          }, this.#timeoutMs)
        : undefined;

    const fail: Fail = (message, response, options) => {
      const status = response.status;
      if (!options?.final && this.#retry.statuses.includes(status)) {
        throw new Retryable(message, status, retryAfter(header(response, "retry-after")));
      }
      throw new HttpStoreError(message, { method, url: displayUrl(response.url), status, attempts: attempt }, { key });
    };

    try {
      let crossed = false;
      for (let redirects = 0; ; redirects++) {
        const sent = crossed ? protocolHeaders(headers) : headers;
        const answer = await this.#agent.request({
          origin: current.origin,
          path: current.pathname + current.search,
          method,
          headers: sent,
          body: call.body ?? null,
          signal: controller.signal,
        });
        // Destroying a body we gave up on emits an "error" nobody else awaits; readers of the
        // body still see errors through their own iteration.
        answer.body.on("error", () => {});
        const response: Response = { status: answer.statusCode, statusText: answer.statusText, headers: answer.headers, body: answer.body, url: current };
        const location = header(response, "location");
        if (!isRedirect(response.status) || location === undefined) return await call.answer(response, fail);

        await dump(response);
        const next = this.#redirectTarget(response, location, method, redirects, attempt, key);
        // Once the request leaves the origin its credentials were meant for, it never carries
        // them again, not even on a redirect back.
        if (next.origin !== credentialOrigin) crossed = true;
        current = next;
      }
    } catch (error) {
      if (signal?.aborted) throw asAbortError(signal.reason, { key });
      if (timedOut) throw new Retryable(`no complete answer within ${this.#timeoutMs} ms`, undefined, undefined, { cause: error });
      if (error instanceof Retryable || error instanceof StoreError || error instanceof AbortError) throw error;
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === "string" && RETRYABLE_CODES.has(code)) {
        throw new Retryable(`${code} (${(error as Error).message})`, undefined, undefined, { cause: error });
      }
      if (code === "UND_ERR_CLOSED" || code === "UND_ERR_DESTROYED") {
        throw new StoreError(`${method} ${displayUrl(url)}: the store is closed`, { key, cause: error });
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new HttpStoreError(message, { method, url: displayUrl(url), status: undefined, attempts: attempt }, { key, cause: error });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  #redirectTarget(response: Response, location: string, method: HttpMethod, redirects: number, attempt: number, key: string): URL {
    const from = response.url;
    const error = (message: string) =>
      new HttpStoreError(message, { method, url: displayUrl(from), status: response.status, attempts: attempt }, { key });
    if (redirects >= this.#maxRedirects) throw error(`more than ${this.#maxRedirects} redirects`);
    let next: URL;
    try {
      next = new URL(location, from);
    } catch {
      throw error(`redirect to an invalid Location ${JSON.stringify(location)}`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") throw error(`redirect to a non-HTTP URL (${next.protocol})`);
    if (from.protocol === "https:" && next.protocol === "http:") throw error("redirect from https to http refused");
    // 301/302/303 turn other methods into GET in browsers; a write must not silently become a read.
    if (method !== "GET" && method !== "HEAD" && response.status !== 307 && response.status !== 308) {
      throw error(`HTTP ${response.status} redirect of a ${method} (only 307/308 keep the method)`);
    }
    return next;
  }
}

/**
 * Encodes a key as URL path segments. Keys are relative paths of plain segments: anything that
 * could address something outside the base URL — "." or ".." (also percent-encoded, in case a
 * server decodes twice), a leading "/", empty segments, backslashes, NUL — is refused.
 */
export function encodeKey(key: string): string {
  const refuse = (why: string): never => {
    throw new StoreError(`invalid key for an HTTP store: ${why}`, { key: String(key) });
  };
  if (typeof key !== "string" || key === "") refuse("empty");
  if (key.startsWith("/")) refuse("leading /");
  const segments = key.split("/");
  for (const segment of segments) {
    let decoded = segment;
    for (let i = 0; i < 3; i++) {
      if (decoded === "" || decoded === "." || decoded === "..") refuse(`segment ${JSON.stringify(segment)}`);
      if (/[\\\0/]/.test(decoded)) refuse(`segment ${JSON.stringify(segment)} holds a backslash, NUL or slash`);
      let next: string;
      try {
        next = decodeURIComponent(decoded);
      } catch {
        break; // not valid percent-encoding: it will be sent escaped, as a literal "%"
      }
      if (next === decoded) break;
      decoded = next;
    }
  }
  return segments.map(encodeURIComponent).join("/");
}

function checkRange(key: string, range: ByteRange | undefined): void {
  try {
    validateRange(range);
  } catch (error) {
    throw new StoreError(error instanceof Error ? error.message : String(error), { key, cause: error });
  }
}

function header(response: Response, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function protocolHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => PROTOCOL_HEADERS.has(name.toLowerCase())));
}

function httpStatus(response: Response): string {
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function parseLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date. */
function retryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The URL for messages: no query string, which may hold a signature or a token. */
function displayUrl(url: URL): string {
  return url.origin + url.pathname;
}

/** Byte offsets would be wrong in a transformed body, so a content coding is an error. */
function checkEncoding(response: Response, fail: Fail): void {
  const encoding = header(response, "content-encoding");
  if (encoding !== undefined && encoding !== "identity") {
    response.body.destroy();
    fail(`unexpected Content-Encoding "${encoding}"`, response, { final: true });
  }
}

/** Discards a body so its connection can be reused (or closes it when the body is large). */
async function dump(response: Response): Promise<void> {
  await response.body.dump().catch(() => {});
}

/** Rejects a malformed answer (final: another attempt would get the same), discarding its body. */
async function rejectAnswer(response: Response, fail: Fail, message: string, { destroy = false } = {}): Promise<never> {
  // Destroying closes the socket instead of downloading a large body nobody wants.
  if (destroy) response.body.destroy();
  else await dump(response);
  return fail(message, response, { final: true });
}

/**
 * Reads a body into one standalone buffer. `expected` (when known) is the exact size: more is a
 * protocol error, less a truncated answer worth retrying. `max` bounds bodies of unknown size.
 */
async function readBody(
  response: Response,
  expected: number | undefined,
  max: number,
  fail: Fail,
): Promise<Uint8Array> {
  const body = response.body;
  const limit = expected ?? max;
  const chunks: Uint8Array[] = [];
  let received = 0;
  const out = expected !== undefined ? new Uint8Array(expected) : undefined;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (received + chunk.length > limit) {
      // Leaving the loop destroys the body (and its connection) instead of reading on.
      return fail(
        expected !== undefined ? `the body is longer than the ${expected} bytes expected` : `the body is larger than ${max} bytes`,
        response,
        { final: true },
      );
    }
    if (out) out.set(chunk, received);
    else chunks.push(chunk);
    received += chunk.length;
  }
  if (out) {
    if (received !== expected) throw new Retryable(`the body ended after ${received} of ${expected} bytes`, response.status, undefined);
    return out;
  }
  const whole = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return whole;
}
