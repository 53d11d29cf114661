/**
 * `transfer` (Trans-LoRA): move a LoRA from its source base to a target base without its training
 * data. Phases, each in the job's progress (`phase` and `transfer`):
 *   generating → filtering → answering   peft-core `buildDistillationSet` (the target base writes
 *       candidate prompts from the seeds, the companion discriminator keeps the ones it calls real,
 *       the teacher = source base + source LoRA answers them);
 *   the (prompt, answer) set is stored as a JSONL blob and recorded in the progress BEFORE training,
 *   so a retried or taken-over job trains from it instead of generating again;
 *   training / checkpointing             the student LoRA on the target base, checkpointed and
 *       resumable exactly like a `train` job (training-run.ts);
 *   exporting / uploading                the PEFT adapter for the target base.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  Discriminator,
  PeftCoreError,
  buildDistillationSet,
  readDiscriminatorDir,
  seedsHash,
  type LoraSpec,
  type PromptCompletionTrainingExample,
  type TrainerOptions,
  type TransferPhase,
} from '@palette/peft-core';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type JobPhase, type TransferJobResult, type TransferMetrics, type TransferProgress } from '@palette/job-contracts';
import { downloadFiles, readBlob, uploadFiles } from '../blob-files';
import { JobCancelledError, JobInterruptedError, WorkerError } from '../errors';
import { reasonOf, throwIfStopped, type JobContext } from '../job-context';
import { loadAdapter, loadBaseModel, type BaseModel } from '../job-inputs';
import { exportTrainedLora, optimisationOptions, runTraining, trainingMetrics } from '../training-run';

const JOB_PHASE: Readonly<Record<TransferPhase, JobPhase>> = { generate: 'generating', filter: 'filtering', answer: 'answering', train: 'training', export: 'exporting' };

interface DistillationSet {
  readonly examples: PromptCompletionTrainingExample[];
  /** The progress detail that describes it (counts, acceptance rate, its blob). */
  readonly detail: TransferProgress;
  readonly reused: boolean;
}

export async function processTransfer(ctx: JobContext<'transfer'>): Promise<TransferJobResult> {
  const started = performance.now();
  const { payload } = ctx;
  const h = payload.hyperparameters;
  const t = h.training;
  ctx.progress.update({ phase: 'loading', step: 0, totalSteps: t.steps });
  const source = await loadBaseModel(ctx.store, payload.sourceBase.files, path.join(ctx.scratchDir, 'source'));
  const target = await loadBaseModel(ctx.store, payload.targetBase.files, path.join(ctx.scratchDir, 'target'));
  let sourceAdapter;
  try {
    sourceAdapter = await loadAdapter(ctx.store, payload.sourceAdapter.files, source.config);
  } catch (e) {
    if (e instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', `source adapter ${payload.sourceAdapter.ref} does not load on the source base: ${e.message}`);
    throw e;
  }
  throwIfStopped(ctx);

  const set = await distillationSet(ctx, source, target, sourceAdapter.weights);
  const examples = set.examples;

  const spec: LoraSpec = { r: t.lora.r, alpha: t.lora.alpha, targetModules: t.lora.targetModules, init: t.lora.init, rsLoRA: t.lora.rsLoRA };
  const options: TrainerOptions = {
    mode: 'lora',
    ...optimisationOptions(t),
    lora: spec,
    ...(t.maxSeqLen !== undefined ? { maxSeqLen: t.maxSeqLen } : {}),
    ...ctx.runtime,
  };
  const run = await runTraining(ctx, { config: target.config, weights: target.weights, tokenizer: target.tokenizer, train: examples, eval: [], options }, payload.checkpointing.everySteps);
  const { trainer } = run;
  try {
    ctx.progress.update({ phase: 'exporting', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null, transfer: { ...set.detail, phase: 'export', done: 0, total: 1 } });
    const outDir = path.join(ctx.scratchDir, 'adapter');
    await exportTrainedLora(trainer, outDir, {
      spec,
      base: target.config,
      dtype: payload.dtype,
      ...(payload.targetBase.name !== undefined ? { baseModelName: payload.targetBase.name } : {}),
    });
    ctx.progress.update({ phase: 'uploading', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null, transfer: { ...set.detail, phase: 'export', done: 1, total: 1 } });
    const files = await uploadFiles(ctx.store, outDir, [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]);
    const d = set.detail;
    const transfer: TransferMetrics = {
      filtered: d.filtered ?? false,
      ...(d.threshold !== undefined ? { threshold: d.threshold } : {}),
      candidatesRequested: h.candidates,
      candidates: d.candidates ?? 0,
      accepted: d.accepted ?? 0,
      acceptanceRate: d.acceptanceRate ?? 0,
      ...(d.meanScore !== undefined ? { meanScore: d.meanScore } : {}),
      answered: examples.length,
      droppedTruncated: d.droppedTruncated ?? 0,
      droppedEmpty: d.droppedEmpty ?? 0,
      seedCount: payload.seeds.prompts.length,
      seedsHash: seedsHash(payload.seeds.prompts),
      sourceAdapter: payload.sourceAdapter.ref,
      ...(payload.discriminator !== undefined && h.filter ? { discriminator: payload.discriminator.ref } : {}),
      ...(set.reused ? { reusedDistillationSet: true } : {}),
    };
    const size = (await ctx.store.stat(d.distillationSet!))?.size;
    return {
      kind: 'transfer',
      adapter: { files },
      distillationSet: { sha256: d.distillationSet!, size: size ?? Buffer.byteLength(toJsonl(examples)) },
      metrics: { ...trainingMetrics(run, { train: examples, eval: [] }, undefined, started), transfer },
    };
  } finally {
    await trainer.dispose();
  }
}

/** The stored set of an earlier attempt, or generate → filter → answer now and store it. */
async function distillationSet(ctx: JobContext<'transfer'>, source: BaseModel, target: BaseModel, sourceAdapter: Parameters<typeof buildDistillationSet>[0]['sourceAdapter']): Promise<DistillationSet> {
  const previous = ctx.previous?.transfer;
  if (previous?.distillationSet !== undefined) {
    const examples = parseJsonl((await readBlob(ctx.store, previous.distillationSet)).toString('utf8'));
    ctx.log.info(`reusing the distillation set of an earlier attempt (${examples.length} examples, blob ${previous.distillationSet.slice(0, 12)}…)`);
    ctx.progress.update({ phase: 'training', step: ctx.previous?.checkpoint?.step ?? 0, totalSteps: ctx.payload.hyperparameters.training.steps, transfer: { ...previous, phase: 'train' } });
    return { examples, detail: previous, reused: true };
  }

  const { payload } = ctx;
  const h = payload.hyperparameters;
  let discriminator: Discriminator | undefined;
  if (h.filter) {
    if (payload.discriminator === undefined) throw new WorkerError('INPUT_INVALID', `filtering is on but the payload names no discriminator for ${payload.sourceAdapter.ref} (set hyperparameters.filter = false to transfer unfiltered)`);
    const dir = path.join(ctx.scratchDir, 'discriminator');
    await downloadFiles(ctx.store, payload.discriminator.files, dir);
    try {
      discriminator = Discriminator.fromArtifact({ base: source, tokenizer: source.tokenizer, artifact: await readDiscriminatorDir(dir) });
    } catch (e) {
      if (e instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', `discriminator ${payload.discriminator.ref} does not fit the source base: ${e.message}`);
      throw e;
    }
  }
  const signal = AbortSignal.any([ctx.cancelSignal, ctx.shutdownSignal]);
  let detail: TransferProgress = { phase: 'generate', done: 0, total: h.accepted ?? h.candidates, filtered: discriminator !== undefined };
  let built;
  try {
    built = await buildDistillationSet({
      sourceBase: source,
      sourceAdapter,
      sourceTokenizer: source.tokenizer,
      targetBase: target,
      targetTokenizer: target.tokenizer,
      seeds: payload.seeds.prompts,
      ...(discriminator !== undefined ? { discriminator } : {}),
      sourceAdapterRef: payload.sourceAdapter.ref,
      options: {
        candidates: h.candidates,
        ...(h.accepted !== undefined ? { accepted: h.accepted } : {}),
        seed: h.seed,
        generation: { shots: h.shots, seedPrefixChars: h.seedPrefixChars, temperature: h.temperature, maxNewTokens: h.promptMaxNewTokens, batchSize: h.batchSize },
        answerMaxNewTokens: h.answerMaxNewTokens,
        batchSize: h.batchSize,
        minAccepted: h.minAccepted,
        ...(h.threshold !== undefined ? { threshold: h.threshold } : {}),
      },
      signal,
      onProgress: (e) => {
        detail = { ...detail, phase: e.phase, done: e.done, total: e.total };
        // The filter's running acceptance rate, so a watcher sees it while the filter works.
        if (e.phase === 'filter' && discriminator === undefined) detail = { ...detail, candidates: e.total, accepted: e.total, acceptanceRate: 1 };
        ctx.progress.update({ phase: JOB_PHASE[e.phase], step: e.done, totalSteps: e.total, transfer: detail });
      },
    });
  } catch (e) {
    // Too few accepted prompts or no usable teacher answer: deterministic given the payload, so not retried.
    if (e instanceof PeftCoreError && (e.code === 'INVALID_ARGUMENT' || e.code === 'ADAPTER_INCOMPATIBLE' || e.code === 'TOKENIZER_INVALID')) throw new WorkerError('INPUT_INVALID', e.message);
    throw e;
  } finally {
    await discriminator?.dispose();
  }
  if (built.status === 'aborted') {
    if (ctx.cancelSignal.aborted) throw new JobCancelledError(reasonOf(ctx.cancelSignal));
    throw new JobInterruptedError(undefined);
  }
  const { filter, answer } = built.stats;
  const file = path.join(ctx.scratchDir, 'distillation-set.jsonl');
  await fsp.writeFile(file, toJsonl(built.examples));
  const { sha256 } = await ctx.store.putFile(file);
  detail = {
    phase: 'train',
    done: 0,
    total: h.training.steps,
    filtered: filter.filtered,
    candidates: filter.candidates,
    accepted: filter.accepted,
    acceptanceRate: filter.acceptanceRate,
    ...(filter.threshold !== undefined ? { threshold: filter.threshold } : {}),
    ...(filter.meanScore !== undefined ? { meanScore: filter.meanScore } : {}),
    answered: answer.answered,
    droppedTruncated: answer.droppedTruncated,
    droppedEmpty: answer.droppedEmpty,
    distillationSet: sha256,
  };
  ctx.log.info(
    `distillation set: ${filter.accepted} of ${filter.candidates} candidates accepted (${(filter.acceptanceRate * 100).toFixed(1)}%${filter.filtered ? '' : ', unfiltered'}), ${answer.answered} answered by the teacher (${answer.droppedTruncated} cut short, ${answer.droppedEmpty} empty)`,
  );
  // Durable before training starts: a takeover must find the set, not generate a different one.
  ctx.progress.update({ phase: 'training', step: 0, totalSteps: h.training.steps, transfer: detail });
  await ctx.progress.flush();
  return { examples: built.examples, detail, reused: false };
}

function toJsonl(examples: readonly PromptCompletionTrainingExample[]): string {
  return examples.map((e) => JSON.stringify({ prompt: e.prompt, completion: e.completion })).join('\n') + '\n';
}

function parseJsonl(text: string): PromptCompletionTrainingExample[] {
  const out: PromptCompletionTrainingExample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { prompt?: unknown; completion?: unknown };
    if (typeof r.prompt !== 'string' || typeof r.completion !== 'string') throw new WorkerError('CHECKPOINT_INVALID', 'the stored distillation set has a record without prompt/completion strings');
    out.push({ prompt: r.prompt, completion: r.completion });
  }
  if (out.length === 0) throw new WorkerError('CHECKPOINT_INVALID', 'the stored distillation set is empty');
  return out;
}
