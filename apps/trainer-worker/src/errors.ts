/**
 * Errors the worker raises. A processor ends in one of three ways besides success:
 * - JobCancelledError: a cancellation request arrived; the job fails for good, with no result;
 * - JobInterruptedError: the process is shutting down; the job was checkpointed and goes back
 *   to the queue for another worker (not an attempt, not a failure);
 * - anything else: a failure, retried by BullMQ up to the job's `attempts`.
 */
export type WorkerErrorCode = 'CONFIG_INVALID' | 'INPUT_INVALID' | 'CHECKPOINT_INVALID' | 'RESULT_SINK_FAILED';

export class WorkerError extends Error {
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

export class JobCancelledError extends Error {
  constructor(readonly reason: string) {
    super(`cancelled: ${reason}`);
    this.name = 'JobCancelledError';
  }
}

export class JobInterruptedError extends Error {
  constructor(readonly checkpointStep: number | undefined) {
    super(`interrupted by worker shutdown${checkpointStep !== undefined ? ` (checkpoint at step ${checkpointStep})` : ''}`);
    this.name = 'JobInterruptedError';
  }
}
