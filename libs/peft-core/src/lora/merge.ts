import { PeftCoreError } from '../errors';
import type { DenseMatrix } from '../linalg/dense';
import type { LoraModule } from './adapter';
import { deltaWeightF64, loraModuleDims } from './delta';

/**
 * What an unmerge needs besides the module. For DoRA it is ‖W + ΔW‖ per output row at merge
 * time: PEFT caches the same norm (`<adapter>-weight_norm`) because it cannot be recovered
 * from the merged weight alone.
 */
export interface MergeRecord {
  readonly weightNorm?: Float64Array;
}

function checkBase(W: DenseMatrix, module: LoraModule): { out: number; inFeatures: number } {
  const { out, in: inFeatures } = loraModuleDims(module);
  if (W.length !== out * inFeatures) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${module.path}: base weight has ${W.length} values, adapter expects [${out}, ${inFeatures}]`);
  }
  return { out, inFeatures };
}

/**
 * DoRA's weight norm as PEFT's `get_weight_norm`: ‖W + s·B·A‖₂ over the input dimension, one value per
 * output row of the [out,in] weight (the paper's column norm of Wᵀ). Computed in f64.
 */
export function doraWeightNorm(W: DenseMatrix, module: LoraModule): Float64Array {
  const { out, inFeatures } = checkBase(W, module);
  const delta = deltaWeightF64(module);
  const norm = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    for (let i = 0; i < inFeatures; i++) {
      const v = W[o * inFeatures + i] + delta[o * inFeatures + i];
      s += v * v;
    }
    norm[o] = Math.sqrt(s);
  }
  return norm;
}

/**
 * The weight the adapted layer computes with, in f64: W + s·B·A, or for DoRA
 * (m / ‖W + s·B·A‖_row) ⊙ (W + s·B·A). Bias (if any) is not touched by LoRA or DoRA.
 */
export function effectiveWeight(W: DenseMatrix, module: LoraModule): Float64Array {
  const { out, inFeatures } = checkBase(W, module);
  const delta = deltaWeightF64(module);
  const merged = new Float64Array(out * inFeatures);
  for (let i = 0; i < merged.length; i++) merged[i] = W[i] + delta[i];
  if (module.magnitude === undefined) return merged;
  const norm = doraWeightNorm(W, module);
  const m = module.magnitude.data;
  for (let o = 0; o < out; o++) {
    const f = m[o] / norm[o];
    for (let i = 0; i < inFeatures; i++) merged[o * inFeatures + i] *= f;
  }
  return merged;
}

/**
 * Folds the adapter into W [out,in] in place (PEFT `merge`): W += s·B·A, or for DoRA
 * W ← (m/‖W+ΔW‖) ⊙ (W+ΔW). Returns what `unmergeFromBase` needs to undo it.
 */
export function mergeIntoBase(W: Float32Array | Float64Array, module: LoraModule): MergeRecord {
  const merged = effectiveWeight(W, module);
  const weightNorm = module.magnitude === undefined ? undefined : doraWeightNorm(W, module);
  W.set(merged);
  return weightNorm === undefined ? {} : { weightNorm };
}

/**
 * Undoes `mergeIntoBase` in place (PEFT `unmerge`): W −= s·B·A, or for DoRA
 * W ← W' / (m/‖W+ΔW‖) − ΔW using the norm recorded at merge time. Exact up to rounding.
 */
export function unmergeFromBase(W: Float32Array | Float64Array, module: LoraModule, record: MergeRecord = {}): void {
  const { out, inFeatures } = checkBase(W, module);
  const delta = deltaWeightF64(module);
  if (module.magnitude === undefined) {
    for (let i = 0; i < delta.length; i++) W[i] = W[i] - delta[i];
    return;
  }
  const norm = record.weightNorm;
  if (norm === undefined || norm.length !== out) {
    throw new PeftCoreError(
      'INVALID_ARGUMENT',
      `${module.path}: unmerging DoRA needs the weight norm recorded by mergeIntoBase ([${out}] values)`,
    );
  }
  const m = module.magnitude.data;
  for (let o = 0; o < out; o++) {
    const inv = norm[o] / m[o];
    for (let i = 0; i < inFeatures; i++) {
      const idx = o * inFeatures + i;
      W[idx] = W[idx] * inv - delta[idx];
    }
  }
}
