/**
 * The pool worker: runs chunk compute (decode into a shared output; merge + encode) on batches
 * of chunks sent by operators/pool.ts. Codec chains are rebuilt from their JSON once per worker
 * and cached. Errors come back as plain data and are rebuilt as their zarrflow class.
 * Portable: each runtime's entry (src/platform/{node,browser}/worker.ts) hands serveTasks the port.
 */
import "./codecs/index.js";
import { CodecChain } from "./codecs/chain.js";
import type { ChunkSpec, CodecMetadata } from "./codecs/codec.js";
import { decodeInto, decodeRegion, type DecodeItem, type MergeItem } from "./chunk-ops.js";
import { mergeEncodeChunk } from "./shard-merge.js";
import { wordView, type Words } from "./copy.js";
import { serializeError, type SerializedError } from "./errors.js";
import type { TaskPort } from "./platform/types.js";
import { readBatch, type ReadBatch } from "./worker-read.js";
import { encodeStoreBatch, type EncodeStoreBatch } from "./worker-write.js";

/** A codec chain by value: everything a worker needs to rebuild it. */
export interface ChainRef {
  id: string;
  path: string;
  spec: ChunkSpec;
  codecs: CodecMetadata[];
  itemsize: number;
  /** The fill value's bytes (one element). */
  fill: Uint8Array;
}

export interface DecodeBatch {
  chain: ChainRef;
  out: { buffer: SharedArrayBuffer; byteOffset: number; byteLength: number; shape: number[] };
  items: DecodeItem[];
}

export interface ExtractBatch {
  chain: ChainRef;
  items: DecodeItem[];
}

export interface EncodeBatch {
  chain: ChainRef;
  writeEmptyChunks: boolean;
  items: MergeItem[];
}

export interface EncodeResult {
  /** Per item: the encoded chunk, or null when it holds only the fill value. */
  encoded: (Uint8Array | null)[];
  /** Piece buffers no encoded chunk uses, returned for reuse. */
  spare: ArrayBuffer[];
}

export type WorkerResult<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

const chains = new Map<string, { chain: CodecChain; fill: Words }>();
/** Chains cached at most (rectilinear grids have one per chunk shape); past it the cache starts over. */
const MAX_CHAINS = 256;

/** The chain of `ref`, or of `ref` for a chunk of another shape (an item's `shape`, on rectilinear grids). */
function chainOf(ref: ChainRef, shape?: number[]): { chain: CodecChain; fill: Words } {
  const id = shape === undefined ? ref.id : `${ref.id}\u0000${shape.join(",")}`;
  let entry = chains.get(id);
  if (!entry) {
    if (chains.size >= MAX_CHAINS) chains.clear();
    const spec = shape === undefined ? ref.spec : { ...ref.spec, shape };
    entry = { chain: new CodecChain(spec, ref.codecs, { path: ref.path }), fill: wordView(ref.fill, ref.itemsize).words };
    chains.set(id, entry);
  }
  return entry;
}

/** A task's answer and the buffers that go back with it by transfer. */
export interface Reply<T> {
  result: WorkerResult<T>;
  transfer: ArrayBuffer[];
}

const failed = (error: unknown): Reply<never> => ({ result: { ok: false, error: serializeError(error) }, transfer: [] });

/** The compute tasks, by name. Each answers with data (errors included), never by throwing. */
const tasks: Record<string, (arg: never, signal: AbortSignal) => Promise<Reply<unknown>> | Reply<unknown>> = {
  async decodeBatch(batch: DecodeBatch): Promise<Reply<number>> {
    try {
      const view = wordView(new Uint8Array(batch.out.buffer, batch.out.byteOffset, batch.out.byteLength), batch.chain.itemsize);
      const out = { words: view.words, shape: batch.out.shape, k: view.k };
      for (const item of batch.items) {
        const { chain, fill } = chainOf(batch.chain, item.shape);
        const pending = decodeInto(chain, fill, item, out);
        if (pending instanceof Promise) await pending;
      }
      return { result: { ok: true, value: batch.items.length }, transfer: [] };
    } catch (error) {
      return failed(error);
    }
  },

  // Fetches for itself (the store's workerHandle) and decodes into a shared output.
  async readBatch(batch: ReadBatch<ChainRef>, signal: AbortSignal): Promise<Reply<number[]>> {
    try {
      return { result: { ok: true, value: await readBatch(batch, chainOf, signal) }, transfer: [] };
    } catch (error) {
      return failed(error);
    }
  },

  // Encodes and stores for itself; the pieces go back for reuse.
  async encodeStoreBatch(batch: EncodeStoreBatch<ChainRef>): Promise<Reply<unknown>> {
    try {
      const value = await encodeStoreBatch(batch, chainOf);
      return { result: { ok: true, value }, transfer: value.spare };
    } catch (error) {
      return failed(error);
    }
  },

  // Decodes each chunk's selected region into its own buffer, returned by transfer.
  async extractBatch(batch: ExtractBatch): Promise<Reply<ArrayBuffer[]>> {
    try {
      const buffers: ArrayBuffer[] = [];
      for (const item of batch.items) {
        const { chain, fill } = chainOf(batch.chain, item.shape);
        const data = decodeRegion(chain, fill, item);
        buffers.push((data instanceof Promise ? await data : data).buffer as ArrayBuffer);
      }
      return { result: { ok: true, value: buffers }, transfer: buffers };
    } catch (error) {
      return failed(error);
    }
  },

  async encodeBatch(batch: EncodeBatch): Promise<Reply<EncodeResult>> {
    try {
      const encoded: (Uint8Array | null)[] = [];
      for (const item of batch.items) {
        const { chain, fill } = chainOf(batch.chain, item.shape);
        const result = mergeEncodeChunk(chain, fill, batch.writeEmptyChunks, item);
        encoded.push(result instanceof Promise ? await result : result);
      }
      const used = new Set(encoded.filter((r): r is Uint8Array => r !== null).map((r) => r.buffer as ArrayBuffer));
      // Pieces the encoded chunks do not share go back too, for the main thread to refill.
      const spare = [...new Set(batch.items.filter((item) => !item.scalar).map((item) => item.piece.buffer as ArrayBuffer))].filter((b) => !used.has(b));
      // Everything goes back by transfer; distinct buffers only (transfer lists must not repeat).
      return { result: { ok: true, value: { encoded, spare } }, transfer: [...used, ...spare] };
    } catch (error) {
      return failed(error);
    }
  },

  ping(): Reply<string> {
    return { result: { ok: true, value: "pong" }, transfer: [] };
  },
};

/** A task sent over the task channel, and its answer. */
export interface TaskMessage {
  id: number;
  method: string;
  task: unknown;
}
/** Asks the worker to stop the task `cancel` (its caller gave up: the operation was aborted). */
export interface CancelMessage {
  cancel: number;
}
export interface TaskReply {
  id: number;
  result: WorkerResult<unknown>;
}

export async function runTask(method: string, task: unknown, signal: AbortSignal = new AbortController().signal): Promise<Reply<unknown>> {
  const handler = tasks[method];
  if (!handler) return failed(new Error(`unknown worker task "${method}"`));
  try {
    return await handler(task as never, signal);
  } catch (error) {
    return failed(error);
  }
}

/**
 * Serves tasks arriving on `port`, the worker's task channel. (threads' own call path — an
 * observable and a message listener per call — costs ≈ 20 µs of main-thread time per call
 * warm, the bare port ≈ 8 µs.)
 */
export function serveTasks(port: TaskPort): void {
  // Tasks running, by id: a cancel message aborts the task's signal (tasks that wait on IO stop).
  const running = new Map<number, AbortController>();
  port.onmessage = (event) => {
    const message = event.data as TaskMessage | CancelMessage;
    if ("cancel" in message) {
      running.get(message.cancel)?.abort();
      return;
    }
    const controller = new AbortController();
    running.set(message.id, controller);
    void runTask(message.method, message.task, controller.signal).then(({ result, transfer }) => {
      running.delete(message.id);
      const reply: TaskReply = { id: message.id, result };
      port.postMessage(reply, transfer);
    });
  };
}
