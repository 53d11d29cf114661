/**
 * The module tree of a Llama-family decoder, by Hugging Face names: which linear modules exist
 * and what their weight shapes are. Adapters are validated against this.
 */
import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type LinearModule, type ModelConfig } from './model-config';

/** [out, in] of a decoder layer's linear projection (the HF weight shape). */
export function linearShape(base: ModelConfig, moduleName: LinearModule | string): [number, number] {
  const name = moduleName.slice(moduleName.lastIndexOf('.') + 1);
  const qDim = base.numHeads * base.headDim;
  const kvDim = base.numKvHeads * base.headDim;
  switch (name) {
    case 'q_proj':
      return [qDim, base.hiddenSize];
    case 'k_proj':
    case 'v_proj':
      return [kvDim, base.hiddenSize];
    case 'o_proj':
      return [base.hiddenSize, qDim];
    case 'gate_proj':
    case 'up_proj':
      return [base.intermediateSize, base.hiddenSize];
    case 'down_proj':
      return [base.hiddenSize, base.intermediateSize];
    case 'lm_head':
      return [base.vocabSize, base.hiddenSize];
    default:
      throw new PeftCoreError('UNSUPPORTED', `"${moduleName}" is not a linear module of a ${base.family} decoder`);
  }
}

/** Where a linear projection sits inside its decoder layer. */
export function linearModuleParent(name: LinearModule): 'self_attn' | 'mlp' {
  return name === 'gate_proj' || name === 'up_proj' || name === 'down_proj' ? 'mlp' : 'self_attn';
}

/** 'model.layers.3.self_attn.q_proj' for (3, 'q_proj'). */
export function layerModulePath(layer: number, name: LinearModule): string {
  return `model.layers.${layer}.${linearModuleParent(name)}.${name}`;
}

export interface BaseModule {
  /** Full module path, e.g. 'model.layers.0.mlp.up_proj'. */
  readonly path: string;
  readonly kind: 'linear' | 'embedding';
  /** Linear: [out, in]. Embedding: [vocab, hidden]. */
  readonly shape: readonly [number, number];
  /** Decoder layer index, absent for embed_tokens and lm_head. */
  readonly layer?: number;
  /** Last path component ('q_proj', 'lm_head', 'embed_tokens'). */
  readonly name: string;
}

/**
 * Every module LoRA can adapt or modules_to_save can replace: the seven projections of every
 * layer, lm_head, and the token embedding. lm_head is listed even when tied (PEFT can still
 * target it); `all-linear` excludes it, as PEFT does.
 */
export function baseModules(base: ModelConfig): BaseModule[] {
  const out: BaseModule[] = [{ path: 'model.embed_tokens', kind: 'embedding', shape: [base.vocabSize, base.hiddenSize], name: 'embed_tokens' }];
  for (let layer = 0; layer < base.numLayers; layer++) {
    for (const name of LINEAR_MODULES) {
      out.push({ path: layerModulePath(layer, name), kind: 'linear', shape: linearShape(base, name), layer, name });
    }
  }
  out.push({ path: 'lm_head', kind: 'linear', shape: [base.vocabSize, base.hiddenSize], name: 'lm_head' });
  return out;
}

/** The paths of baseModules(base), in model order. */
export function baseModulePaths(base: ModelConfig): string[] {
  return baseModules(base).map((m) => m.path);
}
