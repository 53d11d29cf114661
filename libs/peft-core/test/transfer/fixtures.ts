/**
 * A trivially learnable task and tiny models for the Trans-LoRA tests. Task: "a c b ?" → " b"
 * (repeat the last letter). Two byte-level BPE tokenizers trained to different vocabulary sizes
 * stand in for two model families.
 */
import type { ModelConfig } from '../../src/formats/model-config';
import type { LoraWeights } from '../../src/lora/adapter';
import type { LlamaModel } from '../../src/model/llama-model';
import { encodePrompt } from '../../src/train/data';
import { randomModelConfig } from '../../src/testing/random-model';
import { Tokenizer } from '../../src/tokenizer/tokenizer';
import { trainByteLevelBpe } from '../../src/tokenizer/train-bpe';
import { Rng } from '../../src/util/rng';

export const LETTERS = 'abcdef';

export interface TaskExample {
  readonly prompt: string;
  readonly completion: string;
}

export function taskExample(rng: Rng): TaskExample {
  const letters = Array.from({ length: 3 }, () => LETTERS[rng.int(LETTERS.length)]!);
  return { prompt: `${letters.join(' ')} ?`, completion: ` ${letters[2]!}` };
}

export function taskExamples(count: number, seed: number): TaskExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => taskExample(rng));
}

/** Strings that look nothing like the task: runs of other letters, no spaces. */
export function noisePrompts(count: number, seed: number): string[] {
  const rng = new Rng(seed);
  const alphabet = 'ghijklmnopqrstuvwxyz';
  return Array.from({ length: count }, () => Array.from({ length: 4 + rng.int(6) }, () => alphabet[rng.int(alphabet.length)]!).join(''));
}

/** A tokenizer trained on task text (and the discriminator question), `merges` merges past the bytes. */
export function taskTokenizer(merges: number): Tokenizer {
  const corpus = [...taskExamples(200, 99).map((e) => `${e.prompt}${e.completion}`), 'Is this real? yes no'];
  return Tokenizer.fromJson(trainByteLevelBpe(corpus, 3 + 256 + merges, { minFrequency: 1 }));
}

/** A tiny decoder sized for `tokenizer` (eos/bos from it), `hidden` wide. */
export function tinyConfig(tokenizer: Tokenizer, hidden: number): ModelConfig {
  return randomModelConfig({
    vocabSize: tokenizer.vocabSize,
    hiddenSize: hidden,
    intermediateSize: hidden * 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: hidden / 4,
    maxPositionEmbeddings: 96,
    bosTokenId: tokenizer.bosTokenId ?? 0,
    eosTokenId: tokenizer.eosTokenId ?? 0,
  });
}

/** Greedy exact-match accuracy of `model` (+ adapter) on task examples, prompts encoded as in training. */
export async function taskAccuracy(
  model: LlamaModel,
  tokenizer: Tokenizer,
  examples: readonly TaskExample[],
  lora?: LoraWeights,
): Promise<number> {
  const eos = tokenizer.eosTokenId as number;
  const out = await model.generate(examples.map((e) => encodePrompt(tokenizer, e.prompt)), { maxNewTokens: 4, stopTokenIds: [eos], padTokenId: eos, ...(lora ? { lora } : {}) });
  return out.filter((r, i) => r.finishReason === 'stop' && tokenizer.decode(r.tokens, { skipSpecialTokens: true }) === examples[i]!.completion).length / examples.length;
}
