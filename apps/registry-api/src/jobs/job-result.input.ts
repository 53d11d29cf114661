import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, isJobKind, isSha256, type JobKind, type TrainingMetrics } from '@palette/job-contracts';
import { domainErrors } from '../common';

export interface TrainResultFiles {
  readonly config: { readonly sha256: string; readonly size: number };
  readonly weights: { readonly sha256: string; readonly size: number };
}

/** A JobResultSubmission checked for the shape the registry relies on. */
export type ParsedJobResult =
  | { readonly kind: 'train'; readonly files: TrainResultFiles; readonly metrics: TrainingMetrics; readonly raw: unknown }
  | { readonly kind: Exclude<JobKind, 'train'>; readonly raw: unknown };

/**
 * Validates POST /api/v1/internal/jobs/:id/result: the body's jobId must be the route's, the
 * Idempotency-Key header (when sent) too, and a train result must name both adapter files (sha256
 * and size) and carry its metrics.
 */
export function parseJobResultSubmission(routeId: string, idempotencyKey: string | undefined, body: unknown): ParsedJobResult {
  const problems: string[] = [];
  const rec = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  if (!rec) throw domainErrors.validation('the result submission must be a JSON object {jobId, kind, result}');
  if (rec.jobId !== routeId) problems.push(`jobId: ${JSON.stringify(rec.jobId ?? null)} differs from the job in the path (${routeId})`);
  if (idempotencyKey !== undefined && idempotencyKey !== routeId) problems.push(`Idempotency-Key header ${JSON.stringify(idempotencyKey)} differs from the job id ${routeId} (the job id is the key)`);
  const kind = typeof rec.kind === 'string' && isJobKind(rec.kind) ? rec.kind : undefined;
  if (!kind) problems.push(`kind: expected a job kind, got ${JSON.stringify(rec.kind ?? null)}`);
  const result = typeof rec.result === 'object' && rec.result !== null ? (rec.result as Record<string, unknown>) : undefined;
  if (!result) problems.push('result: expected an object');
  else if (kind !== undefined && result.kind !== kind) problems.push(`result.kind: ${JSON.stringify(result.kind ?? null)} differs from kind ${kind}`);
  if (problems.length > 0 || !kind || !result) throw domainErrors.validation(`result submission is invalid: ${problems.join('; ')}`, { problems });
  if (kind !== 'train') return { kind, raw: rec.result };

  const adapter = result.adapter as { files?: Record<string, unknown> } | undefined;
  const file = (name: string): { sha256: string; size: number } | undefined => {
    const f = adapter?.files?.[name] as { sha256?: unknown; size?: unknown } | undefined;
    if (!f || typeof f.sha256 !== 'string' || !isSha256(f.sha256) || typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) {
      problems.push(`result.adapter.files["${name}"]: expected {sha256, size}`);
      return undefined;
    }
    return { sha256: f.sha256, size: f.size };
  };
  const config = file(ADAPTER_CONFIG_FILE);
  const weights = file(ADAPTER_WEIGHTS_FILE);
  const metrics = result.metrics as Record<string, unknown> | undefined;
  if (typeof metrics !== 'object' || metrics === null) problems.push('result.metrics: expected an object');
  else {
    for (const key of ['steps', 'finalLoss', 'trainExamples', 'evalExamples', 'durationSeconds']) {
      if (typeof metrics[key] !== 'number') problems.push(`result.metrics.${key}: expected a number`);
    }
    if (metrics.evalLoss !== undefined && typeof metrics.evalLoss !== 'number') problems.push('result.metrics.evalLoss: expected a number');
  }
  if (problems.length > 0 || !config || !weights) throw domainErrors.validation(`result submission is invalid: ${problems.join('; ')}`, { problems });
  return { kind: 'train', files: { config, weights }, metrics: metrics as unknown as TrainingMetrics, raw: rec.result };
}
