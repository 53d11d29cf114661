/**
 * Waiting in the job e2e suites: poll until something holds, and read a job's row once the state
 * mirror has written its final status. Timeouts name what was awaited and add `context()` (the
 * worker's log lines), since a job that never finishes usually says why there.
 */
import { JobStateMirror } from '../../src/jobs/job-state-mirror';
import type { TestApp } from '../../src/testing';

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Calls `probe` every `everyMs` until it returns a value (not undefined), or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, context: () => string = () => '', everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface FinishedJobOptions<T> {
  readonly timeoutMs: number;
  readonly context?: () => string;
  /** More than a final status, e.g. a succeeded job's registration. */
  readonly ready?: (job: T) => boolean;
}

/** GET /api/v1/jobs/:id once the mirror has written a final status (and `ready` holds). */
export function finishedJob<T extends { status: string }>(t: TestApp, key: string, id: string, o: FinishedJobOptions<T>): Promise<T> {
  return waitFor(
    `job ${id} to finish`,
    async () => {
      await t.app.get(JobStateMirror).settled();
      const res = await t.http.get(`/api/v1/jobs/${id}`).set({ authorization: `Bearer ${key}` });
      if (res.status === 404) return undefined;
      const job = res.body as T;
      return FINAL.has(job.status) && (o.ready?.(job) ?? true) ? job : undefined;
    },
    o.timeoutMs,
    o.context,
  );
}
