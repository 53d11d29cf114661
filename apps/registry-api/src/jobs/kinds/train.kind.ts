/**
 * `train`: a LoRA on a dataset, registered as a new version of an adapter in the catalog.
 *
 * Submission: `{kind:'train', baseModel, dataset:{ref | name?, evalFraction?} (or file part
 * `dataset`), adapter:{name, description?, tags?, parent?}, hyperparameters?, checkpointing?, dtype?}`.
 * Result: the catalog's AdapterUploadService.register (same validation as an upload, blobs,
 * BlobRefs, lineage base_model / parent / job / dataset, sketch, audit) with the worker's blobs
 * re-hashed into a temp dir; the job → version link and the training metrics are written in the
 * SAME transaction that creates the version.
 */
import { Injectable } from '@nestjs/common';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, isSha256, type TrainingMetrics } from '@palette/job-contracts';
import { ArtifactService } from '../../artifacts/artifact.service';
import { AdapterUploadService } from '../../catalog/adapters/adapter-upload.service';
import { AdaptersService } from '../../catalog/adapters/adapters.service';
import { parseQualifiedVersion } from '../../catalog/adapters/version-ref';
import { CatalogReadCache } from '../../catalog/cache/catalog-read-cache';
import { AppLogger, domainErrors } from '../../common';
import { DatabaseService, type Tx } from '../../database';
import type { Prisma } from '../../generated/prisma/client';
import type { JobKindHandler, PreparedJob, RegisteredResult, ResultContext, SubmitContext } from './job-kind-handler';
import { JobInputs, buildPayload, definedFields } from './job-inputs';
import { parseAdapterRegistration, parseDatasetField, parseName, type AdapterRegistration, type DatasetSource } from './submission-fields';
import { parseCompanion, registerCompanion, type CompanionResult } from './transfer-companion';

export interface TrainSpec {
  readonly baseModel: string;
  readonly dataset: DatasetSource;
  /** undefined: the dataset's own evalFraction. */
  readonly evalFraction: number | undefined;
  readonly registration: AdapterRegistration;
  readonly rest: Readonly<Record<string, unknown>>;
}

export interface StoredFileRef {
  readonly sha256: string;
  readonly size: number;
}

export interface TrainResult {
  readonly config: StoredFileRef;
  readonly weights: StoredFileRef;
  readonly metrics: TrainingMetrics;
  /** Trans-LoRA's companion discriminator (transfer-companion.ts). */
  readonly companion?: CompanionResult;
}

/** Passed to parseJobPayload as they are: validated against the kind's schema there. */
const PAYLOAD_FIELDS = ['hyperparameters', 'checkpointing', 'dtype', 'companionDiscriminator'];

@Injectable()
export class TrainKind implements JobKindHandler<'train', TrainSpec, TrainResult> {
  readonly kind = 'train' as const;

  constructor(
    private readonly db: DatabaseService,
    private readonly inputs: JobInputs,
    private readonly adapters: AdaptersService,
    private readonly uploads: AdapterUploadService,
    private readonly cache: CatalogReadCache,
    private readonly artifacts: ArtifactService,
    private readonly logger: AppLogger,
  ) {}

  readonly submission = {
    fields: ['baseModel', 'dataset', 'adapter', ...PAYLOAD_FIELDS],
    uploadPart: 'dataset',
    parse: (body: Readonly<Record<string, unknown>>, problems: string[], hasUpload: boolean): TrainSpec => {
      const baseModel = parseName(body.baseModel, 'baseModel', 'a base model name', problems);
      const { dataset, evalFraction } = parseDatasetField(body.dataset, hasUpload, problems);
      const registration = parseAdapterRegistration(body.adapter, problems);
      return { baseModel, dataset, evalFraction, registration: registration as AdapterRegistration, rest: definedFields(body, PAYLOAD_FIELDS) };
    },
    prepare: (spec: TrainSpec, ctx: SubmitContext) => this.prepare(spec, ctx),
  };

  private async prepare(spec: TrainSpec, ctx: SubmitContext): Promise<PreparedJob<'train'>> {
    const base = await this.inputs.baseModel(spec.baseModel);
    await this.checkRegistration(spec.registration, base.name);
    const dataset = await this.inputs.dataset(spec.dataset, ctx.upload, `${spec.registration.adapter}-data`, spec.evalFraction, ctx.actor);
    const payload = buildPayload('train', {
      baseModel: { name: base.name, files: base.files },
      dataset: { sha256: dataset.sha256, evalFraction: spec.evalFraction ?? dataset.evalFraction },
      ...spec.rest,
    });
    await this.inputs.assertFitsContext(base, dataset, payload.hyperparameters.maxSeqLen);
    return {
      payload,
      baseModelId: base.id,
      datasetId: dataset.id,
      registration: spec.registration as unknown as Prisma.InputJsonObject,
      audit: { adapter: spec.registration.adapter },
    };
  }

  /** The adapter the result goes to must be registrable: not deleted, on the same base, parent resolvable. */
  private async checkRegistration(registration: AdapterRegistration, baseName: string): Promise<void> {
    const { adapter, parent } = registration;
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

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): TrainResult | undefined {
    const adapter = result.adapter as { files?: Record<string, unknown> } | undefined;
    const file = (name: string): StoredFileRef | undefined => parseStoredFile(adapter?.files?.[name], `result.adapter.files["${name}"]`, problems);
    const config = file(ADAPTER_CONFIG_FILE);
    const weights = file(ADAPTER_WEIGHTS_FILE);
    const metrics = parseTrainingMetrics(result.metrics, problems);
    const companion = parseCompanion(result.companionDiscriminator, problems);
    return config && weights && metrics ? { config, weights, metrics, ...(companion !== undefined ? { companion } : {}) } : undefined;
  }

  async registerResult(result: TrainResult, ctx: ResultContext): Promise<RegisteredResult> {
    const registration = ctx.job.registration as AdapterRegistration | null;
    if (!registration || !ctx.job.baseModel) throw domainErrors.conflict(`job ${ctx.job.id} has no adapter registration or base model to register its result against`, { job: ctx.job.id });
    const files = { config: await ctx.copyBlob(ADAPTER_CONFIG_FILE, result.config), weights: await ctx.copyBlob(ADAPTER_WEIGHTS_FILE, result.weights) };
    let registered: RegisteredResult | undefined;
    const link = async (tx: Tx, versionId: string): Promise<void> => {
      registered = await this.link(tx, ctx.job.id, versionId, result.metrics);
      await ctx.finish(tx, registered);
    };
    const upload = await this.uploads.register(
      {
        name: registration.adapter,
        baseModel: ctx.job.baseModel.name,
        ...(registration.description !== undefined ? { description: registration.description } : {}),
        tags: [...registration.tags],
        ...(registration.parent !== undefined ? { parent: registration.parent } : {}),
        job: ctx.job.id,
        ...(ctx.job.dataset ? { dataset: ctx.job.dataset.sha256 } : {}),
      },
      files,
      ctx.actor,
      { inTransaction: link },
    );
    // Identical bytes returned an existing version (no transaction ran our link): link to it now.
    if (!upload.created) registered = await ctx.commit(async (tx) => this.link(tx, ctx.job.id, upload.version.id, result.metrics));
    this.cache.invalidate();
    const versionId = registered!.adapterVersionId ?? upload.version.id;
    const companion = await registerCompanion(this.artifacts, this.logger, { jobId: ctx.job.id, adapter: registration.adapter, baseModelId: ctx.job.baseModel.id, adapterVersionId: versionId, actor: ctx.actor }, result.companion);
    return Object.keys(companion).length > 0 ? { ...registered!, details: { ...registered!.details, ...companion } } : registered!;
  }

  /** Merges the training metrics into the version and records the job in its lineage (once). */
  private async link(tx: Tx, jobId: string, versionId: string, metrics: TrainingMetrics): Promise<RegisteredResult> {
    const version = await tx.adapterVersion.findUniqueOrThrow({ where: { id: versionId }, select: { metrics: true, version: true, adapter: { select: { name: true } } } });
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
    return { type: 'adapter-version', id: versionId, name: `${version.adapter.name}@v${version.version}`, adapterVersionId: versionId };
  }
}

export function parseStoredFile(value: unknown, field: string, problems: string[]): StoredFileRef | undefined {
  const f = value as { sha256?: unknown; size?: unknown } | undefined;
  if (!f || typeof f.sha256 !== 'string' || !isSha256(f.sha256) || typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) {
    problems.push(`${field}: expected {sha256, size}`);
    return undefined;
  }
  return { sha256: f.sha256, size: f.size };
}

/** TrainingMetrics as train and pretrain results carry them. */
export function parseTrainingMetrics(value: unknown, problems: string[]): TrainingMetrics | undefined {
  const metrics = value as Record<string, unknown> | undefined;
  if (typeof metrics !== 'object' || metrics === null) {
    problems.push('result.metrics: expected an object');
    return undefined;
  }
  const before = problems.length;
  for (const key of ['steps', 'finalLoss', 'trainExamples', 'evalExamples', 'durationSeconds']) {
    if (typeof metrics[key] !== 'number') problems.push(`result.metrics.${key}: expected a number`);
  }
  if (metrics.evalLoss !== undefined && typeof metrics.evalLoss !== 'number') problems.push('result.metrics.evalLoss: expected a number');
  return problems.length === before ? (metrics as unknown as TrainingMetrics) : undefined;
}

export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
