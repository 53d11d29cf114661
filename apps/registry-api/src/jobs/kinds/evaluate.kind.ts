/**
 * `evaluate`: exact-match accuracy of a base model, alone or with an adapter version, on an
 * evaluation-world task's eval split.
 *
 * Submission: `{kind:'evaluate', baseModel, adapter?: "name@ref", task: {worldTask, examples?,
 * splitSeed?, maxNewTokens?, batchSize?}}`.
 * Result: recorded where the client reads it, replacing an earlier evaluation of the same task:
 * - with an adapter: on that adapter version, `metrics.evaluations[worldTask] = {accuracy, correct,
 *   examples, splitSeed, maxNewTokens, jobId, evaluatedAt}`; when the adapter carries the tag
 *   `task:<worldTask>` (it was trained FOR that task) also `metrics.taskAccuracy = accuracy`;
 * - without: on the base model, `metrics.evaluations[worldTask]` (the baseline).
 * The job does not set Job.adapterVersionId (it produced no version).
 */
import { Injectable } from '@nestjs/common';
import { WORLD_TASKS } from '@palette/peft-core/world/tasks';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, number, object, optional, required, string, validate } from '@palette/job-contracts';
import { CatalogReadCache } from '../../catalog/cache/catalog-read-cache';
import { domainErrors } from '../../common';
import type { Tx } from '../../database';
import type { Prisma } from '../../generated/prisma/client';
import type { JobKindHandler, PreparedJob, RegisteredResult, ResultContext } from './job-kind-handler';
import { JobInputs, buildPayload } from './job-inputs';
import { isRecord, parseName, parseQualifiedAdapter } from './submission-fields';

/** The tag that says an adapter was trained for a world task: its evaluation on that task is its `taskAccuracy`. */
export const TASK_TAG_PREFIX = 'task:';

const taskSchema = object({
  worldTask: required(string({ minLength: 1, maxLength: 100 })),
  examples: optional(number({ integer: true, min: 1, max: 10_000 })),
  splitSeed: optional(number({ integer: true, min: 0, max: 0xffffffff })),
  maxNewTokens: optional(number({ integer: true, min: 1, max: 1024 })),
  batchSize: optional(number({ integer: true, min: 1, max: 256 })),
});

export interface EvaluateSpec {
  readonly baseModel: string;
  readonly adapter: string | undefined;
  readonly task: { worldTask: string; examples?: number; splitSeed?: number; maxNewTokens?: number; batchSize?: number };
}

/** What an evaluate job's registration records (Job.registration). */
export interface EvaluationRegistration {
  readonly worldTask: string;
  readonly target: 'adapter-version' | 'base-model';
  readonly baseModel: string;
  readonly adapter?: string;
  readonly adapterVersion?: string;
  readonly adapterVersionId?: string;
  readonly splitSeed: number;
  readonly examples: number;
  readonly maxNewTokens: number;
}

export interface EvaluateResult {
  readonly task: string;
  readonly examples: number;
  readonly correct: number;
  readonly accuracy: number;
}

@Injectable()
export class EvaluateKind implements JobKindHandler<'evaluate', EvaluateSpec, EvaluateResult> {
  readonly kind = 'evaluate' as const;

  constructor(
    private readonly inputs: JobInputs,
    private readonly cache: CatalogReadCache,
  ) {}

  readonly submission = {
    fields: ['baseModel', 'adapter', 'task'],
    parse: (body: Readonly<Record<string, unknown>>, problems: string[]): EvaluateSpec => {
      const baseModel = parseName(body.baseModel, 'baseModel', 'a base model name', problems);
      const adapter = body.adapter === undefined ? undefined : parseQualifiedAdapter(body.adapter, 'adapter', problems);
      const checked = validate(taskSchema, body.task);
      if (!checked.ok) for (const i of checked.issues) problems.push(`task${i.path === '' ? '' : `.${i.path}`}: ${i.message}`);
      const task = checked.ok ? { ...checked.value } : { worldTask: '' };
      if (checked.ok && !WORLD_TASKS.some((t) => t.id === task.worldTask)) {
        problems.push(`task.worldTask: unknown world task ${JSON.stringify(task.worldTask)} (known: ${WORLD_TASKS.map((t) => t.id).join(', ')})`);
      }
      return { baseModel, adapter, task };
    },
    prepare: (spec: EvaluateSpec) => this.prepare(spec),
  };

  private async prepare(spec: EvaluateSpec): Promise<PreparedJob<'evaluate'>> {
    const base = await this.inputs.baseModel(spec.baseModel);
    const version = spec.adapter === undefined ? undefined : await this.inputs.adapterVersion(spec.adapter);
    if (version && version.baseModelId !== base.id) {
      throw domainErrors.conflict(`adapter: "${version.qualified}" is built on base model "${version.baseModel}", not "${base.name}"`, { adapter: version.qualified, baseModel: version.baseModel });
    }
    const { worldTask, examples, splitSeed, maxNewTokens, batchSize } = spec.task;
    const payload = buildPayload('evaluate', {
      baseModel: { name: base.name, files: base.files },
      ...(version ? { adapter: { [ADAPTER_CONFIG_FILE]: version.configSha256, [ADAPTER_WEIGHTS_FILE]: version.weightsSha256 } } : {}),
      task: { worldTask, ...(examples !== undefined ? { examples } : {}), ...(splitSeed !== undefined ? { seed: splitSeed } : {}) },
      ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
    });
    const registration: EvaluationRegistration = {
      worldTask,
      target: version ? 'adapter-version' : 'base-model',
      baseModel: base.name,
      ...(version ? { adapter: version.adapter, adapterVersion: version.qualified, adapterVersionId: version.id } : {}),
      splitSeed: payload.task.seed,
      examples: payload.task.examples,
      maxNewTokens: payload.maxNewTokens,
    };
    return {
      payload,
      baseModelId: base.id,
      datasetId: null,
      registration: registration as unknown as Prisma.InputJsonObject,
      audit: { worldTask, target: version?.qualified ?? base.name },
    };
  }

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): EvaluateResult | undefined {
    const m = result.metrics;
    if (!isRecord(m)) {
      problems.push('result.metrics: expected an object {task, examples, correct, accuracy}');
      return undefined;
    }
    const before = problems.length;
    if (typeof m.task !== 'string') problems.push('result.metrics.task: expected a string');
    for (const key of ['examples', 'correct']) if (typeof m[key] !== 'number' || !Number.isInteger(m[key]) || (m[key] as number) < 0) problems.push(`result.metrics.${key}: expected a non-negative integer`);
    if (typeof m.accuracy !== 'number' || !(m.accuracy >= 0 && m.accuracy <= 1)) problems.push('result.metrics.accuracy: expected a number in [0, 1]');
    if (result.samples !== undefined && !Array.isArray(result.samples)) problems.push('result.samples: expected an array');
    return problems.length === before ? (m as unknown as EvaluateResult) : undefined;
  }

  async registerResult(result: EvaluateResult, ctx: ResultContext): Promise<RegisteredResult> {
    const reg = ctx.job.registration as EvaluationRegistration | null;
    if (!reg || typeof reg.worldTask !== 'string') throw domainErrors.conflict(`job ${ctx.job.id} has no evaluation registration`, { job: ctx.job.id });
    if (result.task !== reg.worldTask) throw domainErrors.validation(`result.metrics.task: ${JSON.stringify(result.task)} differs from the job's world task ${JSON.stringify(reg.worldTask)}`);
    const entry: Prisma.JsonObject = {
      accuracy: result.accuracy,
      correct: result.correct,
      examples: result.examples,
      splitSeed: reg.splitSeed,
      maxNewTokens: reg.maxNewTokens,
      jobId: ctx.job.id,
      evaluatedAt: new Date().toISOString(),
    };
    const details = { worldTask: reg.worldTask, accuracy: result.accuracy };
    const registered = await ctx.commit(async (tx) => {
      if (reg.target === 'adapter-version' && reg.adapterVersionId !== undefined) {
        const name = await this.recordOnVersion(tx, reg.adapterVersionId, reg.worldTask, entry);
        return { type: 'evaluation', id: reg.adapterVersionId, name, details };
      }
      if (!ctx.job.baseModel) throw domainErrors.conflict(`job ${ctx.job.id}: its base model was deleted; the evaluation has nowhere to go`, { job: ctx.job.id });
      await this.recordOnBase(tx, ctx.job.baseModel.id, reg.worldTask, entry);
      return { type: 'evaluation', id: ctx.job.baseModel.id, name: ctx.job.baseModel.name, details };
    });
    this.cache.invalidate();
    return registered;
  }

  /** Row-locked read-modify-write, so two evaluations of one version (other tasks) never lose each other's entry. */
  private async recordOnVersion(tx: Tx, versionId: string, worldTask: string, entry: Prisma.JsonObject): Promise<string> {
    const [locked] = await tx.$queryRaw<Array<{ metrics: Prisma.JsonValue }>>`SELECT "metrics" FROM "AdapterVersion" WHERE "id" = ${versionId} FOR UPDATE`;
    if (!locked) throw domainErrors.conflict(`the evaluated adapter version ${versionId} no longer exists`, { adapterVersionId: versionId });
    const version = await tx.adapterVersion.findUniqueOrThrow({ where: { id: versionId }, select: { version: true, adapter: { select: { name: true, tags: { select: { tag: { select: { name: true } } } } } } } });
    const metrics = withEvaluation(locked.metrics, worldTask, entry);
    if (version.adapter.tags.some((t) => t.tag.name === `${TASK_TAG_PREFIX}${worldTask}`)) metrics.taskAccuracy = entry.accuracy ?? null;
    await tx.adapterVersion.update({ where: { id: versionId }, data: { metrics } });
    return `${version.adapter.name}@v${version.version}`;
  }

  private async recordOnBase(tx: Tx, baseModelId: string, worldTask: string, entry: Prisma.JsonObject): Promise<void> {
    const [locked] = await tx.$queryRaw<Array<{ metrics: Prisma.JsonValue }>>`SELECT "metrics" FROM "BaseModel" WHERE "id" = ${baseModelId} FOR UPDATE`;
    if (!locked) throw domainErrors.conflict(`the evaluated base model ${baseModelId} no longer exists`, { baseModelId });
    await tx.baseModel.update({ where: { id: baseModelId }, data: { metrics: withEvaluation(locked.metrics, worldTask, entry) } });
  }
}

function withEvaluation(previous: Prisma.JsonValue, worldTask: string, entry: Prisma.JsonObject): Prisma.JsonObject {
  const metrics: Prisma.JsonObject = isRecord(previous) ? { ...(previous as Prisma.JsonObject) } : {};
  const evaluations = isRecord(metrics.evaluations) ? { ...(metrics.evaluations as Prisma.JsonObject) } : {};
  evaluations[worldTask] = entry;
  metrics.evaluations = evaluations;
  return metrics;
}
