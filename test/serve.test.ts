/**
 * `zarrflow serve` (the built CLI): prints the viewer's address, serves the viewer, the browser
 * build and the store with byte ranges, CORS and cross-origin isolation, and stops on Ctrl-C.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { create } from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";
import { ROOT, buildCli, runCli } from "./helpers/cli-run.js";

describe("zarrflow serve", () => {
  let dir: string;

  beforeAll(async () => {
    await buildCli();
    // @ts-expect-error: a plain .mjs build script without types
    const { buildBrowser, buildVendor } = await import("../scripts/build-browser.mjs");
    await buildBrowser();
    await buildVendor();
    dir = mkdtempSync(path.join(tmpdir(), "zarrflow-serve-"));
    const array = await create(new FileSystemStore(path.join(dir, "a.zarr")), { shape: [64, 64], chunks: [32, 32], dtype: "uint8" });
    await array.write("...", 3, { workers: 0 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the viewer's URL and serves the viewer, the browser build and the store (Range, CORS, COOP/COEP); Ctrl-C stops it", async () => {
    let checks: Promise<void> | undefined;
    const result = await runCli(["serve", path.join(dir, "a.zarr"), "--port", "0"], {
      onSpawn: (child) => {
        let out = "";
        checks = new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", (chunk: Buffer) => {
            out += chunk.toString();
            const match = /zarrflow viewer: (http:\/\/\S+)/.exec(out);
            if (!match || !out.includes("Ctrl-C")) return;
            void (async () => {
              const viewer = new URL(match[1]);
              expect(viewer.searchParams.get("store")).toBe("/data/");
              const page = await fetch(viewer);
              expect(page.status).toBe(200);
              expect(page.headers.get("cross-origin-opener-policy")).toBe("same-origin");
              expect(page.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
              expect(await page.text()).toBe(readFileSync(path.join(ROOT, "examples/viewer/index.html"), "utf8"));
              const lib = await fetch(new URL("/zarrflow/index.js", viewer));
              expect(lib.headers.get("content-type")).toMatch(/javascript/);
              const worker = await fetch(new URL("/zarrflow/worker.js", viewer));
              expect(worker.status).toBe(200);
              const meta = await fetch(new URL("/data/zarr.json", viewer), { headers: { Range: "bytes=0-9" } });
              expect(meta.status).toBe(206);
              expect(meta.headers.get("content-range")).toMatch(/^bytes 0-9\/\d+$/);
              expect(meta.headers.get("access-control-allow-origin")).toBe("*");
              expect(await meta.text()).toBe(readFileSync(path.join(dir, "a.zarr", "zarr.json"), "utf8").slice(0, 10));
              expect((await fetch(new URL("/data/../../etc/passwd", viewer))).status).toBe(404);
              child.kill("SIGINT");
            })().then(resolve, (error) => {
              child.kill("SIGKILL");
              reject(error);
            });
          });
        });
      },
    });
    await checks;
    expect(result.code, result.stderr).toBe(0);
  });

  it("refuses a missing store with a usage error", async () => {
    const result = await runCli(["serve", path.join(dir, "nope.zarr")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no directory store/);
  });
});
