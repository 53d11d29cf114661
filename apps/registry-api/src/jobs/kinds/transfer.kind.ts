/**
 * `transfer` (Trans-LoRA, issue #7): move an adapter version to another base model without its
 * training data. The worker (trainer-worker processors/transfer.ts) generates prompts with the
 * target base from a few seeds, filters them with the source adapter's companion discriminator,
 * has the source adapter answer them, and trains a LoRA for the target base on those answers.
 *
 * Submission: `{kind:'transfer', sourceBase, sourceAdapter: "name@ref", targetBase,
 *   seeds: [prompt, …] | seedDataset: {ref, count?}, adapter: {name, description?, tags?},
 *   hyperparameters?: {candidates?, shots?, seedPrefixChars?, filter?, threshold?, …, training?: {steps?, lora?…}},
 *   checkpointing?, dtype?}`.
 * Refused at submit, each a 4xx naming the field: no seed examples (400), a source adapter whose
 * base is not `sourceBase` (400), an unknown source adapter or base / target base (404), a source
 * adapter version without a companion discriminator while filtering is on (409), an output adapter
 * name that is taken (409).
 * Inline seeds are stored as a dataset of `{"text"}` records (content-addressed), so the seed set
 * is a dataset in the new version's lineage either way.
 * Result: a new adapter on the target base (AdapterUploadService.register), with lineage
 * `transferred_from` → the source version, `dataset` → the seed set, `job`, `base_model`, and
 * metrics `{training: {...}, transfer: {acceptanceRate, candidates, accepted, …}}`, written in the
 * transaction that creates the version.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type TrainingMetrics, type TransferMetrics } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';
import { parseJsonlDataset } from '@palette/peft-core/datasets/jsonl';
import type { AuthenticatedKey } from '../../auth';
import { ADAPTER_VERSION_OWNER, AdapterUploadService } from '../../catalog/adapters/adapter-upload.service';
import { CatalogReadCache } from '../../catalog/cache/catalog-read-cache';
import { TempWorkspace } from '../../catalog/uploads/temp-workspace';
import { domainErrors } from '../../common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { DatabaseService, type Tx } from '../../database';
import { DatasetsService } from '../../datasets/datasets.service';
import type { Dataset, Prisma } from '../../generated/prisma/client';
import { BLOB_STORE } from '../../storage/blob-store.provider';
import type { JobKindHandler, PreparedJob, RegisteredResult, ResultContext, SubmitContext } from './job-kind-handler';
import { JobInputs, buildPayload, definedFields } from './job-inputs';
import { isRecord, parseName, parseOptionalDescription, parseQualifiedAdapter, parseTags, unknownFields } from './submission-fields';
import { finiteOrNull, parseStoredFile, parseTrainingMetrics, type StoredFileRef } from './train.kind';

/** Seeds taken from a dataset when `seedDataset.count` is absent: the paper's five. */
export const DEFAULT_SEED_COUNT = 5;
const MAX_SEEDS = 1000;
const MAX_SEED_CHARS = 20_000;

type SeedSource = { readonly kind: 'inline'; readonly prompts: readonly string[] } | { readonly kind: 'dataset'; readonly ref: string; readonly count: number };

export interface TransferSpec {
  readonly sourceBase: string;
  readonly sourceAdapter: string;
  readonly targetBase: string;
  readonly seeds: SeedSource;
  readonly adapter: { readonly name: string; readonly description?: string; readonly tags: readonly string[] };
  readonly rest: Readonly<Record<string, unknown>>;
}

/** Job.registration of a transfer job. */
export interface TransferRegistration {
  readonly adapter: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly sourceAdapter: string;
  readonly sourceVersionId: string;
  readonly sourceBase: string;
  readonly targetBase: string;
  /** `discriminator/<name>@vN`, absent when unfiltered. */
  readonly discriminator?: string;
  readonly seedDataset: string;
}

export interface TransferResult {
  readonly config: StoredFileRef;
  readonly weights: StoredFileRef;
  readonly distillationSet: StoredFileRef;
  readonly metrics: TrainingMetrics & { readonly transfer: TransferMetrics };
}

const PAYLOAD_FIELDS = ['hyperparameters', 'checkpointing', 'dtype'];

@Injectable()
export class TransferKind implements JobKindHandler<'transfer', TransferSpec, TransferResult> {
  readonly kind = 'transfer' as const;

  constructor(
    private readonly db: DatabaseService,
    private readonly inputs: JobInputs,
    private readonly datasets: DatasetsService,
    private readonly uploads: AdapterUploadService,
    private readonly cache: CatalogReadCache,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  readonly submission = {
    fields: ['sourceBase', 'sourceAdapter', 'targetBase', 'seeds', 'seedDataset', 'adapter', ...PAYLOAD_FIELDS],
    parse: (body: Readonly<Record<string, unknown>>, problems: string[]): TransferSpec => {
      const sourceBase = parseName(body.sourceBase, 'sourceBase', 'a base model name', problems);
      const sourceAdapter = parseQualifiedAdapter(body.sourceAdapter, 'sourceAdapter', problems);
      const targetBase = parseName(body.targetBase, 'targetBase', 'a base model name', problems);
      const seeds = parseSeeds(body.seeds, body.seedDataset, problems);
      const adapter = parseOutputAdapter(body.adapter, problems);
      return { sourceBase, sourceAdapter, targetBase, seeds, adapter, rest: definedFields(body, PAYLOAD_FIELDS) };
    },
    prepare: (spec: TransferSpec, ctx: SubmitContext) => this.prepare(spec, ctx),
  };

  private async prepare(spec: TransferSpec, ctx: SubmitContext): Promise<PreparedJob<'transfer'>> {
    const source = await this.inputs.adapterVersion(spec.sourceAdapter, 'sourceAdapter');
    const sourceBase = await this.inputs.baseModel(spec.sourceBase, 'sourceBase');
    if (source.baseModelId !== sourceBase.id) {
      throw domainErrors.validation(`sourceAdapter: adapter "${source.adapter}" is built on base model "${source.baseModel}", not on sourceBase "${sourceBase.name}"`, {
        field: 'sourceAdapter',
        adapterBaseModel: source.baseModel,
        sourceBase: sourceBase.name,
      });
    }
    const targetBase = await this.inputs.baseModel(spec.targetBase, 'targetBase');
    const taken = await this.db.prisma.adapter.findUnique({ where: { name: spec.adapter.name }, select: { deletedAt: true, baseModel: { select: { name: true } } } });
    if (taken) {
      throw domainErrors.conflict(`adapter.name: adapter "${spec.adapter.name}" already exists${taken.deletedAt ? ' (deleted)' : ` on base model "${taken.baseModel.name}"`}; a transfer creates a new adapter, choose another name`, { field: 'adapter.name', adapter: spec.adapter.name });
    }
    // Shape and defaults first, so the filter setting is known before the discriminator look-up.
    const probe = buildPayload('transfer', {
      sourceBase: { name: sourceBase.name, files: sourceBase.files },
      sourceAdapter: { ref: source.qualified, files: { [ADAPTER_CONFIG_FILE]: source.configSha256, [ADAPTER_WEIGHTS_FILE]: source.weightsSha256 } },
      targetBase: { name: targetBase.name, files: targetBase.files },
      seeds: { prompts: ['-'] },
      ...spec.rest,
    });
    const { accepted, candidates } = probe.hyperparameters;
    if (accepted !== undefined && accepted > candidates) {
      throw domainErrors.validation(`hyperparameters.accepted: ${accepted} accepted prompts cannot come from at most ${candidates} candidates; raise hyperparameters.candidates (the cap) to at least ${accepted}`, { field: 'hyperparameters.accepted', accepted, candidates });
    }
    let discriminator: { ref: string; files: Record<string, string> } | undefined;
    if (probe.hyperparameters.filter) {
      const row = await this.db.prisma.artifact.findFirst({
        where: { kind: 'discriminator', adapterVersionId: source.id, deletedAt: null },
        orderBy: { version: 'desc' },
        select: { name: true, version: true, files: { select: { path: true, sha256: true } } },
      });
      if (!row) {
        throw domainErrors.conflict(
          `sourceAdapter: ${source.qualified} has no companion discriminator (train it with a train job whose companionDiscriminator is enabled, upload one with POST /api/v1/artifacts, or set hyperparameters.filter = false to transfer unfiltered)`,
          { field: 'sourceAdapter', adapterVersion: source.qualified },
        );
      }
      discriminator = { ref: `discriminator/${row.name}@v${row.version}`, files: Object.fromEntries(row.files.map((f) => [f.path, f.sha256])) };
    }
    const { prompts, dataset } = await this.resolveSeeds(spec, ctx.actor);
    const payload = buildPayload('transfer', {
      ...probe,
      ...(discriminator !== undefined ? { discriminator } : {}),
      seeds: { prompts, dataset: dataset.sha256 },
    });
    const registration: TransferRegistration = {
      adapter: spec.adapter.name,
      ...(spec.adapter.description !== undefined ? { description: spec.adapter.description } : {}),
      tags: spec.adapter.tags,
      sourceAdapter: source.qualified,
      sourceVersionId: source.id,
      sourceBase: sourceBase.name,
      targetBase: targetBase.name,
      ...(discriminator !== undefined ? { discriminator: discriminator.ref } : {}),
      seedDataset: dataset.sha256,
    };
    return {
      payload,
      baseModelId: targetBase.id,
      datasetId: dataset.id,
      registration: registration as unknown as Prisma.InputJsonObject,
      audit: { adapter: spec.adapter.name, sourceAdapter: source.qualified, targetBase: targetBase.name, filtered: discriminator !== undefined },
    };
  }

  /** The seed prompts and the dataset that holds them (inline seeds are stored as one). */
  private async resolveSeeds(spec: TransferSpec, actor: AuthenticatedKey): Promise<{ prompts: string[]; dataset: Dataset }> {
    if (spec.seeds.kind === 'dataset') {
      const dataset = await this.datasets.find(spec.seeds.ref);
      const parsed = await parseJsonlDataset(await this.blobs.get(dataset.sha256));
      if (parsed.format === 'chat') throw domainErrors.validation(`seedDataset: dataset ${dataset.name} holds chat records; seeds are prompts: use a prompt/completion or text dataset`, { field: 'seedDataset' });
      const prompts = [...new Set(parsed.examples.map((e) => ('prompt' in e ? e.prompt : 'text' in e ? e.text : '').trim()).filter((p) => p !== ''))].slice(0, spec.seeds.count);
      if (prompts.length === 0) throw domainErrors.validation(`seedDataset: dataset ${dataset.name} has no non-empty prompts to seed with`, { field: 'seedDataset' });
      return { prompts, dataset };
    }
    const prompts = [...spec.seeds.prompts];
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'transfer-seeds');
    try {
      const path = workspace.filePath('seeds.jsonl');
      const bytes = Buffer.from(prompts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
      await fsp.writeFile(path, bytes);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const { dataset } = await this.datasets.register({ path, size: bytes.length, sha256 }, { name: `${spec.adapter.name}-seeds`, evalFraction: 0 }, actor);
      return { prompts, dataset: await this.datasets.find(dataset.id) };
    } finally {
      await workspace.dispose();
    }
  }

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): TransferResult | undefined {
    const adapter = result.adapter as { files?: Record<string, unknown> } | undefined;
    const config = parseStoredFile(adapter?.files?.[ADAPTER_CONFIG_FILE], `result.adapter.files["${ADAPTER_CONFIG_FILE}"]`, problems);
    const weights = parseStoredFile(adapter?.files?.[ADAPTER_WEIGHTS_FILE], `result.adapter.files["${ADAPTER_WEIGHTS_FILE}"]`, problems);
    const distillationSet = parseStoredFile(result.distillationSet, 'result.distillationSet', problems);
    const metrics = parseTrainingMetrics(result.metrics, problems);
    const transfer = (result.metrics as { transfer?: unknown } | undefined)?.transfer as Record<string, unknown> | undefined;
    if (!isRecord(transfer)) problems.push('result.metrics.transfer: expected an object');
    else {
      for (const key of ['candidates', 'accepted', 'acceptanceRate', 'answered', 'seedCount']) if (typeof transfer[key] !== 'number') problems.push(`result.metrics.transfer.${key}: expected a number`);
      if (typeof transfer.filtered !== 'boolean') problems.push('result.metrics.transfer.filtered: expected a boolean');
    }
    return config && weights && distillationSet && metrics && isRecord(transfer) ? { config, weights, distillationSet, metrics: metrics as TransferResult['metrics'] } : undefined;
  }

  async registerResult(result: TransferResult, ctx: ResultContext): Promise<RegisteredResult> {
    const registration = ctx.job.registration as TransferRegistration | null;
    if (!registration || !ctx.job.baseModel) throw domainErrors.conflict(`job ${ctx.job.id} has no transfer registration or target base to register its result against`, { job: ctx.job.id });
    const files = { config: await ctx.copyBlob(ADAPTER_CONFIG_FILE, result.config), weights: await ctx.copyBlob(ADAPTER_WEIGHTS_FILE, result.weights) };
    let registered: RegisteredResult | undefined;
    const link = async (tx: Tx, versionId: string): Promise<void> => {
      registered = await this.link(tx, ctx.job.id, versionId, registration, result);
      await ctx.finish(tx, registered);
    };
    const upload = await this.uploads.register(
      {
        name: registration.adapter,
        baseModel: ctx.job.baseModel.name,
        ...(registration.description !== undefined ? { description: registration.description } : {}),
        tags: [...registration.tags],
        job: ctx.job.id,
        ...(ctx.job.dataset ? { dataset: ctx.job.dataset.sha256 } : {}),
      },
      files,
      ctx.actor,
      { inTransaction: link },
    );
    if (!upload.created) registered = await ctx.commit(async (tx) => this.link(tx, ctx.job.id, upload.version.id, registration, result));
    this.cache.invalidate();
    return registered!;
  }

  /** Metrics and the `transferred_from` edge, in the transaction that creates the version. */
  private async link(tx: Tx, jobId: string, versionId: string, registration: TransferRegistration, result: TransferResult): Promise<RegisteredResult> {
    const version = await tx.adapterVersion.findUniqueOrThrow({ where: { id: versionId }, select: { metrics: true, version: true, adapter: { select: { name: true } } } });
    const previous = isRecord(version.metrics) ? (version.metrics as Prisma.JsonObject) : {};
    const m = result.metrics;
    const training: Prisma.JsonObject = {
      job: jobId,
      steps: m.steps,
      finalLoss: finiteOrNull(m.finalLoss),
      trainExamples: m.trainExamples,
      durationSeconds: m.durationSeconds,
      ...(m.resumedFromStep !== undefined ? { resumedFromStep: m.resumedFromStep } : {}),
    };
    const transfer: Prisma.JsonObject = {
      ...(JSON.parse(JSON.stringify(m.transfer)) as Prisma.JsonObject),
      job: jobId,
      sourceAdapter: registration.sourceAdapter,
      sourceBase: registration.sourceBase,
      distillationSet: result.distillationSet.sha256,
    };
    await tx.adapterVersion.update({ where: { id: versionId }, data: { metrics: { ...previous, training, transfer } } });
    // The version's metrics name the distillation set: it lives as long as the version (blob GC keeps referenced blobs only).
    await tx.blobRef.createMany({ data: [{ sha256: result.distillationSet.sha256, ownerType: ADAPTER_VERSION_OWNER, ownerId: versionId }], skipDuplicates: true });
    const edge = await tx.lineageEdge.findFirst({ where: { childVersionId: versionId, kind: 'transferred_from', parentVersionId: registration.sourceVersionId }, select: { id: true } });
    if (!edge) await tx.lineageEdge.create({ data: { childVersionId: versionId, kind: 'transferred_from', parentVersionId: registration.sourceVersionId, ref: registration.sourceAdapter } });
    const jobEdge = await tx.lineageEdge.findFirst({ where: { childVersionId: versionId, kind: 'job', ref: jobId }, select: { id: true } });
    if (!jobEdge) await tx.lineageEdge.create({ data: { childVersionId: versionId, kind: 'job', ref: jobId } });
    return {
      type: 'adapter-version',
      id: versionId,
      name: `${version.adapter.name}@v${version.version}`,
      adapterVersionId: versionId,
      details: { acceptanceRate: m.transfer.acceptanceRate, accepted: m.transfer.accepted, candidates: m.transfer.candidates, filtered: m.transfer.filtered, transferredFrom: registration.sourceAdapter },
    };
  }
}

/** `seeds: [prompt, …]` or `seedDataset: {ref, count?}` (exactly one). */
function parseSeeds(seeds: unknown, seedDataset: unknown, problems: string[]): SeedSource {
  if (seeds !== undefined && seedDataset !== undefined) {
    problems.push('seeds: give either seeds (an array of prompts) or seedDataset, not both');
    return { kind: 'inline', prompts: [] };
  }
  if (seedDataset !== undefined) {
    const rec = typeof seedDataset === 'string' ? { ref: seedDataset } : seedDataset;
    if (!isRecord(rec) || typeof rec.ref !== 'string' || rec.ref === '') {
      problems.push('seedDataset: expected {ref: a dataset id or sha256, count?} or a dataset id / sha256');
      return { kind: 'dataset', ref: '', count: DEFAULT_SEED_COUNT };
    }
    unknownFields(rec, ['ref', 'count'], 'seedDataset.', problems);
    const count = rec.count ?? DEFAULT_SEED_COUNT;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_SEEDS) problems.push(`seedDataset.count: expected an integer in [1, ${MAX_SEEDS}], got ${JSON.stringify(count)}`);
    return { kind: 'dataset', ref: rec.ref, count: typeof count === 'number' ? count : DEFAULT_SEED_COUNT };
  }
  if (seeds === undefined) {
    problems.push('seeds: no seed examples: give seeds (a few real task prompts; the paper uses 5) or seedDataset {ref, count?}');
    return { kind: 'inline', prompts: [] };
  }
  if (!Array.isArray(seeds) || seeds.length === 0) {
    problems.push(`seeds: no seed examples: expected a non-empty array of prompts, got ${Array.isArray(seeds) ? 'an empty array' : JSON.stringify(seeds)}`);
    return { kind: 'inline', prompts: [] };
  }
  if (seeds.length > MAX_SEEDS) problems.push(`seeds: at most ${MAX_SEEDS} seed prompts, got ${seeds.length}`);
  const prompts: string[] = [];
  seeds.forEach((s, i) => {
    if (typeof s !== 'string' || s.trim() === '') problems.push(`seeds[${i}]: expected a non-empty prompt string`);
    else if (s.length > MAX_SEED_CHARS) problems.push(`seeds[${i}]: at most ${MAX_SEED_CHARS} characters`);
    else prompts.push(s);
  });
  if (new Set(prompts).size !== prompts.length) problems.push('seeds: prompts repeat (give distinct real prompts)');
  return { kind: 'inline', prompts };
}

function parseOutputAdapter(value: unknown, problems: string[]): TransferSpec['adapter'] {
  if (!isRecord(value)) {
    problems.push('adapter: required: {name, description?, tags?} naming the NEW adapter the transferred LoRA is registered as');
    return { name: '', tags: [] };
  }
  unknownFields(value, ['name', 'description', 'tags'], 'adapter.', problems);
  const name = parseName(value.name, 'adapter.name', 'an adapter name', problems);
  const description = parseOptionalDescription(value.description, 'adapter.description', problems);
  const tags = parseTags(value.tags, 'adapter.tags', problems);
  return { name, ...(description !== undefined ? { description } : {}), tags };
}
