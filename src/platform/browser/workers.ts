/**
 * Pool workers in browsers: module Web Workers running the prebuilt worker.js that sits beside
 * this module in dist/browser/ (found relative to the module, so no bundler configuration is
 * needed), each handed a MessagePort in its first message.
 */
import type { TaskPort, WorkerHandle } from "../types.js";

/** Where the worker script is; overridable for pages that serve it elsewhere. */
let workerUrl: string | URL | undefined;

export function setWorkerUrl(url: string | URL): void {
  workerUrl = url;
}

export async function spawnWorker(): Promise<WorkerHandle> {
  const worker = new Worker(workerUrl ?? new URL("./worker.js", import.meta.url), { type: "module", name: "zarrflow" });
  const channel = new MessageChannel();
  const exitListeners: ((code: number) => void)[] = [];
  let gone = false;
  const exit = (code: number) => {
    if (gone) return;
    gone = true;
    worker.terminate();
    for (const listener of exitListeners) listener(code);
  };
  // A browser worker has no exit event: a script that fails to load or throws at top level
  // reports "error", and the pool treats it as exited (it replaces the worker).
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) => {
      if ((event.data as { ready?: boolean })?.ready) resolve();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      reject(new Error(`pool worker failed to start: ${event.message || "script error"}`));
      exit(1);
    };
  });
  worker.postMessage({ port: channel.port2 }, [channel.port2]);
  await ready;
  return {
    port: channel.port1 as unknown as TaskPort,
    onExit: (listener) => void exitListeners.push(listener),
    ref() {},
    unref() {},
    async terminate() {
      exit(0);
      channel.port1.close();
    },
  };
}
