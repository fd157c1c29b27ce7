/**
 * The HTTP machinery every HTTP-speaking store shares (HttpStore, S3Store): one call is retried
 * with backoff, bounded by a per-attempt timeout, abortable, follows redirects by our policy
 * (never carrying credentials to another origin), and a ranged answer is checked against its
 * Content-Range before it is returned. Stores build URLs and interpret statuses; this module
 * moves the bytes.
 *
 * Portable: no `node:` module and no undici here. Bytes travel through an `HttpTransport`
 * (http-transport-fetch.ts on any `fetch`, http-transport-undici.ts on Node), chosen by
 * http-transport.ts.
 */

import {
  AbortError,
  StoreError,
  asAbortError,
  throwIfAborted,
  type ErrorContext,
} from "../src/errors.js";
import { validateRange } from "../src/store.js";
import type { ByteRange } from "../src/store.js";
import { sleep } from "./util.js";
import { SLICE_MS, yieldToEventLoop } from "../src/stream-util.js";

export type HttpMethod = "GET" | "HEAD" | "PUT" | "DELETE" | "POST";

/** One HTTP request as the `onRequest` hook sees it, before it is sent. */
export interface HttpRequest {
  method: HttpMethod;
  /** The absolute URL; the hook may rewrite it (presigning adds a query string). */
  url: string;
  /** Headers to send, `range` and `content-type` included; the hook may add credentials. */
  headers: Record<string, string>;
  /** The store key being read or written. */
  key: string;
  /** The body about to be sent (signers hash it); read it, do not change it. */
  readonly body?: Uint8Array;
}

export type OnRequest = (request: HttpRequest) => HttpRequest | Promise<HttpRequest>;

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

/** The answer a transport hands back: status, headers, and a body read at most once. */
export interface TransportResponse {
  status: number;
  statusText: string;
  /** A header's value by lower-case name (the first one when repeated). */
  header(name: string): string | undefined;
  /** The body's chunks; leaving the iteration early discards the rest and frees the connection. */
  body: AsyncIterable<Uint8Array>;
  /** Reads and discards the body so the connection can be reused. Never rejects. */
  dump(): Promise<void>;
  /**
   * Reads the body straight into `target` where the transport can (a byte stream's BYOB
   * reader): the filled part as a view — over `target`'s memory, whose buffer may have been
   * transferred — and whether more body followed (then the rest is dropped). Undefined, with
   * nothing read, when it cannot: the caller reads `body` instead. Never both.
   */
  readInto?(target: Uint8Array): Promise<{ bytes: Uint8Array; more: boolean } | undefined>;
  /** Drops the body without reading it (closing the connection when it must). */
  destroy(): void;
}

export interface TransportRequest {
  url: URL;
  method: HttpMethod;
  headers: Record<string, string>;
  body: Uint8Array | null;
  /** Aborts the request and any body read still running. */
  signal: AbortSignal;
}

/**
 * Sends one request, redirects not followed. Network failures worth another attempt reject
 * with a NetworkError (or an error whose `code` is a known network code); a closed transport
 * rejects with TransportClosedError.
 */
export interface HttpTransport {
  readonly name: string;
  request(request: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

/** A connection-level failure (reset, refused, DNS…): another attempt may well succeed. */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "NetworkError";
  }
}

/** The transport was closed (the store's `close()`); no further requests are possible. */
export class TransportClosedError extends Error {
  override name = "TransportClosedError";
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

/** A ranged answer that does not match the range asked (Content-Range, or its body's length). */
export class HttpRangeError extends HttpStoreError {}

export const DEFAULT_RETRY: Required<RetryOptions> = {
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
export class Retryable extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A transport's answer and the URL it came from. */
export interface HttpResponse extends TransportResponse {
  url: URL;
}

/**
 * Rejects an answer. By default its status decides whether another attempt may help; a
 * malformed answer (wrong Content-Range, a body longer than asked) is final.
 */
export type Fail = (message: string, response: HttpResponse, options?: { final?: boolean; range?: boolean }) => never;

/** What one call asks of the server, and how to turn its final answer into a value. */
export interface Call<T> {
  method: HttpMethod;
  url: URL;
  /** The store key, for errors and the onRequest hook. */
  key: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  signal: AbortSignal | undefined;
  /** Whether the call may be retried (default: its method is one of the retry methods). */
  idempotent?: boolean;
  /** Reads (or dumps) the body; throws Retryable for answers worth another attempt. */
  answer(response: HttpResponse, fail: Fail): Promise<T>;
}

export interface HttpCoreOptions {
  transport: HttpTransport | (() => Promise<HttpTransport>);
  /** Headers sent with every request to the store's origin. */
  headers?: Record<string, string>;
  onRequest?: OnRequest;
  timeoutMs?: number;
  retry?: RetryOptions | false;
  maxRedirects?: number;
  /** Statuses read as "the key is absent" (default 404). */
  absent?: number[];
  rangeFallbackLimit?: number;
}

/** One client: a transport and the policy every call through it follows. */
export class HttpCore {
  /** Attempts retried since the client was made (progress displays show it). */
  retries = 0;
  readonly absent: ReadonlySet<number>;
  readonly #transport: HttpTransport | (() => Promise<HttpTransport>);
  #resolved: Promise<HttpTransport> | undefined;
  #closed = false;
  readonly #headers: Record<string, string>;
  readonly #onRequest: OnRequest | undefined;
  readonly #timeoutMs: number;
  readonly #retry: Required<RetryOptions>;
  readonly #maxRedirects: number;
  readonly #rangeFallbackLimit: number;

  constructor(options: HttpCoreOptions) {
    this.#transport = options.transport;
    this.#headers = { ...options.headers };
    this.#onRequest = options.onRequest;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retry = options.retry === false ? { ...DEFAULT_RETRY, attempts: 1 } : { ...DEFAULT_RETRY, ...options.retry };
    this.#retry.attempts = Math.max(1, Math.floor(this.#retry.attempts));
    this.#maxRedirects = options.maxRedirects ?? 5;
    this.absent = new Set(options.absent ?? [404]);
    this.#rangeFallbackLimit = options.rangeFallbackLimit ?? 16 << 20;
  }

  /** The transport's name ("undici", "fetch", …) once it is chosen. */
  async transportName(): Promise<string> {
    return (await this.#getTransport()).name;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (typeof this.#transport !== "function") return this.#transport.close();
    // A transport still to be made is made only to be closed when a call already asked for it.
    if (this.#resolved) await (await this.#resolved.catch(() => undefined))?.close();
  }

  #getTransport(): Promise<HttpTransport> {
    if (typeof this.#transport !== "function") return Promise.resolve(this.#transport);
    this.#resolved ??= this.#transport();
    return this.#resolved;
  }

  /** GET of a whole object: its bytes, or undefined when absent. */
  getWhole(url: URL, key: string, signal: AbortSignal | undefined, into?: Uint8Array): Promise<Uint8Array | undefined> {
    return this.send({
      method: "GET",
      url,
      key,
      signal,
      answer: async (response, fail) => {
        if (this.absent.has(response.status)) return void (await response.dump());
        if (response.status !== 200) {
          await response.dump();
          return fail(httpStatus(response), response);
        }
        checkEncoding(response, fail);
        const length = parseLength(response.header("content-length"));
        return readBody(response, length, Infinity, fail, into);
      },
    });
  }

  /** HEAD: the object's size, or undefined when absent. */
  size(url: URL, key: string, signal: AbortSignal | undefined): Promise<number | undefined> {
    return this.send<number | undefined>({
      method: "HEAD",
      url,
      key,
      signal,
      answer: async (response, fail) => {
        await response.dump();
        if (this.absent.has(response.status)) return undefined;
        if (response.status !== 200) return fail(httpStatus(response), response);
        const size = parseLength(response.header("content-length"));
        if (size === undefined) return fail("the answer has no Content-Length", response);
        return size;
      },
    });
  }

  /**
   * A ranged GET whose answer is checked against the range asked: a 206 with the exact
   * Content-Range, or a 200 (Range ignored) small enough to slice, or a 416 past the end.
   */
  getRange(url: URL, key: string, range: ByteRange, signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    const suffix = "suffixLength" in range;
    const rangeHeader = suffix ? `bytes=-${range.suffixLength}` : `bytes=${range.offset}-${range.offset + range.length - 1}`;
    /** [start, end) of the answer once the object's size is known. */
    const span = (size: number): [number, number] =>
      suffix
        ? [Math.max(0, size - range.suffixLength), size]
        : [Math.min(range.offset, size), Math.min(size, range.offset + range.length)];

    return this.send({
      method: "GET",
      url,
      key,
      headers: { range: rangeHeader },
      signal,
      answer: async (response, fail) => {
        const status = response.status;
        if (this.absent.has(status)) return void (await response.dump());
        if (status === 206) {
          checkEncoding(response, fail);
          const contentRange = response.header("content-range");
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
          const length = parseLength(response.header("content-length"));
          if (length !== undefined && length !== end - start) {
            return rejectAnswer(response, fail, `Content-Range "${contentRange}" with a ${length}-byte body`, { destroy: true });
          }
          return readBody(response, end - start, end - start, fail);
        }
        if (status === 200) {
          // The server ignored Range: the body is the whole object. Slice it only when that is
          // affordable; never hand it back as if it were the range.
          checkEncoding(response, fail);
          const length = parseLength(response.header("content-length"));
          if (length !== undefined && length > this.#rangeFallbackLimit) {
            return rejectAnswer(response, fail, `the server ignored "${rangeHeader}" and sent the whole ${length}-byte object`, { destroy: true });
          }
          const whole = await readBody(response, length, this.#rangeFallbackLimit, fail);
          const [start, end] = span(whole.length);
          return whole.slice(start, end);
        }
        if (status === 416) {
          // Past the end of an existing object: the store contract clips that to empty bytes.
          await response.dump();
          const size = /^bytes \*\/(\d+)$/.exec(response.header("content-range") ?? "");
          if (size && span(Number(size[1]))[0] >= Number(size[1])) return new Uint8Array(0);
          return fail(`HTTP 416 for "${rangeHeader}" without a Content-Range size that explains it`, response);
        }
        await response.dump();
        return fail(httpStatus(response), response);
      },
    });
  }

  /** Runs one call: retries, backoff, redirects, timeouts and error mapping. */
  async send<T>(call: Call<T>): Promise<T> {
    const { method, key, signal, url } = call;
    const retry = this.#retry;
    const retryable = call.idempotent ?? retry.methods.includes(method);
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal, { key });
      try {
        return await this.#attempt(call, attempt);
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
  async #attempt<T>(call: Call<T>, attempt: number): Promise<T> {
    const { method, key, signal, url } = call;
    if (this.#closed) throw new StoreError(`${method} ${displayUrl(url)}: the store is closed`, { key });
    let request: HttpRequest = { method, url: url.href, headers: { ...this.#headers, ...call.headers }, key, body: call.body };
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

    // One controller for the user's abort and our timeout, so the transport cancels either way.
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
        throw new Retryable(message, status, retryAfter(response.header("retry-after")));
      }
      const ErrorClass = options?.range ? HttpRangeError : HttpStoreError;
      throw new ErrorClass(message, { method, url: displayUrl(response.url), status, attempts: attempt }, { key });
    };

    try {
      const transport = await this.#getTransport();
      let crossed = false;
      for (let redirects = 0; ; redirects++) {
        const sent = crossed ? protocolHeaders(headers) : headers;
        const answer = await transport.request({ url: current, method, headers: sent, body: call.body ?? null, signal: controller.signal });
        const response: HttpResponse = Object.assign(answer, { url: current });
        const location = response.header("location");
        if (!isRedirect(response.status) || location === undefined) return await call.answer(response, fail);

        await response.dump();
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
      if (error instanceof NetworkError || (typeof code === "string" && RETRYABLE_CODES.has(code))) {
        const message = (error as Error).message;
        throw new Retryable(typeof code === "string" ? `${code} (${message})` : message, undefined, undefined, { cause: error });
      }
      if (error instanceof TransportClosedError || code === "UND_ERR_CLOSED" || code === "UND_ERR_DESTROYED") {
        throw new StoreError(`${method} ${displayUrl(url)}: the store is closed`, { key, cause: error });
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new HttpStoreError(message, { method, url: displayUrl(url), status: undefined, attempts: attempt }, { key, cause: error });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  #redirectTarget(response: HttpResponse, location: string, method: HttpMethod, redirects: number, attempt: number, key: string): URL {
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
export function encodeKey(key: string, what = "an HTTP store"): string {
  const refuse = (why: string): never => {
    throw new StoreError(`invalid key for ${what}: ${why}`, { key: String(key) });
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

/** A range's numbers checked, as a StoreError naming the key. */
export function checkRange(key: string, range: ByteRange | undefined): void {
  try {
    validateRange(range);
  } catch (error) {
    throw new StoreError(error instanceof Error ? error.message : String(error), { key, cause: error });
  }
}

/** Credentials from `user:password@` as a Basic Authorization value (UTF-8, as browsers send). */
export function basicAuthorization(user: string, password: string): string {
  const utf8 = new TextEncoder().encode(`${user}:${password}`);
  let binary = "";
  for (const byte of utf8) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

function protocolHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => PROTOCOL_HEADERS.has(name.toLowerCase())));
}

export function httpStatus(response: HttpResponse): string {
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
export function displayUrl(url: URL): string {
  return url.origin + url.pathname;
}

/** Byte offsets would be wrong in a transformed body, so a content coding is an error. */
function checkEncoding(response: HttpResponse, fail: Fail): void {
  const encoding = response.header("content-encoding");
  if (encoding !== undefined && encoding !== "identity") {
    response.destroy();
    fail(`unexpected Content-Encoding "${encoding}"`, response, { final: true });
  }
}

/** Rejects a malformed answer (final: another attempt would get the same), discarding its body. */
async function rejectAnswer(response: HttpResponse, fail: Fail, message: string, { destroy = false } = {}): Promise<never> {
  // Destroying closes the socket instead of downloading a large body nobody wants.
  if (destroy) response.destroy();
  else await response.dump();
  return fail(message, response, { final: true, range: true });
}

/** True when `bytes` spans the whole of a plain ArrayBuffer (nothing else can be using it). */
function ownsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer && !("readUInt8" in bytes);
}

/**
 * Reads a body into one standalone buffer — or into `into` (see StoreCallOptions.into) when it
 * fits: straight from the transport where it can (readInto), else copied in chunk by chunk. `expected` (when known) is the exact size: more is a protocol
 * error, less a truncated answer worth retrying. `max` bounds bodies of unknown size.
 */
export async function readBody(response: HttpResponse, expected: number | undefined, max: number, fail: Fail, into?: Uint8Array): Promise<Uint8Array> {
  // Lent memory is used when the size is known and fits: the transport reads straight into it
  // where it can (no buffer of its own either), else the chunks are copied into it below.
  // Either way no fresh buffer, whose pages would be faulted in.
  const lent = into && expected !== undefined && expected > 0 && into.byteLength >= expected ? into.subarray(0, expected) : undefined;
  const direct = lent && (await response.readInto?.(lent));
  if (direct) {
    if (direct.more) return fail(`the body is longer than the ${expected} bytes expected`, response, { final: true });
    if (direct.bytes.byteLength !== expected) throw new Retryable(`the body ended after ${direct.bytes.byteLength} of ${expected} bytes`, response.status, undefined);
    return direct.bytes;
  }
  const limit = expected ?? max;
  const chunks: Uint8Array[] = [];
  let received = 0;
  // A body that arrives as one chunk owning its whole buffer (browsers' fetch hands out such
  // chunks) is kept as it is: no second buffer, whose fresh pages would cost more than the
  // copy. Chunks that are views into a shared buffer (Node's undici) are always copied.
  let whole: Uint8Array | undefined;
  let out: Uint8Array | undefined;
  // A big body whose chunks have all arrived is read in one run of microtasks, and copying it
  // into fresh memory takes ~0.1 s per 32 MiB here (page faults): give the event loop a turn
  // every few milliseconds so a page stays responsive.
  let slice = performance.now();
  for await (const chunk of response.body) {
    if (performance.now() - slice > SLICE_MS) {
      await yieldToEventLoop();
      slice = performance.now();
    }
    if (received + chunk.length > limit) {
      // Leaving the loop destroys the body (and its connection) instead of reading on.
      return fail(
        expected !== undefined ? `the body is longer than the ${expected} bytes expected` : `the body is larger than ${max} bytes`,
        response,
        { final: true },
      );
    }
    if (expected !== undefined) {
      if (received === 0 && chunk.length === expected && ownsBuffer(chunk)) whole = chunk;
      else (out ??= lent ?? new Uint8Array(expected)).set(chunk, received);
    } else chunks.push(chunk);
    received += chunk.length;
  }
  if (expected !== undefined) {
    if (received !== expected) throw new Retryable(`the body ended after ${received} of ${expected} bytes`, response.status, undefined);
    return whole ?? out ?? new Uint8Array(0);
  }
  const joined = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
