/**
 * The POST /api/v1/jobs bodies the seeder submits, one function per kind, built from the recipe.
 * The registry validates each at submit (hyperparameter schema, base model, dataset, context
 * length), so a recipe the platform cannot run fails here with a 400, never as a failed job.
 */
import type { WorldRecipe, WorldTask } from '@palette/peft-core';
import { pretrainHyperparameters, trainHyperparameters, type WorldNames } from './world-material';

/** Checkpoint often enough that a Ctrl-C or a worker restart loses little (≈ 20–60 s of work). */
const PRETRAIN_CHECKPOINT_EVERY = 100;
const TRAIN_CHECKPOINT_EVERY = 200;

/**
 * An adapter's description: every registered phrasing, one per line (the catalog's full-text and
 * text-embedding search read it). The task's held-out phrasings are left out on purpose: retrieval
 * is evaluated on them, so the catalog must never have seen them.
 */
export function adapterDescription(task: WorldTask): string {
  return task.descriptions.join('\n');
}

export function pretrainSpec(recipe: WorldRecipe, names: WorldNames, corpusRef: string): Record<string, unknown> {
  return {
    kind: 'pretrain',
    baseModel: names.initBase,
    corpus: { ref: corpusRef, evalFraction: 0 },
    output: { name: names.base, description: `The evaluation world's base (recipe ${names.short}): pretrained from ${names.initBase} on a generic corpus that teaches the prompt format and copying, no task.` },
    hyperparameters: pretrainHyperparameters(recipe),
    checkpointing: { everySteps: Math.min(PRETRAIN_CHECKPOINT_EVERY, recipe.pretrain.steps) },
  };
}

export function trainSpec(recipe: WorldRecipe, names: WorldNames, task: WorldTask, datasetRef: string): Record<string, unknown> {
  const h = trainHyperparameters(recipe, task);
  return {
    kind: 'train',
    baseModel: names.base,
    // No eval split: the recipe trains on the whole train split, as the in-process build does;
    // held-out accuracy comes from the evaluate jobs on the task's eval split instead.
    dataset: { ref: datasetRef, evalFraction: 0 },
    adapter: { name: task.id, description: adapterDescription(task), tags: names.adapterTags(task.id) },
    hyperparameters: h,
    checkpointing: { everySteps: Math.min(TRAIN_CHECKPOINT_EVERY, h.steps as number) },
  };
}

/** Task accuracy of the base alone (`adapter` undefined) or of base + adapter (`name@vN`). */
export function evaluateSpec(recipe: WorldRecipe, names: WorldNames, task: WorldTask, adapter: string | undefined): Record<string, unknown> {
  const e = recipe.evaluation;
  return {
    kind: 'evaluate',
    baseModel: names.base,
    ...(adapter !== undefined ? { adapter } : {}),
    // The split seed of training: the evaluated inputs are the ones the adapter never saw.
    task: { worldTask: task.id, splitSeed: e.splitSeed, examples: e.examples, maxNewTokens: e.maxNewTokens, batchSize: e.batchSize },
  };
}
