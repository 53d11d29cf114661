import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { parseModelConfig } from '@palette/peft-core/formats/hf-config';
import { JobContractError, MODEL_CONFIG_FILE, TOKENIZER_FILE, parseJobPayload, type ModelFiles, type TrainJobPayload } from '@palette/job-contracts';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import { AdaptersService } from '../catalog/adapters/adapters.service';
import { parseQualifiedVersion } from '../catalog/adapters/version-ref';
import type { StoredTempFile } from '../catalog/uploads/hashing-file-writer';
import { AppLogger, domainErrors } from '../common';
import { DatabaseService } from '../database';
import { DEFAULT_EVAL_FRACTION } from '../datasets/dataset-upload.input';
import { DatasetsService } from '../datasets/datasets.service';
import type { Dataset, Prisma } from '../generated/prisma/client';
import { BLOB_STORE } from '../storage/blob-store.provider';
import { BaseTokenizers } from './base-tokenizers';
import { assertDatasetFitsContext } from './dataset-context-check';
import { JobQueues } from './job-queues';
import type { JobSubmission } from './job-submit.input';
import { JobsService } from './jobs.service';
import type { JobDto } from './job.dto';

export interface SubmitResult {
  readonly job: JobDto;
  /** false when the idempotency key named an existing job (it is returned, nothing is enqueued). */
  readonly created: boolean;
}

/**
 * Submitting a job: EVERYTHING is checked here, so bad input is a 4xx now and never a failed job
 * later: the payload against the kind's schema (parseJobPayload fills in every default, so the
 * stored job is reproducible), the base model (by name, not deleted, with config.json and
 * tokenizer.json), the dataset (an earlier upload, or one in the same request: JSONL validated,
 * size-limited), every example against the base's context, and the adapter the result will be
 * registered as. Then the Job row is written and the job enqueued with jobId = idempotency key.
 */
@Injectable()
export class JobSubmissionService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly audit: AuditService,
    private readonly queues: JobQueues,
    private readonly datasets: DatasetsService,
    private readonly adapters: AdaptersService,
    private readonly tokenizers: BaseTokenizers,
    private readonly jobs: JobsService,
    private readonly logger: AppLogger,
  ) {}

  async submit(submission: JobSubmission, uploaded: StoredTempFile | undefined, actor: AuthenticatedKey): Promise<SubmitResult> {
    this.queues.require();
    const jobId = submission.idempotencyKey ?? randomUUID();
    if (submission.idempotencyKey !== undefined) {
      const existing = await this.db.prisma.job.findUnique({ where: { id: jobId }, select: { id: true } });
      if (existing) return { job: await this.jobs.get(jobId), created: false };
    }

    const base = await this.db.prisma.baseModel.findFirst({ where: { name: submission.baseModel, deletedAt: null }, include: { files: true } });
    if (!base) throw domainErrors.notFound('base model', submission.baseModel);
    const files = Object.fromEntries(base.files.map((f) => [f.path, f.blobSha256])) as ModelFiles;
    for (const required of [MODEL_CONFIG_FILE, TOKENIZER_FILE]) {
      if (files[required] === undefined) throw domainErrors.validation(`base model "${base.name}" has no ${required}; training needs it`, { baseModel: base.name, file: required });
    }
    await this.checkRegistration(submission, base.name);

    const dataset = await this.resolveDataset(submission, uploaded, actor);
    const payload = this.buildPayload(submission, base.name, files, dataset);
    await this.checkContext(base.name, base.config, files, dataset, payload);

    const created = await this.createRow(jobId, submission, payload, base.id, dataset.id, actor);
    if (!created) return { job: await this.jobs.get(jobId), created: false };
    try {
      await this.queues.queue('train').add('train', payload, { jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });
    } catch (err) {
      await this.db.transaction((tx) => tx.job.update({ where: { id: jobId }, data: { status: 'failed', error: `enqueueing failed: ${(err as Error).message}`, finishedAt: new Date() } }));
      throw domainErrors.unavailable(`job ${jobId} could not be enqueued: ${(err as Error).message}`, err);
    }
    this.logger.info({ jobId, kind: 'train', baseModel: base.name, dataset: dataset.sha256 }, 'job submitted');
    return { job: await this.jobs.get(jobId), created: true };
  }

  /** The adapter the result goes to must be registrable: not deleted, on the same base, parent resolvable. */
  private async checkRegistration(submission: JobSubmission, baseName: string): Promise<void> {
    const { adapter, parent } = submission.registration;
    const existing = await this.db.prisma.adapter.findUnique({ where: { name: adapter }, select: { deletedAt: true, baseModel: { select: { name: true } } } });
    if (existing?.deletedAt) throw domainErrors.conflict(`adapter "${adapter}" is deleted; restore it or choose another name`, { adapter });
    if (existing && existing.baseModel.name !== baseName) {
      throw domainErrors.conflict(`adapter "${adapter}" is built on base model "${existing.baseModel.name}", not "${baseName}"`, { adapter, baseModel: existing.baseModel.name });
    }
    if (parent !== undefined) {
      const { adapter: parentName, ref } = parseQualifiedVersion(parent);
      const row = await this.db.prisma.adapter.findUnique({ where: { name: parentName }, select: { id: true } });
      if (!row) throw domainErrors.notFound('parent adapter', parentName);
      await this.adapters.resolveVersionId(this.db.prisma, row.id, parentName, ref);
    }
  }

  private async resolveDataset(submission: JobSubmission, uploaded: StoredTempFile | undefined, actor: AuthenticatedKey): Promise<Dataset> {
    if (submission.dataset.kind === 'existing') return this.datasets.find(submission.dataset.ref);
    if (!uploaded) throw domainErrors.validation('dataset: the multipart request has no `dataset` file part');
    const name = submission.dataset.name ?? `${submission.registration.adapter}-data`;
    const { dataset } = await this.datasets.register(uploaded, { name, evalFraction: submission.evalFraction ?? DEFAULT_EVAL_FRACTION }, actor);
    return this.datasets.find(dataset.id);
  }

  private buildPayload(submission: JobSubmission, baseName: string, files: ModelFiles, dataset: Dataset): TrainJobPayload {
    const input: Record<string, unknown> = {
      baseModel: { name: baseName, files },
      dataset: { sha256: dataset.sha256, evalFraction: submission.evalFraction ?? dataset.evalFraction },
    };
    if (submission.hyperparameters !== undefined) input.hyperparameters = submission.hyperparameters;
    if (submission.checkpointing !== undefined) input.checkpointing = submission.checkpointing;
    if (submission.dtype !== undefined) input.dtype = submission.dtype;
    try {
      return parseJobPayload('train', input);
    } catch (err) {
      if (err instanceof JobContractError) throw domainErrors.validation(err.message, { issues: err.issues });
      throw err;
    }
  }

  private async checkContext(baseName: string, configJson: Prisma.JsonValue, files: ModelFiles, dataset: Dataset, payload: TrainJobPayload): Promise<void> {
    const config = parseModelConfig(configJson);
    const maxSeqLen = payload.hyperparameters.maxSeqLen;
    const limit =
      maxSeqLen !== undefined && maxSeqLen < config.maxPositionEmbeddings
        ? { maxTokens: maxSeqLen, source: 'hyperparameters.maxSeqLen' }
        : { maxTokens: config.maxPositionEmbeddings, source: `context of base model "${baseName}"` };
    const tokenizer = await this.tokenizers.forModel(baseName, files);
    await assertDatasetFitsContext(await this.blobs.get(dataset.sha256), tokenizer, limit);
  }

  /** Inserts the Job row; false when a concurrent submission with the same key won. */
  private async createRow(jobId: string, submission: JobSubmission, payload: TrainJobPayload, baseModelId: string, datasetId: string, actor: AuthenticatedKey): Promise<boolean> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.job.create({
          data: {
            id: jobId,
            kind: submission.kind,
            status: 'queued',
            payload: payload as unknown as Prisma.InputJsonObject,
            attempts: 1,
            baseModelId,
            datasetId,
            registration: submission.registration as unknown as Prisma.InputJsonObject,
          },
        });
        await this.audit.record(tx, { actor: actor.id, action: 'job.submit', entityType: 'job', entityId: jobId, details: { kind: submission.kind, adapter: submission.registration.adapter } });
      });
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'P2002') return false;
      throw err;
    }
  }
}
