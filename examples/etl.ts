/**
 * An ETL job: read an array, transform its values, write another array — streamed chunk by
 * chunk (readChunks → TransformStream → writer), in bounded memory.
 *
 * The transform turns raw sensor counts (uint16, 0 = no reading) into calibrated float32
 * values, `counts × scale + offset`, with NaN for missing readings; the output keeps the
 * source's chunk grid, is zstd-compressed and records the calibration in its attributes.
 *
 *   npx tsx examples/etl.ts <src-url> <dst-url> [scale] [offset]
 *   npx tsx examples/etl.ts data/quickstart.zarr/temperature data/calibrated.zarr 0.01 -273.15
 */
import { closePools, create, openArray, slice, type ChunkResult, type WriteItem } from "../src/index.js";
import { openStore } from "../stores/index.js";

const [srcUrl, dstUrl, scaleText = "0.01", offsetText = "0"] = process.argv.slice(2);
if (!srcUrl || !dstUrl) {
  console.error("usage: etl.ts <src-url> <dst-url> [scale] [offset]");
  process.exit(2);
}
const scale = Number(scaleText);
const offset = Number(offsetText);

const src = await openArray(await openStore(srcUrl, { readOnly: true }));
if (src.dtype !== "uint16") throw new Error(`expected uint16 counts, got ${src.dtype}`);
const dst = await create(await openStore(dstUrl), {
  shape: src.shape,
  chunks: src.chunks,
  dtype: "float32",
  fillValue: "NaN",
  codecs: [{ name: "bytes", configuration: { endian: "little" } }, { name: "zstd", configuration: { level: 3 } }],
  attributes: { ...src.attrs, calibration: { scale, offset, source: srcUrl } },
  dimensionNames: src.dimensionNames ?? undefined,
  overwrite: true,
});

let chunks = 0;
let missing = 0;
const calibrate = new TransformStream<ChunkResult, WriteItem>({
  transform(chunk, controller) {
    const counts = chunk.data.data as Uint16Array;
    const values = new Float32Array(counts.length);
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) {
        values[i] = NaN;
        missing++;
      } else values[i] = counts[i] * scale + offset;
    }
    chunks++;
    // region says where this chunk's values sit in the selection (here: the whole array).
    controller.enqueue({ selection: chunk.region.map((r) => slice(r.start, r.start + r.count)), data: values });
  },
});
await src.readChunks().pipeThrough(calibrate).pipeTo(dst.writer());
await closePools();
console.log(`${srcUrl} → ${dstUrl}: ${chunks} chunks, ${src.size} values calibrated (× ${scale} + ${offset}), ${missing} missing → NaN`);
