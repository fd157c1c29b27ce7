/**
 * A byte budget shared by two stages: prefetch adds the size of each fetched item, the stage
 * that finishes with it (compute) releases it. Prefetch starts no new fetch while the budget
 * is spent, so bytes held stay below `maxBytes` plus what is already in flight (at most
 * `concurrency` items).
 */
export class ByteBudget {
  held = 0;
  /** Highest `held` seen (for tests and metrics). */
  peak = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly maxBytes: number) {}

  get spent(): boolean {
    return this.held >= this.maxBytes;
  }

  add(bytes: number): void {
    this.held += bytes;
    if (this.held > this.peak) this.peak = this.held;
  }

  release(bytes: number): void {
    this.held -= bytes;
    if (!this.spent) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once the budget has room. */
  async room(): Promise<void> {
    while (this.spent) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
