/**
 * The `fetch` transport: runs wherever a WHATWG `fetch` exists (browsers, workers, Deno, Bun,
 * Node). Redirects come back to the core unfollowed (`redirect: "manual"`), so the core's policy
 * decides where credentials go. A browser hides a redirect's target (an "opaqueredirect"
 * answer); that is reported as an error instead of being followed blindly.
 */
import { NetworkError, TransportClosedError, type HttpTransport, type TransportRequest, type TransportResponse } from "./http-core.js";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export function fetchTransport(fetchFn: FetchLike = (input, init) => globalThis.fetch(input, init)): HttpTransport {
  let closed = false;
  return {
    name: "fetch",
    async request({ url, method, headers, body, signal }: TransportRequest): Promise<TransportResponse> {
      if (closed) throw new TransportClosedError("the transport is closed");
      const sent = new Headers(headers);
      // Byte offsets must index the stored bytes, so no transparent decompression. Browsers
      // ignore this forbidden header and send identity for ranged requests themselves.
      if (!sent.has("accept-encoding")) sent.set("accept-encoding", "identity");
      let response: Response;
      try {
        response = await fetchFn(url.href, { method, headers: sent, body: body as BodyInit | null, signal, redirect: "manual", cache: "no-store" });
      } catch (error) {
        throw asNetworkError(error, signal);
      }
      if (response.type === "opaqueredirect") {
        await response.body?.cancel().catch(() => {});
        throw new Error("a redirect whose target this fetch hides (browser); not followed");
      }
      const stream = response.body;
      let used = false;
      const drop = () => {
        if (!used) {
          used = true;
          void stream?.cancel().catch(() => {});
        }
      };
      return {
        status: response.status,
        statusText: response.statusText,
        header: (name) => response.headers.get(name) ?? undefined,
        body: {
          [Symbol.asyncIterator]: () => {
            used = true;
            return chunks(stream, signal);
          },
        },
        async readInto(target: Uint8Array) {
          if (used) return undefined;
          const reader = byobReader(stream);
          if (!reader) return undefined;
          used = true;
          return readWithByob(reader, target, signal);
        },
        async dump() {
          if (used || !stream) return;
          used = true;
          // Reading a small rest keeps the connection; cancelling may close it. Either is fine.
          await stream.cancel().catch(() => {});
        },
        destroy: drop,
      };
    },
    async close() {
      closed = true;
    },
  };
}

/** A body's chunks through a reader (async iteration of ReadableStream is not everywhere yet). */
async function* chunks(stream: ReadableStream<Uint8Array> | null, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  if (!stream) return;
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        throw asNetworkError(error, signal);
      }
      if (result.done) {
        done = true;
        return;
      }
      yield result.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** A BYOB reader of the body, or undefined when it is not a byte stream (nothing is read then). */
function byobReader(stream: ReadableStream<Uint8Array> | null): ReadableStreamBYOBReader | undefined {
  try {
    return stream?.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

/**
 * Reads a body into `target` with a BYOB reader (browsers' fetch, Node's): the bytes land there
 * directly — each read transfers the memory, so the result is a view over the last buffer
 * handed back. Then one more read tells whether the body was longer (the rest is cancelled).
 */
async function readWithByob(reader: ReadableStreamBYOBReader, target: Uint8Array, signal: AbortSignal): Promise<{ bytes: Uint8Array; more: boolean }> {
  // Taken now: the first read transfers the memory, and `target` then reads as empty.
  const { byteOffset, byteLength } = target;
  let buffer = target.buffer as ArrayBuffer;
  let filled = 0;
  let done = false;
  try {
    while (filled < byteLength) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read(new Uint8Array(buffer, byteOffset + filled, byteLength - filled));
      } catch (error) {
        throw asNetworkError(error, signal);
      }
      if (result.value) buffer = result.value.buffer as ArrayBuffer;
      if (result.done) {
        done = true;
        return { bytes: new Uint8Array(buffer, byteOffset, filled), more: false };
      }
      filled += result.value.byteLength;
    }
    // Full: the body must end here. (A read may come back empty without the end: read again.)
    let probe: ReadableStreamReadResult<Uint8Array>;
    let probes = 0;
    do {
      try {
        probe = await reader.read(new Uint8Array(1));
      } catch (error) {
        throw asNetworkError(error, signal);
      }
    } while (!probe.done && probe.value.byteLength === 0 && ++probes < 64);
    done = probe.done;
    return { bytes: new Uint8Array(buffer, byteOffset, filled), more: !probe.done };
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** fetch reports every network failure as a TypeError; keep the cause's code where there is one. */
function asNetworkError(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return error;
  if (error instanceof TypeError) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const code = typeof cause?.code === "string" ? cause.code : undefined;
    const detail = typeof cause?.message === "string" ? `${error.message}: ${cause.message}` : error.message;
    return new NetworkError(detail, code, { cause: error });
  }
  return error;
}
