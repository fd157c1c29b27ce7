/**
 * Chromium for the browser tests: Debian's `chromium` driven by playwright-core (nothing
 * downloads a browser), pages and fixtures from the static server the tests start, and the
 * browser build of zarrflow made fresh for the run.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { startStaticServer, type StaticServer, type StaticServerOptions } from "../../src/cli/static-server.js";
import { skipUnlessFound } from "./external.js";
import { FIXTURES_DIR } from "./fixtures.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CHROMIUM = process.env.ZARRFLOW_CHROMIUM ?? "/usr/bin/chromium";

/** Arguments this machine needs (no sandbox as root, no GPU, nothing phoning home). */
const ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** True (and one visible line, or a failure under CI) when Chromium is not here. */
export function skipWithoutChromium(what: string): boolean {
  return skipUnlessFound(what, existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set ZARRFLOW_CHROMIUM)`);
}

/** Builds dist/browser into a fresh folder for this run; returns the folder. */
export async function buildBrowserForTests(): Promise<string> {
  const outdir = mkdtempSync(path.join(tmpdir(), "zarrflow-browser-build-"));
  // @ts-expect-error: a plain .mjs build script without types
  const { buildBrowser, buildVendor } = (await import("../../scripts/build-browser.mjs")) as typeof import("../../scripts/build-browser.mjs");
  await buildBrowser({ outdir, minify: false });
  await buildVendor({ outdir: path.join(outdir, "vendor") });
  return outdir;
}

export interface BrowserRig {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<BrowserRig> {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(path.join(tmpdir(), "zarrflow-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The server the pages load from: the browser build at /zarrflow/, the fixtures at /fixtures/,
 * test pages at /pages/, plus `mounts` of the test's own.
 */
export function startTestServer(build: string, options: Partial<StaticServerOptions> = {}): Promise<StaticServer> {
  return startStaticServer({
    ...options,
    mounts: {
      "/zarrflow/": build,
      "/fixtures/": FIXTURES_DIR,
      "/pages/": path.join(ROOT, "test/browser"),
      "/viewer/": path.join(ROOT, "examples/viewer"),
      ...options.mounts,
    },
  });
}

/** A page on the server, with its console errors collected (printed when a test fails). */
export async function openPage(rig: BrowserRig, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await rig.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(url);
  return { page, errors };
}

/**
 * Calls `name(args)` exported by a page module and returns its (JSON-able) answer. Passed as
 * source text: a function would be rewritten by vitest's transform before it reaches the page.
 */
export function callInPage<T = unknown>(page: Page, module: string, name: string, args?: unknown): Promise<T> {
  return page.evaluate(`import(${JSON.stringify(module)}).then((m) => m[${JSON.stringify(name)}](${args === undefined ? "" : JSON.stringify(args)}))`) as Promise<T>;
}
