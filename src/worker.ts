/**
 * The pool worker: runs chunk compute (decode into a shared output; merge + encode) on batches
 * of chunks sent by operators/pool.ts. Codec chains are rebuilt from their JSON once per worker
 * and cached. Errors come back as plain data and are rebuilt as their zarrflow class.
 */
import { expose, Transfer } from "threads/worker";
import "./codecs/index.js";
import { CodecChain } from "./codecs/chain.js";
import type { ChunkSpec, CodecMetadata } from "./codecs/codec.js";
import { decodeInto, decodeRegion, type DecodeItem, type MergeItem } from "./chunk-ops.js";
import { mergeEncodeChunk } from "./shard-merge.js";
import { wordView, type Words } from "./copy.js";
import { serializeError, type SerializedError } from "./errors.js";

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

const workerApi: Record<string, (arg: never) => unknown> = {
  async decodeBatch(batch: DecodeBatch): Promise<WorkerResult<number>> {
    try {
      const { chain, fill } = chainOf(batch.chain);
      const view = wordView(new Uint8Array(batch.out.buffer, batch.out.byteOffset, batch.out.byteLength), batch.chain.itemsize);
      const out = { words: view.words, shape: batch.out.shape, k: view.k };
      for (const item of batch.items) {
        const pending = decodeInto(chain, fill, item, out);
        if (pending instanceof Promise) await pending;
      }
      return { ok: true, value: batch.items.length };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  },

  // Decodes each chunk's selected region into its own buffer, returned by transfer
  // (a threads TransferDescriptor wrapping WorkerResult<ArrayBuffer[]>).
  async extractBatch(batch: ExtractBatch): Promise<unknown> {
    try {
      const { chain, fill } = chainOf(batch.chain);
      const buffers: ArrayBuffer[] = [];
      for (const item of batch.items) {
        const data = decodeRegion(chain, fill, item);
        buffers.push((data instanceof Promise ? await data : data).buffer as ArrayBuffer);
      }
      return Transfer({ ok: true, value: buffers } as WorkerResult<ArrayBuffer[]>, buffers);
    } catch (error) {
      return { ok: false, error: serializeError(error) } as WorkerResult<ArrayBuffer[]>;
    }
  },

  // Returns a threads TransferDescriptor wrapping WorkerResult<(Uint8Array | null)[]>.
  async encodeBatch(batch: EncodeBatch): Promise<unknown> {
    try {
      const { chain, fill } = chainOf(batch.chain);
      const results: (Uint8Array | null)[] = [];
      for (const item of batch.items) {
        const encoded = mergeEncodeChunk(chain, fill, batch.writeEmptyChunks, item);
        results.push(encoded instanceof Promise ? await encoded : encoded);
      }
      const buffers = results.filter((r): r is Uint8Array => r !== null).map((r) => r.buffer as ArrayBuffer);
      // Encoded chunks go back by transfer; distinct buffers only (transfer lists must not repeat).
      return Transfer({ ok: true, value: results } as WorkerResult<(Uint8Array | null)[]>, [...new Set(buffers)]);
    } catch (error) {
      return { ok: false, error: serializeError(error) } as WorkerResult<(Uint8Array | null)[]>;
    }
  },

  ping(): WorkerResult<string> {
    return { ok: true, value: "pong" };
  },
};

expose(workerApi);
