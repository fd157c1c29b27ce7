/**
 * The pool worker's entry on Node: threads.js starts it and hands it the task port through
 * `connect`; the tasks themselves are in src/worker.ts.
 */
import type { MessagePort } from "node:worker_threads";
import { expose, Transfer } from "threads/worker";
import { runTask, serveTasks } from "../../worker.js";
import type { TaskPort } from "../types.js";

expose({
  connect(port: MessagePort) {
    serveTasks(port as unknown as TaskPort);
    return { ok: true, value: "connected" };
  },
  // The same tasks through threads' call path, used by nothing hot (tests, health checks).
  async call({ method, task }: { method: string; task: unknown }): Promise<unknown> {
    const { result, transfer } = await runTask(method, task);
    return transfer.length ? Transfer(result as never, transfer as ArrayBuffer[]) : result;
  },
});
