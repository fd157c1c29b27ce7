export { prefetch, type PrefetchOptions } from "./prefetch.js";
export { compute, type ComputeOptions } from "./compute.js";
export { commit, type CommitItem, type CommitOptions } from "./commit.js";
export { scatter } from "./scatter.js";
export { WorkerPool, sharedPool, closeSharedPool, PoolClosedError, type WorkerPoolOptions } from "./pool.js";
export { toNodeReadable, fromNodeReadable, chunksToNodeReadable, planSlabs, type NodeReadableOptions, type NodeWriteOptions, type Slab } from "./node.js";
