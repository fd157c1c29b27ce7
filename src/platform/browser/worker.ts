/** The pool worker's entry in browsers: the first message carries the task port. */
import { serveTasks } from "../../worker.js";
import type { TaskPort } from "../types.js";

const scope = self as unknown as { onmessage: ((event: MessageEvent) => void) | null; postMessage(message: unknown): void };
scope.onmessage = (event: MessageEvent) => {
  const { port } = event.data as { port: MessagePort };
  scope.onmessage = null;
  serveTasks(port as unknown as TaskPort);
  scope.postMessage({ ready: true });
};
