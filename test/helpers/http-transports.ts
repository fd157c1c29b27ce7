/** The transports every HTTP store test runs on: undici (Node's default) and fetch (browsers'). */
export const HTTP_TRANSPORTS = ["undici", "fetch"] as const;
export type HttpTransportName = (typeof HTTP_TRANSPORTS)[number];
