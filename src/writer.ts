/**
 * The streaming writer: a WritableStream of `{ selection, data }` items that may overlap chunks
 * and each other. Later items win; nothing is lost.
 *
 * Items are cut into per-chunk pieces. A piece that covers its whole chunk goes straight to the
 * write pipeline (no read). Partial pieces are combined in memory, per chunk, in a chunk-sized
 * buffer with an element mask: once the mask covers the chunk it is written without reading;
 * when the pending partial chunks exceed `bufferBytes`, the oldest is flushed as a masked
 * read-modify-write; on close every pending chunk is flushed that way. Per-chunk locks taken in
 * job order serialise successive jobs for one chunk, so a later job sees an earlier one's result.
 */
import type { ZarrArray, WriteJob, WriteOptions } from "./array.js";
import { copyRegion, fillRegion, wordView } from "./copy.js";
import { extractPiece, fillChunk, markRegion } from "./chunk-ops.js";
import { DATA_TYPES, bytesOf, memoryItemsize, product, scalarArray } from "./dtype.js";
import { AbortError, asAbortError } from "./errors.js";
import { normalizeSelection, projectChunks, selectionShape, type Region, type Selection } from "./selection.js";
import { valueSource, type WriteValue } from "./value.js";

export interface WriteItem {
  selection: Selection;
  data: WriteValue;
}

export interface WriterOptions extends WriteOptions {
  /** Memory for partly written chunks awaiting the rest of their data (default 256 MiB). */
  bufferBytes?: number;
}

interface Pending {
  key: string;
  buffer: Uint8Array;
  mask: Uint8Array;
  covered: number;
  /** Elements of the chunk inside the array (edge chunks have fewer). */
  needed: number;
  /** The chunk's shape on a rectilinear grid (absent: the array's chunk shape). */
  shape?: number[];
}

export function createWriter(array: ZarrArray, options: WriterOptions = {}): WritableStream<WriteItem> {
  const { dataType } = array.metadata;
  const itemsize = DATA_TYPES[dataType].itemsize;
  const chunkShape = array.chunkShape;
  const chunkElements = product(chunkShape);
  const pendingCost = chunkElements * (memoryItemsize(dataType) + 1);
  const budget = Math.max(pendingCost, options.bufferBytes ?? 256 << 20);
  const fill = wordView(bytesOf(scalarArray(array.metadata.fillValue, dataType)), itemsize).words;
  const pending = new Map<string, Pending>();
  const regionOf = (shape: readonly number[]): Region[] => shape.map((count) => ({ start: 0, step: 1, count }));
  const fullRegion = regionOf(chunkShape);

  const jobs = new TransformStream<WriteJob, WriteJob>(undefined, { highWaterMark: 4 }, { highWaterMark: 4 });
  const jobWriter = jobs.writable.getWriter();
  let failure: { error: unknown } | undefined;
  const done = array.runWrite(jobs.readable, -1, options).catch((error: unknown) => {
    failure ??= { error };
    throw error;
  });
  // Observed here so that a failure is reported by write()/close(), not as an unhandled rejection.
  done.catch(() => undefined);

  // A function: TypeScript cannot see that an await may set `failure`.
  const throwIfFailed = (): void => {
    if (failure) throw failure.error;
  };
  // The job stream breaks only when the pipeline behind it failed; its own error then says
  // nothing useful (on Node 20 it can even be an internal TypeError), the pipeline's does.
  const pipelineFailure = async (error: unknown): Promise<never> => {
    await done;
    throw error;
  };
  const send = async (job: WriteJob) => {
    throwIfFailed();
    await jobWriter.ready.catch(pipelineFailure);
    throwIfFailed();
    void jobWriter.write(job).catch(() => undefined);
  };

  const flushPending = async (entry: Pending) => {
    pending.delete(entry.key);
    const complete = entry.covered === entry.needed;
    const job: WriteJob = {
      key: entry.key,
      complete,
      piece: entry.buffer,
      scalar: false,
      chunkRegion: entry.shape ? regionOf(entry.shape) : fullRegion,
      mask: complete ? undefined : entry.mask,
    };
    if (entry.shape) job.shape = entry.shape;
    await send(job);
  };

  return new WritableStream<WriteItem>({
    async write({ selection, data }) {
      if (failure) throw failure.error;
      if (options.signal?.aborted) throw asAbortError(options.signal.reason, { path: array.path });
      const sel = normalizeSelection(selection, array.shape, { path: array.path });
      const fullShape = sel.map((d) => d.count);
      const source = valueSource(data, dataType, selectionShape(sel), { path: array.path });
      // Deduplicated: an index repeated within one item keeps its last value (later items win anyway).
      for (const projection of projectChunks(sel, array.shape, array.grid, { dedupe: true })) {
        const key = array.chunkKey(projection.chunkCoords);
        const { chunkRegion, outRegion } = projection;
        if (projection.complete) {
          // Overwrites everything pending for this chunk: drop it and write the chunk whole.
          pending.delete(key);
          const piece = source.kind === "scalar" ? bytesOf(source.words) : extractPiece(source.words, fullShape, outRegion, itemsize, source.k);
          const job: WriteJob = { key, complete: true, piece, scalar: source.kind === "scalar", chunkRegion, extent: array.chunkExtent(projection.chunkCoords) };
          if (projection.chunkShape) job.shape = projection.chunkShape;
          await send(job);
          continue;
        }
        // Rectilinear grids: this chunk's own shape (the largest bounds the buffer budget).
        const shape = projection.chunkShape ?? chunkShape;
        let entry = pending.get(key);
        if (!entry) {
          const needed = product(array.chunkExtent(projection.chunkCoords));
          entry = { key, buffer: bytesOf(fillChunk(dataType, shape, fill)), mask: new Uint8Array(product(shape)), covered: 0, needed };
          if (projection.chunkShape) entry.shape = projection.chunkShape;
          while (pending.size && (pending.size + 1) * pendingCost > budget) {
            await flushPending(pending.values().next().value as Pending);
          }
          pending.set(key, entry);
        }
        const target = wordView(entry.buffer, itemsize);
        if (source.kind === "scalar") fillRegion(target.words, shape, chunkRegion, source.words, target.k);
        else copyRegion(target.words, shape, chunkRegion, source.words, fullShape, outRegion, target.k);
        entry.covered += markRegion(entry.mask, shape, chunkRegion);
        if (entry.covered === entry.needed) await flushPending(entry);
      }
    },
    async close() {
      for (const entry of [...pending.values()]) await flushPending(entry);
      if (failure) throw failure.error;
      await jobWriter.close().catch(pipelineFailure);
      await done;
    },
    async abort(reason) {
      pending.clear();
      await jobWriter.abort(reason instanceof Error ? reason : new AbortError("the writer was aborted")).catch(() => undefined);
      await done.catch(() => undefined);
    },
  });
}
