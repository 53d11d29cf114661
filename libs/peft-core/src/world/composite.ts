/**
 * Composite prompts chain 2–3 sub-questions from different tasks in one prompt, answered as
 * a numbered list, one sub-answer per line:
 *
 *   Q: 1. % abc
 *   2. } 12 34
 *   A: 1. cba
 *   2. 46
 *
 * They test routing: a gate must switch experts mid-sequence, following each line's marker.
 * Sub-answers never contain a newline, so one line per sub-answer parses without ambiguity.
 */
import { PeftCoreError } from '../errors';
import type { Rng } from '../util/rng';
import { exactMatch, renderQuestion, type WorldTask } from './task';

export const MIN_COMPOSITE_PARTS = 2;
export const MAX_COMPOSITE_PARTS = 3;

export interface CompositePart {
  readonly taskId: string;
  readonly input: string;
  readonly answer: string;
}

export interface CompositeExample {
  readonly parts: readonly CompositePart[];
  /** Ends in "A:", like single-task prompts. */
  readonly prompt: string;
  /** The expected numbered answer (the completion is ANSWER_PREFIX + answer). */
  readonly answer: string;
}

export interface CompositeScore {
  /** Per sub-question, in prompt order. */
  readonly perPart: readonly boolean[];
  readonly correct: number;
  readonly allCorrect: boolean;
}

export function compositePrompt(tasks: readonly WorldTask[], inputs: readonly string[]): CompositeExample {
  if (tasks.length < MIN_COMPOSITE_PARTS || tasks.length > MAX_COMPOSITE_PARTS) {
    throw new PeftCoreError(
      'INVALID_ARGUMENT',
      `a composite prompt chains ${MIN_COMPOSITE_PARTS}–${MAX_COMPOSITE_PARTS} tasks, got ${tasks.length}`,
    );
  }
  if (inputs.length !== tasks.length) {
    throw new PeftCoreError('INVALID_ARGUMENT', `composite prompt: ${tasks.length} tasks but ${inputs.length} inputs`);
  }
  const ids = tasks.map((t) => t.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated !== undefined) {
    throw new PeftCoreError(
      'INVALID_ARGUMENT',
      `composite prompt: task "${repeated}" appears twice; sub-questions must come from different tasks`,
    );
  }
  const parts = tasks.map((task, i): CompositePart => ({
    taskId: task.id,
    input: inputs[i],
    answer: task.solve(inputs[i]),
  }));
  return { parts, ...numberedList(tasks.map((task, i) => ({ marker: task.marker, input: inputs[i]!, answer: parts[i]!.answer }))) };
}

/** A list of questions in the composite form: "Q: 1. <marker> <input>\n2. …\nA:", answered "1. …\n2. …". */
export function numberedList(questions: readonly { readonly marker: string; readonly input: string; readonly answer: string }[]): { prompt: string; answer: string } {
  return {
    prompt: `Q: ${questions.map((q, i) => `${i + 1}. ${renderQuestion(q.marker, q.input)}`).join('\n')}\nA:`,
    answer: questions.map((q, i) => `${i + 1}. ${q.answer}`).join('\n'),
  };
}

/** Picks `count` different tasks from `pool` and an input for each. */
export function sampleComposite(rng: Rng, pool: readonly WorldTask[], count: number): CompositeExample {
  if (count > pool.length) {
    throw new PeftCoreError('INVALID_ARGUMENT', `cannot chain ${count} different tasks from a pool of ${pool.length}`);
  }
  const tasks = rng.shuffle([...pool]).slice(0, count);
  return compositePrompt(
    tasks,
    tasks.map((task) => task.generate(rng).input),
  );
}

/**
 * Scores a model's continuation of a composite prompt. Each line of the form "k. text" gives
 * sub-answer k (the first such line wins); a sub-answer is correct when it matches exactly
 * after trimming. Missing, unnumbered or extra lines score nothing and cost nothing.
 */
export function scoreComposite(output: string, composite: CompositeExample): CompositeScore {
  const answers = new Map<number, string>();
  for (const line of output.split('\n')) {
    const match = /^\s*(\d+)\.(.*)$/.exec(line);
    if (match === null) continue;
    const index = Number(match[1]);
    if (!answers.has(index)) answers.set(index, match[2]);
  }
  const perPart = composite.parts.map((part, i) => {
    const given = answers.get(i + 1);
    return given !== undefined && exactMatch(given, part.answer);
  });
  const correct = perPart.filter(Boolean).length;
  return { perPart, correct, allCorrect: correct === perPart.length };
}
