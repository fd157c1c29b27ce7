/** Small Web Streams helpers. */

/** A lazy ReadableStream over an iterator: items are pulled only as downstream asks. */
export function streamFromIterator<T>(iterator: Iterator<T>, highWaterMark = 1): ReadableStream<T> {
  return new ReadableStream<T>(
    {
      pull(controller) {
        const next = iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel() {
        iterator.return?.();
      },
    },
    { highWaterMark },
  );
}

/**
 * Lets the event loop run other tasks (rendering, timers, input) before continuing: a long run
 * of microtasks — a body whose chunks have all arrived, read in one loop — would otherwise
 * hold a page's main thread for as long as it takes. Node: setImmediate; browsers:
 * `scheduler.yield` where it exists, else a MessageChannel message (no 4 ms timer clamp).
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; scheduler?: { yield?: () => Promise<void> } };
  if (typeof g.setImmediate === "function") return new Promise((resolve) => g.setImmediate!(resolve));
  if (typeof g.scheduler?.yield === "function") return g.scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}

/** A slice of work longer than this yields to the event loop (see yieldToEventLoop). */
export const SLICE_MS = 8;
