/**
 * readBody (stores/http-core.ts): a body that comes as one chunk owning its whole buffer — as
 * browsers' fetch hands them out — is kept without a copy; anything that may share memory
 * with other data (views into a larger buffer, Node Buffers) is copied; lengths are checked.
 * With memory lent (`into`, what pool workers pass), the fetch transport reads a byte stream
 * straight into it with a BYOB reader (the lent buffer is transferred, not copied) and copies
 * other streams into it; the same length checks hold.
 */
import { describe, expect, it } from "vitest";
import { Retryable, readBody, type Fail, type HttpResponse } from "../stores/http-core.js";
import { fetchTransport } from "../stores/http-transport-fetch.js";

function response(chunks: Uint8Array[]): HttpResponse {
  return {
    url: new URL("http://example.test/a/c/0"),
    status: 200,
    statusText: "OK",
    header: () => undefined,
    body: {
      async *[Symbol.asyncIterator]() {
        for (const chunk of chunks) yield chunk;
      },
    },
    dump: async () => {},
    destroy: () => {},
  } as HttpResponse;
}

const fail: Fail = (message) => {
  throw new Error(message);
};

describe("readBody", () => {
  it("keeps a whole-buffer single chunk of the expected length as it is", async () => {
    const chunk = new Uint8Array([1, 2, 3, 4]);
    expect(await readBody(response([chunk]), 4, 4, fail)).toBe(chunk);
  });

  it("copies a chunk that is a view into a larger buffer, and a Node Buffer", async () => {
    const backing = new Uint8Array([9, 1, 2, 3, 4, 9]);
    const view = backing.subarray(1, 5);
    const got = await readBody(response([view]), 4, 4, fail);
    expect(got).not.toBe(view);
    expect(got.buffer).not.toBe(backing.buffer);
    expect(Array.from(got)).toEqual([1, 2, 3, 4]);
    const buffer = Buffer.from([5, 6]);
    const fromBuffer = await readBody(response([buffer]), 2, 2, fail);
    expect(fromBuffer).not.toBe(buffer);
    expect(Array.from(fromBuffer)).toEqual([5, 6]);
  });

  it("joins a body in pieces, and refuses one longer or shorter than expected", async () => {
    expect(Array.from(await readBody(response([new Uint8Array([1, 2]), new Uint8Array([3])]), 3, 3, fail))).toEqual([1, 2, 3]);
    await expect(readBody(response([new Uint8Array([1, 2, 3]), new Uint8Array([4])]), 3, 3, fail)).rejects.toThrow(/longer than the 3 bytes expected/);
    await expect(readBody(response([new Uint8Array([1, 2])]), 3, 3, fail)).rejects.toBeInstanceOf(Retryable);
  });

  it("an empty body of length 0, and a body of unknown length up to the limit", async () => {
    expect((await readBody(response([]), 0, 0, fail)).byteLength).toBe(0);
    expect(Array.from(await readBody(response([new Uint8Array([7]), new Uint8Array([8])]), undefined, 10, fail))).toEqual([7, 8]);
    await expect(readBody(response([new Uint8Array(8), new Uint8Array(8)]), undefined, 10, fail)).rejects.toThrow(/larger than 10 bytes/);
  });
});

/** A response of the fetch transport whose body is `parts`, as a byte stream or a plain one. */
async function fetched(parts: number[][], bytes: boolean): Promise<HttpResponse> {
  // Parts a timer turn apart, so that each read of the body gets one part (as a network delivers them).
  const body = new ReadableStream<Uint8Array>({
    ...(bytes ? { type: "bytes" as const } : {}),
    async start(controller) {
      for (const part of parts) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(new Uint8Array(part));
      }
      controller.close();
    },
  });
  const transport = fetchTransport(async () => new Response(body));
  const answer = await transport.request({ url: new URL("http://example.test/a/c/0"), method: "GET", headers: {}, body: null, signal: new AbortController().signal });
  return { ...answer, url: new URL("http://example.test/a/c/0") } as HttpResponse;
}

describe("readBody into lent memory (fetch transport)", () => {
  it("a byte stream lands in the lent memory itself: its buffer is transferred, nothing allocated", async () => {
    const lent = new Uint8Array(16);
    const view = lent.subarray(4);
    const got = await readBody(await fetched([[1, 2], [3, 4, 5], [6]], true), 6, 6, fail, view);
    expect(Array.from(got)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(got.byteOffset).toBe(4);
    expect(lent.buffer.byteLength).toBe(0); // transferred by the BYOB reads
    expect(got.buffer.byteLength).toBe(16); // the same memory, handed back
  });

  it("another stream is copied into the lent memory", async () => {
    const lent = new Uint8Array(8);
    const got = await readBody(await fetched([[1, 2, 3], [4]], false), 4, 4, fail, lent);
    expect(Array.from(got)).toEqual([1, 2, 3, 4]);
    expect(got.buffer).toBe(lent.buffer);
  });

  it.each([true, false])("a body longer or shorter than expected is refused (byte stream: %s)", async (bytes) => {
    await expect(readBody(await fetched([[1, 2, 3], [4, 5]], bytes), 4, 4, fail, new Uint8Array(8))).rejects.toThrow(/longer than the 4 bytes expected/);
    await expect(readBody(await fetched([[1, 2]], bytes), 4, 4, fail, new Uint8Array(8))).rejects.toBeInstanceOf(Retryable);
  });

  it("memory too small, or none, is not used", async () => {
    const small = new Uint8Array(2);
    const got = await readBody(await fetched([[1, 2, 3]], true), 3, 3, fail, small);
    expect(Array.from(got)).toEqual([1, 2, 3]);
    expect(small.buffer.byteLength).toBe(2);
    expect(got.buffer).not.toBe(small.buffer);
  });
});
