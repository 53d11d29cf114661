/**
 * `train-retriever` (issue #6): an AutoLoRA retriever over the adapter versions of one base, then
 * that base's new embedding space.
 *
 * Submission: `{kind: 'train-retriever', name, baseModel, options?: {steps, temperature,
 * captionsPerAdapter, batchSize, lr, seed, textFeatures: 'base' | 'base+lexical', lexicalBuckets}}`.
 * The payload lists EVERY adapter version of the base (files + captions from description, card and
 * tags): the worker trains on those with captions and embeds all of them. Checked at submit time
 * (4xx naming the field, no Job row): unknown base (404), a base without weights (it is the text
 * encoder), fewer than 2 versions with captions, more than MAX_RETRIEVER_VERSIONS versions, bad
 * options (400).
 *
 * Result (once per job): the retriever artifact (ArtifactService: peft-core validates the files),
 * the space row, every still-existing version's vectors, and the switch (previous active space of
 * the base retired, this one active), all in ONE transaction; versions registered while the job
 * ran are then back-filled with embed jobs.
 */
import { readFile } from 'node:fs/promises';
import { Injectable } from '@nestjs/common';
import {
  artifactResultIssues,
  EMBEDDING_SPACE_PATTERN,
  MAX_RETRIEVER_VERSIONS,
  trainRetrieverOptionsSchema,
  trainRetrieverPayloadIssues,
  validate,
  type TrainRetrieverJobResult,
} from '@palette/job-contracts';
import { artifactFilesOf, ArtifactService } from '../../artifacts/artifact.service';
import { domainErrors } from '../../common';
import { DatabaseService } from '../../database';
import { EMBEDDING_DIMENSIONS } from '../../database/vectors';
import type { Prisma } from '../../generated/prisma/client';
import { EmbeddingSpacesService, type VersionVectors } from '../../retrieval/embedding-spaces.service';
import { CAPTION_SELECT, versionCaptions } from '../../retrieval/version-captions';
import type { JobKindHandler, PreparedJob, RegisteredResult, ResultContext, SubmitContext } from './job-kind-handler';
import { JobInputs, buildPayload } from './job-inputs';
import { isRecord, parseName, unknownFields } from './submission-fields';

export interface TrainRetrieverSpec {
  readonly name: string;
  readonly baseModel: string;
  readonly options: Readonly<Record<string, unknown>> | undefined;
}

export interface TrainRetrieverRegistration {
  readonly artifact: { readonly kind: 'retriever'; readonly name: string };
  readonly baseModel: string;
  /** Versions listed / with captions (trained on) at submit time. */
  readonly versions: number;
  readonly trained: number;
}

const OPTION_FIELDS = ['steps', 'temperature', 'captionsPerAdapter', 'batchSize', 'lr', 'seed', 'textFeatures', 'lexicalBuckets'];

@Injectable()
export class TrainRetrieverKind implements JobKindHandler<'train-retriever', TrainRetrieverSpec, TrainRetrieverJobResult> {
  readonly kind = 'train-retriever' as const;

  constructor(
    private readonly inputs: JobInputs,
    private readonly db: DatabaseService,
    private readonly artifacts: ArtifactService,
    private readonly spaces: EmbeddingSpacesService,
  ) {}

  readonly submission = {
    fields: ['name', 'baseModel', 'options'],
    parse: (body: Readonly<Record<string, unknown>>, problems: string[]): TrainRetrieverSpec => {
      const name = parseName(body.name, 'name', 'a retriever name', problems);
      const baseModel = parseName(body.baseModel, 'baseModel', 'a base model name', problems);
      let options: Record<string, unknown> | undefined;
      if (body.options !== undefined) {
        if (!isRecord(body.options)) problems.push('options: expected an object');
        else {
          options = body.options;
          unknownFields(options, OPTION_FIELDS, 'options', problems);
          // Every option's range now, before any database work.
          const checked = validate(trainRetrieverOptionsSchema, options);
          if (!checked.ok) for (const issue of checked.issues) problems.push(`options${issue.path === '' ? '' : `.${issue.path}`}: ${issue.message}`);
        }
      }
      return { name, baseModel, options };
    },
    prepare: (spec: TrainRetrieverSpec, ctx: SubmitContext) => this.prepare(spec, ctx),
  };

  private async prepare(spec: TrainRetrieverSpec, _ctx: SubmitContext): Promise<PreparedJob<'train-retriever'>> {
    const base = await this.inputs.baseModel(spec.baseModel);
    if (base.files['model.safetensors'] === undefined) {
      throw domainErrors.validation(`baseModel: base model "${base.name}" has no model.safetensors; a retriever uses the base as its text encoder`, { field: 'baseModel', baseModel: base.name });
    }
    // parse checked the options; this fills in their defaults (captionsPerAdapter shapes the captions below).
    const checked = validate(trainRetrieverOptionsSchema, spec.options ?? {});
    if (!checked.ok) throw domainErrors.validation(`options: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { field: 'options' });
    const options = checked.value;
    const where = { adapter: { baseModelId: base.id, deletedAt: null } };
    const count = await this.db.prisma.adapterVersion.count({ where });
    if (count > MAX_RETRIEVER_VERSIONS) {
      throw domainErrors.validation(`baseModel: base model "${base.name}" has ${count} adapter versions; one train-retriever job embeds at most ${MAX_RETRIEVER_VERSIONS}`, { field: 'baseModel', versions: count });
    }
    const rows = await this.db.prisma.adapterVersion.findMany({
      where,
      orderBy: { createdAt: 'asc' },
      select: { id: true, version: true, configSha256: true, weightsSha256: true, ...CAPTION_SELECT },
    });
    const versions = rows.map((v) => ({
      id: v.id,
      ref: `${v.adapter.name}@v${v.version}`,
      files: { 'adapter_config.json': v.configSha256, 'adapter_model.safetensors': v.weightsSha256 },
      captions: versionCaptions(v, options.captionsPerAdapter),
    }));
    const trained = versions.filter((v) => v.captions.length > 0).length;
    if (trained < 2) {
      throw domainErrors.validation(
        `baseModel: base model "${base.name}" has ${trained} adapter version(s) with a description, card or tags; contrastive training needs at least 2`,
        { field: 'baseModel', baseModel: base.name, withCaptions: trained },
      );
    }
    const payload = buildPayload('train-retriever', { name: spec.name, baseModel: { name: base.name, files: base.files }, versions, options });
    const issues = trainRetrieverPayloadIssues(payload);
    if (issues.length > 0) throw domainErrors.validation(`train-retriever: ${issues.join('; ')}`, { issues });
    const registration: TrainRetrieverRegistration = { artifact: { kind: 'retriever', name: spec.name }, baseModel: base.name, versions: versions.length, trained };
    return {
      payload,
      baseModelId: base.id,
      datasetId: null,
      registration: registration as unknown as Prisma.InputJsonObject,
      audit: { retriever: spec.name, baseModel: base.name, versions: versions.length, trained },
    };
  }

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): TrainRetrieverJobResult | undefined {
    const before = problems.length;
    problems.push(...artifactResultIssues(result.artifact, 'result.artifact'));
    if (problems.length === before && (result.artifact as { kind?: unknown }).kind !== 'retriever') problems.push(`result.artifact.kind: expected "retriever", got ${JSON.stringify((result.artifact as { kind?: unknown }).kind)}`);
    if (typeof result.space !== 'string' || !EMBEDDING_SPACE_PATTERN.test(result.space)) problems.push('result.space: expected an embedding space id');
    const e = result.embeddings;
    if (!isRecord(e)) problems.push('result.embeddings: expected {file, dim, versions, text}');
    else {
      const file = e.file;
      if (!isRecord(file) || typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256) || !Number.isSafeInteger(file.size)) problems.push('result.embeddings.file: expected {sha256, size}');
      if (e.dim !== EMBEDDING_DIMENSIONS) problems.push(`result.embeddings.dim: expected ${EMBEDDING_DIMENSIONS} (the registry's vector size), got ${JSON.stringify(e.dim ?? null)}`);
      if (!Array.isArray(e.versions) || !e.versions.every((v) => typeof v === 'string')) problems.push('result.embeddings.versions: expected adapter version ids');
      if (!Array.isArray(e.text) || !e.text.every((v) => typeof v === 'boolean') || (Array.isArray(e.versions) && e.text.length !== e.versions.length)) {
        problems.push('result.embeddings.text: expected one boolean per version');
      }
    }
    if (!isRecord(result.metrics)) problems.push('result.metrics: expected an object');
    return problems.length === before ? (result as unknown as TrainRetrieverJobResult) : undefined;
  }

  async registerResult(result: TrainRetrieverJobResult, ctx: ResultContext): Promise<RegisteredResult> {
    const reg = ctx.job.registration as TrainRetrieverRegistration | null;
    if (!reg?.artifact) throw domainErrors.conflict(`job ${ctx.job.id} has no retriever registration`, { job: ctx.job.id });
    if (result.artifact.name !== reg.artifact.name) throw domainErrors.validation(`result.artifact.name: ${JSON.stringify(result.artifact.name)} differs from the submitted retriever name ${JSON.stringify(reg.artifact.name)}`);
    if (!ctx.job.baseModel) throw domainErrors.conflict(`job ${ctx.job.id}: its base model was deleted; the retriever has no base`, { job: ctx.job.id });
    const baseModelId = ctx.job.baseModel.id;
    const listed = (ctx.job.payload as { versions?: Array<{ id: string }> }).versions?.map((v) => v.id) ?? [];
    const { embeddings } = result;
    if (embeddings.versions.length !== listed.length || embeddings.versions.some((id, i) => id !== listed[i])) {
      throw domainErrors.validation('result.embeddings.versions: not the versions the job listed, in its order');
    }
    // Blob reads, hashing and peft-core validation outside the transaction; the rows inside it.
    const prepared = await this.artifacts.prepareFromJob({
      jobId: ctx.job.id,
      kind: 'retriever',
      name: result.artifact.name,
      baseModelId,
      format: result.artifact.format,
      metadata: result.artifact.metadata,
      files: artifactFilesOf(result.artifact),
    });
    const manifestSpace = (prepared.metadata.manifest as { space?: unknown } | undefined)?.space;
    if (manifestSpace !== result.space) throw domainErrors.validation(`result.space: ${result.space} is not the artifact's space (${String(manifestSpace)})`);
    const dim = embeddings.dim;
    const expectedBytes = listed.length * 2 * dim * 4;
    if (embeddings.file.size !== expectedBytes) throw domainErrors.validation(`result.embeddings.file: ${embeddings.file.size} bytes, expected ${expectedBytes} (${listed.length} versions × 2 × ${dim} float32)`);
    const local = await ctx.copyBlob('embeddings', embeddings.file);
    const bytes = await readFile(local.path);
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const vectors: VersionVectors[] = listed.map((versionId, i) => ({
      versionId,
      weight: all.subarray(i * 2 * dim, i * 2 * dim + dim),
      text: embeddings.text[i] ? all.subarray(i * 2 * dim + dim, (i + 1) * 2 * dim) : null,
    }));
    const registered = await ctx.commit(async (tx) => {
      const { id, version } = await this.artifacts.insertPrepared(tx, prepared, ctx.actor);
      const name = `retriever/${result.artifact.name}@v${version}`;
      const written = await this.spaces.activateTrained(tx, { space: result.space, baseModelId, artifactId: id, jobId: ctx.job.id, artifact: `${result.artifact.name}@v${version}`, vectors });
      return { type: 'artifact' as const, id, name, details: { space: result.space, embedded: written } };
    });
    this.spaces.notifyChanged();
    // Versions registered after the job was submitted (their hook embedded them into the old space).
    await this.spaces.backfill(result.space);
    return registered;
  }
}
