/**
 * Cancelling a running job across processes. BullMQ's Worker.cancelJob only reaches the process
 * that holds the job, and the producer (registry-api) does not know which one that is. So the
 * producer writes a cancellation key; every worker polls the keys of the jobs it is running and
 * calls Worker.cancelJob, which aborts the processor's AbortSignal. The key also stops a job that
 * is picked up again (after a crash) from resuming. Waiting or delayed jobs are simply removed
 * by the producer (Job.remove); this is for active ones.
 */
export const CANCEL_KEY_PREFIX = 'palette:job-cancel:';

/** How long a cancellation request is kept (longer than any job waits to be resumed). */
export const CANCEL_TTL_SECONDS = 7 * 24 * 3600;

export function cancelKey(jobId: string): string {
  return `${CANCEL_KEY_PREFIX}${jobId}`;
}

/** The one Redis command the producer needs; BullMQ's client (`await queue.client`) fits. */
export interface CancellationWriter {
  set(key: string, value: string, options: { EX: number }): Promise<unknown>;
}

export interface CancelRequest {
  readonly reason: string;
  /** ISO 8601. */
  readonly requestedAt: string;
}

export async function requestJobCancellation(redis: CancellationWriter, jobId: string, reason = 'cancelled by request'): Promise<void> {
  const request: CancelRequest = { reason, requestedAt: new Date().toISOString() };
  await redis.set(cancelKey(jobId), JSON.stringify(request), { EX: CANCEL_TTL_SECONDS });
}

/** Reads a stored request; a value written by something else still cancels, with a generic reason. */
export function parseCancelRequest(stored: string): CancelRequest {
  try {
    const value: unknown = JSON.parse(stored);
    if (typeof value === 'object' && value !== null && typeof (value as CancelRequest).reason === 'string') {
      const rec = value as CancelRequest;
      return { reason: rec.reason, requestedAt: typeof rec.requestedAt === 'string' ? rec.requestedAt : '' };
    }
  } catch {
    // fall through
  }
  return { reason: 'cancelled by request', requestedAt: '' };
}
