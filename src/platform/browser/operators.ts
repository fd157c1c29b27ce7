/** `zarrflow/operators` in browsers: the pipeline stages (Node stream adapters stay on Node). */
export { prefetch, type PrefetchOptions } from "../../../operators/prefetch.js";
export { compute, type ComputeOptions } from "../../../operators/compute.js";
export { commit, type CommitItem, type CommitOptions } from "../../../operators/commit.js";
export { scatter } from "../../../operators/scatter.js";
export { WorkerPool, sharedPool, closeSharedPool, PoolClosedError, type WorkerPoolOptions } from "../../../operators/pool.js";
