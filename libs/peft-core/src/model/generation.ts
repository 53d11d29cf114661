import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { CompiledGraph } from '../graph/compile';
import type { TensorData } from '../graph/types';
import type { LoraSelection } from './lora-plan';
import { Rng } from '../util/rng';
import { leftPad, stepFeeds } from './decoder-inputs';
import { KvCache } from './kv-cache';
import { checkSamplingOptions, sampleToken, type SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens: number;
  /** Seed of the sampler; row b samples from its own generator seeded seed + b. Default 0. */
  readonly seed?: number;
  /** Tokens that end a row (not included in its output). Default: the config's eos ids. */
  readonly stopTokenIds?: readonly number[];
  /**
   * Called after each new token of a row with everything that row generated so far; returning
   * true ends the row (stop sequences, token budgets per row, streaming cancellation).
   */
  readonly shouldStop?: (row: number, generated: readonly number[]) => boolean;
  /** One adapter for all rows, or one per row (undefined = base model). */
  readonly lora?: LoraSelection;
  /** Sees each row's next-token logits before sampling (log-probs, tests); do not keep the view. */
  readonly onLogits?: (row: number, logits: Float32Array) => void;
  /** Token used to left-pad shorter prompts (never attended to). Default 0. */
  readonly padTokenId?: number;
}

export interface GenerationResult {
  /** Generated tokens, without the prompt and without a final stop token. */
  readonly tokens: number[];
  /** 'stop': a stop token; 'callback': shouldStop returned true; 'length': maxNewTokens reached. */
  readonly finishReason: 'stop' | 'callback' | 'length';
}

/** Feeds the generation loop does not own: weights, adapters and the per-row adapter index. */
export interface GenerationFeeds {
  readonly fixedFeeds: Record<string, TensorData>;
  /** Feeds that depend on which original rows are still generating. */
  readonly rowFeeds: (rows: readonly number[]) => Record<string, TensorData>;
}

/**
 * The decoding loop over a compiled decode graph: one prefill of the left-padded prompts, then
 * one token per step for every unfinished row. Finished rows are dropped from the batch (and from
 * the KV cache), so they cost nothing afterwards.
 */
export async function runGeneration(
  config: ModelConfig,
  session: CompiledGraph,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
  feeds: GenerationFeeds,
): Promise<GenerationResult[]> {
  checkSamplingOptions(options);
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 0)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
  }
  const stopIds = new Set(options.stopTokenIds ?? defaultStopIds(config));
  const seed = options.seed ?? 0;
  const rngs = prompts.map((_, b) => new Rng(seed + b));
  const generated: number[][] = prompts.map(() => []);
  const reasons: (GenerationResult['finishReason'] | undefined)[] = prompts.map(() => undefined);
  if (options.maxNewTokens === 0) return generated.map((tokens) => ({ tokens, finishReason: 'length' }));

  const padded = leftPad(prompts, options.padTokenId ?? 0);
  const width = padded.tokens[0]!.length;
  const cache = new KvCache(config.numLayers, prompts.length, config.numKvHeads, config.headDim, width + options.maxNewTokens);
  let rows = prompts.map((_, b) => b); // original indices of the rows still in the batch
  let keyPadding = padded.keyPadding;
  let step = { tokens: padded.tokens, positions: padded.positions };

  for (let n = 0; n < options.maxNewTokens; n++) {
    const out = await session.run({
      ...feeds.fixedFeeds,
      ...feeds.rowFeeds(rows),
      ...cache.feeds(),
      ...stepFeeds({ ...step, pastLength: cache.length, keyPadding, withKeySlots: true }),
    });
    const seq = step.tokens[0]!.length;
    cache.append(
      Array.from({ length: config.numLayers }, (_, l) => out[`new.${l}.key`]!.data as Float32Array),
      Array.from({ length: config.numLayers }, (_, l) => out[`new.${l}.value`]!.data as Float32Array),
      seq,
    );
    const logits = out.logits!.data as Float32Array; // [batch, 1, vocab]
    const V = config.vocabSize;
    const keep: number[] = [];
    rows.forEach((row, i) => {
      const rowLogits = logits.subarray(i * V, (i + 1) * V);
      options.onLogits?.(row, rowLogits);
      const token = sampleToken(rowLogits, options, rngs[row]!);
      if (stopIds.has(token)) {
        reasons[row] = 'stop';
      } else {
        generated[row]!.push(token);
        if (options.shouldStop?.(row, generated[row]!)) reasons[row] = 'callback';
      }
      if (reasons[row] === undefined) keep.push(i);
    });
    if (keep.length === 0) break;
    if (keep.length < rows.length) {
      cache.keepRows(keep);
      keyPadding = keep.map((i) => keyPadding[i]!);
    }
    rows = keep.map((i) => rows[i]!);
    // Every row's next token is real: its key slot is attended from now on.
    keyPadding = keyPadding.map((r) => [...r, 1]);
    step = {
      tokens: rows.map((row) => [generated[row]![generated[row]!.length - 1]!]),
      positions: rows.map((row) => [prompts[row]!.length + generated[row]!.length - 1]),
    };
  }
  return generated.map((tokens, b) => ({ tokens, finishReason: reasons[b] ?? 'length' }));
}

function defaultStopIds(config: ModelConfig): number[] {
  const eos = config.eosTokenId;
  return eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
}
