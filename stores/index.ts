export { MemoryStore } from "./memory.js";
export { FileSystemStore } from "./filesystem.js";
export type { FileSystemStoreOptions } from "./filesystem.js";
export { HttpStore, HttpStoreError } from "./http.js";
export type { HttpStoreOptions, HttpRequest, HttpMethod, RetryOptions } from "./http.js";
export { openStore, type OpenStoreOptions } from "./open.js";
export type { Store, ByteRange, StoreCallOptions, WritableStore, GetSyncOptions, StoreHandle } from "../src/store.js";
export { CountingStore, LatencyStore, type CallRecord } from "./wrappers.js";
export { FaultStore, InjectedFaultError, type FaultKind, type FaultMethod, type FaultStoreOptions, type InjectedFault } from "./fault.js";
