/**
 * Runs a Trainer inside a job: resume from the job's last checkpoint, train in chunks that end at
 * checkpoint boundaries (every N steps, and the last step), store each checkpoint and record it in
 * the job's progress, and stop at the next step boundary when cancelled (no checkpoint, no result)
 * or when the process shuts down (checkpoint first, then hand the job back).
 */
import { Trainer, exportPeftAdapter, residualAdapterForOriginalBase, type AdapterExportOptions, type TrainerInit, type TrainerOptions } from '@palette/peft-core';
import type { CheckpointRef, TrainingMetrics } from '@palette/job-contracts';
import { fetchCheckpoint, storeCheckpoint } from './checkpoint-store';
import { JobCancelledError, JobInterruptedError, WorkerError } from './errors';
import { reasonOf, type JobContext } from './job-context';
import type { ProgressUpdate } from './progress-reporter';

export interface TrainingRun {
  readonly trainer: Trainer;
  /** The step this attempt started at when it resumed from a checkpoint. */
  readonly resumedFromStep: number | undefined;
}

/** The hyperparameters train and pretrain jobs share, as Trainer options. */
export function optimisationOptions(h: {
  readonly steps: number;
  readonly batchSize: number;
  readonly gradAccumulation: number;
  readonly lr: number;
  readonly warmupSteps: number;
  readonly minLr: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  readonly seed: number;
  readonly evalEvery: number;
}): Pick<TrainerOptions, 'steps' | 'batchSize' | 'gradAccumulation' | 'lr' | 'warmupSteps' | 'minLr' | 'weightDecay' | 'maxGradNorm' | 'seed' | 'evalEvery'> {
  const { steps, batchSize, gradAccumulation, lr, warmupSteps, minLr, weightDecay, maxGradNorm, seed, evalEvery } = h;
  return { steps, batchSize, gradAccumulation, lr, warmupSteps, minLr, weightDecay, maxGradNorm, seed, evalEvery };
}

/** The metrics a finished train or pretrain job reports. `started` is the attempt's performance.now(). */
export function trainingMetrics(
  run: TrainingRun,
  data: { readonly train: readonly unknown[]; readonly eval: readonly unknown[] },
  evalLoss: number | undefined,
  started: number,
): TrainingMetrics {
  const { trainer, resumedFromStep } = run;
  return {
    steps: trainer.step,
    finalLoss: trainer.losses.at(-1) ?? Number.NaN,
    ...(evalLoss !== undefined ? { evalLoss } : {}),
    trainExamples: data.train.length,
    evalExamples: data.eval.length,
    ...(resumedFromStep !== undefined ? { resumedFromStep } : {}),
    durationSeconds: (performance.now() - started) / 1000,
  };
}

/** Creates the trainer (resuming when the job has a checkpoint) and trains to the end. Dispose the trainer. */
export async function runTraining(ctx: JobContext<'train' | 'pretrain' | 'transfer'>, init: Omit<TrainerInit, 'resume'>, everySteps: number): Promise<TrainingRun> {
  const ref = ctx.previous?.checkpoint;
  const resume = ref !== undefined ? await fetchCheckpoint(ctx.store, ctx.jobId, ref, ctx.scratchDir) : undefined;
  const trainer = await Trainer.create({ ...init, ...(resume !== undefined ? { resume } : {}) });
  if (resume !== undefined) ctx.log.info(`resumed from the checkpoint at step ${resume.step}`, { step: resume.step, manifest: ref!.manifest });
  ctx.log.info(`training ${trainer.totalSteps} steps, sequence length ${trainer.seqLen}, ${init.train.length} train / ${init.eval?.length ?? 0} eval examples`);
  try {
    await trainInChunks(ctx, trainer, everySteps);
  } catch (e) {
    await trainer.dispose();
    throw e;
  }
  return { trainer, resumedFromStep: resume?.step };
}

async function trainInChunks(ctx: JobContext<'train' | 'pretrain' | 'transfer'>, trainer: Trainer, everySteps: number): Promise<void> {
  const signal = AbortSignal.any([ctx.cancelSignal, ctx.shutdownSignal]);
  let lastCheckpoint: CheckpointRef | undefined = ctx.previous?.checkpoint;
  // The last training update (rate, ETA) is repeated with each checkpoint record.
  const snapshot = (): ProgressUpdate => {
    const last = ctx.progress.latest;
    return last !== undefined && last.phase === 'training' && last.step === trainer.step
      ? last
      : { phase: 'training', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null };
  };
  while (trainer.step < trainer.totalSteps || lastCheckpoint?.step !== trainer.step) {
    if (trainer.step < trainer.totalSteps) {
      const boundary = Math.min(trainer.totalSteps, (Math.floor(trainer.step / everySteps) + 1) * everySteps);
      const result = await trainer.train({
        signal,
        stopAfterStep: boundary,
        onProgress: (e) =>
          ctx.progress.update({
            phase: 'training',
            step: e.step,
            totalSteps: e.totalSteps,
            loss: e.loss,
            learningRate: e.lr,
            tokensPerSecond: e.tokensPerSecond,
            etaSeconds: e.etaSeconds,
            ...(e.evalLoss !== undefined ? { evalLoss: e.evalLoss } : {}),
          }),
      });
      if (result.status === 'aborted') {
        if (ctx.cancelSignal.aborted) throw new JobCancelledError(reasonOf(ctx.cancelSignal));
        // Shutting down: keep the steps done since the last checkpoint, then hand the job back.
        if (lastCheckpoint?.step !== trainer.step) lastCheckpoint = await checkpoint(ctx, trainer, snapshot());
        throw new JobInterruptedError(lastCheckpoint?.step);
      }
    }
    // At a boundary (or the end: a retry after a failed upload then skips training).
    lastCheckpoint = await checkpoint(ctx, trainer, snapshot());
  }
}

async function checkpoint(ctx: JobContext<'train' | 'pretrain' | 'transfer'>, trainer: Trainer, at: ProgressUpdate): Promise<CheckpointRef> {
  ctx.progress.update({ ...at, phase: 'checkpointing' });
  const ref = await storeCheckpoint(ctx.store, ctx.jobId, trainer.checkpoint(), ctx.scratchDir);
  await ctx.progress.recordCheckpoint(ref, at);
  ctx.log.info(`checkpoint at step ${ref.step}`, { step: ref.step, manifest: ref.manifest });
  return ref;
}

/**
 * Writes the trained LoRA as a PEFT adapter directory for the ORIGINAL base and returns the
 * weights written: PiSSA / LoRA-GA runs train against a residual base, so their factors are first
 * turned into the equivalent LoRA for the unmodified base.
 */
export async function exportTrainedLora(trainer: Trainer, dir: string, options: AdapterExportOptions): Promise<ReturnType<Trainer['loraWeights']>> {
  let weights = trainer.loraWeights();
  if (trainer.usesResidualBase) {
    if (trainer.initialLora === undefined) throw new WorkerError('CHECKPOINT_INVALID', 'a residual-base run has no initial LoRA factors');
    weights = residualAdapterForOriginalBase(weights, trainer.initialLora);
  }
  await exportPeftAdapter(dir, weights, options);
  return weights;
}
