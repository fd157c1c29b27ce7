/**
 * The browser build reaches no Node-only module: it is bundled here from the same entry points
 * as dist/browser, and every module it pulls in is listed. A `node:` import (or undici,
 * zstd-napi, threads, worker_threads…) anywhere in that graph fails the build and this test.
 */
import { describe, expect, it } from "vitest";

// @ts-expect-error: a plain .mjs build script without types
import { BROWSER_ENTRIES, NODE_ONLY, buildBrowser, seamPlugin } from "../scripts/build-browser.mjs";

describe("the browser build", () => {
  it("bundles every browser entry with no Node-only module reachable", async () => {
    const result = await buildBrowser({ outdir: "/tmp/zarrflow-bundle-check", write: false, minify: false });
    const inputs = Object.keys(result.metafile.inputs);
    const imports = Object.values(result.metafile.inputs as Record<string, { imports: { path: string; external?: boolean }[] }>).flatMap((input) => input.imports);
    // The seam chose the browser runtime, and the Node one is not in the bundle.
    expect(inputs).toContain("src/platform/browser/index.ts");
    expect(inputs.filter((file) => file.startsWith("src/platform/node/"))).toEqual([]);
    expect(inputs.filter((file) => /node_modules\/(undici|zstd-napi|threads)\//.test(file))).toEqual([]);
    // The only bare import left for the page to resolve is rxjs (a peer dependency).
    expect([...new Set(imports.filter((i) => i.external).map((i) => i.path))]).toEqual(["rxjs"]);
    expect(imports.filter((i) => NODE_ONLY.test(i.path))).toEqual([]);
    expect(Object.keys(BROWSER_ENTRIES)).toEqual(["index", "stores", "operators", "rx", "worker"]);
  });

  it("fails, naming the importer, when a Node-only module is reachable", async () => {
    const { build } = await import("esbuild");
    // The plugin that guards the build, on an entry that reaches the filesystem store.
    const failing = build({
      stdin: { contents: 'import "./stores/filesystem.ts";', resolveDir: process.cwd(), loader: "ts" },
      bundle: true,
      write: false,
      logLevel: "silent",
      platform: "browser",
      plugins: [seamPlugin],
    });
    await expect(failing).rejects.toThrow(/Node-only module "node:[a-z/]+" imported by stores\/filesystem\.ts/);
  });
});
