/**
 * World examples as prompt/completion dataset records, in the format the platform's training
 * jobs read from uploads: the prompt ends in "A:" and the completion is " <answer>", so the
 * loss falls on the answer alone.
 */
import { formatJsonl, type DatasetRecord } from '../datasets/jsonl-writer';
import type { CompositeExample } from './composite';
import { ANSWER_PREFIX, type TaskExample, type WorldTask } from './task';

export function taskRecord(task: WorldTask, example: TaskExample): DatasetRecord {
  return { prompt: task.prompt(example.input), completion: ANSWER_PREFIX + example.answer };
}

export function compositeRecord(composite: CompositeExample): DatasetRecord {
  return { prompt: composite.prompt, completion: ANSWER_PREFIX + composite.answer };
}

/** A JSONL dataset of one task's examples. */
export function taskDatasetJsonl(task: WorldTask, examples: Iterable<TaskExample>): string {
  return formatJsonl(Array.from(examples, (example) => taskRecord(task, example)));
}

/** A JSONL dataset of composite examples. */
export function compositeDatasetJsonl(composites: Iterable<CompositeExample>): string {
  return formatJsonl(Array.from(composites, compositeRecord));
}
