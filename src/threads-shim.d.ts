// threads.js ships types but its package "exports" map does not expose them to NodeNext
// resolution; these are the few declarations zarrflow uses.
declare module "threads" {
  export function spawn<T = unknown>(worker: unknown, options?: { timeout?: number }): Promise<T>;
  export const Worker: new (path: string, options?: Record<string, unknown>) => unknown;
  export function Transfer<T>(payload: T, transferables?: ArrayBuffer[]): unknown;
  export const Thread: { terminate(thread: unknown): Promise<void> };
}

declare module "threads/worker" {
  export function expose(api: Record<string, (arg: never) => unknown>): void;
  export function Transfer<T>(payload: T, transferables?: ArrayBuffer[]): unknown;
}
