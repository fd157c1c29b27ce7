/**
 * readBody (stores/http-core.ts): a body that comes as one chunk owning its whole buffer — as
 * browsers' fetch hands them out — is kept without a copy; anything that may share memory
 * with other data (views into a larger buffer, Node Buffers) is copied; lengths are checked.
 */
import { describe, expect, it } from "vitest";
import { Retryable, readBody, type Fail, type HttpResponse } from "../stores/http-core.js";

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
