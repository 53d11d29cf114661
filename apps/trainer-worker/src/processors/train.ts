/**
 * `train`: a LoRA on a dataset. Loads the base model and the JSONL dataset from the object store,
 * trains with peft-core's Trainer (checkpointed, resumable), exports a PEFT adapter and stores its
 * two files as blobs.
 */
import * as path from 'node:path';
import type { LoraSpec, TrainerOptions } from '@palette/peft-core';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type TrainJobResult } from '@palette/job-contracts';
import { uploadFiles } from '../blob-files';
import { throwIfStopped, type JobContext } from '../job-context';
import { loadBaseModel, loadTrainingData } from '../job-inputs';
import { exportTrainedLora, optimisationOptions, runTraining, trainingMetrics } from '../training-run';
import { trainCompanion } from './companion-discriminator';

export async function processTrain(ctx: JobContext<'train'>): Promise<TrainJobResult> {
  const started = performance.now();
  const { payload } = ctx;
  const h = payload.hyperparameters;
  ctx.progress.update({ phase: 'loading', step: ctx.previous?.checkpoint?.step ?? 0, totalSteps: h.steps });
  const base = await loadBaseModel(ctx.store, payload.baseModel.files, path.join(ctx.scratchDir, 'base'));
  const data = await loadTrainingData(ctx.store, payload.dataset.sha256, payload.dataset.evalFraction, base.tokenizer);
  throwIfStopped(ctx);

  const spec: LoraSpec = { r: h.lora.r, alpha: h.lora.alpha, targetModules: h.lora.targetModules, init: h.lora.init, rsLoRA: h.lora.rsLoRA };
  const options: TrainerOptions = {
    mode: 'lora',
    ...optimisationOptions(h),
    lora: spec,
    ...(h.maxSeqLen !== undefined ? { maxSeqLen: h.maxSeqLen } : {}),
    ...ctx.runtime,
  };
  const { trainer, resumedFromStep } = await runTraining(ctx, { config: base.config, weights: base.weights, tokenizer: base.tokenizer, train: data.train, eval: data.eval, options }, payload.checkpointing.everySteps);
  try {
    ctx.progress.update({ phase: 'exporting', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null });
    const evalLoss = data.eval.length > 0 ? await trainer.evaluate() : undefined;
    const outDir = path.join(ctx.scratchDir, 'adapter');
    const weights = await exportTrainedLora(trainer, outDir, {
      spec,
      base: base.config,
      dtype: payload.dtype,
      ...(payload.baseModel.name !== undefined ? { baseModelName: payload.baseModel.name } : {}),
    });
    ctx.progress.update({ phase: 'uploading', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null });
    const files = await uploadFiles(ctx.store, outDir, [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]);
    const metrics = trainingMetrics({ trainer, resumedFromStep }, data, evalLoss, started);
    // Trans-LoRA: while the data exists, the discriminator a later transfer filters with (companion-discriminator.ts).
    const companionDiscriminator = await trainCompanion(ctx, base, data, weights, { step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null });
    return { kind: 'train', adapter: { files }, metrics, companionDiscriminator };
  } finally {
    await trainer.dispose();
  }
}
