/**
 * The CLI on S3 and zip locations: a local v2 array copied into s3:// as sharded v3 (on s3rver,
 * behind the SigV4-checking proxy), described with its stored size (S3 lists), read back
 * exactly, copied out into a new .zip and read from there; the store options; and no
 * credentials in what the CLI prints when S3 refuses them.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { create } from "../src/index.js";
import { FileSystemStore } from "../stores/index.js";
import { buildCli, runCli } from "./helpers/cli-run.js";
import { startS3Proxy, type S3Proxy } from "./helpers/s3-proxy.js";
import { startS3rver, type S3Server } from "./helpers/s3rver.js";

const SHAPE = [40, 50, 60];
const ramp = (n: number) => Uint16Array.from({ length: n }, (_, i) => (i * 7) % 65536);
const KEYS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };

let tmp: string;
let s3: S3Server;
let proxy: S3Proxy;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "zarrflow-cli-s3-"));
  const fixture = (async () => {
    const v2 = await create(new FileSystemStore(join(tmp, "v2.zarr")), {
      zarrFormat: 2,
      shape: SHAPE,
      chunks: [10, 20, 25],
      dtype: "uint16",
      compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 },
    });
    await v2.write(null, ramp(SHAPE[0] * SHAPE[1] * SHAPE[2]), { workers: 0 });
  })();
  const servers = (async () => {
    s3 = await startS3rver(["data"]);
    proxy = await startS3Proxy(s3.port);
  })();
  await Promise.all([buildCli(), fixture, servers]);
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("zarrflow with s3:// and .zip locations", () => {
  it("copies a local v2 array into s3:// as sharded v3, describes it, reads it back, and copies it into a zip", async () => {
    const env = { ...KEYS, AWS_PROFILE: "", AWS_SHARED_CREDENTIALS_FILE: join(tmp, "none"), AWS_CONFIG_FILE: join(tmp, "none") };
    const dst = "s3://data/arrays/v3.zarr";
    const copy = await runCli(["copy", join(tmp, "v2.zarr"), dst, "--zarr-format", "3", "--shards", "20,50,60", "--chunks", "10,25,30", "--endpoint", proxy.endpoint, "--quiet"], { env });
    expect(copy.stderr).toBe("");
    expect(copy.code).toBe(0);

    const info = await runCli(["info", dst, "--endpoint", proxy.endpoint, "--json"], { env });
    expect(info.code).toBe(0);
    const described = JSON.parse(info.stdout.toString());
    expect(described.zarrFormat).toBe(3);
    expect(described.shards).toEqual([20, 50, 60]);
    // Listing works on S3: the stored size is known (two shards).
    expect(described.storedObjects).toBe(2);
    expect(described.storedBytes).toBeGreaterThan(0);

    const get = await runCli(["get", dst, "--endpoint", proxy.endpoint, "--format", "raw"], { env });
    expect(get.code).toBe(0);
    const expected = Buffer.from(ramp(SHAPE[0] * SHAPE[1] * SHAPE[2]).buffer);
    expect(get.stdout.equals(expected)).toBe(true);

    const zip = join(tmp, "copy.zip");
    const toZip = await runCli(["copy", dst, zip, "--endpoint", proxy.endpoint, "--quiet"], { env });
    expect(toZip.code).toBe(0);
    const fromZip = await runCli(["get", zip, "--format", "raw"], { env });
    expect(fromZip.code).toBe(0);
    expect(fromZip.stdout.equals(expected)).toBe(true);
    expect((await readFile(zip)).subarray(0, 4).readUInt32LE(0)).toBe(0x04034b50);
    // An existing archive is not replaced without --overwrite.
    const again = await runCli(["copy", dst, zip, "--endpoint", proxy.endpoint, "--quiet"], { env });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/--overwrite/);
    expect(proxy.refused).toBe(0);
  });

  it("a refused secret fails with a message that names neither the secret nor the token, even with --verbose", async () => {
    const secret = "SECRETsentinelCLI987654321";
    const token = "TOKENsentinelCLI123456789";
    const env = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token };
    for (const args of [
      ["copy", join(tmp, "v2.zarr"), "s3://data/refused.zarr", "--endpoint", proxy.endpoint],
      ["info", "s3://data/arrays/v3.zarr", "--endpoint", proxy.endpoint, "--verbose"],
      ["get", "s3://data/arrays/v3.zarr", "--endpoint", proxy.endpoint, "--json", "--verbose"],
    ]) {
      const run = await runCli(args, { env });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/access denied|SignatureDoesNotMatch/i);
      const printed = run.stderr + run.stdout.toString();
      expect(printed).not.toContain(secret);
      expect(printed).not.toContain(token);
      expect(printed).not.toMatch(/Signature=/);
    }
  });

  it("store options are checked before any work", async () => {
    const both = await runCli(["info", "s3://data/x", "--anonymous", "--profile", "p"]);
    expect(both.code).toBe(2);
    const badEndpoint = await runCli(["info", "s3://data/x", "--endpoint", "ftp://x"]);
    expect(badEndpoint.code).toBe(2);
    expect(badEndpoint.stderr).toMatch(/--endpoint/);
    const noBucket = await runCli(["info", "s3:///x"]);
    expect(noBucket.code).toBe(2);
  });

  it("--anonymous reads a public bucket without credentials", async () => {
    const seen = proxy.seen.length;
    const run = await runCli(["info", "s3://data/arrays/v3.zarr", "--endpoint", proxy.endpoint, "--anonymous", "--json"], { env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } });
    expect(run.code).toBe(0);
    expect(proxy.seen.slice(seen).every((r) => r.headers.authorization === undefined)).toBe(true);
  });
});
