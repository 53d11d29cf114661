/**
 * Scores a built world from its files on disk: for each task, the base model alone and the base
 * with the task's adapter, on the task's held-out examples (the split's eval part, never trained on).
 */
import * as path from 'node:path';
import { CORPUS_MARKERS, LlamaModel, Rng, defineTask, genericCorpus, getWorldTask, readPeftAdapterDir, taskSplitOf, type Checkpoint, type TaskExample, type Tokenizer, type WorldRecipe } from '@palette/peft-core';
import { seconds, type Log } from './progress';
import { taskAccuracy } from './task-accuracy';
import type { TaskEvaluation, WorldManifest } from './world-manifest';

export interface LoadedBase {
  readonly checkpoint: Checkpoint;
  readonly tokenizer: Tokenizer;
}

export async function evaluateWorld(worldDir: string, manifest: WorldManifest, base: LoadedBase, log: Log): Promise<WorldManifest> {
  const started = performance.now();
  const { recipe } = manifest;
  const model = LlamaModel.create(base.checkpoint);
  const tasks = [];
  let copyAccuracy: number;
  try {
    copyAccuracy = await baseCopyAccuracy(model, base.tokenizer, recipe);
    log(`  base copies ${pct(copyAccuracy)} of the corpus's own copy questions ('${CORPUS_MARKERS.copyWord} word' → word)`);
    for (const entry of manifest.tasks) {
      const task = getWorldTask(entry.id);
      const examples = taskSplitOf(recipe, task).eval;
      const lora = (await readPeftAdapterDir(path.join(worldDir, entry.adapterDir), base.checkpoint.config)).weights;
      const options = { maxNewTokens: recipe.evaluation.maxNewTokens, batchSize: recipe.evaluation.batchSize, samplesKept: 3 };
      const baseScore = await taskAccuracy(model, base.tokenizer, task, examples, options);
      const adapterScore = await taskAccuracy(model, base.tokenizer, task, examples, { ...options, lora });
      const evaluation: TaskEvaluation = {
        examples: examples.length,
        baseAccuracy: baseScore.accuracy,
        adapterAccuracy: adapterScore.accuracy,
        samples: adapterScore.samples.map((s, i) => ({ input: s.input, base: baseScore.samples[i]?.output ?? '', adapter: s.output, answer: s.answer })),
      };
      log(`  evaluated ${entry.id}: base ${pct(evaluation.baseAccuracy)}, adapter ${pct(evaluation.adapterAccuracy)}`);
      tasks.push({ ...entry, evaluation });
    }
  } finally {
    await model.dispose();
  }
  return { ...manifest, base: { ...manifest.base, copyAccuracy }, tasks, timings: { ...manifest.timings, evaluationSeconds: seconds(started) } };
}

/** Copy questions in the corpus's format, drawn from a stream the pretraining corpus does not use. */
const COPY_PROBE_SEED = 0x5eed;
const COPY_PROBE_EXAMPLES = 50;

/**
 * A diagnostic of the base itself: how often it answers the generic corpus's copy questions
 * ("Q: @ word\nA:" → " word") correctly. A base that learned the format copies; one that did not
 * leaves every adapter to learn the format and attention routing from scratch.
 */
export async function baseCopyAccuracy(model: LlamaModel, tokenizer: Tokenizer, recipe: WorldRecipe): Promise<number> {
  const pattern = new RegExp(`^Q: ${CORPUS_MARKERS.copyWord} ([a-z]+)\nA: `);
  const examples: TaskExample[] = [];
  for (const doc of genericCorpus(new Rng(COPY_PROBE_SEED), 20 * COPY_PROBE_EXAMPLES)) {
    const match = pattern.exec(doc);
    if (match !== null && examples.length < COPY_PROBE_EXAMPLES) examples.push({ input: match[1]!, answer: match[1]! });
  }
  const copy = defineTask({
    id: 'corpus-copy',
    title: 'Copy a word (the corpus format)',
    marker: CORPUS_MARKERS.copyWord,
    descriptions: [],
    heldOutDescriptions: [],
    inputSpace: Number.MAX_SAFE_INTEGER,
    sampleInput: () => examples[0]!.input,
    accepts: (input) => /^[a-z]+$/.test(input),
    answer: (input) => input,
  });
  const score = await taskAccuracy(model, tokenizer, copy, examples, { maxNewTokens: recipe.evaluation.maxNewTokens, batchSize: recipe.evaluation.batchSize });
  return score.accuracy;
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(0)}%`;
}
