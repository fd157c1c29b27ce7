/**
 * The extended-formats fixture set (test/fixtures/formats; see its README): the manifest, and the
 * "value format" every expected file and hash is in, so a test can turn what zarrflow read into the
 * same bytes and compare SHA-256 hashes.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { FORMATS_FIXTURES } from "./fixtures.js";

export interface FormatsSelection {
  selection: string;
  shape: number[];
  expected_sha256: string;
}

export interface FormatsArray {
  format: 2 | 3;
  /** Store folder relative to test/fixtures/formats ("data/v2.zarr"). */
  store: string;
  path: string;
  kind: "numeric" | "datetime" | "struct" | "string" | "bytes" | "vlen_array";
  feature: string;
  dtype: unknown;
  expected_dtype?: unknown;
  shape: number[];
  chunks: unknown;
  shards: unknown;
  codecs: string;
  codec_names: string[];
  fill_value: unknown;
  stored_chunk_keys: string[];
  /** Expected contents, relative to test/fixtures/formats. */
  expected: string;
  expected_format: "bin" | "json";
  sha256: string;
  selections: FormatsSelection[];
  zarr_python_3_reads?: unknown;
  [key: string]: unknown;
}

export interface FormatsManifest {
  arrays: FormatsArray[];
  groups: { format: 2 | 3; store: string; path: string; attributes: unknown }[];
  [key: string]: unknown;
}

export function loadFormatsManifest(): FormatsManifest {
  return JSON.parse(readFileSync(path.join(FORMATS_FIXTURES, "manifest.json"), "utf8")) as FormatsManifest;
}

/** Absolute path of an entry's store folder. */
export function formatsStoreDir(entry: Pick<FormatsArray, "store">): string {
  return path.join(FORMATS_FIXTURES, entry.store);
}

/** The expected file's bytes. */
export function formatsExpected(entry: FormatsArray): Uint8Array {
  return new Uint8Array(readFileSync(path.join(FORMATS_FIXTURES, entry.expected)));
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Python's `json.dumps(list, separators=(",", ":"), ensure_ascii=True)`: JSON.stringify, then every
 * UTF-16 code unit from U+007F up as a lowercase \uXXXX escape (astral characters become two escapes,
 * as Python writes surrogate pairs). JSON.stringify already escapes below U+0020 the way Python does.
 */
export function canonicalJson(list: unknown[]): string {
  return JSON.stringify(list).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** A flat list of byte strings in the value format (base64 per item). */
export function bytesListJson(items: Iterable<Uint8Array>): string {
  const out: string[] = [];
  for (const item of items) out.push(Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString("base64"));
  return canonicalJson(out);
}

/** The raw bytes of a typed array (numeric, datetime and struct kinds on a little-endian host). */
export function rawBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
