/**
 * The idempotency rule: a job's id IS its idempotency key.
 *
 * - The producer adds every job with `jobId = idempotencyKey` (a client-supplied key, or one the
 *   registry derives/generates). BullMQ ignores an add whose job id exists, so a retried API call
 *   never enqueues a second job while the first is kept.
 * - The worker registers a result with that same id as the `Idempotency-Key` of
 *   POST /api/v1/internal/jobs/:id/result; the registry stores at most one result per job id, so a
 *   job that runs twice (stalled and resumed, retried after a failure) never registers two adapters.
 */
import { JobContractError } from './errors';

/**
 * Letters, digits, `_`, `-`, `.`; 1–128 characters; starting with a letter or digit. Not all
 * digits (BullMQ reserves integer ids for its own counter) and no ':' (BullMQ's key separator).
 */
export const IDEMPOTENCY_KEY_PATTERN = /^(?!\d+$)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

export function isIdempotencyKey(value: string): boolean {
  return IDEMPOTENCY_KEY_PATTERN.test(value);
}

/** The BullMQ job id for an idempotency key (the identity, after validation). */
export function jobIdForIdempotencyKey(key: string): string {
  if (!isIdempotencyKey(key)) {
    throw new JobContractError(
      'IDEMPOTENCY_KEY_INVALID',
      `idempotency key ${JSON.stringify(key)} is invalid: use 1–128 letters, digits, '_', '-' or '.', starting with a letter or digit, not only digits`,
    );
  }
  return key;
}

/** The registry route a worker posts a job's result to. */
export function jobResultPath(jobId: string): string {
  return `/api/v1/internal/jobs/${encodeURIComponent(jobId)}/result`;
}
