/**
 * The per-kind part of the job API. Each job kind is one `JobKindHandler` in `kinds/<kind>.kind.ts`;
 * the generic services (JobSubmissionService, JobResultsService) do everything that is the same for
 * every kind: idempotency, the Job row, enqueueing, the mirror, SSE, cancel, retry, and the
 * "registered exactly once" rule of results. A handler only says what is specific to its kind.
 */
import type { JobKind, JobPayloads } from '@palette/job-contracts';
import type { AuthenticatedKey } from '../../auth';
import type { StoredTempFile } from '../../catalog/uploads/hashing-file-writer';
import type { TempWorkspace } from '../../catalog/uploads/temp-workspace';
import type { Tx } from '../../database';
import type { Prisma } from '../../generated/prisma/client';

/** Given to `prepare`: who submits, under which job id, and the request's uploaded file (if any). */
export interface SubmitContext {
  /** The job id (= idempotency key) the job will get. */
  readonly jobId: string;
  readonly actor: AuthenticatedKey;
  /**
   * The multipart request's file part named `handler.uploadPart`, already streamed to a temp file,
   * hashed and limited to MAX_DATASET_BYTES; gone when the request ends.
   */
  readonly upload: StoredTempFile | undefined;
}

/** What `prepare` returns: everything the generic service writes to the Job row and enqueues. */
export interface PreparedJob<K extends JobKind> {
  /** The payload from job-contracts' parseJobPayload (every default filled in). */
  readonly payload: JobPayloads[K];
  readonly baseModelId: string | null;
  readonly datasetId: string | null;
  /**
   * What the result will register, stored as Job.registration and shown in the job DTO. Use the
   * key `adapter` for an adapter name (GET /jobs?adapter= filters on it).
   */
  readonly registration: Prisma.InputJsonObject;
  /** Extra audit details for `job.submit`. */
  readonly audit?: Record<string, string | number | boolean | null>;
}

/**
 * What a result registered, stored as Job.registered and returned by the internal result route.
 * `adapterVersionId` is also written to Job.adapterVersionId (the job → version link the catalog's
 * lineage and the job DTO's `adapterVersion` use): set it only when the job PRODUCED that version.
 */
export interface RegisteredResult {
  readonly type: 'adapter-version' | 'base-model' | 'evaluation' | 'artifact' | 'none';
  /** Id of the row written or updated (version, base model, artifact). */
  readonly id?: string;
  /** Human name: `adapter@vN`, a base model name, `kind/name@vN`. */
  readonly name?: string;
  readonly adapterVersionId?: string;
  /** Small extras shown to clients (e.g. an evaluation's accuracy). */
  readonly details?: Record<string, string | number | boolean | null>;
}

/** The Job row as a result handler sees it. */
export interface JobForResult {
  readonly id: string;
  readonly kind: JobKind;
  readonly payload: unknown;
  readonly registration: unknown;
  readonly baseModel: { readonly id: string; readonly name: string } | null;
  readonly dataset: { readonly id: string; readonly sha256: string } | null;
  /** Training metric points the mirror recorded (tokensPerSecond etc.). */
  readonly metricHistory: unknown;
}

/** Given to `registerResult`. */
export interface ResultContext {
  readonly job: JobForResult;
  readonly actor: AuthenticatedKey;
  /** A temp directory removed when the registration ends. */
  readonly workspace: TempWorkspace;
  /**
   * Copies a blob the worker stored to a local temp file, re-hashing it (400 when it is missing or its
   * bytes differ). Catalog registration services validate files on local disk.
   */
  copyBlob(label: string, file: { readonly sha256: string; readonly size: number }): Promise<StoredTempFile>;
  /**
   * Marks the job's result registered. Call it INSIDE the transaction that writes what the result
   * registers, so both commit or neither does. It locks the Job row first; when another call
   * registered this job meanwhile it throws ResultAlreadyRegistered, which rolls that transaction
   * back (the generic service then answers with the first registration).
   */
  finish(tx: Tx, registered: RegisteredResult): Promise<void>;
  /**
   * Runs `write` in one transaction that first calls finish(tx, …) with what `write` returns: the
   * usual shape for a handler that writes its own rows.
   */
  commit(write: (tx: Tx) => Promise<RegisteredResult>): Promise<RegisteredResult>;
}

export interface JobKindHandler<K extends JobKind = JobKind, Spec = unknown, Result = unknown> {
  readonly kind: K;
  /**
   * Submission: undefined for kinds only the platform enqueues. `fields` lists the top-level fields of
   * POST /api/v1/jobs this kind accepts besides `kind` and `idempotencyKey`; `uploadPart` names the
   * multipart file part it takes (a dataset / corpus JSONL), if any.
   */
  readonly submission?: {
    readonly fields: readonly string[];
    readonly uploadPart?: string;
    /**
     * Shape checks only (no database): push one `field.path: problem` string per problem and return
     * the typed spec (the value is ignored when problems were pushed). `hasUpload`: the request
     * carried `uploadPart`.
     */
    parse(body: Readonly<Record<string, unknown>>, problems: string[], hasUpload: boolean): Spec | undefined;
    /**
     * Resolves references in the database (base model, adapter `name@ref`, dataset), checks
     * everything a worker would later fail on, and builds the payload with parseJobPayload. Throws
     * DomainErrors (4xx) naming the field. Must not write anything a rejected submission would
     * leave behind (registering an uploaded dataset is fine: it is content-addressed and reusable).
     */
    prepare(spec: Spec, ctx: SubmitContext): Promise<PreparedJob<K>>;
  };
  /** Shape check of `JobResultSubmission.result` (push `result.path: problem` strings). */
  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): Result | undefined;
  /** Registers the result, calling ctx.finish / ctx.commit in the transaction that writes it. */
  registerResult(result: Result, ctx: ResultContext): Promise<RegisteredResult>;
}

/** A handler of any kind, as the registry holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobKindHandler = JobKindHandler<JobKind, any, any>;

/** Thrown by ResultContext.finish when the job's result was registered by another call first. */
export class ResultAlreadyRegistered extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} already registered its result`);
    this.name = 'ResultAlreadyRegistered';
  }
}
