/**
 * The undici transport (Node only): a connection pool per store with a bounded number of
 * connections per origin. Node-only by design; the portable core never imports it (see
 * http-transport.ts, which loads it on demand).
 */
import { Agent } from "undici";

import type { HttpTransport, TransportRequest, TransportResponse } from "./http-core.js";

export interface UndiciTransportOptions {
  /** Connections per origin (default 16). */
  connections?: number;
}

export function undiciTransport(options: UndiciTransportOptions = {}): HttpTransport {
  // Our own timer (in the core) bounds each attempt; undici's would fire first with a less useful error.
  const agent = new Agent({ connections: options.connections ?? 16, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  return {
    name: "undici",
    async request({ url, method, headers, body, signal }: TransportRequest): Promise<TransportResponse> {
      const answer = await agent.request({ origin: url.origin, path: url.pathname + url.search, method, headers, body, signal });
      const stream = answer.body;
      // Destroying a body we gave up on emits an "error" nobody else awaits; readers of the
      // body still see errors through their own iteration.
      stream.on("error", () => {});
      return {
        status: answer.statusCode,
        statusText: answer.statusText,
        header(name) {
          const value = answer.headers[name];
          return Array.isArray(value) ? value[0] : value;
        },
        body: stream as AsyncIterable<Uint8Array>,
        dump: () => stream.dump().catch(() => {}),
        destroy: () => void stream.destroy(),
      };
    },
    async close() {
      if (!agent.closed) await agent.close();
    },
  };
}
