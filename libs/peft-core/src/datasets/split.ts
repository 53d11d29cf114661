/**
 * Deterministic train/eval split by a hash of each example's content: an example's side does
 * not depend on its position, so reordering, appending or deleting lines never moves the
 * other examples, and exact duplicates always land on the same side (no train/eval leak).
 * The content key is canonical JSON of the example's fields, not the raw line, so that
 * whitespace or key order in the upload does not matter either.
 */
import { PeftCoreError } from '../errors';
import { hashFraction } from './hash';
import type { DatasetExample } from './records';

export interface HashSplitOptions {
  /** Expected share of examples in eval, in [0, 1]. */
  readonly evalFraction: number;
  /** Changes the assignment as a whole (different splits of the same data). Default "". */
  readonly salt?: string;
}

export interface HashSplit<T> {
  readonly train: T[];
  readonly eval: T[];
}

/** Canonical content of an example: format-specific fields in a fixed order, no line number. */
export function exampleKey(example: DatasetExample): string {
  switch (example.format) {
    case 'text':
      return JSON.stringify(['text', example.text]);
    case 'prompt-completion':
      return JSON.stringify(['prompt-completion', example.prompt, example.completion]);
    case 'chat':
      return JSON.stringify(['chat', example.messages.map((m) => [m.role, m.content])]);
  }
}

export function isEvalExample(example: DatasetExample, options: HashSplitOptions): boolean {
  checkFraction(options.evalFraction);
  return hashFraction(`${options.salt ?? ''}\u0000${exampleKey(example)}`) < options.evalFraction;
}

export function splitByHash<T extends DatasetExample>(examples: Iterable<T>, options: HashSplitOptions): HashSplit<T> {
  checkFraction(options.evalFraction);
  const split: HashSplit<T> = { train: [], eval: [] };
  for (const example of examples) (isEvalExample(example, options) ? split.eval : split.train).push(example);
  return split;
}

function checkFraction(fraction: number): void {
  if (!(fraction >= 0 && fraction <= 1))
    throw new PeftCoreError('INVALID_ARGUMENT', `evalFraction must be in [0, 1], got ${fraction}`);
}
