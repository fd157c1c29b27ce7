#!/usr/bin/env node
/**
 * The `zarrflow` command: inspect, read and convert Zarr arrays.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage error (bad arguments or selection), 130 interrupted
 * (SIGINT; 143 for SIGTERM) after a clean cancellation. Errors are one line on stderr; --verbose
 * adds the stack. SIGINT aborts the work through an AbortSignal: writes in flight settle (every
 * chunk is old or new), the worker pool is closed, then the process exits. A second SIGINT
 * exits at once.
 */
import { closePools } from "./array.js";
import { SelectionError, ZarrflowError, isAbortError } from "./errors.js";
import { UsageError } from "./cli/args.js";
import { followParent, relaunchWithHugePages, wantsHugePages } from "./cli/hugepages.js";
import type { CommandContext } from "./cli/context.js";

const HELP = `Usage: zarrflow <command> [options]

Inspect, read and convert Zarr arrays (format v3, sharding included, and v2).

Commands:
  info <url>               a group's tree, or an array's shape, dtype, chunks, codecs and sizes
  get <url>                a selection to stdout as JSON, .npy or raw bytes
  copy <src-url> <dst-url> copy an array or group, converting format, chunks, shards and codecs
  worker <redis-url>       run the tasks of copies queued with "copy --queue"
  bench                    a quick write/read benchmark on a generated array
  serve <path|url>         the live viewer in a browser, and a local store over HTTP

A <url> is a path, file://, memory:// (in-process), http:// or https:// location.
Run "zarrflow <command> --help" for a command's options.

Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted.`;

type Command = (args: string[], context: CommandContext) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  info: async () => (await import("./cli/info.js")).runInfo,
  get: async () => (await import("./cli/get.js")).runGet,
  copy: async () => (await import("./cli/copy.js")).runCopy,
  worker: async () => (await import("./cli/worker.js")).runWorkerCommand,
  bench: async () => (await import("./cli/bench.js")).runBench,
  serve: async () => (await import("./cli/serve.js")).runServe,
};

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** The exit code for an error, and prints it: one line, unless --verbose. */
function report(error: unknown, verbose: boolean): number {
  const usage = error instanceof UsageError || error instanceof SelectionError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`zarrflow: ${oneLine(message)}\n`);
  if (usage && error instanceof UsageError) process.stderr.write(`Run "zarrflow --help" for usage.\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return usage ? 2 : 1;
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  const controller = new AbortController();
  let interrupted: keyof typeof SIGNAL_EXIT | undefined;
  // Installed before anything loads threads.js; the pool removes only the handlers threads.js adds.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(SIGNAL_EXIT[signal]);
      interrupted = signal;
      controller.abort(new ZarrflowError(`interrupted (${signal})`));
    });
  }
  // A reader that goes away (`| head`) is not an error worth a stack trace. On stdout it ends
  // the command (get stops reading); on stderr only progress is lost, so the work goes on.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }

  const context: CommandContext = {
    signal: controller.signal,
    stdout: process.stdout,
    stderr: process.stderr,
    help: (text) => {
      process.stdout.write(`${text}\n`);
      return 0;
    },
  };
  const [name, ...args] = argv;
  try {
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      if (name === "help" && args[0] && COMMANDS[args[0]]) return await (await COMMANDS[args[0]]())(["--help"], context);
      process.stdout.write(`${HELP}\n`);
      return name === undefined ? 2 : 0;
    }
    if (name === "--version") {
      const { readFile } = await import("node:fs/promises");
      // dist/src/cli.js or src/cli.ts: the package root is two or one folders up.
      const root = new URL(import.meta.url.endsWith(".ts") ? "../" : "../../", import.meta.url);
      process.stdout.write(`${(JSON.parse(await readFile(new URL("package.json", root), "utf8")) as { version: string }).version}\n`);
      return 0;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
    return await (await command())(args, context);
  } catch (error) {
    if (interrupted && (isAbortError(error) || controller.signal.aborted)) {
      process.stderr.write(`zarrflow: interrupted; stopped cleanly\n`);
      return SIGNAL_EXIT[interrupted];
    }
    return report(error, verbose);
  } finally {
    await closePools();
  }
}

// Big buffers on huge pages: the command runs again with glibc's tunable set (see cli/hugepages.ts).
followParent();
const relaunched = wantsHugePages() ? await relaunchWithHugePages() : undefined;
const code = relaunched ?? (await main(process.argv.slice(2)));
process.exitCode = code;
// Whatever may still hold the event loop (a keep-alive socket), the work is done: leave soon.
setTimeout(() => process.exit(code), 1000).unref();
