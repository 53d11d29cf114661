import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isIdempotencyKey } from '@palette/job-contracts';
import { NAME_PATTERN, TAG_PATTERN, MAX_TAGS, MAX_DESCRIPTION_CHARS } from '../catalog/catalog-input';
import { parseEvalFraction } from '../datasets/dataset-upload.input';
import { domainErrors } from '../common';

/** Where the job's dataset comes from: an earlier upload (id or sha256), or a file in the same multipart request. */
export type DatasetSource = { readonly kind: 'existing'; readonly ref: string } | { readonly kind: 'uploaded'; readonly name: string | undefined };

/** How a finished train job's adapter is registered in the catalog. */
export interface AdapterRegistration {
  readonly adapter: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** A parent version as name@vN / name@alias (lineage kind 'parent'). */
  readonly parent?: string;
}

/** POST /api/v1/jobs, checked for shape (the payload schema and the database checks come later). */
export interface JobSubmission {
  readonly kind: 'train';
  readonly idempotencyKey: string | undefined;
  readonly baseModel: string;
  readonly dataset: DatasetSource;
  /** undefined: the dataset's own evalFraction. */
  readonly evalFraction: number | undefined;
  readonly registration: AdapterRegistration;
  /** Passed to parseJobPayload as they are: validated against the kind's schema there. */
  readonly hyperparameters: unknown;
  readonly checkpointing: unknown;
  readonly dtype: unknown;
}

/** Kinds a client may submit through the API (embed/evaluate/pretrain are enqueued by the platform itself). */
export const SUBMITTABLE_KINDS = ['train'] as const;
const KNOWN_FIELDS = ['kind', 'idempotencyKey', 'baseModel', 'dataset', 'adapter', 'hyperparameters', 'checkpointing', 'dtype'];
const PARENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@[A-Za-z0-9._-]{1,64}$/;

export class AdapterRegistrationInput {
  @ApiProperty({ example: 'reverse-word-lora' }) name!: string;
  @ApiPropertyOptional() description?: string;
  @ApiPropertyOptional({ type: [String] }) tags?: string[];
  @ApiPropertyOptional({ example: 'reverse-word-lora@v1' }) parent?: string;
}

export class JobDatasetInput {
  @ApiPropertyOptional({ description: 'id or sha256 of an uploaded dataset; omit when the request carries the JSONL as file part `dataset`' }) ref?: string;
  @ApiPropertyOptional({ description: 'name for a dataset uploaded with the request' }) name?: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 0.5, description: "default: the dataset's evalFraction" }) evalFraction?: number;
}

/** Swagger shape of the submission (JSON body, or the `spec` field of a multipart request). */
export class SubmitJobInput {
  @ApiProperty({ enum: SUBMITTABLE_KINDS }) kind!: string;
  @ApiPropertyOptional({ description: 'Also accepted as the Idempotency-Key header; becomes the job id' }) idempotencyKey?: string;
  @ApiProperty({ example: 'tiny-llama', description: 'base model name' }) baseModel!: string;
  @ApiProperty({ type: JobDatasetInput }) dataset!: JobDatasetInput;
  @ApiProperty({ type: AdapterRegistrationInput }) adapter!: AdapterRegistrationInput;
  @ApiPropertyOptional({ type: Object, description: 'train hyperparameters (job-contracts schema; defaults filled in)' }) hyperparameters?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, example: { everySteps: 50 } }) checkpointing?: Record<string, unknown>;
  @ApiPropertyOptional({ enum: ['F32', 'F16', 'BF16'] }) dtype?: string;
}

/**
 * Validates a submission's shape, naming every bad field. `headerKey` is the Idempotency-Key header;
 * `hasUploadedDataset` says whether the multipart request carried a `dataset` file part.
 */
export function parseJobSubmission(body: unknown, headerKey: string | undefined, hasUploadedDataset: boolean): JobSubmission {
  const problems: string[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw domainErrors.validation('the job submission must be a JSON object');
  const rec = body as Record<string, unknown>;
  for (const key of Object.keys(rec)) if (!KNOWN_FIELDS.includes(key)) problems.push(`${key}: unknown field (known: ${KNOWN_FIELDS.join(', ')})`);

  if (!(SUBMITTABLE_KINDS as readonly unknown[]).includes(rec.kind)) {
    problems.push(`kind: expected one of ${SUBMITTABLE_KINDS.join(', ')}, got ${JSON.stringify(rec.kind ?? null)}`);
  }

  const bodyKey = rec.idempotencyKey;
  let idempotencyKey: string | undefined;
  if (bodyKey !== undefined && typeof bodyKey !== 'string') problems.push('idempotencyKey: expected a string');
  else if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) problems.push('idempotencyKey: differs from the Idempotency-Key header');
  else idempotencyKey = (bodyKey as string | undefined) ?? headerKey;
  if (idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)) {
    problems.push(`idempotencyKey: ${JSON.stringify(idempotencyKey)} is invalid: use 1–128 letters, digits, '_', '-' or '.', starting with a letter or digit, not only digits`);
  }

  if (typeof rec.baseModel !== 'string' || !NAME_PATTERN.test(rec.baseModel)) problems.push(`baseModel: expected a base model name, got ${JSON.stringify(rec.baseModel ?? null)}`);

  const { dataset, evalFraction } = parseDatasetField(rec.dataset, hasUploadedDataset, problems);
  const registration = parseRegistration(rec.adapter, problems);

  if (problems.length > 0) throw domainErrors.validation(`job submission is invalid: ${problems.join('; ')}`, { problems });
  return {
    kind: 'train',
    idempotencyKey,
    baseModel: rec.baseModel as string,
    dataset,
    evalFraction,
    registration: registration as AdapterRegistration,
    hyperparameters: rec.hyperparameters,
    checkpointing: rec.checkpointing,
    dtype: rec.dtype,
  };
}

function parseDatasetField(value: unknown, uploaded: boolean, problems: string[]): { dataset: DatasetSource; evalFraction: number | undefined } {
  const rec = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : typeof value === 'string' ? { ref: value } : value === undefined ? {} : null;
  if (rec === null) {
    problems.push('dataset: expected an object {ref?, name?, evalFraction?} or a dataset id / sha256');
    return { dataset: { kind: 'uploaded', name: undefined }, evalFraction: undefined };
  }
  for (const key of Object.keys(rec)) if (!['ref', 'name', 'evalFraction'].includes(key)) problems.push(`dataset.${key}: unknown field (known: ref, name, evalFraction)`);
  const evalFraction = rec.evalFraction === undefined ? undefined : parseFractionInto(rec.evalFraction, problems);
  if (rec.ref !== undefined) {
    if (uploaded) problems.push('dataset: give either dataset.ref or a `dataset` file part, not both');
    if (typeof rec.ref !== 'string' || rec.ref === '') problems.push('dataset.ref: expected a dataset id or sha256');
    return { dataset: { kind: 'existing', ref: String(rec.ref) }, evalFraction };
  }
  if (!uploaded) problems.push('dataset: required: dataset.ref (an uploaded dataset) or the JSONL as multipart file part `dataset`');
  if (rec.name !== undefined && typeof rec.name !== 'string') problems.push('dataset.name: expected a string');
  return { dataset: { kind: 'uploaded', name: rec.name as string | undefined }, evalFraction };
}

function parseFractionInto(value: unknown, problems: string[]): number | undefined {
  const inner: string[] = [];
  const parsed = typeof value === 'number' ? parseEvalFraction(value, inner) : (inner.push(`evalFraction must be a number in [0, 0.5], got ${JSON.stringify(value)}`), undefined);
  problems.push(...inner.map((p) => `dataset.${p}`));
  return inner.length === 0 ? parsed : undefined;
}

function parseRegistration(value: unknown, problems: string[]): AdapterRegistration | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('adapter: required: {name, description?, tags?, parent?} naming the adapter the result is registered as');
    return undefined;
  }
  const rec = value as Record<string, unknown>;
  for (const key of Object.keys(rec)) if (!['name', 'description', 'tags', 'parent'].includes(key)) problems.push(`adapter.${key}: unknown field (known: name, description, tags, parent)`);
  if (typeof rec.name !== 'string' || !NAME_PATTERN.test(rec.name)) problems.push(`adapter.name: expected 1–128 letters, digits, '.', '_' or '-', got ${JSON.stringify(rec.name ?? null)}`);
  if (rec.description !== undefined && (typeof rec.description !== 'string' || rec.description.length > MAX_DESCRIPTION_CHARS)) {
    problems.push(`adapter.description: expected a string of at most ${MAX_DESCRIPTION_CHARS} characters`);
  }
  const tags: string[] = [];
  if (rec.tags !== undefined) {
    if (!Array.isArray(rec.tags)) problems.push('adapter.tags: expected an array of strings');
    else {
      for (const t of rec.tags) {
        const tag = typeof t === 'string' ? t.trim().toLowerCase() : '';
        if (!TAG_PATTERN.test(tag)) problems.push(`adapter.tags: ${JSON.stringify(t)} must be 1-64 characters of a-z, 0-9, '.', '_', ':' or '-'`);
        else if (!tags.includes(tag)) tags.push(tag);
      }
      if (tags.length > MAX_TAGS) problems.push(`adapter.tags: at most ${MAX_TAGS} tags`);
    }
  }
  if (rec.parent !== undefined && (typeof rec.parent !== 'string' || !PARENT.test(rec.parent))) problems.push(`adapter.parent: expected adapter@vN or adapter@alias, got ${JSON.stringify(rec.parent)}`);
  return {
    adapter: rec.name as string,
    ...(typeof rec.description === 'string' ? { description: rec.description } : {}),
    tags,
    ...(typeof rec.parent === 'string' ? { parent: rec.parent } : {}),
  };
}
