/**
 * `zarrflow bench`: a quick benchmark — write then read a generated array with a few codecs on
 * this machine's disk, and print the throughput. (bench/ holds the full benchmark suite.)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CodecMetadata } from "../codecs/codec.js";
import { parseCompression } from "../convert.js";
import { create, openArray } from "../hierarchy.js";
import { ZarrflowError } from "../errors.js";
import { FileSystemStore } from "../../stores/filesystem.js";
import { COMMON_HELP, COMMON_OPTIONS, PIPELINE_HELP, PIPELINE_OPTIONS, UsageError, bytesOption, intOption, parse, stringOption, workersOption } from "./args.js";
import type { CommandContext } from "./context.js";
import { formatBytes, formatRate, formatShape } from "./format.js";
import { ProgressReporter, progressMode } from "./progress.js";

export const BENCH_HELP = `Usage: zarrflow bench [options]

Generates a uint16 array (a smooth field with noise, which compresses like measurements do),
then for each codec writes it to a fresh array on disk and reads it back, and prints the
throughput in MiB/s of uncompressed data. The files are deleted afterwards.

Options:
      --size SIZE            size of the array, such as 64MiB (default 64MiB)
      --codecs LIST          comma-separated compressions (default zstd:1,zstd:3,gzip:1,blosc:lz4:5:shuffle,none)
      --dir DIR              where to write (default: the system's temporary folder)
      --json                 progress as JSON events on stderr, the results as JSON on stdout
${PIPELINE_HELP.trim().split("\n").slice(1).join("\n")}
${COMMON_HELP.trim().split("\n").slice(1).filter((l) => !l.includes("--json")).join("\n")}

Example:
  zarrflow bench --size 32MiB --codecs zstd:1,none`;

const DEFAULT_CODECS = "zstd:1,zstd:3,gzip:1,blosc:lz4:5:shuffle,none";
const ROW = [256, 256];
const CHUNK_ROWS = 8;

export interface BenchRow {
  codec: string;
  writeMiBs: number;
  readMiBs: number;
  storedBytes: number;
  ratio: number;
}

/** The benchmark's data: element i can be recomputed, so the read back is checked exactly. */
function generate(planes: number): Uint16Array {
  const data = new Uint16Array(planes * ROW[0] * ROW[1]);
  for (let z = 0, i = 0; z < planes; z++)
    for (let y = 0; y < ROW[0]; y++)
      for (let x = 0; x < ROW[1]; x++, i++) data[i] = (1000 + 500 * Math.sin(x / 17) * Math.cos(y / 23) + z + ((i * 2654435761) >>> 29)) & 0xffff;
  return data;
}

async function storedBytes(store: FileSystemStore): Promise<number> {
  let total = 0;
  for await (const key of store.list("")) total += (await store.size(key)) ?? 0;
  return total;
}

export async function runBench(args: string[], context: CommandContext): Promise<number> {
  const { values } = parse(
    args,
    { ...COMMON_OPTIONS, ...PIPELINE_OPTIONS, size: { type: "string" }, codecs: { type: "string" }, dir: { type: "string" } },
    0,
  );
  if (values.help) return context.help(BENCH_HELP);
  const size = bytesOption(values, "size") ?? 64 << 20;
  const specs = (stringOption(values, "codecs") ?? DEFAULT_CODECS).split(",").map((s) => s.trim()).filter(Boolean);
  const codecs = new Map<string, CodecMetadata[]>();
  for (const spec of specs) {
    try {
      codecs.set(spec, parseCompression(spec));
    } catch (error) {
      throw new UsageError(`bad codec "${spec}" in --codecs: ${(error as ZarrflowError).detail ?? (error as Error).message}`);
    }
  }
  const concurrency = intOption(values, "concurrency", 1, 1024);
  const workers = workersOption(values);
  const planes = Math.max(1, Math.round(size / (ROW[0] * ROW[1] * 2)));
  const shape = [planes, ...ROW];
  const chunks = [Math.min(CHUNK_ROWS, planes), ...ROW];
  const data = generate(planes);
  const megabytes = data.byteLength / 2 ** 20;
  const mode = progressMode({ quiet: Boolean(values.quiet), json: Boolean(values.json) }, context.stderr);
  const root = await mkdtemp(join(stringOption(values, "dir") ?? tmpdir(), "zarrflow-bench-"));
  const rows: BenchRow[] = [];
  if (!values.json && !values.quiet) {
    context.stdout.write(`zarrflow bench — uint16 ${formatShape(shape)} (${formatBytes(data.byteLength)}), chunks ${formatShape(chunks)}, workers ${workers ?? "auto"}, in ${root}\n`);
    context.stdout.write(`${"codec".padEnd(22)}${"write".padStart(14)}${"read".padStart(14)}${"stored".padStart(13)}${"ratio".padStart(8)}\n`);
  }
  try {
    for (const [spec, compression] of codecs) {
      const store = new FileSystemStore(join(root, spec.replace(/[^a-z0-9]+/gi, "-")));
      const array = await create(store, {
        shape,
        chunks,
        dtype: "uint16",
        codecs: [{ name: "bytes", configuration: { endian: "little" } }, ...compression],
      });
      const progress = new ProgressReporter("bench", { mode, intervalMs: intOption(values, "progress-interval", 0), stream: context.stderr });
      const track = (phase: string) => (p: { chunksDone: number; chunksTotal: number; bytesDone: number }) =>
        progress.update({
          chunksDone: p.chunksDone,
          chunksTotal: p.chunksTotal,
          bytesRead: phase === "read" ? p.bytesDone : 0,
          bytesWritten: phase === "write" ? p.bytesDone : undefined,
          dataBytesDone: p.chunksTotal > 0 ? (p.chunksDone / p.chunksTotal) * data.byteLength : 0,
          dataBytesTotal: data.byteLength,
          label: `${spec} ${phase}`,
        });
      let t = performance.now();
      await array.write(null, data, { concurrency, workers, signal: context.signal, onProgress: track("write") });
      const writeMs = performance.now() - t;
      const reopened = await openArray(store);
      t = performance.now();
      const back = await reopened.read(null, { concurrency, workers, signal: context.signal, onProgress: track("read") });
      const readMs = performance.now() - t;
      progress.stop();
      const got = back.data as Uint16Array;
      if (Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(data.buffer)) !== 0) {
        throw new ZarrflowError(`bench: ${spec} read back different data`);
      }
      const stored = await storedBytes(store);
      const row = { codec: spec, writeMiBs: megabytes / (writeMs / 1000), readMiBs: megabytes / (readMs / 1000), storedBytes: stored, ratio: data.byteLength / stored };
      rows.push(row);
      if (!values.json && !values.quiet) {
        context.stdout.write(
          `${spec.padEnd(22)}${formatRate(row.writeMiBs * 2 ** 20).padStart(14)}${formatRate(row.readMiBs * 2 ** 20).padStart(14)}${formatBytes(stored).padStart(13)}${row.ratio.toFixed(2).padStart(8)}\n`,
        );
      }
      await rm(store.root, { recursive: true, force: true });
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  if (values.json) context.stdout.write(`${JSON.stringify({ shape, chunks, dtype: "uint16", bytes: data.byteLength, rows })}\n`);
  return 0;
}
