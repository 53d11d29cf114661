/**
 * `pretrain`: trains every weight of an existing base (its initial weights, e.g. a random init) on
 * a corpus, and registers the result as a NEW base model.
 *
 * Submission: `{kind:'pretrain', baseModel, corpus:{ref | name?, evalFraction?} (or file part
 * `corpus`), output:{name, description?}, hyperparameters?, checkpointing?, dtype?}`.
 * Submit-time checks: the initial base has weights; `output.name` is free (no base model of that
 * name, no open pretrain job that will register it: 409); the corpus is valid JSONL within the size
 * limit and, unless `packing` (which cuts documents into rows), every document fits the context.
 * Result: the catalog's BaseModelsService.registerFiles (config.json, safetensors, the tokenizer
 * files the worker copied from the initial base) with BaseModel.metrics.pretraining = {job,
 * initialBase, corpus, steps, finalLoss, evalLoss, tokensPerSecond, …}, in ONE transaction with the
 * job's result marker.
 */
import { Injectable } from '@nestjs/common';
import { MODEL_CONFIG_FILE, TOKENIZER_FILE, FILE_NAME_PATTERN, type TrainingMetrics } from '@palette/job-contracts';
import { BaseModelsService } from '../../catalog/base-models/base-models.service';
import { domainErrors } from '../../common';
import { DatabaseService } from '../../database';
import type { Prisma } from '../../generated/prisma/client';
import type { JobKindHandler, PreparedJob, RegisteredResult, ResultContext, SubmitContext } from './job-kind-handler';
import { JobInputs, buildPayload, definedFields } from './job-inputs';
import { finiteOrNull, parseStoredFile, parseTrainingMetrics, type StoredFileRef } from './train.kind';
import { isRecord, parseDatasetField, parseName, parseOptionalDescription, unknownFields, type DatasetSource } from './submission-fields';

export interface PretrainSpec {
  readonly baseModel: string;
  readonly corpus: DatasetSource;
  readonly evalFraction: number | undefined;
  readonly output: { readonly name: string; readonly description?: string };
  readonly rest: Readonly<Record<string, unknown>>;
}

/** Job.registration of a pretrain job. */
export interface PretrainRegistration {
  /** The base model the result is registered as. */
  readonly baseModel: string;
  readonly description?: string;
  readonly initialBase: string;
  readonly corpus: string;
}

export interface PretrainResult {
  readonly files: ReadonlyMap<string, StoredFileRef>;
  readonly metrics: TrainingMetrics;
}

const PAYLOAD_FIELDS = ['hyperparameters', 'checkpointing', 'dtype'];
const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json'];

@Injectable()
export class PretrainKind implements JobKindHandler<'pretrain', PretrainSpec, PretrainResult> {
  readonly kind = 'pretrain' as const;

  constructor(
    private readonly db: DatabaseService,
    private readonly inputs: JobInputs,
    private readonly baseModels: BaseModelsService,
  ) {}

  readonly submission = {
    fields: ['baseModel', 'corpus', 'output', ...PAYLOAD_FIELDS],
    uploadPart: 'corpus',
    parse: (body: Readonly<Record<string, unknown>>, problems: string[], hasUpload: boolean): PretrainSpec => {
      const baseModel = parseName(body.baseModel, 'baseModel', 'a base model name', problems);
      const { dataset: corpus, evalFraction } = parseDatasetField(body.corpus, hasUpload, problems, 'corpus', 'corpus');
      let output: PretrainSpec['output'] = { name: '' };
      if (!isRecord(body.output)) problems.push('output: required: {name, description?} naming the base model the result is registered as');
      else {
        unknownFields(body.output, ['name', 'description'], 'output.', problems);
        const description = parseOptionalDescription(body.output.description, 'output.description', problems);
        output = { name: parseName(body.output.name, 'output.name', 'a base model name', problems), ...(description !== undefined ? { description } : {}) };
      }
      return { baseModel, corpus, evalFraction, output, rest: definedFields(body, PAYLOAD_FIELDS) };
    },
    prepare: (spec: PretrainSpec, ctx: SubmitContext) => this.prepare(spec, ctx),
  };

  private async prepare(spec: PretrainSpec, ctx: SubmitContext): Promise<PreparedJob<'pretrain'>> {
    const base = await this.inputs.baseModel(spec.baseModel);
    if (!WEIGHT_FILES.some((f) => base.files[f] !== undefined)) {
      throw domainErrors.validation(`baseModel: base model "${base.name}" has no model.safetensors: pretraining starts from its weights`, { baseModel: base.name });
    }
    await this.checkOutputFree(spec.output.name);
    const payloadWithoutCorpus = { baseModel: { name: base.name, files: base.files }, ...spec.rest };
    // Hyperparameters first: a bad request is refused before its corpus is stored.
    const probe = buildPayload('pretrain', { ...payloadWithoutCorpus, corpus: { sha256: '0'.repeat(64) } });
    if (probe.hyperparameters.packing && probe.hyperparameters.maxSeqLen === undefined) {
      throw domainErrors.validation('hyperparameters.packing: packing cuts the corpus into rows of hyperparameters.maxSeqLen tokens; set maxSeqLen', { field: 'hyperparameters.packing' });
    }
    const corpus = await this.inputs.dataset(spec.corpus, ctx.upload, `${spec.output.name}-corpus`, spec.evalFraction, ctx.actor, 'corpus');
    const payload = buildPayload('pretrain', { ...payloadWithoutCorpus, corpus: { sha256: corpus.sha256, evalFraction: spec.evalFraction ?? corpus.evalFraction } });
    if (!payload.hyperparameters.packing) await this.inputs.assertFitsContext(base, corpus, payload.hyperparameters.maxSeqLen);
    const registration: PretrainRegistration = {
      baseModel: spec.output.name,
      ...(spec.output.description !== undefined ? { description: spec.output.description } : {}),
      initialBase: base.name,
      corpus: corpus.sha256,
    };
    return {
      payload,
      baseModelId: base.id,
      datasetId: corpus.id,
      registration: registration as unknown as Prisma.InputJsonObject,
      audit: { output: spec.output.name },
    };
  }

  /** 409 when a base model has the name, or an open pretrain job will register it. */
  private async checkOutputFree(name: string): Promise<void> {
    const taken = await this.db.prisma.baseModel.findUnique({ where: { name }, select: { deletedAt: true } });
    if (taken) throw domainErrors.conflict(`output.name: base model "${name}" already exists${taken.deletedAt ? ' (deleted)' : ''}; choose another name`, { baseModel: name, field: 'output.name' });
    const pending = await this.db.prisma.job.findFirst({
      where: { kind: 'pretrain', status: { in: ['queued', 'running'] }, registration: { path: ['baseModel'], equals: name } },
      select: { id: true, status: true },
    });
    if (pending) throw domainErrors.conflict(`output.name: job ${pending.id} (${pending.status}) will register base model "${name}"; choose another name`, { baseModel: name, job: pending.id, field: 'output.name' });
  }

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): PretrainResult | undefined {
    const model = result.model as { files?: unknown } | undefined;
    const files = new Map<string, StoredFileRef>();
    if (!isRecord(model?.files)) problems.push('result.model.files: expected an object of {sha256, size} by file name');
    else {
      for (const [name, value] of Object.entries(model.files)) {
        if (!FILE_NAME_PATTERN.test(name) || name.includes('/')) problems.push(`result.model.files["${name}"]: expected a plain file name`);
        const f = parseStoredFile(value, `result.model.files["${name}"]`, problems);
        if (f) files.set(name, f);
      }
      for (const required of [MODEL_CONFIG_FILE, TOKENIZER_FILE]) if (!(required in model.files)) problems.push(`result.model.files["${required}"]: is required`);
      if (!WEIGHT_FILES.some((f) => f in (model.files as object))) problems.push('result.model.files["model.safetensors"]: is required');
    }
    const metrics = parseTrainingMetrics(result.metrics, problems);
    return metrics ? { files, metrics } : undefined;
  }

  async registerResult(result: PretrainResult, ctx: ResultContext): Promise<RegisteredResult> {
    const reg = ctx.job.registration as PretrainRegistration | null;
    if (!reg || typeof reg.baseModel !== 'string') throw domainErrors.conflict(`job ${ctx.job.id} has no output base model to register its result as`, { job: ctx.job.id });
    const local = new Map<string, { path: string; size: number; sha256: string }>();
    for (const [name, f] of result.files) local.set(name, await ctx.copyBlob(name, f));
    const m = result.metrics;
    const pretraining: Prisma.InputJsonObject = {
      job: ctx.job.id,
      initialBase: reg.initialBase,
      corpus: reg.corpus,
      ...(reg.description !== undefined ? { description: reg.description } : {}),
      steps: m.steps,
      finalLoss: finiteOrNull(m.finalLoss),
      evalLoss: m.evalLoss === undefined ? null : finiteOrNull(m.evalLoss),
      trainExamples: m.trainExamples,
      evalExamples: m.evalExamples,
      durationSeconds: m.durationSeconds,
      tokensPerSecond: meanTokensPerSecond(ctx.job.metricHistory),
      ...(m.resumedFromStep !== undefined ? { resumedFromStep: m.resumedFromStep } : {}),
    };
    let registered: RegisteredResult | undefined;
    await this.baseModels.registerFiles(reg.baseModel, local, ctx.actor, {
      metrics: { pretraining },
      inTransaction: async (tx, id) => {
        registered = { type: 'base-model', id, name: reg.baseModel };
        await ctx.finish(tx, registered);
      },
    });
    return registered!;
  }
}

/** Mean of the training tokens/s the progress mirror recorded (null when none was). */
function meanTokensPerSecond(history: unknown): number | null {
  if (!Array.isArray(history)) return null;
  const rates = history.map((p) => (isRecord(p) ? p.tokensPerSecond : null)).filter((r): r is number => typeof r === 'number' && Number.isFinite(r) && r > 0);
  return rates.length === 0 ? null : rates.reduce((a, b) => a + b, 0) / rates.length;
}
