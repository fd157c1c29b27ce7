/**
 * Node stream adapters: an array selection as a byte Readable (C order, host byte order — the
 * bytes `(await array.read(selection)).data` holds), a byte source written into a selection,
 * and a readChunks stream as an object-mode Readable.
 *
 * Bytes move in slabs, not elements or chunks: the selection is cut along its first dimension
 * with more than one element into runs of whole chunk rows (chunk-aligned, so no chunk is read
 * or written twice) of at least `slabBytes`. A slab is one array.read / one writer item, which
 * keeps the per-item stream cost (~4 µs a hop) negligible and memory at about two slabs.
 */
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import type { ChunkResult, Progress, ReadOptions, ZarrArray } from "../src/array.js";
import { DATA_TYPES, allocate, bytesOf, product } from "../src/dtype.js";
import { AbortError, ValueError, asAbortError, throwIfAborted, type ErrorContext } from "../src/errors.js";
import { ndarray } from "../src/ndarray.js";
import { countChunks, type DimSelection, type SelectionItem } from "../src/selection.js";
import type { Selection } from "../src/selection.js";
import type { WriterOptions } from "../src/writer.js";

/** Default slab size: large enough that per-slab costs vanish, small enough to double-buffer. */
const SLAB_BYTES = 1 << 20;

export interface NodeReadableOptions extends ReadOptions {
  /** Aim for slabs of at least this many bytes (default 1 MiB); a slab is always whole chunk rows. */
  slabBytes?: number;
  /** The Readable's buffer limit in bytes (Node's default when omitted). A slab is pushed whole. */
  highWaterMark?: number;
}

export interface NodeWriteOptions extends WriterOptions {
  /** Aim for slabs of at least this many bytes (default 1 MiB); a slab is always whole chunk rows. */
  slabBytes?: number;
}

/** One slab: a selection (in array coordinates) covering a contiguous byte run of the result. */
export interface Slab {
  selection: SelectionItem[];
  /** The slab's result shape (dropped dimensions left out). */
  shape: number[];
  /** Elements in the slab. */
  count: number;
}

/**
 * Cuts a normalised selection into chunk-aligned slabs whose results, concatenated, are the
 * selection's C-order result. The split axis is the first with more than one selected index:
 * every axis before it selects one index, so each slab is a contiguous byte run. Lazy.
 */
export function* planSlabs(sel: readonly DimSelection[], unitShape: readonly number[], itemsize: number, slabBytes = SLAB_BYTES): Generator<Slab> {
  const total = product(sel.map((d) => d.count));
  if (total === 0) return;
  const item = (d: DimSelection, first: number, count: number): SelectionItem => {
    if (d.dropped) return d.start;
    if (d.index) return d.index.slice(first, first + count);
    return { kind: "slice", start: d.start + first * d.step, stop: d.start + (first + count - 1) * d.step + 1, step: d.step };
  };
  const slab = (axis: number, first: number, count: number): Slab => {
    const selection = sel.map((d, i) => (i === axis ? item(d, first, count) : item(d, 0, d.count)));
    const shape: number[] = [];
    sel.forEach((d, i) => {
      if (!d.dropped) shape.push(i === axis ? count : d.count);
    });
    return { selection, shape, count: product(shape) };
  };
  const axis = sel.findIndex((d) => d.count > 1);
  if (axis < 0) {
    yield slab(-1, 0, 0);
    return;
  }
  const { start, step, count } = sel[axis];
  const chunk = unitShape[axis];
  const rowBytes = product(sel.slice(axis + 1).map((d) => d.count)) * itemsize;
  const minRows = Math.max(1, Math.ceil(slabBytes / rowBytes));
  for (let j0 = 0; j0 < count; ) {
    // Take at least minRows positions, then extend to the end of the chunk row the last one is in.
    const end = Math.min(count, j0 + minRows);
    // An index array visits chunks in any order: no alignment to keep, cut by count alone.
    const lastChunk = Math.floor((start + (end - 1) * step) / chunk);
    const j1 = sel[axis].index ? end : Math.min(count, Math.ceil(((lastChunk + 1) * chunk - start) / step));
    yield slab(axis, j0, j1 - j0);
    j0 = j1;
  }
}

/** The chunk grid a read decodes on: inner chunks when shards are read piecewise, stored chunks otherwise. */
function readUnit(array: ZarrArray): number[] {
  return array.partialShardIO ? array.chunks : array.chunkShape;
}

const noop = (): void => undefined;

/**
 * The selection's values as a byte stream (C order, host byte order), read slab by slab. One
 * slab read runs at a time: the next slab is read while the current one sits in the stream's
 * buffer, and no further slab is read until the consumer drains it, so at most about two slabs
 * are held whatever the selection's size. `signal` destroys the stream with an AbortError;
 * `destroy()` stops the read in flight.
 */
export function toNodeReadable(array: ZarrArray, selection?: Selection, options: NodeReadableOptions = {}): Readable {
  const sel = array.select(selection);
  const context: ErrorContext = { path: array.path };
  // Byte streams carry fixed-size elements; variable-length values have no byte form to stream.
  if (DATA_TYPES[array.dtype].form === "object") throw new ValueError(`${array.dtype} values have no byte form: read() them, or stream chunks with readChunks()`, context);
  const { signal: outer, onProgress, slabBytes, highWaterMark, ...readOptions } = options;
  const unit = readUnit(array);
  const plan = planSlabs(sel, unit, DATA_TYPES[array.dtype].itemsize, slabBytes);
  const abort = new AbortController();

  // Progress over the whole selection, summed from the slab reads.
  const progress: Progress = { chunksDone: 0, chunksTotal: countChunks(sel, unit), bytesDone: 0 };
  const track = () => {
    let last = { chunksDone: 0, bytesDone: 0 };
    return (p: Progress) => {
      progress.chunksDone += p.chunksDone - last.chunksDone;
      progress.bytesDone += p.bytesDone - last.bytesDone;
      last = p;
      onProgress?.({ ...progress });
    };
  };

  const readNext = (): Promise<Buffer> | undefined => {
    const next = plan.next();
    if (next.done) return undefined;
    const read = array.read(next.value.selection, { ...readOptions, signal: abort.signal, onProgress: onProgress && track() }).then((result) => {
      const bytes = bytesOf(result.data);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
    read.catch(noop); // a prefetched slab may never be awaited (destroyed first)
    return read;
  };

  let pending: Promise<Buffer> | undefined;
  let pumping = false;
  const pump = async () => {
    pumping = true;
    try {
      for (;;) {
        const current = pending ?? readNext();
        pending = undefined;
        if (!current) {
          readable.push(null);
          return;
        }
        const bytes = await current;
        if (readable.destroyed) return;
        // Read ahead one slab while this one is consumed; the next read starts only when asked.
        pending = readNext();
        if (!readable.push(bytes)) return;
      }
    } catch (error) {
      if (!readable.destroyed) readable.destroy(error as Error);
    } finally {
      pumping = false;
    }
  };

  const onAbort = () => readable.destroy(asAbortError(outer?.reason, context));
  const readable = new Readable({
    highWaterMark,
    read() {
      if (!pumping) void pump();
    },
    destroy(error, callback) {
      outer?.removeEventListener("abort", onAbort);
      abort.abort(error ?? new AbortError("the stream was destroyed", context));
      callback(error);
    },
  });
  if (outer?.aborted) onAbort();
  else outer?.addEventListener("abort", onAbort, { once: true });
  return readable;
}

/**
 * Writes a byte source (C order, host byte order, exactly the selection's size) into the
 * selection, slab by slab, through one array.writer(). The source is pulled only as slabs are
 * handed to the write pipeline, so a slow store slows the source. A source holding fewer or
 * more bytes than the selection is a ValueError (slabs before the error may already be stored,
 * each chunk old or new); on any failure the writer is aborted.
 */
export async function fromNodeReadable(
  source: Readable | AsyncIterable<Uint8Array>,
  array: ZarrArray,
  selection?: Selection,
  options: NodeWriteOptions = {},
): Promise<void> {
  const sel = array.select(selection);
  const context: ErrorContext = { path: array.path };
  const { slabBytes, ...writerOptions } = options;
  const { signal } = options;
  throwIfAborted(signal, context);
  const dtype = array.dtype;
  if (DATA_TYPES[dtype].form === "object") throw new ValueError(`${dtype} values have no byte form: write() them, or pipe chunks into writer()`, context);
  const itemsize = DATA_TYPES[dtype].itemsize;
  const totalBytes = product(sel.map((d) => d.count)) * itemsize;
  const plan = planSlabs(sel, array.chunkShape, itemsize, slabBytes);
  const writer = array.writer(writerOptions).getWriter();

  let slab = plan.next();
  let data = slab.done ? undefined : allocate(dtype, slab.value.count);
  let bytes = data ? bytesOf(data) : new Uint8Array(0);
  let filled = 0;
  let received = 0;

  let onAbort = noop;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        onAbort = () => reject(asAbortError(signal.reason, context));
        signal.addEventListener("abort", onAbort, { once: true });
      })
    : undefined;
  aborted?.catch(noop);
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      const step = await (aborted ? Promise.race([iterator.next(), aborted]) : iterator.next());
      if (step.done) {
        exhausted = true;
        break;
      }
      const chunk = step.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new ValueError(`the source must yield bytes (Uint8Array or Buffer), got ${typeof chunk === "string" ? "a string" : typeof chunk}`, context);
      }
      for (let offset = 0; offset < chunk.byteLength; ) {
        if (slab.done) {
          throw new ValueError(`the source holds more than the ${totalBytes} bytes the selection [${sel.filter((d) => !d.dropped).map((d) => d.count)}] takes`, context);
        }
        const n = Math.min(chunk.byteLength - offset, bytes.byteLength - filled);
        bytes.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        received += n;
        if (filled === bytes.byteLength) {
          await writer.write({ selection: slab.value.selection, data: ndarray(dtype, slab.value.shape, data!) });
          slab = plan.next();
          data = slab.done ? undefined : allocate(dtype, slab.value.count);
          bytes = data ? bytesOf(data) : new Uint8Array(0);
          filled = 0;
        }
      }
    }
    if (!slab.done) {
      throw new ValueError(
        `the source ended after ${received} bytes; the selection [${sel.filter((d) => !d.dropped).map((d) => d.count)}] takes ${totalBytes}`,
        context,
      );
    }
    await writer.close();
  } catch (error) {
    await writer.abort(error).catch(noop);
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Stop the source when we leave early (as a for-await break would).
    if (!exhausted) void Promise.resolve(iterator.return?.()).catch(noop);
  }
}

/** A readChunks stream as an object-mode Readable of ChunkResults, for Node transforms and pipeline(). */
export function chunksToNodeReadable(stream: ReadableStream<ChunkResult>): Readable {
  return Readable.fromWeb(stream as unknown as NodeWebReadableStream<ChunkResult>, { objectMode: true });
}
