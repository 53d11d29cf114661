/**
 * The submit-time check that every example of a dataset fits the base model's context, counted
 * the way the trainer counts: the rendered prompt + completion encoded without special tokens,
 * plus the BOS and EOS the trainer adds (peft-core train/data tokenizeExample). Chat records are
 * rendered with the base tokenizer's chat template. A too-long example is a 400 naming its line,
 * never a training job that silently truncates it later.
 */
import type { Readable } from 'node:stream';
import { chatFormatterOf, checkContextLength, type ContextCheckReport } from '@palette/peft-core/datasets/index';
import type { Tokenizer } from '@palette/peft-core/tokenizer/index';
import { domainErrors } from '../common';
import { exampleBatches } from '../datasets/dataset-scan';

export interface ContextLimit {
  /** min(max_position_embeddings, hyperparameters.maxSeqLen). */
  readonly maxTokens: number;
  /** Says where the limit comes from, for the message. */
  readonly source: string;
}

/** Streams the dataset once, in batches, and throws VALIDATION_FAILED at the first example over the limit. */
export async function assertDatasetFitsContext(jsonl: Readable, tokenizer: Tokenizer, limit: ContextLimit): Promise<ContextCheckReport> {
  const reservedTokens = (tokenizer.bosTokenId !== undefined ? 1 : 0) + (tokenizer.eosTokenId !== undefined ? 1 : 0);
  const encoder = { encode: (text: string) => tokenizer.encode(text, { addSpecialTokens: false }) };
  const formatChat = chatFormatterOf(tokenizer);
  let examples = 0;
  let longestTokens = 0;
  let longestLine = 0;
  for await (const batch of exampleBatches(jsonl, 512)) {
    const report = checkContextLength(batch, encoder, { maxTokens: limit.maxTokens, reservedTokens, formatChat });
    if (report.firstOverLimit !== null) {
      const { line, tokens } = report.firstOverLimit;
      throw domainErrors.validation(`dataset line ${line}: the example is ${tokens} tokens, over the ${limit.source} of ${limit.maxTokens} tokens`, {
        line,
        tokens,
        maxTokens: limit.maxTokens,
      });
    }
    examples += report.examples;
    if (report.longestTokens > longestTokens) {
      longestTokens = report.longestTokens;
      longestLine = report.longestLine;
    }
  }
  return { examples, longestTokens, longestLine, overLimit: 0, firstOverLimit: null };
}
