import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { Value } from '../graph/value';

/** Keys and values of one layer. Cache tensors are sequence-major: [slots, batch, kvHeads, headDim]. */
export interface KvPair {
  readonly key: Value;
  readonly value: Value;
}

/**
 * The non-weight inputs of a decoder forward. Masks are built in-graph from small integer
 * tensors, so a step feeds O(batch · slots) integers rather than a [batch, seq, slots] mask.
 */
export interface DecoderInputs {
  /** [batch, seq] int64 token ids. */
  readonly tokens: Value;
  /** [batch, seq] int64 RoPE positions. */
  readonly positions: Value;
  /** [seq] int64: the cache slot of each query (past + t); the causal mask is keySlot ≤ querySlot. */
  readonly querySlots: Value;
  /** [past + seq] int64 = 0..past+seq−1; required with pastKv, defaults to querySlots. */
  readonly keySlots?: Value;
  /** [batch, past + seq] int64: 1 = real token, 0 = padding that no query may attend to. */
  readonly keyPadding?: Value;
  /** Per layer, [past, batch, kvHeads, headDim] float32. */
  readonly pastKv?: readonly KvPair[];
}

/** Graph input names used by declareDecoderInputs and the feed helpers. */
export const DECODER_INPUT_NAMES = {
  tokens: 'tokens',
  positions: 'positions',
  querySlots: 'query_slots',
  keySlots: 'key_slots',
  keyPadding: 'key_padding',
  pastKey: (layer: number): string => `past.${layer}.key`,
  pastValue: (layer: number): string => `past.${layer}.value`,
} as const;

export interface DeclareInputsOptions {
  /** Declare key_padding (left-padded batches). Default false. */
  readonly padding?: boolean;
  /** Declare key_slots and per-layer past keys/values (incremental decoding). Default false. */
  readonly kvCache?: boolean;
}

/** Declares the decoder's inputs under DECODER_INPUT_NAMES with symbolic batch/seq/past dims. */
export function declareDecoderInputs(g: Graph, config: ModelConfig, options: DeclareInputsOptions = {}): DecoderInputs {
  const n = DECODER_INPUT_NAMES;
  const tokens = g.input(n.tokens, 'int64', ['batch', 'seq']);
  const positions = g.input(n.positions, 'int64', ['batch', 'seq']);
  const querySlots = g.input(n.querySlots, 'int64', ['seq']);
  const keyDim = options.kvCache ? 'keys' : 'seq';
  const keySlots = options.kvCache ? g.input(n.keySlots, 'int64', [keyDim]) : undefined;
  const keyPadding = options.padding ? g.input(n.keyPadding, 'int64', ['batch', keyDim]) : undefined;
  const pastKv = options.kvCache
    ? Array.from({ length: config.numLayers }, (_, l) => ({
        key: g.input(n.pastKey(l), 'float32', ['past', 'batch', config.numKvHeads, config.headDim]),
        value: g.input(n.pastValue(l), 'float32', ['past', 'batch', config.numKvHeads, config.headDim]),
      }))
    : undefined;
  return {
    tokens,
    positions,
    querySlots,
    ...(keySlots ? { keySlots } : {}),
    ...(keyPadding ? { keyPadding } : {}),
    ...(pastKv ? { pastKv } : {}),
  };
}

/** Host-side values of a step's integer inputs (before conversion to tensors). */
export interface StepInputs {
  /** [batch][seq] token ids. */
  readonly tokens: readonly (readonly number[])[];
  /** [batch][seq] positions; default pastLength + t for every row. */
  readonly positions?: readonly (readonly number[])[];
  /** Cache slots already filled (0 for a prefill). */
  readonly pastLength?: number;
  /** [batch][pastLength + seq], 1 = real, 0 = pad; omit when the graph has no key_padding input. */
  readonly keyPadding?: readonly (readonly number[])[];
  /** Whether the graph takes key_slots (it does when it has a KV cache). Default: pastLength > 0. */
  readonly withKeySlots?: boolean;
}

/** Feeds for tokens, positions, query_slots and (when asked) key_slots / key_padding. */
export function stepFeeds(step: StepInputs): Record<string, TensorData> {
  const batch = step.tokens.length;
  const seq = batch > 0 ? step.tokens[0]!.length : 0;
  if (batch === 0 || seq === 0) throw new PeftCoreError('SHAPE_MISMATCH', 'decoder feeds: tokens must be a non-empty batch of non-empty rows');
  const past = step.pastLength ?? 0;
  const total = past + seq;
  const tokens = new BigInt64Array(batch * seq);
  const positions = new BigInt64Array(batch * seq);
  step.tokens.forEach((row, b) => {
    if (row.length !== seq) throw new PeftCoreError('SHAPE_MISMATCH', `decoder feeds: row ${b} has ${row.length} tokens, row 0 has ${seq}`);
    const pos = step.positions?.[b];
    if (step.positions !== undefined && (pos === undefined || pos.length !== seq)) {
      throw new PeftCoreError('SHAPE_MISMATCH', `decoder feeds: positions must have the shape of tokens [${batch}, ${seq}]`);
    }
    for (let t = 0; t < seq; t++) {
      tokens[b * seq + t] = BigInt(row[t]!);
      positions[b * seq + t] = BigInt(pos ? pos[t]! : past + t);
    }
  });
  const n = DECODER_INPUT_NAMES;
  const feeds: Record<string, TensorData> = {
    [n.tokens]: tensorData('int64', [batch, seq], tokens),
    [n.positions]: tensorData('int64', [batch, seq], positions),
    [n.querySlots]: arange(past, total),
  };
  if (step.withKeySlots ?? past > 0) feeds[n.keySlots] = arange(0, total);
  if (step.keyPadding !== undefined) {
    if (step.keyPadding.length !== batch) throw new PeftCoreError('SHAPE_MISMATCH', `decoder feeds: ${step.keyPadding.length} key padding rows for a batch of ${batch}`);
    const mask = new BigInt64Array(batch * total);
    step.keyPadding.forEach((row, b) => {
      if (row.length !== total) throw new PeftCoreError('SHAPE_MISMATCH', `decoder feeds: key padding row ${b} has ${row.length} entries, expected ${total}`);
      row.forEach((v, j) => (mask[b * total + j] = v ? 1n : 0n));
    });
    feeds[n.keyPadding] = tensorData('int64', [batch, total], mask);
  }
  return feeds;
}

/** A batch of prompts of different lengths, left-padded so every row ends at the same slot. */
export interface LeftPaddedBatch {
  readonly tokens: number[][];
  /** 0 on padding, then 0..len−1 (RoPE sees each prompt as if it were alone). */
  readonly positions: number[][];
  readonly keyPadding: number[][];
  readonly lengths: number[];
}

export function leftPad(prompts: readonly (readonly number[])[], padTokenId: number): LeftPaddedBatch {
  if (prompts.length === 0 || prompts.some((p) => p.length === 0)) {
    throw new PeftCoreError('INVALID_ARGUMENT', 'leftPad: every prompt needs at least one token');
  }
  const width = Math.max(...prompts.map((p) => p.length));
  const tokens: number[][] = [];
  const positions: number[][] = [];
  const keyPadding: number[][] = [];
  for (const p of prompts) {
    const pad = width - p.length;
    tokens.push([...new Array<number>(pad).fill(padTokenId), ...p]);
    positions.push(Array.from({ length: width }, (_, t) => Math.max(0, t - pad)));
    keyPadding.push(Array.from({ length: width }, (_, t) => (t < pad ? 0 : 1)));
  }
  return { tokens, positions, keyPadding, lengths: prompts.map((p) => p.length) };
}

function arange(start: number, end: number): TensorData {
  const data = new BigInt64Array(end - start);
  for (let i = start; i < end; i++) data[i - start] = BigInt(i);
  return tensorData('int64', [end - start], data);
}
