/**
 * Pool workers on Node: worker_threads started through threads.js (`spawn`), each handed a
 * MessagePort once (`connect`) on which tasks then travel as plain messages.
 */
import { MessageChannel, type Worker as NodeWorker } from "node:worker_threads";
import type { TaskPort, WorkerHandle } from "../types.js";

type ThreadsModule = typeof import("threads");

let threadsModule: Promise<ThreadsModule> | undefined;

/**
 * Loads threads.js once. Importing it installs SIGINT/SIGTERM handlers that terminate every
 * worker and call process.exit(0) — a library must not take over signals, so those handlers
 * are removed again right after the import.
 */
function loadThreads(): Promise<ThreadsModule> {
  threadsModule ??= (async () => {
    const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
    const mod = await import("threads");
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      for (const listener of process.listeners(signal)) {
        if (!before[signal].includes(listener)) process.removeListener(signal, listener);
      }
    }
    return mod;
  })();
  return threadsModule;
}

/**
 * The worker script: the built JS, or the tsx bootstrap when running from source. threads.js
 * resolves it relative to the calling file (this one), so the path is relative.
 */
function workerScript(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  return fromSource ? "../../worker-bootstrap.mjs" : "./worker.js";
}

export async function spawnWorker(): Promise<WorkerHandle> {
  const { spawn, Worker, Transfer, Thread } = await loadThreads();
  const worker = new Worker(workerScript()) as unknown as NodeWorker;
  const thread = (await spawn(worker as never, { timeout: 60_000 })) as { connect(port: unknown): Promise<unknown> };
  const channel = new MessageChannel();
  await thread.connect(Transfer(channel.port2 as never, [channel.port2 as never]));
  const port = channel.port1;
  port.unref();
  worker.unref();
  return {
    port: port as unknown as TaskPort,
    onExit: (listener) => void worker.on("exit", listener),
    ref() {
      worker.ref();
      port.ref();
    },
    unref() {
      worker.unref();
      port.unref();
    },
    terminate: () => Thread.terminate(thread as never).catch(() => undefined),
  };
}
