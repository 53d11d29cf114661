/**
 * Creating the LoRA factors a run trains, for every targeted linear module of a base model.
 *
 * PiSSA and LoRA-GA move part of W into the adapter at init (W_res = W − s·B₀·A₀), so the model's
 * function is unchanged but the base the adapter trains against is the residual base. Such an
 * adapter is only correct on top of that residual base: export either the residual base alongside
 * it, or convert it into a plain LoRA for the ORIGINAL base with `convertResidualLora` (PEFT's
 * "pissa → lora" conversion: ΔW = s·B·A − s·B₀·A₀ = s·[B | B₀]·[A ; −A₀], rank 2r).
 */
import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type LinearModule, type ModelConfig } from '../formats/model-config';
import { layerModulePath, linearShape } from '../formats/model-modules';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { initLora, type LoraInit, type LoraInitMethod } from '../lora/init';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import type { Rng } from '../util/rng';

export interface LoraSpec {
  readonly r: number;
  readonly alpha: number;
  /** Projection names adapted in every layer, or 'all-linear' (the seven projections). */
  readonly targetModules: readonly LinearModule[] | 'all-linear';
  readonly init: LoraInitMethod;
  readonly rsLoRA?: boolean;
  /** Only 0 is supported for now (no dropout in the training graph). */
  readonly dropout?: number;
}

export interface LoraSetup {
  readonly weights: LoraWeights;
  /** Base weights replaced by residual bases (PiSSA / LoRA-GA), keyed by HF weight name. */
  readonly baseOverrides: Map<string, HostTensor>;
  /** The initial factors of residual-base methods, for `convertResidualLora`. */
  readonly initialFactors: LoraWeights | undefined;
}

export function resolveTargetModules(spec: LoraSpec): LinearModule[] {
  if (spec.targetModules === 'all-linear') return [...LINEAR_MODULES];
  if (spec.targetModules.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'lora.targetModules is empty');
  for (const m of spec.targetModules) {
    if (!LINEAR_MODULES.includes(m)) throw new PeftCoreError('INVALID_ARGUMENT', `lora.targetModules: "${m}" is not one of ${LINEAR_MODULES.join(', ')}`);
  }
  return [...spec.targetModules];
}

/** Module paths a spec adapts, in model order. */
export function targetModulePaths(config: ModelConfig, spec: LoraSpec): string[] {
  const targets = resolveTargetModules(spec);
  const out: string[] = [];
  for (let l = 0; l < config.numLayers; l++) for (const m of LINEAR_MODULES) if (targets.includes(m)) out.push(layerModulePath(l, m));
  return out;
}

export function validateLoraSpec(spec: LoraSpec): void {
  if (!Number.isInteger(spec.r) || spec.r <= 0) throw new PeftCoreError('INVALID_ARGUMENT', `lora.r must be a positive integer, got ${spec.r}`);
  if (!(spec.alpha > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `lora.alpha must be positive, got ${spec.alpha}`);
  if ((spec.dropout ?? 0) !== 0) throw new PeftCoreError('UNSUPPORTED', `lora.dropout ${spec.dropout}: only 0 is supported by the training graph`);
  resolveTargetModules(spec);
}

/**
 * Initial LoRA factors for every targeted module. `gradients` (dL/dW by HF weight name, e.g. from
 * `estimateWeightGradients`) is required for LoRA-GA. Random inits draw from `rng` in model order.
 */
export function setupLora(config: ModelConfig, base: ReadonlyMap<string, HostTensor>, spec: LoraSpec, rng: Rng, gradients?: ReadonlyMap<string, Float32Array>): LoraSetup {
  validateLoraSpec(spec);
  const modules = new Map<string, LoraModule>();
  const initial = new Map<string, LoraModule>();
  const baseOverrides = new Map<string, HostTensor>();
  for (const path of targetModulePaths(config, spec)) {
    const [out, inF] = linearShape(config, path);
    const weightName = `${path}.weight`;
    const W = base.get(weightName);
    if (W === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `setupLora: base has no ${weightName}`);
    const shape = { out, in: inF, r: spec.r, alpha: spec.alpha, useRslora: spec.rsLoRA ?? false };
    let init: LoraInit;
    switch (spec.init) {
      case 'peft-default':
      case 'gaussian':
        init = initLora(spec.init, { ...shape, rng });
        break;
      case 'pissa':
        init = initLora('pissa', { ...shape, W: W.data, seed: rng.nextUint32() });
        break;
      case 'lora-ga': {
        const g = gradients?.get(weightName);
        if (g === undefined) throw new PeftCoreError('INVALID_ARGUMENT', `setupLora(lora-ga): needs the gradient of the loss w.r.t. ${weightName}`);
        init = initLora('lora-ga', { ...shape, W: W.data, gradient: g, seed: rng.nextUint32() });
        break;
      }
      default:
        throw new PeftCoreError('UNSUPPORTED', `lora.init '${String(spec.init)}' is not one of peft-default, gaussian, pissa, lora-ga`);
    }
    modules.set(path, { path, A: init.A, B: init.B, scaling: init.scaling });
    if (init.baseWeight !== undefined) {
      baseOverrides.set(weightName, init.baseWeight);
      initial.set(path, { path, A: hostTensor(init.A.shape, init.A.data.slice()), B: hostTensor(init.B.shape, init.B.data.slice()), scaling: init.scaling });
    }
  }
  return { weights: { modules }, baseOverrides, initialFactors: initial.size > 0 ? { modules: initial } : undefined };
}

/**
 * Turns an adapter trained on a residual base (PiSSA / LoRA-GA) into a plain LoRA for the ORIGINAL
 * base: W_res + s·B·A = W + s·(B·A − B₀·A₀) = W + s·[B | B₀]·[A ; −A₀]. The result has rank 2r and the
 * same scaling value, so a PEFT config for it needs r = 2r and lora_alpha chosen to keep s
 * (alpha·2 without rsLoRA, alpha·√2 with). Exact up to f32 rounding.
 */
export function convertResidualLora(trained: LoraWeights, initial: LoraWeights): LoraWeights {
  const modules = new Map<string, LoraModule>();
  for (const [path, m] of trained.modules) {
    const m0 = initial.modules.get(path);
    if (m0 === undefined) throw new PeftCoreError('INVALID_ARGUMENT', `convertResidualLora: no initial factors for ${path}`);
    const [r, inF] = m.A.shape;
    const out = m.B.shape[0];
    const r0 = m0.A.shape[0];
    if (m0.A.shape[1] !== inF || m0.B.shape[0] !== out || m0.scaling !== m.scaling) {
      throw new PeftCoreError('SHAPE_MISMATCH', `convertResidualLora: ${path} initial factors do not match the trained ones`);
    }
    const a = new Float32Array((r + r0) * inF);
    a.set(m.A.data, 0);
    for (let i = 0; i < r0 * inF; i++) a[r * inF + i] = -m0.A.data[i];
    const b = new Float32Array(out * (r + r0));
    for (let o = 0; o < out; o++) {
      b.set(m.B.data.subarray(o * r, (o + 1) * r), o * (r + r0));
      b.set(m0.B.data.subarray(o * r0, (o + 1) * r0), o * (r + r0) + r);
    }
    modules.set(path, { path, A: hostTensor([r + r0, inF], a), B: hostTensor([out, r + r0], b), scaling: m.scaling });
  }
  return { modules };
}
