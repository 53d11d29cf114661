import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type LinearModule, type ModelConfig } from '../formats/model-config';
import { layerModulePath, linearShape } from '../formats/model-modules';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { loraScaling } from '../lora/delta';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';

/**
 * A tiny Llama-family config for tests: 2 layers, hidden 16, 4 query heads over 2 KV heads (GQA),
 * head_dim 4, vocab 32. Override any field, e.g. `{ family: 'qwen2', attentionBias: true }`.
 */
export function randomModelConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  const base: ModelConfig = {
    family: 'llama',
    vocabSize: 32,
    hiddenSize: 16,
    intermediateSize: 40,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: 128,
    tieWordEmbeddings: false,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenId: 2,
    torchDtype: 'float32',
  };
  const config = { ...base, ...overrides };
  if (overrides.headDim === undefined && overrides.hiddenSize !== undefined) {
    return { ...config, headDim: config.hiddenSize / config.numHeads };
  }
  return config;
}

/**
 * Random weights in Hugging Face naming for `config`, seeded. Scales keep activations O(1) so logits
 * are far from degenerate: linears ~ N(0, 1/in) (unit-variance outputs), embeddings ~ N(0, 1),
 * norm weights 1 ± 0.1 (not exactly 1, so a missing norm weight is caught), biases ~ N(0, 0.1²).
 * The lm_head is scaled up ×3 so the next-token distribution is peaked enough to be informative.
 */
export function randomCheckpoint(config: ModelConfig, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const weights = new Map<string, HostTensor>();
  const normal = (shape: [number] | [number, number], std: number, mean = 0): HostTensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = mean + std * rng.normal();
    return hostTensor(shape, data);
  };
  const H = config.hiddenSize;
  weights.set('model.embed_tokens.weight', normal([config.vocabSize, H], 1));
  for (let l = 0; l < config.numLayers; l++) {
    weights.set(`model.layers.${l}.input_layernorm.weight`, normal([H], 0.1, 1));
    weights.set(`model.layers.${l}.post_attention_layernorm.weight`, normal([H], 0.1, 1));
    for (const m of LINEAR_MODULES) {
      const [out, inF] = linearShape(config, m);
      const path = layerModulePath(l, m);
      weights.set(`${path}.weight`, normal([out, inF], 1 / Math.sqrt(inF)));
      if (config.attentionBias && (m === 'q_proj' || m === 'k_proj' || m === 'v_proj')) {
        weights.set(`${path}.bias`, normal([out], 0.1));
      }
    }
  }
  weights.set('model.norm.weight', normal([H], 0.1, 1));
  if (!config.tieWordEmbeddings) weights.set('lm_head.weight', normal([config.vocabSize, H], 3 / Math.sqrt(H)));
  return weights;
}

export interface RandomLoraOptions {
  readonly r: number;
  /** Projections to adapt in every layer. Default: all seven. */
  readonly targetModules?: readonly LinearModule[];
  readonly seed: number;
  /** Default: r (scaling 1). */
  readonly alpha?: number;
  readonly useRslora?: boolean;
  /** Adds DoRA magnitudes near the base weight's row norms when given the checkpoint. */
  readonly doraBase?: ReadonlyMap<string, HostTensor>;
  /** Only these layers (default all). */
  readonly layers?: readonly number[];
}

/**
 * A random adapter with NON-zero B (unlike a fresh init), so tests see its effect. A ~ N(0, 1/in) and
 * B ~ N(0, 0.3²/r) make s·B·A·x a visible but not dominating O(0.3) perturbation for s = 1.
 */
export function randomLora(config: ModelConfig, options: RandomLoraOptions): LoraWeights {
  const { r, seed } = options;
  if (!Number.isInteger(r) || r <= 0) throw new PeftCoreError('INVALID_ARGUMENT', `randomLora: r must be a positive integer, got ${r}`);
  const rng = new Rng(seed);
  const scaling = loraScaling(options.alpha ?? r, r, options.useRslora ?? false);
  const targets = options.targetModules ?? LINEAR_MODULES;
  const layers = options.layers ?? Array.from({ length: config.numLayers }, (_, l) => l);
  const modules = new Map<string, LoraModule>();
  for (const l of layers) {
    for (const m of targets) {
      const [out, inF] = linearShape(config, m);
      const path = layerModulePath(l, m);
      const a = Float32Array.from({ length: r * inF }, () => rng.normal() / Math.sqrt(inF));
      const b = Float32Array.from({ length: out * r }, () => (rng.normal() * 0.3) / Math.sqrt(r));
      let magnitude: HostTensor | undefined;
      if (options.doraBase !== undefined) {
        const w = options.doraBase.get(`${path}.weight`);
        if (w === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `randomLora: doraBase is missing ${path}.weight`);
        const mag = new Float32Array(out);
        for (let o = 0; o < out; o++) {
          let s = 0;
          for (let c = 0; c < inF; c++) s += w.data[o * inF + c] ** 2;
          mag[o] = Math.sqrt(s) * (0.8 + 0.4 * rng.uniform());
        }
        magnitude = hostTensor([out], mag);
      }
      modules.set(path, { path, A: hostTensor([r, inF], a), B: hostTensor([out, r], b), scaling, magnitude });
    }
  }
  return { modules };
}
