/**
 * A reactive consumer: subscribe to an array's chunks with RxJS (zarrflow/rx) and render them
 * as they arrive — a map of the chunk grid that fills in, a progress count and running
 * statistics — the way a UI updates tiles while a large read streams in.
 *
 *   npx tsx examples/rx-progress.ts <array-url> [selection]
 *   npx tsx examples/rx-progress.ts data/sample-v3.zarr "0:16"
 *
 * The map shows the last two dimensions of the chunk grid; a cell is "█" when every chunk
 * behind it (along the other dimensions) has arrived, "▒" when some have, "·" when none.
 * On a terminal it is redrawn in place; otherwise progress is printed as lines.
 */
import { lastValueFrom, scan, tap, throttleTime } from "rxjs";
import { closePools, openArray, type ChunkResult } from "../src/index.js";
import { readChunks$ } from "../operators/rx.js";
import { openStore } from "../stores/index.js";

const [url, selection] = process.argv.slice(2);
if (!url) {
  console.error("usage: rx-progress.ts <array-url> [selection]");
  process.exit(2);
}
const array = await openArray(await openStore(url, { readOnly: true }));
const tty = Boolean(process.stdout.isTTY);

// The grid chunks arrive on: inner chunks of a sharded array.
const unit = array.partialShardIO ? array.chunks : array.chunkShape;
const grid = array.shape.map((s, d) => Math.ceil(s / unit[d]));
const rows = array.ndim >= 2 ? grid[array.ndim - 2] : 1;
const cols = array.ndim >= 1 ? grid[array.ndim - 1] : 1;

interface State {
  chunks: number;
  total: number;
  /** Chunks arrived per map cell, and the most a cell can get. */
  cells: number[];
  perCell: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

let total = -1;
const initial: State = { chunks: 0, total: -1, cells: new Array(rows * cols).fill(0), perCell: 0, count: 0, sum: 0, min: Infinity, max: -Infinity };

function accumulate(state: State, chunk: ChunkResult): State {
  const n = chunk.coords.length;
  const cell = (n >= 2 ? chunk.coords[n - 2] * cols : 0) + (n >= 1 ? chunk.coords[n - 1] : 0);
  state.cells[cell]++;
  for (const v of chunk.data.data as Iterable<number | bigint>) {
    const x = Number(v);
    if (Number.isNaN(x)) continue;
    state.count++;
    state.sum += x;
    if (x < state.min) state.min = x;
    if (x > state.max) state.max = x;
  }
  state.chunks++;
  state.total = total;
  state.perCell = Math.max(state.perCell, state.cells[cell]);
  return state;
}

function mapLines(state: State): string[] {
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = "";
    for (let c = 0; c < cols; c++) {
      const k = state.cells[r * cols + c];
      line += k === 0 ? "·" : state.chunks === state.total || k >= state.perCell ? "█" : "▒";
    }
    lines.push(`  ${line}`);
  }
  return lines;
}

const statsLine = (s: State) =>
  `chunks ${s.chunks}/${s.total}  values ${s.count}  min ${s.min.toFixed(3)}  max ${s.max.toFixed(3)}  mean ${(s.sum / s.count).toFixed(3)}`;

let drawn = 0;
function render(state: State): void {
  if (!tty) {
    console.log(`progress: chunks ${state.chunks}/${state.total}`);
    return;
  }
  const lines = [...mapLines(state), statsLine(state)];
  process.stdout.write(`${drawn ? `\x1b[${drawn}A` : ""}${lines.map((l) => `\x1b[2K${l}`).join("\n")}\n`);
  drawn = lines.length;
}

const final = await lastValueFrom(
  readChunks$(array, selection, { onProgress: (p) => (total = p.chunksTotal) }).pipe(
    scan(accumulate, initial),
    throttleTime(100, undefined, { leading: true, trailing: true }),
    tap(render),
  ),
);
await closePools();
if (!tty) {
  console.log(`chunk map (${rows} × ${cols}, last two grid dimensions):`);
  console.log(mapLines(final).join("\n"));
  console.log(statsLine(final));
}
