/**
 * A store over HTTP(S): key "a/c/0/1" is `<base>/a/c/0/1`.
 *
 *  - Reads are GET (ranged with `Range: bytes=…`), sizes are HEAD, writes are PUT and DELETE
 *    where the server allows them (WebDAV, object stores). There is no standard listing, so
 *    the store has no `list` capability; the engine raises UnsupportedOperationError where it
 *    would need one (a group's children, overwriting a node).
 *  - "Absent" is 404 (and, as an option, 403: object stores answer it for a missing key
 *    when listing is not allowed). Every other failure rejects: a ranged answer that does not
 *    match the range asked is never returned as if it were.
 *  - Retries, timeouts, aborts, redirects and range checks are the shared machinery of
 *    http-core.ts; bytes move on undici (Node, default) or `fetch` (anywhere).
 */

import { StoreError, UnsupportedOperationError, throwIfAborted } from "../src/errors.js";
import type { ByteRange, Store, StoreCallOptions, StoreHandle } from "../src/store.js";
import {
  HttpCore,
  basicAuthorization,
  checkRange,
  displayUrl,
  encodeKey,
  httpStatus,
  type OnRequest,
  type RetryOptions,
} from "./http-core.js";
import { isNode, resolveTransport, type TransportOption } from "./http-transport.js";

export { HttpStoreError, HttpRangeError, encodeKey } from "./http-core.js";
export type { HttpFailure, HttpMethod, HttpRequest, HttpTransport, RetryOptions, TransportRequest, TransportResponse } from "./http-core.js";

export interface HttpStoreOptions {
  /** Reject set/delete with UnsupportedOperationError without asking the server. */
  readOnly?: boolean;
  /** Headers sent with every request to the store's origin (authentication, for example). */
  headers?: Record<string, string>;
  /** Called before every attempt; returns the request to send (auth tokens, presigned URLs). */
  onRequest?: OnRequest;
  /**
   * How bytes travel: "undici" (default on Node), "fetch" (the global fetch; default elsewhere),
   * a fetch-like function, or a transport object.
   */
  transport?: TransportOption;
  /** Connections per origin (undici). Keep it at least the `concurrency` arrays are read with (default 16). */
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
  /**
   * Pool workers fetch chunks themselves (each opens its own HttpStore from these options) and
   * decode them where they land, so response bodies never reach this thread: default true in
   * browsers (the page's main thread stays free), false on Node (undici on the main thread is
   * cheap there). Only for stores whose requests need nothing of this thread: no `onRequest`,
   * and `transport` unset or named ("fetch", "undici").
   */
  workerFetch?: boolean;
}

export class HttpStore implements Store {
  /** The base URL, always ending in "/". */
  readonly url: string;
  readonly readOnly: boolean;
  readonly #base: URL;
  readonly #core: HttpCore;
  /** The options a pool worker opens its own copy with, or undefined when it cannot. */
  readonly #workerOptions: HttpStoreOptions | undefined;

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
    const headers = { ...options.headers };
    // user:password@ in the URL becomes a header, so it gets the same origin-only treatment.
    if (base.username || base.password) {
      if (!Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
        headers.authorization = basicAuthorization(decodeURIComponent(base.username), decodeURIComponent(base.password));
      }
      base.username = base.password = "";
    }
    this.#base = base;
    this.url = base.href;
    this.readOnly = options.readOnly ?? false;
    const connections = options.connections ?? 16;
    if (!Number.isSafeInteger(connections) || connections < 1) {
      throw new StoreError(`connections must be a positive integer, not ${connections}`, { key: this.url });
    }
    const transportNamed = options.transport === undefined || typeof options.transport === "string";
    const workerFetch = options.workerFetch ?? !isNode;
    this.#workerOptions =
      workerFetch && transportNamed && options.onRequest === undefined
        ? {
            readOnly: true,
            headers,
            connections,
            workerFetch: false,
            forbiddenAsAbsent: options.forbiddenAsAbsent,
            ...(options.transport !== undefined ? { transport: options.transport } : {}),
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
            ...(options.retry !== undefined ? { retry: options.retry } : {}),
            ...(options.maxRedirects !== undefined ? { maxRedirects: options.maxRedirects } : {}),
            ...(options.rangeFallbackLimit !== undefined ? { rangeFallbackLimit: options.rangeFallbackLimit } : {}),
          }
        : undefined;
    this.#core = new HttpCore({
      transport: resolveTransport(options.transport, connections),
      headers,
      onRequest: options.onRequest,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      maxRedirects: options.maxRedirects,
      absent: options.forbiddenAsAbsent ? [404, 403] : [404],
      rangeFallbackLimit: options.rangeFallbackLimit,
    });
  }

  /** Attempts retried since the store was made (progress displays show it). */
  get retries(): number {
    return this.#core.retries;
  }

  /** The transport in use ("undici", "fetch", …), once it is chosen. */
  transportName(): Promise<string> {
    return this.#core.transportName();
  }

  async get(key: string, range?: ByteRange, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    checkRange(key, range);
    const url = this.#urlOf(key);
    if (range === undefined) return this.#core.getWhole(url, key, signal, options?.into);
    const length = "suffixLength" in range ? range.suffixLength : range.length;
    // An empty range needs no bytes, only the answer to "does the key exist"; servers refuse
    // `bytes=-0` and cannot express `bytes=3-2`.
    if (length === 0) return (await this.size(key, options)) === undefined ? undefined : new Uint8Array(0);
    return this.#core.getRange(url, key, range, signal);
  }

  async size(key: string, options?: StoreCallOptions): Promise<number | undefined> {
    const signal = options?.signal;
    throwIfAborted(signal, { key });
    return this.#core.size(this.#urlOf(key), key, signal);
  }

  async set(key: string, value: Uint8Array, options?: StoreCallOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkWritable("set", key);
    throwIfAborted(signal, { key });
    // A copy taken now: the caller may reuse its buffer while a retry is still pending.
    const body = new Uint8Array(value);
    await this.#core.send<void>({
      method: "PUT",
      url: this.#urlOf(key),
      key,
      body,
      headers: { "content-type": "application/octet-stream" },
      signal,
      answer: async (response, fail) => {
        await response.dump();
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
    await this.#core.send<void>({
      method: "DELETE",
      url: this.#urlOf(key),
      key,
      signal,
      answer: async (response, fail) => {
        await response.dump();
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

  /**
   * Pool workers open their own read-only HttpStore with the same URL and options and fetch the
   * chunks they decode (see `workerFetch`). Not for subclasses or instances whose `get` was
   * replaced: their reads must go through them.
   */
  workerHandle(): StoreHandle | undefined {
    if (!this.#workerOptions || Object.getPrototypeOf(this) !== HttpStore.prototype || Object.hasOwn(this, "get")) return undefined;
    return { module: "zarrflow:http", export: "HttpStore", args: [this.url, this.#workerOptions], async: true };
  }

  /** Closes the connection pool; later calls reject. */
  close(): Promise<void> {
    return this.#core.close();
  }

  #checkWritable(operation: string, key: string): void {
    if (this.readOnly) throw new UnsupportedOperationError(`cannot ${operation}: the HTTP store is read-only`, { key });
  }

  /** The URL of a key, refusing keys that are malformed or would leave the base URL. */
  #urlOf(key: string): URL {
    const url = new URL(this.#base.href);
    url.pathname = this.#base.pathname + encodeKey(key);
    return url;
  }
}
