/**
 * Synthetic prompts by few-shot prompting (Trans-LoRA step 1 and 2a): the model sees a few real
 * prompts, one per line, and continues with a new line; that line is one candidate prompt.
 */
import { PeftCoreError } from '../errors';
import type { LoraWeights } from '../lora/adapter';
import type { LlamaModel } from '../model/llama-model';
import { encodePrompt } from '../train/data';
import type { Rng } from '../util/rng';
import { checkSeeds, type SizedTokenizer } from './base-model';

export interface SyntheticPromptOptions {
  /** Seed examples shown per generation (default 5, as in the paper; fewer when fewer seeds exist). */
  readonly shots?: number;
  /** Between examples and at the end of a generated prompt (default "\n"). */
  readonly separator?: string;
  /** Sampling temperature (default 1: diverse candidates; the discriminator filters them). */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  /** Token budget of one candidate (default 48). */
  readonly maxNewTokens?: number;
  /** Generations per batch (default 16). */
  readonly batchSize?: number;
  /** Stop after this many generations even if fewer than n prompts were kept (default 4·n). */
  readonly maxGenerations?: number;
  readonly signal?: AbortSignal;
  /** After each batch: prompts kept so far of n. */
  readonly onBatch?: (kept: number, target: number) => void;
}

export interface SyntheticPromptsInput {
  readonly model: LlamaModel;
  readonly tokenizer: SizedTokenizer;
  /** Generate with this adapter (e.g. the source LoRA when building the discriminator's synthetic set). */
  readonly adapter?: LoraWeights;
  readonly seeds: readonly string[];
  /** How many distinct prompts to return (fewer if maxGenerations runs out). */
  readonly n: number;
  /** Drives which seeds each generation sees and the sampler's seeds: same state → same prompts. */
  readonly rng: Rng;
  readonly options?: SyntheticPromptOptions;
}

export interface SyntheticPrompts {
  readonly prompts: string[];
  /** Generations run. */
  readonly generations: number;
  readonly droppedEmpty: number;
  /** Repeats of an earlier candidate or copies of a seed. */
  readonly droppedDuplicate: number;
  /** Kept prompts that hit maxNewTokens before the separator (possibly cut short). */
  readonly truncated: number;
  readonly aborted: boolean;
}

/** The few-shot context: `shots` seeds drawn without replacement, each followed by the separator. */
function fewShotContext(seeds: readonly string[], shots: number, separator: string, rng: Rng): string {
  const order = seeds.map((_, i) => i);
  rng.shuffle(order);
  return order.slice(0, shots).map((i) => `${seeds[i]!}${separator}`).join('');
}

/**
 * Samples candidate prompts from `model` (with `adapter` if given). Each generation ends at the
 * separator, EOS or the token budget; its text before the separator, trimmed, is one candidate.
 * Empty candidates, repeats and copies of seeds are dropped (a copy of a real prompt labelled
 * "synthetic" would contradict the discriminator's labels).
 */
export async function generateSyntheticPrompts(input: SyntheticPromptsInput): Promise<SyntheticPrompts> {
  const { model, tokenizer, adapter, seeds, n, rng } = input;
  const o = input.options ?? {};
  const separator = o.separator ?? '\n';
  checkSeeds(seeds, separator, 'generateSyntheticPrompts');
  if (!Number.isInteger(n) || n < 1) throw new PeftCoreError('INVALID_ARGUMENT', `generateSyntheticPrompts: n must be a positive integer, got ${n}`);
  const shots = Math.min(o.shots ?? 5, seeds.length);
  const batchSize = o.batchSize ?? 16;
  const maxGenerations = o.maxGenerations ?? 4 * n;
  const eos = tokenizer.eosTokenId as number;
  const seen = new Set(seeds.map((s) => s.trim()));
  const prompts: string[] = [];
  let generations = 0;
  let droppedEmpty = 0;
  let droppedDuplicate = 0;
  let truncated = 0;
  while (prompts.length < n && generations < maxGenerations) {
    if (o.signal?.aborted) return { prompts, generations, droppedEmpty, droppedDuplicate, truncated, aborted: true };
    const rows = Math.min(batchSize, maxGenerations - generations);
    const contexts = Array.from({ length: rows }, () => encodePrompt(tokenizer, fewShotContext(seeds, shots, separator, rng)));
    const samplerSeed = rng.int(2 ** 31);
    const out = await model.generate(contexts, {
      maxNewTokens: o.maxNewTokens ?? 48,
      temperature: o.temperature ?? 1,
      ...(o.topK !== undefined ? { topK: o.topK } : {}),
      ...(o.topP !== undefined ? { topP: o.topP } : {}),
      seed: samplerSeed,
      stopTokenIds: [eos],
      padTokenId: eos,
      // Decoding the tail each step is cheap at these lengths and handles separators split across tokens.
      shouldStop: (_row, generated) => tokenizer.decode(generated.slice(-8), { skipSpecialTokens: true }).includes(separator),
      ...(adapter !== undefined ? { lora: adapter } : {}),
    });
    generations += rows;
    for (const r of out) {
      const text = tokenizer.decode(r.tokens, { skipSpecialTokens: true });
      const cut = text.indexOf(separator);
      const candidate = (cut >= 0 ? text.slice(0, cut) : text).trim();
      if (candidate.length === 0) {
        droppedEmpty++;
      } else if (seen.has(candidate)) {
        droppedDuplicate++;
      } else if (prompts.length < n) {
        seen.add(candidate);
        prompts.push(candidate);
        if (r.finishReason === 'length' && cut < 0) truncated++;
      }
    }
    o.onBatch?.(prompts.length, n);
  }
  return { prompts, generations, droppedEmpty, droppedDuplicate, truncated, aborted: false };
}
