/**
 * `zarrflow serve <path|url>`: the live viewer (examples/viewer) and the browser build, served
 * over HTTP with byte ranges, CORS and cross-origin isolation (so the viewer's workers decode
 * into shared memory); a local store is served beside them. Runs until Ctrl-C.
 */
import { existsSync, statSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { COMMON_HELP, COMMON_OPTIONS, UsageError, intOption, parse, stringOption } from "./args.js";
import type { CommandContext } from "./context.js";
import { startStaticServer } from "./static-server.js";

export const SERVE_HELP = `Usage: zarrflow serve <path|url> [options]

Serves the zarrflow viewer, a page that paints a 2-D slice of an array chunk by chunk as the
chunks are decoded, and prints the address to open. A local <path> (a directory store) is
served at /data/ with byte ranges and CORS, so other pages and tools can read it too; an
http(s) <url> is opened by the viewer directly (its server must allow CORS).

Options:
  -p, --port N               port to listen on (default 8000; 0 picks a free one)
      --host HOST            interface to listen on (default 127.0.0.1)
      --path PATH            the array inside the store (default: the store's root)
      --no-isolation         leave out COOP/COEP: workers then hand chunks back by transfer
${COMMON_HELP.trim().split("\n").slice(1).join("\n")}

Examples:
  zarrflow serve data/sample-v3.zarr
  zarrflow serve https://example.org/data.zarr --path temperature --port 9000`;

/** The package root: from src/cli/serve.ts or dist/src/cli/serve.js. */
function packageRoot(): string {
  return fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../../" : "../../../", import.meta.url));
}

export async function runServe(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...COMMON_OPTIONS, port: { type: "string", short: "p" }, host: { type: "string" }, path: { type: "string" }, "no-isolation": { type: "boolean" } },
    1,
  );
  if (values.help) return context.help(SERVE_HELP);
  const location = positionals[0];
  if (location === undefined) throw new UsageError("serve needs a store: a directory path or an http(s) URL");
  const remote = /^https?:\/\//i.test(location);
  if (!remote && !(existsSync(location) && statSync(location).isDirectory())) throw new UsageError(`no directory store at ${location}`);
  const root = packageRoot();
  const build = path.join(root, "dist", "browser");
  if (!existsSync(path.join(build, "index.js"))) throw new UsageError(`the browser build is missing (${build}): run "npm run build"`);

  const server = await startStaticServer({
    port: intOption(values, "port", 0, 65535) ?? 8000,
    host: stringOption(values, "host") ?? "127.0.0.1",
    isolated: !values["no-isolation"],
    mounts: {
      "/": path.join(root, "examples", "viewer"),
      "/zarrflow/": build,
      ...(remote ? {} : { "/data/": location }),
    },
  });
  const query = new URLSearchParams({ store: remote ? location : "/data/" });
  const arrayPath = stringOption(values, "path");
  if (arrayPath) query.set("path", arrayPath);
  const address = `${server.url}/?${query}`;
  if (values.json) context.stdout.write(`${JSON.stringify({ event: "listening", url: address })}\n`);
  else if (!values.quiet) context.stdout.write(`zarrflow viewer: ${address}\n${remote ? "" : `store ${path.resolve(location)} at ${server.url}/data/\n`}Press Ctrl-C to stop.\n`);

  await new Promise<void>((resolve) => {
    if (context.signal.aborted) resolve();
    context.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await server.close();
  return 0;
}
