import { PeftCoreError } from '../errors';
import type { Rng } from '../util/rng';

export interface SamplingOptions {
  /** 0 (default) = greedy argmax; otherwise logits are divided by it before sampling. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined = all). */
  readonly topK?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches p (1 = all). */
  readonly topP?: number;
}

export function checkSamplingOptions(o: SamplingOptions): void {
  const bad = (m: string): PeftCoreError => new PeftCoreError('INVALID_ARGUMENT', `sampling: ${m}`);
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) throw bad(`temperature must be ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw bad(`topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw bad(`topP must be in (0, 1], got ${o.topP}`);
}

/** Index of the largest logit (the first one on ties, like torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Picks the next token from one row of logits: greedy at temperature 0, else HF's order of
 * warpers — temperature, top-k, top-p — then one draw from the seeded generator.
 */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const temperature = options.temperature ?? 0;
  if (temperature === 0) return argmax(logits);
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const k = options.topK && options.topK > 0 ? Math.min(options.topK, order.length) : order.length;
  const kept = order.slice(0, k);
  const max = logits[kept[0]!]! / temperature;
  const weights = kept.map((i) => Math.exp(logits[i]! / temperature - max));
  const total = weights.reduce((a, b) => a + b, 0);
  const probs = weights.map((w) => w / total);
  let cut = probs.length;
  const topP = options.topP ?? 1;
  if (topP < 1) {
    let cumulative = 0;
    for (let j = 0; j < probs.length; j++) {
      cumulative += probs[j]!;
      if (cumulative >= topP) {
        cut = j + 1;
        break;
      }
    }
  }
  const mass = probs.slice(0, cut).reduce((a, b) => a + b, 0);
  let u = rng.uniform() * mass;
  for (let j = 0; j < cut; j++) {
    u -= probs[j]!;
    if (u < 0) return kept[j]!;
  }
  return kept[cut - 1]!;
}
