/**
 * The command's relaunch with huge pages (src/cli/hugepages.ts): the relaunched process has
 * glibc's hugetlb tunable (added to the user's own tunables), the same arguments, and its exit
 * code comes back; a SIGINT sent to the parent reaches the child exactly once; and
 * ZARRFLOW_HUGEPAGES=0 or a tunable already set means no relaunch.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { wantsHugePages, withHugePages } from "../src/cli/hugepages.js";

const CHILD = join(import.meta.dirname, "helpers", "hugepages-child.ts");

function run(args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string, kill: () => void) => void): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
    const lines: string[] = [];
    let buffer = "";
    child.stdout.on("data", (data: Buffer) => {
      buffer += data.toString();
      for (let at = buffer.indexOf("\n"); at >= 0; at = buffer.indexOf("\n")) {
        lines.push(buffer.slice(0, at));
        onLine?.(buffer.slice(0, at), () => child.kill("SIGINT"));
        buffer = buffer.slice(at + 1);
      }
    });
    child.on("exit", (code) => resolve({ code, lines }));
  });
}

describe.skipIf(process.platform !== "linux")("relaunch with huge pages", () => {
  const base = { ...process.env, ZARRFLOW_HUGEPAGES: undefined, GLIBC_TUNABLES: "glibc.malloc.arena_max=4" };

  it("sets the tunable beside the user's, passes the arguments and returns the exit code", async () => {
    const { code, lines } = await run(["7", "x y"], base);
    expect(code).toBe(7);
    expect(JSON.parse(lines[0])).toEqual({ tunables: "glibc.malloc.arena_max=4:glibc.malloc.hugetlb=1", args: ["7", "x y"] });
  });

  it("passes a SIGINT sent to the parent on to the child, once", async () => {
    const { code } = await run(["wait"], base, (_, kill) => kill());
    expect(code).toBe(101);
  });

  it("does nothing when turned off or already set", () => {
    expect(wantsHugePages({ GLIBC_TUNABLES: "glibc.malloc.hugetlb=0" })).toBe(false);
    expect(wantsHugePages({ ZARRFLOW_HUGEPAGES: "0" })).toBe(false);
    expect(wantsHugePages({})).toBe(true);
    expect(withHugePages({}).GLIBC_TUNABLES).toBe("glibc.malloc.hugetlb=1");
  });
});
