/**
 * Progress on stderr for long work. Four modes:
 *  - tty: one line, redrawn in place (at most every 100 ms);
 *  - plain: a line every `intervalMs` (2 s by default) — for logs, where redrawing makes noise;
 *  - json: one JSON object per line ({"event": "progress", ...}, then {"event": "done", ...});
 *  - quiet: nothing.
 * Rates are of uncompressed data; the ETA assumes the rate so far holds.
 */
import type { CopyProgress } from "../convert.js";
import { formatBytes, formatDuration, formatRate } from "./format.js";

export type ProgressMode = "tty" | "plain" | "json" | "quiet";

export interface ProgressSnapshot {
  chunksDone: number;
  /** -1 when unknown. */
  chunksTotal: number;
  /** Stored bytes read and written. */
  bytesRead: number;
  bytesWritten?: number;
  /** Uncompressed bytes done and in all (drive the rate and the ETA). */
  dataBytesDone: number;
  dataBytesTotal: number;
  retries?: number;
  errors?: number;
  /** What is being worked on (an array path, a codec). */
  label?: string;
}

/** A copy's progress (src/convert.ts) as a progress line's numbers: chunks are the destination's stored objects. */
export function copySnapshot(p: CopyProgress): ProgressSnapshot {
  return {
    chunksDone: p.chunksWritten,
    chunksTotal: p.chunksTotal,
    bytesRead: p.bytesRead,
    bytesWritten: p.bytesWritten,
    dataBytesDone: p.dataBytesDone,
    dataBytesTotal: p.dataBytesTotal,
  };
}

export interface ProgressOptions {
  mode: ProgressMode;
  stream?: NodeJS.WriteStream;
  /** Plain lines and JSON events at most this often (default 2000 ms; 0 = every update). */
  intervalMs?: number;
  /** Draw nothing (tty, plain) until the work has run this long: short work stays silent. */
  delayMs?: number;
}

/** The mode for a command's flags and stderr. */
export function progressMode(flags: { quiet?: boolean; json?: boolean }, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (flags.quiet) return "quiet";
  if (flags.json) return "json";
  return stream.isTTY ? "tty" : "plain";
}

export class ProgressReporter {
  readonly mode: ProgressMode;
  private readonly stream: NodeJS.WriteStream;
  private readonly intervalMs: number;
  private readonly delayMs: number;
  private readonly started = performance.now();
  private lastDraw = -Infinity;
  private drawn = false;
  private last: ProgressSnapshot | undefined;

  constructor(
    readonly command: string,
    options: ProgressOptions,
  ) {
    this.mode = options.mode;
    this.stream = options.stream ?? process.stderr;
    this.intervalMs = options.intervalMs ?? 2000;
    this.delayMs = options.delayMs ?? 0;
  }

  get elapsedMs(): number {
    return performance.now() - this.started;
  }

  update(snapshot: ProgressSnapshot): void {
    this.last = snapshot;
    if (this.mode === "quiet") return;
    const now = performance.now();
    const elapsed = now - this.started;
    if (this.mode !== "json" && elapsed < this.delayMs) return;
    const every = this.mode === "tty" ? 100 : this.intervalMs;
    // Plain lines start one interval in; JSON events start at once.
    if (this.mode === "plain" && this.lastDraw === -Infinity) this.lastDraw = this.started;
    if (now - this.lastDraw < every) return;
    this.lastDraw = now;
    this.draw(snapshot, "progress");
  }

  /** The work finished: the final state (tty: the line is completed with a newline). */
  done(snapshot: ProgressSnapshot | undefined = this.last): void {
    if (!snapshot || this.mode === "quiet") return;
    if (this.mode === "json") return this.draw(snapshot, "done");
    if (this.mode === "tty" && this.drawn) {
      this.draw(snapshot, "done");
      this.stream.write("\n");
    }
  }

  /** The work stopped (error or interrupt): clear the tty line so the message starts clean. */
  stop(): void {
    if (this.mode === "tty" && this.drawn) this.stream.write("\r\x1b[2K");
    this.drawn = false;
  }

  private draw(s: ProgressSnapshot, event: "progress" | "done"): void {
    const elapsedMs = this.elapsedMs;
    const rate = elapsedMs > 0 ? s.dataBytesDone / (elapsedMs / 1000) : 0;
    const etaMs = rate > 0 ? ((s.dataBytesTotal - s.dataBytesDone) / rate) * 1000 : undefined;
    if (this.mode === "json") {
      const event_ = {
        event,
        command: this.command,
        elapsedMs: Math.round(elapsedMs),
        ...s,
        bytesPerSecond: Math.round(rate),
        etaMs: etaMs === undefined ? null : Math.round(etaMs),
      };
      this.stream.write(`${JSON.stringify(event_)}\n`);
      return;
    }
    const parts = [this.command];
    if (s.dataBytesTotal > 0) parts.push(`${Math.floor((100 * s.dataBytesDone) / s.dataBytesTotal)}%`);
    parts.push(s.chunksTotal >= 0 ? `${s.chunksDone}/${s.chunksTotal} chunks` : `${s.chunksDone} chunks`);
    parts.push(`read ${formatBytes(s.bytesRead)}`);
    if (s.bytesWritten !== undefined) parts.push(`wrote ${formatBytes(s.bytesWritten)}`);
    parts.push(formatRate(rate));
    parts.push(event === "done" ? `in ${formatDuration(elapsedMs)}` : `ETA ${etaMs === undefined ? "?" : formatDuration(etaMs)}`);
    const counters = [`retries ${s.retries ?? 0}`, `errors ${s.errors ?? 0}`];
    let line = [...parts, ...counters, ...(s.label ? [s.label] : [])].join("  ");
    if (this.mode === "tty") {
      const width = this.stream.columns || 100;
      // On a narrow terminal, counters that are zero give way first.
      if (line.length > width - 1) line = [...parts, ...counters.filter((c) => !c.endsWith(" 0")), ...(s.label ? [s.label] : [])].join("  ");
      if (line.length > width - 1) line = line.slice(0, width - 1);
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }
}
