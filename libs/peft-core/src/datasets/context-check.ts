/**
 * Checks that every example fits a model's context before a training job starts, so that a
 * dataset with one over-long line fails at upload with its line number instead of being
 * silently truncated (which would cut the completion, the part the loss is on).
 */
import { PeftCoreError } from '../errors';
import type { DatasetExample } from './records';
import { renderExample, type ChatFormatter } from './render';

/** Anything that turns text into token ids; a Tokenizer fits. */
export interface TokenEncoder {
  encode(text: string): readonly number[];
}

export interface ContextCheckOptions {
  /** The model's context length in tokens. */
  readonly maxTokens: number;
  /** Tokens the trainer adds beyond encode()'s output (e.g. an EOS), default 0. */
  readonly reservedTokens?: number;
  readonly formatChat?: ChatFormatter;
}

export interface ContextCheckReport {
  readonly examples: number;
  readonly longestTokens: number;
  /** Line of the longest example (0 when there are none). */
  readonly longestLine: number;
  readonly overLimit: number;
  /** The first example (in input order) that does not fit, or null. */
  readonly firstOverLimit: { readonly line: number; readonly tokens: number } | null;
}

/** Token counts of prompt + completion (+ reserved) against maxTokens, for every example. */
export function checkContextLength(
  examples: Iterable<DatasetExample>,
  encoder: TokenEncoder,
  options: ContextCheckOptions,
): ContextCheckReport {
  const { maxTokens, reservedTokens = 0 } = options;
  if (!Number.isInteger(maxTokens) || maxTokens <= 0)
    throw new PeftCoreError('INVALID_ARGUMENT', `maxTokens must be a positive integer, got ${maxTokens}`);
  if (!Number.isInteger(reservedTokens) || reservedTokens < 0) {
    throw new PeftCoreError('INVALID_ARGUMENT', `reservedTokens must be a non-negative integer, got ${reservedTokens}`);
  }
  let count = 0;
  let longestTokens = 0;
  let longestLine = 0;
  let overLimit = 0;
  let firstOverLimit: ContextCheckReport['firstOverLimit'] = null;
  for (const example of examples) {
    const { prompt, completion, line } = renderExample(example, options.formatChat);
    // Encoded as one string: the trainer sees one sequence, and BPE merges can cross the seam.
    const tokens = encoder.encode(prompt + completion).length + reservedTokens;
    count++;
    if (tokens > longestTokens) {
      longestTokens = tokens;
      longestLine = line;
    }
    if (tokens > maxTokens) {
      overLimit++;
      firstOverLimit ??= { line, tokens };
    }
  }
  return { examples: count, longestTokens, longestLine, overLimit, firstOverLimit };
}

/** Throws DATASET_INVALID naming the first example that does not fit. */
export function assertFitsContext(
  examples: Iterable<DatasetExample>,
  encoder: TokenEncoder,
  options: ContextCheckOptions,
): ContextCheckReport {
  const report = checkContextLength(examples, encoder, options);
  if (report.firstOverLimit !== null) {
    const { line, tokens } = report.firstOverLimit;
    const others = report.overLimit - 1;
    throw new PeftCoreError(
      'DATASET_INVALID',
      `line ${line}: ${tokens} tokens exceed the model's context of ${options.maxTokens}` +
        (others > 0 ? ` (${others} more examples are too long)` : ''),
      { line, tokens, maxTokens: options.maxTokens, overLimit: report.overLimit },
    );
  }
  return report;
}
