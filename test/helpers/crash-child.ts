/**
 * The process the crash test kills: runs a scenario's operations from `first` on, forever,
 * printing "done <i>" after each one completes. stdout to a pipe is synchronous on Linux, so a
 * printed line means the operation finished before the kill (the converse need not hold).
 *
 *   node --import tsx test/helpers/crash-child.ts <dir> <scenario> <seed> <first>
 */
import { openArray } from "../../src/index.js";
import { FileSystemStore } from "../../stores/index.js";
import { runOperation, type ScenarioName } from "./crash-scenarios.js";

const [dir, name, seedText, firstText] = process.argv.slice(2);
const store = new FileSystemStore(dir);
const destination = await openArray(store, { path: "dst" });
const seed = Number(seedText);
process.stdout.write("ready\n");
for (let i = Number(firstText); ; i++) {
  await runOperation(store, destination, name as ScenarioName, seed, i);
  process.stdout.write(`done ${i}\n`);
}
