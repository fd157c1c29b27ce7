/**
 * Read a remote array over HTTP: open it by URL (openStore picks HttpStore for http:// and
 * https://), print what it is, and read a selection — only the chunks (or, for sharded arrays,
 * the shard indexes and inner chunks) the selection needs are fetched, with ranged requests.
 *
 *   npx tsx examples/http-read.ts <http-url> [selection]
 *   npx tsx examples/http-read.ts https://example.org/data/sample-v3.zarr "0, 100:110, 200:210"
 *
 * Any static web server that answers Range requests serves Zarr: `npx http-server data/` or
 * nginx in front of a folder will do.
 */
import { closePools, openArray } from "../src/index.js";
import { openStore } from "../stores/index.js";

const [url, selection = "..."] = process.argv.slice(2);
if (!url) {
  console.error("usage: http-read.ts <http-url> [selection]");
  process.exit(2);
}

const store = await openStore(url, { readOnly: true });
const array = await openArray(store);
console.log(`${url}: Zarr v${array.zarrFormat} ${array.dtype} [${array.shape}], chunks [${array.chunks}]${array.shards ? `, shards [${array.shards}]` : ""}`);

let stored = 0;
let chunks = 0;
const started = performance.now();
const result = await array.read(selection, {
  onProgress: (p) => {
    stored = p.bytesDone;
    chunks = p.chunksDone;
  },
});
const ms = performance.now() - started;
let sum = 0;
let count = 0;
for (const v of result.data as Iterable<number | bigint>) {
  const x = Number(v);
  if (Number.isNaN(x)) continue;
  sum += x;
  count++;
}
console.log(`[${selection}] → shape [${result.shape}]: ${chunks} chunks, ${stored} stored bytes fetched in ${ms.toFixed(0)} ms`);
console.log(`sum ${sum} over ${count} values, mean ${(sum / count).toFixed(4)}`);
await store.close?.();
await closePools();
