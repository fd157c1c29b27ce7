/**
 * `zarrflow worker <redis-url>`: runs copy and verify tasks from the queue (runWorker in
 * src/distributed/worker.ts) until SIGINT/SIGTERM, which let the running tasks finish first.
 */
import { runWorker, type TaskEvent } from "../distributed/worker.js";
import { DEFAULT_QUEUE_NAME, checkRedisUrl } from "../distributed/shared.js";
import { ZarrflowError } from "../errors.js";
import { COMMON_HELP, COMMON_OPTIONS, PIPELINE_OPTIONS, UsageError, bytesOption, intOption, parse, stringOption, workersOption } from "./args.js";
import type { CommandContext } from "./context.js";
import { formatBytes, formatDuration } from "./format.js";
import { openLocation } from "./store.js";

export const WORKER_HELP = `Usage: zarrflow worker <redis-url> [options]

Runs the tasks of queued copies (zarrflow copy ... --queue <redis-url>) until stopped. Start one
on each machine that should take part; every worker must reach the copies' sources and
destinations at the same locations (a shared path, http://, https://). SIGINT or SIGTERM stop
taking tasks, finish the ones running, then exit; a worker killed outright has its task run
again elsewhere after the stall interval.

<redis-url> is redis://host:port[/db] (rediss:// for TLS).

Options:
      --queue-name NAME      the queue (default "${DEFAULT_QUEUE_NAME}")
      --tasks N              tasks run at once (default 1; each runs a parallel pipeline)
      --memory SIZE          memory budget of each task's data in flight (default 256MiB)
      --stall-interval MS    a task whose worker stops answering for this long runs again
                               elsewhere (default 30000)
      --concurrency N        store requests in flight per task (default 8)
      --workers N|auto       codec worker threads; 0 runs codecs inline (default auto)
${COMMON_HELP.trim().split("\n").slice(1).join("\n")}
  Each task is one line on stdout (--json: one JSON object).`;

export async function runWorkerCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...COMMON_OPTIONS, ...PIPELINE_OPTIONS, "queue-name": { type: "string" }, tasks: { type: "string" }, memory: { type: "string" }, "stall-interval": { type: "string" } },
    1,
  );
  if (values.help) return context.help(WORKER_HELP);
  if (!positionals[0]) throw new UsageError("missing <redis-url>");
  try {
    checkRedisUrl(positionals[0]);
  } catch (error) {
    throw new UsageError((error as ZarrflowError).message);
  }
  const json = Boolean(values.json);
  const quiet = Boolean(values.quiet);
  const say = (line: string) => {
    if (!quiet) context.stdout.write(`${line}\n`);
  };
  const onTask = (event: TaskEvent) => {
    if (json) return say(JSON.stringify({ event: "task", ...event, elapsedMs: Math.round(event.elapsedMs) }));
    const head = `task ${event.id} (${event.kind})`;
    if (event.outcome === "started") return say(`${head} started, attempt ${event.attempt} of ${event.attempts}`);
    if (event.outcome === "failed") {
      const will = event.attempt < event.attempts ? "will retry" : "gave up";
      return say(`${head} failed, attempt ${event.attempt} of ${event.attempts} (${will}): ${event.error?.name}: ${event.error?.message}`);
    }
    const r = event.result as Record<string, number> | undefined;
    const what =
      event.kind === "verify"
        ? `${r?.elements ?? 0} elements, ${r?.mismatches ?? 0} differ`
        : `${r?.chunksWritten ?? 0} objects written, read ${formatBytes(r?.bytesRead ?? 0)}, wrote ${formatBytes(r?.bytesWritten ?? 0)}`;
    say(`${head} done in ${formatDuration(event.elapsedMs)}: ${what}`);
  };
  const worker = await runWorker(positionals[0], {
    queueName: stringOption(values, "queue-name"),
    tasks: intOption(values, "tasks", 1, 1024),
    memoryBytes: bytesOption(values, "memory"),
    stallIntervalMs: intOption(values, "stall-interval", 1000),
    concurrency: intOption(values, "concurrency", 1, 1024),
    workers: workersOption(values),
    // Not the pipeline's signal: a stop request lets the running task finish.
    signal: context.signal,
    openStore: (location, options) => openLocation(location, options),
    onTask,
  });
  if (json) say(JSON.stringify({ event: "ready", queue: stringOption(values, "queue-name") ?? DEFAULT_QUEUE_NAME, pid: process.pid }));
  else say(`worker ${process.pid} waiting for tasks on queue "${stringOption(values, "queue-name") ?? DEFAULT_QUEUE_NAME}"`);
  context.signal.addEventListener("abort", () => say(json ? JSON.stringify({ event: "stopping" }) : "stopping: finishing the running task"), { once: true });
  const summary = await worker.closed;
  say(json ? JSON.stringify({ event: "stopped", ...summary }) : `stopped: ${summary.tasksDone} tasks done, ${summary.tasksFailed} failed attempts`);
  return 0;
}
