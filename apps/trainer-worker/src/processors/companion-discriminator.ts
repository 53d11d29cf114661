/**
 * The `train` job's companion discriminator (Trans-LoRA step 1): after the adapter is trained,
 * while the task data is at hand, train a discriminator of real vs synthetic prompts with
 * peft-core's `trainCompanionDiscriminator` and store it as an artifact directory
 * (adapter_config.json, adapter_model.safetensors, discriminator.json). The registry registers it
 * as a `discriminator` artifact named after the adapter and linked to the new version.
 *
 * Skipped (reported, not failed) when disabled or when the dataset has no prompts (plain text
 * records): there is nothing a transfer could seed from.
 */
import * as path from 'node:path';
import {
  DISCRIMINATOR_FILE,
  DISCRIMINATOR_FORMAT,
  PeftCoreError,
  trainCompanionDiscriminator,
  writeDiscriminatorDir,
  type LoraWeights,
} from '@palette/peft-core';
import type { ArtifactResult, CompanionDiscriminatorReport, TrainJobResult } from '@palette/job-contracts';
import { uploadFiles } from '../blob-files';
import { JobCancelledError, JobInterruptedError, WorkerError } from '../errors';
import { reasonOf, type JobContext } from '../job-context';
import type { BaseModel, TrainingData } from '../job-inputs';

export type CompanionResult = NonNullable<TrainJobResult['companionDiscriminator']>;

/** `adapterTraining`: the adapter's finished training as the job's progress reports it (step, totalSteps, loss). */
export async function trainCompanion(
  ctx: JobContext<'train'>,
  base: BaseModel,
  data: TrainingData,
  adapter: LoraWeights,
  adapterTraining: { readonly step: number; readonly totalSteps: number; readonly loss: number | null },
): Promise<CompanionResult> {
  const settings = ctx.payload.companionDiscriminator;
  if (!settings.enabled) return { trained: false, skipped: 'disabled (companionDiscriminator.enabled = false)' };
  const prompts = data.train.flatMap((e) => ('prompt' in e && e.prompt.trim() !== '' ? [e.prompt] : []));
  if (new Set(prompts).size < 2) {
    const skipped = 'the dataset has fewer than 2 distinct prompts (text records have none): nothing to discriminate';
    ctx.log.info(`companion discriminator skipped: ${skipped}`);
    return { trained: false, skipped };
  }
  const started = performance.now();
  const signal = AbortSignal.any([ctx.cancelSignal, ctx.shutdownSignal]);
  ctx.log.info(`companion discriminator: ${settings.syntheticPrompts} synthetic and ${settings.recombinedPrompts} recombined vs up to ${settings.realPrompts} real prompts, ${settings.steps} steps`);
  let outcome;
  try {
    outcome = await trainCompanionDiscriminator({
      base: { config: base.config, weights: base.weights },
      tokenizer: base.tokenizer,
      adapter,
      prompts,
      options: {
        realPrompts: settings.realPrompts,
        syntheticPrompts: settings.syntheticPrompts,
        recombinedPrompts: settings.recombinedPrompts,
        seed: settings.seed,
        discriminator: { steps: settings.steps, lr: settings.lr, threshold: settings.threshold, seed: settings.seed, ...(ctx.payload.baseModel.name !== undefined ? { baseModelName: ctx.payload.baseModel.name } : {}) },
      },
      signal,
      // The adapter's training is finished and stays so: step / totalSteps keep its last values and the
      // discriminator's units go in their own field. Its steps go under 'generating' and 'exporting', not
      // 'training', so the job's loss history is not mixed with the discriminator's.
      onProgress: (phase, done, total, loss) =>
        ctx.progress.update({ phase: phase === 'synthesize' ? 'generating' : 'exporting', ...adapterTraining, discriminator: { phase, done, total, ...(loss !== undefined ? { loss } : {}) } }),
    });
  } catch (e) {
    // A model that writes no usable synthetic prompt is a property of this data and base, not a reason to lose the adapter.
    if (e instanceof PeftCoreError && e.code === 'INVALID_ARGUMENT') {
      ctx.log.warn(`companion discriminator not trained: ${e.message}`);
      return { trained: false, skipped: e.message };
    }
    throw e;
  }
  if (outcome.status === 'aborted') {
    if (ctx.cancelSignal.aborted) throw new JobCancelledError(reasonOf(ctx.cancelSignal));
    // The adapter's final checkpoint is stored: a resumed attempt skips training and redoes only this.
    throw new JobInterruptedError(undefined);
  }
  const { discriminator, stats } = outcome;
  try {
    const dir = path.join(ctx.scratchDir, 'discriminator');
    await writeDiscriminatorDir(dir, discriminator.artifact);
    const files = await uploadFiles(ctx.store, dir);
    if (!(DISCRIMINATOR_FILE in files)) throw new WorkerError('INPUT_INVALID', `the discriminator directory has no ${DISCRIMINATOR_FILE}`);
    const report: CompanionDiscriminatorReport = {
      trained: true,
      realPrompts: stats.realPrompts,
      syntheticPrompts: stats.syntheticPrompts,
      recombinedPrompts: stats.recombinedPrompts,
      finalLoss: stats.finalLoss,
      realAccepted: stats.realAccepted,
      syntheticAccepted: stats.syntheticAccepted,
      durationSeconds: (performance.now() - started) / 1000,
    };
    const artifact: ArtifactResult = {
      kind: 'discriminator',
      // The worker does not know the adapter's name; the registry names the artifact after it.
      name: `job-${ctx.jobId.replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, 128),
      format: DISCRIMINATOR_FORMAT,
      metadata: {
        threshold: discriminator.threshold,
        separator: stats.separator,
        realPrompts: stats.realPrompts,
        syntheticPrompts: stats.syntheticPrompts,
        recombinedPrompts: stats.recombinedPrompts,
        generations: stats.generations,
        steps: stats.steps,
        finalLoss: stats.finalLoss,
        realAccepted: stats.realAccepted,
        syntheticAccepted: stats.syntheticAccepted,
      },
      files,
    };
    ctx.log.info(
      `companion discriminator: loss ${stats.finalLoss.toFixed(4)}, calls ${(stats.realAccepted * 100).toFixed(0)}% of real and ${(stats.syntheticAccepted * 100).toFixed(0)}% of synthetic prompts real`,
    );
    return { ...report, artifact };
  } finally {
    await discriminator.dispose();
  }
}
