/**
 * The arrays the worker-IO tests read (test/worker-io.test.ts, test/worker-fetch.test.ts):
 * int32, zstd level 1, fill value 7, written whole and then one box of fill values, so that its
 * chunks (or shard) are never stored: a hole that reads as the fill value.
 */
import { create, slice } from "../../src/index.js";
import type { WritableStore } from "../../src/store.js";

export async function writeHoledArray(
  store: WritableStore,
  path: string,
  layout: { chunks: number[]; shards?: number[] },
  shape: number[],
  values: Int32Array,
  hole: [rows: number, columns: number],
): Promise<void> {
  const array = await create(store, {
    path,
    shape,
    ...layout,
    dtype: "int32",
    fillValue: 7,
    codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 1, checksum: false } }],
  });
  await array.write(null, values);
  await array.write([slice(0, hole[0]), slice(0, hole[1]), null], 7);
}
