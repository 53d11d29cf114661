import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isIdempotencyKey } from '@palette/job-contracts';
import { domainErrors } from '../common';
import type { AnyJobKindHandler } from './kinds/job-kind-handler';
import type { JobKindRegistry } from './kinds/job-kind-registry';
import { isRecord, unknownFields } from './kinds/submission-fields';

/** POST /api/v1/jobs after the generic and the kind's shape checks (database checks come in `prepare`). */
export interface JobSubmission {
  readonly kind: string;
  readonly handler: AnyJobKindHandler;
  readonly idempotencyKey: string | undefined;
  /** The kind's typed spec (its `submission.parse` result). */
  readonly spec: unknown;
}

/** Swagger shape of the submission (JSON body, or the `spec` field of a multipart request); the kind decides the rest. */
export class SubmitJobInput {
  @ApiProperty({ enum: ['train', 'pretrain', 'evaluate'], description: 'the job kind; the other fields are those of the kind (see src/jobs/README.md)' }) kind!: string;
  @ApiPropertyOptional({ description: 'Also accepted as the Idempotency-Key header; becomes the job id' }) idempotencyKey?: string;
  @ApiPropertyOptional({ example: 'tiny-llama', description: 'base model name' }) baseModel?: string;
  @ApiPropertyOptional({ type: Object, description: 'train: {ref?, name?, evalFraction?}' }) dataset?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, description: 'train: {name, description?, tags?, parent?}; evaluate: "name@ref"' }) adapter?: unknown;
  @ApiPropertyOptional({ type: Object, description: 'pretrain: {ref?, name?, evalFraction?}' }) corpus?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, description: 'pretrain: {name, description?}' }) output?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, description: 'evaluate: {worldTask, examples?, splitSeed?, maxNewTokens?, batchSize?}' }) task?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, description: 'hyperparameters of the kind (job-contracts schema; defaults filled in)' }) hyperparameters?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, example: { everySteps: 50 } }) checkpointing?: Record<string, unknown>;
  @ApiPropertyOptional({ enum: ['F32', 'F16', 'BF16'] }) dtype?: string;
}

/**
 * Validates a submission's shape, naming every bad field: the generic part (kind, idempotency key)
 * here, the rest by the kind's handler. `headerKey` is the Idempotency-Key header; `uploadPart` the
 * name of the multipart file part the request carried, if any.
 */
export function parseJobSubmission(kinds: JobKindRegistry, body: unknown, headerKey: string | undefined, uploadPart: string | undefined): JobSubmission {
  if (!isRecord(body)) throw domainErrors.validation('the job submission must be a JSON object');
  const problems: string[] = [];
  const submittable = kinds.submittableKinds;
  const handler = typeof body.kind === 'string' ? kinds.find(body.kind) : undefined;
  const submission = handler?.submission;
  if (!handler || !submission) problems.push(`kind: expected one of ${submittable.join(', ')}, got ${JSON.stringify(body.kind ?? null)}`);

  const bodyKey = body.idempotencyKey;
  let idempotencyKey: string | undefined;
  if (bodyKey !== undefined && typeof bodyKey !== 'string') problems.push('idempotencyKey: expected a string');
  else if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) problems.push('idempotencyKey: differs from the Idempotency-Key header');
  else idempotencyKey = (bodyKey as string | undefined) ?? headerKey;
  if (idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)) {
    problems.push(`idempotencyKey: ${JSON.stringify(idempotencyKey)} is invalid: use 1–128 letters, digits, '_', '-' or '.', starting with a letter or digit, not only digits`);
  }

  let spec: unknown;
  if (handler && submission) {
    unknownFields(body, ['kind', 'idempotencyKey', ...submission.fields], '', problems);
    if (uploadPart !== undefined && uploadPart !== submission.uploadPart) {
      problems.push(`${uploadPart}: a ${handler.kind} job takes ${submission.uploadPart === undefined ? 'no file part' : `its JSONL as file part \`${submission.uploadPart}\``}`);
    }
    spec = submission.parse(body, problems, uploadPart !== undefined && uploadPart === submission.uploadPart);
  }
  if (problems.length > 0 || !handler) throw domainErrors.validation(`job submission is invalid: ${problems.join('; ')}`, { problems });
  return { kind: handler.kind, handler, idempotencyKey, spec };
}
