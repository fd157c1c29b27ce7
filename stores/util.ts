/** Small helpers shared by the store implementations and wrappers. */
import { asAbortError } from "../src/errors.js";
import type { Store } from "../src/store.js";

/** Waits `ms`, or rejects with AbortError (naming `key`) as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined, key?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const context = key === undefined ? {} : { key };
    if (signal?.aborted) return reject(asAbortError(signal.reason, context));
    const onAbort = () => {
      clearTimeout(timer);
      reject(asAbortError(signal?.reason, context));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A wrapper offers only the optional capabilities its inner store has: the engine plans from
 * capabilities (setRange → in-place patches), so a wrapper must not advertise what it cannot do.
 */
export function mirrorCapabilities(wrapper: Store, inner: Store): void {
  const optional = ["set", "delete", "list", "getRanges", "setRange", "size"] as const;
  for (const name of optional) if (!inner[name]) (wrapper as unknown as Record<string, unknown>)[name] = undefined;
}
