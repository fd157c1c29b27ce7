/** What a command gets from the CLI's entry point. */
export interface CommandContext {
  /** Aborted on SIGINT/SIGTERM: every command passes it to the pipeline. */
  signal: AbortSignal;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Prints a command's help on stdout; returns the exit code (0). */
  help(text: string): number;
}
