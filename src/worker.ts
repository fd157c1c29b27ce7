/**
 * The pool worker: runs chunk compute (decode into a shared output; merge + encode) on batches
 * of chunks sent by operators/pool.ts. Codec chains are rebuilt from their JSON once per worker
 * and cached. Errors come back as plain data and are rebuilt as their zarrflow class.
 */
import type { MessagePort } from "node:worker_threads";
import { expose, Transfer } from "threads/worker";
import "./codecs/index.js";
import { CodecChain } from "./codecs/chain.js";
import type { ChunkSpec, CodecMetadata } from "./codecs/codec.js";
import { decodeInto, decodeRegion, type DecodeItem, type MergeItem } from "./chunk-ops.js";
import { mergeEncodeChunk } from "./shard-merge.js";
import { wordView, type Words } from "./copy.js";
import { serializeError, type SerializedError } from "./errors.js";
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

function chainOf(ref: ChainRef): { chain: CodecChain; fill: Words } {
  let entry = chains.get(ref.id);
  if (!entry) {
    entry = { chain: new CodecChain(ref.spec, ref.codecs, { path: ref.path }), fill: wordView(ref.fill, ref.itemsize).words };
    chains.set(ref.id, entry);
  }
  return entry;
}

/** A task's answer and the buffers that go back with it by transfer. */
interface Reply<T> {
  result: WorkerResult<T>;
  transfer: ArrayBuffer[];
}

const failed = (error: unknown): Reply<never> => ({ result: { ok: false, error: serializeError(error) }, transfer: [] });

/** The compute tasks, by name. Each answers with data (errors included), never by throwing. */
const tasks: Record<string, (arg: never) => Promise<Reply<unknown>> | Reply<unknown>> = {
  async decodeBatch(batch: DecodeBatch): Promise<Reply<number>> {
    try {
      const { chain, fill } = chainOf(batch.chain);
      const view = wordView(new Uint8Array(batch.out.buffer, batch.out.byteOffset, batch.out.byteLength), batch.chain.itemsize);
      const out = { words: view.words, shape: batch.out.shape, k: view.k };
      for (const item of batch.items) {
        const pending = decodeInto(chain, fill, item, out);
        if (pending instanceof Promise) await pending;
      }
      return { result: { ok: true, value: batch.items.length }, transfer: [] };
    } catch (error) {
      return failed(error);
    }
  },

  // Fetches for itself (the store's workerHandle) and decodes into a shared output.
  async readBatch(batch: ReadBatch<ChainRef>): Promise<Reply<number[]>> {
    try {
      return { result: { ok: true, value: await readBatch(batch, chainOf) }, transfer: [] };
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
      const { chain, fill } = chainOf(batch.chain);
      const buffers: ArrayBuffer[] = [];
      for (const item of batch.items) {
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
      const { chain, fill } = chainOf(batch.chain);
      const encoded: (Uint8Array | null)[] = [];
      for (const item of batch.items) {
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
export interface TaskReply {
  id: number;
  result: WorkerResult<unknown>;
}

async function runTask(method: string, task: unknown): Promise<Reply<unknown>> {
  const handler = tasks[method];
  if (!handler) return failed(new Error(`unknown worker task "${method}"`));
  try {
    return await handler(task as never);
  } catch (error) {
    return failed(error);
  }
}

/**
 * threads.js starts the worker and hands it a MessagePort (by Transfer) through `connect`;
 * tasks then travel on that port as plain messages. threads' own call path (an observable and
 * a message listener per call) costs ≈ 20 µs of main-thread time per call warm, the bare port
 * ≈ 8 µs.
 */
expose({
  connect(port: MessagePort): WorkerResult<string> {
    port.on("message", (message: TaskMessage) => {
      void runTask(message.method, message.task).then(({ result, transfer }) => {
        const reply: TaskReply = { id: message.id, result };
        port.postMessage(reply, transfer);
      });
    });
    return { ok: true, value: "connected" };
  },
  // The same tasks through threads' call path, used by nothing hot (tests, health checks).
  async call({ method, task }: { method: string; task: unknown }): Promise<unknown> {
    const { result, transfer } = await runTask(method, task);
    return transfer.length ? Transfer(result as never, transfer) : result;
  },
});
