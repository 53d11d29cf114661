import { PeftCoreError } from '../errors';

export interface AdamWOptions {
  /** Default 1e-3 (PyTorch). A per-step lr may be passed to step(), e.g. from a schedule. */
  readonly lr?: number;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8, added after the bias-corrected square root, as PyTorch. */
  readonly eps?: number;
  /** Decoupled weight decay λ. Default 1e-2 (PyTorch's AdamW default). */
  readonly weightDecay?: number;
  /** Which parameters decay (default: all). Common practice exempts norms and biases. */
  readonly decays?: (name: string) => boolean;
}

/** Per-parameter optimizer state; PyTorch also counts steps per parameter. */
export interface AdamWParamState {
  readonly step: number;
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
}

/** Everything a checkpoint needs to resume bit-exactly (hyperparameters are the caller's to persist). */
export interface AdamWState {
  readonly params: Readonly<Record<string, AdamWParamState>>;
}

/**
 * AdamW (Loshchilov & Hutter 2019) exactly as torch.optim.AdamW's single-tensor path orders it,
 * per parameter with gradient g at its step t:
 *   θ ← θ·(1 − lr·λ)                          (decoupled decay, before the moment update)
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
 *   θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
 * Parameters are updated in place. Moments are stored in f32 like PyTorch's for f32 parameters;
 * each element's arithmetic is done in f64 and rounded once, so results agree with PyTorch to f32
 * rounding, not bit for bit. A parameter without a gradient in a step is skipped (no decay, no
 * moment update), as PyTorch skips params whose .grad is None.
 */
export class AdamW {
  private readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly decays: (name: string) => boolean;
  private moments = new Map<string, { step: number; expAvg: Float32Array; expAvgSq: Float32Array }>();

  constructor(
    private readonly params: ReadonlyMap<string, Float32Array>,
    options: AdamWOptions = {},
  ) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.decays = options.decays ?? (() => true);
    for (const [name, v] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(v >= 0 && v < 1)) throw new PeftCoreError('INVALID_ARGUMENT', `AdamW: ${name} must be in [0, 1), got ${v}`);
    }
    if (!(this.eps >= 0) || !(this.weightDecay >= 0) || !(this.lr >= 0)) {
      throw new PeftCoreError('INVALID_ARGUMENT', 'AdamW: lr, eps and weightDecay must be non-negative');
    }
    for (const [name, p] of params) this.moments.set(name, { step: 0, expAvg: new Float32Array(p.length), expAvgSq: new Float32Array(p.length) });
  }

  /** One update of every parameter that has a gradient in `grads`; `lr` overrides the constructor's. */
  step(grads: ReadonlyMap<string, Float32Array>, lr: number = this.lr): void {
    for (const name of grads.keys()) {
      if (!this.params.has(name)) throw new PeftCoreError('INVALID_ARGUMENT', `AdamW: gradient for unknown parameter ${name}`);
    }
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      if (g.length !== p.length) {
        throw new PeftCoreError('SHAPE_MISMATCH', `AdamW: gradient of ${name} has ${g.length} values, parameter has ${p.length}`);
      }
      const st = this.moments.get(name)!;
      st.step += 1;
      const decay = this.decays(name) ? 1 - lr * this.weightDecay : 1;
      const bc1 = 1 - Math.pow(this.beta1, st.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(this.beta2, st.step));
      const stepSize = lr / bc1;
      const { expAvg: m, expAvgSq: v } = st;
      const b1 = this.beta1;
      const b2 = this.beta2;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        const denom = Math.sqrt(v[i]) / bc2Sqrt + this.eps;
        p[i] = p[i] * decay - (stepSize * m[i]) / denom;
      }
    }
  }

  /** A deep copy of the optimizer state. */
  state(): AdamWState {
    const params: Record<string, AdamWParamState> = {};
    for (const [name, st] of this.moments) params[name] = { step: st.step, expAvg: st.expAvg.slice(), expAvgSq: st.expAvgSq.slice() };
    return { params };
  }

  /** Restores a state from state(); names and sizes must match this optimizer's parameters. */
  loadState(state: AdamWState): void {
    const next = new Map<string, { step: number; expAvg: Float32Array; expAvgSq: Float32Array }>();
    for (const [name, p] of this.params) {
      const st = state.params[name];
      if (st === undefined) throw new PeftCoreError('INVALID_ARGUMENT', `AdamW.loadState: no state for parameter ${name}`);
      if (st.expAvg.length !== p.length || st.expAvgSq.length !== p.length) {
        throw new PeftCoreError('SHAPE_MISMATCH', `AdamW.loadState: state of ${name} has the wrong size (parameter has ${p.length})`);
      }
      if (!Number.isInteger(st.step) || st.step < 0) throw new PeftCoreError('INVALID_ARGUMENT', `AdamW.loadState: bad step ${st.step} for ${name}`);
      next.set(name, { step: st.step, expAvg: Float32Array.from(st.expAvg), expAvgSq: Float32Array.from(st.expAvgSq) });
    }
    const extra = Object.keys(state.params).filter((n) => !this.params.has(n));
    if (extra.length > 0) throw new PeftCoreError('INVALID_ARGUMENT', `AdamW.loadState: state for unknown parameters ${extra.join(', ')}`);
    this.moments = next;
  }
}
