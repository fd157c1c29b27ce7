/** Stands in for the undici HTTP transport in the browser build: pages use `fetch`. */
export function undiciTransport(): never {
  throw new Error('the "undici" HTTP transport needs Node; in a browser use transport: "fetch"');
}
