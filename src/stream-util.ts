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
