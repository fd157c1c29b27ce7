/**
 * The runtime seam: the one module that picks a runtime. Everything portable imports
 * `platform` from here. On Node this is the Node implementation; the browser build
 * (scripts/build-browser.mjs) resolves this file to ./browser/index.ts instead, and the
 * package's `browser` export condition points at that build.
 */
export { platform } from "./node/index.js";
