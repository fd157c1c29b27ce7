/**
 * The package root in browsers (`zarrflow` under the `browser` condition): the same API as
 * src/index.ts, built with the browser runtime, plus where the pool's worker script lives.
 */
export * from "../../index.js";
export { setWorkerUrl } from "./workers.js";
