// Starts the TypeScript worker (src/platform/node/worker.ts) when zarrflow runs from source
// (tests, tsx): registers tsx's ESM loader in this thread, then loads the worker. The built
// package (dist/) starts dist/src/platform/node/worker.js directly and never uses this file.
import { register } from "tsx/esm/api";

register();
await import("./platform/node/worker.ts");
