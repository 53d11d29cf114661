/**
 * A FIFO async mutex. PGlite has a single connection: two interactive transactions must never
 * be open at once, and callers queue here instead of failing Prisma's "unable to start a
 * transaction in the given time".
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** Runs fn once every earlier caller has finished; the lock is released even when fn throws. */
  async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    this.waiting += 1;
    try {
      await previous;
      this.waiting -= 1;
      return await fn();
    } finally {
      release();
    }
  }

  /** Callers queued behind the current holder (for metrics and tests). */
  get queued(): number {
    return this.waiting;
  }
}
