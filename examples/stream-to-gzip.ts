/**
 * Pipe an array slice through Node streams: read a selection as a byte stream (C order,
 * little-endian), gzip it and write it to a file. The read runs slab by slab and waits for the
 * file to take each one (backpressure), so the slice can be larger than memory.
 *
 *   npx tsx examples/stream-to-gzip.ts <array-url> <out.gz> [selection]
 *   npx tsx examples/stream-to-gzip.ts data/sample-v3.zarr data/slice.raw.gz "0:16, 100:200, :"
 *   gunzip -c data/slice.raw.gz | python3 -c "import numpy, sys; print(numpy.frombuffer(sys.stdin.buffer.read(), '<f4')[:5])"
 */
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { closePools, openArray } from "../src/index.js";
import { toNodeReadable } from "../operators/index.js";
import { openStore } from "../stores/index.js";

const [url, out, selection] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: stream-to-gzip.ts <array-url> <out.gz> [selection]");
  process.exit(2);
}

const array = await openArray(await openStore(url, { readOnly: true }));
let chunks = 0;
await pipeline(
  toNodeReadable(array, selection, { onProgress: (p) => (chunks = p.chunksDone) }),
  createGzip({ level: 6 }),
  createWriteStream(out),
);
await closePools();

const sel = array.select(selection);
const shape = sel.filter((d) => !d.dropped).map((d) => d.count);
console.log(`${url} [${selection ?? "..."}] → ${out}: ${array.dtype} [${shape}], ${chunks} chunks read, ${(await stat(out)).size} bytes gzipped`);
