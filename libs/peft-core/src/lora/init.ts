import { PeftCoreError } from '../errors';
import { matmul } from '../linalg/dense';
import { truncatedSvd } from '../linalg/truncated-svd';
import type { DenseMatrix } from '../linalg/dense';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import type { Rng } from '../util/rng';
import { loraScaling } from './delta';

/** Fields every initialisation needs. `in` is the input feature count (A is [r,in], B is [out,r]). */
export interface LoraInitShape {
  readonly out: number;
  readonly in: number;
  readonly r: number;
  readonly alpha: number;
  /** Scale alpha/sqrt(r) instead of alpha/r. */
  readonly useRslora?: boolean;
}

export interface RandomInitOptions extends LoraInitShape {
  readonly rng: Rng;
}

export interface PissaInitOptions extends LoraInitShape {
  /** Base weight W [out,in]. */
  readonly W: DenseMatrix;
  /**
   * Power iterations of the randomised SVD used when W is large (PEFT's `pissa_niter_[n]`);
   * small W always gets the exact SVD. Default 4.
   */
  readonly svdIterations?: number;
  readonly seed?: number;
}

/** Which singular directions go into A and B (LoRA-GA's `direction`). */
export type LoraGaDirection = 'ArB2r' | 'A2rBr' | 'ArBr';
/** LoRA-GA's `scale`: 'stable' (paper default), 'gd' (divide both by scaling), 'unit' (orthonormal as is). */
export type LoraGaScale = 'stable' | 'gd' | 'unit';

export interface LoraGaInitOptions extends LoraInitShape {
  /** Base weight W [out,in]; the returned base is W − scaling·B·A so the model's function is unchanged. */
  readonly W: DenseMatrix;
  /** Gradient of the loss w.r.t. W, dL/dW [out,in], estimated on a few batches. */
  readonly gradient: DenseMatrix;
  /** Default 'ArB2r', the default of the LoRA-GA reference code and of PEFT's LoraGAConfig. */
  readonly direction?: LoraGaDirection;
  /** Default 'stable'. */
  readonly scale?: LoraGaScale;
  /** γ of the stable scale. Default 16 (paper and reference code). */
  readonly stableGamma?: number;
  readonly svdIterations?: number;
  readonly seed?: number;
}

export interface LoraInitOptionsByMethod {
  'peft-default': RandomInitOptions;
  gaussian: RandomInitOptions;
  pissa: PissaInitOptions;
  'lora-ga': LoraGaInitOptions;
}

export type LoraInitMethod = keyof LoraInitOptionsByMethod;

export interface LoraInit {
  /** [r, in] */
  readonly A: HostTensor;
  /** [out, r] */
  readonly B: HostTensor;
  readonly scaling: number;
  /** The base weight to train against when the method moves part of W into the adapter (PiSSA, LoRA-GA). */
  readonly baseWeight?: HostTensor;
}

/**
 * Initial LoRA factors by method. Conventions (A [r,in], B [out,r], s = alpha/r or alpha/√r):
 *
 * - 'peft-default': PEFT's `init_lora_weights=True`. A = kaiming_uniform_(a=√5) as torch.nn.Linear
 *   resets its weight: gain √(2/(1+5)), bound = gain·√(3/fan_in) = 1/√in, A ~ U(−1/√in, 1/√in); B = 0.
 * - 'gaussian': PEFT's `init_lora_weights="gaussian"`: `nn.init.normal_(lora_A, std=1/r)`, i.e.
 *   A ~ N(0, (1/r)²) (standard deviation 1/r, as PEFT's code does); B = 0.
 * - 'pissa': PiSSA (Meng et al. 2024) as PEFT's `pissa_init`: W = U S Vᵀ, A = diag(√(S_r/s)) V_rᵀ,
 *   B = U_r diag(√(S_r/s)), so s·B·A = U_r S_r V_rᵀ; base W_res = W − s·B·A.
 * - 'lora-ga': LoRA-GA (Wang et al. 2024, arXiv:2407.05000) as its reference code: G = dL/dW = U S Vᵀ
 *   (top 2r triplets); 'ArB2r' A = V[:, :r]ᵀ, B = U[:, r:2r]; 'A2rBr' A = V[:, r:2r]ᵀ, B = U[:, :r];
 *   'ArBr' A = odd columns of V[:, :2r]ᵀ, B = even columns of U[:, :2r]. Stable scale multiplies A and B
 *   by m^{1/4}/√γ with m = out; 'gd' divides both by s. Base W − s·B·A. [inferred] The SVD is exact
 *   for small G and randomised (like the reference's torch.svd_lowrank with niter=4) for large G.
 */
export function initLora<M extends LoraInitMethod>(method: M, options: LoraInitOptionsByMethod[M]): LoraInit {
  const { out, r } = options;
  const inFeatures = options.in;
  for (const [name, v] of [['out', out], ['in', inFeatures], ['r', r]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new PeftCoreError('INVALID_ARGUMENT', `initLora: ${name} must be a positive integer, got ${v}`);
  }
  const scaling = loraScaling(options.alpha, r, options.useRslora ?? false);
  switch (method) {
    case 'peft-default':
      return initKaimingUniform(options as RandomInitOptions, scaling);
    case 'gaussian':
      return initGaussian(options as RandomInitOptions, scaling);
    case 'pissa':
      return initPissa(options as PissaInitOptions, scaling);
    case 'lora-ga':
      return initLoraGa(options as LoraGaInitOptions, scaling);
    default:
      throw new PeftCoreError('UNSUPPORTED', `initLora: unknown method '${String(method)}'`);
  }
}

function initKaimingUniform(o: RandomInitOptions, scaling: number): LoraInit {
  const bound = 1 / Math.sqrt(o.in);
  const a = new Float32Array(o.r * o.in);
  for (let i = 0; i < a.length; i++) a[i] = (2 * o.rng.uniform() - 1) * bound;
  return { A: hostTensor([o.r, o.in], a), B: hostTensor([o.out, o.r]), scaling };
}

function initGaussian(o: RandomInitOptions, scaling: number): LoraInit {
  const std = 1 / o.r;
  const a = new Float32Array(o.r * o.in);
  for (let i = 0; i < a.length; i++) a[i] = o.rng.normal() * std;
  return { A: hostTensor([o.r, o.in], a), B: hostTensor([o.out, o.r]), scaling };
}

function checkMatrix(name: string, data: DenseMatrix, out: number, inFeatures: number): void {
  if (data.length !== out * inFeatures) {
    throw new PeftCoreError('SHAPE_MISMATCH', `initLora: ${name} must be [${out}, ${inFeatures}] (${out * inFeatures} values), got ${data.length}`);
  }
}

function initPissa(o: PissaInitOptions, scaling: number): LoraInit {
  checkMatrix('W', o.W, o.out, o.in);
  if (o.r > Math.min(o.out, o.in)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `initLora(pissa): r=${o.r} exceeds min(out, in)=${Math.min(o.out, o.in)}`);
  }
  const { U, S, V, k } = truncatedSvd(o.W, o.out, o.in, o.r, { powerIterations: o.svdIterations ?? 4, seed: o.seed });
  const a = new Float32Array(k * o.in);
  const b = new Float32Array(o.out * k);
  for (let j = 0; j < k; j++) {
    const root = Math.sqrt(S[j] / scaling);
    for (let c = 0; c < o.in; c++) a[j * o.in + c] = root * V[c * k + j];
    for (let row = 0; row < o.out; row++) b[row * k + j] = U[row * k + j] * root;
  }
  return withOffsetBase(o.W, o.out, o.in, k, a, b, scaling);
}

function initLoraGa(o: LoraGaInitOptions, scaling: number): LoraInit {
  checkMatrix('W', o.W, o.out, o.in);
  checkMatrix('gradient', o.gradient, o.out, o.in);
  const r = o.r;
  if (2 * r > Math.min(o.out, o.in)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `initLora(lora-ga): needs 2r=${2 * r} ≤ min(out, in)=${Math.min(o.out, o.in)}`);
  }
  const svdG = truncatedSvd(o.gradient, o.out, o.in, 2 * r, { powerIterations: o.svdIterations ?? 4, seed: o.seed });
  const k = svdG.k; // 2r
  const direction = o.direction ?? 'ArB2r';
  const { aIdx, bIdx } = loraGaIndices(direction, r);
  const scale = o.scale ?? 'stable';
  let factor: number;
  if (scale === 'stable') factor = Math.pow(o.out, 0.25) / Math.sqrt(o.stableGamma ?? 16);
  else if (scale === 'gd') factor = 1 / scaling;
  else factor = 1;
  const a = new Float32Array(r * o.in);
  const b = new Float32Array(o.out * r);
  for (let j = 0; j < r; j++) {
    for (let c = 0; c < o.in; c++) a[j * o.in + c] = factor * svdG.V[c * k + aIdx[j]];
    for (let row = 0; row < o.out; row++) b[row * r + j] = factor * svdG.U[row * k + bIdx[j]];
  }
  return withOffsetBase(o.W, o.out, o.in, r, a, b, scaling);
}

/** Column indices (into the top-2r singular vectors) that feed A and B for each LoRA-GA direction. */
export function loraGaIndices(direction: LoraGaDirection, r: number): { aIdx: number[]; bIdx: number[] } {
  const range = (start: number, step: number): number[] => Array.from({ length: r }, (_, j) => start + j * step);
  switch (direction) {
    case 'ArB2r':
      return { aIdx: range(0, 1), bIdx: range(r, 1) };
    case 'A2rBr':
      return { aIdx: range(r, 1), bIdx: range(0, 1) };
    case 'ArBr':
      return { aIdx: range(1, 2), bIdx: range(0, 2) };
    default:
      throw new PeftCoreError('UNSUPPORTED', `LoRA-GA direction '${String(direction)}' is not one of ArB2r, A2rBr, ArBr`);
  }
}

/** Packs A, B and the offset base W − s·B·A (computed in f64, rounded to f32 once). */
function withOffsetBase(W: DenseMatrix, out: number, inFeatures: number, r: number, a: Float32Array, b: Float32Array, scaling: number): LoraInit {
  const ba = matmul(b, a, out, r, inFeatures);
  const base = new Float32Array(out * inFeatures);
  for (let i = 0; i < base.length; i++) base[i] = W[i] - scaling * ba[i];
  return {
    A: hostTensor([r, inFeatures], a),
    B: hostTensor([out, r], b),
    scaling,
    baseWeight: hostTensor([out, inFeatures], base),
  };
}
