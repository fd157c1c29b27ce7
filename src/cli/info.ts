/** `zarrflow info <url>`: what is stored at a location — a group's tree, or an array's layout and sizes. */
import { ZarrArray } from "../array.js";
import type { CodecMetadata } from "../codecs/codec.js";
import { DATA_TYPES, fillValueToJSON, product, toV2DataType, type DataType } from "../dtype.js";
import { UnsupportedOperationError } from "../errors.js";
import { stringifyJSON } from "../json.js";
import type { ZarrGroup } from "../group.js";
import type { Store } from "../store.js";
import { COMMON_HELP, COMMON_OPTIONS, STORE_HELP, STORE_OPTIONS, parse, storeFlags } from "./args.js";
import type { CommandContext } from "./context.js";
import { formatBytes, formatShape } from "./format.js";
import { checkLocation, openLocation, openNodeAt } from "./store.js";
import { chunkShapesJSON, isRegularGrid } from "../chunk-grid.js";

export const INFO_HELP = `Usage: zarrflow info <url> [options]

Shows what is stored at <url>: for an array its shape, data type, chunks, shards, codecs,
fill value, uncompressed and stored size and chunk counts; for a group its tree of children.
<url> is a path, file://, memory://, http://, https:// or s3:// location of the array or group,
or of a .zip archive holding it.

The stored size needs a store that can list its keys: over HTTP it is "unknown" (S3 lists).

Options:
      --json                 print the description as one JSON document
${STORE_HELP.trim().split("\n").slice(1).join("\n")}
${COMMON_HELP.trim().split("\n").slice(1).join("\n")}

Examples:
  zarrflow info data/sample-v2.zarr
  zarrflow info data/sample-v3.zarr --json`;

const METADATA_NAMES = new Set(["zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"]);

interface StoredSize {
  chunks: number;
  bytes: number;
}

/** Stored chunks and bytes of an array, or null when the store cannot list keys or size them. */
async function storedSize(store: Store, path: string, signal: AbortSignal): Promise<StoredSize | null> {
  if (!store.list || !store.size) return null;
  const prefix = path === "" ? "" : `${path}/`;
  const keys: string[] = [];
  try {
    for await (const key of store.list(prefix, { signal })) {
      if (!METADATA_NAMES.has(key.slice(key.lastIndexOf("/") + 1))) keys.push(key);
    }
  } catch (error) {
    if (error instanceof UnsupportedOperationError) return null;
    throw error;
  }
  let bytes = 0;
  for (let i = 0; i < keys.length; i += 32) {
    const sizes = await Promise.all(keys.slice(i, i + 32).map((key) => store.size!(key, { signal })));
    for (const size of sizes) bytes += size ?? 0;
  }
  return { chunks: keys.length, bytes };
}

function gridCount(shape: readonly number[], chunks: readonly number[]): number {
  return shape.reduce((n, s, d) => n * Math.ceil(s / chunks[d]), 1);
}

async function describeArray(array: ZarrArray, signal: AbortSignal): Promise<Record<string, unknown>> {
  const stored = await storedSize(array.store, array.path, signal);
  const type = DATA_TYPES[array.dtype];
  // Variable-length values have no size until they are read.
  const uncompressed = type.form === "object" ? null : product(array.shape) * type.itemsize;
  const v2 = array.metadata.v2;
  return {
    node: "array",
    path: array.path,
    zarrFormat: array.zarrFormat,
    shape: array.shape,
    dtype: array.dtype,
    dtypeInfo: dtypeSummary(array.dtype),
    chunks: array.chunks,
    shards: array.shards,
    // Rectilinear grids: the edges of the chunks (shards, when sharded) as the metadata gives them.
    grid: isRegularGrid(array.grid) ? null : { kind: "rectilinear", chunkShapes: chunkShapesJSON(array.grid) },
    codecs: array.chain.toJSON(),
    ...(v2 ? { v2: { dtype: toV2DataType(array.dtype, v2.endian, v2.fieldEndians), order: v2.order, compressor: v2.compressor, filters: v2.filters } } : {}),
    fillValue: v2?.fillValueNull ? null : fillValueToJSON(array.fillValue, array.dtype, array.zarrFormat),
    dimensionNames: array.dimensionNames,
    attributes: array.attrs,
    chunkCount: array.shards ? gridCount(array.shape, array.chunks) : array.storedChunkCount,
    shardCount: array.shards ? array.storedChunkCount : null,
    storedObjects: stored?.chunks ?? null,
    storedBytes: stored?.bytes ?? null,
    uncompressedBytes: uncompressed,
  };
}

async function describeGroup(group: ZarrGroup, signal: AbortSignal): Promise<Record<string, unknown>> {
  let names: string[] | null;
  try {
    names = await group.children();
  } catch (error) {
    if (!(error instanceof UnsupportedOperationError)) throw error;
    names = null;
  }
  const children: Record<string, unknown> = {};
  for (const name of names ?? []) {
    signal.throwIfAborted();
    const child = await group.open(name);
    children[name] = child instanceof ZarrArray ? await describeArray(child, signal) : await describeGroup(child, signal);
  }
  return { node: "group", path: group.path, zarrFormat: group.zarrFormat, attributes: group.attrs, children: names ? children : null };
}

/** "zstd(level=3, checksum=false)" */
function codecText(codec: CodecMetadata): string {
  const config = Object.entries((codec.configuration ?? {}) as Record<string, unknown>).filter(([key]) => key !== "codecs" && key !== "index_codecs" && key !== "chunk_shape");
  return config.length ? `${codec.name}(${config.map(([k, v]) => `${k}=${typeof v === "string" ? v : stringifyJSON(v)}`).join(", ")})` : codec.name;
}

function chainText(codecs: readonly CodecMetadata[]): string {
  return codecs
    .map((codec) => {
      if (codec.name !== "sharding_indexed") return codecText(codec);
      const config = codec.configuration as { codecs: CodecMetadata[]; index_codecs: CodecMetadata[]; index_location?: string };
      return `sharding_indexed[${chainText(config.codecs)}; index at ${config.index_location ?? "end"}: ${chainText(config.index_codecs)}]`;
    })
    .join(" → ");
}

/** What a data type is beyond its name: kind, item size, in-memory form, datetime unit, struct fields. */
function dtypeSummary(dtype: DataType): Record<string, unknown> {
  const { kind, itemsize, form, unit, scaleFactor, fields } = DATA_TYPES[dtype];
  return {
    kind,
    form,
    ...(form === "typed" ? { itemsize } : {}),
    ...(unit ? { unit, scaleFactor } : {}),
    ...(fields ? { fields: fields.map((f) => ({ name: f.name, dataType: f.dataType, offset: f.offset })) } : {}),
  };
}

function dtypeText(info: Record<string, unknown>): string {
  const summary = info.dtypeInfo as { form: string; itemsize?: number; unit?: string; scaleFactor?: number; fields?: { name: string; dataType: string; offset: number }[] };
  if (summary.unit) return `, unit ${summary.scaleFactor === 1 ? "" : `${summary.scaleFactor} × `}${summary.unit}, int64 counts`;
  if (summary.fields) return `, ${summary.itemsize}-byte records: ${summary.fields.map((f) => `${f.name} ${f.dataType} @${f.offset}`).join(", ")}`;
  if (summary.form === "object") return ", variable length";
  return "";
}

function sizeText(info: Record<string, unknown>): string {
  const uncompressed = info.uncompressedBytes as number | null;
  const stored = info.storedBytes as number | null;
  if (uncompressed === null) return stored === null ? "size unknown (variable-length values)" : `${formatBytes(stored)} stored (variable-length values)`;
  if (stored === null) return `${formatBytes(uncompressed)} uncompressed, stored size unknown (the store cannot list its keys)`;
  const ratio = stored > 0 ? `, ratio ${(uncompressed / stored).toFixed(2)}` : "";
  return `${formatBytes(uncompressed)} uncompressed, ${formatBytes(stored)} stored${ratio}`;
}

/** Edges per dimension, runs as `length×count`, long lists cut short: "rectilinear [[3, 5×4, 2], 64]". */
function gridText(grid: { chunkShapes: (number | (number | [number, number])[])[] }): string {
  const MAX_RUNS = 8;
  const dims = grid.chunkShapes.map((dim) => {
    if (typeof dim === "number") return String(dim);
    const runs = dim.map((r) => (typeof r === "number" ? String(r) : `${r[0]}×${r[1]}`));
    const shown = runs.length > MAX_RUNS ? [...runs.slice(0, MAX_RUNS - 1), `… ${runs.length - MAX_RUNS + 1} more runs`] : runs;
    return `[${shown.join(", ")}]`;
  });
  return `rectilinear [${dims.join(", ")}]`;
}

function arrayLines(info: Record<string, unknown>): string[] {
  const shards = info.shards as number[] | null;
  const grid = info.grid as { chunkShapes: (number | (number | [number, number])[])[] } | null;
  const storedObjects = info.storedObjects as number | null;
  const storedText = storedObjects === null ? "stored: unknown" : `${storedObjects} stored`;
  const lines = [
    ["shape", formatShape(info.shape as number[])],
    ["dtype", `${info.dtype as string}${dtypeText(info)}${info.v2 ? ` (${JSON.stringify((info.v2 as { dtype: unknown }).dtype).replace(/^"|"$/g, "")}, order ${(info.v2 as { order: string }).order})` : ""}`],
    ["chunks", `${grid && !shards ? gridText(grid) : formatShape(info.chunks as number[])}  (${info.chunkCount as number} chunks${shards ? "" : `, ${storedText}`})`],
    ["shards", shards ? `${grid ? gridText(grid) : formatShape(shards)}  (${info.shardCount as number} shards, ${storedText})` : "none"],
    ["codecs", chainText(info.codecs as CodecMetadata[])],
    ["fill value", stringifyJSON(info.fillValue)],
    ["size", sizeText(info)],
  ];
  const names = info.dimensionNames as (string | null)[] | null;
  if (names) lines.push(["dimensions", names.map((n) => n ?? "-").join(", ")]);
  if (Object.keys(info.attributes as object).length) lines.push(["attributes", stringifyJSON(info.attributes)]);
  return lines.map(([k, v]) => `  ${k.padEnd(11)} ${v}`);
}

function summary(info: Record<string, unknown>): string {
  if (info.node === "group") return "group";
  const codecs = chainText((info.codecs as CodecMetadata[]));
  const grid = info.grid as Parameters<typeof gridText>[0] | null;
  const shards = info.shards ? ` shards ${grid ? gridText(grid) : formatShape(info.shards as number[])}` : "";
  const chunks = grid && !info.shards ? gridText(grid) : formatShape(info.chunks as number[]);
  return `array ${info.dtype as string} ${formatShape(info.shape as number[])} chunks ${chunks}${shards}  ${codecs}`;
}

function treeLines(info: Record<string, unknown>, indent: string): string[] {
  const children = info.children as Record<string, Record<string, unknown>> | null;
  if (children === null) return [`${indent}└── (children unknown: the store cannot list its keys)`];
  const lines: string[] = [];
  const entries = Object.entries(children);
  entries.forEach(([name, child], i) => {
    const last = i === entries.length - 1;
    lines.push(`${indent}${last ? "└── " : "├── "}${name}  ${summary(child)}`);
    if (child.node === "group") lines.push(...treeLines(child, indent + (last ? "    " : "│   ")));
  });
  return lines;
}

export async function runInfo(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON_OPTIONS, ...STORE_OPTIONS }, 1);
  if (values.help) return context.help(INFO_HELP);
  const url = checkLocation(positionals[0], "location");
  const store = await openLocation(url, { readOnly: true, ...storeFlags(values) });
  try {
    const node = await openNodeAt(store, url, context.signal);
    const info = node instanceof ZarrArray ? await describeArray(node, context.signal) : await describeGroup(node, context.signal);
    if (values.json) {
      context.stdout.write(`${stringifyJSON({ url, ...info }, 2)}\n`);
      return 0;
    }
    const kind = info.node === "array" ? "array" : "group";
    const attributes = kind === "group" && Object.keys(info.attributes as object).length ? `  attributes ${stringifyJSON(info.attributes)}` : "";
    const lines = [`${url}: ${kind}, Zarr v${info.zarrFormat as number}${attributes}`];
    lines.push(...(kind === "array" ? arrayLines(info) : treeLines(info, "")));
    context.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await store.close?.();
  }
}
