/**
 * The shape of one evaluation-world task and the prompt format every task shares.
 *
 * Prompt format (see README.md in this folder for the reasoning):
 *   single task:  `Q: <marker> <input>\nA:`   completion ` <answer>`
 *   composite:    `Q: 1. <marker> <input>\n2. <marker> <input>\nA:`   completion ` 1. <answer>\n2. <answer>`
 * The marker is one ASCII punctuation character assigned to the task by a fixed table. It
 * never spells the task's name, so neither the base model nor a text retriever can read the
 * task off the prompt, yet it is the feature a router must learn to tell tasks apart whose
 * inputs look alike (add and subtract both take "37 58").
 */
import { PeftCoreError } from '../errors';
import type { Rng } from '../util/rng';

export interface TaskExample {
  readonly input: string;
  readonly answer: string;
}

export interface WorldTask {
  /** Stable kebab-case identifier (adapter names, dataset file names). */
  readonly id: string;
  readonly title: string;
  /** The task's prompt marker: one punctuation character, unique across tasks. */
  readonly marker: string;
  /** ≥ 3 phrasings: adapter descriptions and captions for retrieval training. */
  readonly descriptions: readonly string[];
  /** ≥ 2 further phrasings kept out of retrieval training, for the recall test. */
  readonly heldOutDescriptions: readonly string[];
  /** An upper bound on the number of distinct inputs `generate` can produce. */
  readonly inputSpace: number;
  /** Draws one example; deterministic given the generator's state. */
  generate(rng: Rng): TaskExample;
  /** Whether `input` is in the task's domain (the shape `generate` produces). */
  accepts(input: string): boolean;
  /** The reference answer for an input in the domain; throws INVALID_ARGUMENT otherwise. */
  solve(input: string): string;
  /** The single-task prompt, ending in "A:" so the model continues with " <answer>". */
  prompt(input: string): string;
  /** Exact match after trimming both sides. */
  score(output: string, answer: string): boolean;
}

/** Put between the prompt's "A:" and the answer in training completions. */
export const ANSWER_PREFIX = ' ';

export function renderQuestion(marker: string, input: string): string {
  return `${marker} ${input}`;
}

export function renderPrompt(marker: string, input: string): string {
  return `Q: ${renderQuestion(marker, input)}\nA:`;
}

/** The input of a single prompt with this marker (renderPrompt's inverse), or undefined for any other text. */
export function parseTaskPrompt(marker: string, prompt: string): string | undefined {
  const [head, tail] = renderPrompt(marker, '\u0000').split('\u0000') as [string, string];
  return prompt.startsWith(head) && prompt.endsWith(tail) && prompt.length >= head.length + tail.length ? prompt.slice(head.length, prompt.length - tail.length) : undefined;
}

export function exactMatch(output: string, answer: string): boolean {
  return output.trim() === answer.trim();
}

/** What a task definition supplies; `defineTask` derives the rest. */
export interface TaskSpec {
  readonly id: string;
  readonly title: string;
  readonly marker: string;
  readonly descriptions: readonly string[];
  readonly heldOutDescriptions: readonly string[];
  readonly inputSpace: number;
  /** Draws an input in the domain. */
  readonly sampleInput: (rng: Rng) => string;
  readonly accepts: (input: string) => boolean;
  /** The mapping itself, for inputs that `accepts` approves. */
  readonly answer: (input: string) => string;
}

export function defineTask(spec: TaskSpec): WorldTask {
  const solve = (input: string): string => {
    if (!spec.accepts(input)) {
      throw new PeftCoreError(
        'INVALID_ARGUMENT',
        `task ${spec.id}: input ${JSON.stringify(input)} is outside the task's domain`,
      );
    }
    return spec.answer(input);
  };
  return {
    id: spec.id,
    title: spec.title,
    marker: spec.marker,
    descriptions: spec.descriptions,
    heldOutDescriptions: spec.heldOutDescriptions,
    inputSpace: spec.inputSpace,
    generate(rng: Rng): TaskExample {
      const input = spec.sampleInput(rng);
      return { input, answer: solve(input) };
    },
    accepts: spec.accepts,
    solve,
    prompt: (input: string) => renderPrompt(spec.marker, input),
    score: exactMatch,
  };
}
