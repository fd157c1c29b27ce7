/**
 * `zarrflow copy SRC DST --queue redis://…`: the copy as tasks on a queue (enqueueCopy in
 * src/distributed/coordinator.ts), run by `zarrflow worker` processes; one progress line over
 * all of them, and a summary of the tasks that failed.
 */
import { enqueueCopy, type QueueProgress, type QueuedCopySummary } from "../distributed/coordinator.js";
import type { CommandContext } from "./context.js";
import type { CopyArgs } from "./copy.js";
import { formatBytes, formatDuration, formatRate, formatShape } from "./format.js";
import { ProgressReporter, progressMode, type ProgressSnapshot } from "./progress.js";
import { openLocation } from "./store.js";

function snapshot(p: QueueProgress): ProgressSnapshot {
  const skipped = p.tasksSkipped ? ` (${p.tasksSkipped} done before)` : "";
  return {
    chunksDone: p.chunksWritten,
    chunksTotal: p.chunksTotal,
    bytesRead: p.bytesRead,
    bytesWritten: p.bytesWritten,
    dataBytesDone: p.dataBytesDone,
    dataBytesTotal: p.dataBytesTotal,
    retries: p.retries,
    errors: p.tasksFailed,
    label: `tasks ${p.tasksDone}/${p.tasksTotal}${skipped}, ${p.tasksFailed} failed`,
  };
}

function summaryText(s: QueuedCopySummary, options: CopyArgs): string {
  const what = [s.arrays === 1 ? "1 array" : `${s.arrays} arrays`];
  if (s.groups) what.push(s.groups === 1 ? "1 group" : `${s.groups} groups`);
  const ranBytes = s.tasks ? s.dataBytes * ((s.tasks - s.tasksSkipped) / s.tasks) : 0;
  const lines = [
    `copied ${what.join(" and ")} (${formatBytes(s.dataBytes)}) from ${options.src} to ${options.dst} in ${formatDuration(s.elapsedMs)}, ${formatRate(ranBytes / (s.elapsedMs / 1000))}`,
    `  copy ${s.copyId}: ${s.tasks} tasks${s.tasksSkipped ? `, ${s.tasksSkipped} done by an earlier run` : ""}${s.retries ? `, ${s.retries} retries` : ""}`,
    `  read ${s.chunksRead} chunks, ${formatBytes(s.bytesRead)} stored; wrote ${formatBytes(s.bytesWritten)} stored`,
  ];
  if (s.verified) lines.push(`  verified: all ${s.verified.elements} elements equal the source`);
  return lines.join("\n");
}

export async function runQueuedCopy(options: CopyArgs, queue: string, context: CommandContext): Promise<number> {
  const reporter = (command: string) => new ProgressReporter(command, { mode: progressMode(options, context.stderr), intervalMs: options.intervalMs, stream: context.stderr });
  let progress = reporter("copy");
  let last: QueueProgress | undefined;
  let summary: QueuedCopySummary;
  try {
    summary = await enqueueCopy(options.src, options.dst, queue, {
      zarrFormat: options.zarrFormat,
      chunks: options.chunks,
      shards: options.shards,
      compression: options.compression,
      selection: options.selection,
      overwrite: options.overwrite,
      verify: options.verify,
      queueName: options.queueName,
      attempts: options.attempts,
      taskBytes: options.taskBytes,
      signal: context.signal,
      openStore: (location, o) => openLocation(location, o),
      onProgress: (p) => {
        // A new phase (verify) starts its own line, rate and ETA.
        if (last && last.phase !== p.phase) {
          progress.done(snapshot(last));
          progress = reporter("verify");
        }
        last = p;
        progress.update(snapshot(p));
      },
    });
  } catch (error) {
    progress.stop();
    throw error;
  }
  if (last) progress.done(snapshot(last));
  const mismatched = summary.verified && summary.verified.mismatches > 0;
  if (options.json) {
    context.stdout.write(`${JSON.stringify({ src: options.src, dst: options.dst, ...summary })}\n`);
  } else if (!options.quiet && !summary.failed.length && !mismatched) {
    context.stdout.write(`${summaryText(summary, options)}\n`);
  }
  if (summary.failed.length) {
    const lines = [`zarrflow: ${summary.failed.length} of ${summary.tasks} tasks failed (copy ${summary.copyId}); once the cause is fixed, the same command resumes:`];
    for (const f of summary.failed.slice(0, 20)) {
      const box = f.region.start.map((s, d) => `${s}:${f.region.end[d]}`).join(", ");
      lines.push(`  ${f.kind} task ${f.id}, array "${f.path || "/"}" [${box}]: ${f.error.name}: ${f.error.message}`);
    }
    if (summary.failed.length > 20) lines.push(`  … and ${summary.failed.length - 20} more`);
    context.stderr.write(`${lines.join("\n")}\n`);
    return 1;
  }
  if (mismatched) {
    const first = summary.verified?.firstMismatch;
    context.stderr.write(
      `zarrflow: verification failed: ${summary.verified?.mismatches} of ${summary.verified?.elements} elements differ${first ? `, the first at ${formatShape(first.index)} of "${first.path || "/"}"` : ""}\n`,
    );
    return 1;
  }
  return 0;
}
