/**
 * compute: maps the synchronous codec work (decode for reads, merge + encode for writes) over
 * the stream. For now it runs inline on the calling thread, one item at a time; the worker pool
 * replaces the internals, not this interface.
 */
import type { MaybePromise } from "../src/codecs/codec.js";

export interface ComputeOptions {
  signal?: AbortSignal;
}

export function compute<I, O>(run: (item: I) => MaybePromise<O>, options: ComputeOptions = {}): TransformStream<I, O> {
  return new TransformStream<I, O>({
    async transform(item, controller) {
      options.signal?.throwIfAborted();
      const result = run(item);
      controller.enqueue(result instanceof Promise ? await result : result);
    },
  });
}
