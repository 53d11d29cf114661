/**
 * What a processor gets: its validated payload, the object store, a scratch directory, the
 * signals that stop it, and where to report progress and logs. Processors are plain async
 * functions of this context (no BullMQ in them), so they can be run and tested without a queue.
 */
import type { JobKind, JobPayloads, JobProgress, JobResults } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';
import { JobCancelledError, JobInterruptedError } from './errors';
import type { JobLogger } from './job-logger';
import type { ProgressReporter } from './progress-reporter';

export interface RuntimeOptions {
  readonly device?: string;
  readonly intraOpThreads?: number;
}

export interface JobContext<K extends JobKind> {
  readonly jobId: string;
  readonly kind: K;
  readonly payload: JobPayloads[K];
  readonly store: BlobStore;
  /** Private to this attempt; removed when it ends. */
  readonly scratchDir: string;
  /** Aborted when the job is cancelled (BullMQ's processor signal). */
  readonly cancelSignal: AbortSignal;
  /** Aborted when this process shuts down: checkpoint and hand the job back. */
  readonly shutdownSignal: AbortSignal;
  readonly progress: ProgressReporter;
  readonly log: JobLogger;
  /** Progress stored by an earlier attempt (its checkpoint is where training resumes). */
  readonly previous: JobProgress | undefined;
  readonly runtime: RuntimeOptions;
}

export type Processor<K extends JobKind> = (ctx: JobContext<K>) => Promise<JobResults[K]>;

export type ProcessorTable = { readonly [K in JobKind]: Processor<K> };

/** Throws the matching error if the job was cancelled or the process is shutting down. */
export function throwIfStopped(ctx: JobContext<JobKind>, checkpointStep?: number): void {
  if (ctx.cancelSignal.aborted) throw new JobCancelledError(reasonOf(ctx.cancelSignal));
  if (ctx.shutdownSignal.aborted) throw new JobInterruptedError(checkpointStep);
}

export function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string' && r !== '') return r;
  if (r instanceof Error) return r.message;
  return 'cancelled by request';
}
