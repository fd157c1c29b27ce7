export { MemoryStore } from "./memory.js";
export { FileSystemStore } from "./filesystem.js";
export type { FileSystemStoreOptions } from "./filesystem.js";
export type { Store, ByteRange, StoreCallOptions, WritableStore } from "../src/store.js";
export { CountingStore, LatencyStore, type CallRecord } from "./wrappers.js";
