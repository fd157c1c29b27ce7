/** `zarrflow/stores` in browsers: the portable stores (no filesystem store). */
export { MemoryStore } from "../../../stores/memory.js";
export type { Store, ByteRange, StoreCallOptions, WritableStore } from "../../store.js";
export { CountingStore, LatencyStore, type CallRecord } from "../../../stores/wrappers.js";
export { FaultStore, InjectedFaultError, type FaultKind, type FaultMethod, type FaultStoreOptions, type InjectedFault } from "../../../stores/fault.js";
