/**
 * The training data pipeline: examples → token rows with a loss mask → fixed-shape batches.
 *
 * Conventions (shared with reference/referenceLoss):
 * - a tokenized example is `ids` plus `lossMask`, same length; `lossMask[t] = 1` means token t is a
 *   prediction target (predicted from position t − 1). Token 0 is never a target;
 * - prompt/completion examples are `[bos] + prompt + completion + [eos]`, with targets on the
 *   completion and the eos only (the loss is "completion-only", as TRL's default). Prompt and
 *   completion are tokenized separately so the boundary is exact; [inferred] BPE may tokenize the
 *   joined string differently at the seam, which is why completions conventionally start with a
 *   separator the prompt ends before;
 * - text examples are `[bos] + text + [eos]` with every token after the first a target;
 * - batches feed `inputIds [batch, seq]` and `targets [batch, seq]` where
 *   `targets[b, t] = ids[b, t + 1]` when that token is a target, else -100 (ignored). The shift is
 *   done here so the graph's loss is a plain token cross-entropy over all positions.
 */
import type { DatasetExample } from '../datasets/records';
import { renderExample, type ChatFormatter } from '../datasets/render';
import { PeftCoreError } from '../errors';
import { Rng } from '../util/rng';

export type PromptCompletionTrainingExample = { readonly prompt: string; readonly completion: string };
export type TextTrainingExample = { readonly text: string };
export type TrainingExample = PromptCompletionTrainingExample | TextTrainingExample;

/** What the pipeline needs from a tokenizer; `Tokenizer` (tokenizer/) satisfies it. */
export interface TextTokenizer {
  encode(text: string, options?: { readonly addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
}

export interface TokenizedExample {
  readonly ids: readonly number[];
  /** 1 where the token is a prediction target. */
  readonly lossMask: readonly number[];
}

/** The value of a target that the loss skips (Hugging Face's ignore index). */
export const IGNORE_INDEX = -100;

export function isPromptCompletion(example: TrainingExample): example is PromptCompletionTrainingExample {
  return 'prompt' in example;
}

/**
 * The training view of a parsed dataset record (datasets/ parses and validates JSONL, with line
 * numbers in its errors): text stays text (every token a target); prompt-completion stays as is;
 * chat is rendered by `formatChat` (the tokenizer's chat template) into the conversation so far as
 * the prompt and the final assistant turn as the completion.
 */
export function trainingExampleOf(example: DatasetExample, formatChat?: ChatFormatter): TrainingExample {
  if (example.format === 'text') return { text: example.text };
  const { prompt, completion } = renderExample(example, formatChat);
  return { prompt, completion };
}

export interface TokenizeOptions {
  /** Prepend the tokenizer's BOS when it has one. Default true. */
  readonly addBos?: boolean;
  /** Append the tokenizer's EOS (a target) when it has one. Default true. */
  readonly addEos?: boolean;
}

/** The token ids a prompt is encoded to for training and, identically, for generation. */
export function encodePrompt(tokenizer: TextTokenizer, prompt: string, options: TokenizeOptions = {}): number[] {
  const ids = tokenizer.encode(prompt, { addSpecialTokens: false });
  return (options.addBos ?? true) && tokenizer.bosTokenId !== undefined ? [tokenizer.bosTokenId, ...ids] : ids;
}

export function tokenizeExample(tokenizer: TextTokenizer, example: TrainingExample, options: TokenizeOptions = {}): TokenizedExample {
  const eos = (options.addEos ?? true) ? tokenizer.eosTokenId : undefined;
  if (isPromptCompletion(example)) {
    const prompt = encodePrompt(tokenizer, example.prompt, options);
    const completion = tokenizer.encode(example.completion, { addSpecialTokens: false });
    if (eos !== undefined) completion.push(eos);
    return { ids: [...prompt, ...completion], lossMask: [...prompt.map(() => 0), ...completion.map(() => 1)] };
  }
  const ids = encodePrompt(tokenizer, example.text, options);
  if (eos !== undefined) ids.push(eos);
  return { ids, lossMask: ids.map((_, t) => (t === 0 ? 0 : 1)) };
}

/** One fixed-shape batch, ready to feed (int64 as the graph's inputs are). */
export interface Batch {
  readonly rows: number;
  readonly seqLen: number;
  /** [rows, seqLen] */
  readonly inputIds: BigInt64Array;
  /** [rows, seqLen]: the next token where it is a target, else IGNORE_INDEX. */
  readonly targets: BigInt64Array;
  /** Number of targets that are not ignored (the loss is their mean). */
  readonly targetCount: number;
  /** Real (non-padding) tokens, for tokens/s. */
  readonly tokenCount: number;
}

/**
 * Lays rows out as a batch: each row right-padded with `padId` to `seqLen` (padding is never a
 * target and, under a causal mask, never attended to by a real token). Rows longer than seqLen are
 * cut (the tail is dropped, targets included).
 */
export function collate(rows: readonly TokenizedExample[], seqLen: number, padId: number): Batch {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new PeftCoreError('INVALID_ARGUMENT', `collate: seqLen must be an integer ≥ 2, got ${seqLen}`);
  const inputIds = new BigInt64Array(rows.length * seqLen).fill(BigInt(padId));
  const targets = new BigInt64Array(rows.length * seqLen).fill(BigInt(IGNORE_INDEX));
  let targetCount = 0;
  let tokenCount = 0;
  rows.forEach((row, b) => {
    const n = Math.min(row.ids.length, seqLen);
    tokenCount += n;
    for (let t = 0; t < n; t++) {
      inputIds[b * seqLen + t] = BigInt(row.ids[t]);
      if (t + 1 < n && row.lossMask[t + 1] !== 0) {
        targets[b * seqLen + t] = BigInt(row.ids[t + 1]);
        targetCount++;
      }
    }
  });
  return { rows: rows.length, seqLen, inputIds, targets, targetCount, tokenCount };
}

/**
 * Packing: concatenates examples into rows of exactly `seqLen` tokens (the last row padded), as
 * Hugging Face's ConstantLengthDataset does. [inferred] Attention is causal over the whole row, so a
 * packed example can see the previous one; with BOS/EOS separators this is the usual trade for no
 * padding waste. Positions continue across examples in a row.
 */
export function packExamples(examples: readonly TokenizedExample[], seqLen: number): TokenizedExample[] {
  const rows: TokenizedExample[] = [];
  let ids: number[] = [];
  let mask: number[] = [];
  for (const ex of examples) {
    for (let t = 0; t < ex.ids.length; t++) {
      ids.push(ex.ids[t]);
      // The first token of an example is predicted from the previous example's last token: not a target.
      mask.push(t === 0 ? 0 : ex.lossMask[t]);
      if (ids.length === seqLen) {
        rows.push({ ids, lossMask: mask });
        ids = [];
        mask = [];
      }
    }
  }
  if (ids.length > 1) rows.push({ ids, lossMask: mask });
  return rows;
}

/** A deterministic train/eval split: a seeded shuffle, then the last `evalFraction` go to eval. */
export function splitTrainEval<T>(items: readonly T[], evalFraction: number, seed: number): { train: T[]; eval: T[] } {
  if (!(evalFraction >= 0 && evalFraction < 1)) throw new PeftCoreError('INVALID_ARGUMENT', `evalFraction must be in [0, 1), got ${evalFraction}`);
  const shuffled = new Rng(seed).shuffle([...items]);
  const nEval = Math.round(items.length * evalFraction);
  return { train: shuffled.slice(0, items.length - nEval), eval: shuffled.slice(items.length - nEval) };
}

/** Where a BatchSampler is in its stream: enough to continue bit-exactly after a restart. */
export interface SamplerState {
  readonly epoch: number;
  /** Position in `order` of the next row to serve. */
  readonly cursor: number;
  /** This epoch's permutation of row indices. */
  readonly order: readonly number[];
  readonly rng: readonly [number, number, number, number];
}

/**
 * Serves batches of row indices forever, reshuffling with a seeded Rng at each epoch. A batch never
 * spans two epochs: an epoch's remainder smaller than batchSize is served as a short batch only
 * when `dropLast` is false (default true, so every batch has one shape and one compiled graph).
 */
export class BatchSampler {
  private epochNumber = 0;
  private cursor = 0;
  private order: number[];
  private rng: Rng;

  constructor(
    private readonly size: number,
    private readonly batchSize: number,
    seed: number,
    private readonly shuffle = true,
    private readonly dropLast = true,
  ) {
    if (size <= 0) throw new PeftCoreError('INVALID_ARGUMENT', 'BatchSampler: the dataset is empty');
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new PeftCoreError('INVALID_ARGUMENT', `BatchSampler: batchSize must be a positive integer, got ${batchSize}`);
    if (dropLast && batchSize > size) {
      throw new PeftCoreError('INVALID_ARGUMENT', `BatchSampler: batchSize ${batchSize} exceeds the ${size} training rows`);
    }
    this.rng = new Rng(seed);
    this.order = this.newOrder();
  }

  get epoch(): number {
    return this.epochNumber;
  }

  /** Full batches per epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  next(): number[] {
    const remaining = this.order.length - this.cursor;
    if (remaining === 0 || (this.dropLast && remaining < this.batchSize)) {
      this.epochNumber++;
      this.cursor = 0;
      this.order = this.newOrder();
    }
    const batch = this.order.slice(this.cursor, this.cursor + this.batchSize);
    this.cursor += batch.length;
    return batch;
  }

  state(): SamplerState {
    return { epoch: this.epochNumber, cursor: this.cursor, order: [...this.order], rng: this.rng.state() };
  }

  loadState(state: SamplerState): void {
    if (state.order.length !== this.size || state.order.some((i) => !Number.isInteger(i) || i < 0 || i >= this.size)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `BatchSampler: saved order does not fit a dataset of ${this.size} rows`);
    }
    if (!(state.cursor >= 0 && state.cursor <= this.size)) throw new PeftCoreError('INVALID_ARGUMENT', `BatchSampler: bad cursor ${state.cursor}`);
    this.epochNumber = state.epoch;
    this.cursor = state.cursor;
    this.order = [...state.order];
    this.rng = Rng.fromState(state.rng);
  }

  private newOrder(): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    return this.shuffle ? this.rng.shuffle(order) : order;
  }
}

/** The longest row, for choosing a batch's fixed seqLen. */
export function longestRow(rows: readonly TokenizedExample[]): number {
  return rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
}
