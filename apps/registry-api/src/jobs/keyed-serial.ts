/**
 * Runs tasks one after another per key (tasks of different keys run concurrently). QueueEvents
 * delivers a job's events in order, but their database writes are async: without this a late
 * 'progress' write could land after 'completed' and overwrite it.
 */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves when every task queued for `key` so far has run. */
  async idleFor(key: string): Promise<void> {
    await this.tails.get(key);
  }

  /** Resolves when every queued task has run. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
