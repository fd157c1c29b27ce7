/**
 * RxJS adapter: a Web ReadableStream (a readChunks stream, or any other) as an Observable.
 * The only module that imports rxjs, an optional peer dependency.
 *
 * Subscribing reads the stream; unsubscribing cancels it, which stops the array read's IO
 * (no new chunk is fetched; the few already in flight finish). Errors of the stream arrive as
 * the Observable's error. A stream can be read once: a second subscription to the same
 * stream's Observable errors (the stream is locked) — readChunks$ starts a fresh read per
 * subscription instead.
 */
import { Observable } from "rxjs";
import type { ChunkResult, ReadChunksOptions, ZarrArray } from "../src/array.js";
import type { Selection } from "../src/selection.js";

export function toObservable<T>(stream: ReadableStream<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const reader = stream.getReader();
    let settled = false;
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (subscriber.closed) return;
          if (done) {
            settled = true;
            subscriber.complete();
            return;
          }
          subscriber.next(value);
        }
      } catch (error) {
        settled = true;
        if (!subscriber.closed) subscriber.error(error);
      }
    })();
    return () => {
      if (!settled) {
        settled = true;
        reader.cancel().catch(() => undefined);
      }
    };
  });
}

/** Chunk results of a selection as a cold Observable: each subscription runs its own read. */
export function readChunks$(array: ZarrArray, selection?: Selection, options?: ReadChunksOptions): Observable<ChunkResult> {
  return new Observable<ChunkResult>((subscriber) => toObservable(array.readChunks(selection, options)).subscribe(subscriber));
}
