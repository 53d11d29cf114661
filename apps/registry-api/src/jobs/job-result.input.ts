import { isJobKind, type JobKind } from '@palette/job-contracts';
import { domainErrors } from '../common';
import type { AnyJobKindHandler } from './kinds/job-kind-handler';
import type { JobKindRegistry } from './kinds/job-kind-registry';
import { isRecord } from './kinds/submission-fields';

/** A JobResultSubmission checked for its envelope and by its kind's handler. */
export interface ParsedJobResult {
  readonly kind: JobKind;
  readonly handler: AnyJobKindHandler;
  /** The handler's typed result. */
  readonly parsed: unknown;
  /** The `result` object as sent (stored on the Job row). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Validates POST /api/v1/internal/jobs/:id/result: the body's jobId must be the route's, the
 * Idempotency-Key header (when sent) too, `result.kind` the kind; the rest is the kind handler's
 * `parseResult`.
 */
export function parseJobResultSubmission(kinds: JobKindRegistry, routeId: string, idempotencyKey: string | undefined, body: unknown): ParsedJobResult {
  const problems: string[] = [];
  if (!isRecord(body)) throw domainErrors.validation('the result submission must be a JSON object {jobId, kind, result}');
  if (body.jobId !== routeId) problems.push(`jobId: ${JSON.stringify(body.jobId ?? null)} differs from the job in the path (${routeId})`);
  if (idempotencyKey !== undefined && idempotencyKey !== routeId) problems.push(`Idempotency-Key header ${JSON.stringify(idempotencyKey)} differs from the job id ${routeId} (the job id is the key)`);
  const kind = typeof body.kind === 'string' && isJobKind(body.kind) ? body.kind : undefined;
  const handler = kind !== undefined ? kinds.find(kind) : undefined;
  if (!kind || !handler) problems.push(`kind: expected a job kind, got ${JSON.stringify(body.kind ?? null)}`);
  const result = isRecord(body.result) ? body.result : undefined;
  if (!result) problems.push('result: expected an object');
  else if (kind !== undefined && result.kind !== kind) problems.push(`result.kind: ${JSON.stringify(result.kind ?? null)} differs from kind ${kind}`);
  if (problems.length > 0 || !kind || !handler || !result) throw domainErrors.validation(`result submission is invalid: ${problems.join('; ')}`, { problems });
  const parsed = handler.parseResult(result, problems);
  if (problems.length > 0 || parsed === undefined) throw domainErrors.validation(`result submission is invalid: ${problems.join('; ')}`, { problems });
  return { kind, handler, parsed, raw: result };
}
