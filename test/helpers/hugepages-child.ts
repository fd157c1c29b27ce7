// Run by test/hugepages.test.ts: relaunches itself with huge pages (src/cli/hugepages.ts), then
// reports what the relaunched process sees, and counts the SIGINTs that reach it.
import { relaunchWithHugePages, wantsHugePages } from "../../src/cli/hugepages.js";

if (wantsHugePages()) process.exit((await relaunchWithHugePages()) ?? 99);
let interrupts = 0;
process.on("SIGINT", () => {
  if (interrupts++ === 0) setTimeout(() => process.exit(100 + interrupts), 300);
});
process.stdout.write(`${JSON.stringify({ tunables: process.env.GLIBC_TUNABLES, args: process.argv.slice(2) })}\n`);
if (process.argv[2] !== "wait") process.exit(Number(process.argv[2] ?? 0));
setTimeout(() => process.exit(1), 20_000);
