/**
 * What the seeder sends to the registry, made from the recipe exactly as the in-process build
 * (tools/world/build-world.ts) makes it: the tokenizer, the initial random base in Hugging Face
 * layout, the pretraining corpus and every task's training split, as JSONL, plus the job
 * hyperparameters the recipe's TrainerOptions map to. Deterministic: the same recipe gives the
 * same bytes, so the registry's content addressing makes re-uploads no-ops.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  checkRecipeFitsContext,
  exportModel,
  initialBaseWeights,
  loraTrainerOptions,
  loraTrainingExamplesOf,
  pretrainCorpus,
  pretrainTrainerOptions,
  recipeTasks,
  tokenizerVocabSize,
  validateWorldRecipe,
  worldModelConfig,
  worldTokenizer,
  worldTokenizerFiles,
  type Tokenizer,
  type WorldRecipe,
  type WorldTask,
} from '@palette/peft-core';
import { recipeFingerprint } from '../world/world-manifest';
import type { UploadFile } from './registry-client';

export { recipeFingerprint };

/**
 * Test-only shortening of a recipe's runs (the seeder's own option; recipe.ts is not touched).
 * Every field replaces the recipe's number; the fingerprint covers the result, so a shortened
 * world never passes for the real one.
 */
export interface RecipeOverrides {
  readonly pretrainSteps?: number;
  readonly loraSteps?: number;
  readonly evalExamples?: number;
  /** Cap on each task's training examples. */
  readonly trainExamples?: number;
}

export function applyOverrides(recipe: WorldRecipe, o: RecipeOverrides): WorldRecipe {
  if (Object.values(o).every((v) => v === undefined)) return recipe;
  const stepsByTask = o.loraSteps !== undefined ? {} : recipe.lora.stepsByTask;
  return {
    ...recipe,
    pretrain: { ...recipe.pretrain, ...(o.pretrainSteps !== undefined ? { steps: o.pretrainSteps, warmupSteps: Math.min(recipe.pretrain.warmupSteps, Math.floor(o.pretrainSteps / 4)) } : {}) },
    lora: {
      ...recipe.lora,
      stepsByTask,
      ...(o.loraSteps !== undefined ? { steps: o.loraSteps, warmupSteps: Math.min(recipe.lora.warmupSteps, Math.floor(o.loraSteps / 4)) } : {}),
      ...(o.trainExamples !== undefined ? { trainExamples: o.trainExamples } : {}),
    },
    evaluation: { ...recipe.evaluation, ...(o.evalExamples !== undefined ? { examples: o.evalExamples } : {}) },
  };
}

/** The names and keys of one world in the registry, all derived from the recipe fingerprint. */
export interface WorldNames {
  readonly fingerprint: string;
  /** First 8 hex digits: shown to people, used in names and tags. */
  readonly short: string;
  readonly initBase: string;
  readonly base: string;
  readonly corpusDataset: string;
  /** Every adapter of this world carries it once its evaluations are recorded. */
  readonly completeTag: string;
  readonly pretrainJob: string;
  trainJob(task: string): string;
  evalJob(task: string, target: 'base' | 'adapter'): string;
  taskDataset(task: string): string;
  /** Tags given at registration; the completeTag is added last. */
  adapterTags(task: string): string[];
}

export function worldNames(recipe: WorldRecipe, baseName = 'world-base'): WorldNames {
  const fingerprint = recipeFingerprint(recipe);
  const short = fingerprint.slice(0, 8);
  // Idempotency keys carry 12 hex digits: a collision between two recipes would reattach to a
  // stranger's job, so they get more of the fingerprint than display names do.
  const key = `world-${fingerprint.slice(0, 12)}`;
  return {
    fingerprint,
    short,
    initBase: `world-init-${short}`,
    base: baseName,
    corpusDataset: `world-${short}-pretrain-corpus`,
    completeTag: `world-complete:${short}`,
    pretrainJob: `${key}-pretrain`,
    trainJob: (task) => `${key}-train-${task}`,
    evalJob: (task, target) => `${key}-eval-${target}-${task}`,
    taskDataset: (task) => `world-${short}-${task}-train`,
    adapterTags: (task) => ['world', `world:${recipe.variant}`, `recipe:${short}`, `task:${task}`],
  };
}

export interface InitialBase {
  readonly tokenizer: Tokenizer;
  readonly vocabSize: number;
  readonly parameters: number;
  /** config.json, model.safetensors, tokenizer.json, tokenizer_config.json. */
  readonly files: UploadFile[];
}

/** Tokenizer + random initial weights (the pretrain job's starting point), as upload parts. */
export async function initialBase(recipe: WorldRecipe): Promise<InitialBase> {
  validateWorldRecipe(recipe);
  const tokenizerFiles = worldTokenizerFiles(recipe);
  const tokenizer = worldTokenizer(tokenizerFiles);
  checkRecipeFitsContext(recipe, tokenizer);
  const vocabSize = tokenizerVocabSize(tokenizerFiles);
  const config = worldModelConfig(recipe, tokenizer, vocabSize);
  const weights = initialBaseWeights(config, recipe);
  const dir = await mkdtemp(path.join(tmpdir(), 'world-seed-init-'));
  try {
    await exportModel(dir, config, weights);
    await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerFiles.tokenizerJson) + '\n');
    await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerFiles.tokenizerConfig, null, 2) + '\n');
    const files: UploadFile[] = [];
    for (const name of (await readdir(dir)).sort()) files.push({ name, bytes: await readFile(path.join(dir, name)) });
    const parameters = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
    return { tokenizer, vocabSize, parameters, files };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface CorpusJsonl {
  readonly jsonl: string;
  readonly documents: number;
  /** Documents cut to fit the context (the registry refuses longer examples at submit). */
  readonly cut: number;
}

/**
 * The pretraining corpus as one prompt/completion JSONL (a dataset has one format): copy
 * questions as {prompt, completion} (answer-only loss, as `answerOnlyCopyLoss` asks), other
 * documents as {prompt: "", completion: text}, which the worker trains on every token like a
 * text record. A document longer than the context is cut to BOS + (context − 2) tokens + EOS;
 * the in-process trainer keeps one more token of it and drops EOS instead (1 prose document of
 * the full corpus's 32,000; none of the small one's).
 */
export function pretrainCorpusJsonl(recipe: WorldRecipe, tokenizer: Tokenizer): CorpusJsonl {
  const budget = Math.min(recipe.base.contextLength, recipe.pretrain.maxSeqLen) - 2;
  let cut = 0;
  const lines = pretrainCorpus(recipe).map((e) => {
    if ('text' in e) {
      const ids = tokenizer.encode(e.text, { addSpecialTokens: false });
      let text = e.text;
      if (ids.length > budget) {
        text = tokenizer.decode(ids.slice(0, budget));
        cut++;
      }
      return JSON.stringify({ prompt: '', completion: text });
    }
    return JSON.stringify({ prompt: e.prompt, completion: e.completion });
  });
  return { jsonl: lines.join('\n') + '\n', documents: lines.length, cut };
}

/** A task's training split as prompt/completion JSONL (the held-out examples are never in it). */
export function taskTrainJsonl(recipe: WorldRecipe, task: WorldTask): { jsonl: string; examples: number } {
  const examples = loraTrainingExamplesOf(recipe, task);
  return { jsonl: examples.map((e) => JSON.stringify({ prompt: e.prompt, completion: e.completion })).join('\n') + '\n', examples: examples.length };
}

/** The pretrain job's hyperparameters: the recipe's TrainerOptions in the job schema's names. */
export function pretrainHyperparameters(recipe: WorldRecipe): Record<string, unknown> {
  const o = pretrainTrainerOptions(recipe);
  return {
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    minLr: o.minLr,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm,
    seed: o.seed,
    maxSeqLen: o.maxSeqLen,
    packing: o.packing,
  };
}

/** A task's train job hyperparameters (LoRA spec included); the seed mixes in the task id as in-process. */
export function trainHyperparameters(recipe: WorldRecipe, task: WorldTask): Record<string, unknown> {
  const o = loraTrainerOptions(recipe, task);
  const lora = o.lora!;
  return {
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    minLr: o.minLr,
    seed: o.seed,
    lora: { r: lora.r, alpha: lora.alpha, targetModules: lora.targetModules, init: lora.init ?? 'peft-default' },
  };
}

export { recipeTasks };
