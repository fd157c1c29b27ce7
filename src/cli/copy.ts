/**
 * `zarrflow copy <src> <dst>`: a thin layer over copyNode/verifyCopy (src/convert.ts) — option
 * parsing, the existing-destination check, progress, and the summary.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { ZarrArray } from "../array.js";
import type { CodecMetadata } from "../codecs/codec.js";
import { copyNode, parseCompression, verifyCopy, type CopyProgress, type CopySummary, type VerifyResult } from "../convert.js";
import { NodeNotFoundError, ZarrflowError } from "../errors.js";
import type { ZarrGroup } from "../group.js";
import { open, openArray } from "../hierarchy.js";
import { parseSelection, type SelectionItem } from "../selection.js";
import { joinKey } from "../store.js";
import type { GridSpec } from "../chunk-grid.js";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  STORE_HELP,
  STORE_OPTIONS,
  UsageError,
  bytesOption,
  gridOption,
  intOption,
  parse,
  shapeOption,
  storeFlags,
  stringOption,
  workersOption,
  type StoreFlags,
} from "./args.js";
import type { CommandContext } from "./context.js";
import { formatBytes, formatDuration, formatRate } from "./format.js";
import { ProgressReporter, copySnapshot, progressMode } from "./progress.js";
import { checkLocation, openLocation, openNodeAt, type ObservedStore } from "./store.js";
import { isZipLocation } from "../../stores/open.js";

export const COPY_HELP = `Usage: zarrflow copy <src-url> <dst-url> [options]

Copies an array, or a group with everything in it (attributes included), converting the
format, chunks, shards and compression on the way. The copy streams through the pipeline in
bounded memory; each destination chunk is written once, whole. Locations are paths, file://,
memory://, http(s):// or s3:// URLs, or .zip archives (read by range; as <dst-url>, a new
archive at a local path, finished when the copy is).

Options:
      --zarr-format 2|3      format of the copy (default: the source's)
      --chunks SHAPE         chunk shape, such as 64,64,64 (inner chunks when sharded; default:
                               the source's); v3 also a rectilinear grid as JSON edges, such
                               as '[[100,100,50],64]' or '[[[10,5]],8]' ([length, count] runs)
      --shards SHAPE|none    shard shape (v3; JSON edges for a rectilinear shard grid), multiples
                               of the chunks; "none" for no sharding (default: the source's
                               shards unless --chunks is given)
      --codec SPEC           compression: zstd[:level], gzip[:level], zlib[:level],
                               lz4[:acceleration], blosc[:cname[:clevel[:shuffle]]] or none
                               (default: the source's compression)
      --filters keep|none    keep the source's value filters (delta, fixedscaleoffset, scale_offset,
                               …; the default), or store plain values
  -s, --select SEL           copy only this selection of the source array, such as "0:100, :, 3"
      --memory SIZE          memory budget for data in flight, such as 512MiB (default 256MiB)
      --overwrite            replace what is at <dst-url> (default: refuse)
      --verify               then compare the copy with the source, element by element
      --json                 progress as JSON events on stderr, the summary as JSON on stdout

Across machines (see docs/scale-out.md):
      --queue REDIS-URL      cut the copy into tasks on a BullMQ queue at redis://host:port[/db],
                               run by "zarrflow worker" processes; follow them, exit 0 when all
                               are done. Run again, the copy resumes: done tasks are skipped
      --queue-name NAME      the queue (default "zarrflow")
      --attempts N           tries per task before it counts as failed (default 3)
      --task-size SIZE       data per task, in whole destination shards/chunks (default 64MiB)

${STORE_HELP.trim().split("\n").slice(1).join("\n")}
${PIPELINE_HELP.trim().split("\n").slice(1).join("\n")}
${COMMON_HELP.trim().split("\n").slice(1).filter((l) => !l.includes("--json")).join("\n")}

Examples:
  zarrflow copy data/sample-v2.zarr data/copy.zarr --zarr-format 3 --shards 16,360,720 --codec zstd:3
  zarrflow copy data/sample-v2.zarr data/first.zarr --select "0:8" --codec gzip:6 --overwrite`;

export interface CopyArgs {
  src: string;
  dst: string;
  zarrFormat?: 2 | 3;
  chunks?: GridSpec;
  shards?: GridSpec | null;
  compression?: CodecMetadata[];
  /** `[]` for --filters none; undefined keeps the source's. */
  filters?: CodecMetadata[];
  selection?: SelectionItem[];
  memoryBytes?: number;
  overwrite: boolean;
  verify: boolean;
  concurrency?: number;
  workers?: number | "auto";
  intervalMs?: number;
  quiet: boolean;
  json: boolean;
  queue?: string;
  queueName?: string;
  attempts?: number;
  taskBytes?: number;
  store: StoreFlags;
}

function parseCopyArgs(args: string[]): CopyArgs | undefined {
  const { values, positionals } = parse(
    args,
    {
      ...COMMON_OPTIONS,
      ...PIPELINE_OPTIONS,
      ...STORE_OPTIONS,
      "zarr-format": { type: "string" },
      chunks: { type: "string" },
      shards: { type: "string" },
      codec: { type: "string" },
      filters: { type: "string" },
      select: { type: "string", short: "s" },
      memory: { type: "string" },
      overwrite: { type: "boolean" },
      verify: { type: "boolean" },
      queue: { type: "string" },
      "queue-name": { type: "string" },
      attempts: { type: "string" },
      "task-size": { type: "string" },
    },
    2,
  );
  if (values.help) return undefined;
  const src = checkLocation(positionals[0], "source location");
  const dst = checkLocation(positionals[1], "destination location");
  const format = stringOption(values, "zarr-format");
  if (format !== undefined && format !== "2" && format !== "3") throw new UsageError(`--zarr-format must be 2 or 3, got "${format}"`);
  const codec = stringOption(values, "codec");
  let compression: CodecMetadata[] | undefined;
  try {
    compression = codec === undefined ? undefined : parseCompression(codec);
  } catch (error) {
    throw new UsageError(`bad --codec "${codec}": ${(error as ZarrflowError).detail ?? (error as Error).message}`);
  }
  const filters = stringOption(values, "filters");
  if (filters !== undefined && filters !== "keep" && filters !== "none") throw new UsageError(`--filters must be keep or none, got "${filters}"`);
  const selectText = stringOption(values, "select");
  let selection: SelectionItem[] | undefined;
  try {
    selection = selectText === undefined ? undefined : parseSelection(selectText);
  } catch (error) {
    throw new UsageError(`bad --select: ${(error as ZarrflowError).detail ?? (error as Error).message}`);
  }
  const shards = stringOption(values, "shards") === "none" ? null : gridOption(values, "shards");
  if (shards && format === "2") throw new UsageError("--shards needs --zarr-format 3");
  const queue = stringOption(values, "queue");
  for (const name of ["queue-name", "attempts", "task-size"]) {
    if (values[name] !== undefined && queue === undefined) throw new UsageError(`--${name} needs --queue`);
  }
  if (queue !== undefined) {
    if (!/^rediss?:\/\//i.test(queue)) throw new UsageError(`--queue takes a Redis URL (redis://host:port[/db]), got "${queue}"`);
    for (const location of [src, dst]) {
      if (location.toLowerCase().startsWith("memory://")) throw new UsageError(`${location} lives in one process; --queue needs locations every worker can reach`);
    }
  }
  return {
    src,
    dst,
    zarrFormat: format === undefined ? undefined : (Number(format) as 2 | 3),
    chunks: gridOption(values, "chunks"),
    shards,
    compression,
    filters: filters === "none" ? [] : undefined,
    selection,
    memoryBytes: bytesOption(values, "memory"),
    overwrite: Boolean(values.overwrite),
    verify: Boolean(values.verify),
    concurrency: intOption(values, "concurrency", 1, 1024),
    workers: workersOption(values),
    intervalMs: intOption(values, "progress-interval", 0),
    quiet: Boolean(values.quiet),
    json: Boolean(values.json),
    queue,
    queueName: stringOption(values, "queue-name"),
    attempts: intOption(values, "attempts", 1, 100),
    taskBytes: bytesOption(values, "task-size"),
    store: storeFlags(values),
  };
}

/** Pairs of (source array, copy path) under a node, for verification. */
async function arraysUnder(node: ZarrArray | ZarrGroup, path: string, out: [ZarrArray, string][] = []): Promise<[ZarrArray, string][]> {
  if (node instanceof ZarrArray) out.push([node, path]);
  else for (const name of await node.children()) await arraysUnder(await node.open(name), joinKey(path, name), out);
  return out;
}

async function verify(source: ZarrArray | ZarrGroup, dstStore: ObservedStore, options: CopyArgs, signal: AbortSignal): Promise<VerifyResult & { arrays: number }> {
  const total: VerifyResult & { arrays: number } = { arrays: 0, elements: 0, mismatches: 0 };
  for (const [array, path] of await arraysUnder(source, "")) {
    const copy = await openArray(dstStore, { path, signal });
    const result = await verifyCopy(array, copy, {
      selection: options.selection,
      memoryBytes: options.memoryBytes,
      concurrency: options.concurrency,
      workers: options.workers,
      signal,
    });
    total.arrays++;
    total.elements += result.elements;
    if (result.mismatches && !total.mismatches) total.firstMismatch = result.firstMismatch;
    total.mismatches += result.mismatches;
    if (result.mismatches) throw new ZarrflowError(`verification failed: ${result.mismatches} of ${result.elements} elements differ, the first at [${result.firstMismatch}]`, { path });
  }
  return total;
}

function summaryText(summary: CopySummary, options: CopyArgs, verified?: VerifyResult & { arrays: number }): string {
  const what = [summary.arrays === 1 ? "1 array" : `${summary.arrays} arrays`];
  if (summary.groups) what.push(summary.groups === 1 ? "1 group" : `${summary.groups} groups`);
  const lines = [
    `copied ${what.join(" and ")} (${formatBytes(summary.dataBytes)}) from ${options.src} to ${options.dst} in ${formatDuration(summary.elapsedMs)}, ${formatRate(summary.dataBytes / (summary.elapsedMs / 1000))}`,
    `  read ${summary.chunksRead} chunks, ${formatBytes(summary.bytesRead)} stored; wrote ${summary.chunksWritten} chunks, ${formatBytes(summary.bytesWritten)} stored`,
  ];
  if (verified) lines.push(`  verified: all ${verified.elements} elements equal the source`);
  return lines.join("\n");
}

export async function runCopy(args: string[], context: CommandContext): Promise<number> {
  const options = parseCopyArgs(args);
  if (!options) return context.help(COPY_HELP);
  // A new zip archive replaces an existing file only when asked (its contents are not opened to look).
  if (isZipLocation(options.dst) && !options.overwrite && existsSync(options.dst.startsWith("file://") ? fileURLToPath(options.dst) : options.dst)) {
    throw new ZarrflowError(`${options.dst} already exists; pass --overwrite to replace it`);
  }
  if (options.queue) return (await import("./copy-queued.js")).runQueuedCopy(options, options.queue, context);
  const srcStore = await openLocation(options.src, { readOnly: true, ...options.store });
  const dstStore = await openLocation(options.dst, options.store);
  const progress = new ProgressReporter("copy", { mode: progressMode(options, context.stderr), intervalMs: options.intervalMs, stream: context.stderr });
  try {
    const source = await openNodeAt(srcStore, options.src, context.signal);
    if (!options.overwrite) {
      const existing = await open(dstStore, { signal: context.signal }).catch((error: unknown) => {
        if (error instanceof NodeNotFoundError) return undefined;
        throw error;
      });
      if (existing) {
        throw new ZarrflowError(`${options.dst} already holds a Zarr ${existing instanceof ZarrArray ? "array" : "group"}; pass --overwrite to replace it`);
      }
    }
    const snapshot = (p: CopyProgress) => ({
      ...copySnapshot(p),
      retries: srcStore.retries + dstStore.retries,
      errors: srcStore.errors + dstStore.errors,
      label: p.arraysTotal > 1 ? `${p.arraysDone}/${p.arraysTotal} arrays, ${p.path || "/"}` : undefined,
    });
    let last: CopyProgress | undefined;
    const summary = await copyNode(source, dstStore, {
      zarrFormat: options.zarrFormat,
      chunks: options.chunks,
      shards: options.shards,
      compression: options.compression,
      filters: options.filters,
      selection: options.selection,
      memoryBytes: options.memoryBytes,
      overwrite: options.overwrite,
      concurrency: options.concurrency,
      workers: options.workers,
      signal: context.signal,
      onProgress: (p) => {
        last = p;
        progress.update(snapshot(p));
      },
    });
    if (last) progress.done(snapshot(last));
    const verified = options.verify ? await verify(source, dstStore, options, context.signal) : undefined;
    if (options.json) {
      context.stdout.write(`${JSON.stringify({ src: options.src, dst: options.dst, ...summary, verified: verified ?? null })}\n`);
    } else if (!options.quiet) {
      context.stdout.write(`${summaryText(summary, options, verified)}\n`);
    }
    return 0;
  } catch (error) {
    progress.stop();
    // A half-written archive is removed, not finished into something that looks complete.
    await (dstStore as { discard?: () => Promise<void> }).discard?.();
    throw error;
  } finally {
    await srcStore.close?.();
    await dstStore.close?.();
  }
}
