#!/usr/bin/env node
/**
 * The prebuilt browser build (dist/browser/): ES modules a page imports as they are, the pool's
 * worker beside them (found at run time by `new URL("./worker.js", import.meta.url)`).
 *
 * The runtime seam is chosen here: src/platform/current.ts resolves to the browser runtime,
 * and the Node-only modules listed in NODE_ONLY are not allowed in (the build fails on one,
 * and test/browser-bundle.test.ts checks the result).
 */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import * as path from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Entry points: output name → source (the package's export paths under the browser condition). */
export const BROWSER_ENTRIES = {
  index: "src/platform/browser/root.ts",
  stores: "src/platform/browser/stores.ts",
  operators: "src/platform/browser/operators.ts",
  rx: "operators/rx.ts",
  worker: "src/platform/browser/worker.ts",
};

/** What must never reach a page: Node built-ins and the Node-only packages. */
export const NODE_ONLY = /^(node:|undici$|undici\/|zstd-napi|threads$|threads\/|tiny-worker|worker_threads$|fs$|fs\/|path$|os$|url$|events$|buffer$|module$|zlib$|stream$|stream\/|crypto$|child_process$|http$|https$|net$|tls$)/;

/** The seam: Node runtime modules → their browser counterparts. */
const swaps = [
  [path.join(root, "src/platform/node/index.ts"), path.join(root, "src/platform/browser/index.ts")],
  // The undici transport of the HTTP stores (loaded on demand on Node) has no place in a page.
  [path.join(root, "stores/http-transport-undici.ts"), path.join(root, "src/platform/browser/no-undici.ts")],
  // S3 profiles live in ~/.aws files (loaded on demand on Node); a page passes credentials instead.
  [path.join(root, "stores/s3-profile.ts"), path.join(root, "src/platform/browser/no-profile.ts")],
];

export const seamPlugin = {
  name: "zarrflow-runtime-seam",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "seam") return undefined;
      if (NODE_ONLY.test(args.path)) {
        return { errors: [{ text: `Node-only module "${args.path}" imported by ${path.relative(root, args.importer)} is reachable from the browser build` }] };
      }
      if (!args.path.startsWith(".")) return undefined;
      const resolved = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "seam" });
      if (resolved.errors.length) return resolved;
      for (const [from, to] of swaps) if (resolved.path === from) return { path: to };
      return resolved;
    });
  },
};

/** Builds dist/browser (or, with write: false, only reports what would be in it). */
export async function buildBrowser({ outdir = path.join(root, "dist/browser"), write = true, minify = true } = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.entries(BROWSER_ENTRIES).map(([out, source]) => ({ in: source, out })),
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["browser"],
    // rxjs is the page's own (a peer dependency): left as a bare import for its import map or bundler.
    external: ["rxjs"],
    plugins: [seamPlugin],
    minify,
    sourcemap: write,
    metafile: true,
    write,
    logLevel: "silent",
    legalComments: "none",
  });
  return result;
}

/** `contents` (an ES module source that re-exports packages) bundled into one ES module a page can import. */
export async function bundleModule(contents, outfile) {
  await build({
    absWorkingDir: root,
    stdin: { contents, resolveDir: root, loader: "js" },
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    logLevel: "silent",
  });
}

/** rxjs as one ES module, for pages without a bundler (the viewer maps "rxjs" to it). */
export async function buildVendor({ outdir = path.join(root, "dist/browser/vendor") } = {}) {
  await bundleModule('export * from "rxjs";', path.join(outdir, "rxjs.js"));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const started = Date.now();
  await buildBrowser();
  await buildVendor();
  console.log(`browser build: dist/browser (${Date.now() - started} ms)`);
}
