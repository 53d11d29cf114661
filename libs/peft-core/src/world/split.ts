/**
 * Train/eval example sets for one task with no input in common, so eval accuracy measures
 * generalisation rather than recall. The eval set is drawn first, from the same seeded stream, so it
 * stays the same when only the train size changes (runs with more training data are scored
 * on the same questions).
 */
import { PeftCoreError } from '../errors';
import { Rng } from '../util/rng';
import { finalize32, hashString32 } from '../datasets/hash';
import type { TaskExample, WorldTask } from './task';

export interface SplitOptions {
  readonly seed: number;
  readonly train: number;
  readonly eval: number;
}

export interface TaskSplit {
  readonly train: readonly TaskExample[];
  readonly eval: readonly TaskExample[];
}

/** Draws allowed per requested example before giving up (inputs collide as the space fills). */
const DRAWS_PER_EXAMPLE = 50;
const MIN_DRAWS = 1000;

/** Mixes the task id into the seed so that tasks sharing a seed get unrelated sequences. */
export function taskSeed(taskId: string, seed: number): number {
  return finalize32(hashString32(taskId) ^ Math.imul(seed >>> 0, 0x9e3779b9));
}

export function generateSplit(task: WorldTask, options: SplitOptions): TaskSplit {
  const { seed, train, eval: evalCount } = options;
  for (const [name, value] of [
    ['train', train],
    ['eval', evalCount],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new PeftCoreError(
        'INVALID_ARGUMENT',
        `generateSplit(${task.id}): ${name} must be a non-negative integer, got ${value}`,
      );
    }
  }
  if (train + evalCount > task.inputSpace) {
    throw new PeftCoreError(
      'INVALID_ARGUMENT',
      `generateSplit(${task.id}): ${train} train + ${evalCount} eval examples exceed the task's ${task.inputSpace} distinct inputs`,
    );
  }
  const seen = new Set<string>();
  const rng = new Rng(taskSeed(task.id, seed));
  const evalExamples = drawDistinct(task, rng, evalCount, seen);
  const trainExamples = drawDistinct(task, rng, train, seen);
  return { train: trainExamples, eval: evalExamples };
}

/** `count` examples whose inputs are not in `seen` (which it extends). */
function drawDistinct(task: WorldTask, rng: Rng, count: number, seen: Set<string>): TaskExample[] {
  const out: TaskExample[] = [];
  const budget = Math.max(MIN_DRAWS, DRAWS_PER_EXAMPLE * count);
  for (let draws = 0; out.length < count; draws++) {
    if (draws >= budget) {
      throw new PeftCoreError(
        'INVALID_ARGUMENT',
        `generateSplit(${task.id}): found only ${out.length} of ${count} new distinct inputs in ${budget} draws; ask for fewer examples`,
      );
    }
    const example = task.generate(rng);
    if (seen.has(example.input)) continue;
    seen.add(example.input);
    out.push(example);
  }
  return out;
}
