/**
 * `pretrain`: trains every parameter of a small base model on a corpus (how the evaluation
 * world's base is built). The result is the trained model in Hugging Face layout, with the
 * starting model's tokenizer files.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { exportModel, type TrainerOptions } from '@palette/peft-core';
import type { PretrainJobResult } from '@palette/job-contracts';
import { uploadFiles } from '../blob-files';
import { throwIfStopped, type JobContext } from '../job-context';
import { TOKENIZER_FILES, loadBaseModel, loadTrainingData } from '../job-inputs';
import { optimisationOptions, runTraining, trainingMetrics } from '../training-run';

export async function processPretrain(ctx: JobContext<'pretrain'>): Promise<PretrainJobResult> {
  const started = performance.now();
  const { payload } = ctx;
  const h = payload.hyperparameters;
  ctx.progress.update({ phase: 'loading', step: ctx.previous?.checkpoint?.step ?? 0, totalSteps: h.steps });
  const base = await loadBaseModel(ctx.store, payload.baseModel.files, path.join(ctx.scratchDir, 'base'));
  const data = await loadTrainingData(ctx.store, payload.corpus.sha256, payload.corpus.evalFraction, base.tokenizer);
  throwIfStopped(ctx);

  const options: TrainerOptions = {
    mode: 'full',
    ...optimisationOptions(h),
    packing: h.packing,
    ...(h.maxSeqLen !== undefined ? { maxSeqLen: h.maxSeqLen } : {}),
    ...ctx.runtime,
  };
  const { trainer, resumedFromStep } = await runTraining(ctx, { config: base.config, weights: base.weights, tokenizer: base.tokenizer, train: data.train, eval: data.eval, options }, payload.checkpointing.everySteps);
  try {
    ctx.progress.update({ phase: 'exporting', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null });
    const evalLoss = data.eval.length > 0 ? await trainer.evaluate() : undefined;
    const outDir = path.join(ctx.scratchDir, 'model');
    await exportModel(outDir, base.config, trainer.baseWeights(), payload.dtype);
    for (const name of TOKENIZER_FILES) {
      if (payload.baseModel.files[name] !== undefined) await fsp.copyFile(path.join(base.dir, name), path.join(outDir, name));
    }
    ctx.progress.update({ phase: 'uploading', step: trainer.step, totalSteps: trainer.totalSteps, loss: trainer.losses.at(-1) ?? null });
    const files = await uploadFiles(ctx.store, outDir);
    return {
      kind: 'pretrain',
      model: { files },
      metrics: trainingMetrics({ trainer, resumedFromStep }, data, evalLoss, started),
    };
  } finally {
    await trainer.dispose();
  }
}
