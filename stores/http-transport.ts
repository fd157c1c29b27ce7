/**
 * Picks a transport for an HTTP store: undici on Node (its pool is bounded per origin and
 * faster), `fetch` elsewhere, or what the caller names. undici is loaded on demand by a dynamic
 * import so that bundling the portable stores for a browser does not pull it in.
 */
import { StoreError } from "../src/errors.js";
import type { HttpTransport } from "./http-core.js";
import { fetchTransport, type FetchLike } from "./http-transport-fetch.js";

/** "undici" (Node), "fetch" (global fetch), a fetch-like function, or a transport of your own. */
export type TransportOption = "undici" | "fetch" | FetchLike | HttpTransport;

export const isNode = typeof process !== "undefined" && typeof process.versions?.node === "string";

/** A factory for the transport, made on first use. */
export function resolveTransport(option: TransportOption | undefined, connections: number): HttpTransport | (() => Promise<HttpTransport>) {
  if (typeof option === "object") return option;
  if (typeof option === "function") return fetchTransport(option);
  const name = option ?? (isNode ? "undici" : "fetch");
  if (name === "fetch") return fetchTransport();
  if (name !== "undici") throw new StoreError(`unknown HTTP transport ${JSON.stringify(name)} (use "undici" or "fetch")`);
  if (!isNode) throw new StoreError('the "undici" transport needs Node; use transport: "fetch"');
  return async () => (await import("./http-transport-undici.js")).undiciTransport({ connections });
}
