/**
 * Delivers cross-process cancellation requests (job-contracts' cancellation keys) to BullMQ's
 * per-process Worker.cancelJob, which aborts the processor's AbortSignal. One timer per process
 * polls the keys of every job running here; polling (rather than pub/sub) needs no
 * extra connection and cannot miss a request made while a worker was reconnecting.
 */
import { cancelKey, parseCancelRequest } from '@palette/job-contracts';

export interface CancellationWatcherDeps {
  /** Reads the keys (null where absent) on the worker's Redis connection. */
  readonly read: (keys: string[]) => Promise<(string | null)[]>;
  /** Aborts the job's processor signal (Worker.cancelJob). */
  readonly cancel: (jobId: string, reason: string) => void;
  readonly pollMs: number;
  readonly onError?: (error: unknown) => void;
}

export class CancellationWatcher {
  private readonly jobs = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly deps: CancellationWatcherDeps) {
    this.timer = setInterval(() => void this.poll(), deps.pollMs);
    this.timer.unref();
  }

  track(jobId: string): void {
    this.jobs.add(jobId);
  }

  untrack(jobId: string): void {
    this.jobs.delete(jobId);
  }

  /** The request for one job, if any (checked when a job starts, before any work). */
  async pending(jobId: string): Promise<string | undefined> {
    const [value] = await this.deps.read([cancelKey(jobId)]);
    return value === null || value === undefined ? undefined : parseCancelRequest(value).reason;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.jobs.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.jobs];
      const values = await this.deps.read(ids.map(cancelKey));
      values.forEach((value, i) => {
        if (value !== null && value !== undefined) this.deps.cancel(ids[i]!, parseCancelRequest(value).reason);
      });
    } catch (e) {
      this.deps.onError?.(e);
    } finally {
      this.polling = false;
    }
  }
}
