/**
 * Scores a built world from its files on disk: for each task, the base model alone and the base
 * with the task's adapter, on the task's held-out examples (the split's eval part, never trained on).
 */
import * as path from 'node:path';
import { LlamaModel, getWorldTask, readPeftAdapterDir, taskSplitOf, type Checkpoint, type Tokenizer } from '@palette/peft-core';
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
  try {
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
  return { ...manifest, tasks, timings: { ...manifest.timings, evaluationSeconds: seconds(started) } };
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(0)}%`;
}
