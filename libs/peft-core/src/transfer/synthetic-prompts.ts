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
  /**
   * Seed examples shown per generation (default 5, as in the paper; fewer when fewer seeds exist).
   * 0: no list, only the prompt start (measured on the evaluation world's bases: after a list of
   * bare prompts they write the next input and then EOS, never the prompt end).
   */
  readonly shots?: number;
  /** Between examples and at the end of a generated prompt (default "\n"). */
  readonly separator?: string;
  /**
   * The text every prompt ends with (e.g. the world's "\nA:", a chat template's assistant tag): a
   * candidate ends right after it, and one without it is dropped. Default `promptEndOf(seeds)`;
   * null: none (a candidate ends at the separator only).
   */
  readonly promptEnd?: string | null;
  /** false: a candidate without the prompt end is kept as written (a negative example for the discriminator). Default true. */
  readonly requirePromptEnd?: boolean;
  /**
   * Text every candidate starts with, appended to the few-shot context before generating (the
   * world's "Q: <marker> "). Default `promptStartOf(seeds)`; null: none.
   */
  readonly promptStart?: string | null;
  /**
   * Also prime each generation with the first 0…N characters (uniformly drawn) of one seed's text
   * after the prompt start (default 0: off). [inferred] A base that never saw the task's marker
   * continues "Q: ! " with whatever its corpus put after such a start (numbers for a letter
   * task); one or two of a real input's characters keep it on the seeds' kind of input, and the
   * sampler writes the rest. Candidates equal to a seed are still dropped.
   */
  readonly seedPrefixChars?: number;
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
  /** Prompts an earlier call already returned: dropped as repeats (generation in rounds). */
  readonly exclude?: ReadonlySet<string>;
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
  /** Candidates without the prompt end (when one applies): not prompts of the seeds' form. */
  readonly droppedNoEnd: number;
  /** The prompt end used, if any. */
  readonly promptEnd?: string;
  /** The prompt start every generation was primed with, if any. */
  readonly promptStart?: string;
  readonly aborted: boolean;
}

/** Separators tried in order: the first that no prompt contains is used between few-shot examples. */
const SEPARATORS = ['\n', '\n\n', '\n###\n', '\n<|example|>\n'] as const;

/**
 * The few-shot separator for a set of prompts: "\n" for single-line prompts, a blank line for
 * prompts with single newlines (the world's `Q: … \nA:` prompts), and so on. [inferred] The paper
 * uses one prompt per line; multi-line prompts need a separator they do not contain.
 */
export function fewShotSeparator(prompts: readonly string[]): string {
  for (const sep of SEPARATORS) if (prompts.every((p) => !p.includes(sep))) return sep;
  throw new PeftCoreError('INVALID_ARGUMENT', `the prompts contain every few-shot separator tried (${SEPARATORS.map((s) => JSON.stringify(s)).join(', ')})`);
}

/**
 * The end all seeds share, when it is a template line: the longest common suffix, from its last line
 * break that is followed by non-space text ("…\nA:" → "\nA:"). [inferred] A model continuing a
 * few-shot list of such prompts often goes on to ANSWER after it ("Q: % ab\nA: 2"); cutting there
 * keeps candidates in the seeds' form. Undefined for single-line seeds (the separator ends them).
 */
export function promptEndOf(seeds: readonly string[]): string | undefined {
  if (seeds.length < 2) return undefined;
  let suffix = seeds[0]!;
  for (const s of seeds.slice(1)) {
    let k = 0;
    while (k < suffix.length && k < s.length && suffix[suffix.length - 1 - k] === s[s.length - 1 - k]) k++;
    suffix = suffix.slice(suffix.length - k);
  }
  for (let i = suffix.lastIndexOf('\n'); i >= 0; i = suffix.lastIndexOf('\n', i - 1)) {
    if (suffix.slice(i + 1).trim() !== '') return suffix.slice(i);
    if (i === 0) break;
  }
  return undefined;
}

/**
 * The start all seeds share, up to and including its last whitespace (so a word is never split):
 * "Q: % abc\nA:", "Q: % de\nA:" → "Q: % ". [inferred] Priming each generation with it keeps a small
 * base on the task's form (its marker) where the bare few-shot list does not. Undefined when
 * shorter than 2 characters or for fewer than 2 seeds.
 */
export function promptStartOf(seeds: readonly string[]): string | undefined {
  if (seeds.length < 2) return undefined;
  let prefix = seeds[0]!;
  for (const s of seeds.slice(1)) {
    let k = 0;
    while (k < prefix.length && k < s.length && prefix[k] === s[k]) k++;
    prefix = prefix.slice(0, k);
  }
  const cut = Math.max(prefix.lastIndexOf(' '), prefix.lastIndexOf('\n'), prefix.lastIndexOf('\t'));
  const start = prefix.slice(0, cut + 1);
  return start.trim().length >= 2 ? start : undefined;
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
  const separator = o.separator ?? fewShotSeparator(seeds.length > 0 ? seeds : ['x']);
  checkSeeds(seeds, separator, 'generateSyntheticPrompts');
  if (!Number.isInteger(n) || n < 1) throw new PeftCoreError('INVALID_ARGUMENT', `generateSyntheticPrompts: n must be a positive integer, got ${n}`);
  const shots = Math.min(o.shots ?? 5, seeds.length);
  const batchSize = o.batchSize ?? 16;
  const maxGenerations = o.maxGenerations ?? 4 * n;
  const eos = tokenizer.eosTokenId as number;
  const promptEnd = o.promptEnd === null ? undefined : (o.promptEnd ?? promptEndOf(seeds));
  const requireEnd = o.requirePromptEnd ?? true;
  const promptStart = o.promptStart === null ? '' : (o.promptStart ?? promptStartOf(seeds) ?? '');
  const seedPrefixChars = o.seedPrefixChars ?? 0;
  if (!Number.isInteger(seedPrefixChars) || seedPrefixChars < 0) throw new PeftCoreError('INVALID_ARGUMENT', `generateSyntheticPrompts: seedPrefixChars must be a non-negative integer, got ${seedPrefixChars}`);
  // What each seed says after the shared start (its input, for the world's prompts).
  const seedTails = seeds.map((s) => (s.startsWith(promptStart) ? s.slice(promptStart.length) : ''));
  const primeOf = (): string => {
    if (seedPrefixChars === 0 || seeds.length === 0) return promptStart;
    const tail = seedTails[rng.int(seedTails.length)]!;
    return promptStart + tail.slice(0, rng.int(Math.min(seedPrefixChars, tail.length) + 1)).trimEnd();
  };
  const tailTokens = Math.max(8, (promptEnd?.length ?? 0) + 2);
  const seen = new Set([...seeds.map((s) => s.trim()), ...(o.exclude ?? [])]);
  const prompts: string[] = [];
  let generations = 0;
  let droppedEmpty = 0;
  let droppedDuplicate = 0;
  let truncated = 0;
  let droppedNoEnd = 0;
  const done = (aborted: boolean): SyntheticPrompts => ({ prompts, generations, droppedEmpty, droppedDuplicate, truncated, droppedNoEnd, ...(promptEnd !== undefined ? { promptEnd } : {}), ...(promptStart !== '' ? { promptStart } : {}), aborted });
  while (prompts.length < n && generations < maxGenerations) {
    if (o.signal?.aborted) return done(true);
    const rows = Math.min(batchSize, maxGenerations - generations);
    const primes = Array.from({ length: rows }, primeOf);
    const contexts = primes.map((prime) => encodePrompt(tokenizer, fewShotContext(seeds, shots, separator, rng) + prime));
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
      shouldStop: (_row, generated) => {
        const tail = tokenizer.decode(generated.slice(-tailTokens), { skipSpecialTokens: true });
        return tail.includes(separator) || (promptEnd !== undefined && tail.includes(promptEnd));
      },
      ...(adapter !== undefined ? { lora: adapter } : {}),
    });
    generations += rows;
    for (const [i, r] of out.entries()) {
      const text = primes[i]! + tokenizer.decode(r.tokens, { skipSpecialTokens: true });
      const cut = text.indexOf(separator);
      let candidate = (cut >= 0 ? text.slice(0, cut) : text).trim();
      if (promptEnd !== undefined) {
        const end = text.indexOf(promptEnd);
        // The prompt ends with promptEnd; what follows (an answer, the next example) is not part of it.
        if (end >= 0 && (cut < 0 || end < cut)) candidate = text.slice(0, end + promptEnd.length).trimStart();
        else if (requireEnd) candidate = '';
      }
      if (candidate.length === 0 && promptEnd !== undefined && text.trim() !== '' && requireEnd) {
        droppedNoEnd++;
      } else if (candidate.length === 0) {
        droppedEmpty++;
      } else if (seen.has(candidate)) {
        droppedDuplicate++;
      } else if (prompts.length < n) {
        seen.add(candidate);
        prompts.push(candidate);
        if (r.finishReason === 'length' && cut < 0 && promptEnd === undefined) truncated++;
      }
    }
    o.onBatch?.(prompts.length, n);
  }
  return done(false);
}
