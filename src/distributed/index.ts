/**
 * zarrflow/distributed: copies and conversions split into tasks on a BullMQ queue in Redis, run
 * by any number of worker processes on any number of machines (see docs/scale-out.md).
 * Node-only; the rest of the package does not import it.
 */
export { enqueueCopy, type EnqueueCopyOptions, type FailedTask, type QueueProgress, type QueuedCopySummary } from "./coordinator.js";
export { runWorker, type RunWorkerOptions, type TaskEvent, type WorkerHandle, type WorkerSummary } from "./worker.js";
export { DEFAULT_QUEUE_NAME, type OpenStore, type TaskCounters, type TaskData, type VerifyTaskResult } from "./shared.js";
