/**
 * Command-line arguments: node:util parseArgs with the options every command shares, and the
 * parsers for option values. Anything wrong with the command line is a UsageError (exit code 2),
 * raised before any work starts.
 */
import type { GridSpec } from "../chunk-grid.js";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ZarrflowError } from "../errors.js";

export class UsageError extends ZarrflowError {
  override readonly code: string = "USAGE";
}

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Options accepted by every command. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
} satisfies OptionSpec;

/** Options of the commands that run the pipeline. */
export const PIPELINE_OPTIONS = {
  concurrency: { type: "string" },
  workers: { type: "string" },
  "progress-interval": { type: "string" },
} satisfies OptionSpec;

/** Options of the commands that open store locations (S3 access). */
export const STORE_OPTIONS = {
  anonymous: { type: "boolean" },
  endpoint: { type: "string" },
  profile: { type: "string" },
} satisfies OptionSpec;

export const STORE_HELP = `
Store options (s3:// locations):
      --anonymous            unsigned requests, for public buckets (no credentials looked for)
      --endpoint URL         an S3-compatible server, such as http://127.0.0.1:9000 (path-style;
                               default AWS_ENDPOINT_URL, else AWS)
      --profile NAME         credentials and region from this profile of ~/.aws/credentials and
                               ~/.aws/config (default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
                               then AWS_PROFILE or the default profile)`;

/** What the store options ask for, as openLocation takes it. */
export interface StoreFlags {
  anonymous?: boolean;
  endpoint?: string;
  profile?: string;
}

export function storeFlags(values: Values): StoreFlags {
  const endpoint = stringOption(values, "endpoint");
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) throw new UsageError(`--endpoint must be an http:// or https:// URL, got "${endpoint}"`);
  }
  const profile = stringOption(values, "profile");
  if (values.anonymous === true && profile !== undefined) throw new UsageError("--anonymous and --profile exclude each other");
  return { anonymous: values.anonymous === true ? true : undefined, endpoint, profile };
}

export const COMMON_HELP = `
Common options:
  -h, --help                 show this help
  -q, --quiet                no progress and no summary (errors are still printed)
      --json                 machine-readable output (see each command)
  -v, --verbose              print stack traces with errors`;

export const PIPELINE_HELP = `
Pipeline options:
      --concurrency N        store requests in flight (default 8)
      --workers N|auto       codec worker threads; 0 runs codecs inline (default auto)
      --progress-interval MS progress updates on a non-terminal stderr and --json events (default 2000)`;

export type Values = Record<string, string | boolean | undefined>;

export function parse(args: string[], options: OptionSpec, maxPositionals: number): { values: Values; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs explains itself well; drop its hint about "--" which the commands do not use.
    throw new UsageError((error as Error).message.split("\n")[0].replace(/\. To specify a positional argument.*$/, ""));
  }
  const { values, positionals } = parsed;
  if (!values.help && positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${positionals[maxPositionals]}"`);
  }
  return { values: values as Values, positionals };
}

export function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function intOption(values: Values, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}, got "${text}"`);
  }
  return Number(text);
}

export function workersOption(values: Values): number | "auto" | undefined {
  if (stringOption(values, "workers") === "auto") return "auto";
  return intOption(values, "workers", 0, 256);
}

/** A shape such as "64,64,32" (or "64x64x32"). */
export function shapeOption(values: Values, name: string): number[] | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const parts = text.split(/[,x]/).map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
    throw new UsageError(`--${name} must be positive integers separated by commas, such as 64,64,32; got "${text}"`);
  }
  return parts.map(Number);
}

/**
 * A shape, or (v3) a rectilinear grid as JSON: per dimension a length or a list of edges, with
 * `[length, count]` runs — `'[[100, 100, 50], 64]'` or `'[[[10, 5]], 8]'`.
 */
export function gridOption(values: Values, name: string): GridSpec | undefined {
  const text = stringOption(values, name);
  if (text === undefined || !text.trim().startsWith("[")) return shapeOption(values, name);
  let grid: unknown;
  try {
    grid = JSON.parse(text);
  } catch {
    throw new UsageError(`--${name}: "${text}" is not valid JSON; give edges such as [[100,100,50],64]`);
  }
  if (!Array.isArray(grid) || grid.length === 0) throw new UsageError(`--${name}: expected a list with one entry per dimension, got "${text}"`);
  return grid as GridSpec;
}

const UNITS: Record<string, number> = { "": 2 ** 20, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** A size such as "256MiB", "1G", "512k", or a plain number of MiB. */
export function bytesOption(values: Values, name: string): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!match || Number(match[1]) <= 0) throw new UsageError(`--${name} must be a size such as 256MiB, 1GiB or 64 (MiB); got "${text}"`);
  return Math.floor(Number(match[1]) * UNITS[match[2].toLowerCase()]);
}
