import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import type { TrainingMetrics } from '@palette/job-contracts';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import { AdapterUploadService } from '../catalog/adapters/adapter-upload.service';
import type { AdapterTempFiles } from '../catalog/adapters/adapter-files';
import { CatalogReadCache } from '../catalog/cache/catalog-read-cache';
import type { StoredTempFile } from '../catalog/uploads/hashing-file-writer';
import { TempWorkspace } from '../catalog/uploads/temp-workspace';
import { AppLogger, domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DatabaseService, type Tx } from '../database';
import { Prisma } from '../generated/prisma/client';
import { BLOB_STORE } from '../storage/blob-store.provider';
import type { AdapterRegistration } from './job-submit.input';
import type { JobResultRegistrationDto } from './job.dto';
import type { ParsedJobResult, TrainResultFiles } from './job-result.input';

/**
 * Registers a finished job's result, exactly once per job id (the idempotency key): a second call
 * returns the first registration and creates nothing.
 *
 * A train result becomes an adapter version through the catalog's own registration service
 * (AdapterUploadService.register: the same validation as an upload, blobs, BlobRefs, lineage
 * base_model / parent / job / dataset, weight sketch, audit), fed with the worker's blobs copied to
 * a temp workspace and re-hashed. The job ↔ version link and the version's training metrics are
 * then written in one transaction that first locks the Job row, so concurrent repeats serialise.
 */
@Injectable()
export class JobResultsService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly uploads: AdapterUploadService,
    private readonly cache: CatalogReadCache,
    private readonly logger: AppLogger,
  ) {}

  async register(jobId: string, submission: ParsedJobResult, actor: AuthenticatedKey): Promise<JobResultRegistrationDto> {
    const row = await this.db.prisma.job.findUnique({
      where: { id: jobId },
      include: { baseModel: { select: { name: true } }, dataset: { select: { sha256: true } }, adapterVersion: { select: { id: true, version: true, adapter: { select: { name: true } } } } },
    });
    if (!row) throw domainErrors.notFound('job', jobId);
    if (row.kind !== submission.kind) throw domainErrors.validation(`job ${jobId} is a ${row.kind} job, not ${submission.kind}`, { job: jobId });
    if (row.status === 'cancelled' || row.cancelRequestedAt !== null) {
      throw domainErrors.conflict(`job ${jobId} was cancelled; its result is not registered`, { job: jobId });
    }
    if (row.adapterVersion) {
      return { jobId, adapterVersion: `${row.adapterVersion.adapter.name}@v${row.adapterVersion.version}`, adapterVersionId: row.adapterVersion.id, created: false };
    }
    if (submission.kind !== 'train') return this.storeResultOnly(jobId, submission.raw, actor);

    const registration = row.registration as unknown as AdapterRegistration | null;
    if (!registration || !row.baseModel) throw domainErrors.conflict(`job ${jobId} has no adapter registration or base model to register its result against`, { job: jobId });
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'job-result');
    try {
      const files = await this.copyToWorkspace(submission.files, workspace);
      const registered = await this.uploads.register(
        {
          name: registration.adapter,
          baseModel: row.baseModel.name,
          ...(registration.description !== undefined ? { description: registration.description } : {}),
          tags: [...registration.tags],
          ...(registration.parent !== undefined ? { parent: registration.parent } : {}),
          job: jobId,
          ...(row.dataset ? { dataset: row.dataset.sha256 } : {}),
        },
        files,
        actor,
      );
      const created = await this.db.transaction((tx) => this.link(tx, jobId, registered.version.id, submission.metrics, submission.raw, actor));
      this.cache.invalidate();
      const versionName = `${registered.adapter.name}@v${registered.version.version}`;
      if (created) this.logger.info({ jobId, adapterVersion: versionName }, 'job result registered');
      const linked = await this.db.prisma.job.findUniqueOrThrow({ where: { id: jobId }, select: { adapterVersion: { select: { id: true, version: true, adapter: { select: { name: true } } } } } });
      const v = linked.adapterVersion;
      return { jobId, adapterVersion: v ? `${v.adapter.name}@v${v.version}` : versionName, adapterVersionId: v?.id ?? registered.version.id, created };
    } finally {
      await workspace.dispose();
    }
  }

  /** Links job → version and merges the training metrics into the version; false when another call linked it first. */
  private async link(tx: Tx, jobId: string, versionId: string, metrics: TrainingMetrics, raw: unknown, actor: AuthenticatedKey): Promise<boolean> {
    const [locked] = await tx.$queryRaw<Array<{ adapterVersionId: string | null }>>`SELECT "adapterVersionId" FROM "Job" WHERE "id" = ${jobId} FOR UPDATE`;
    if (!locked || locked.adapterVersionId !== null) return false;
    const version = await tx.adapterVersion.findUniqueOrThrow({ where: { id: versionId }, select: { metrics: true } });
    const previous = typeof version.metrics === 'object' && version.metrics !== null && !Array.isArray(version.metrics) ? (version.metrics as Prisma.JsonObject) : {};
    const training: Prisma.JsonObject = {
      job: jobId,
      steps: metrics.steps,
      finalLoss: finiteOrNull(metrics.finalLoss),
      evalLoss: metrics.evalLoss === undefined ? null : finiteOrNull(metrics.evalLoss),
      trainExamples: metrics.trainExamples,
      evalExamples: metrics.evalExamples,
      durationSeconds: metrics.durationSeconds,
      ...(metrics.resumedFromStep !== undefined ? { resumedFromStep: metrics.resumedFromStep } : {}),
    };
    await tx.adapterVersion.update({ where: { id: versionId }, data: { metrics: { ...previous, training, ...(training.evalLoss !== null ? { evalLoss: training.evalLoss } : {}) } } });
    // Identical bytes from an earlier job return that job's version: record this job in its lineage too.
    const edge = await tx.lineageEdge.findFirst({ where: { childVersionId: versionId, kind: 'job', ref: jobId }, select: { id: true } });
    if (!edge) await tx.lineageEdge.create({ data: { childVersionId: versionId, kind: 'job', ref: jobId } });
    await tx.job.update({ where: { id: jobId }, data: { adapterVersionId: versionId, result: raw as Prisma.InputJsonValue } });
    await this.audit.record(tx, { actor: actor.id, action: 'job.result.register', entityType: 'job', entityId: jobId, details: { adapterVersionId: versionId } });
    return true;
  }

  private async storeResultOnly(jobId: string, raw: unknown, actor: AuthenticatedKey): Promise<JobResultRegistrationDto> {
    const created = await this.db.transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<Array<{ hasResult: boolean }>>`SELECT ("result" IS NOT NULL) AS "hasResult" FROM "Job" WHERE "id" = ${jobId} FOR UPDATE`;
      if (!locked || locked.hasResult) return false;
      await tx.job.update({ where: { id: jobId }, data: { result: raw as Prisma.InputJsonValue } });
      await this.audit.record(tx, { actor: actor.id, action: 'job.result.register', entityType: 'job', entityId: jobId, details: {} });
      return true;
    });
    return { jobId, adapterVersion: null, adapterVersionId: null, created };
  }

  /** Copies the worker's blobs to local files (what the catalog's registration validates), re-hashing them. */
  private async copyToWorkspace(files: TrainResultFiles, workspace: TempWorkspace): Promise<AdapterTempFiles> {
    const copy = async (label: string, f: { sha256: string; size: number }): Promise<StoredTempFile> => {
      if (!(await this.blobs.has(f.sha256))) throw domainErrors.validation(`${label} blob ${f.sha256} is not in the object store`, { sha256: f.sha256 });
      const path = workspace.filePath(label);
      const hash = createHash('sha256');
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(await this.blobs.get(f.sha256), meter, createWriteStream(path));
      const sha256 = hash.digest('hex');
      if (sha256 !== f.sha256) throw domainErrors.validation(`${label} blob ${f.sha256} has different content (sha256 ${sha256})`, { sha256: f.sha256 });
      return { path, size, sha256 };
    };
    return { config: await copy('adapter_config.json', files.config), weights: await copy('adapter_model.safetensors', files.weights) };
  }
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
