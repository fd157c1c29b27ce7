/**
 * scatter: the read end of the pipeline. Hands each decoded chunk to a sink (which copies it
 * into the output array, or passes it on to a consumer).
 */
export function scatter<T>(sink: (item: T) => void | Promise<void>): WritableStream<T> {
  return new WritableStream<T>({
    async write(item) {
      await sink(item);
    },
  });
}
