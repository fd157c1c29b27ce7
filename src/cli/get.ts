/**
 * `zarrflow get <url>`: a selection to stdout as JSON, .npy or raw bytes. The selection is read
 * slab by slab (toNodeReadable) and written as it arrives, so its size is not limited by
 * memory, and a slow reader of stdout slows the read. A closed stdout (`| head`) ends quietly.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DATA_TYPES, product } from "../dtype.js";
import { SelectionError } from "../errors.js";
import { parseSelection, type SelectionItem } from "../selection.js";
import { toNodeReadable } from "../../operators/node.js";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  STORE_HELP,
  STORE_OPTIONS,
  UsageError,
  intOption,
  parse,
  storeFlags,
  stringOption,
  workersOption,
} from "./args.js";
import type { CommandContext } from "./context.js";
import { JsonEncoder, npyHeader, objectArrayJson } from "./formats.js";
import { ProgressReporter, progressMode } from "./progress.js";
import { checkLocation, openArrayAt, openLocation } from "./store.js";

export const GET_HELP = `Usage: zarrflow get <url> [options]

Writes a selection of the array at <url> to stdout.

Options:
  -s, --select SEL           NumPy-style selection, such as "0:10, :, 3" or "..., ::2" (default: all)
  -f, --format FORMAT        json (default): nested lists; 64-bit integers with all their digits,
                               NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity",
                               complex numbers as [re, im]; strings as strings, bytes
                               as base64, datetimes as ISO 8601 text ("NaT"), timedeltas
                               as "<n> <unit>", struct records as objects
                             npy: a NumPy .npy file (format 1.0), for numpy.load
                             raw: the values' bytes, C order, little-endian
      --json                 progress as JSON events on stderr (one object per line)
${PIPELINE_HELP.trim().split("\n").slice(1).join("\n")}
${STORE_HELP.trim().split("\n").slice(1).join("\n")}
${COMMON_HELP.trim().split("\n").slice(1).filter((l) => !l.includes("--json")).join("\n")}

Progress is shown on stderr once a read lasts over a second (not when stdout is a terminal).

Examples:
  zarrflow get data/sample-v3.zarr --select "0, 0:3, 0:4"
  zarrflow get data/sample-v3.zarr --select "0:4" --format npy > first.npy
  zarrflow get data/sample-v3.zarr --format raw | head -c 64 | xxd`;

const FORMATS = ["json", "npy", "raw"] as const;
type Format = (typeof FORMATS)[number];

function isPipeClosed(error: unknown, stdout: NodeJS.WriteStream): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "EPIPE" || (code === "ERR_STREAM_PREMATURE_CLOSE" && stdout.destroyed);
}

export async function runGet(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...COMMON_OPTIONS, ...PIPELINE_OPTIONS, ...STORE_OPTIONS, select: { type: "string", short: "s" }, format: { type: "string", short: "f" } },
    1,
  );
  if (values.help) return context.help(GET_HELP);
  const url = checkLocation(positionals[0], "location");
  const format = (stringOption(values, "format") ?? "json") as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be json, npy or raw; got "${format}"`);
  const selectText = stringOption(values, "select");
  let selection: SelectionItem[] | undefined;
  try {
    selection = selectText === undefined ? undefined : parseSelection(selectText);
  } catch (error) {
    throw new UsageError(`bad --select: ${(error as SelectionError).detail ?? (error as Error).message}`);
  }
  const concurrency = intOption(values, "concurrency", 1, 1024);
  const workers = workersOption(values);
  const intervalMs = intOption(values, "progress-interval", 0);

  const store = await openLocation(url, { readOnly: true, ...storeFlags(values) });
  try {
    const array = await openArrayAt(store, url, context.signal);
    const sel = array.select(selection);
    const shape = sel.filter((d) => !d.dropped).map((d) => d.count);
    if (DATA_TYPES[array.dtype].form === "object") {
      // Values of unknown size: read the selection whole (it is bounded like any read), then print it.
      if (format !== "json") throw new UsageError(`${array.dtype} data has no ${format} form (NumPy keeps it as Python objects): use --format json`);
      const x = await array.read(selection, { concurrency, workers, signal: context.signal });
      try {
        await pipeline(Readable.from([objectArrayJson(x.data as unknown as unknown[], shape)]), context.stdout);
      } catch (error) {
        if (isPipeClosed(error, context.stdout)) return 0;
        throw error;
      }
      return 0;
    }
    const dataBytesTotal = product(shape) * DATA_TYPES[array.dtype].itemsize;
    // Progress would tangle with data drawn on the same terminal.
    const mode = progressMode({ quiet: Boolean(values.quiet), json: Boolean(values.json) }, context.stderr);
    const progress = new ProgressReporter("get", { mode: mode === "tty" && context.stdout.isTTY ? "quiet" : mode, intervalMs, delayMs: 1000, stream: context.stderr });
    const readable: Readable = toNodeReadable(array, selection, {
      concurrency,
      workers,
      signal: context.signal,
      onProgress: (p) =>
        progress.update({
          chunksDone: p.chunksDone,
          chunksTotal: p.chunksTotal,
          bytesRead: p.bytesDone,
          dataBytesDone: p.chunksTotal ? (p.chunksDone / p.chunksTotal) * dataBytesTotal : dataBytesTotal,
          dataBytesTotal,
          retries: store.retries,
          errors: store.errors,
        }),
    });
    try {
      if (format === "raw") {
        await pipeline(readable, context.stdout);
      } else if (format === "npy") {
        await pipeline(
          readable,
          async function* (source: AsyncIterable<Uint8Array>) {
            yield npyHeader(array.dtype, shape);
            yield* source;
          },
          context.stdout,
        );
      } else {
        const encoder = new JsonEncoder(array.dtype, shape);
        await pipeline(
          readable,
          async function* (source: AsyncIterable<Uint8Array>) {
            yield encoder.start();
            for await (const bytes of source) yield encoder.push(bytes);
            yield encoder.end();
          },
          context.stdout,
        );
      }
    } catch (error) {
      progress.stop();
      if (isPipeClosed(error, context.stdout)) return 0;
      throw error;
    }
    progress.done();
    return 0;
  } finally {
    await store.close?.();
  }
}
