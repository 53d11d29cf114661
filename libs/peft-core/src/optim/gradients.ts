import { PeftCoreError } from '../errors';

/**
 * torch.nn.utils.clip_grad_norm_ over named gradients: total = ‖all gradients concatenated‖₂ (f64),
 * each scaled in place by min(1, maxNorm / (total + 1e-6)). Returns the total norm before clipping.
 * A non-finite total leaves the gradients untouched, so the caller can detect it and skip the step.
 */
export function clipGradNorm(grads: ReadonlyMap<string, Float32Array> | Iterable<Float32Array>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const list = grads instanceof Map ? [...grads.values()] : [...(grads as Iterable<Float32Array>)];
  let sumSq = 0;
  for (const g of list) for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
  const total = Math.sqrt(sumSq);
  if (!Number.isFinite(total)) return total;
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef < 1) for (const g of list) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return total;
}

/**
 * Sums named gradients over micro-batches in f64, optionally weighted (e.g. by each micro-batch's
 * target-token count, so the mean equals the gradient of the token-mean loss over the whole batch).
 */
export class GradientAccumulator {
  private readonly sums = new Map<string, Float64Array>();
  private totalWeight = 0;
  private micro = 0;

  constructor(sizes: ReadonlyMap<string, number>) {
    for (const [name, n] of sizes) this.sums.set(name, new Float64Array(n));
  }

  /** Adds weight·grad for every named gradient. A micro-batch must supply every parameter. */
  add(grads: ReadonlyMap<string, Float32Array>, weight = 1): void {
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new PeftCoreError('INVALID_ARGUMENT', `GradientAccumulator: bad weight ${weight}`);
    for (const name of grads.keys()) {
      if (!this.sums.has(name)) throw new PeftCoreError('INVALID_ARGUMENT', `GradientAccumulator: unknown parameter ${name}`);
    }
    for (const [name, sum] of this.sums) {
      const g = grads.get(name);
      if (g === undefined) throw new PeftCoreError('INVALID_ARGUMENT', `GradientAccumulator: micro-batch has no gradient for ${name}`);
      if (g.length !== sum.length) throw new PeftCoreError('SHAPE_MISMATCH', `GradientAccumulator: ${name} has ${g.length} values, expected ${sum.length}`);
      for (let i = 0; i < g.length; i++) sum[i] += weight * g[i];
    }
    this.totalWeight += weight;
    this.micro++;
  }

  /** Micro-batches added since the last reset. */
  get count(): number {
    return this.micro;
  }

  /** Σ w·g / Σ w ('mean', default) or Σ w·g ('sum') as f32. */
  result(mode: 'mean' | 'sum' = 'mean'): Map<string, Float32Array> {
    if (mode === 'mean' && this.totalWeight === 0) {
      throw new PeftCoreError('INVALID_ARGUMENT', 'GradientAccumulator: mean of nothing (no micro-batch or all weights zero)');
    }
    const div = mode === 'mean' ? this.totalWeight : 1;
    const out = new Map<string, Float32Array>();
    for (const [name, sum] of this.sums) out.set(name, Float32Array.from(sum, (x) => x / div));
    return out;
  }

  reset(): void {
    for (const sum of this.sums.values()) sum.fill(0);
    this.totalWeight = 0;
    this.micro = 0;
  }
}
