/**
 * Builds the evaluation world in-process with peft-core (no queues), following a WorldRecipe:
 * tokenizer → base pretraining → one LoRA per task (run again, longer and with the next seed,
 * while it misses the validation bar) → evaluation, writing
 *   <world>/base/            config.json, model.safetensors, tokenizer.json, tokenizer_config.json
 *   <world>/adapters/<task>/ adapter_config.json, adapter_model.safetensors
 *   <world>/world-manifest.json
 * The job-based build (pretrain / train / evaluate jobs) follows the same recipe.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LlamaModel,
  Trainer,
  checkRecipeFitsContext,
  exportModel,
  exportPeftAdapter,
  initialBaseWeights,
  loadCheckpoint,
  loraSpecOf,
  loraTrainerOptions,
  loraTrainingExamplesOf,
  pretrainCorpus,
  pretrainTrainerOptions,
  recipeTasks,
  taskValidationExamples,
  tokenizerVocabSize,
  validateWorldRecipe,
  worldModelConfig,
  worldTokenizer,
  worldTokenizerFiles,
  type Checkpoint,
  type LoraWeights,
  type Tokenizer,
  type WorldRecipe,
  type WorldTask,
} from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import { evaluateWorld, pct, type LoadedBase } from './evaluate-world';
import { seconds, trainingProgress, type Log } from './progress';
import { taskAccuracy } from './task-accuracy';
import { ADAPTERS_DIR, BASE_DIR, recipeFingerprint, writeManifest, type WorldManifest, type WorldTaskEntry } from './world-manifest';

export interface BuildWorldOptions {
  readonly recipe: WorldRecipe;
  readonly worldDir: string;
  readonly log: Log;
  /** Skip tokenizer and pretraining: take base/ from this earlier build (recipe search on adapters). */
  readonly reuseBaseFrom?: string;
  /** Score every task after the build (default true). */
  readonly evaluate?: boolean;
}

/**
 * Builds beside `worldDir` (in `<worldDir>.building`) and swaps the finished world in at the end,
 * so a build that is stopped or fails leaves the previous world as it was.
 */
export async function buildWorld(options: BuildWorldOptions): Promise<WorldManifest> {
  const { recipe, worldDir: finalDir, log } = options;
  validateWorldRecipe(recipe);
  const machine = { cpus: os.cpus().length, loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))), builtAt: new Date().toISOString() };
  const worldDir = `${finalDir}.building`;
  log(`building the '${recipe.variant}' world in ${worldDir} (moved to ${finalDir} when done): ${recipe.tasks.length} tasks, ${machine.cpus} cores, load ${machine.loadAverage.join(' ')}`);
  await fsp.rm(worldDir, { recursive: true, force: true });
  await fsp.mkdir(worldDir, { recursive: true });
  const buildStarted = performance.now();
  const baseDir = path.join(worldDir, BASE_DIR);

  let tokenizerSeconds = 0;
  let pretrainSeconds = 0;
  let pretrainFinalLoss = Number.NaN;
  let base: LoadedBase;
  if (options.reuseBaseFrom !== undefined) {
    await fsp.cp(path.join(options.reuseBaseFrom, BASE_DIR), baseDir, { recursive: true });
    base = { checkpoint: await loadCheckpoint(baseDir), tokenizer: await loadTokenizerDir(baseDir) };
    log(`[1/3] tokenizer and [2/3] base reused from ${options.reuseBaseFrom}`);
  } else {
    let t0 = performance.now();
    log('[1/3] tokenizer: byte-level BPE, one token per letter and digit');
    const files = worldTokenizerFiles(recipe);
    const tokenizer = worldTokenizer(files);
    const vocabSize = tokenizerVocabSize(files);
    await fsp.mkdir(baseDir, { recursive: true });
    await fsp.writeFile(path.join(baseDir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson) + '\n');
    await fsp.writeFile(path.join(baseDir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
    const fit = checkRecipeFitsContext(recipe, tokenizer);
    tokenizerSeconds = seconds(t0);
    log(`  vocab ${vocabSize}; longest task example ${fit.longestExampleTokens} tokens, longest answer ${fit.longestAnswerTokens} (${tokenizerSeconds.toFixed(1)}s)`);

    t0 = performance.now();
    const pretrained = await pretrainBase(recipe, tokenizer, vocabSize, log);
    await exportModel(baseDir, pretrained.checkpoint.config, pretrained.checkpoint.weights);
    pretrainSeconds = seconds(t0);
    pretrainFinalLoss = pretrained.finalLoss;
    base = { checkpoint: pretrained.checkpoint, tokenizer };
    log(`  base saved to ${baseDir} (${pretrainSeconds.toFixed(0)}s)`);
  }

  const adaptersStarted = performance.now();
  const tasks: WorldTaskEntry[] = [];
  const all = recipeTasks(recipe);
  const judge = LlamaModel.create(base.checkpoint);
  try {
    for (const [i, task] of all.entries()) {
      const t0 = performance.now();
      log(`[3/3] adapter ${i + 1}/${all.length}: ${task.id} ('${task.marker}')`);
      const run = await trainValidated(recipe, task, base, judge, log);
      const adapterDir = path.join(ADAPTERS_DIR, task.id);
      await exportPeftAdapter(path.join(worldDir, adapterDir), run.weights, {
        spec: loraSpecOf(recipe),
        base: base.checkpoint.config,
        baseModelName: `palette-world-${recipe.variant}`,
      });
      tasks.push({
        id: task.id,
        title: task.title,
        marker: task.marker,
        descriptions: task.descriptions,
        heldOutDescriptions: task.heldOutDescriptions,
        adapterDir,
        trainSeconds: seconds(t0),
        finalLoss: run.finalLoss,
        validation: { accuracies: run.accuracies, kept: run.kept },
      });
      log(`  ${task.id}: final loss ${run.finalLoss.toFixed(4)}, validation ${run.accuracies.map(pct).join(' → ')} (${seconds(t0).toFixed(1)}s)`);
    }
  } finally {
    await judge.dispose();
  }
  const adaptersSeconds = seconds(adaptersStarted);
  const buildSeconds = seconds(buildStarted);

  let manifest: WorldManifest = {
    variant: recipe.variant,
    recipeFingerprint: recipeFingerprint(recipe),
    recipe,
    base: {
      dir: BASE_DIR,
      vocabSize: base.checkpoint.config.vocabSize,
      parameters: [...base.checkpoint.weights.values()].reduce((n, t) => n + t.data.length, 0),
      pretrainFinalLoss,
    },
    tasks,
    timings: { tokenizerSeconds, pretrainSeconds, adaptersSeconds, buildSeconds },
    machine,
  };
  log(`build done in ${buildSeconds.toFixed(0)}s (tokenizer ${tokenizerSeconds.toFixed(0)}s, pretraining ${pretrainSeconds.toFixed(0)}s, adapters ${adaptersSeconds.toFixed(0)}s)`);
  if (options.evaluate ?? true) {
    log('evaluating every task (base alone vs base + adapter, held-out examples)');
    manifest = await evaluateWorld(worldDir, manifest, base, log);
  }
  await writeManifest(worldDir, manifest);
  await swapIn(worldDir, finalDir);
  log(`world written to ${finalDir}`);
  return manifest;
}

/** Replaces `finalDir` with the finished build: the old world is removed only once the new one is in place. */
async function swapIn(builtDir: string, finalDir: string): Promise<void> {
  const replaced = `${finalDir}.replaced`;
  await fsp.rm(replaced, { recursive: true, force: true });
  const hadWorld = await fsp.stat(finalDir).then(() => true, () => false);
  if (hadWorld) await fsp.rename(finalDir, replaced);
  await fsp.rename(builtDir, finalDir);
  if (hadWorld) await fsp.rm(replaced, { recursive: true, force: true });
}

async function pretrainBase(recipe: WorldRecipe, tokenizer: Tokenizer, vocabSize: number, log: Log): Promise<{ checkpoint: Checkpoint; finalLoss: number }> {
  const config = worldModelConfig(recipe, tokenizer, vocabSize);
  const weights = initialBaseWeights(config, recipe);
  const parameters = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
  const p = recipe.pretrain;
  log(`[2/3] pretraining the base: ${config.numLayers} layers, hidden ${config.hiddenSize}, ${(parameters / 1e6).toFixed(2)}M parameters; ${p.steps} steps × ${p.batchSize} ${p.packing ? `rows packed to ${p.maxSeqLen} tokens` : 'documents, one per row'}`);
  const trainer = await Trainer.create({ config, weights, tokenizer, train: pretrainCorpus(recipe), options: pretrainTrainerOptions(recipe) });
  try {
    await trainer.train({ onProgress: trainingProgress('pretrain', log) });
    return { checkpoint: { config, weights: trainer.baseWeights() }, finalLoss: trainer.losses.at(-1) ?? Number.NaN };
  } finally {
    await trainer.dispose();
  }
}

interface ValidatedRun {
  readonly weights: LoraWeights;
  readonly finalLoss: number;
  /** Validation accuracy of each run, in order (its length is the number of runs). */
  readonly accuracies: number[];
  /** Index of the run kept (the best by validation accuracy). */
  readonly kept: number;
}

/** Trains the task's LoRA until a run reaches the recipe's validation bar, keeping the best run (WorldValidationRecipe). */
async function trainValidated(recipe: WorldRecipe, task: WorldTask, base: LoadedBase, judge: LlamaModel, log: Log): Promise<ValidatedRun> {
  const { minAccuracy, maxAttempts } = recipe.lora.validation;
  const validation = taskValidationExamples(recipe, task);
  const train = loraTrainingExamplesOf(recipe, task);
  const accuracies: number[] = [];
  let best: { weights: LoraWeights; finalLoss: number; index: number } | undefined;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const options = loraTrainerOptions(recipe, task, attempt);
    if (attempt > 0) log(`  ${task.id}: validation ${pct(accuracies.at(-1)!)} < ${pct(minAccuracy)}: run ${attempt + 1} of ${maxAttempts}, ${options.steps} steps with the next seed`);
    const trainer = await Trainer.create({ config: base.checkpoint.config, weights: base.checkpoint.weights, tokenizer: base.tokenizer, train, options });
    try {
      await trainer.train({ onProgress: trainingProgress(task.id, log, 4) });
      const weights = trainer.loraWeights();
      const score = await taskAccuracy(judge, base.tokenizer, task, validation, { maxNewTokens: recipe.evaluation.maxNewTokens, batchSize: recipe.evaluation.batchSize, lora: weights, samplesKept: 0 });
      accuracies.push(score.accuracy);
      if (best === undefined || score.accuracy > accuracies[best.index]!) best = { weights, finalLoss: trainer.losses.at(-1) ?? Number.NaN, index: attempt };
    } finally {
      await trainer.dispose();
    }
    if (accuracies.at(-1)! >= minAccuracy) break;
  }
  return { weights: best!.weights, finalLoss: best!.finalLoss, accuracies, kept: best!.index };
}
