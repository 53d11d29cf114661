/**
 * A counting semaphore shared by every queue's worker in one process: the global cap on jobs that
 * run at once, whatever their queues. Waiters are served first come, first served.
 *
 * BullMQ fetches a job before the processor runs, so a job can be fetched while every slot is busy;
 * it then waits here (its lock keeps being renewed, so it is not taken for stalled). The worker app
 * pauses fetching while the slots are full (onFull/onFree), so this only happens in the short race
 * between a fetch in flight and the pause.
 */
export class GlobalSlots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly capacity: number,
    private readonly hooks: { onFull?: () => void; onFree?: () => void } = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`GlobalSlots: capacity must be a positive integer, got ${capacity}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** Resolves with a release function once a slot is free. Call release exactly once. */
  async acquire(): Promise<() => void> {
    if (this.used >= this.capacity) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.used++;
    if (this.used === this.capacity) this.hooks.onFull?.();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // Hand the slot straight to the next waiter (the count stays), or give it back.
      if (next !== undefined) next();
      else {
        this.used--;
        this.hooks.onFree?.();
      }
    };
  }
}
