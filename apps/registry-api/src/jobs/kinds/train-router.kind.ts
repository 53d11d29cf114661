/**
 * `train-router` (issue #5): a learned router (MeteoRA | FlyLoRA | X-Cross) over registered expert
 * adapters of one base, registered as a "router" artifact that apps/router serves by name.
 *
 * Submission: `{kind:'train-router', name, baseModel, strategy, experts: ["adapter@ref", …],
 * data: {source:'world', worldTasks: [...one per expert], examplesPerTask?, compositeExamples?,
 * splitSeed?} | {source:'dataset', dataset: "<dataset id or name>"}, hyperparameters?}`.
 * Checked at submit time (4xx naming the field, no Job row): unknown base / expert (404), an expert
 * of another base, fewer than 2 or repeated experts, unknown world tasks, bad hyperparameters (400).
 * Result: the router artifact (ArtifactService validates the files with peft-core and checks that
 * every expert exists on the job's base), registered exactly once with the job.
 */
import { Injectable } from '@nestjs/common';
import { WORLD_TASKS } from '@palette/peft-core/world/tasks';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, artifactResultIssues, MAX_ROUTER_EXPERTS, ROUTER_STRATEGIES, trainRouterPayloadIssues, type ArtifactResult } from '@palette/job-contracts';
import { artifactFilesOf, ArtifactService } from '../../artifacts/artifact.service';
import { domainErrors } from '../../common';
import type { Prisma } from '../../generated/prisma/client';
import type { JobKindHandler, PreparedJob, RegisteredResult, ResultContext, SubmitContext } from './job-kind-handler';
import { JobInputs, buildPayload } from './job-inputs';
import { isRecord, parseName, parseQualifiedAdapter, unknownFields } from './submission-fields';

export interface TrainRouterSpec {
  readonly name: string;
  readonly baseModel: string;
  readonly strategy: string;
  readonly experts: readonly string[];
  readonly data: Readonly<Record<string, unknown>>;
  readonly hyperparameters: Readonly<Record<string, unknown>> | undefined;
}

export interface TrainRouterRegistration {
  readonly artifact: { readonly kind: 'router'; readonly name: string };
  readonly strategy: string;
  readonly experts: readonly string[];
  readonly baseModel: string;
}

const DATA_FIELDS = ['source', 'worldTasks', 'examplesPerTask', 'compositeExamples', 'splitSeed', 'dataset'];

@Injectable()
export class TrainRouterKind implements JobKindHandler<'train-router', TrainRouterSpec, ArtifactResult> {
  readonly kind = 'train-router' as const;

  constructor(
    private readonly inputs: JobInputs,
    private readonly artifacts: ArtifactService,
  ) {}

  readonly submission = {
    fields: ['name', 'baseModel', 'strategy', 'experts', 'data', 'hyperparameters'],
    parse: (body: Readonly<Record<string, unknown>>, problems: string[]): TrainRouterSpec => {
      const name = parseName(body.name, 'name', 'a router name', problems);
      const baseModel = parseName(body.baseModel, 'baseModel', 'a base model name', problems);
      const strategy = typeof body.strategy === 'string' && (ROUTER_STRATEGIES as readonly string[]).includes(body.strategy) ? body.strategy : '';
      if (strategy === '') problems.push(`strategy: expected one of ${ROUTER_STRATEGIES.join(', ')}, got ${JSON.stringify(body.strategy ?? null)}`);
      let experts: string[] = [];
      if (!Array.isArray(body.experts) || body.experts.length < 2 || body.experts.length > MAX_ROUTER_EXPERTS) {
        problems.push(`experts: expected 2–${MAX_ROUTER_EXPERTS} adapter references ("adapter@ref"), got ${Array.isArray(body.experts) ? `${body.experts.length}` : JSON.stringify(body.experts ?? null)}`);
      } else {
        experts = body.experts.map((e, i) => parseQualifiedAdapter(e, `experts[${i}]`, problems));
      }
      const data = isRecord(body.data) ? body.data : {};
      if (!isRecord(body.data)) problems.push('data: expected an object {source: "world" | "dataset", …}');
      else {
        unknownFields(data, DATA_FIELDS, 'data', problems);
        if (Array.isArray(data.worldTasks)) {
          data.worldTasks.forEach((t, i) => {
            if (!WORLD_TASKS.some((w) => w.id === t)) problems.push(`data.worldTasks[${i}]: unknown world task ${JSON.stringify(t)}`);
          });
        }
        if (data.source === 'dataset' && (typeof data.dataset !== 'string' || data.dataset === '')) problems.push('data.dataset: a dataset id or name is required with source "dataset"');
      }
      const hyperparameters = body.hyperparameters === undefined ? undefined : isRecord(body.hyperparameters) ? body.hyperparameters : undefined;
      if (body.hyperparameters !== undefined && hyperparameters === undefined) problems.push('hyperparameters: expected an object');
      return { name, baseModel, strategy, experts, data, hyperparameters };
    },
    prepare: (spec: TrainRouterSpec, ctx: SubmitContext) => this.prepare(spec, ctx),
  };

  private async prepare(spec: TrainRouterSpec, ctx: SubmitContext): Promise<PreparedJob<'train-router'>> {
    const base = await this.inputs.baseModel(spec.baseModel);
    const experts = [];
    for (const [i, ref] of spec.experts.entries()) {
      const v = await this.inputs.adapterVersion(ref, `experts[${i}]`);
      if (v.baseModelId !== base.id) {
        throw domainErrors.validation(`experts[${i}]: "${v.qualified}" is built on base model "${v.baseModel}", not "${base.name}"`, { field: `experts[${i}]`, adapter: v.qualified, baseModel: v.baseModel });
      }
      experts.push(v);
    }
    const { dataset: datasetRef, ...dataRest } = spec.data;
    const dataset = typeof datasetRef === 'string' ? await this.inputs.dataset({ kind: 'existing', ref: datasetRef }, undefined, spec.name, undefined, ctx.actor) : undefined;
    const payload = buildPayload('train-router', {
      name: spec.name,
      strategy: spec.strategy,
      baseModel: { name: base.name, files: base.files },
      experts: experts.map((v) => ({ ref: v.qualified, files: { [ADAPTER_CONFIG_FILE]: v.configSha256, [ADAPTER_WEIGHTS_FILE]: v.weightsSha256 } })),
      data: { ...dataRest, ...(dataset ? { sha256: dataset.sha256 } : {}) },
      ...(spec.hyperparameters !== undefined ? { hyperparameters: spec.hyperparameters } : {}),
    });
    const issues = trainRouterPayloadIssues(payload);
    if (issues.length > 0) throw domainErrors.validation(`train-router: ${issues.join('; ')}`, { issues });
    const registration: TrainRouterRegistration = { artifact: { kind: 'router', name: spec.name }, strategy: payload.strategy, experts: payload.experts.map((e) => e.ref), baseModel: base.name };
    return {
      payload,
      baseModelId: base.id,
      datasetId: dataset?.id ?? null,
      registration: registration as unknown as Prisma.InputJsonObject,
      audit: { router: spec.name, strategy: payload.strategy, experts: payload.experts.length },
    };
  }

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): ArtifactResult | undefined {
    const before = problems.length;
    problems.push(...artifactResultIssues(result.artifact, 'result.artifact'));
    if (problems.length === before && (result.artifact as ArtifactResult).kind !== 'router') problems.push(`result.artifact.kind: expected "router", got ${JSON.stringify((result.artifact as ArtifactResult).kind)}`);
    return problems.length === before ? (result.artifact as ArtifactResult) : undefined;
  }

  async registerResult(artifact: ArtifactResult, ctx: ResultContext): Promise<RegisteredResult> {
    const reg = ctx.job.registration as TrainRouterRegistration | null;
    if (!reg?.artifact) throw domainErrors.conflict(`job ${ctx.job.id} has no router registration`, { job: ctx.job.id });
    if (artifact.name !== reg.artifact.name) throw domainErrors.validation(`result.artifact.name: ${JSON.stringify(artifact.name)} differs from the submitted router name ${JSON.stringify(reg.artifact.name)}`);
    if (!ctx.job.baseModel) throw domainErrors.conflict(`job ${ctx.job.id}: its base model was deleted; the router has no base`, { job: ctx.job.id });
    // Blob reads, hashing and peft-core validation outside the transaction; the row inside it.
    const prepared = await this.artifacts.prepareFromJob({
      jobId: ctx.job.id,
      kind: 'router',
      name: artifact.name,
      baseModelId: ctx.job.baseModel.id,
      format: artifact.format,
      metadata: artifact.metadata,
      files: artifactFilesOf(artifact),
    });
    return ctx.commit(async (tx) => {
      const { id } = await this.artifacts.insertPrepared(tx, prepared, ctx.actor);
      const row = await tx.artifact.findUniqueOrThrow({ where: { id }, select: { version: true } });
      return { type: 'artifact', id, name: `router/${artifact.name}@v${row.version}`, details: { strategy: reg.strategy } };
    });
  }
}
