/**
 * Huge pages for big buffers (Node-only: the `zarrflow` command and `npm start` use it).
 *
 * A fresh 128 MiB output buffer costs 32,768 page faults of 4 KiB on first touch — a third of a
 * second of CPU on a virtual machine, more than decoding the data — unless the kernel backs it
 * with 2 MiB pages. With transparent huge pages in `madvise` mode (the common default), glibc
 * asks for them only when started with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, and tunables
 * are read once, when the process starts. So the command starts itself again with the tunable
 * set (once: the child sees it set), in its own process group so that a Ctrl-C reaches it once,
 * through this parent, and exits with the child's code.
 *
 * `ZARRFLOW_HUGEPAGES=0` turns this off. Elsewhere (not Linux) nothing happens.
 */
import { spawn } from "node:child_process";

const TUNABLE = "glibc.malloc.hugetlb=1";
/** Set in the relaunched child's environment. */
const CHILD_MARK = "ZARRFLOW_HUGEPAGES_CHILD";

/**
 * In a relaunched child: end this process when the parent is gone. Its own process group keeps
 * a terminal's signals from reaching it twice, but also from reaching it when the parent is
 * SIGKILLed — a worker killed that way must not keep running its task unseen. The IPC channel
 * closes when the parent dies; the channel is unref'ed so it never keeps the child alive.
 */
export function followParent(): void {
  if (process.env[CHILD_MARK] !== "1" || !process.connected) return;
  delete process.env[CHILD_MARK];
  process.once("disconnect", () => process.kill(process.pid, "SIGKILL"));
  process.channel?.unref();
}

/** True when this process should start again with the tunable (Linux, not set yet, not turned off). */
export function wantsHugePages(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== "linux" || env.ZARRFLOW_HUGEPAGES === "0") return false;
  return !(env.GLIBC_TUNABLES ?? "").includes("glibc.malloc.hugetlb");
}

/** The environment with the tunable added to any the user set. */
export function withHugePages(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const tunables = env.GLIBC_TUNABLES ? `${env.GLIBC_TUNABLES}:${TUNABLE}` : TUNABLE;
  return { ...env, GLIBC_TUNABLES: tunables };
}

/**
 * Runs this same command again (same Node, flags and arguments) with huge pages, forwarding
 * SIGINT, SIGTERM and SIGHUP; resolves the child's exit code (128 + n when a signal ended it),
 * or undefined when it could not be started (then the caller just runs here).
 */
export function relaunchWithHugePages(): Promise<number | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      // The IPC channel is only a lifeline: when this parent dies without passing a signal on
      // (SIGKILL, a crash), the channel closes and the child ends too (see followParent).
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      env: { ...withHugePages(), [CHILD_MARK]: "1" },
      // Its own process group: a terminal's Ctrl-C reaches this parent only, which passes it on
      // once (the command treats a second SIGINT as "exit now").
      detached: true,
    });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    child.on("error", () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(undefined);
    });
    child.on("exit", (code, signal) => {
      for (const [s, handler] of handlers) process.off(s, handler);
      const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve(code ?? 128 + (signal ? (numbers[signal] ?? 1) : 1));
    });
  });
}
