/** `zarrflow info <url>`: what is stored at a location — a group's tree, or an array's layout and sizes. */
import { ZarrArray } from "../array.js";
import type { CodecMetadata } from "../codecs/codec.js";
import { DATA_TYPES, fillValueToJSON, product, toV2DataType } from "../dtype.js";
import { UnsupportedOperationError } from "../errors.js";
import type { ZarrGroup } from "../group.js";
import type { Store } from "../store.js";
import { COMMON_HELP, COMMON_OPTIONS, STORE_HELP, STORE_OPTIONS, parse, storeFlags } from "./args.js";
import type { CommandContext } from "./context.js";
import { formatBytes, formatShape } from "./format.js";
import { checkLocation, openLocation, openNodeAt } from "./store.js";

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
  const uncompressed = product(array.shape) * DATA_TYPES[array.dtype].itemsize;
  const v2 = array.metadata.v2;
  return {
    node: "array",
    path: array.path,
    zarrFormat: array.zarrFormat,
    shape: array.shape,
    dtype: array.dtype,
    chunks: array.chunks,
    shards: array.shards,
    codecs: array.chain.toJSON(),
    ...(v2 ? { v2: { dtype: toV2DataType(array.dtype, v2.endian), order: v2.order, compressor: v2.compressor, filters: v2.filters } } : {}),
    fillValue: v2?.fillValueNull ? null : fillValueToJSON(array.fillValue, array.dtype, array.zarrFormat),
    dimensionNames: array.dimensionNames,
    attributes: array.attrs,
    chunkCount: gridCount(array.shape, array.chunks),
    shardCount: array.shards ? gridCount(array.shape, array.shards) : null,
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
  return config.length ? `${codec.name}(${config.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ")})` : codec.name;
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

function sizeText(info: Record<string, unknown>): string {
  const uncompressed = info.uncompressedBytes as number;
  const stored = info.storedBytes as number | null;
  if (stored === null) return `${formatBytes(uncompressed)} uncompressed, stored size unknown (the store cannot list its keys)`;
  const ratio = stored > 0 ? `, ratio ${(uncompressed / stored).toFixed(2)}` : "";
  return `${formatBytes(uncompressed)} uncompressed, ${formatBytes(stored)} stored${ratio}`;
}

function arrayLines(info: Record<string, unknown>): string[] {
  const shards = info.shards as number[] | null;
  const storedObjects = info.storedObjects as number | null;
  const storedText = storedObjects === null ? "stored: unknown" : `${storedObjects} stored`;
  const lines = [
    ["shape", formatShape(info.shape as number[])],
    ["dtype", `${info.dtype as string}${info.v2 ? ` (${(info.v2 as { dtype: string }).dtype}, order ${(info.v2 as { order: string }).order})` : ""}`],
    ["chunks", `${formatShape(info.chunks as number[])}  (${info.chunkCount as number} chunks${shards ? "" : `, ${storedText}`})`],
    ["shards", shards ? `${formatShape(shards)}  (${info.shardCount as number} shards, ${storedText})` : "none"],
    ["codecs", chainText(info.codecs as CodecMetadata[])],
    ["fill value", JSON.stringify(info.fillValue)],
    ["size", sizeText(info)],
  ];
  const names = info.dimensionNames as (string | null)[] | null;
  if (names) lines.push(["dimensions", names.map((n) => n ?? "-").join(", ")]);
  if (Object.keys(info.attributes as object).length) lines.push(["attributes", JSON.stringify(info.attributes)]);
  return lines.map(([k, v]) => `  ${k.padEnd(11)} ${v}`);
}

function summary(info: Record<string, unknown>): string {
  if (info.node === "group") return "group";
  const codecs = chainText((info.codecs as CodecMetadata[]));
  const shards = info.shards ? ` shards ${formatShape(info.shards as number[])}` : "";
  return `array ${info.dtype as string} ${formatShape(info.shape as number[])} chunks ${formatShape(info.chunks as number[])}${shards}  ${codecs}`;
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
      context.stdout.write(`${JSON.stringify({ url, ...info }, null, 2)}\n`);
      return 0;
    }
    const kind = info.node === "array" ? "array" : "group";
    const attributes = kind === "group" && Object.keys(info.attributes as object).length ? `  attributes ${JSON.stringify(info.attributes)}` : "";
    const lines = [`${url}: ${kind}, Zarr v${info.zarrFormat as number}${attributes}`];
    lines.push(...(kind === "array" ? arrayLines(info) : treeLines(info, "")));
    context.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await store.close?.();
  }
}
